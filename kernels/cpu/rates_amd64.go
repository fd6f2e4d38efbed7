package cpu

import "github.com/klauspost/cpuid/v2"

//go:generate sh -c "cd ../asmgen && go run ./rates -out ../cpu/rates_amd64.s -stubs ../cpu/rates_stubs_amd64.go -pkg cpu"

// CPU features of the kernels of rates_amd64.s (AVX-512: F and VL for the
// EVEX-encoded ymm/xmm forms, BMI2 for BZHI masks; AVX2: with FMA).
var (
	mvAVX512 = cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512VL, cpuid.BMI2, cpuid.FMA3)
	mvAVX2   = cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
)

func mvLog2SliceBest(dst, src []float32) {
	switch {
	case mvAVX512:
		log2SliceAVX512(dst, src)
	case mvAVX2:
		log2SliceAVX2(dst, src)
	default:
		log2SliceGo(dst, src)
	}
}

// sigmoid512 and sigmoid256 are SigmoidSlice with AVX-512 or AVX2 only
// (the Go twin on a CPU without), for kernel sets that must not mix
// instruction sets.
func sigmoid512(dst, src []float32, scale float32) {
	if mvAVX512 {
		sigmoidSliceAVX512(dst, src, scale)
		return
	}
	sigmoidSliceGo(dst, src, scale)
}

func sigmoid256(dst, src []float32, scale float32) {
	if mvAVX2 {
		sigmoidSliceAVX2(dst, src, scale)
		return
	}
	sigmoidSliceGo(dst, src, scale)
}

func mvSigmoidSliceBest(dst, src []float32, scale float32) {
	switch {
	case mvAVX512:
		sigmoidSliceAVX512(dst, src, scale)
	case mvAVX2:
		sigmoidSliceAVX2(dst, src, scale)
	default:
		sigmoidSliceGo(dst, src, scale)
	}
}

// ratesSample512 and ratesSample256 run one sample of Rates (see
// ratesSampleGo) with AVX-512 or AVX2, or with the Go twin on a CPU without.
func ratesSample512(h, p []float32, sigma2 float32, mean []float64) {
	if !mvAVX512 {
		ratesSampleGo(h, p, sigma2, mean)
		return
	}
	n := len(p)
	ratesSampleAVX512(h[:n*n], p, sigma2, mean[:n])
}

func ratesSample256(h, p []float32, sigma2 float32, mean []float64) {
	if !mvAVX2 {
		ratesSampleGo(h, p, sigma2, mean)
		return
	}
	n := len(p)
	ratesSampleAVX2(h[:n*n], p, sigma2, mean[:n])
}

// updAxpy512 and updAxpy256 compute y[i] += float32(a*x[i]) (see
// updAxpyGo) with AVX-512 or AVX2, or in Go on a CPU without.
func updAxpy512(y, x []float32, a float32) {
	if !mvAVX512 {
		updAxpyGo(y, x, a)
		return
	}
	updAxpyAVX512(y, x[:len(y)], a)
}

func updAxpy256(y, x []float32, a float32) {
	if !mvAVX2 {
		updAxpyGo(y, x, a)
		return
	}
	updAxpyAVX2(y, x[:len(y)], a)
}

// mvISAs returns the kernel sets this CPU runs, the widest first.
func mvISAs() []mvISA {
	var s []mvISA
	if mvAVX512 {
		s = append(s, mvISA{
			name:    "avx512",
			log2:    func(d, x []float32) { log2SliceAVX512(d, x[:len(d)]) },
			log2p1:  func(d, x []float32) { log2p1SliceAVX512(d, x[:len(d)]) },
			sigmoid: func(d, x []float32, c float32) { sigmoidSliceAVX512(d, x[:len(d)], c) },
			sample:  ratesSample512,
			rates:   RatesAVX512,
			axpy:    updAxpy512,
			update:  UpdateAVX512,
		})
	}
	if mvAVX2 {
		s = append(s, mvISA{
			name:    "avx2",
			log2:    func(d, x []float32) { log2SliceAVX2(d, x[:len(d)]) },
			log2p1:  func(d, x []float32) { log2p1SliceAVX2(d, x[:len(d)]) },
			sigmoid: func(d, x []float32, c float32) { sigmoidSliceAVX2(d, x[:len(d)], c) },
			sample:  ratesSample256,
			rates:   RatesAVX2,
			axpy:    updAxpy256,
			update:  UpdateAVX2,
		})
	}
	return s
}
