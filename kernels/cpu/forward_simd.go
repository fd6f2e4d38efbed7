package cpu

import (
	"math"
	"unsafe"

	"github.com/batchrun/batchrun/kernels"
)

// SIMD forward pass
//
// The SIMD variants (ForwardAVX512, ForwardAVX2) run the same network as the
// generic Backend.Forward with a different data layout, chosen so that the
// per-agent work besides the layers themselves is nearly free:
//
//   - Samples live in vector lanes. Activations are feature-major, x[i*lanes+j]
//     is feature i of sample j, lanes = the samples of a chunk rounded up to
//     the vector width (16 floats for AVX-512, 8 for AVX2), padding lanes zero.
//     The output of a layer in this layout is the input of the next one, so
//     only the B*In observations are transposed on the way in (gatherRows).
//   - Weights keep their nn.Linear layout [out][in]: each weight is
//     broadcast to all lanes (VFMADD231PS with embedded broadcast on AVX-512,
//     VBROADCASTSS + VFMADD231PS on AVX2) and multiplied into a tile of up to
//     16 outputs held in registers. The perturbed parameters theta + Mu*u
//     are therefore one vectorised pass over P floats per agent
//     (perturbAVX512/AVX2, which also prefetches the next agent's theta and
//     u) with no transposition, and without a perturbation the kernels read
//     Theta in place.
//   - The last hidden layer and the 1-output layer are one kernel
//     (denseOutAVX512/AVX2): the hidden activations never leave the
//     registers, and the output's chain of FMAs overlaps the next tile.
//   - When every agent of a seed runs the same policy (ThetaAgentStride == 0,
//     and U nil or UAgentStride == 0) the N agents are one network on B*N
//     samples, in chunks of up to simdChunk lanes.
//
// Each output is accumulated as bias, then one fused multiply-add per input
// in increasing input order, in every lane; the kernels' tiling never changes
// that. denseTransposedGo is the pure-Go twin of the assembly (fmaRoundOdd32
// is a correctly rounded float32 FMA), so forwardSIMD with fwdGoKernels
// equals ForwardAVX512 and ForwardAVX2 bit for bit, and the two equal each
// other. Against the generic Backend.Forward the powers differ in the last
// bits only: the generic path rounds every product before adding it (and
// adds the output bias last), the SIMD path fuses them, which moves z by a
// few ulps of the partial sums; the relative difference of the powers stays
// below 1e-5 in practice (tested at 2e-5). The perturbation
// theta[i] + float32(mu*u[i]) is computed as in the generic path; the output
// Pmax*sigmoid(z) with the vectorized SigmoidSlice (within 1.8e-7 relative
// of the generic float64 sigmoid, see mathvec.go).

// simdKernels is one kernel set of the SIMD forward pass.
type simdKernels struct {
	name string
	// width is the vector width in float32 lanes; lane counts passed to
	// dense are multiples of it.
	width int
	// dense sets dst[o*lanes+j] = act(bias[o] + sum_i w[o*in+i]*x[i*lanes+j])
	// for o < out, j < lanes (see denseTransposedGo).
	dense func(dst, x, w, bias []float32, in, out, lanes int, relu bool)
	// denseOut is a ReLU layer followed by the 1-output layer: with
	// h = dense(x, w, bias, relu) (in tmp, if the implementation needs it),
	// z[j] = b3[0] + sum_o w3[o]*h[o*lanes+j] for j < lanes, the sum as in
	// dense with out = 1.
	denseOut func(z, tmp, x, w, bias, w3, b3 []float32, in, out, lanes int)
	// perturb sets dst[i] = theta[i] + float32(mu*u[i]) for i < len(dst),
	// and may prefetch next1 and next2 (the next agent's theta and u).
	perturb func(dst, theta, u []float32, mu float32, next1, next2 []float32)
	// sigmoid sets dst[j] = scale * sigmoid(src[j]) (see SigmoidSlice), with
	// the same instructions as the rest of the set.
	sigmoid func(dst, src []float32, scale float32)
	// prefetch may bring p into L1 (hint only).
	prefetch func(p []float32)
	// gather sets x[i*lanes+j] = obs[(row0+j*step)*in+i] for i < in, j < nb,
	// and 0 for nb <= j < lanes.
	gather func(x, obs []float32, row0, step, in, nb, lanes int)
}

// fwdGoKernels is the pure-Go twin of the assembly kernel sets.
var fwdGoKernels = simdKernels{name: "go", width: 16,
	dense: denseTransposedGo, denseOut: denseOutGo, perturb: perturbGoTwin, gather: gatherGo,
	prefetch: func([]float32) {}, sigmoid: sigmoidSliceGo}

// simdAlign is the alignment, in floats, of the work buffers in the scratch.
const simdAlign = 16

// simdChunk returns the most samples one pass of the layers handles: the
// activation buffers of a chunk stay small enough for L1 or L2.
func simdChunk(net kernels.MLP) int {
	switch w := net.MaxWidth(); {
	case w <= 64:
		return 64
	case w <= 256:
		return 32
	default:
		return 16
	}
}

func fwdRoundUp(n, m int) int { return (n + m - 1) / m * m }

// SIMDScratchLen returns the number of float32s of work space that
// ForwardAVX512 and ForwardAVX2 need for f: room to align, the perturbed
// parameters, two activation buffers and the outputs of one chunk of
// samples. It is at least f.ScratchLen(), so the same buffer serves the
// generic fallback.
func SIMDScratchLen(f *kernels.Forward) int {
	c := simdChunk(f.Net)
	n := simdAlign - 1 + fwdRoundUp(f.Net.NumParams(), simdAlign) + (2*f.Net.MaxWidth()+1)*c
	return max(n, f.ScratchLen())
}

// forwardSIMD runs f with the kernel set k in the work space scratch (or
// f.Scratch when scratch is too short; it panics if both are). It allocates
// nothing and writes only f.Power at the entries of f and the work space.
func forwardSIMD(f *kernels.Forward, scratch []float32, k *simdKernels) {
	net := f.Net
	P := net.NumParams()
	need := SIMDScratchLen(f)
	buf := scratch
	if len(buf) < need {
		buf = f.Scratch
	}
	if len(buf) < need {
		panic("cpu: SIMD Forward work space shorter than SIMDScratchLen")
	}
	// Align the work buffers to 64 bytes.
	if r := int(uintptr(unsafe.Pointer(&buf[0])) % (4 * simdAlign)); r != 0 {
		buf = buf[(4*simdAlign-r)/4:]
	}
	chunk := simdChunk(net)
	width := net.MaxWidth()
	wbuf := buf[:P]
	buf = buf[fwdRoundUp(P, simdAlign):]
	actA := buf[:width*chunk]
	actB := buf[width*chunk : 2*width*chunk]
	zbuf := buf[2*width*chunk : (2*width+1)*chunk]

	shared := f.ThetaAgentStride == 0 && (f.U == nil || f.UAgentStride == 0)
	agents, samples, step := f.N, f.B, f.N // per agent: sample b is row b*N + k
	if shared {
		agents, samples, step = 1, f.B*f.N, 1 // one network, sample j is row j
	}
	for s := 0; s < f.S; s++ {
		obs := f.Obs[s*f.ObsSeedStride:]
		power := f.Power[s*f.PowerSeedStride:]
		for a := 0; a < agents; a++ {
			// The next agent (or seed), whose parameters are prefetched.
			ns, na := s, a+1
			if na == agents {
				ns, na = s+1, 0
			}
			if ns == f.S {
				ns, na = s, a
			}
			params := f.Theta[s*f.ThetaSeedStride+a*f.ThetaAgentStride:][:P]
			nextTheta := f.Theta[ns*f.ThetaSeedStride+na*f.ThetaAgentStride:][:P]
			if f.U != nil {
				u := f.U[s*f.USeedStride+a*f.UAgentStride:][:P]
				nextU := f.U[ns*f.USeedStride+na*f.UAgentStride:][:P]
				k.perturb(wbuf, params, u, f.Mu, nextTheta, nextU)
				params = wbuf
			} else {
				k.prefetch(nextTheta)
			}
			for b0 := 0; b0 < samples; b0 += chunk {
				nb := min(chunk, samples-b0)
				row0 := a + b0*step // first observation row of the chunk
				lanes := fwdRoundUp(nb, k.width)
				z := forwardChunk(k, net, params, obs, actA, actB, zbuf, row0, step, nb, lanes)
				k.sigmoid(z[:nb], z[:nb], f.Pmax)
				for j, pj := range z[:nb] {
					power[row0+j*step] = pj
				}
			}
		}
	}
}

// forwardChunk runs the layers of net with parameters params on nb samples,
// sample j being observation row row0 + j*step, in lanes lanes, and returns
// the output pre-activations z[j] (in zbuf).
func forwardChunk(k *simdKernels, net kernels.MLP, params, obs, actA, actB, zbuf []float32, row0, step, nb, lanes int) []float32 {
	in := net.In
	k.gather(actA, obs, row0, step, in, nb, lanes)
	cur, next := actA, actB
	off := 0
	last := len(net.Hidden) - 1
	for _, h := range net.Hidden[:last] {
		k.dense(next, cur, params[off:off+h*in], params[off+h*in:off+h*in+h], in, h, lanes, true)
		off += h*in + h
		cur, next = next, cur
		in = h
	}
	h := net.Hidden[last]
	w, b := params[off:off+h*in], params[off+h*in:off+h*in+h]
	off += h*in + h
	k.denseOut(zbuf, next, cur, w, b, params[off:off+h], params[off+h:off+h+1], in, h, lanes)
	return zbuf[:lanes]
}

// denseTransposedGo is the pure-Go twin of the dense kernels: activations
// feature-major (x[i*lanes+j], dst[o*lanes+j]), weights w[o*in+i],
//
//	dst[o*lanes+j] = act(bias[o] + sum_{i ascending} w[o*in+i]*x[i*lanes+j])
//
// with every term added by one correctly rounded float32 fused
// multiply-add, and ReLU "if a < 0 { a = 0 }" (keeps NaN and -0, like
// VMAXPS with the accumulator as second source).
func denseTransposedGo(dst, x, w, bias []float32, in, out, lanes int, relu bool) {
	x = x[:in*lanes]
	for o := 0; o < out; o++ {
		row := w[o*in : o*in+in]
		d := dst[o*lanes : o*lanes+lanes]
		for j := range d {
			a := bias[o]
			for i, wi := range row {
				a = fmaRoundOdd32(wi, x[i*lanes+j], a)
			}
			if relu && a < 0 {
				a = 0
			}
			d[j] = a
		}
	}
}

// denseOutGo is the pure-Go twin of the fused last layers: the ReLU layer
// into tmp, then the 1-output layer.
func denseOutGo(z, tmp, x, w, bias, w3, b3 []float32, in, out, lanes int) {
	denseTransposedGo(tmp, x, w, bias, in, out, lanes, true)
	denseTransposedGo(z, tmp, w3, b3, out, 1, lanes, false)
}

// gatherGo is the pure-Go twin of gatherRows: the observations of nb
// samples, feature-major, zero in the padding lanes.
func gatherGo(x, obs []float32, row0, step, in, nb, lanes int) {
	x = x[:in*lanes]
	for j := 0; j < nb; j++ {
		o := obs[(row0+j*step)*in:][:in]
		for i, v := range o {
			x[i*lanes+j] = v
		}
	}
	for i := 0; i < in; i++ {
		clear(x[i*lanes+nb : i*lanes+lanes])
	}
}

// perturbGoTwin sets dst[i] = theta[i] + float32(mu*u[i]), as Backend.Forward.
func perturbGoTwin(dst, theta, u []float32, mu float32, _, _ []float32) {
	theta = theta[:len(dst)]
	u = u[:len(dst)]
	for i := range dst {
		dst[i] = theta[i] + float32(mu*u[i])
	}
}

// fmaRoundOdd32 returns a*b + c rounded once to float32, like VFMADD231PS.
//
// The product is exact in float64; the sum is rounded to float64 "to odd"
// (TwoSum gives the exact error; an inexact even result moves one ulp
// towards the exact value), and rounding to odd in 53 >= 24+2 bits followed
// by rounding to nearest float32 equals a single rounding to float32
// (Boldo and Melquiond, 2008). Plain float32(math.FMA(a, b, c)) would
// double-round.
func fmaRoundOdd32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b))
	cc := float64(c)
	s := p + cc
	bb := s - p
	e := (p - (s - bb)) + (cc - bb)
	if (e > 0 || e < 0) && math.Float64bits(s)&1 == 0 {
		if (e > 0) == (s > 0) {
			s = math.Float64frombits(math.Float64bits(s) + 1)
		} else {
			s = math.Float64frombits(math.Float64bits(s) - 1)
		}
	}
	return float32(s)
}

// fwdFallback runs the generic path of the SIMD entry points on CPUs without the
// instructions.
var fwdFallback Backend

// forwardFallback runs f on the generic path, in scratch if it is long enough.
func forwardFallback(f *kernels.Forward, scratch []float32) {
	if len(f.Scratch) >= f.ScratchLen() || len(scratch) < f.ScratchLen() {
		fwdFallback.forwardGeneric(f)
		return
	}
	fwdFallback.forwardGenericIn(f, scratch)
}
