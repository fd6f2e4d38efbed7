package psdda

import (
	"context"
	"testing"
)

// BenchmarkScaling runs one seed of the scaling setup of the issue: PS-DDA
// on a random 5-strongly connected sequence with mean out-degree 5, least
// squares in d = 10, one seed of T = 1,000 steps per op, traced at 100
// log-spaced steps (the run is 8 such seeds). Report: seed-steps/s.
func BenchmarkScaling(b *testing.B) {
	for _, tc := range []struct{ name, n, b string }{
		{"n=10000/b=1", "10000", "1"}, {"n=10000/b=10", "10000", "10"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v, err := Schema().Resolve(nil, []string{"objective=lsq", "graph=random", "d=10", "T=1000", "degree=5", "window=5",
				"node_errors=off", "n=" + tc.n, "b=" + tc.b})
			if err != nil {
				b.Fatal(err)
			}
			cfg, err := NewConfig(v)
			if err != nil {
				b.Fatal(err)
			}
			seed := uint64(0)
			for b.Loop() {
				if _, err := Run(context.Background(), &cfg, seed, func(int) {}); err != nil {
					b.Fatal(err)
				}
				seed++
			}
			b.ReportMetric(float64(cfg.T)*float64(b.N)/b.Elapsed().Seconds(), "seed-steps/s")
		})
	}
}
