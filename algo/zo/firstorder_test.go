package zo

import (
	"math"
	"testing"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels/cpu"
)

// presetSeeds returns the seeds of replicates 0..n-1 of paper000 (the
// seeds `batchrun run --preset paper000 --seeds n` runs; modes are paired,
// so every mode has the same ones).
func presetSeeds(t testing.TB, n int) []uint64 {
	t.Helper()
	spec, err := batch.ParseSpec("paper000.yaml", []byte("experiment: zo\npreset: paper000\nset: {mode: async}\n"))
	if err != nil {
		t.Fatal(err)
	}
	spec.Replicates = batch.Count(n)
	pl, err := batch.NewPlan(spec, batch.Families{"zo": Family{Backend: cpu.New()}})
	if err != nil {
		t.Fatal(err)
	}
	seeds := make([]uint64, len(pl.Cells))
	for i, c := range pl.Cells {
		seeds[i] = c.Seed
	}
	return seeds
}

// The first-order references on paper000's replicates 0-7 (the seeds of
// `batchrun run --preset paper000 --seeds 8`): the late-window sum-rate
// (iterations 1001-2000) over full power on the same channels, pooled over
// the seeds, is at least 0.97 and at least the async zeroth-order mode's
// (spec section 6: the reference code's first-order agents reach 6.08 and
// 5.98 against 5.9 for full power and 5.76 for async ZO).
func TestFirstOrderOnPaper000(t *testing.T) {
	if testing.Short() {
		t.Skip("full 2000-iteration runs of 8 seeds; skipped with -short")
	}
	cfg := testConfig(t)
	seeds := presetSeeds(t, 8)
	lf := cfg.LateFrom() - 1
	late := func(mode string) float64 {
		sum := 0.0
		for _, tr := range runOrFatal(t, withMode(cfg, mode), seeds) {
			sum += mean(tr.SumRate[lf:])
		}
		return sum
	}
	full := late(ModeFullPower)
	async := late(ModeAsync) / full
	t.Logf("%-20s late/full power %.4f", ModeAsync, async)
	for _, mode := range FirstOrderModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := late(mode) / full
			t.Logf("%-20s late/full power %.4f", mode, r)
			if r < 0.97 || r < async || math.IsNaN(r) {
				t.Errorf("%s: late window / full power = %.4f, want >= 0.97 and >= async's %.4f", mode, r, async)
			}
		})
	}
}

// A first-order run's first logged sum-rate is that of the initial
// policies on the first base batch, which every learning mode of the seed
// shares: the graph (float64) and the kernels (float32) agree on it. Its
// held-out evaluations run the kernels on the trained policies.
func TestFirstOrderSharesTheStart(t *testing.T) {
	cfg := testConfig(t, "T=3", "E=1", "eval_samples=10")
	seeds := []uint64{4, 5}
	ref := runOrFatal(t, withMode(cfg, ModeSync), seeds)
	for _, mode := range FirstOrderModes {
		fo := runOrFatal(t, withMode(cfg, mode), seeds)
		for i := range seeds {
			if d := relDiff(fo[i].SumRate[0], ref[i].SumRate[0]); d > 1e-5 {
				t.Errorf("%s seed %d: first sum-rate %.7g, sync's %.7g", mode, seeds[i], fo[i].SumRate[0], ref[i].SumRate[0])
			}
			if d := relDiff(fo[i].Eval[0].SumRate, ref[i].Eval[0].SumRate); d != 0 {
				t.Errorf("%s seed %d: held-out sum-rate of the initial policies %.7g, sync's %.7g", mode, seeds[i], fo[i].Eval[0].SumRate, ref[i].Eval[0].SumRate)
			}
			if fo[i].Eval[3].SumRate == fo[i].Eval[0].SumRate {
				t.Errorf("%s seed %d: held-out sum-rate did not change in 3 Adam steps", mode, seeds[i])
			}
		}
	}
}
