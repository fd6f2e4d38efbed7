package asynpd

import (
	"errors"
	"fmt"
	"math"
)

// The coupling constraints g_j(thetabar) <= 0.
const (
	ConstraintNorm = "norm" // g = ||thetabar||^2 - budget (the paper's)
	ConstraintSum  = "sum"  // g = sum_k thetabar_k - sum_budget (a linear resource budget)
	ConstraintBoth = "both" // both of them: m = 2
)

// Class is a set of identical workers: workers First..First+Count-1
// (0-based) draw xi ~ N(Mu 1, sigma^2 I) and have the box C_i = [Lo, Hi]^d.
type Class struct {
	First, Count int
	Mu, Lo, Hi   float64
}

// Constraint is one coupling constraint g_j(thetabar) <= 0: Kind norm
// (||thetabar||^2 - Budget) or sum (sum_k thetabar_k - Budget).
type Constraint struct {
	Kind   string
	Budget float64
}

// Problem is an instance of the regularized resource-allocation saddle
// point problem
//
//	min over theta_i in C_i, max over lambda in [0, LambdaMax]^m of
//	L = sum_i [ f_i(theta_i) + Alpha/2 ||theta_i||^2 ] + lambda^T G(thetabar) - Beta/2 ||lambda||^2
//
// with f_i(theta) = E 0.5 ||theta - xi||^2 = 0.5 ||theta - mu_i||^2 + const
// and thetabar the mean of the n models. Workers come in classes of equal
// mu_i and C_i.
type Problem struct {
	N, D      int
	Classes   []Class
	Sigma     float64 // standard deviation of xi's coordinates
	Cons      []Constraint
	Alpha     float64
	Beta      float64
	LambdaMax float64
}

// M returns the number of coupling constraints.
func (p *Problem) M() int { return len(p.Cons) }

// ClassOf returns the class index of worker i (0-based).
func (p *Problem) ClassOf(i int) int {
	for c := range p.Classes {
		if i < p.Classes[c].First+p.Classes[c].Count {
			return c
		}
	}
	panic(fmt.Sprintf("asynpd: worker %d of %d", i, p.N))
}

// G writes g_j(s) to out (length m).
func (p *Problem) G(s, out []float64) {
	for j, c := range p.Cons {
		v := 0.0
		for _, x := range s {
			if c.Kind == ConstraintNorm {
				v += float64(x * x)
			} else {
				v += x
			}
		}
		out[j] = v - c.Budget
	}
}

// Dual writes h = grad G(s)^T lambda = sum_j lambda_j grad g_j(s) to h
// (length d): the server's message, which enters worker i's gradient as
// h / n.
func (p *Problem) Dual(s, lambda, h []float64) {
	clear(h)
	for j, c := range p.Cons {
		l := lambda[j]
		for k := range h {
			if c.Kind == ConstraintNorm {
				h[k] += float64(2 * s[k] * l)
			} else {
				h[k] += l
			}
		}
	}
}

// Saddle is the saddle point (theta*, lambda*): Theta[c] is the model of
// every worker of class c (the unique saddle point gives identical workers
// identical models), Lambda the multipliers.
type Saddle struct {
	Theta  [][]float64
	Lambda []float64
	Method string // "root" or "extragradient"
}

// ThetaStar returns theta*_i of worker i.
func (p *Problem) ThetaStar(s *Saddle, i int) []float64 { return s.Theta[p.ClassOf(i)] }

// Mean returns thetabar* = sum_c Count_c Theta[c] / n.
func (p *Problem) Mean(s *Saddle) []float64 {
	m := make([]float64, p.D)
	for c, cl := range p.Classes {
		for k := range m {
			m[k] += float64(float64(cl.Count) * s.Theta[c][k])
		}
	}
	for k := range m {
		m[k] /= float64(p.N)
	}
	return m
}

// Solve returns the saddle point to high precision: by root finding when
// there is one constraint (exact to the last bits), by the projected
// extragradient method otherwise.
func (p *Problem) Solve() (*Saddle, error) {
	if len(p.Cons) == 1 {
		return p.SolveRoot(), nil
	}
	return p.SolveExtragradient(1e-13, 5_000_000)
}

// clip returns x projected onto [lo, hi] (lo <= hi; NaN stays NaN).
func clip(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// SolveRoot solves a problem with one constraint by nested bisection.
//
// For fixed lambda, the minimizer over the boxes is, coordinate by
// coordinate (every coordinate alike, since mu_i and C_i are),
//
//	theta_c(s) = clip((mu_c - q) / (1 + alpha), lo_c, hi_c),
//	q = 2 lambda s / n (norm) or lambda / n (sum),
//
// where s = thetabar's coordinate solves s = sum_c Count_c theta_c(s) / n:
// the right side does not increase in s, so the root is unique (bisection;
// for sum it is explicit). The dual derivative
// psi(lambda) = g(thetabar(lambda)) - beta lambda decreases in lambda (the
// regularized dual is beta-strongly concave), so lambda* = 0 if
// psi(0) <= 0, LambdaMax if psi(LambdaMax) >= 0, and the root of psi
// otherwise (bisection). Bisection runs until the interval cannot shrink.
func (p *Problem) SolveRoot() *Saddle {
	if len(p.Cons) != 1 {
		panic("asynpd: SolveRoot needs exactly one constraint")
	}
	con := p.Cons[0]
	n, d := float64(p.N), float64(p.D)
	theta := func(c Class, q float64) float64 { return clip((c.Mu-q)/(1+p.Alpha), c.Lo, c.Hi) }
	mean := func(q func(s float64) float64, s float64) float64 {
		v := 0.0
		for _, c := range p.Classes {
			v += float64(float64(c.Count) * theta(c, q(s)))
		}
		return v / n
	}
	// coord returns thetabar's coordinate for lambda.
	coord := func(lambda float64) float64 {
		if con.Kind == ConstraintSum {
			return mean(func(float64) float64 { return lambda / n }, 0)
		}
		q := func(s float64) float64 { return float64(2*lambda*s) / n }
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, c := range p.Classes {
			lo, hi = math.Min(lo, c.Lo), math.Max(hi, c.Hi)
		}
		return bisect(func(s float64) float64 { return s - mean(q, s) }, lo, hi)
	}
	g := func(s float64) float64 {
		if con.Kind == ConstraintSum {
			return float64(d*s) - con.Budget
		}
		return float64(d*float64(s*s)) - con.Budget
	}
	psi := func(lambda float64) float64 { return g(coord(lambda)) - float64(p.Beta*lambda) }
	var lambda float64
	switch {
	case psi(0) <= 0:
		lambda = 0
	case psi(p.LambdaMax) >= 0:
		lambda = p.LambdaMax
	default:
		lambda = bisect(func(l float64) float64 { return -psi(l) }, 0, p.LambdaMax)
	}
	s := coord(lambda)
	q := lambda / n
	if con.Kind == ConstraintNorm {
		q = float64(2*lambda*s) / n
	}
	out := &Saddle{Lambda: []float64{lambda}, Method: "root"}
	for _, c := range p.Classes {
		th := make([]float64, p.D)
		for k := range th {
			th[k] = theta(c, q)
		}
		out.Theta = append(out.Theta, th)
	}
	return out
}

// bisect returns the root of f, nondecreasing on [lo, hi] with
// f(lo) <= 0 <= f(hi) (else the nearer end), to the last bit.
func bisect(f func(float64) float64, lo, hi float64) float64 {
	if f(lo) >= 0 {
		return lo
	}
	if f(hi) <= 0 {
		return hi
	}
	for range 2200 {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if f(mid) < 0 {
			lo = mid
		} else {
			hi = mid
		}
	}
	if -f(lo) < f(hi) {
		return lo
	}
	return hi
}

// point is (theta_c for every class, lambda), flattened.
type point []float64

// field writes the saddle-point operator F = (grad_theta_i L for a worker
// of each class, -grad_lambda L) at z to out, with expected gradients:
//
//	F_c      = (1 + alpha) theta_c - mu_c 1 + h(thetabar, lambda) / n
//	F_lambda = -(G(thetabar) - beta lambda)
func (p *Problem) field(z, out point, s, h []float64) {
	d, nc := p.D, len(p.Classes)
	lambda := z[nc*d:]
	clear(s)
	for c, cl := range p.Classes {
		for k := range s {
			s[k] += float64(float64(cl.Count) * z[c*d+k])
		}
	}
	for k := range s {
		s[k] /= float64(p.N)
	}
	p.Dual(s, lambda, h)
	for c, cl := range p.Classes {
		for k := range d {
			out[c*d+k] = float64((1+p.Alpha)*z[c*d+k]) - cl.Mu + h[k]/float64(p.N)
		}
	}
	p.G(s, out[nc*d:])
	for j := range lambda {
		out[nc*d+j] = float64(p.Beta*lambda[j]) - out[nc*d+j]
	}
}

// project maps z onto the boxes and [0, LambdaMax]^m.
func (p *Problem) project(z point) {
	d := p.D
	for c, cl := range p.Classes {
		for k := range d {
			z[c*d+k] = clip(z[c*d+k], cl.Lo, cl.Hi)
		}
	}
	for j := len(p.Classes) * d; j < len(z); j++ {
		z[j] = clip(z[j], 0, p.LambdaMax)
	}
}

// residual returns the natural residual max |z - Proj(z - F(z))|: zero
// exactly at the saddle point (the KKT conditions of both players).
func (p *Problem) residual(z, f point) float64 {
	y := make(point, len(z))
	for i := range y {
		y[i] = z[i] - f[i]
	}
	p.project(y)
	r := 0.0
	for i := range y {
		r = math.Max(r, math.Abs(z[i]-y[i]))
	}
	return r
}

// SolveExtragradient solves any instance (any number of constraints) by
// the projected extragradient method (Korpelevich) on F, in the metric
// that weights class c by its size (so the step of theta_c is the step of
// each of its workers, and F is monotone: L is strongly convex-concave).
// The step halves whenever eta ||F(w) - F(z)|| > 0.9 ||w - z|| and grows by
// 2% after each accepted step. It stops when the natural residual is at
// most tol.
func (p *Problem) SolveExtragradient(tol float64, maxIter int) (*Saddle, error) {
	d, nc, m := p.D, len(p.Classes), len(p.Cons)
	size := nc*d + m
	z, w, fz, fw := make(point, size), make(point, size), make(point, size), make(point, size)
	s, h := make([]float64, d), make([]float64, d)
	for c, cl := range p.Classes {
		for k := range d {
			z[c*d+k] = cl.Mu / (1 + p.Alpha)
		}
	}
	p.project(z)
	weight := func(i int) float64 {
		if i < nc*d {
			return float64(p.Classes[i/d].Count)
		}
		return 1
	}
	dist := func(a, b point) float64 {
		v := 0.0
		for i := range a {
			e := a[i] - b[i]
			v += float64(weight(i) * float64(e*e))
		}
		return math.Sqrt(v)
	}
	eta := 0.5
	for it := range maxIter {
		p.field(z, fz, s, h)
		if it%16 == 0 && p.residual(z, fz) <= tol {
			return p.saddleOf(z, "extragradient"), nil
		}
		for {
			for i := range w {
				w[i] = z[i] - eta*fz[i]
			}
			p.project(w)
			p.field(w, fw, s, h)
			if eta*dist(fw, fz) <= 0.9*dist(w, z) {
				break
			}
			eta /= 2
			if eta < 1e-300 {
				return nil, errors.New("asynpd: extragradient step underflow")
			}
		}
		for i := range z {
			z[i] -= eta * fw[i]
		}
		p.project(z)
		eta *= 1.02
	}
	p.field(z, fz, s, h)
	return nil, fmt.Errorf("asynpd: the extragradient solver did not reach a residual of %g in %d iterations (residual %g)", tol, maxIter, p.residual(z, fz))
}

func (p *Problem) saddleOf(z point, method string) *Saddle {
	d, nc := p.D, len(p.Classes)
	out := &Saddle{Lambda: append([]float64(nil), z[nc*d:]...), Method: method}
	for c := range nc {
		out.Theta = append(out.Theta, append([]float64(nil), z[c*d:(c+1)*d]...))
	}
	return out
}

// KKT returns the natural residual of the saddle point s: the largest
// |theta_i - Proj_Ci(theta_i - grad_theta_i L)| over workers and coordinates
// and |lambda_j - Proj(lambda_j + grad_lambda_j L)| over constraints, with
// expected gradients. It is zero exactly at the saddle point.
func (p *Problem) KKT(s *Saddle) float64 {
	d, nc := p.D, len(p.Classes)
	z := make(point, nc*d+len(p.Cons))
	for c := range nc {
		copy(z[c*d:], s.Theta[c])
	}
	copy(z[nc*d:], s.Lambda)
	f := make(point, len(z))
	p.field(z, f, make([]float64, d), make([]float64, d))
	return p.residual(z, f)
}

// MinG returns the smallest value of g_j over thetabar in the average of
// the boxes, for the feasibility check: per coordinate thetabar ranges over
// [sum_c Count_c Lo_c / n, sum_c Count_c Hi_c / n].
func (p *Problem) MinG(j int) float64 {
	lo, hi := 0.0, 0.0
	for _, c := range p.Classes {
		lo += float64(c.Count) * c.Lo / float64(p.N)
		hi += float64(c.Count) * c.Hi / float64(p.N)
	}
	con := p.Cons[j]
	if con.Kind == ConstraintSum {
		return float64(p.D)*lo - con.Budget
	}
	x := clip(0, lo, hi)
	return float64(p.D)*x*x - con.Budget
}
