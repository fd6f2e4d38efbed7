package zo

import (
	"testing"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels/cpu"
)

// Cell keys and seeds of the zo experiment are stable across versions:
// parameters added later (lr) leave them alone at their defaults, so old
// run directories resume and old numbers reproduce. The expected values
// are those of the first release.
func TestCellKeysStable(t *testing.T) {
	spec, err := batch.ParseSpec("stable.yaml", []byte("experiment: zo\npreset: paper000\n"))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := batch.NewPlan(spec, batch.Families{"zo": Family{Backend: cpu.New()}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		key  string
		seed uint64
	}{
		"async":       {"35f243a4994f1560", 10997758107928167162},
		"fixed-delay": {"9fd3b133274b4b3e", 10997758107928167162},
		"sync":        {"60ab869d0188dd74", 10997758107928167162},
	}
	found := 0
	for _, c := range pl.Cells {
		w, ok := want[c.Values.String("mode")]
		if !ok || c.Replicate != 0 {
			continue
		}
		found++
		if c.Key != w.key || c.Seed != w.seed {
			t.Errorf("%s replicate 0: key %s seed %d, want %s %d", c.Values.String("mode"), c.Key, c.Seed, w.key, w.seed)
		}
	}
	if found != len(want) {
		t.Errorf("found %d of the %d cells", found, len(want))
	}
}
