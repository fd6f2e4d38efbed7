package asynpd

import (
	"context"
	"testing"
)

// benchmarkRun reports worker updates per second of one run of cfg.
func benchmarkRun(b *testing.B, cfg *Config) {
	star, err := cfg.Problem.Solve()
	if err != nil {
		b.Fatal(err)
	}
	var updates int64
	seed := uint64(1)
	for b.Loop() {
		res, err := Run(context.Background(), cfg, star, seed, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		updates += res.Updates
		seed++
	}
	b.ReportMetric(float64(updates)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkPaper003 is Asyn-PD at the paper's size: 10 workers, d = 5,
// 3000 time units (about 12,000 updates).
func BenchmarkPaper003(b *testing.B) {
	benchmarkRun(b, config(b))
}

// BenchmarkWorkers10k is Asyn-PD with 10,000 workers, d = 5, for 2500 time
// units: about 10 million worker updates.
func BenchmarkWorkers10k(b *testing.B) {
	benchmarkRun(b, config(b, "n=10000", "horizon=2500", "grid=100"))
}
