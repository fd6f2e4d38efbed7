package asynpd

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels/philox"
	"github.com/batchrun/batchrun/results"
)

// handConfig is the two-worker setting of the hand computations: no noise,
// no delays, every update takes one time unit, d = 1, budget 1 so that
// lambda moves.
func handConfig(t *testing.T, mode string) *Config {
	return config(t, "mode="+mode, "n=2", "d=1", "sigma=0", "c_lo=1", "c_hi=1",
		"upload_hi=0", "broadcast_hi=0", "budget=1", "horizon=2", "grid=2")
}

// initialModels returns theta_i(0) = clip(z_i, C_i) from the seed's first
// normal of worker i's initial stream.
func initialModels(seed uint64) (x0, x1 float64) {
	z := make([]float64, 1)
	philox.PolarNormals(z, SeedKey(seed), streamInit|0, 0)
	x0 = clip(z[0], 0, 2)
	philox.PolarNormals(z, SeedKey(seed), streamInit|1, 0)
	return x0, clip(z[0], 0, 3)
}

// TestAsynHandTrajectory follows Asyn-PD with two workers, no noise, no
// delays and unit compute times through its first eight iterations,
// computed by hand from the spec:
//
//	time 1: complete 1 (t=0, message h0 = 0), receive 1 (t=1, broadcast h1),
//	        complete 2 (t=2, h0; its next snapshot holds h1), receive 2 (t=3, h2)
//	time 2: complete 1 (t=4, h0: its snapshot at time 1 preceded h1), receive 1 (t=5, h3),
//	        complete 2 (t=6, h1), receive 2 (t=7, h4)
func TestAsynHandTrajectory(t *testing.T) {
	cfg := handConfig(t, ModeAsyn)
	star, err := cfg.Problem.Solve()
	if err != nil {
		t.Fatal(err)
	}
	const seed = 5
	a, b, al, be, B, lmax := 200.0, 1000.0, 0.01, 0.01, 1.0, 10.0
	gamma := func(t int) float64 { return a / (b + float64(t)) }
	x0, x1 := initialModels(seed)
	upd := func(x, mu, m, g, hi float64) float64 { return clip(x-g*(x-mu+al*x+m/2), 0, hi) }
	dual := func(l, s, g float64) float64 { return clip(l+g*(s*s-B-be*l), 0, lmax) }
	type state struct{ x0, x1, lambda float64 }
	var want []state
	// time 1
	x0 = upd(x0, 1, 0, gamma(0), 2)
	want = append(want, state{x0, x1, 0})
	s := (x0 + x1) / 2
	l := dual(0, s, gamma(1))
	h1 := 2 * s * l
	want = append(want, state{x0, x1, l})
	x1 = upd(x1, 2, 0, gamma(2), 3)
	want = append(want, state{x0, x1, l})
	s = (x0 + x1) / 2
	l = dual(l, s, gamma(3))
	want = append(want, state{x0, x1, l})
	// time 2
	x0 = upd(x0, 1, 0, gamma(4), 2)
	want = append(want, state{x0, x1, l})
	s = (x0 + x1) / 2
	l = dual(l, s, gamma(5))
	want = append(want, state{x0, x1, l})
	x1 = upd(x1, 2, h1, gamma(6), 3)
	want = append(want, state{x0, x1, l})
	s = (x0 + x1) / 2
	l = dual(l, s, gamma(7))
	want = append(want, state{x0, x1, l})

	w := newWorld(cfg, seed)
	sim := newAsyn(w, newRecorder(cfg, star, seed), nil)
	var got []state
	var kinds []string
	sim.observe = func(e Event) {
		got = append(got, state{sim.theta[0], sim.theta[1], sim.lambda[0]})
		kinds = append(kinds, fmt.Sprintf("%g:%d:%d", e.Time, e.Kind, e.Worker))
	}
	if err := sim.run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	wantKinds := "1:1:0 1:0:0 1:1:1 1:0:1 2:1:0 2:0:0 2:1:1 2:0:1"
	if g := strings.Join(kinds, " "); g != wantKinds {
		t.Fatalf("events (time:kind:worker) %s, want %s", g, wantKinds)
	}
	for k := range want {
		for j, pair := range [][2]float64{{got[k].x0, want[k].x0}, {got[k].x1, want[k].x1}, {got[k].lambda, want[k].lambda}} {
			if math.Abs(pair[0]-pair[1]) > 1e-14 {
				t.Errorf("iteration %d, %s: %v, by hand %v", k, []string{"theta_1", "theta_2", "lambda"}[j], pair[0], pair[1])
			}
		}
	}
	if sim.t != 8 || sim.updates != 4 {
		t.Errorf("t = %d, updates = %d, want 8 and 4", sim.t, sim.updates)
	}
}

// TestSyncHandTrajectory follows Sync-PD's two rounds in the same setting:
// round k updates both workers with gamma_k and the message h_k, then
// lambda with the models held before the round.
func TestSyncHandTrajectory(t *testing.T) {
	cfg := handConfig(t, ModeSync)
	star, err := cfg.Problem.Solve()
	if err != nil {
		t.Fatal(err)
	}
	const seed = 9
	a, b, al, be, B := 200.0, 1000.0, 0.01, 0.01, 1.0
	x0, x1 := initialModels(seed)
	h, l := 0.0, 0.0
	for k := range 2 {
		g := a / (b + float64(k))
		s := (x0 + x1) / 2 // held by the server
		x0 = clip(x0-g*(x0-1+al*x0+h/2), 0, 2)
		x1 = clip(x1-g*(x1-2+al*x1+h/2), 0, 3)
		l = clip(l+g*(s*s-B-be*l), 0, 10)
		h = 2 * (x0 + x1) / 2 * l
	}
	res, err := Run(context.Background(), cfg, star, seed, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := res.Grid[len(res.Grid)-1]
	wantTheta := (x0-star.Theta[0][0])*(x0-star.Theta[0][0]) + (x1-star.Theta[1][0])*(x1-star.Theta[1][0])
	wantLambda := (l - star.Lambda[0]) * (l - star.Lambda[0])
	if last.Time != 2 || res.Rounds != 2 || res.Updates != 4 {
		t.Errorf("at time %v: %d rounds, %d updates; want time 2, 2 rounds, 4 updates", last.Time, res.Rounds, res.Updates)
	}
	if math.Abs(last.ErrTheta-wantTheta) > 1e-13 || math.Abs(last.ErrLambda-wantLambda) > 1e-13 {
		t.Errorf("errors at time 2: theta %v, lambda %v; by hand %v, %v", last.ErrTheta, last.ErrLambda, wantTheta, wantLambda)
	}
}

// TestIteratesFeasible runs both algorithms with steps far too large and
// heavy noise, so that nearly every update leaves the boxes before its
// projection, and checks after every Asyn-PD event that every model lies in
// its box and lambda in [0, lambda_max], and the same of every Sync-PD
// update through world.step and dualStep.
func TestIteratesFeasible(t *testing.T) {
	cfg := config(t, "a=1e4", "b=1", "sigma=5", "horizon=200", "lambda_max=3", "lo=-1", "mu1=-3", "mu2=6")
	star, err := cfg.Problem.Solve()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(cfg, 3)
	sim := newAsyn(w, newRecorder(cfg, star, 3), nil)
	lows, highs := 0, 0
	sim.observe = func(e Event) {
		for i := range w.n {
			for k := range w.d {
				x := sim.theta[i*w.d+k]
				if x < w.lo[i] || x > w.hi[i] {
					t.Fatalf("after event %+v: theta_%d = %v outside [%v, %v]", e, i+1, x, w.lo[i], w.hi[i])
				}
				if x == w.lo[i] {
					lows++
				}
				if x == w.hi[i] {
					highs++
				}
			}
		}
		if l := sim.lambda[0]; l < 0 || l > 3 {
			t.Fatalf("after event %+v: lambda = %v outside [0, 3]", e, l)
		}
	}
	if err := sim.run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if lows == 0 || highs == 0 {
		t.Errorf("no model ever reached a bound (%d at lo, %d at hi): the test does not exercise the projection", lows, highs)
	}
	// Sync-PD's updates are world.step and dualStep.
	x := make([]float64, w.d)
	lambda, gval, h := []float64{0}, []float64{0}, make([]float64, w.d)
	for u := range int64(500) {
		i := int(u) % w.n
		w.step(x, h, i, u, 50)
		w.dualStep(x, lambda, gval, h, 50)
		for _, v := range x {
			if v < w.lo[i] || v > w.hi[i] || lambda[0] < 0 || lambda[0] > 3 {
				t.Fatalf("update %d: theta %v (box [%v, %v]), lambda %v", u, x, w.lo[i], w.hi[i], lambda[0])
			}
		}
	}
}

// eventHash runs one seed and hashes its event sequence and final errors.
func eventHash(t *testing.T, cfg *Config, star *Saddle, seed uint64) uint64 {
	h := fnv.New64a()
	res, err := Run(context.Background(), cfg, star, seed, nil, func(e Event) {
		fmt.Fprintf(h, "%x %d %d %d\n", math.Float64bits(e.Time), e.Kind, e.Worker, e.Iteration)
	})
	if err != nil {
		t.Fatal(err)
	}
	last := res.Grid[len(res.Grid)-1]
	fmt.Fprintf(h, "%x %x", math.Float64bits(last.ErrTheta), math.Float64bits(last.ErrLambda))
	return h.Sum64()
}

// TestEventsIndependentOfConcurrency runs seeds one after another and all
// at once (goroutines), for both algorithms with random compute times and
// outages: the event sequences are identical.
func TestEventsIndependentOfConcurrency(t *testing.T) {
	for _, mode := range Modes {
		cfg := config(t, "mode="+mode, "n=30", "horizon=150", "compute=exponential", "fail_prob=0.05", "fail_time=10", "broadcast=exponential")
		star, err := cfg.Problem.Solve()
		if err != nil {
			t.Fatal(err)
		}
		const seeds = 8
		var serial [seeds]uint64
		for s := range seeds {
			serial[s] = eventHash(t, cfg, star, uint64(s))
		}
		var parallel [seeds]uint64
		var wg sync.WaitGroup
		for s := range seeds {
			wg.Go(func() { parallel[s] = eventHash(t, cfg, star, uint64(s)) })
		}
		wg.Wait()
		if serial != parallel {
			t.Errorf("%s: event hashes serial %x, concurrent %x", mode, serial, parallel)
		}
		if serial[0] == serial[1] {
			t.Errorf("%s: seeds 0 and 1 give the same events", mode)
		}
	}
}

// presetCells runs a preset through the family as the engine does and
// returns its plan and the rows of each cell.
func presetCells(t *testing.T, preset string) (*batch.Plan, [][][]results.Row) {
	t.Helper()
	plan, err := batch.NewPlan(&batch.Spec{Source: "test", Experiment: "asynpd", Preset: preset}, batch.Families{"asynpd": Family{}})
	if err != nil {
		t.Fatal(err)
	}
	rows := make([][][]results.Row, len(plan.Cells))
	for _, g := range batch.Groups(plan.Cells, 1, 0) {
		out, err := Family{}.RunGroup(context.Background(), g.Cells, func(int64) {})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range g.Cells {
			rows[c.Index] = out[i]
		}
	}
	return plan, rows
}

// meanTimeErr averages the total error of the time table over the cells of
// one mode: mean[k] at grid point k.
func meanTimeErr(plan *batch.Plan, rows [][][]results.Row, mode string) (times, mean []float64) {
	errCol := 5 // sampleMetrics: time, iteration, updates, err_theta, err_lambda, err, lambda
	cells := 0
	for _, c := range plan.Cells {
		if c.Values.String("mode") != mode {
			continue
		}
		cells++
		grid := rows[c.Index][1]
		if mean == nil {
			mean = make([]float64, len(grid))
			for _, r := range grid {
				times = append(times, r.Metrics[0])
			}
		}
		for k, r := range grid {
			mean[k] += r.Metrics[errCol]
		}
	}
	for k := range mean {
		mean[k] /= float64(cells)
	}
	return times, mean
}

// TestPaper003 checks the paper's Fig. 2 claims on the preset's 10 seeds:
// at time 3000 Asyn-PD's mean total error is below 0.15 and at least 5
// times below Sync-PD's, and time x error stays within a factor 2 over the
// second half of the run (the 1/t rate).
func TestPaper003(t *testing.T) {
	plan, rows := presetCells(t, "paper003")
	times, asyn := meanTimeErr(plan, rows, ModeAsyn)
	_, syn := meanTimeErr(plan, rows, ModeSync)
	last := len(times) - 1
	if times[last] != 3000 {
		t.Fatalf("last grid time %v, want 3000", times[last])
	}
	t.Logf("mean total error at 3000: Asyn-PD %.4g, Sync-PD %.4g (ratio %.1f)", asyn[last], syn[last], syn[last]/asyn[last])
	if asyn[last] >= 0.15 {
		t.Errorf("Asyn-PD mean total error %v at time 3000, want < 0.15", asyn[last])
	}
	if syn[last] < 5*asyn[last] {
		t.Errorf("Sync-PD %v vs Asyn-PD %v at time 3000: want at least 5x", syn[last], asyn[last])
	}
	lo, hi := math.Inf(1), 0.0
	for k, tm := range times {
		if tm >= 1500 {
			v := tm * asyn[k]
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	t.Logf("time x error over [1500, 3000]: %.4g to %.4g (ratio %.2f)", lo, hi, hi/lo)
	if hi > 2*lo {
		t.Errorf("time x error ranges from %v to %v over the second half: want within a factor 2", lo, hi)
	}
}

// TestPaper003Straggler checks Fig. 3: with worker 1 taking 50 time units
// per update, Asyn-PD's mean total error at time 3000 is at least 5 times
// below Sync-PD's.
func TestPaper003Straggler(t *testing.T) {
	plan, rows := presetCells(t, "paper003-straggler")
	times, asyn := meanTimeErr(plan, rows, ModeAsyn)
	_, syn := meanTimeErr(plan, rows, ModeSync)
	last := len(times) - 1
	t.Logf("mean total error at %v: Asyn-PD %.4g, Sync-PD %.4g (ratio %.1f)", times[last], asyn[last], syn[last], syn[last]/asyn[last])
	if syn[last] < 5*asyn[last] {
		t.Errorf("Sync-PD %v vs Asyn-PD %v at time 3000: want at least 5x", syn[last], asyn[last])
	}
	for _, c := range plan.Cells {
		if c.Values.String("stragglers") != "1" || c.Values.Float("straggler_time") != 50 {
			t.Fatalf("cell %s: stragglers %q, straggler_time %v", c.Key, c.Values.String("stragglers"), c.Values.Float("straggler_time"))
		}
	}
}

// TestProgressAddsUp: RunGroup reports exactly Work per cell.
func TestProgressAddsUp(t *testing.T) {
	for _, mode := range Modes {
		v, err := Schema().Resolve(nil, []string{"mode=" + mode, "horizon=500"})
		if err != nil {
			t.Fatal(err)
		}
		cells := []*batch.Cell{{Seed: 1, Values: v}, {Seed: 2, Values: v}}
		var total int64
		if _, err := (Family{}).RunGroup(context.Background(), cells, func(w int64) {
			if w <= 0 {
				t.Errorf("%s: progress step %d", mode, w)
			}
			total += w
		}); err != nil {
			t.Fatal(err)
		}
		if want := 2 * (Family{}).Work(v); total != want {
			t.Errorf("%s: progress adds up to %d, want %d", mode, total, want)
		}
	}
}

// TestCancel: a cancelled context stops a run with its error.
func TestCancel(t *testing.T) {
	for _, mode := range Modes {
		cfg := config(t, "mode="+mode)
		star, _ := cfg.Problem.Solve()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Run(ctx, cfg, star, 1, nil, nil); err != context.Canceled {
			t.Errorf("%s: error %v, want context.Canceled", mode, err)
		}
	}
}

// TestBadInputs: every invalid parameter point is refused with a message
// that names the parameter and what is allowed.
func TestBadInputs(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"lo=3"}, "infeasible box: class 1 (workers 1-5) has C_i = [lo, hi1]^d = [3, 2]^5"},
		{[]string{"hi2=-1"}, "want lo <= hi2"},
		{[]string{"lo=2", "hi1=3"}, "infeasible problem: the constraint ||thetabar||^2 <= budget = 9 cannot hold"},
		{[]string{"constraint=sum", "sum_budget=-1"}, "sum_k thetabar_k <= sum_budget = -1 cannot hold"},
		{[]string{"upload_lo=-0.5"}, "parameter upload_lo = \"-0.5\": out of range; want a number >= 0"},
		{[]string{"broadcast_lo=2"}, "parameters broadcast, broadcast_lo, broadcast_hi: delays on [lo, hi] = [2, 1]"},
		{[]string{"c_lo=-1"}, "parameter c_lo = \"-1\": out of range"},
		{[]string{"c_lo=6"}, "compute times U[c_lo, c_hi] = U[6, 5]: want c_lo <= c_hi"},
		{[]string{"straggler_time=0"}, "parameter straggler_time = \"0\": out of range"},
		{[]string{"a=0"}, "parameter a = \"0\": out of range; want a number > 0"},
		{[]string{"lambda_max=0"}, "parameter lambda_max = \"0\": out of range; want a number > 0"},
		{[]string{"lambda_max=-1"}, "parameter lambda_max"},
		{[]string{"c_alpha=1"}, "parameter c_alpha"},
		{[]string{"stragglers=11"}, "parameter stragglers = \"11\": \"11\" is not a worker index; want 1-based indices 1..n = 1..10"},
		{[]string{"stragglers=1 1"}, "worker 1 is named twice"},
		{[]string{"fail_prob=1"}, "parameter fail_prob"},
		{[]string{"mode=async"}, "want one of asyn-pd, sync-pd"},
	} {
		v, err := Schema().Resolve(nil, c.set)
		if err == nil {
			_, err = NewConfig(v)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.set, err, c.want)
		}
	}
}

// TestUnusedParametersReset: parameters a point does not use take their
// defaults, and stragglers are written canonically.
func TestUnusedParametersReset(t *testing.T) {
	v, err := Schema().Resolve(nil, []string{"sum_budget=7", "c_sigma=2", "c_alpha=4", "fail_time=3", "straggler_time=9", "stragglers= 7  2 "})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := NewConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"sum_budget": "5", "c_sigma": "1", "c_alpha": "2.5", "fail_time": "100", "straggler_time": "9", "stragglers": "2 7"} {
		if got := cfg.Values.Text(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// TestGridEndsAtHorizon: both algorithms record grid + 1 rows, the last at
// the horizon exactly, also where grid * (horizon / grid) rounds above the
// horizon and Sync-PD's last round ends between the two.
func TestGridEndsAtHorizon(t *testing.T) {
	for _, mode := range Modes {
		for _, grid := range []string{"187", "300", "7"} {
			cfg := config(t, "mode="+mode, "c_lo=0.1", "c_hi=0.1", "upload_hi=0", "broadcast_hi=0", "horizon=1.4", "grid="+grid)
			star, _ := cfg.Problem.Solve()
			res, err := Run(context.Background(), cfg, star, 1, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Grid) != cfg.Grid+1 || res.Grid[cfg.Grid].Time != 1.4 {
				t.Errorf("%s, grid %s: %d rows, the last at %v; want %d rows, the last at 1.4",
					mode, grid, len(res.Grid), res.Grid[len(res.Grid)-1].Time, cfg.Grid+1)
			}
		}
	}
}
