package zo

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/kernels/cpu"
)

// An iteration of a zeroth-order mode allocates nothing, also right after a
// garbage collection (no work buffers that the collector could take away).
// (The first-order references run gorgonia's tape machine, which
// allocates on every run.)
func TestStepAllocatesNothing(t *testing.T) {
	for _, mode := range ZOModes {
		cfg := testConfig(t, "mode="+mode, "T=64", "E=8", "eval_samples=4")
		g, err := newGroup(&cfg, mode, cpu.New(), []uint64{1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		traces := make([]SeedTrace, g.S)
		for s := range traces {
			traces[s].SumRate = make([]float64, cfg.T)
		}
		t0 := 0
		for ; t0 < 3; t0++ {
			if err := g.step(t0, traces); err != nil {
				t.Fatal(err)
			}
		}
		allocs := testing.AllocsPerRun(20, func() {
			runtime.GC()
			if err := g.step(t0, traces); err != nil {
				t.Fatal(err)
			}
			g.evaluate(t0, traces[:0])
			t0++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per iteration, want 0", mode, allocs)
		}
	}
}

// Policies that blow up make the run fail, naming where, instead of
// writing NaN.
func TestDivergedRunFails(t *testing.T) {
	cfg := testConfig(t, "mode=sync", "T=40", "alpha=1e30")
	_, err := Run(context.Background(), &cfg, []uint64{0}, cpu.New(), nil)
	if err == nil || !strings.Contains(err.Error(), "diverged") || !strings.Contains(err.Error(), "seed 0") {
		t.Fatalf("err = %v, want a divergence error naming the seed", err)
	}
}
