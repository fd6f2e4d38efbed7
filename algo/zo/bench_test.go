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
	const seeds, T = 64, 1 << 12
	for _, mode := range LearnModes {
		b.Run(mode, func(b *testing.B) {
			v, err := Schema().Resolve(Presets()[0].Set, []string{"mode=" + mode, "T=4096"})
			if err != nil {
				b.Fatal(err)
			}
			cfg, err := NewConfig(v)
			if err != nil {
				b.Fatal(err)
			}
			g, traces := benchGroup(b, &cfg, seeds)
			// Warm up past the first iterations, whose message buffers are
			// still empty.
			t := 0
			for ; t < 50; t++ {
				g.step(t, traces)
			}
			for b.Loop() {
				if t == T {
					b.Fatal("benchmark ran past its horizon; raise T")
				}
				g.step(t, traces)
				t++
			}
			perSeed := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / seeds
			b.ReportMetric(perSeed/1e3, "us/iter/seed")
			b.ReportMetric(perSeed*2000/1e9, "s/seed-run")
		})
	}
}

// BenchmarkScaling measures one iteration per seed over the agent count at
// constant density (geometry=density: L = 24 sqrt(N/24), l = 6), so that
// the time can be fitted to the spec's cost model O(N B params + N^2 B):
// the exponent in N must approach 2 (the channel and the message buffers),
// never 3. Run with -benchtime 3x; N = 1024 takes seconds per iteration
// on the generic kernels.
func BenchmarkScaling(b *testing.B) {
	for _, mode := range []string{ModeAsync, ModeSync} {
		for _, n := range []int{24, 64, 256, 1024} {
			b.Run(fmt.Sprintf("%s/N=%d", mode, n), func(b *testing.B) {
				seeds := max(1, min(8, 4096/n))
				v, err := Schema().Resolve(nil, []string{"mode=" + mode, "geometry=density", fmt.Sprintf("N=%d", n), "T=1000"})
				if err != nil {
					b.Fatal(err)
				}
				cfg, err := NewConfig(v)
				if err != nil {
					b.Fatal(err)
				}
				g, traces := benchGroup(b, &cfg, seeds)
				t := 0
				for ; t < 3; t++ {
					g.step(t, traces)
				}
				for b.Loop() {
					if t == cfg.T {
						b.Fatal("benchmark ran past its horizon")
					}
					g.step(t, traces)
					t++
				}
				perSeed := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(seeds)
				b.ReportMetric(perSeed/1e6, "ms/iter/seed")
			})
		}
	}
}

// benchGroup returns a batched group of seeds 0..seeds-1 of cfg.Mode on the
// default kernels, with traces for cfg.T iterations.
func benchGroup(b *testing.B, cfg *Config, seeds int) (*group, []SeedTrace) {
	ids := make([]uint64, seeds)
	for i := range ids {
		ids[i] = uint64(i)
	}
	g, err := newGroup(cfg, cfg.Mode, cpu.New(), ids)
	if err != nil {
		b.Fatal(err)
	}
	traces := make([]SeedTrace, seeds)
	for s := range traces {
		traces[s].SumRate = make([]float64, cfg.T)
	}
	return g, traces
}
