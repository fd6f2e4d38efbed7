package zo

import (
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
			ids := make([]uint64, seeds)
			for i := range ids {
				ids[i] = uint64(i)
			}
			g, err := newGroup(&cfg, mode, cpu.New(), ids)
			if err != nil {
				b.Fatal(err)
			}
			traces := make([]SeedTrace, seeds)
			for s := range traces {
				traces[s].SumRate = make([]float64, T)
			}
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
