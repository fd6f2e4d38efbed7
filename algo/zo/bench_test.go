package zo

import (
	"fmt"
	"testing"

	"github.com/batchrun/batchrun/kernels/cpu"
)

// BenchmarkIteration measures one iteration of paper000 (N = 24, 5-30-30-1,
// B = 10) for a batched group of 64 seeds on one core, per learning mode
// (the fixed policies do not iterate a group). It reports the time per
// iteration per seed; a 2000-iteration seed-run costs 2000 times that
// (divide by the cores for the amortized figure of a run).
func BenchmarkIteration(b *testing.B) {
	for _, mode := range LearnModes {
		b.Run(mode, func(b *testing.B) {
			// Warm up past the first iterations, whose message buffers are
			// still empty.
			perSeed := benchSteps(b, Presets()[0].Set, []string{"mode=" + mode, "T=4096"}, 64, 50)
			b.ReportMetric(perSeed/1e3, "us/iter/seed")
			b.ReportMetric(perSeed*2000/1e9, "s/seed-run")
		})
	}
}

// BenchmarkScaling measures one iteration per seed over the agent count at
// constant density (geometry=density: L = 24 sqrt(N/24), l = 6), so that
// the time can be fitted to the spec's cost model O(N B params + N^2 B):
// the exponent in N must approach 2 (the channel and the message buffers),
// never 3. Run with -benchtime 10x; N = 1024 takes tens of milliseconds per
// iteration and seed (seconds on the generic kernels).
func BenchmarkScaling(b *testing.B) {
	for _, mode := range []string{ModeAsync, ModeSync} {
		for _, n := range []int{24, 64, 256, 1024} {
			b.Run(fmt.Sprintf("%s/N=%d", mode, n), func(b *testing.B) {
				seeds := max(1, min(8, 4096/n))
				perSeed := benchSteps(b, nil, []string{"mode=" + mode, "geometry=density", fmt.Sprintf("N=%d", n), "T=1000"}, seeds, 3)
				b.ReportMetric(perSeed/1e6, "ms/iter/seed")
			})
		}
	}
}

// benchSteps times iterations of a batched group of seeds 0..seeds-1 of the
// configuration (preset settings, then overrides) after warmup untimed
// iterations, on the default kernels, and returns nanoseconds per iteration
// per seed.
func benchSteps(b *testing.B, preset map[string]string, overrides []string, seeds, warmup int) float64 {
	v, err := Schema().Resolve(preset, overrides)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := NewConfig(v)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]uint64, seeds)
	for i := range ids {
		ids[i] = uint64(i)
	}
	g, err := newGroup(&cfg, cfg.Mode, cpu.New(), ids)
	if err != nil {
		b.Fatal(err)
	}
	traces := make([]SeedTrace, seeds)
	for s := range traces {
		traces[s].SumRate = make([]float64, cfg.T)
	}
	t := 0
	for ; t < warmup; t++ {
		g.step(t, traces)
	}
	for b.Loop() {
		if t == cfg.T {
			b.Fatal("benchmark ran past its horizon; raise T")
		}
		g.step(t, traces)
		t++
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(seeds)
}
