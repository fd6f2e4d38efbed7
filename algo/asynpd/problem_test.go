package asynpd

import (
	"math"
	"testing"
)

// config resolves the defaults (the paper003 instance) with overrides.
func config(t testing.TB, set ...string) *Config {
	t.Helper()
	v, err := Schema().Resolve(nil, set)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := NewConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// stackedKKT is the natural residual of (theta*, lambda*) computed from the
// definitions, worker by worker: theta_i - Proj_Ci(theta_i - grad_i L) and
// lambda - Proj(lambda + grad_lambda L), with
// grad_i L = (theta_i - mu_i) + alpha theta_i + (1/n) grad G(thetabar)^T lambda.
func stackedKKT(p *Problem, s *Saddle) float64 {
	n, d := p.N, p.D
	theta := make([][]float64, n)
	bar := make([]float64, d)
	for i := range n {
		theta[i] = p.ThetaStar(s, i)
		for k := range d {
			bar[k] += theta[i][k] / float64(n)
		}
	}
	r := 0.0
	for i := range n {
		c := p.Classes[p.ClassOf(i)]
		for k := range d {
			g := theta[i][k] - c.Mu + p.Alpha*theta[i][k]
			for j, con := range p.Cons {
				if con.Kind == ConstraintNorm {
					g += 2 * bar[k] * s.Lambda[j] / float64(n)
				} else {
					g += s.Lambda[j] / float64(n)
				}
			}
			r = math.Max(r, math.Abs(theta[i][k]-clip(theta[i][k]-g, c.Lo, c.Hi)))
		}
	}
	for j, con := range p.Cons {
		g := -con.Budget
		for k := range d {
			if con.Kind == ConstraintNorm {
				g += bar[k] * bar[k]
			} else {
				g += bar[k]
			}
		}
		l := s.Lambda[j]
		r = math.Max(r, math.Abs(l-clip(l+g-p.Beta*l, 0, p.LambdaMax)))
	}
	return r
}

// TestSaddlePaper003 checks the preset's saddle point: KKT to 1e-9, the
// constraint active with g(thetabar*) = beta lambda* (the regularized
// complementarity), identical workers identical, inside their boxes.
func TestSaddlePaper003(t *testing.T) {
	cfg := config(t)
	p := &cfg.Problem
	s, err := p.Solve()
	if err != nil {
		t.Fatal(err)
	}
	if r := stackedKKT(p, s); r > 1e-9 {
		t.Errorf("KKT residual %g, want <= 1e-9", r)
	}
	if r := p.KKT(s); r > 1e-12 {
		t.Errorf("Problem.KKT = %g", r)
	}
	l := s.Lambda[0]
	if !(l > 0 && l < p.LambdaMax) {
		t.Fatalf("lambda* = %v, want inside (0, %v): the budget 9 binds", l, p.LambdaMax)
	}
	bar := p.Mean(s)
	g := -9.0
	for _, x := range bar {
		g += x * x
	}
	if math.Abs(g-p.Beta*l) > 1e-12 {
		t.Errorf("g(thetabar*) = %v, beta lambda* = %v: want equal", g, p.Beta*l)
	}
	for c, th := range s.Theta {
		for _, x := range th {
			if x != th[0] || x <= p.Classes[c].Lo || x >= p.Classes[c].Hi {
				t.Errorf("class %d: theta* = %v, want equal coordinates inside the box", c+1, th)
			}
		}
	}
	t.Logf("lambda* = %.12g, theta*_1 = %.12g, theta*_10 = %.12g", l, s.Theta[0][0], s.Theta[1][0])
}

// TestSaddleRootVsExtragradient solves one-constraint problems both ways:
// interior, lambda* = 0 (slack budget), lambda* = lambda_max (small
// lambda_max), boxes that cut the optimum, odd n, d = 1, the linear budget.
func TestSaddleRootVsExtragradient(t *testing.T) {
	for _, set := range [][]string{
		nil,
		{"budget=100"},
		{"lambda_max=0.1"},
		{"hi1=0.5", "hi2=1"},
		{"n=7", "d=3"},
		{"d=1", "budget=1"},
		{"constraint=sum"},
		{"constraint=sum", "sum_budget=100"},
		{"constraint=sum", "sum_budget=1", "lambda_max=2"},
		{"lo=-1", "mu1=-2", "budget=1"},
	} {
		p := &config(t, set...).Problem
		root := p.SolveRoot()
		eg, err := p.SolveExtragradient(1e-13, 5_000_000)
		if err != nil {
			t.Fatalf("%v: %v", set, err)
		}
		for name, s := range map[string]*Saddle{"root": root, "extragradient": eg} {
			if r := stackedKKT(p, s); r > 1e-9 {
				t.Errorf("%v: %s: KKT residual %g", set, name, r)
			}
		}
		if math.Abs(root.Lambda[0]-eg.Lambda[0]) > 1e-9 {
			t.Errorf("%v: lambda* %v (root) vs %v (extragradient)", set, root.Lambda[0], eg.Lambda[0])
		}
		for c := range root.Theta {
			for k := range root.Theta[c] {
				if math.Abs(root.Theta[c][k]-eg.Theta[c][k]) > 1e-9 {
					t.Errorf("%v: theta*[%d][%d] %v (root) vs %v (extragradient)", set, c, k, root.Theta[c][k], eg.Theta[c][k])
				}
			}
		}
	}
}

// TestSaddleSumClosedForm: with the linear budget and an interior optimum,
// theta_c = (mu_c - lambda/n) / (1 + alpha) and d * mean - B = beta lambda
// give lambda* = (d mubar / (1 + alpha) - B) / (beta + d / (n (1 + alpha))).
func TestSaddleSumClosedForm(t *testing.T) {
	p := &config(t, "constraint=sum", "sum_budget=5").Problem
	s := p.SolveRoot()
	n, d, a := float64(p.N), float64(p.D), p.Alpha
	mubar := (5*1.0 + 5*2.0) / n
	want := (d*mubar/(1+a) - 5) / (p.Beta + d/(n*(1+a)))
	if math.Abs(s.Lambda[0]-want) > 1e-12 {
		t.Errorf("lambda* = %.15g, closed form %.15g", s.Lambda[0], want)
	}
	if got, w := s.Theta[0][0], (1-want/n)/(1+a); math.Abs(got-w) > 1e-12 {
		t.Errorf("theta*_1 = %.15g, closed form %.15g", got, w)
	}
}

// TestSaddleBothConstraints: m = 2 by extragradient; with a slack linear
// budget it is the norm-only saddle point (lambda_2 = 0); with budgets that
// meet at the same thetabar (s = 1.3 per coordinate: 5 s = 6.5, 5 s^2 = 8.45)
// both multipliers are positive.
func TestSaddleBothConstraints(t *testing.T) {
	slack := &config(t, "constraint=both", "sum_budget=100").Problem
	s, err := slack.Solve()
	if err != nil {
		t.Fatal(err)
	}
	only := config(t).Problem.SolveRoot()
	if s.Method != "extragradient" || math.Abs(s.Lambda[0]-only.Lambda[0]) > 1e-9 || s.Lambda[1] != 0 {
		t.Errorf("slack sum budget: %s lambda* = %v, want (%v, 0)", s.Method, s.Lambda, only.Lambda[0])
	}
	both := &config(t, "constraint=both", "sum_budget=6.5", "budget=8.45").Problem
	s, err = both.Solve()
	if err != nil {
		t.Fatal(err)
	}
	if r := stackedKKT(both, s); r > 1e-9 {
		t.Errorf("KKT residual %g", r)
	}
	if !(s.Lambda[0] > 0 && s.Lambda[1] > 0) {
		t.Errorf("lambda* = %v, want both constraints binding", s.Lambda)
	}
}
