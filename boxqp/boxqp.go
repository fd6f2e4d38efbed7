// Package boxqp minimises a strictly convex quadratic over a box exactly, up
// to floating-point rounding. It is meant for computing the exact optimum f*
// of small and medium test problems (dimension d from 1 to a few hundred).
//
// # Problem
//
// Given a symmetric positive definite d×d matrix Q (row-major), a vector c
// and bounds lo ≤ hi (entries may be ±Inf), Solve returns the unique
//
//	x* = argmin f(x),   f(x) = ½ xᵀQx − cᵀx,   subject to lo ≤ x ≤ hi.
//
// A coordinate with lo[k] == hi[k] is fixed at that value.
//
// # Optimality (KKT) conditions
//
// Write g = ∇f(x) = Qx − c. Because f is strictly convex and the constraints
// are bounds, x is the minimiser if and only if, for every coordinate k,
//
//	lo[k] ≤ x[k] ≤ hi[k]                        (feasibility)
//	g[k] = 0   if lo[k] < x[k] < hi[k]          (free coordinate)
//	g[k] ≥ 0   if x[k] = lo[k] < hi[k]          (at the lower bound)
//	g[k] ≤ 0   if x[k] = hi[k] > lo[k]          (at the upper bound)
//	g[k] any   if lo[k] = x[k] = hi[k]          (fixed coordinate)
//
// Equivalently, with multipliers λ[k] = g[k] at a lower bound and λ[k] = −g[k]
// at an upper bound, every multiplier must be non-negative. KKT measures how
// far a point is from satisfying these conditions.
//
// # Method
//
// Solve uses a primal active-set method. The working set W holds the
// coordinates held at a bound; the others form the free set F. Given W, the
// best point with x_W fixed solves the reduced system
//
//	Q_FF y = c_F − Q_FW x_W,
//
// which Solve solves with a Cholesky factorisation of Q_FF followed by one
// step of iterative refinement. The iteration is:
//
//  1. Start from the projection onto the box of the unconstrained minimiser
//     Q⁻¹c; W is the set of coordinates the projection clipped, plus the
//     fixed coordinates. (The factorisation of Q used here also checks that Q
//     is positive definite.) If W is empty, Q⁻¹c lies in the box and is
//     returned at once.
//  2. Solve the reduced system for y and move x_F towards y along
//     p = y − x_F with the largest step α ∈ [0, 1] that keeps x in the box.
//  3. If α < 1, the first bound hit (smallest index on ties) joins W, its
//     coordinate is set exactly to the bound, and the iteration continues at 2.
//  4. If α = 1, x_F = y is feasible and minimises f on the face W. Compute
//     the multipliers of W. If none is negative (beyond rounding level, see
//     below), x satisfies the KKT conditions and is returned. Otherwise the
//     coordinate with the most negative multiplier leaves W and the iteration
//     continues at 2.
//
// In exact arithmetic the objective never increases, and it strictly
// decreases from one face minimiser to the next unless only steps of length
// zero occur in between (degeneracy), so working sets do not repeat and the
// method terminates after finitely many iterations; Solve nevertheless stops
// with ErrIterationLimit after 1000 + 50·d iterations. The returned point is exact in the following sense: every
// coordinate in W is exactly equal to its bound, and x_F is the
// floating-point solution of the reduced system of the optimal working set.
//
// Rounding makes the multipliers of a degenerate optimum (a coordinate at a
// bound with zero gradient) come out as tiny numbers of either sign, and
// releasing such a coordinate can make the method cycle. Two safeguards
// prevent this. First, a multiplier counts as negative only if it is below
// −4(d+1)ε·e[k], where ε is the machine epsilon and e[k] is a first-order
// bound on the rounding error of g[k]: with s[j] = |c[j]| + Σ_i |Q[j][i]·x[i]|
// (the size of the terms that make up g[j]) and m = Q_FF⁻¹ Q_Fk (the
// sensitivity of g[k] to the rounding in the reduced solve),
//
//	e[k] = s[k] + Σ_{j∈F} |m[j]|·s[j].
//
// Second, if the coordinate just released would immediately move back
// outside its bound (which cannot happen for a truly negative multiplier),
// the released bound is restored and the current point is returned.
//
// The cost of one iteration is about |F|³/6 multiply-adds for a fresh
// factorisation of Q_FF (no updating), plus a solve of cost |F|² for each
// working-set coordinate whose multiplier is negative; this is fine for d up
// to a few hundred.
package boxqp

import (
	"fmt"
	"math"
	"slices"
)

// Error is the kind of a validation or convergence error returned by Solve.
// Solve wraps it with context, so test for it with errors.Is.
type Error string

// Error implements the error interface.
func (e Error) Error() string { return string(e) }

// Kinds of errors returned by Solve. The full message names the offending
// input, e.g. "boxqp: empty box: lo[1] = 2 > hi[1] = 1".
const (
	// ErrDimension: the lengths of Q, c, lo, hi do not fit together, or d = 0.
	ErrDimension Error = "dimension mismatch"
	// ErrNotFinite: an entry of Q or c is NaN or ±Inf.
	ErrNotFinite Error = "non-finite input"
	// ErrNaNBound: an entry of lo or hi is NaN.
	ErrNaNBound Error = "NaN bound"
	// ErrEmptyBox: no finite x satisfies lo ≤ x ≤ hi.
	ErrEmptyBox Error = "empty box"
	// ErrNotSymmetric: Q differs from its transpose by more than the
	// relative tolerance 1e-10 (see Solve).
	ErrNotSymmetric Error = "Q is not symmetric"
	// ErrNotPositiveDefinite: the Cholesky factorisation of Q failed.
	ErrNotPositiveDefinite Error = "Q is not positive definite"
	// ErrIterationLimit: the active-set iteration did not terminate.
	ErrIterationLimit Error = "iteration limit exceeded"
)

// symmetryTol is the relative tolerance of the symmetry check.
const symmetryTol = 1e-10

// eps is the machine epsilon of float64 (2⁻⁵²).
const eps = 0x1p-52

// Coordinate states of the active-set iteration.
const (
	stateFree  int8 = iota // in F
	stateLower             // in W, x = lo
	stateUpper             // in W, x = hi
	stateFixed             // in W, lo == hi; never released
)

// Solve returns the minimiser of 0.5 x'Qx - c'x subject to lo <= x <= hi
// (elementwise).
//
// Q is d x d, row-major, symmetric positive definite; c, lo, hi have length d.
// lo[k] == hi[k] is allowed (a fixed coordinate); lo[k] > hi[k] is an error
// ("empty box"), as are lo[k] = +Inf and hi[k] = -Inf. Infinite bounds
// (math.Inf) are allowed otherwise.
//
// Q is symmetric if |Q[i][j] - Q[j][i]| <= 1e-10 * max_kl |Q[k][l]| for all
// i, j; Solve then works with the symmetric part (Q + Qᵀ)/2, which defines the
// same objective. Q is positive definite if its Cholesky factorisation
// succeeds with every pivot (the diagonal entry of the Schur complement before
// the square root) above d·ε times the corresponding diagonal entry of Q, i.e.
// Q is rejected if it is numerically singular after diagonal scaling.
//
// The returned errors wrap one of the Error constants (test with errors.Is)
// and name the problem, e.g. "boxqp: empty box: lo[1] = 2 > hi[1] = 1".
// The inputs are not modified. See the package documentation for the method.
func Solve(Q, c, lo, hi []float64) ([]float64, error) {
	return solve(Q, c, lo, hi, maxIterations(len(c)))
}

// maxIterations is the iteration limit of Solve for dimension d.
func maxIterations(d int) int { return 1000 + 50*d }

// solve is Solve with an explicit iteration limit.
func solve(Q, c, lo, hi []float64, maxIter int) ([]float64, error) {
	if err := validate(Q, c, lo, hi); err != nil {
		return nil, err
	}
	d := len(c)
	w := newWorkspace(Q, c)
	state := make([]int8, d) // all stateFree (0)
	x := make([]float64, d)

	// Unconstrained minimiser; this factorisation is also the
	// positive-definiteness check of Q.
	free0, y, err := w.solveFree(state, x)
	if err != nil {
		return nil, err
	}
	for i, k := range free0 {
		x[k] = y[i]
	}
	// Project onto the box; clipped coordinates start in W.
	for k := range x {
		switch {
		case lo[k] == hi[k]:
			x[k], state[k] = lo[k], stateFixed
		case x[k] < lo[k]:
			x[k], state[k] = lo[k], stateLower
		case x[k] > hi[k]:
			x[k], state[k] = hi[k], stateUpper
		}
	}
	if !slices.ContainsFunc(state, func(s int8) bool { return s != stateFree }) {
		return x, nil // the unconstrained minimiser lies in the box
	}

	released, releasedFrom := -1, stateFree
	for range maxIter {
		freeIdx, y, err := w.solveFree(state, x)
		if err != nil {
			return nil, err
		}
		// Ratio test: largest α ∈ [0, 1] keeping x_F + α p in the box.
		alpha, block, blockState := 1.0, -1, stateFree
		for i, k := range freeIdx {
			p := y[i] - x[k]
			if k == released {
				// Theory: a released coordinate with a negative multiplier
				// moves strictly into the box. If it does not, the
				// multiplier was rounding noise and the point before the
				// release is optimal.
				if (releasedFrom == stateLower && p <= 0) || (releasedFrom == stateUpper && p >= 0) {
					state[k] = releasedFrom
					return x, nil
				}
			}
			switch {
			case p < 0 && !math.IsInf(lo[k], -1):
				if t := (lo[k] - x[k]) / p; t < alpha {
					alpha, block, blockState = t, k, stateLower
				}
			case p > 0 && !math.IsInf(hi[k], 1):
				if t := (hi[k] - x[k]) / p; t < alpha {
					alpha, block, blockState = t, k, stateUpper
				}
			}
		}
		released = -1

		if block < 0 {
			// Full step: x_F = y is feasible (up to rounding, which the
			// clamp removes) and minimises f on the current face.
			for i, k := range freeIdx {
				x[k] = clamp(y[i], lo[k], hi[k])
			}
			k, ok := w.mostNegativeMultiplier(state, x)
			if !ok {
				return x, nil
			}
			released, releasedFrom = k, state[k]
			state[k] = stateFree
			continue
		}

		// Partial step to the first bound hit; that bound joins W.
		alpha = max(alpha, 0)
		for i, k := range freeIdx {
			x[k] = clamp(x[k]+float64(alpha*(y[i]-x[k])), lo[k], hi[k])
		}
		state[block] = blockState
		if blockState == stateLower {
			x[block] = lo[block]
		} else {
			x[block] = hi[block]
		}
	}
	return nil, fmt.Errorf("boxqp: %w: no optimum after %d active-set iterations (d = %d)",
		ErrIterationLimit, maxIter, d)
}

// validate checks the inputs of Solve and returns a descriptive error.
func validate(Q, c, lo, hi []float64) error {
	d := len(c)
	if d == 0 {
		return fmt.Errorf("boxqp: %w: empty problem (len(c) = 0)", ErrDimension)
	}
	if len(Q) != d*d {
		return fmt.Errorf("boxqp: %w: len(Q) = %d, want d*d = %d (d = len(c) = %d)",
			ErrDimension, len(Q), d*d, d)
	}
	if len(lo) != d {
		return fmt.Errorf("boxqp: %w: len(lo) = %d, want d = len(c) = %d", ErrDimension, len(lo), d)
	}
	if len(hi) != d {
		return fmt.Errorf("boxqp: %w: len(hi) = %d, want d = len(c) = %d", ErrDimension, len(hi), d)
	}
	maxAbs := 0.0
	for i, v := range Q {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("boxqp: %w: Q[%d][%d] = %g", ErrNotFinite, i/d, i%d, v)
		}
		maxAbs = max(maxAbs, math.Abs(v))
	}
	for k, v := range c {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("boxqp: %w: c[%d] = %g", ErrNotFinite, k, v)
		}
	}
	for k := range d {
		switch {
		case math.IsNaN(lo[k]):
			return fmt.Errorf("boxqp: %w: lo[%d] = NaN", ErrNaNBound, k)
		case math.IsNaN(hi[k]):
			return fmt.Errorf("boxqp: %w: hi[%d] = NaN", ErrNaNBound, k)
		case lo[k] > hi[k]:
			return fmt.Errorf("boxqp: %w: lo[%d] = %g > hi[%d] = %g", ErrEmptyBox, k, lo[k], k, hi[k])
		case math.IsInf(lo[k], 1):
			return fmt.Errorf("boxqp: %w: lo[%d] = +Inf, no finite x[%d] satisfies it", ErrEmptyBox, k, k)
		case math.IsInf(hi[k], -1):
			return fmt.Errorf("boxqp: %w: hi[%d] = -Inf, no finite x[%d] satisfies it", ErrEmptyBox, k, k)
		}
	}
	for i := range d {
		for j := i + 1; j < d; j++ {
			a, b := Q[i*d+j], Q[j*d+i]
			if math.Abs(a-b) > symmetryTol*maxAbs {
				return fmt.Errorf("boxqp: %w: Q[%d][%d] = %g but Q[%d][%d] = %g (|difference| > %g * max|Q| = %g)",
					ErrNotSymmetric, i, j, a, j, i, b, symmetryTol, symmetryTol*maxAbs)
			}
		}
	}
	for k := range d {
		if v := Q[k*d+k]; v <= 0 {
			return fmt.Errorf("boxqp: %w: diagonal entry Q[%d][%d] = %g <= 0", ErrNotPositiveDefinite, k, k, v)
		}
	}
	return nil
}

// workspace holds the symmetrised problem data and the buffers of the
// reduced solves, so that the iteration does not allocate.
type workspace struct {
	d     int
	q     []float64 // (Q + Qᵀ)/2, row-major d×d
	c     []float64
	tol   float64   // relative rounding level of a residual or gradient entry
	l     []float64 // Cholesky factor of Q_FF, row-major |F|×|F| (lower part)
	rhs   []float64
	y     []float64
	r     []float64
	free  []int
	first bool // no factorisation yet: failures concern Q itself
}

// newWorkspace copies Q (symmetrised) and c into a new workspace.
func newWorkspace(Q, c []float64) *workspace {
	d := len(c)
	q := make([]float64, d*d)
	for i := range d {
		for j := range d {
			q[i*d+j] = 0.5 * (Q[i*d+j] + Q[j*d+i])
		}
	}
	return &workspace{
		d:     d,
		q:     q,
		c:     append([]float64(nil), c...),
		tol:   4 * float64(d+1) * eps,
		l:     make([]float64, d*d),
		rhs:   make([]float64, d),
		y:     make([]float64, d),
		r:     make([]float64, d),
		free:  make([]int, 0, d),
		first: true,
	}
}

// solveFree solves Q_FF y = c_F − Q_FW x_W for the free set F given by state
// and returns F and y (y[i] belongs to coordinate F[i]). The slices are
// owned by the workspace and valid until the next call.
func (w *workspace) solveFree(state []int8, x []float64) ([]int, []float64, error) {
	d, q := w.d, w.q
	free := w.free[:0]
	for k, s := range state {
		if s == stateFree {
			free = append(free, k)
		}
	}
	w.free = free
	n := len(free)
	if n == 0 {
		return free, w.y[:0], nil
	}
	rhs := w.rhs[:n]
	for i, k := range free {
		s := w.c[k]
		row := q[k*d : k*d+d]
		for j, st := range state {
			if st != stateFree {
				s -= float64(row[j] * x[j])
			}
		}
		rhs[i] = s
	}
	l := w.l[:n*n]
	for i, k := range free {
		for j, m := range free[:i+1] {
			l[i*n+j] = q[k*d+m]
		}
	}
	if j, piv := cholesky(l, n, func(i int) float64 { return q[free[i]*d+free[i]] }); j >= 0 {
		k := free[j]
		if w.first {
			return nil, nil, fmt.Errorf("boxqp: %w: Cholesky pivot for coordinate %d is %g, not above %g = d*eps*Q[%d][%d]",
				ErrNotPositiveDefinite, k, piv, float64(n)*eps*q[k*d+k], k, k)
		}
		return nil, nil, fmt.Errorf("boxqp: %w: Cholesky factorisation of the %d×%d free-set block failed at coordinate %d (pivot %g)",
			ErrNotPositiveDefinite, n, n, k, piv)
	}
	w.first = false
	y := w.y[:n]
	copy(y, rhs)
	cholSolve(l, n, y)
	// One step of iterative refinement: r = rhs − Q_FF y, y += Q_FF⁻¹ r.
	r := w.r[:n]
	for i, k := range free {
		s := rhs[i]
		row := q[k*d : k*d+d]
		for j, m := range free {
			s -= float64(row[m] * y[j])
		}
		r[i] = s
	}
	cholSolve(l, n, r)
	for i := range y {
		y[i] += r[i]
	}
	return free, y, nil
}

// mostNegativeMultiplier returns the non-fixed working-set coordinate with
// the most negative multiplier (λ = g at a lower bound, −g at an upper
// bound, g = Qx − c) at the face minimiser x just computed by solveFree,
// counting only multipliers below −tol·e[k]; ok is false if there is none.
//
// e[k] is a first-order bound on the rounding error of g[k] in units of
// tol: with s[j] = |c[j]| + Σ_i |Q[j][i] x[i]| (the size of the terms of
// g[j], so that a residual or gradient entry j carries a rounding error of
// about tol·s[j]) and m = Q_FF⁻¹ Q_Fk (the sensitivity of g[k] to the
// residual of the reduced system, which perturbs x_F),
//
//	e[k] = s[k] + Σ_{j∈F} |m[j]| s[j].
//
// m costs one solve with the Cholesky factor of Q_FF still held in w.l, and
// is only computed for coordinates whose multiplier is negative at all.
func (w *workspace) mostNegativeMultiplier(state []int8, x []float64) (k int, ok bool) {
	d, q := w.d, w.q
	free := w.free
	n := len(free)
	// scale returns g[i] and s[i].
	scale := func(i int) (g, s float64) {
		g, s = -w.c[i], math.Abs(w.c[i])
		for j, v := range q[i*d : i*d+d] {
			t := float64(v * x[j])
			g += t
			s += math.Abs(t)
		}
		return g, s
	}
	sF := w.r[:n]
	for i, j := range free {
		_, sF[i] = scale(j)
	}
	best := 0.0
	k = -1
	for i, st := range state {
		if st != stateLower && st != stateUpper {
			continue
		}
		g, e := scale(i)
		lambda := g
		if st == stateUpper {
			lambda = -g
		}
		if !(lambda < -w.tol*e && lambda < best) {
			continue
		}
		if n > 0 {
			m := w.rhs[:n]
			for j, f := range free {
				m[j] = q[f*d+i]
			}
			cholSolve(w.l[:n*n], n, m)
			for j, v := range m {
				e += float64(math.Abs(v) * sF[j])
			}
		}
		if lambda < -w.tol*e {
			best, k = lambda, i
		}
	}
	return k, k >= 0
}

// cholesky overwrites the lower triangle of the n×n row-major matrix a with
// its Cholesky factor L (a = L Lᵀ). It fails at the first pivot (diagonal of
// the Schur complement before the square root) that is not above
// n·ε·diag(j), returning its index and value; otherwise it returns -1, 0.
func cholesky(a []float64, n int, diag func(j int) float64) (int, float64) {
	for j := range n {
		rj := a[j*n : j*n+j]
		s := a[j*n+j]
		for _, v := range rj {
			s -= float64(v * v)
		}
		if !(s > float64(n)*eps*diag(j)) {
			return j, s
		}
		ljj := math.Sqrt(s)
		a[j*n+j] = ljj
		for i := j + 1; i < n; i++ {
			ri := a[i*n : i*n+j]
			t := a[i*n+j]
			for k, v := range ri {
				t -= float64(v * rj[k])
			}
			a[i*n+j] = t / ljj
		}
	}
	return -1, 0
}

// cholSolve solves L Lᵀ z = b in place (b becomes z) for the factor L stored
// in the lower triangle of the n×n row-major matrix l.
func cholSolve(l []float64, n int, b []float64) {
	for i := range n {
		s := b[i]
		for k, v := range l[i*n : i*n+i] {
			s -= float64(v * b[k])
		}
		b[i] = s / l[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := b[i]
		for k := i + 1; k < n; k++ {
			s -= float64(l[k*n+i] * b[k])
		}
		b[i] = s / l[i*n+i]
	}
}

// clamp returns v limited to [lo, hi].
func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }

// KKT returns the largest violation of the KKT conditions of the problem
// min 0.5 x'Qx - c'x subject to lo <= x <= hi at x, relative to the
// problem's scale. It is 0 exactly at a point satisfying them exactly, and
// +Inf if the lengths do not fit (len(c) = d > 0, len(Q) = d*d, len(lo) =
// len(hi) = len(x) = d), if any input is NaN, or if Q, c or x has an
// infinite entry.
//
// With g = Qx − c, computed with the symmetric part (Q + Qᵀ)/2 (the gradient
// of the objective), coordinate k is "at the lower bound" if x[k] <= lo[k]
// and "at the upper bound" if x[k] >= hi[k], by exact comparison (Solve puts
// bound coordinates exactly on the bound). The violations are
//
//	infeasibility   v_x = max_k max(lo[k]-x[k], x[k]-hi[k], 0)
//	gradient        v_g = max_k of
//	                  0            if at both bounds (lo[k] = x[k] = hi[k])
//	                  max(-g[k],0) if at the lower bound only
//	                  max(g[k],0)  if at the upper bound only
//	                  |g[k]|       otherwise (strictly inside the box)
//
// and the result is
//
//	max( v_x / (1 + max_k |x[k]|),  v_g / (1 + max_k |c[k]| + max_k Σ_j |Q[k][j] x[j]|) ).
//
// The gradient scale is the size of the terms that g is made of, so the
// rounding error of g itself is about d·ε relative to it; for well-scaled,
// well-conditioned problems a value below 1e-10 means x is optimal to
// floating-point precision.
func KKT(Q, c, lo, hi, x []float64) float64 {
	d := len(c)
	inf := math.Inf(1)
	if d == 0 || len(Q) != d*d || len(lo) != d || len(hi) != d || len(x) != d {
		return inf
	}
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	for _, v := range Q {
		if bad(v) {
			return inf
		}
	}
	xMax, cMax := 0.0, 0.0
	for k := range d {
		if bad(c[k]) || bad(x[k]) || math.IsNaN(lo[k]) || math.IsNaN(hi[k]) {
			return inf
		}
		xMax = max(xMax, math.Abs(x[k]))
		cMax = max(cMax, math.Abs(c[k]))
	}
	vx, vg, rowMax := 0.0, 0.0, 0.0
	for k := range d {
		vx = max(vx, lo[k]-x[k], x[k]-hi[k])
		g, row := -c[k], 0.0
		for j := range d {
			t := float64(0.5 * (Q[k*d+j] + Q[j*d+k]) * x[j])
			g += t
			row += math.Abs(t)
		}
		rowMax = max(rowMax, row)
		atLo, atHi := x[k] <= lo[k], x[k] >= hi[k]
		switch {
		case atLo && atHi:
		case atLo:
			vg = max(vg, -g)
		case atHi:
			vg = max(vg, g)
		default:
			vg = max(vg, math.Abs(g))
		}
	}
	return max(vx/(1+xMax), vg/(1+cMax+rowMax))
}
