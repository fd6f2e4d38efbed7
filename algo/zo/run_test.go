package zo

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/kernels/philox"
	"github.com/batchrun/batchrun/policy"
)

// sameBits reports whether two traces are equal bit for bit: the seed, every
// sum-rate and every held-out evaluation.
func sameBits(a, b SeedTrace) bool {
	if a.Seed != b.Seed || len(a.SumRate) != len(b.SumRate) || len(a.Eval) != len(b.Eval) {
		return false
	}
	for i := range a.SumRate {
		if math.Float64bits(a.SumRate[i]) != math.Float64bits(b.SumRate[i]) {
			return false
		}
	}
	for i := range a.Eval {
		if a.Eval[i].Iter != b.Eval[i].Iter || math.Float64bits(a.Eval[i].SumRate) != math.Float64bits(b.Eval[i].SumRate) {
			return false
		}
	}
	return true
}

// runInGroups runs seeds in consecutive batched groups of at most size seeds
// and returns the traces by seed.
func runInGroups(t testing.TB, cfg Config, seeds []uint64, size int) map[uint64]SeedTrace {
	t.Helper()
	out := map[uint64]SeedTrace{}
	for i := 0; i < len(seeds); i += size {
		for _, tr := range runOrFatal(t, cfg, seeds[i:min(i+size, len(seeds))]) {
			out[tr.Seed] = tr
		}
	}
	return out
}

// TestReproducibility checks that a seed's numbers do not depend on the
// other seeds of its batched group, the group size or the seed order: the
// full paper shape (N = 24, 5-30-30-1, B = 10), every learning mode and
// fixed policy, with held-out evaluation, T = 50. (Groups running
// concurrently are the sweep engine's business and tested there.)
func TestReproducibility(t *testing.T) {
	cfg := testConfig(t, "T=50", "E=25", "eval_samples=20")
	if cfg.Mode != ModeAsync || cfg.N != 24 || !slices.Equal(cfg.Hidden, []int{30, 30}) || cfg.B != 10 {
		t.Fatalf("paper000 is not the full shape: %+v", cfg)
	}
	if got := Presets()[0].Grid["mode"]; got != strings.Join(Modes, ",") {
		t.Fatalf("paper000 runs modes %q, want every mode", got)
	}
	seeds := make([]uint64, 16)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	reversed := slices.Clone(seeds)
	slices.Reverse(reversed)

	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			cfg := withMode(cfg, mode)
			base := runInGroups(t, cfg, seeds, len(seeds))
			for _, tr := range base {
				if len(tr.Eval) != 3 {
					t.Fatalf("seed %d: %d evaluations, want 3", tr.Seed, len(tr.Eval))
				}
			}
			if sameBits(base[3], SeedTrace{Seed: 3, SumRate: base[4].SumRate, Eval: base[4].Eval}) {
				t.Fatal("seeds 3 and 4 give identical results: the comparison would be vacuous")
			}
			if alone := runOrFatal(t, cfg, []uint64{3}); !sameBits(alone[0], base[3]) {
				t.Errorf("seed 3 alone differs from seed 3 in a group of 16")
			}
			for _, tc := range []struct {
				name  string
				seeds []uint64
				size  int
			}{
				{"groups-of-5", seeds, 5},
				{"groups-of-1-reversed", reversed, 1},
				{"one-group-reversed", reversed, len(seeds)},
			} {
				if testing.Short() && tc.name != "groups-of-5" {
					continue // short mode: one layout is enough
				}
				got := runInGroups(t, cfg, tc.seeds, tc.size)
				for _, seed := range seeds {
					if !sameBits(got[seed], base[seed]) {
						t.Errorf("%s: seed %d differs from seed %d in one group of 16", tc.name, seed, seed)
					}
				}
			}
		})
	}
}

// TestModes checks the mode lists, the schema's mode parameter and the
// backend the family reports.
func TestModes(t *testing.T) {
	if !slices.Equal(LearnModes, append(slices.Clone(ZOModes), FirstOrderModes...)) || len(LearnModes) != 6 {
		t.Errorf("LearnModes = %v, want the zeroth-order modes %v then the first-order ones %v", LearnModes, ZOModes, FirstOrderModes)
	}
	for _, mode := range Modes {
		if got, want := IsFirstOrder(mode), slices.Contains(FirstOrderModes, mode); got != want {
			t.Errorf("IsFirstOrder(%q) = %v, want %v", mode, got, want)
		}
	}
	if !slices.Equal(Modes, append(slices.Clone(LearnModes), BaselineModes...)) || len(Modes) != 9 {
		t.Errorf("Modes = %v, want the learning modes %v then the fixed policies %v", Modes, LearnModes, BaselineModes)
	}
	for _, mode := range Modes {
		if got, want := IsBaseline(mode), slices.Contains(BaselineModes, mode); got != want {
			t.Errorf("IsBaseline(%q) = %v, want %v", mode, got, want)
		}
	}
	if IsBaseline("bogus") {
		t.Error(`IsBaseline("bogus") = true`)
	}
	i := slices.IndexFunc(Schema(), func(p batch.Param) bool { return p.Name == "mode" })
	if i < 0 {
		t.Fatal("no mode parameter")
	}
	if p := Schema()[i]; p.Kind != batch.Enum || p.Default != ModeAsync || !slices.Equal(p.Enum, Modes) {
		t.Errorf("mode parameter %+v, want an Enum of every mode, default async", p)
	}
	if _, err := Schema().Resolve(nil, []string{"mode=sync,async"}); err == nil {
		t.Error("mode=sync,async resolves: mode is a single value")
	}
	if be := cpu.New(); (Family{Backend: be}).BackendName() != be.Name() {
		t.Errorf("backend %q, want %q", (Family{Backend: be}).BackendName(), be.Name())
	}
}

// TestRunErrorsAndProgress checks Run's argument errors, cancellation and
// progress accounting, for every mode.
func TestRunErrorsAndProgress(t *testing.T) {
	base := testConfig(t, "T=70", "N=4", "hidden=3", "B=2", "K=2", "wmmse_iter=5")
	bogus := withMode(base, "bogus")
	if _, err := Run(context.Background(), &bogus, []uint64{1}, cpu.New(), nil); err == nil {
		t.Error("Run of an unknown mode: no error")
	}
	for _, mode := range Modes {
		t.Run(mode, func(t *testing.T) {
			cfg := withMode(base, mode)
			if _, err := Run(context.Background(), &cfg, nil, cpu.New(), nil); err == nil {
				t.Error("Run without seeds: no error")
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := Run(ctx, &cfg, []uint64{1, 2}, cpu.New(), nil); !errors.Is(err, context.Canceled) {
				t.Errorf("Run with a cancelled context: %v, want context.Canceled", err)
			}
			seeds := []uint64{1, 2, 3}
			var done int64
			calls := 0
			traces, err := Run(context.Background(), &cfg, seeds, cpu.New(), func(n int) {
				if n < 0 {
					t.Errorf("progress(%d)", n)
				}
				calls++
				done += int64(n)
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(seeds) * cfg.T); done != want || calls == 0 {
				t.Errorf("progress reached %d in %d calls, want %d", done, calls, want)
			}
			for i, tr := range traces {
				if tr.Seed != seeds[i] || len(tr.SumRate) != cfg.T {
					t.Errorf("trace %d: seed %d, %d iterations; want seed %d, %d", i, tr.Seed, len(tr.SumRate), seeds[i], cfg.T)
				}
			}
		})
	}
}

// TestBaselines regenerates every seed's training channel (2B samples per
// iteration, the first B scored) and recomputes the fixed policies with the
// float64 references of packages channel and policy, against Run of the
// modes full-power, random-power and wmmse.
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
			fullRun := runOrFatal(t, withMode(cfg, ModeFullPower), seeds)
			rndRun := runOrFatal(t, withMode(cfg, ModeRandomPower), seeds)
			wmRun := runOrFatal(t, withMode(cfg, ModeWMMSE), seeds)
			for _, traces := range [][]SeedTrace{fullRun, rndRun, wmRun} {
				for _, tr := range traces {
					if tr.Eval != nil {
						t.Errorf("seed %d: E = 0 but %d held-out evaluations", tr.Seed, len(tr.Eval))
					}
				}
			}
			N, B := cfg.N, cfg.B
			var full, rnd, wm float64
			for s, seed := range seeds {
				key := SeedKey(seed)
				proc := refProcess(t, &cfg, key, tagFading)
				h32 := make([]float32, N*N)
				h := make([]float64, N*N)
				p := make([]float64, N)
				solver := policy.NewWMMSE(N)
				gf, gr, gw := fullRun[s].SumRate, rndRun[s].SumRate, wmRun[s].SumRate
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
					if relDiff(gf[it], wf) > 1e-12 || relDiff(gr[it], wr) > 1e-12 || relDiff(gw[it], ww) > 1e-12 {
						t.Fatalf("seed %d iteration %d: baselines %g %g %g, want %g %g %g",
							seed, it, gf[it], gr[it], gw[it], wf, wr, ww)
					}
					if gw[it] < gf[it]-1e-9 {
						t.Errorf("seed %d iteration %d: WMMSE %g below its full-power start %g", seed, it, gw[it], gf[it])
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
			learned := runOrFatal(t, cfg, seeds)
			for s := range seeds {
				if x := learned[s].SumRate[0]; !(x > 0) || x > 1.5*wmRun[s].SumRate[0]+1 {
					t.Errorf("seed %d: first %s sum-rate %g against WMMSE %g", seeds[s], cfg.Mode, x, wmRun[s].SumRate[0])
				}
			}
		})
	}
}

// TestHeldOutEvaluation checks the evaluation schedule (iterations 0, E, 2E,
// ... <= T, and T itself) of every mode, that every learning mode starts
// from the same evaluation (shared init), that a fixed policy's held-out
// value is constant and equal to its recomputation, the references on the
// held-out set, and the summary's held-out fraction of WMMSE.
func TestHeldOutEvaluation(t *testing.T) {
	fam := Family{Backend: cpu.New()}
	metric := func(name string) int { return slices.Index(tableSummary.Metrics, name) }
	mEval, mFull, mWMMSE, mFrac := metric("eval_sum_rate"), metric("eval_full_power"), metric("eval_wmmse"), metric("eval_frac_wmmse")
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
		base := testConfig(t, "T="+strconv.Itoa(tc.T), "E="+strconv.Itoa(tc.E), "eval_samples=12")
		seeds := []uint64{5, 6}

		// References: full power, random power and WMMSE on the
		// regenerated held-out set (K burn-in samples, then eval_samples
		// samples); random power draws agent 1 of its stream.
		type heldOut struct{ full, rnd, wmmse float64 }
		refs := make([]heldOut, len(seeds))
		for s, seed := range seeds {
			if tc.E == 0 {
				break
			}
			key := SeedKey(seed)
			proc := refProcess(t, &base, key, tagEvalFading)
			N, M := base.N, base.EvalSamples
			h32 := make([]float32, N*N)
			h := make([]float64, N*N)
			p := make([]float64, N)
			solver := policy.NewWMMSE(N)
			for b := 0; b < base.K; b++ {
				proc.Next(h32)
			}
			r := &refs[s]
			for b := 0; b < M; b++ {
				proc.Next(h32)
				for i, v := range h32 {
					h[i] = float64(v)
				}
				policy.FullPower(p, base.Pmax)
				r.full += channel.SumRate(h, p, base.Sigma2) / float64(M)
				for i := range p {
					p[i] = base.Pmax * philox.Float64(key, stream(tagRandomPower, 1, 0), uint64(b*N+i))
				}
				r.rnd += channel.SumRate(h, p, base.Sigma2) / float64(M)
				_, w := solver.Solve(h, base.Sigma2, base.Pmax, base.WMMSEIter, base.WMMSETol, p)
				r.wmmse += w / float64(M)
			}
			if !(r.wmmse >= r.full) {
				t.Errorf("seed %d: held-out WMMSE %g below full power %g", seed, r.wmmse, r.full)
			}
		}
		policyRef := func(mode string, s int) float64 {
			switch mode {
			case ModeFullPower:
				return refs[s].full
			case ModeRandomPower:
				return refs[s].rnd
			case ModeWMMSE:
				return refs[s].wmmse
			}
			return math.NaN()
		}

		var initial []EvalPoint // the first learning mode's initial evaluations
		for _, mode := range Modes {
			cfg := withMode(base, mode)
			traces := runOrFatal(t, cfg, seeds)
			for s, tr := range traces {
				var iters []int
				for _, e := range tr.Eval {
					iters = append(iters, e.Iter)
					if !(e.SumRate > 0) || math.IsInf(e.SumRate, 0) {
						t.Errorf("T=%d E=%d %s seed %d: evaluation %+v", tc.T, tc.E, mode, seeds[s], e)
					}
				}
				if !slices.Equal(iters, tc.iters) {
					t.Errorf("T=%d E=%d %s: evaluations at %v, want %v", tc.T, tc.E, mode, iters, tc.iters)
				}
				if tc.E == 0 || len(tr.Eval) == 0 {
					continue
				}
				if IsBaseline(mode) {
					want := policyRef(mode, s)
					for _, e := range tr.Eval {
						if relDiff(e.SumRate, want) > 1e-12 {
							t.Errorf("T=%d E=%d %s seed %d: held-out evaluation %+v, want the constant %g", tc.T, tc.E, mode, seeds[s], e, want)
						}
					}
					ref, err := evalReference(&cfg, seeds[s], cpu.New())
					if err != nil {
						t.Fatal(err)
					}
					if relDiff(ref.FullPower, refs[s].full) > 1e-12 || relDiff(ref.WMMSE, refs[s].wmmse) > 1e-12 || relDiff(ref.Policy, want) > 1e-12 {
						t.Errorf("%s seed %d: held-out references %+v, want full %g WMMSE %g policy %g", mode, seeds[s], ref, refs[s].full, refs[s].wmmse, want)
					}
					continue
				}
				if initial == nil {
					initial = make([]EvalPoint, len(seeds))
					for i, tr := range traces {
						initial[i] = tr.Eval[0]
					}
				} else if tr.Eval[0] != initial[s] {
					t.Errorf("%s seed %d: initial evaluation %v differs from %s's %v", mode, seeds[s], tr.Eval[0], LearnModes[0], initial[s])
				}
			}

			// The family's summary rows: the last held-out evaluation,
			// the references and the fraction of WMMSE (NaN when E = 0).
			cells := make([]*batch.Cell, len(seeds))
			for s, seed := range seeds {
				cells[s] = &batch.Cell{Key: "test-" + mode, Seed: seed, Replicate: s, Values: cfg.Values}
			}
			rows, err := fam.RunGroup(context.Background(), cells, func(int64) {})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(seeds) {
				t.Fatalf("RunGroup: %d cells' rows, want %d", len(rows), len(seeds))
			}
			for s, tables := range rows {
				if len(tables) != 3 || len(tables[0]) != 1 || len(tables[2]) != len(tc.iters) {
					t.Fatalf("%s seed %d: tables %d, summary rows %d, eval rows %d", mode, seeds[s], len(tables), len(tables[0]), len(tables[2]))
				}
				sum := tables[0][0].Metrics
				if tc.E == 0 {
					for _, m := range []int{mEval, mFull, mWMMSE, mFrac} {
						if !math.IsNaN(sum[m]) {
							t.Errorf("E = 0, %s seed %d: summary %s = %g, want NaN", mode, seeds[s], tableSummary.Metrics[m], sum[m])
						}
					}
					continue
				}
				last := traces[s].Eval[len(traces[s].Eval)-1].SumRate
				if sum[mEval] != last || relDiff(sum[mFull], refs[s].full) > 1e-12 || relDiff(sum[mWMMSE], refs[s].wmmse) > 1e-12 {
					t.Errorf("%s seed %d: summary held-out %g, full %g, WMMSE %g; want %g, %g, %g",
						mode, seeds[s], sum[mEval], sum[mFull], sum[mWMMSE], last, refs[s].full, refs[s].wmmse)
				}
				if frac := sum[mFrac]; !(frac > 0 && frac < 1.5) || relDiff(frac, last/refs[s].wmmse) > 1e-12 {
					t.Errorf("T=%d E=%d %s seed %d: held-out fraction of WMMSE %g, want %g in (0, 1.5)", tc.T, tc.E, mode, seeds[s], frac, last/refs[s].wmmse)
				}
			}
		}
	}
}
