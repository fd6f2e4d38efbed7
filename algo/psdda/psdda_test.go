package psdda

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels/philox"
	"github.com/batchrun/batchrun/results"
)

// kkt returns the KKT violation of f's minimisation over the box at x,
// from the node objectives' gradients (not from H): the optimum's own check.
func kkt(p *Problem, x []float64) float64 {
	d := p.D
	g, gi := make([]float64, d), make([]float64, d)
	for i := range p.N {
		p.Grad(gi, i, x)
		for k := range d {
			g[k] += gi[k]
		}
	}
	worst := 0.0
	for k := range d {
		switch {
		case x[k] < p.Lo || x[k] > p.Hi:
			worst = max(worst, math.Inf(1))
		case x[k] == p.Lo && x[k] == p.Hi:
		case x[k] == p.Lo:
			worst = max(worst, -g[k]) // g_k >= 0 at a lower bound
		case x[k] == p.Hi:
			worst = max(worst, g[k])
		default:
			worst = max(worst, math.Abs(g[k]))
		}
	}
	return worst
}

func TestOptimumQP(t *testing.T) {
	cfg := testConfig(t, nil)
	p, err := NewProblem(&cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.XStar[0]-0.45) > 1e-14 || math.Abs(p.XStar[1]-0.275) > 1e-14 {
		t.Errorf("x* = %v, want (0.45, 0.275)", p.XStar)
	}
	if math.Abs(p.FStar-0.525) > 1e-14 {
		t.Errorf("f* = %v, want 0.525", p.FStar)
	}
	if v := kkt(p, p.XStar); v > 1e-10 {
		t.Errorf("KKT violation %g at x*", v)
	}
}

func TestOptimumSensor(t *testing.T) {
	cfg := testConfig(t, map[string]string{"objective": ObjectiveSensor})
	interior := 0
	for seed := range uint64(50) {
		p, err := NewProblem(&cfg, seed)
		if err != nil {
			t.Fatal(err)
		}
		if v := kkt(p, p.XStar); v > 1e-10 {
			t.Errorf("seed %d: KKT violation %g at x* = %v", seed, v, p.XStar)
		}
		// The spec's closed form, (sum H_i'H_i + n lambda I)^{-1} sum H_i'z_i,
		// when it lies in the box.
		var a, b, c, r0, r1 float64
		for i := range p.N {
			h0, h1, z := p.A[2*i], p.A[2*i+1], p.Y[i]
			a += h0 * h0
			b += h0 * h1
			c += h1 * h1
			r0 += h0 * z
			r1 += h1 * z
		}
		nl := float64(p.N) * cfg.Lambda
		a, c = a+nl, c+nl
		det := a*c - b*b
		x0, x1 := (c*r0-b*r1)/det, (a*r1-b*r0)/det
		if math.Abs(x0) <= 1 && math.Abs(x1) <= 1 {
			interior++
			if math.Abs(p.XStar[0]-x0) > 1e-12 || math.Abs(p.XStar[1]-x1) > 1e-12 {
				t.Errorf("seed %d: x* = %v, closed form (%v, %v)", seed, p.XStar, x0, x1)
			}
		}
	}
	if interior == 0 {
		t.Error("no seed has an interior optimum")
	}
}

func TestOptimumBoxActive(t *testing.T) {
	// A box that cuts the sensor and least-squares optima: the solution sits
	// on the boundary and must still satisfy KKT.
	for _, set := range []map[string]string{
		{"objective": ObjectiveSensor, "lo": "-0.05", "hi": "0.05"},
		{"objective": ObjectiveLSQ, "d": "10", "n": "50", "graph": GraphRandom, "lo": "-0.2", "hi": "0.1"},
		{"objective": ObjectiveLSQ, "d": "6", "n": "20", "graph": GraphRandom, "lo": "0.3", "hi": "0.3"},
		{"objective": ObjectiveQP, "lo": "0.5", "hi": "1"},
	} {
		cfg := testConfig(t, set)
		for seed := range uint64(10) {
			p, err := NewProblem(&cfg, seed)
			if err != nil {
				t.Fatal(err)
			}
			onBound := slices.ContainsFunc(p.XStar, func(v float64) bool { return v == cfg.Lo || v == cfg.Hi })
			if !onBound {
				t.Errorf("%v seed %d: x* = %v is inside the box", set, seed, p.XStar)
			}
			if v := kkt(p, p.XStar); v > 1e-10 {
				t.Errorf("%v seed %d: KKT violation %g", set, seed, v)
			}
		}
	}
}

// TestExcess checks the cancellation-free f(x) - f* against the sum of the
// node objectives, and that no point of the box beats x*.
func TestExcess(t *testing.T) {
	for _, set := range []map[string]string{
		{},
		{"objective": ObjectiveSensor},
		{"objective": ObjectiveLSQ, "d": "5", "n": "40", "graph": GraphRandom},
	} {
		cfg := testConfig(t, set)
		p, _ := NewProblem(&cfg, 4)
		x := make([]float64, cfg.D)
		for trial := range 200 {
			for k := range x {
				x[k] = cfg.Lo + (cfg.Hi-cfg.Lo)*philox.Float64(99, uint64(trial), uint64(k))
			}
			direct := p.Value(x) - p.FStar
			e := p.Excess(x)
			if math.Abs(e-direct) > 1e-10*max(1, math.Abs(p.FStar)) {
				t.Fatalf("%v: Excess = %v, f(x) - f* = %v", set, e, direct)
			}
			if e < -1e-12 {
				t.Fatalf("%v: f(%v) is below f* by %v", set, x, -e)
			}
		}
	}
}

func TestGradient(t *testing.T) {
	cfg := testConfig(t, map[string]string{"objective": ObjectiveLSQ, "d": "4", "n": "3", "graph": GraphRandom, "rows": "3", "degree": "1"})
	p, _ := NewProblem(&cfg, 2)
	x := []float64{0.3, -0.2, 0.7, 0.1}
	g := make([]float64, 4)
	for i := range 3 {
		p.Grad(g, i, x)
		for k := range 4 {
			xp, xm := slices.Clone(x), slices.Clone(x)
			xp[k] += 1e-6
			xm[k] -= 1e-6
			fd := (p.NodeValue(i, xp) - p.NodeValue(i, xm)) / 2e-6
			if math.Abs(fd-g[k]) > 1e-7 {
				t.Errorf("node %d: dF/dx%d = %v, finite difference %v", i, k, g[k], fd)
			}
		}
	}
}

func runCell(t *testing.T, set map[string]string, seed uint64) *SeedResult {
	t.Helper()
	cfg := testConfig(t, set)
	r, err := Run(context.Background(), &cfg, seed, func(int) {})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func at(r *SeedResult, step int) float64 {
	i := slices.Index(r.Steps, step)
	if i < 0 {
		panic("step not traced")
	}
	return r.ErrMax[i]
}

// TestPaper002QP checks the claims of Figures 2-4 on the paper002-qp setup.
func TestPaper002QP(t *testing.T) {
	qp := func(mode string, b int) *SeedResult {
		return runCell(t, map[string]string{"mode": mode, "b": batch.Format(b), "trace_points": "0"}, 0)
	}
	ps := qp(ModePSDDA, 1)
	// Fig. 2/3: PS-DDA's maximum error decreases in T (checked at 100 points
	// from T = 50 on) and is below 0.05 at T = 5000.
	prev := math.Inf(1)
	for _, s := range TraceSteps(5000, 100) {
		if s < 50 {
			continue
		}
		e := at(ps, s)
		if e >= prev {
			t.Errorf("ps-dda b=1: max error %v at T=%d, not below %v earlier", e, s, prev)
		}
		prev = e
	}
	if e := at(ps, 5000); e >= 0.05 {
		t.Errorf("ps-dda b=1: max error %v at T=5000, want < 0.05", e)
	}
	if e := at(ps, 5000); e <= 0 {
		t.Errorf("ps-dda b=1: max error %v at T=5000 is not positive", e)
	}
	// Every node converges: all per-node errors are small at the end.
	last := ps.NodeErr[len(ps.NodeErr)-1]
	if len(last) != 8 || slices.Max(last) >= 0.05 {
		t.Errorf("ps-dda b=1: node errors at T=5000: %v", last)
	}
	// Fig. 3: DDA with column-stochastic weights plateaus above 0.2; PS-DDA
	// is no worse than either DDA.
	col := qp(ModeDDAColumn, 1)
	for _, s := range []int{1000, 2000, 3000, 4000, 5000} {
		if e := at(col, s); e <= 0.2 {
			t.Errorf("dda-column b=1: max error %v at T=%d, want a plateau above 0.2", e, s)
		}
	}
	dbl := qp(ModeDDADouble, 1)
	if at(ps, 5000) > at(dbl, 5000) || at(ps, 5000) > at(col, 5000) {
		t.Errorf("at T=5000: ps-dda %v, dda-doubly %v, dda-column %v; want ps-dda lowest", at(ps, 5000), at(dbl, 5000), at(col, 5000))
	}
	// Fig. 4: at T = 5000 the error grows with b over {1, 5, 10}.
	e1, e5, e10 := at(ps, 5000), at(qp(ModePSDDA, 5), 5000), at(qp(ModePSDDA, 10), 5000)
	if !(e1 < e5 && e5 < e10) {
		t.Errorf("ps-dda max error at T=5000: b=1 %v, b=5 %v, b=10 %v; want increasing", e1, e5, e10)
	}
	// Conservation at the end.
	if ps.MassW > 1e-13 || ps.MassZ > 1e-12 {
		t.Errorf("conservation errors w %v, z %v", ps.MassW, ps.MassZ)
	}
}

// TestPaper002Sensor checks Figures 5-6 over 10 seeds: PS-DDA converges and
// the mean final error grows with b over {1, 3, 5}.
func TestPaper002Sensor(t *testing.T) {
	mean := map[int]float64{}
	for _, b := range []int{1, 3, 5} {
		for seed := range uint64(10) {
			r := runCell(t, map[string]string{"objective": ObjectiveSensor, "T": "3000", "b": batch.Format(b), "trace_points": "0"}, seed)
			if b == 1 && !(at(r, 3000) < at(r, 300)/2) {
				t.Errorf("seed %d: max error %v at T=300, %v at T=3000; want it halved", seed, at(r, 300), at(r, 3000))
			}
			mean[b] += at(r, 3000) / 10
		}
	}
	if !(mean[1] < mean[3] && mean[3] < mean[5]) {
		t.Errorf("mean max error at T=3000: b=1 %v, b=3 %v, b=5 %v; want increasing", mean[1], mean[3], mean[5])
	}
}

func TestTraceSteps(t *testing.T) {
	tests := []struct {
		T, points int
		want      []int
	}{
		{5, 0, []int{1, 2, 3, 4, 5}},
		{5, 10, []int{1, 2, 3, 4, 5}},
		{1000, 4, []int{1, 10, 100, 1000}},
		{1, 100, []int{1}},
		{7, 2, []int{1, 7}},
	}
	for _, tc := range tests {
		if got := TraceSteps(tc.T, tc.points); !slices.Equal(got, tc.want) {
			t.Errorf("TraceSteps(%d, %d) = %v, want %v", tc.T, tc.points, got, tc.want)
		}
	}
	s := TraceSteps(5000, 100)
	if s[0] != 1 || s[len(s)-1] != 5000 || len(s) < 60 || len(s) > 100 || !slices.IsSorted(s) {
		t.Errorf("TraceSteps(5000, 100) = %v", s)
	}
}

func TestBadInputs(t *testing.T) {
	tests := []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"graph": GraphEdges, "n": "3", "edges": "1->2 / 2->3"}, "parameter edges (n = 3): the union of the 2 graphs is not strongly connected"},
		{map[string]string{"graph": GraphEdges, "n": "3"}, "graph = edges needs the parameter edges"},
		{map[string]string{"graph": GraphEdges, "n": "3", "edges": "1->2 2->3 3->1 3->3"}, "self-loop"},
		{map[string]string{"edges": "1->2 2->1"}, "set graph = edges"},
		{map[string]string{"lo": "1", "hi": "-1"}, "the box X = [lo, hi]^d = [1, -1]^2 is empty"},
		{map[string]string{"n": "9"}, "graph paper002 has 8 nodes, but n = 9"},
		{map[string]string{"d": "3"}, "objective qp is defined for d = 2"},
		{map[string]string{"graph": GraphRandom, "n": "10", "degree": "11"}, "degree = 11"},
	}
	for _, tc := range tests {
		v, err := Schema().Resolve(tc.set, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Family{}.Resolve(v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.set, err, tc.want)
		}
	}
	for _, tc := range []struct{ set, want string }{
		{"b=-1", "parameter b = \"-1\": out of range; want an integer [0, 1048576]"},
		{"objective=logistic", "parameter objective = \"logistic\": unknown value; want one of qp, sensor, lsq"},
		{"delays=random", "want one of fixed, per-edge, per-step"},
	} {
		_, err := Schema().Resolve(nil, []string{tc.set})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--set %s: %v, want %q", tc.set, err, tc.want)
		}
	}
	// The edges text is stored in canonical form.
	v, _ := Schema().Resolve(map[string]string{"graph": GraphEdges, "n": "2", "edges": " 1->2 /2->1"}, nil)
	v, err := Family{}.Resolve(v)
	if err != nil || v.String("edges") != "1->2 / 2->1" {
		t.Errorf("canonical edges: %q, %v", v.String("edges"), err)
	}
}

// TestGroupComposition checks that a cell's rows do not depend on the
// other cells of its group (random graphs and delays per seed).
func TestGroupComposition(t *testing.T) {
	set := map[string]string{"graph": GraphRandom, "n": "40", "objective": ObjectiveLSQ, "d": "3", "T": "300",
		"delays": DelayPerEdge, "b": "3", "node_errors": NodesLong, "trace_points": "20"}
	v, err := Schema().Resolve(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	cells := []*batch.Cell{{Seed: 1, Values: v}, {Seed: 2, Values: v}, {Seed: 3, Values: v}}
	all, err := Family{}.RunGroup(context.Background(), cells, func(int64) {})
	if err != nil {
		t.Fatal(err)
	}
	one, err := Family{}.RunGroup(context.Background(), cells[2:], func(int64) {})
	if err != nil {
		t.Fatal(err)
	}
	if !sameRows(all[2], one[0]) {
		t.Error("cell rows depend on the group")
	}
	if sameRows(all[0], all[1]) {
		t.Error("two seeds give the same rows")
	}
	if n := len(all[0][2]); n != 40*len(TraceSteps(300, 20)) {
		t.Errorf("nodes table: %d rows", n)
	}
	if s := all[0][1][0].Metrics[3]; !math.IsNaN(s) {
		t.Errorf("n = 40: per-node trace column err_1 = %v, want empty", s)
	}
}

func sameRows(a, b [][]results.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for t := range a {
		if len(a[t]) != len(b[t]) {
			return false
		}
		for r := range a[t] {
			if a[t][r].Step != b[t][r].Step || !slices.EqualFunc(a[t][r].Metrics, b[t][r].Metrics, func(x, y float64) bool {
				return x == y || math.IsNaN(x) && math.IsNaN(y)
			}) {
				return false
			}
		}
	}
	return true
}

// TestLongDelaysStayFinite: on a complete digraph with b = 400, the nodes'
// weights underflow to 0 before anything arrives; the errors must stay
// numbers (regression: 0/0 gave NaN that spread to every node).
func TestLongDelaysStayFinite(t *testing.T) {
	var edges []string
	for j := 1; j <= 10; j++ {
		for i := 1; i <= 10; i++ {
			if i != j {
				edges = append(edges, batch.Format(j)+"->"+batch.Format(i))
			}
		}
	}
	for _, mode := range Modes {
		r := runCell(t, map[string]string{"mode": mode, "graph": GraphEdges, "n": "10", "edges": strings.Join(edges, " "),
			"objective": ObjectiveSensor, "b": "400", "T": "1000"}, 1)
		for k, e := range r.ErrMax {
			if math.IsNaN(e) || math.IsInf(e, 0) || math.IsNaN(r.ErrMean[k]) {
				t.Fatalf("%s: error %v at step %d", mode, e, r.Steps[k])
			}
		}
	}
	if pushRatio(0, 0) != 0 || !math.IsInf(pushRatio(1, 0), 1) || pushRatio(3, 2) != 1.5 {
		t.Error("pushRatio")
	}
}

// Parameters a point does not use are reset to their defaults.
func TestUnusedParametersReset(t *testing.T) {
	v, err := Schema().Resolve(nil, []string{"degree=2", "window=9", "lambda=3", "rows=7", "noise=0.5"})
	if err != nil {
		t.Fatal(err)
	}
	v, err = Family{}.Resolve(v) // paper002, qp
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"degree": "5", "window": "5", "lambda": "0.1", "rows": "5", "noise": "0.1"} {
		if got := v.Text(name); got != want {
			t.Errorf("%s = %s, want the default %s", name, got, want)
		}
	}
	v, _ = Schema().Resolve(nil, []string{"graph=random", "degree=2", "window=9", "objective=lsq", "lambda=3", "rows=7", "noise=0.5"})
	v, err = Family{}.Resolve(v)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"degree": "2", "window": "9", "lambda": "3", "rows": "7", "noise": "0.5"} {
		if got := v.Text(name); got != want {
			t.Errorf("%s = %s, want %s (used)", name, got, want)
		}
	}
}

// Without ridge weight and with fewer data rows than unknowns, f has no
// unique minimiser: an input error, not a failure mid-run.
func TestSingularObjective(t *testing.T) {
	for _, set := range [][]string{
		{"objective=sensor", "lambda=0", "graph=random", "n=2", "degree=1", "d=3"},
		{"objective=lsq", "lambda=0", "graph=random", "n=10", "degree=1", "d=60", "rows=5"},
	} {
		v, err := Schema().Resolve(nil, set)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Family{}.Resolve(v)
		if err == nil || !strings.Contains(err.Error(), "lambda = 0") {
			t.Errorf("%v: %v, want an error naming lambda", set, err)
		}
	}
}

// Progress reports add up to T.
func TestProgressSumsToT(t *testing.T) {
	for _, T := range []int{1, 63, 64, 65, 200} {
		cfg := testConfig(t, map[string]string{"T": batch.Format(T)})
		sum := 0
		if _, err := Run(context.Background(), &cfg, 0, func(s int) { sum += s }); err != nil {
			t.Fatal(err)
		}
		if sum != T {
			t.Errorf("T = %d: progress adds up to %d", T, sum)
		}
	}
}
