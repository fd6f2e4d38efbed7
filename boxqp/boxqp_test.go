package boxqp

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

var inf = math.Inf(1)

// objective returns 0.5 x'Qx - c'x.
func objective(Q, c, x []float64) float64 {
	d := len(c)
	f := 0.0
	for i := range d {
		s := 0.0
		for j := range d {
			s += Q[i*d+j] * x[j]
		}
		f += x[i] * (0.5*s - c[i])
	}
	return f
}

// maxDiff returns max_k |a[k] - b[k]|.
func maxDiff(a, b []float64) float64 {
	m := 0.0
	for k := range a {
		m = max(m, math.Abs(a[k]-b[k]))
	}
	return m
}

// maxAbs returns max_k |a[k]|.
func maxAbs(a []float64) float64 {
	m := 0.0
	for _, v := range a {
		m = max(m, math.Abs(v))
	}
	return m
}

// randSPD returns Q = AᵀA/d + shift·I with A standard normal; it is exactly
// symmetric because (AᵀA)_ij and (AᵀA)_ji are summed in the same order.
func randSPD(r *rand.Rand, d int, shift float64) []float64 {
	A := make([]float64, d*d)
	for i := range A {
		A[i] = r.NormFloat64()
	}
	Q := make([]float64, d*d)
	for i := range d {
		for j := range d {
			s := 0.0
			for k := range d {
				s += A[k*d+i] * A[k*d+j]
			}
			Q[i*d+j] = s / float64(d)
		}
		Q[i*d+i] += shift
	}
	return Q
}

// randBox returns random bounds: mostly finite boxes (not always containing
// 0), some one-sided, some unbounded and, if withFixed, some fixed
// coordinates.
func randBox(r *rand.Rand, d int, withFixed bool) (lo, hi []float64) {
	lo, hi = make([]float64, d), make([]float64, d)
	for k := range d {
		a := -1.5 + 2*r.Float64()
		w := 0.2 + 1.8*r.Float64()
		switch u := r.Float64(); {
		case u < 0.55:
			lo[k], hi[k] = a, a+w
		case u < 0.67:
			lo[k], hi[k] = a, inf
		case u < 0.79:
			lo[k], hi[k] = -inf, a
		case u < 0.88 || !withFixed:
			lo[k], hi[k] = -inf, inf
		default:
			lo[k], hi[k] = a, a
		}
	}
	return lo, hi
}

// randVec returns a normal vector with standard deviation sigma.
func randVec(r *rand.Rand, d int, sigma float64) []float64 {
	v := make([]float64, d)
	for k := range v {
		v[k] = sigma * r.NormFloat64()
	}
	return v
}

// bruteForce minimises over all 3^d active-set patterns (each coordinate at
// lo, at hi or free): it solves the reduced system of each pattern with an
// LU factorisation (gonum), keeps the feasible candidates satisfying the KKT
// sign conditions and returns the one with the lowest objective.
func bruteForce(t *testing.T, Q, c, lo, hi []float64) []float64 {
	t.Helper()
	d := len(c)
	const tol = 1e-9
	pattern := make([]int, d) // 0 = at lo, 1 = at hi, 2 = free
	var best []float64
	bestF := inf
	for {
		x := make([]float64, d)
		ok := true
		var freeIdx []int
		for k, p := range pattern {
			switch p {
			case 0:
				x[k] = lo[k]
			case 1:
				x[k] = hi[k]
			default:
				freeIdx = append(freeIdx, k)
			}
			if math.IsInf(x[k], 0) {
				ok = false
			}
		}
		if ok && len(freeIdx) > 0 {
			n := len(freeIdx)
			A := mat.NewDense(n, n, nil)
			b := mat.NewVecDense(n, nil)
			for i, k := range freeIdx {
				s := c[k]
				for j := range d {
					if pattern[j] != 2 {
						s -= Q[k*d+j] * x[j]
					}
				}
				b.SetVec(i, s)
				for j, m := range freeIdx {
					A.Set(i, j, Q[k*d+m])
				}
			}
			var y mat.VecDense
			// A mat.Condition error only warns about a large condition
			// number (e.g. of a badly scaled diagonal); y is still computed.
			var cond mat.Condition
			if err := y.SolveVec(A, b); err != nil && !errors.As(err, &cond) {
				t.Fatalf("brute force: reduced solve: %v", err)
			}
			for i, k := range freeIdx {
				x[k] = y.AtVec(i)
				s := tol * (1 + math.Abs(x[k]))
				if x[k] < lo[k]-s || x[k] > hi[k]+s {
					ok = false
				}
			}
		}
		if ok {
			for k := range d {
				if pattern[k] == 2 || lo[k] == hi[k] {
					continue
				}
				g := -c[k]
				for j := range d {
					g += Q[k*d+j] * x[j]
				}
				if (pattern[k] == 0 && g < -tol) || (pattern[k] == 1 && g > tol) {
					ok = false
				}
			}
		}
		if ok {
			if f := objective(Q, c, x); f < bestF {
				best, bestF = x, f
			}
		}
		// Next pattern.
		k := 0
		for k < d && pattern[k] == 2 {
			pattern[k] = 0
			k++
		}
		if k == d {
			break
		}
		pattern[k]++
	}
	if best == nil {
		t.Fatal("brute force: no KKT point among the 3^d patterns")
	}
	return best
}

// checkSolution fails unless Solve returned a feasible x matching want to
// 1e-10 (relative to 1 + max|want|), with KKT(x) < 1e-10.
func checkSolution(t *testing.T, Q, c, lo, hi, x, want []float64) {
	t.Helper()
	if len(x) != len(c) {
		t.Fatalf("len(x) = %d, want %d", len(x), len(c))
	}
	for k := range x {
		if !(x[k] >= lo[k] && x[k] <= hi[k]) {
			t.Errorf("x[%d] = %v outside [%v, %v]", k, x[k], lo[k], hi[k])
		}
	}
	if diff := maxDiff(x, want); !(diff <= 1e-10*(1+maxAbs(want))) {
		t.Errorf("x = %v, want %v (max diff %.3g)", x, want, diff)
	}
	if v := KKT(Q, c, lo, hi, x); !(v < 1e-10) {
		t.Errorf("KKT(x) = %.3g, want < 1e-10", v)
	}
}

func TestSolveClosedForm(t *testing.T) {
	tests := []struct {
		name   string
		Q, c   []float64
		lo, hi []float64
		want   []float64
	}{
		{
			name: "diagonal mixed bounds",
			Q:    []float64{2, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0.5},
			c:    []float64{4, -8, 0.5, 3},
			lo:   []float64{0, -1, -inf, 7},
			hi:   []float64{1, inf, 1, 9},
			// c/Q_kk = (2, -2, 0.5, 6) clipped.
			want: []float64{1, -1, 0.5, 7},
		},
		{
			name: "interior optimum",
			Q:    []float64{4, 1, 1, 3},
			c:    []float64{1, 2},
			lo:   []float64{-10, -10},
			hi:   []float64{10, 10},
			want: []float64{1.0 / 11, 7.0 / 11},
		},
		{
			name: "interior optimum unbounded",
			Q:    []float64{4, 1, 1, 3},
			c:    []float64{1, 2},
			lo:   []float64{-inf, -inf},
			hi:   []float64{inf, inf},
			want: []float64{1.0 / 11, 7.0 / 11},
		},
		{name: "1-d interior", Q: []float64{2}, c: []float64{4}, lo: []float64{0}, hi: []float64{5}, want: []float64{2}},
		{name: "1-d upper", Q: []float64{2}, c: []float64{4}, lo: []float64{0}, hi: []float64{1}, want: []float64{1}},
		{name: "1-d lower", Q: []float64{2}, c: []float64{4}, lo: []float64{3}, hi: []float64{5}, want: []float64{3}},
		{name: "1-d unbounded", Q: []float64{2}, c: []float64{-4}, lo: []float64{-inf}, hi: []float64{inf}, want: []float64{-2}},
		{name: "1-d lower only", Q: []float64{2}, c: []float64{-4}, lo: []float64{-1}, hi: []float64{inf}, want: []float64{-1}},
		{name: "1-d upper only", Q: []float64{2}, c: []float64{4}, lo: []float64{-inf}, hi: []float64{1.5}, want: []float64{1.5}},
		{name: "1-d fixed", Q: []float64{2}, c: []float64{4}, lo: []float64{-3}, hi: []float64{-3}, want: []float64{-3}},
		{name: "1-d optimum on bound", Q: []float64{2}, c: []float64{4}, lo: []float64{2}, hi: []float64{3}, want: []float64{2}},
		{
			// x0 fixed at 3: 2 x1 + 3 - 1 = 0.
			name: "fixed coordinate couples",
			Q:    []float64{2, 1, 1, 2},
			c:    []float64{1, 1},
			lo:   []float64{3, -5},
			hi:   []float64{3, 5},
			want: []float64{3, -1},
		},
		{
			name: "all fixed",
			Q:    []float64{2, 1, 1, 2},
			c:    []float64{1, 1},
			lo:   []float64{3, -4},
			hi:   []float64{3, -4},
			want: []float64{3, -4},
		},
		{
			// Unconstrained (1/3, 1/3); x0 >= 0.5 binds, x1 = (1 - 0.5)/2.
			name: "one-sided infinite bounds",
			Q:    []float64{2, 1, 1, 2},
			c:    []float64{1, 1},
			lo:   []float64{0.5, -inf},
			hi:   []float64{inf, inf},
			want: []float64{0.5, 0.25},
		},
		{
			// Projection of Q⁻¹c = (-4.74, 5.26) onto x >= 0 is (0, 5.26), but
			// the optimum is (0, 1): the free coordinate must move.
			name: "projection not optimal",
			Q:    []float64{1, 0.9, 0.9, 1},
			c:    []float64{0, 1},
			lo:   []float64{0, 0},
			hi:   []float64{inf, inf},
			want: []float64{0, 1},
		},
		{
			// Projection of Q⁻¹c = (5.26, -4.74) is (2, -1) with x0 at its
			// upper bound, but the optimum (1.9, -1) has x0 free: the bound
			// must be released.
			name: "release needed",
			Q:    []float64{1, 0.9, 0.9, 1},
			c:    []float64{1, 0},
			lo:   []float64{-10, -1},
			hi:   []float64{2, 10},
			want: []float64{1.9, -1},
		},
		{
			// Degenerate: both coordinates at a bound with zero gradient.
			name: "degenerate zero multipliers",
			Q:    []float64{1, 0, 0, 1},
			c:    []float64{1, 0},
			lo:   []float64{0, 0},
			hi:   []float64{1, 1},
			want: []float64{1, 0},
		},
		{
			name: "badly scaled diagonal",
			Q:    []float64{1e12, 0, 0, 1e-6},
			c:    []float64{3e12, -2e-6},
			lo:   []float64{-inf, -1},
			hi:   []float64{2, inf},
			want: []float64{2, -1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := [][]float64{slices.Clone(tc.Q), slices.Clone(tc.c), slices.Clone(tc.lo), slices.Clone(tc.hi)}
			x, err := Solve(tc.Q, tc.c, tc.lo, tc.hi)
			if err != nil {
				t.Fatalf("Solve: %v", err)
			}
			for i, v := range [][]float64{tc.Q, tc.c, tc.lo, tc.hi} {
				if !slices.Equal(v, in[i]) {
					t.Errorf("Solve modified input %d: %v, was %v", i, v, in[i])
				}
			}
			checkSolution(t, tc.Q, tc.c, tc.lo, tc.hi, x, tc.want)
			if b := bruteForce(t, tc.Q, tc.c, tc.lo, tc.hi); maxDiff(b, tc.want) > 1e-10*(1+maxAbs(tc.want)) {
				t.Errorf("brute force = %v, want %v", b, tc.want)
			}
		})
	}
}

// TestSolveRandomDiagonal: for diagonal Q the solution is clip(c_k/Q_kk).
func TestSolveRandomDiagonal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		d := 1 + r.IntN(30)
		Q := make([]float64, d*d)
		want := make([]float64, d)
		c := randVec(r, d, 2)
		lo, hi := randBox(r, d, true)
		for k := range d {
			Q[k*d+k] = math.Exp(3 * r.NormFloat64())
			want[k] = clamp(c[k]/Q[k*d+k], lo[k], hi[k])
		}
		x, err := Solve(Q, c, lo, hi)
		if err != nil {
			t.Fatalf("trial %d: Solve: %v", trial, err)
		}
		checkSolution(t, Q, c, lo, hi, x, want)
	}
}

// TestSolveInteriorRandom: if the box contains Q⁻¹c, Solve returns it.
func TestSolveInteriorRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{1, 2, 5, 20, 100} {
		Q := randSPD(r, d, 0.1)
		c := randVec(r, d, 1)
		var u mat.VecDense
		if err := u.SolveVec(mat.NewDense(d, d, Q), mat.NewVecDense(d, c)); err != nil {
			t.Fatal(err)
		}
		want := u.RawVector().Data
		lo, hi := make([]float64, d), make([]float64, d)
		for k := range d {
			lo[k], hi[k] = want[k]-0.5-r.Float64(), want[k]+0.5+r.Float64()
			if k%3 == 1 {
				lo[k] = -inf
			}
		}
		x, err := Solve(Q, c, lo, hi)
		if err != nil {
			t.Fatalf("d=%d: Solve: %v", d, err)
		}
		checkSolution(t, Q, c, lo, hi, x, want)
	}
}

// TestSolveBruteForce compares Solve with the enumeration of all 3^d
// active-set patterns on random problems with d = 1..6.
func TestSolveBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for d := 1; d <= 6; d++ {
		for trial := range 60 {
			shift := []float64{1, 0.1, 0.01}[trial%3]
			Q := randSPD(r, d, shift)
			c := randVec(r, d, 2)
			lo, hi := randBox(r, d, true)
			t.Run(fmt.Sprintf("d=%d/%d", d, trial), func(t *testing.T) {
				x, err := Solve(Q, c, lo, hi)
				if err != nil {
					t.Fatalf("Solve: %v", err)
				}
				want := bruteForce(t, Q, c, lo, hi)
				checkSolution(t, Q, c, lo, hi, x, want)
				if f, fb := objective(Q, c, x), objective(Q, c, want); f > fb+1e-12*(1+math.Abs(fb)) {
					t.Errorf("f(x) = %.17g > brute force %.17g", f, fb)
				}
			})
		}
	}
}

// randFeasible returns a random point of the box: uniform in finite boxes,
// within 5 of the finite bound for one-sided ones and in [-5, 5] otherwise.
func randFeasible(r *rand.Rand, lo, hi []float64) []float64 {
	y := make([]float64, len(lo))
	for k := range y {
		a, b := lo[k], hi[k]
		switch {
		case math.IsInf(a, -1) && math.IsInf(b, 1):
			a, b = -5, 5
		case math.IsInf(a, -1):
			a = b - 5
		case math.IsInf(b, 1):
			b = a + 5
		}
		y[k] = a + (b-a)*r.Float64()
	}
	return y
}

// TestSolveLarge checks random problems with d = 20, 50, 100: KKT < 1e-10
// and an objective no larger than at 10,000 random feasible points (half
// spread over the box, half small perturbations of x projected onto the box)
// and than at the projected unconstrained minimiser.
func TestSolveLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, d := range []int{20, 50, 100} {
		for trial := range 3 {
			shift := []float64{1, 0.1, 0.001}[trial]
			Q := randSPD(r, d, shift)
			c := randVec(r, d, 2)
			lo, hi := randBox(r, d, trial == 1)
			t.Run(fmt.Sprintf("d=%d/shift=%g", d, shift), func(t *testing.T) {
				x, err := Solve(Q, c, lo, hi)
				if err != nil {
					t.Fatalf("Solve: %v", err)
				}
				if v := KKT(Q, c, lo, hi, x); !(v < 1e-10) {
					t.Errorf("KKT(x) = %.3g, want < 1e-10", v)
				}
				nActive := 0
				for k := range x {
					if !(x[k] >= lo[k] && x[k] <= hi[k]) {
						t.Fatalf("x[%d] = %v outside [%v, %v]", k, x[k], lo[k], hi[k])
					}
					if x[k] == lo[k] || x[k] == hi[k] {
						nActive++
					}
				}
				if nActive == 0 || nActive == d {
					t.Errorf("%d of %d coordinates at a bound: test problem not informative", nActive, d)
				}
				f := objective(Q, c, x)
				tol := 1e-12 * (1 + math.Abs(f))

				var u mat.VecDense
				if err := u.SolveVec(mat.NewDense(d, d, Q), mat.NewVecDense(d, c)); err != nil {
					t.Fatal(err)
				}
				p := u.RawVector().Data
				for k := range p {
					p[k] = clamp(p[k], lo[k], hi[k])
				}
				if fp := objective(Q, c, p); f > fp+tol {
					t.Errorf("f(x) = %.17g > f(projected unconstrained minimiser) = %.17g", f, fp)
				}
				for i := range 10000 {
					var y []float64
					if i%2 == 0 {
						y = randFeasible(r, lo, hi)
					} else {
						step := math.Pow(10, -1-3*r.Float64())
						y = make([]float64, d)
						for k := range y {
							y[k] = clamp(x[k]+step*r.NormFloat64(), lo[k], hi[k])
						}
					}
					if fy := objective(Q, c, y); f > fy+tol {
						t.Fatalf("f(x) = %.17g > f(y) = %.17g at random feasible point %d", f, fy, i)
					}
				}
			})
		}
	}
}

// TestSolveDegenerate builds problems with a known, degenerate optimum:
// it solves a random problem, then shifts c so that about half of the
// active coordinates get a zero multiplier, and moves bounds of about half
// of the free coordinates exactly onto the optimum. The optimum is unchanged
// (and unique), but strict complementarity fails, which is where active-set
// methods can cycle.
func TestSolveDegenerate(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, d := range []int{2, 3, 5, 10, 30, 60} {
		for trial := range 12 {
			Q := randSPD(r, d, []float64{0.1, 1e-3, 1e-5}[trial%3])
			c := randVec(r, d, 2)
			lo, hi := randBox(r, d, trial%2 == 0)
			x0, err := Solve(Q, c, lo, hi)
			if err != nil {
				t.Fatalf("d=%d/%d: Solve: %v", d, trial, err)
			}
			for k := range d {
				if r.IntN(2) == 0 {
					continue
				}
				switch {
				case lo[k] == hi[k]:
				case x0[k] == lo[k] || x0[k] == hi[k]:
					// Zero multiplier: c[k] += g[k] makes g[k] = 0 at x0.
					g := -c[k]
					for j := range d {
						g += Q[k*d+j] * x0[j]
					}
					c[k] += g
				case r.IntN(2) == 0:
					lo[k] = x0[k]
				default:
					hi[k] = x0[k]
				}
			}
			t.Run(fmt.Sprintf("d=%d/%d", d, trial), func(t *testing.T) {
				x, err := Solve(Q, c, lo, hi)
				if err != nil {
					t.Fatalf("Solve: %v", err)
				}
				checkSolution(t, Q, c, lo, hi, x, x0)
				if d <= 5 {
					checkSolution(t, Q, c, lo, hi, x, bruteForce(t, Q, c, lo, hi))
				}
			})
		}
	}
}

func TestSolveErrors(t *testing.T) {
	nan := math.NaN()
	spd := []float64{2, 1, 1, 2}
	tests := []struct {
		name   string
		Q, c   []float64
		lo, hi []float64
		kind   Error
		msg    []string // substrings the message must contain
	}{
		{"empty problem", nil, nil, nil, nil, ErrDimension, []string{"dimension mismatch", "len(c) = 0"}},
		{"Q length", []float64{1, 0, 0}, []float64{1, 1}, []float64{0, 0}, []float64{1, 1}, ErrDimension, []string{"len(Q) = 3", "want d*d = 4"}},
		{"lo length", spd, []float64{1, 1}, []float64{0}, []float64{1, 1}, ErrDimension, []string{"len(lo) = 1", "d = len(c) = 2"}},
		{"hi length", spd, []float64{1, 1}, []float64{0, 0}, []float64{1, 1, 1}, ErrDimension, []string{"len(hi) = 3", "d = len(c) = 2"}},
		{"NaN in Q", []float64{2, 1, nan, 2}, []float64{1, 1}, []float64{0, 0}, []float64{1, 1}, ErrNotFinite, []string{"non-finite", "Q[1][0] = NaN"}},
		{"Inf in Q", []float64{2, 1, 1, inf}, []float64{1, 1}, []float64{0, 0}, []float64{1, 1}, ErrNotFinite, []string{"non-finite", "Q[1][1] = +Inf"}},
		{"NaN in c", spd, []float64{1, nan}, []float64{0, 0}, []float64{1, 1}, ErrNotFinite, []string{"non-finite", "c[1] = NaN"}},
		{"Inf in c", spd, []float64{-inf, 1}, []float64{0, 0}, []float64{1, 1}, ErrNotFinite, []string{"non-finite", "c[0] = -Inf"}},
		{"NaN lo", spd, []float64{1, 1}, []float64{0, nan}, []float64{1, 1}, ErrNaNBound, []string{"NaN bound", "lo[1] = NaN"}},
		{"NaN hi", spd, []float64{1, 1}, []float64{0, 0}, []float64{nan, 1}, ErrNaNBound, []string{"NaN bound", "hi[0] = NaN"}},
		{"lo > hi", spd, []float64{1, 1}, []float64{0, 2}, []float64{1, 1}, ErrEmptyBox, []string{"empty box: lo[1] = 2 > hi[1] = 1"}},
		{"lo = +Inf", spd, []float64{1, 1}, []float64{inf, 0}, []float64{inf, 1}, ErrEmptyBox, []string{"empty box", "lo[0] = +Inf"}},
		{"hi = -Inf", spd, []float64{1, 1}, []float64{0, -inf}, []float64{1, -inf}, ErrEmptyBox, []string{"empty box", "hi[1] = -Inf"}},
		{"not symmetric", []float64{2, 1, 0, 1.5, 2, 0, 0, 0, 1}, []float64{1, 1, 1}, []float64{0, 0, 0}, []float64{1, 1, 1}, ErrNotSymmetric,
			[]string{"not symmetric", "Q[0][1] = 1 but Q[1][0] = 1.5"}},
		{"slightly not symmetric", []float64{2, 1, 1 + 1e-8, 2}, []float64{1, 1}, []float64{0, 0}, []float64{1, 1}, ErrNotSymmetric,
			[]string{"not symmetric", "Q[0][1]"}},
		{"indefinite", []float64{1, 2, 2, 1}, []float64{1, 1}, []float64{0, 0}, []float64{1, 1}, ErrNotPositiveDefinite,
			[]string{"not positive definite", "coordinate 1"}},
		{"singular", []float64{1, 1, 1, 1}, []float64{1, 1}, []float64{0, 0}, []float64{1, 1}, ErrNotPositiveDefinite,
			[]string{"not positive definite", "coordinate 1"}},
		{"nearly singular", []float64{1, 1, 0, 1, 1 + 1e-17, 0, 0, 0, 1}, []float64{1, 1, 1}, []float64{0, 0, 0}, []float64{1, 1, 1}, ErrNotPositiveDefinite,
			[]string{"not positive definite", "coordinate 1"}},
		{"zero diagonal", []float64{1, 0, 0, 0}, []float64{1, 1}, []float64{0, 0}, []float64{1, 1}, ErrNotPositiveDefinite,
			[]string{"not positive definite", "Q[1][1] = 0 <= 0"}},
		{"negative definite", []float64{-1}, []float64{1}, []float64{0}, []float64{1}, ErrNotPositiveDefinite,
			[]string{"not positive definite", "Q[0][0] = -1 <= 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := Solve(tc.Q, tc.c, tc.lo, tc.hi)
			if err == nil {
				t.Fatalf("Solve = %v, nil; want %q error", x, tc.kind)
			}
			if x != nil {
				t.Errorf("Solve returned x = %v with error", x)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %q", err, tc.kind)
			}
			if !strings.HasPrefix(err.Error(), "boxqp: "+string(tc.kind)+": ") {
				t.Errorf("error %q does not start with %q", err, "boxqp: "+string(tc.kind)+": ")
			}
			for _, s := range tc.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// TestIterationLimit: the "release needed" problem needs a release, so one
// iteration is not enough and solve must report ErrIterationLimit.
func TestIterationLimit(t *testing.T) {
	Q, c := []float64{1, 0.9, 0.9, 1}, []float64{1, 0}
	lo, hi := []float64{-10, -1}, []float64{2, 10}
	_, err := solve(Q, c, lo, hi, 1)
	if !errors.Is(err, ErrIterationLimit) {
		t.Fatalf("solve with 1 iteration: err = %v, want %q", err, ErrIterationLimit)
	}
	if !strings.Contains(err.Error(), "boxqp: iteration limit exceeded: no optimum after 1 active-set iterations (d = 2)") {
		t.Errorf("error %q does not name the problem", err)
	}
	x, err := solve(Q, c, lo, hi, 3)
	if err != nil {
		t.Fatalf("solve with 3 iterations: %v", err)
	}
	checkSolution(t, Q, c, lo, hi, x, []float64{1.9, -1})
}

// TestKKT checks that KKT detects each kind of violation and scales it as
// documented.
func TestKKT(t *testing.T) {
	Q := []float64{2, 0, 0, 4}
	c := []float64{2, 4}
	lo := []float64{0, -inf}
	hi := []float64{3, 0.5}
	// Optimum: x0 = 1 (interior), x1 = min(1, 0.5) = 0.5 at the upper bound
	// with g1 = 2 - 4 = -2 <= 0.
	opt := []float64{1, 0.5}
	tests := []struct {
		name   string
		Q, c   []float64
		lo, hi []float64
		x      []float64
		want   float64
	}{
		{"optimum", Q, c, lo, hi, opt, 0},
		// g0 = 2*1.5 - 2 = 1 interior; scale 1 + 4 + max(3, 2).
		{"interior gradient", Q, c, lo, hi, []float64{1.5, 0.5}, 1.0 / 8},
		// x1 = 0.25 interior with g1 = 1 - 4 = -3; scale 1 + 4 + max(2, 1).
		{"interior gradient negative", Q, c, lo, hi, []float64{1, 0.25}, 3.0 / 7},
		// x0 = 0 at lower bound with g0 = -2 < 0; scale 1 + 4 + 2.
		{"wrong sign at lower bound", Q, c, lo, hi, []float64{0, 0.5}, 2.0 / 7},
		// x0 = 3 at upper bound with g0 = 4 > 0; scale 1 + 4 + 6.
		{"wrong sign at upper bound", Q, c, lo, hi, []float64{3, 0.5}, 4.0 / 11},
		// x1 = 1 > hi: infeasibility 0.5 / (1 + 1); gradient g1 = 0 at "upper".
		{"infeasible", Q, c, lo, hi, []float64{1, 1}, 0.25},
		// Fixed coordinate: any gradient sign is fine.
		{"fixed coordinate", Q, c, []float64{0, 2}, []float64{3, 2}, []float64{1, 2}, 0},
		{"NaN x", Q, c, lo, hi, []float64{math.NaN(), 0}, inf},
		{"NaN bound", Q, c, []float64{math.NaN(), 0}, hi, opt, inf},
		{"Inf x", Q, c, lo, hi, []float64{inf, 0}, inf},
		{"length mismatch", Q, c, lo, hi, []float64{1}, inf},
		{"empty", nil, nil, nil, nil, nil, inf},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := KKT(tc.Q, tc.c, tc.lo, tc.hi, tc.x); !(got == tc.want || math.Abs(got-tc.want) <= 1e-15) {
				t.Errorf("KKT = %v, want %v", got, tc.want)
			}
		})
	}
	// Solve's answer is a zero of KKT, and perturbing it is detected.
	x, err := Solve(Q, c, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	if v := KKT(Q, c, lo, hi, x); !(v < 1e-15) {
		t.Errorf("KKT(Solve) = %v, want < 1e-15", v)
	}
	x[0] += 1e-6
	if v := KKT(Q, c, lo, hi, x); !(v > 1e-7) {
		t.Errorf("KKT(perturbed) = %v, want > 1e-7", v)
	}
}

func BenchmarkSolve(b *testing.B) {
	for _, d := range []int{10, 100} {
		r := rand.New(rand.NewPCG(9, uint64(d)))
		Q := randSPD(r, d, 0.1)
		c := randVec(r, d, 2)
		lo, hi := randBox(r, d, true)
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			for b.Loop() {
				if _, err := Solve(Q, c, lo, hi); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
