package zo

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/kernels/philox"
	"github.com/batchrun/batchrun/policy"
)

func runOrFatal(t testing.TB, cfg Config, seeds []uint64, opt Options) *Results {
	t.Helper()
	res, err := Run(context.Background(), cfg, seeds, cpu.New(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// seedResult gathers everything a run reports about one seed, in a form
// that reflect.DeepEqual compares bit for bit.
type seedResult struct {
	Traces   []SeedTrace // one per mode
	Baseline BaselineTrace
	EvalRef  EvalReference
}

func resultOf(t testing.TB, res *Results, seed uint64) seedResult {
	t.Helper()
	i := slices.Index(res.Seeds, seed)
	if i < 0 {
		t.Fatalf("seed %d not in the run", seed)
	}
	var out seedResult
	for _, m := range res.Modes {
		if m.Traces[i].Seed != seed {
			t.Fatalf("mode %s: trace %d is of seed %d, want %d", m.Mode, i, m.Traces[i].Seed, seed)
		}
		out.Traces = append(out.Traces, m.Traces[i])
	}
	if res.Baselines != nil {
		out.Baseline = res.Baselines[i]
	}
	if res.EvalRefs != nil {
		out.EvalRef = res.EvalRefs[i]
	}
	return out
}

// TestReproducibility checks that a seed's numbers do not depend on the
// batch it runs in, the group size, the worker count or the seed order:
// the full paper shape (N = 24, 5-30-30-1, B = 10), all four modes,
// baselines and held-out evaluation, T = 50.
func TestReproducibility(t *testing.T) {
	cfg := testConfig(t, "T=50", "E=25", "eval_samples=20")
	if len(cfg.Modes) != 4 || cfg.N != 24 || !slices.Equal(cfg.Hidden, []int{30, 30}) || !cfg.Baselines {
		t.Fatalf("paper000 is not the full shape: %+v", cfg)
	}
	seeds := make([]uint64, 16)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	reversed := slices.Clone(seeds)
	slices.Reverse(reversed)

	base := runOrFatal(t, cfg, seeds, Options{Workers: 1, GroupSize: 16})
	want3 := resultOf(t, base, 3)
	for _, tr := range want3.Traces {
		if len(tr.SumRate) != cfg.T || len(tr.Eval) != 3 {
			t.Fatalf("mode trace has %d iterations and %d evaluations, want %d and 3", len(tr.SumRate), len(tr.Eval), cfg.T)
		}
	}
	if reflect.DeepEqual(want3, resultOf(t, base, 4)) {
		t.Fatal("seeds 3 and 4 give identical results: the comparison would be vacuous")
	}

	alone := runOrFatal(t, cfg, []uint64{3}, Options{Workers: 1})
	if got := resultOf(t, alone, 3); !reflect.DeepEqual(got, want3) {
		t.Errorf("seed 3 alone differs from seed 3 in a batch of 16")
	}

	for _, tc := range []struct {
		name  string
		seeds []uint64
		opt   Options
	}{
		{"workers2-group5", seeds, Options{Workers: 2, GroupSize: 5}},
		{"workers3-group1-reversed", reversed, Options{Workers: 3, GroupSize: 1}},
		{"workers2-default-group", seeds, Options{Workers: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.name != "workers2-group5" {
				t.Skip("short mode: one layout is enough")
			}
			res := runOrFatal(t, cfg, tc.seeds, tc.opt)
			for _, seed := range seeds {
				if got, want := resultOf(t, res, seed), resultOf(t, base, seed); !reflect.DeepEqual(got, want) {
					t.Errorf("seed %d: results differ from those of one group of 16 on one worker", seed)
				}
			}
		})
	}
}

// TestRunErrorsAndProgress checks Run's argument errors, cancellation and
// progress accounting.
func TestRunErrorsAndProgress(t *testing.T) {
	cfg := testConfig(t, "T=70", "N=4", "hidden=3", "B=2", "K=2", "wmmse_iter=5")
	if _, err := Run(context.Background(), cfg, nil, cpu.New(), Options{}); err == nil {
		t.Error("Run without seeds: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, cfg, []uint64{1, 2}, cpu.New(), Options{Workers: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: %v, want context.Canceled", err)
	}
	var mu sync.Mutex
	var last, total int64
	calls := 0
	res, err := Run(context.Background(), cfg, []uint64{1, 2, 3}, cpu.New(), Options{Workers: 2, Progress: func(done, tot int64) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		last = max(last, done)
		total = tot
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(3 * cfg.T * (len(cfg.Modes) + 1))
	if total != want || last != want || calls == 0 {
		t.Errorf("progress reached %d of %d (%d calls), want %d of %d", last, total, calls, want, want)
	}
	if res.Backend != "cpu/generic" || len(res.Modes) != 4 {
		t.Errorf("results: backend %q, %d modes", res.Backend, len(res.Modes))
	}
	for m, mode := range Modes {
		if res.Modes[m].Mode != mode {
			t.Errorf("mode %d is %q, want %q", m, res.Modes[m].Mode, mode)
		}
	}
}

// TestBaselines regenerates every seed's training channel (2B samples per
// iteration, the first B scored) and recomputes the fixed policies with the
// float64 references of packages channel and policy.
func TestBaselines(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides []string
		ordering  bool // check WMMSE >= full power > random power on average
	}{
		{"paper000", []string{"mode=sync", "T=30", "hidden=3"}, true},
		{"paper000-B3", []string{"mode=sync", "T=20", "B=3", "hidden=3"}, true},
		{"rayleigh", []string{"mode=sync", "T=20", "hidden=3", "channel=rayleigh", "N=10", "Pmax=1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, tc.overrides...)
			seeds := []uint64{0, 1, 2}
			res := runOrFatal(t, cfg, seeds, Options{Workers: 2})
			N, B := cfg.N, cfg.B
			var full, rnd, wm float64
			for s, seed := range seeds {
				key := SeedKey(seed)
				proc := refProcess(t, &cfg, key, tagFading)
				h32 := make([]float32, N*N)
				h := make([]float64, N*N)
				p := make([]float64, N)
				solver := policy.NewWMMSE(N)
				bt := res.Baselines[s]
				for it := 0; it < cfg.T; it++ {
					var wf, wr, ww float64
					for b := 0; b < 2*B; b++ {
						proc.Next(h32)
						if b >= B {
							continue
						}
						for i, v := range h32 {
							h[i] = float64(v)
						}
						for i := range p {
							p[i] = cfg.Pmax
						}
						wf += channel.SumRate(h, p, cfg.Sigma2) / float64(B)
						for i := range p {
							p[i] = cfg.Pmax * philox.Float64(key, stream(tagRandomPower, 0, 0), uint64((it*B+b)*N+i))
						}
						wr += channel.SumRate(h, p, cfg.Sigma2) / float64(B)
						_, r := solver.Solve(h, cfg.Sigma2, cfg.Pmax, cfg.WMMSEIter, cfg.WMMSETol, p)
						ww += r / float64(B)
					}
					if relDiff(bt.FullPower[it], wf) > 1e-12 || relDiff(bt.RandomPower[it], wr) > 1e-12 || relDiff(bt.WMMSE[it], ww) > 1e-12 {
						t.Fatalf("seed %d iteration %d: baselines %g %g %g, want %g %g %g",
							seed, it, bt.FullPower[it], bt.RandomPower[it], bt.WMMSE[it], wf, wr, ww)
					}
					if bt.WMMSE[it] < bt.FullPower[it]-1e-9 {
						t.Errorf("seed %d iteration %d: WMMSE %g below its full-power start %g", seed, it, bt.WMMSE[it], bt.FullPower[it])
					}
					full += wf
					rnd += wr
					wm += ww
				}
			}
			n := float64(len(seeds) * cfg.T)
			t.Logf("mean sum-rate: full power %.3f, random %.3f, WMMSE %.3f", full/n, rnd/n, wm/n)
			if tc.ordering && !(wm > full && full > rnd) {
				t.Errorf("want WMMSE > full power > random power on average, got %.3f, %.3f, %.3f", wm/n, full/n, rnd/n)
			}
			// The learning modes' first iteration sees the same samples:
			// sum-rates are positive and below WMMSE's optimum plus slack.
			for s := range seeds {
				if x := res.Modes[0].Traces[s].SumRate[0]; !(x > 0) || x > 1.5*res.Baselines[s].WMMSE[0]+1 {
					t.Errorf("seed %d: first sum-rate %g against WMMSE %g", seeds[s], x, res.Baselines[s].WMMSE[0])
				}
			}
		})
	}
}

// TestHeldOutEvaluation checks the evaluation schedule (iterations 0, E, 2E,
// ... <= T, and T itself), that every mode starts from the same evaluation (shared init),
// the references on the held-out set, and the summary's fraction of WMMSE.
func TestHeldOutEvaluation(t *testing.T) {
	for _, tc := range []struct {
		T, E  int
		iters []int
	}{
		{20, 5, []int{0, 5, 10, 15, 20}},
		{12, 5, []int{0, 5, 10, 12}}, // the final policies are always evaluated
		{7, 1, []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{4, 9, []int{0, 4}},
		{6, 0, nil},
	} {
		cfg := testConfig(t, "T="+strconv.Itoa(tc.T), "E="+strconv.Itoa(tc.E), "eval_samples=12", "baselines=false")
		seeds := []uint64{5, 6}
		res := runOrFatal(t, cfg, seeds, Options{Workers: 2})
		for _, m := range res.Modes {
			for s, tr := range m.Traces {
				var iters []int
				for _, e := range tr.Eval {
					iters = append(iters, e.Iter)
					if !(e.SumRate > 0) || math.IsInf(e.SumRate, 0) {
						t.Errorf("T=%d E=%d %s seed %d: evaluation %+v", tc.T, tc.E, m.Mode, seeds[s], e)
					}
				}
				if !slices.Equal(iters, tc.iters) {
					t.Errorf("T=%d E=%d %s: evaluations at %v, want %v", tc.T, tc.E, m.Mode, iters, tc.iters)
				}
				if tc.E > 0 && tr.Eval[0] != res.Modes[0].Traces[s].Eval[0] {
					t.Errorf("%s seed %d: initial evaluation %v differs from %s's %v", m.Mode, seeds[s], tr.Eval[0], res.Modes[0].Mode, res.Modes[0].Traces[s].Eval[0])
				}
			}
		}
		sums := res.Summaries()
		if len(sums) != len(seeds)*len(cfg.Modes) {
			t.Fatalf("%d summaries, want %d", len(sums), len(seeds)*len(cfg.Modes))
		}
		if tc.E == 0 {
			if res.EvalRefs != nil {
				t.Error("E = 0: held-out references computed")
			}
			for _, ss := range sums {
				if !math.IsNaN(ss.EvalFinal) || !math.IsNaN(ss.FullLate) {
					t.Errorf("E = 0, no baselines: summary %+v", ss)
				}
			}
			continue
		}
		// References: full power and WMMSE on the regenerated held-out set
		// (K burn-in samples, then eval_samples samples).
		for s, seed := range seeds {
			key := SeedKey(seed)
			proc := refProcess(t, &cfg, key, tagEvalFading)
			h32 := make([]float32, cfg.N*cfg.N)
			h := make([]float64, cfg.N*cfg.N)
			p := make([]float64, cfg.N)
			solver := policy.NewWMMSE(cfg.N)
			for b := 0; b < cfg.K; b++ {
				proc.Next(h32)
			}
			var full, wm float64
			for b := 0; b < cfg.EvalSamples; b++ {
				proc.Next(h32)
				for i, v := range h32 {
					h[i] = float64(v)
				}
				policy.FullPower(p, cfg.Pmax)
				full += channel.SumRate(h, p, cfg.Sigma2) / float64(cfg.EvalSamples)
				_, r := solver.Solve(h, cfg.Sigma2, cfg.Pmax, cfg.WMMSEIter, cfg.WMMSETol, p)
				wm += r / float64(cfg.EvalSamples)
			}
			ref := res.EvalRefs[s]
			if relDiff(ref.FullPower, full) > 1e-12 || relDiff(ref.WMMSE, wm) > 1e-12 {
				t.Errorf("seed %d: held-out references %+v, want full %g WMMSE %g", seed, ref, full, wm)
			}
			if !(wm >= full) {
				t.Errorf("seed %d: held-out WMMSE %g below full power %g", seed, wm, full)
			}
		}
		for _, ss := range sums {
			frac := ss.EvalFinal / ss.EvalWMMSE
			if !(frac > 0 && frac < 1.5) {
				t.Errorf("T=%d E=%d %s seed %d: held-out fraction of WMMSE %g, want in (0, 1.5)", tc.T, tc.E, ss.Mode, ss.Seed, frac)
			}
			if !math.IsNaN(ss.FullLate) {
				t.Errorf("baselines off but summary has full power %g", ss.FullLate)
			}
		}
	}
}
