package zo

import (
	"context"
	"testing"

	"github.com/batchrun/batchrun/kernels/cpu"
)

// Over the paper's horizon every mode must learn: the late-window sum-rate
// (iterations 1001-2000) is above that of the first 100 iterations (by 2%:
// central-zo gets near full power within them), and pooled over seeds it is
// close to full power on the same channels
// (spec section 6: the reference code reaches 0.96-1.0 of full power on its
// seed-42 geometry).
func TestModesLearnOnPaper000(t *testing.T) {
	if testing.Short() {
		t.Skip("full 2000-iteration runs; skipped with -short")
	}
	v, err := Schema().Resolve(Presets()[0].Set, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := NewConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	seeds := []uint64{0, 1, 2, 3}
	res, err := Run(context.Background(), cfg, seeds, cpu.New(), Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	lf := cfg.LateFrom() - 1
	var full float64
	for _, b := range res.Baselines {
		full += mean(b.FullPower[lf:])
	}
	for _, m := range res.Modes {
		var early, late float64
		for _, tr := range m.Traces {
			early += mean(tr.SumRate[:100])
			late += mean(tr.SumRate[lf:])
		}
		t.Logf("%-12s first 100: %.3f  late: %.3f  late/full power: %.3f", m.Mode, early/4, late/4, late/full)
		if late < 1.02*early {
			t.Errorf("%s: late-window sum-rate %.3f is not 2%% above the first 100 iterations' %.3f", m.Mode, late/4, early/4)
		}
		if r := late / full; r < 0.85 || r > 1.1 {
			t.Errorf("%s: late window / full power = %.3f, want within [0.85, 1.1]", m.Mode, r)
		}
	}
}
