package cpu

import (
	"github.com/batchrun/batchrun/kernels"
	"github.com/klauspost/cpuid/v2"
)

//go:generate sh -c "cd ../asmgen && go run ./forward -out ../cpu/forward_amd64.s -stubs ../cpu/forward_stubs_amd64.go -pkg cpu"

var (
	fwdHasAVX512 = cpuid.CPU.Supports(cpuid.AVX512F)
	fwdHasAVX2   = cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
)

// ForwardAVX512Supported reports whether ForwardAVX512 runs its AVX-512
// kernels here (AVX-512F, with OS support); otherwise it runs the generic
// path.
func ForwardAVX512Supported() bool { return fwdHasAVX512 }

// ForwardAVX2Supported reports whether ForwardAVX2 runs its AVX2+FMA
// kernels here; otherwise it runs the generic path.
func ForwardAVX2Supported() bool { return fwdHasAVX2 }

// ForwardAVX512 runs the batched policy forward pass f (see kernels.Forward)
// with AVX-512 kernels in the work space scratch, or f.Scratch where scratch
// is shorter than SIMDScratchLen(f); it panics if both are shorter. It
// allocates nothing, writes nothing but f.Power (at the entries f defines)
// and the work space, and is safe for concurrent use on disjoint outputs and
// work spaces. Its powers equal the generic Backend.Forward's to about 1e-5
// relative (FMA; see forward_simd.go). Without AVX-512F it runs the generic
// path.
func ForwardAVX512(f *kernels.Forward, scratch []float32) {
	if !fwdHasAVX512 {
		forwardFallback(f, scratch)
		return
	}
	forwardSIMD(f, scratch, &fwdAVX512Kernels)
}

// ForwardAVX2 is ForwardAVX512 with AVX2+FMA kernels (8 lanes); its results
// are bit-identical to ForwardAVX512's. Without AVX2 and FMA it runs the
// generic path.
func ForwardAVX2(f *kernels.Forward, scratch []float32) {
	if !fwdHasAVX2 {
		forwardFallback(f, scratch)
		return
	}
	forwardSIMD(f, scratch, &fwdAVX2Kernels)
}

var (
	fwdAVX512Kernels = simdKernels{name: "avx512", width: 16,
		dense: fwdDense512, denseOut: fwdDenseOut512, perturb: fwdPerturb512, gather: fwdGather, prefetch: fwdPrefetch,
		sigmoid: sigmoid512}
	fwdAVX2Kernels = simdKernels{name: "avx2", width: 8,
		dense: fwdDense256, denseOut: fwdDenseOut256, perturb: fwdPerturb256, gather: fwdGather, prefetch: fwdPrefetch,
		sigmoid: sigmoid256}
)

// simdKernelSets returns the assembly kernel sets this machine runs.
func simdKernelSets() []*simdKernels {
	var ks []*simdKernels
	if fwdHasAVX512 {
		ks = append(ks, &fwdAVX512Kernels)
	}
	if fwdHasAVX2 {
		ks = append(ks, &fwdAVX2Kernels)
	}
	return ks
}

// fwdCheckDense panics unless the slices hold what a dense kernel touches.
func fwdCheckDense(dst, x, w, bias []float32, in, out, lanes, width int) {
	if in < 1 || out < 1 || lanes < width || lanes%width != 0 ||
		len(dst) < out*lanes || len(x) < in*lanes || len(w) < out*in || len(bias) < out {
		panic("cpu: dense kernel arguments out of range")
	}
}

func fwdDense512(dst, x, w, bias []float32, in, out, lanes int, relu bool) {
	fwdCheckDense(dst, x, w, bias, in, out, lanes, 16)
	denseAVX512(&dst[0], &x[0], &w[0], &bias[0], in, out, lanes, relu)
}

func fwdDense256(dst, x, w, bias []float32, in, out, lanes int, relu bool) {
	fwdCheckDense(dst, x, w, bias, in, out, lanes, 8)
	denseAVX2(&dst[0], &x[0], &w[0], &bias[0], in, out, lanes, relu)
}

// fwdCheckDenseOut panics unless the slices hold what a fused kernel
// touches.
func fwdCheckDenseOut(z, x, w, bias, w3, b3 []float32, in, out, lanes, width int) {
	fwdCheckDense(z, x, w, bias, in, 1, lanes, width)
	if out < 1 || len(w) < out*in || len(bias) < out || len(w3) < out || len(b3) < 1 {
		panic("cpu: dense kernel arguments out of range")
	}
}

func fwdDenseOut512(z, _, x, w, bias, w3, b3 []float32, in, out, lanes int) {
	fwdCheckDenseOut(z, x, w, bias, w3, b3, in, out, lanes, 16)
	denseOutAVX512(&z[0], &x[0], &w[0], &bias[0], &w3[0], &b3[0], in, out, lanes)
}

func fwdDenseOut256(z, _, x, w, bias, w3, b3 []float32, in, out, lanes int) {
	fwdCheckDenseOut(z, x, w, bias, w3, b3, in, out, lanes, 8)
	denseOutAVX2(&z[0], &x[0], &w[0], &bias[0], &w3[0], &b3[0], in, out, lanes)
}

// fwdGather is gatherGo in assembly (a bit copy, no vector unit).
func fwdGather(x, obs []float32, row0, step, in, nb, lanes int) {
	if in < 1 || nb < 1 || nb > lanes || step < 1 || len(x) < in*lanes || len(obs) < (row0+(nb-1)*step)*in+in {
		panic("cpu: gather arguments out of range")
	}
	gatherRows(&x[0], &obs[row0*in], in, nb, lanes, 4*step*in)
}

func fwdPerturb512(dst, theta, u []float32, mu float32, next1, next2 []float32) {
	n := len(dst) &^ 15
	theta, u = theta[:len(dst)], u[:len(dst)]
	if n > 0 {
		next1, next2 = next1[:n], next2[:n]
		perturbAVX512(&dst[0], &theta[0], &u[0], mu, n, &next1[0], &next2[0])
	}
	perturbGoTwin(dst[n:], theta[n:], u[n:], mu, nil, nil)
}

func fwdPerturb256(dst, theta, u []float32, mu float32, next1, next2 []float32) {
	n := len(dst) &^ 7
	theta, u = theta[:len(dst)], u[:len(dst)]
	if n > 0 {
		next1, next2 = next1[:n], next2[:n]
		perturbAVX2(&dst[0], &theta[0], &u[0], mu, n, &next1[0], &next2[0])
	}
	perturbGoTwin(dst[n:], theta[n:], u[n:], mu, nil, nil)
}

// fwdPrefetch prefetches p into L1.
func fwdPrefetch(p []float32) {
	if len(p) > 0 {
		prefetchRange(&p[0], len(p))
	}
}
