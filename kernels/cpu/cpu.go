// Package cpu is the CPU backend of package kernels: batched,
// allocation-free after warm-up, and safe for concurrent use. The generic
// kernels are pure Go; the AVX2 and AVX-512 variants (Go assembly generated
// with avo, each routine with a pure-Go twin) are chosen once, when a
// Backend is made: by $BATCHRUN_KERNELS or the --kernels flag, else the best
// the CPU runs (cpuid). Every variant is tested against the generic kernels.
package cpu

import (
	"fmt"
	"math"
	"os"
	"strings"
	"sync"

	"github.com/klauspost/cpuid/v2"

	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/philox"
)

// The kernel variants.
const (
	Generic = "generic" // pure Go
	AVX2    = "avx2"    // AVX2 and FMA3
	AVX512  = "avx512"  // AVX-512 F, DQ, VL and BMI2
)

// Variants lists the kernel variants, best first.
func Variants() []string { return []string{AVX512, AVX2, Generic} }

// Supported reports whether this CPU runs a variant.
func Supported(variant string) bool {
	switch variant {
	case Generic:
		return true
	case AVX2:
		return cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3)
	case AVX512:
		return cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2, cpuid.FMA3, cpuid.BMI2, cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512VL)
	}
	return false
}

// Best returns the best variant this CPU runs.
func Best() string {
	for _, v := range Variants() {
		if Supported(v) {
			return v
		}
	}
	return Generic
}

// EnvVariable names the environment variable that picks the kernels of New:
// generic, avx2, avx512, or auto (the default: Best).
const EnvVariable = "BATCHRUN_KERNELS"

// Backend is the CPU backend: the generic pure-Go kernels, or a SIMD
// variant of some of them (chosen at construction, never changed). The
// variants compute the same operations: normals bit for bit; the update bit
// for bit; the forward pass and the rates to float tolerance (FMA and a
// vectorized log2; see forward_simd.go and rates_simd.go).
type Backend struct {
	variant string
	forward func(*kernels.Forward, []float32) // nil: generic
	rates   func(*kernels.Rates)
	update  func(*kernels.Update)
	normals func(dst []float32, key, stream, first uint64)
	scratch sync.Pool // *[]float32 work buffers, reused across calls
}

// New returns the backend with the kernels named by $BATCHRUN_KERNELS, or
// the best this CPU runs when it is unset or "auto". It panics when the
// variable names kernels that do not exist or that the CPU cannot run: a
// typo must not silently test or run other kernels than asked for (the
// command line reports the same as a usage error before calling New).
func New() *Backend {
	be, err := NewVariant(os.Getenv(EnvVariable))
	if err != nil {
		panic("cpu: $" + EnvVariable + ": " + err.Error())
	}
	return be
}

// NewVariant returns the backend with the named kernels: generic, avx2,
// avx512, or auto ("" too) for Best.
func NewVariant(name string) (*Backend, error) {
	if name == "" || name == "auto" {
		name = Best()
	}
	be := &Backend{variant: name, normals: philox.FillNormal32}
	switch name {
	case Generic:
	case AVX2, AVX512:
		if !Supported(name) {
			return nil, fmt.Errorf("kernels %s: this CPU lacks the instructions (%s runs: %s)", name, cpuid.CPU.BrandName, strings.Join(supported(), ", "))
		}
		if name == AVX512 {
			be.forward, be.rates, be.update, be.normals = ForwardAVX512, RatesAVX512, UpdateAVX512, philox.FillNormal32AVX512
		} else {
			be.forward, be.rates, be.update, be.normals = ForwardAVX2, RatesAVX2, UpdateAVX2, philox.FillNormal32AVX2
		}
	default:
		return nil, fmt.Errorf("kernels %q: allowed: auto, %s", name, strings.Join(Variants(), ", "))
	}
	return be, nil
}

// All returns a backend of every variant this CPU runs, best first (the
// generic one last): what a test of the kernels against a reference runs.
func All() []*Backend {
	var out []*Backend
	for _, v := range Variants() {
		if !Supported(v) {
			continue
		}
		if be, err := NewVariant(v); err == nil {
			out = append(out, be)
		}
	}
	return out
}

func supported() []string {
	var out []string
	for _, v := range Variants() {
		if Supported(v) {
			out = append(out, v)
		}
	}
	return out
}

// Variant returns the kernel variant. The zero Backend is the generic one.
func (be *Backend) Variant() string {
	if be.variant == "" {
		return Generic
	}
	return be.variant
}

// Name returns "cpu/" and the variant, e.g. "cpu/avx512".
func (be *Backend) Name() string { return "cpu/" + be.Variant() }

func (be *Backend) buffer(n int) *[]float32 {
	if p, ok := be.scratch.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}

// ForwardScratchLen returns the work space Forward needs (see
// kernels.Backend).
func (be *Backend) ForwardScratchLen(f *kernels.Forward) int {
	if be.forward != nil {
		return SIMDScratchLen(f)
	}
	return f.ScratchLen()
}

// Forward runs the batched policy forward pass (see kernels.Forward).
func (be *Backend) Forward(f *kernels.Forward) {
	if be.forward != nil {
		need := SIMDScratchLen(f)
		if len(f.Scratch) >= need {
			be.forward(f, f.Scratch)
			return
		}
		bufp := be.buffer(need)
		be.forward(f, *bufp)
		be.scratch.Put(bufp)
		return
	}
	be.forwardGeneric(f)
}

func (be *Backend) forwardGeneric(f *kernels.Forward) { be.forwardGenericIn(f, f.Scratch) }

// forwardGenericIn is the generic forward pass in the work space buf, or in
// a pooled buffer where buf is shorter than f.ScratchLen().
func (be *Backend) forwardGenericIn(f *kernels.Forward, buf []float32) {
	net := f.Net
	P := net.NumParams()
	width := net.MaxWidth()
	// Work space: perturbed parameters, then two activation buffers [B][width].
	if len(buf) < f.ScratchLen() {
		bufp := be.buffer(f.ScratchLen())
		defer be.scratch.Put(bufp)
		buf = *bufp
	}
	w := buf[:P]
	actA := buf[P : P+f.B*width]
	actB := buf[P+f.B*width : P+2*f.B*width]
	for s := 0; s < f.S; s++ {
		for k := 0; k < f.N; k++ {
			theta := f.Theta[s*f.ThetaSeedStride+k*f.ThetaAgentStride:][:P]
			params := theta
			if f.U != nil {
				u := f.U[s*f.USeedStride+k*f.UAgentStride:][:P]
				mu := f.Mu
				for i := range w {
					w[i] = theta[i] + float32(mu*u[i])
				}
				params = w
			}
			// Gather the B observations of agent k.
			in := net.In
			obs := f.Obs[s*f.ObsSeedStride:]
			for b := 0; b < f.B; b++ {
				copy(actA[b*in:b*in+in], obs[(b*f.N+k)*in:][:in])
			}
			cur, next := actA, actB
			off := 0
			for _, h := range net.Hidden {
				weights := params[off : off+h*in]
				bias := params[off+h*in : off+h*in+h]
				dense(next, cur, weights, bias, f.B, in, h, true)
				off += h*in + h
				cur, next = next, cur
				in = h
			}
			weights := params[off : off+in]
			bias := params[off+in]
			power := f.Power[s*f.PowerSeedStride:]
			for b := 0; b < f.B; b++ {
				z := bias + dot(weights, cur[b*in:b*in+in])
				power[b*f.N+k] = f.Pmax * sigmoid(z)
			}
		}
	}
}

// dense computes out[b][o] = act(bias[o] + sum_i w[o][i] x[b][i]) for b < nb,
// with x rows of length in and out rows of length nout, four samples at a
// time so that each weight row is loaded once per four samples.
func dense(out, x, w, bias []float32, nb, in, nout int, relu bool) {
	b := 0
	for ; b+4 <= nb; b += 4 {
		x0 := x[b*in : b*in+in]
		x1 := x[(b+1)*in : (b+1)*in+in]
		x2 := x[(b+2)*in : (b+2)*in+in]
		x3 := x[(b+3)*in : (b+3)*in+in]
		for o := 0; o < nout; o++ {
			row := w[o*in : o*in+in]
			a0, a1, a2, a3 := bias[o], bias[o], bias[o], bias[o]
			for i, wi := range row {
				a0 += float32(wi * x0[i])
				a1 += float32(wi * x1[i])
				a2 += float32(wi * x2[i])
				a3 += float32(wi * x3[i])
			}
			if relu {
				a0, a1, a2, a3 = max(a0, 0), max(a1, 0), max(a2, 0), max(a3, 0)
			}
			out[b*nout+o] = a0
			out[(b+1)*nout+o] = a1
			out[(b+2)*nout+o] = a2
			out[(b+3)*nout+o] = a3
		}
	}
	for ; b < nb; b++ {
		xb := x[b*in : b*in+in]
		for o := 0; o < nout; o++ {
			a := bias[o] + dot(w[o*in:o*in+in], xb)
			if relu {
				a = max(a, 0)
			}
			out[b*nout+o] = a
		}
	}
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, v := range a {
		s += float32(v * b[i])
	}
	return s
}

// sigmoid returns 1 / (1 + e^-z), computed in float64 and rounded once; it
// tends to 0 and 1 without overflow to NaN.
func sigmoid(z float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(z))))
}

// Rates computes batch-mean link rates (see kernels.Rates). The SIMD rates
// hold the noise power in float32; outside its normal range the generic
// float64 rates run instead.
func (be *Backend) Rates(r *kernels.Rates) {
	if be.rates != nil && r.Sigma2 >= 0x1p-126 && r.Sigma2 <= 0x1p126 {
		be.rates(r)
		return
	}
	ratesGeneric(r)
}

// ratesGeneric is the generic Rates: float64 sums and math.Log2.
func ratesGeneric(r *kernels.Rates) { ratesWith(r, ratesSampleGeneric) }

// ratesSampleGeneric adds log2(1 + SINR_i) of one sample to mean[i], in
// float64, the interference summed over j != i.
func ratesSampleGeneric(h, p []float32, sigma2 float64, mean []float64) {
	n := len(p)
	for i := 0; i < n; i++ {
		row := h[i*n : i*n+n]
		interference := sigma2
		for j, a := range row {
			if j != i {
				interference += float64(float64(a) * float64(a) * float64(p[j]))
			}
		}
		d := float64(row[i])
		mean[i] += math.Log2(1 + d*d*float64(p[i])/interference)
	}
}

// Perturb draws the perturbation directions (see kernels.Perturb).
func (be *Backend) Perturb(p *kernels.Perturb) {
	for s := 0; s < p.S; s++ {
		for k := 0; k < p.N; k++ {
			dst := p.Dst[s*p.SeedStride+k*p.AgentStride:][:p.P]
			if p.Explore != nil && !p.Explore[s*p.N+k] {
				clear(dst)
				continue
			}
			be.FillNormal32(dst, p.Keys[s], p.Streams[k], 0)
		}
	}
}

// FillNormal32 writes standard normals (see kernels.Backend).
func (be *Backend) FillNormal32(dst []float32, key, stream, first uint64) {
	if be.normals == nil {
		philox.FillNormal32(dst, key, stream, first)
		return
	}
	be.normals(dst, key, stream, first)
}

// Update applies the age-grouped zeroth-order update (see kernels.Update).
func (be *Backend) Update(u *kernels.Update) {
	if be.update != nil {
		be.update(u)
		return
	}
	updateGeneric(u)
}

// updateGeneric is the generic Update: updateWith the pure-Go axpy.
func updateGeneric(u *kernels.Update) { updateWith(u, updAxpyGo) }
