package zo

import (
	"testing"
)

// Over the paper's horizon every zeroth-order mode must learn: the late-window sum-rate
// (iterations 1001-2000) is above that of the first 100 iterations (by 2%:
// central-zo gets near full power within them), and pooled over seeds it is
// close to full power on the same channels
// (spec section 6: the reference code reaches 0.96-1.0 of full power on its
// seed-42 geometry).
func TestModesLearnOnPaper000(t *testing.T) {
	if testing.Short() {
		t.Skip("full 2000-iteration runs; skipped with -short")
	}
	cfg := testConfig(t)
	seeds := []uint64{0, 1, 2, 3}
	lf := cfg.LateFrom() - 1
	var full float64
	for _, tr := range runOrFatal(t, withMode(cfg, ModeFullPower), seeds) {
		full += mean(tr.SumRate[lf:])
	}
	// One batched group of the seeds per mode; the modes run in parallel.
	for _, mode := range ZOModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var early, late float64
			for _, tr := range runOrFatal(t, withMode(cfg, mode), seeds) {
				early += mean(tr.SumRate[:100])
				late += mean(tr.SumRate[lf:])
			}
			n := float64(len(seeds))
			t.Logf("%-12s first 100: %.3f  late: %.3f  late/full power: %.3f", mode, early/n, late/n, late/full)
			if late < 1.02*early {
				t.Errorf("%s: late-window sum-rate %.3f is not 2%% above the first 100 iterations' %.3f", mode, late/n, early/n)
			}
			if r := late / full; r < 0.85 || r > 1.1 {
				t.Errorf("%s: late window / full power = %.3f, want within [0.85, 1.1]", mode, r)
			}
		})
	}
}
