package zo

import (
	"math"
	"testing"
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
