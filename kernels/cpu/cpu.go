// Package cpu is the CPU backend of package kernels in pure Go: batched,
// allocation-free after warm-up, and safe for concurrent use. It is the
// generic kernel set; SIMD variants selected at run time come on top of it
// and are tested against it.
package cpu

import (
	"math"
	"sync"

	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/philox"
)

// Backend is the pure-Go CPU backend. The zero value is ready to use.
type Backend struct {
	scratch sync.Pool // *[]float32 work buffers, reused across calls
}

// New returns a CPU backend.
func New() *Backend { return &Backend{} }

// Name returns "cpu/generic".
func (*Backend) Name() string { return "cpu/generic" }

func (be *Backend) buffer(n int) *[]float32 {
	if p, ok := be.scratch.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}

// Forward runs the batched policy forward pass (see kernels.Forward).
func (be *Backend) Forward(f *kernels.Forward) {
	net := f.Net
	P := net.NumParams()
	width := net.MaxWidth()
	// Work space: perturbed parameters, then two activation buffers [B][width].
	buf := f.Scratch
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

// Rates computes batch-mean link rates (see kernels.Rates).
func (*Backend) Rates(r *kernels.Rates) {
	n := r.N
	inv := 1 / float64(r.B)
	for s := 0; s < r.S; s++ {
		mean := r.MeanRate[s*n : s*n+n]
		clear(mean)
		for b := 0; b < r.B; b++ {
			h := r.H[s*r.HSeedStride+b*n*n:][:n*n]
			p := r.Power[s*r.PowerSeedStride+b*n:][:n]
			for i := 0; i < n; i++ {
				row := h[i*n : i*n+n]
				interference := r.Sigma2
				for j, a := range row {
					if j != i {
						interference += float64(float64(a) * float64(a) * float64(p[j]))
					}
				}
				d := float64(row[i])
				mean[i] += math.Log2(1 + d*d*float64(p[i])/interference)
			}
		}
		for i := range mean {
			mean[i] *= inv
		}
	}
}

// Perturb draws the perturbation directions (see kernels.Perturb).
func (*Backend) Perturb(p *kernels.Perturb) {
	for s := 0; s < p.S; s++ {
		for k := 0; k < p.N; k++ {
			dst := p.Dst[s*p.SeedStride+k*p.AgentStride:][:p.P]
			if p.Explore != nil && !p.Explore[s*p.N+k] {
				clear(dst)
				continue
			}
			philox.FillNormal32(dst, p.Keys[s], p.Streams[k], 0)
		}
	}
}

// FillNormal32 writes standard normals (see kernels.Backend).
func (*Backend) FillNormal32(dst []float32, key, stream, first uint64) {
	philox.FillNormal32(dst, key, stream, first)
}

// Update applies the age-grouped zeroth-order update (see kernels.Update).
func (*Backend) Update(u *kernels.Update) {
	P := u.P
	for s := 0; s < u.S; s++ {
		for k := 0; k < u.N; k++ {
			theta := u.Theta[s*u.ThetaSeedStride+k*u.ThetaAgentStride:][:P]
			ring := u.Ring[s*u.RingSeedStride+k*u.RingAgentStride:]
			coef := u.Coef[(s*u.N+k)*u.Slots:][:u.Slots]
			for j, c := range coef {
				if c == 0 {
					continue
				}
				axpy(theta, ring[j*P:j*P+P], c)
			}
		}
	}
}

func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += float32(a * x[i])
	}
}
