package psdda

import (
	"fmt"
	"math"

	"github.com/batchrun/batchrun/boxqp"
	"github.com/batchrun/batchrun/kernels/philox"
)

// Problem is a sum of per-node least-squares objectives over a box,
//
//	f(x) = sum_i f_i(x),  f_i(x) = ||A_i x - y_i||^2 + lambda ||x||^2,  x in [lo, hi]^d,
//
// which covers the three objectives of the spec: the quadratic program
// (A_i = I, y_i = b_i, lambda = 0), sensor estimation (A_i = H_i, one row)
// and random least squares. Because f is quadratic,
//
//	f(x) = x'Hx - 2h'x + c,  H = sum_i A_i'A_i + n lambda I,  h = sum_i A_i'y_i,  c = sum_i ||y_i||^2,
//
// so f and its exact minimiser over the box (boxqp, KKT checked) cost
// O(d^2) and O(d^3) whatever n is.
type Problem struct {
	N, D, M int       // nodes, dimension, rows per node
	A       []float64 // [node][row][dim]
	Y       []float64 // [node][row]
	Lambda  float64
	Lo, Hi  float64

	H, Hh []float64 // d x d and d
	C     float64
	XStar []float64 // the minimiser over the box
	FStar float64
	GStar []float64 // gradient of f at XStar: 2(H XStar - h)
}

// Grad writes the gradient of f_i at x to g: 2 A_i'(A_i x - y_i) + 2 lambda x.
func (p *Problem) Grad(g []float64, i int, x []float64) {
	d, m := p.D, p.M
	for k := range g {
		g[k] = 2 * p.Lambda * x[k]
	}
	a := p.A[i*m*d : (i+1)*m*d]
	for r := range m {
		row := a[r*d : (r+1)*d]
		res := -p.Y[i*m+r]
		for k, v := range row {
			res += float64(v * x[k])
		}
		res *= 2
		for k, v := range row {
			g[k] += float64(res * v)
		}
	}
}

// NodeValue returns f_i(x).
func (p *Problem) NodeValue(i int, x []float64) float64 {
	d, m := p.D, p.M
	s := 0.0
	for k := range x {
		s += float64(p.Lambda * x[k] * x[k])
	}
	for r := range m {
		res := -p.Y[i*m+r]
		for k, v := range p.A[(i*m+r)*d : (i*m+r+1)*d] {
			res += float64(v * x[k])
		}
		s += float64(res * res)
	}
	return s
}

// Value returns f(x) = sum_i f_i(x), in O(n m d).
func (p *Problem) Value(x []float64) float64 {
	s := 0.0
	for i := range p.N {
		s += p.NodeValue(i, x)
	}
	return s
}

// Excess returns f(x) - f* in O(d^2), without cancellation: with
// delta = x - x*, f(x) - f* = delta'H delta + grad f(x*)'delta.
func (p *Problem) Excess(x []float64) float64 {
	d := p.D
	q, l := 0.0, 0.0
	for k := range d {
		dk := x[k] - p.XStar[k]
		hd := 0.0
		for j := range d {
			hd += float64(p.H[k*d+j] * (x[j] - p.XStar[j]))
		}
		q += float64(dk * hd)
		l += float64(p.GStar[k] * dk)
	}
	return q + l
}

// Project writes the projection of x onto the box [lo, hi]^d to dst.
func (p *Problem) Project(dst, x []float64) {
	for k, v := range x {
		dst[k] = min(max(v, p.Lo), p.Hi)
	}
}

// finish computes H, h, c and the exact minimiser over the box.
func (p *Problem) finish() error {
	n, d, m := p.N, p.D, p.M
	p.H = make([]float64, d*d)
	p.Hh = make([]float64, d)
	for i := range n {
		for r := range m {
			row := p.A[(i*m+r)*d : (i*m+r+1)*d]
			y := p.Y[i*m+r]
			for k, v := range row {
				p.Hh[k] += float64(v * y)
				for j, u := range row {
					p.H[k*d+j] += float64(v * u)
				}
			}
			p.C += float64(y * y)
		}
	}
	for k := range d {
		p.H[k*d+k] += float64(n) * p.Lambda
	}
	// minimise f = x'Hx - 2h'x + c, i.e. 0.5 x'(2H)x - (2h)'x.
	q, c := make([]float64, d*d), make([]float64, d)
	for k := range q {
		q[k] = 2 * p.H[k]
	}
	for k := range c {
		c[k] = 2 * p.Hh[k]
	}
	lo, hi := make([]float64, d), make([]float64, d)
	for k := range d {
		lo[k], hi[k] = p.Lo, p.Hi
	}
	x, err := boxqp.Solve(q, c, lo, hi)
	if err != nil {
		return fmt.Errorf("exact optimum: %w", err)
	}
	if v := boxqp.KKT(q, c, lo, hi, x); v > 1e-9 {
		return fmt.Errorf("exact optimum: KKT violation %.3g", v)
	}
	p.XStar = x
	p.FStar = p.Value(x)
	p.GStar = make([]float64, d)
	for k := range d {
		s := -p.Hh[k]
		for j := range d {
			s += float64(p.H[k*d+j] * x[j])
		}
		p.GStar[k] = 2 * s
	}
	return nil
}

// Data streams of a seed (Philox key = dataKey(seed)).
const (
	streamTheta = 1 // sensor: theta, index k
	streamH     = 2 // sensor: H_i, index i*d+k; lsq: A_i, index (i*m+r)*d+k
	streamNoise = 3 // sensor: w_i, index i; lsq: noise of y_i, index i*m+r
	streamXTrue = 4 // lsq: the vector behind the data, index k
)

// NewProblem builds the objective of cfg for a seed: qp does not depend on
// the seed; sensor and lsq draw their data from it.
//
// sensor (spec section 6): theta ~ U[0,1]^d, H_i ~ U[0,1]^{1 x d}, w_i ~
// U[-0.5, 0.5], z_i = H_i theta + w_i.
//
// lsq (an extension): A_i has rows entries N(0, 1/rows) (so A_i'A_i has mean
// I), x_true ~ U[-0.5, 0.5]^d, y_i = A_i x_true + noise * N(0, 1).
func NewProblem(cfg *Config, seed uint64) (*Problem, error) {
	n, d := cfg.N, cfg.D
	p := &Problem{N: n, D: d, Lo: cfg.Lo, Hi: cfg.Hi}
	key := dataKey(seed)
	switch cfg.Objective {
	case ObjectiveQP:
		// f_i(x) = ||x - b_i||^2, b_i = (0.1 i, 0.5 - 0.05 i), i = 1..n.
		p.M = d
		p.A = make([]float64, n*d*d)
		p.Y = make([]float64, n*d)
		for i := range n {
			for k := range d {
				p.A[(i*d+k)*d+k] = 1
			}
			p.Y[i*d] = 0.1 * float64(i+1)
			p.Y[i*d+1] = 0.5 - 0.05*float64(i+1)
		}
	case ObjectiveSensor:
		p.M, p.Lambda = 1, cfg.Lambda
		theta := make([]float64, d)
		for k := range theta {
			theta[k] = philox.Float64(key, streamTheta, uint64(k))
		}
		p.A = make([]float64, n*d)
		p.Y = make([]float64, n)
		for i := range n {
			z := philox.Float64(key, streamNoise, uint64(i)) - 0.5
			for k := range d {
				h := philox.Float64(key, streamH, uint64(i*d+k))
				p.A[i*d+k] = h
				z += float64(h * theta[k])
			}
			p.Y[i] = z
		}
	case ObjectiveLSQ:
		m := cfg.Rows
		p.M, p.Lambda = m, cfg.Lambda
		xt := make([]float64, d)
		for k := range xt {
			xt[k] = philox.Float64(key, streamXTrue, uint64(k)) - 0.5
		}
		p.A = make([]float64, n*m*d)
		p.Y = make([]float64, n*m)
		scale := 1 / math.Sqrt(float64(m))
		for i := range n * m {
			y := cfg.Noise * philox.Normal64(key, streamNoise, uint64(i))
			for k := range d {
				a := scale * philox.Normal64(key, streamH, uint64(i*d+k))
				p.A[i*d+k] = a
				y += float64(a * xt[k])
			}
			p.Y[i] = y
		}
	default:
		return nil, fmt.Errorf("unknown objective %q", cfg.Objective)
	}
	if err := p.finish(); err != nil {
		return nil, fmt.Errorf("objective %s: %w", cfg.Objective, err)
	}
	return p, nil
}

// Keys of a seed: the data, the random graph sequence and the delays use
// unrelated Philox keys (SplitMix64 of the seed with a purpose constant).
func dataKey(seed uint64) uint64  { return philox.SplitMix64(seed ^ 0x7073646461646174) } // "psddadat"
func graphKey(seed uint64) uint64 { return philox.SplitMix64(seed ^ 0x7073646461677268) } // "psddagrh"
func delayKey(seed uint64) uint64 { return philox.SplitMix64(seed ^ 0x707364646164656c) } // "psddadel"
