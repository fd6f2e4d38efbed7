package zo

import (
	"context"
	"math"
	"testing"

	"github.com/batchrun/batchrun/kernels/cpu"
)

// testConfig resolves the paper000 preset with the given overrides.
func testConfig(t testing.TB, overrides ...string) Config {
	t.Helper()
	v, err := Schema().Resolve(Presets()[0].Set, overrides)
	if err != nil {
		t.Fatalf("resolve %v: %v", overrides, err)
	}
	cfg, err := NewConfig(v)
	if err != nil {
		t.Fatalf("NewConfig %v: %v", overrides, err)
	}
	return cfg
}

// withMode returns cfg running mode instead, with every other parameter
// unchanged.
func withMode(cfg Config, mode string) Config {
	cfg.Mode = mode
	cfg.Values = cfg.Values.With("mode", mode)
	return cfg
}

// runOrFatal runs cfg.Mode for seeds as one batched group on the CPU
// backend and checks that the traces come back in the order of seeds.
func runOrFatal(t testing.TB, cfg Config, seeds []uint64) []SeedTrace {
	t.Helper()
	traces, err := Run(context.Background(), &cfg, seeds, cpu.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != len(seeds) {
		t.Fatalf("%s: %d traces for %d seeds", cfg.Mode, len(traces), len(seeds))
	}
	for i, tr := range traces {
		if tr.Seed != seeds[i] {
			t.Fatalf("%s: trace %d is of seed %d, want %d", cfg.Mode, i, tr.Seed, seeds[i])
		}
		if len(tr.SumRate) != cfg.T {
			t.Fatalf("%s seed %d: %d iterations in the trace, want %d", cfg.Mode, tr.Seed, len(tr.SumRate), cfg.T)
		}
	}
	return traces
}

// relDiff is |a-b| relative to the larger magnitude, with a floor of 1 so
// that values near zero are compared absolutely.
func relDiff(a, b float64) float64 {
	return math.Abs(a-b) / max(math.Abs(a), math.Abs(b), 1)
}

// maxRelDiff is the largest relDiff of two equally long series (+Inf when
// the lengths differ or a value is NaN).
func maxRelDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range a {
		d := relDiff(a[i], b[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		worst = max(worst, d)
	}
	return worst
}
