package policy

import (
	"fmt"
	"math"

	"github.com/batchrun/batchrun/channel"
)

// WMMSE is the weighted minimum mean-square error power allocation of Shi,
// Razaviyayn, Luo and He ("An iteratively weighted MMSE approach to
// distributed sum-utility maximization for a MIMO interfering broadcast
// channel", IEEE TSP 2011), specialised to the real SISO interference
// channel as in Sun et al. 2018 ("Learning to optimize"). A WMMSE holds the
// buffers for a fixed number of links, so that Solve does not allocate; it
// may be reused for any number of channels but not by several goroutines at
// once.
type WMMSE struct {
	n int
	g []float64 // squared amplitudes h_ij^2, n*n row-major
	v []float64 // current amplitudes v_i = sqrt(p_i)
	u []float64 // receiver gains u_i
	w []float64 // MSE weights w_i
	c []float64 // column sums sum_j w_j u_j^2 h_ji^2
}

// NewWMMSE returns a WMMSE solver for n links. It panics if n < 0.
func NewWMMSE(n int) *WMMSE {
	if n < 0 {
		panic(fmt.Sprintf("policy: NewWMMSE: n = %d links, want >= 0", n))
	}
	return &WMMSE{
		n: n,
		g: make([]float64, n*n),
		v: make([]float64, n),
		u: make([]float64, n),
		w: make([]float64, n),
		c: make([]float64, n),
	}
}

// N returns the number of links w was built for.
func (w *WMMSE) N() int { return w.n }

// Solve runs WMMSE on the amplitudes h (n*n row-major, h[r*n+j] from
// transmitter j to receiver r, as in package channel) with noise power
// sigma2 > 0 and power budget pmax >= 0, and writes the powers to p
// (length n).
//
// It starts at full power, v_i = sqrt(pmax). One iteration computes, for all
// i from the current v,
//
//	u_i = h_ii v_i / (sigma2 + sum_j h_ij^2 v_j^2)
//	w_i = 1 / (1 - u_i h_ii v_i)
//
// and then updates every v_i to
//
//	v_i = clip(w_i u_i h_ii / sum_j w_j u_j^2 h_ji^2, 0, sqrt(pmax)).
//
// After each iteration it evaluates the sum-rate at p = v^2 (see
// channel.SumRate), and it stops after maxIter iterations or as soon as the
// sum-rate gain of an iteration is <= tol. It returns the number of
// iterations done and the sum-rate of the powers written to p, which are
// those of the last iterate. maxIter <= 0 leaves p at full power.
//
// 1 - u_i h_ii v_i is evaluated as (sigma2 + I_i) / (sigma2 + I_i + S_i),
// with interference I_i and signal S_i, so it is positive and exact to
// rounding. A link whose update denominator sum_j w_j u_j^2 h_ji^2 is 0
// (which makes its numerator 0 too, e.g. a zero direct gain h_ii = 0) gets
// v_i = 0. Powers with v_i = sqrt(pmax) are reported as exactly pmax.
//
// Solve panics if a length is wrong, sigma2 is not positive or pmax is
// negative or NaN. It does not allocate.
func (w *WMMSE) Solve(h []float64, sigma2, pmax float64, maxIter int, tol float64, p []float64) (iters int, sumRate float64) {
	return w.SolveTrace(h, sigma2, pmax, maxIter, tol, p, nil)
}

// SolveTrace is Solve that also calls trace(iter, sumRate) after every
// iteration, and once with iter = 0 for the full-power start, for tests and
// diagnostics. A nil trace is not called.
func (w *WMMSE) SolveTrace(h []float64, sigma2, pmax float64, maxIter int, tol float64, p []float64, trace func(iter int, sumRate float64)) (iters int, sumRate float64) {
	n := w.n
	if len(h) != n*n || len(p) != n || !(sigma2 > 0) || !(pmax >= 0) {
		badSolve(n, len(h), len(p), sigma2, pmax)
	}
	g, v, u, wt, c := w.g[:n*n], w.v[:n], w.u[:n], w.w[:n], w.c[:n]
	for k, a := range h {
		g[k] = a * a
	}
	vmax := math.Sqrt(pmax)
	for i := range v {
		v[i] = vmax
		p[i] = pmax
	}
	rate := channel.SumRate(h, p, sigma2)
	if trace != nil {
		trace(0, rate)
	}
	for iters < maxIter {
		// u and w of every link from the current v.
		for i := range n {
			row := g[i*n : i*n+n]
			inter := 0.0
			for j := range i {
				inter += float64(row[j] * v[j] * v[j])
			}
			for j := i + 1; j < n; j++ {
				inter += float64(row[j] * v[j] * v[j])
			}
			nin := sigma2 + inter // noise plus interference, > 0
			total := nin + float64(row[i]*v[i]*v[i])
			u[i] = h[i*n+i] * v[i] / total
			wt[i] = total / nin
		}
		// c_i = sum_j w_j u_j^2 h_ji^2, accumulated row by row of g.
		clear(c)
		for j := range n {
			a := wt[j] * u[j] * u[j]
			if a == 0 {
				continue
			}
			row := g[j*n : j*n+n]
			for i, gji := range row {
				c[i] += float64(a * gji)
			}
		}
		// Every v_i from the new u and w.
		for i := range n {
			vi := 0.0
			if c[i] > 0 {
				vi = wt[i] * u[i] * h[i*n+i] / c[i]
			}
			switch {
			case !(vi > 0): // also NaN
				vi = 0
			case vi >= vmax:
				vi = vmax
			}
			v[i] = vi
			if vi == vmax {
				p[i] = pmax
			} else {
				p[i] = min(vi*vi, pmax)
			}
		}
		iters++
		next := channel.SumRate(h, p, sigma2)
		if trace != nil {
			trace(iters, next)
		}
		gain := next - rate
		rate = next
		if gain <= tol {
			break
		}
	}
	return iters, rate
}

// badSolve panics with the reason SolveTrace's arguments were rejected. It is
// a separate function so that Solve's normal path stays allocation-free.
//
//go:noinline
func badSolve(n, lenH, lenP int, sigma2, pmax float64) {
	switch {
	case lenH != n*n:
		panic(fmt.Sprintf("policy: WMMSE.Solve: len(h) = %d, want n*n = %d", lenH, n*n))
	case lenP != n:
		panic(fmt.Sprintf("policy: WMMSE.Solve: len(p) = %d, want n = %d", lenP, n))
	case !(sigma2 > 0):
		panic(fmt.Sprintf("policy: WMMSE.Solve: noise power sigma2 = %v, want > 0", sigma2))
	default:
		panic(fmt.Sprintf("policy: WMMSE.Solve: pmax = %v, want >= 0", pmax))
	}
}
