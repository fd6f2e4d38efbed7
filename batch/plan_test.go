package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/batchrun/batchrun/results"
)

// toyFamily is a trivial experiment family: a cell's one metric is a pure
// function of its seed and parameters, so engine tests can check what ran.
type toyFamily struct {
	runs  atomic.Int64 // groups run
	fail  string       // a value of "a" whose groups fail
	sleep time.Duration
	added bool // a later version: parameter y added with KeyOmitsDefault
}

func (*toyFamily) Name() string { return "toy" }
func (f *toyFamily) Schema() Schema {
	s := Schema{
		{Name: "a", Kind: Int, Default: "1", Range: AtLeast(0), Doc: "an integer"},
		{Name: "x", Kind: Float, Default: "0.5", Range: Between(0, 1), Doc: "a fraction"},
		{Name: "mode", Kind: Enum, Default: "p", Enum: []string{"p", "q", "r"}, Doc: "a variant"},
		{Name: "w", Kind: IntList, Default: "3,3", Range: AtLeast(1), Doc: "widths"},
	}
	if f.added {
		s = slices.Insert(s, 2, Param{Name: "y", Kind: Float, Default: "0.10", Range: AtLeast(0), Doc: "added later", KeyOmitsDefault: true})
	}
	return s
}
func (*toyFamily) Presets() []Preset {
	return []Preset{{Name: "both", Experiment: "toy", Set: map[string]string{"a": "2"}, Grid: map[string]string{"mode": "p,q"}, Replicates: 3}}
}
func (*toyFamily) Paired() []string { return []string{"mode"} }
func (*toyFamily) Tables() []results.TableDef {
	return []results.TableDef{
		{Name: "summary", Metrics: []string{"value"}},
		{Name: "trace", Step: "step", Metrics: []string{"value"}},
	}
}
func (f *toyFamily) Resolve(v Values) (Values, error) {
	if v.Int("a") == 13 {
		return Values{}, fmt.Errorf("parameter a = 13 is unlucky")
	}
	return v, nil
}
func (*toyFamily) Work(v Values) int64                    { return 2 }
func (*toyFamily) GroupBytes(v Values, n int) int64       { return int64(n) << 20 }
func (*toyFamily) Report(io.Writer, []*Cell, [][]float64) {}
func (f *toyFamily) RunGroup(ctx context.Context, cells []*Cell, progress func(int64)) ([][][]results.Row, error) {
	f.runs.Add(1)
	if f.sleep > 0 {
		select {
		case <-time.After(f.sleep):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.fail != "" && cells[0].Values.Text("a") == f.fail {
		return nil, errors.New("toy failure")
	}
	out := make([][][]results.Row, len(cells))
	for i, c := range cells {
		v := float64(c.Seed%1000) + float64(c.Values.Int("a")) + c.Values.Float("x")
		out[i] = [][]results.Row{
			{{Metrics: []float64{v}}},
			{{Step: 1, Metrics: []float64{v}}, {Step: 2, Metrics: []float64{math.NaN()}}},
		}
		progress(2)
	}
	return out, nil
}

func toyFamilies(f *toyFamily) Families { return Families{"toy": f} }

func mustPlan(t testing.TB, yaml string, f *toyFamily) *Plan {
	t.Helper()
	spec, err := ParseSpec("toy.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlan(spec, toyFamilies(f))
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func TestSpecGridExpansion(t *testing.T) {
	pl := mustPlan(t, `experiment: toy
preset: both
replicates: 2
grid:
  a: {from: 1, to: 7, step: 3}
  x: {from: 0.01, to: 1, num: 3, scale: log}
zip:
  - {w: [[1, 2], "4,4"], mode: [q, r]}
`, &toyFamily{})
	// The spec's zip replaces the preset's mode axis: 3 x 3 x 2 points.
	if len(pl.Points) != 18 || len(pl.Cells) != 36 {
		t.Fatalf("%d points, %d cells; want 18, 36", len(pl.Points), len(pl.Cells))
	}
	var got []string
	for _, a := range pl.Axes {
		var vals []string
		for _, v := range a.Values {
			vals = append(vals, strings.Join(v, "&"))
		}
		got = append(got, strings.Join(a.Params, "+")+"="+strings.Join(vals, "|"))
	}
	want := []string{"a=1|4|7", "x=0.01|0.1|1", "w+mode=1,2&q|4,4&r"}
	if !slices.Equal(got, want) {
		t.Errorf("axes %v, want %v", got, want)
	}
	// First axis slowest, replicates innermost.
	c := pl.Cells[3]
	if c.Values.Int("a") != 1 || c.Values.Float("x") != 0.01 || c.Values.String("mode") != "r" || c.Replicate != 1 {
		t.Errorf("cell 3 = a %d x %g mode %s replicate %d", c.Values.Int("a"), c.Values.Float("x"), c.Values.String("mode"), c.Replicate)
	}
	for i, c := range pl.Cells {
		if c.Index != i || c.Values.Int("a") != 2 && c.Values.Int("a")%3 != 1 {
			t.Fatalf("cell %d: index %d a %d", i, c.Index, c.Values.Int("a"))
		}
	}
}

func TestPresetAxesAndReplicates(t *testing.T) {
	pl := mustPlan(t, "experiment: toy\npreset: both\nreplicates: [4, 9]\n", &toyFamily{})
	if len(pl.Cells) != 4 || pl.Cells[0].Values.Int("a") != 2 || pl.Cells[1].Replicate != 9 || pl.Cells[2].Values.String("mode") != "q" {
		t.Errorf("cells %+v", pl.Cells)
	}
	// --set of the preset's axis parameter replaces the axis.
	spec, _ := ParseSpec("toy.yaml", []byte("experiment: toy\npreset: both\nreplicates: 1\n"))
	if err := spec.Override((&toyFamily{}).Schema(), []string{"mode=r", "a=5"}); err != nil {
		t.Fatal(err)
	}
	pl2, err := NewPlan(spec, toyFamilies(&toyFamily{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(pl2.Cells) != 1 || pl2.Cells[0].Values.String("mode") != "r" || pl2.Cells[0].Values.Int("a") != 5 {
		t.Errorf("override: %d cells, mode %s", len(pl2.Cells), pl2.Cells[0].Values.String("mode"))
	}
}

// A cell's key and seed depend on its contents only: the same parameters
// and replicate give the same key and seed in any grid, at any position.
// Paired parameters share seeds; everything else changes them.
func TestCellIdentity(t *testing.T) {
	small := mustPlan(t, "experiment: toy\nreplicates: 2\ngrid:\n  a: [3]\n", &toyFamily{})
	big := mustPlan(t, "experiment: toy\nreplicates: [5, 1, 0]\ngrid:\n  x: [0.25, 0.5]\n  a: [1, 2, 3]\n  mode: [q, p]\n", &toyFamily{})
	find := func(pl *Plan, a int, x float64, mode string, rep int) *Cell {
		for _, c := range pl.Cells {
			if c.Values.Int("a") == a && c.Values.Float("x") == x && c.Values.String("mode") == mode && c.Replicate == rep {
				return c
			}
		}
		t.Fatalf("no cell a=%d x=%g mode=%s rep=%d", a, x, mode, rep)
		return nil
	}
	for rep := 0; rep < 2; rep++ {
		s, b := find(small, 3, 0.5, "p", rep), find(big, 3, 0.5, "p", rep)
		if s.Key != b.Key || s.Seed != b.Seed {
			t.Errorf("replicate %d: key/seed differ between grids: %s/%d vs %s/%d", rep, s.Key, s.Seed, b.Key, b.Seed)
		}
	}
	p, q := find(big, 2, 0.25, "p", 1), find(big, 2, 0.25, "q", 1)
	if p.Seed != q.Seed || p.Key == q.Key {
		t.Errorf("paired modes: seeds %d %d (want equal), keys %s %s (want different)", p.Seed, q.Seed, p.Key, q.Key)
	}
	keys, seeds := map[string]bool{}, map[uint64]bool{}
	for _, c := range big.Cells {
		keys[c.Key] = true
		if c.Values.String("mode") == "p" {
			seeds[c.Seed] = true
		}
	}
	if len(keys) != len(big.Cells) || len(seeds) != len(big.Cells)/2 {
		t.Errorf("%d keys and %d seeds for %d cells", len(keys), len(seeds), len(big.Cells))
	}
	// The root seed and an empty paired list change seeds.
	root := mustPlan(t, "experiment: toy\nseed: 7\nreplicates: 2\ngrid:\n  a: [3]\n", &toyFamily{})
	unpaired := mustPlan(t, "experiment: toy\npaired: []\nreplicates: 2\ngrid:\n  mode: [p, q]\n", &toyFamily{})
	if root.Cells[0].Seed == small.Cells[0].Seed || root.Cells[0].Key == small.Cells[0].Key {
		t.Error("root seed does not change the cell")
	}
	if unpaired.Cells[0].Seed == unpaired.Cells[2].Seed {
		t.Error("paired: [] still pairs modes")
	}
	// Other pairing, other seeds: other cells (a resume must not take them
	// for done).
	paired := mustPlan(t, "experiment: toy\nreplicates: 2\ngrid:\n  mode: [p, q]\n", &toyFamily{})
	if paired.Cells[0].Key == unpaired.Cells[0].Key {
		t.Error("the key does not depend on the pairing")
	}
	// Keys are stable across versions: a change here invalidates every
	// run directory's resume.
	if got := small.Cells[0].Key; got != "427553010573611c" {
		t.Errorf("key of toy a=3 replicate 0 is %s, was 427553010573611c: the key derivation changed", got)
	}
}

// A parameter added with KeyOmitsDefault keeps the keys and seeds of the
// cells that leave it at its default (however the default is spelled), and
// gives other values cells of their own.
func TestAddedParameterKeepsKeys(t *testing.T) {
	const spec = "experiment: toy\nreplicates: 2\ngrid:\n  a: [3]\n  mode: [p, q]\n"
	old := mustPlan(t, spec, &toyFamily{})
	for _, set := range []string{"", "set: {y: 0.1}\n", "set: {y: 1e-1}\n"} {
		added := mustPlan(t, spec+set, &toyFamily{added: true})
		for i, c := range added.Cells {
			if c.Key != old.Cells[i].Key || c.Seed != old.Cells[i].Seed {
				t.Errorf("%q cell %d: key/seed %s/%d, before the parameter %s/%d", set, i, c.Key, c.Seed, old.Cells[i].Key, old.Cells[i].Seed)
			}
		}
	}
	other := mustPlan(t, spec+"set: {y: 0.2}\n", &toyFamily{added: true})
	for i, c := range other.Cells {
		if c.Key == old.Cells[i].Key || c.Seed == old.Cells[i].Seed {
			t.Errorf("y = 0.2, cell %d: same key or seed as at the default", i)
		}
	}
	if other.Cells[0].Seed != other.Cells[2].Seed {
		t.Error("y = 0.2: modes no longer paired")
	}
}

func TestSpecErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown key", "experiment: toy\nreplicas: 2\n", `toy.yaml:2: replicas: unknown key (did you mean "replicates"?)`},
		{"duplicate key", "experiment: toy\nexperiment: toy\n", "toy.yaml:2: experiment: given twice"},
		{"seed", "experiment: toy\nseed: -1\n", "toy.yaml:2: seed: want a non-negative integer"},
		{"replicates list", "experiment: toy\nreplicates: [1, 1]\n", "toy.yaml:2: replicates: replicate 1 listed twice"},
		{"replicates range", "experiment: toy\nreplicates: {from: 3, to: 1}\n", "toy.yaml:2: replicates: want integers 0 <= from <= to"},
		{"range both", "experiment: toy\ngrid:\n  a: {from: 1, to: 3, step: 1, num: 3}\n", "toy.yaml:3: grid.a: a range needs exactly one of step or num"},
		{"range scale", "experiment: toy\ngrid:\n  x: {from: 0.1, to: 1, num: 3, scale: ln}\n", `toy.yaml:3: grid.x: scale "ln": allowed: linear, log`},
		{"zip not list", "experiment: toy\nzip: {a: [1]}\n", "toy.yaml:2: zip: want a list"},
		{"set not mapping", "experiment: toy\nset: [a]\n", "toy.yaml:2: set: want a mapping"},
		{"paired unknown", "experiment: toy\npaired: [mod]\n", `toy.yaml:2: paired: unknown parameter "mod"`},
		{"resolve error", "experiment: toy\ngrid:\n  a: [12, 13]\n", "point a=13: parameter a = 13 is unlucky"},
		{"null value", "experiment: toy\nset:\n  a:\n", "toy.yaml:3: set.a: missing value"},
		{"infinite range", "experiment: toy\ngrid:\n  a: {from: 1, to: .inf, step: 1}\n", "toy.yaml:3: grid.a: a range needs finite numbers"},
		{"tiny step", "experiment: toy\ngrid:\n  x: {from: 0, to: 1, step: 1e-300}\n", "toy.yaml:3: grid.x: range has"},
		{"huge replicates", "experiment: toy\nreplicates: 1000000000\n", "toy.yaml:2: replicates:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := ParseSpec("toy.yaml", []byte(tc.yaml))
			if err == nil {
				_, err = NewPlan(spec, toyFamilies(&toyFamily{}))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// The YAML written for a run directory parses back to the same plan, cells
// in the same order (zip before grid, and --set axes after both).
func TestSpecYAMLRoundTrip(t *testing.T) {
	for i, text := range []string{
		"experiment: toy\npreset: both\nseed: 3\nreplicates: [2, 5]\nset: {x: 0.25}\ngrid:\n  a: [1, 2]\nzip:\n  - {w: [\"1,1\", \"2,2\"], mode: [q, r]}\nout: runs/x\n",
		"experiment: toy\nzip:\n  - {w: [\"1,1\", \"2,2\"], x: [0.1, 0.2]}\ngrid:\n  a: [1, 2]\nreplicates: 2\nout: runs/x\n",
	} {
		spec, err := ParseSpec("toy.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		set := []string{"x=0.3,0.4", "mode=r,q"}[i]
		if err := spec.Override((&toyFamily{}).Schema(), []string{set}); err != nil {
			t.Fatal(err)
		}
		a, err := NewPlan(spec, toyFamilies(&toyFamily{}))
		if err != nil {
			t.Fatal(err)
		}
		b := mustPlan(t, a.Spec.YAML(), &toyFamily{})
		if !slices.Equal(a.Keys(), b.Keys()) || b.Spec.Out != "runs/x" {
			t.Errorf("round trip changed the plan:\n%s\n%s", text, a.Spec.YAML())
		}
	}
}

func TestShards(t *testing.T) {
	pl := mustPlan(t, "experiment: toy\nreplicates: 7\ngrid:\n  a: [1, 2, 3]\n", &toyFamily{})
	seen := map[string]int{}
	for i := 0; i < 5; i++ {
		for _, c := range pl.ShardCells(Shard{I: i, N: 5}) {
			seen[c.Key]++
		}
	}
	if len(seen) != len(pl.Cells) {
		t.Errorf("shards cover %d of %d cells", len(seen), len(pl.Cells))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("cell %s in %d shards", k, n)
		}
	}
	for _, bad := range []string{"5/5", "0/0", "-1/3", "1", "a/b", "2/1"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
	if s, err := ParseShard("3/4"); err != nil || s != (Shard{3, 4}) {
		t.Errorf("ParseShard(3/4) = %v, %v", s, err)
	}
}

func TestShardFromEnv(t *testing.T) {
	tests := []struct {
		env    map[string]string
		shards int
		want   Shard
		err    string
	}{
		{map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, 0, Shard{2, 4}, ""},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "3"}, 0, Shard{1, 3}, ""},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, 0, Shard{}, "contiguous array"},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "1"}, 0, Shard{}, "SLURM_ARRAY_TASK_COUNT is not"},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "3"}, 0, Shard{}, "not an integer"},
		{map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"}, 4, Shard{}, "disagrees"},
		{map[string]string{"JOB_COMPLETION_INDEX": "3"}, 4, Shard{3, 4}, ""},
		{map[string]string{"JOB_COMPLETION_INDEX": "3"}, 0, Shard{}, "--shards n"},
		{map[string]string{"JOB_COMPLETION_INDEX": "4"}, 4, Shard{}, "not below"},
		{map[string]string{}, 4, Shard{}, "neither"},
	}
	for _, tc := range tests {
		got, err := ShardFromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, tc.shards)
		if tc.err == "" && (err != nil || got != tc.want) || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v --shards %d: %v, %v; want %v, %q", tc.env, tc.shards, got, err, tc.want, tc.err)
		}
	}
}

func TestGroups(t *testing.T) {
	pl := mustPlan(t, "experiment: toy\nreplicates: 10\ngrid:\n  a: [1, 2]\n", &toyFamily{})
	for _, tc := range []struct{ workers, size, groups, largest int }{
		{1, 0, 4, 5}, {4, 0, 10, 2}, {2, 3, 8, 3}, {64, 0, 20, 1}, {1, 12, 2, 10},
	} {
		gs := Groups(pl.Cells, tc.workers, tc.size)
		n, largest := 0, 0
		for _, g := range gs {
			n += len(g.Cells)
			largest = max(largest, len(g.Cells))
			for _, c := range g.Cells {
				if c.Point != g.Cells[0].Point {
					t.Fatalf("group mixes points")
				}
			}
		}
		if len(gs) != tc.groups || largest != tc.largest || n != 20 {
			t.Errorf("workers %d size %d: %d groups, largest %d; want %d, %d", tc.workers, tc.size, len(gs), largest, tc.groups, tc.largest)
		}
	}
}

// sizedFamily is the toy family with an opinion on group sizes: points
// with a = 2 want groups of 7.
type sizedFamily struct{ toyFamily }

func (*sizedFamily) MaxGroup(v Values) int {
	if v.Int("a") == 2 {
		return 7
	}
	return 0
}

// A family that is a GroupSizer sizes the groups of the points it names;
// the others, and every point under an explicit size, are the engine's.
func TestPlanGroupsAsksTheFamily(t *testing.T) {
	spec, err := ParseSpec("toy.yaml", []byte("experiment: toy\nreplicates: 10\ngrid:\n  a: [1, 2]\n"))
	if err != nil {
		t.Fatal(err)
	}
	pl, err := NewPlan(spec, Families{"toy": &sizedFamily{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		workers, size int
		want          map[int][]int // a -> group sizes
	}{
		{4, 0, map[int][]int{1: {2, 2, 2, 2, 2}, 2: {7, 3}}},
		{1, 0, map[int][]int{1: {5, 5}, 2: {7, 3}}},
		{4, 4, map[int][]int{1: {4, 4, 2}, 2: {4, 4, 2}}},
	} {
		got := map[int][]int{}
		for _, g := range pl.Groups(pl.Cells, tc.workers, tc.size) {
			a := g.Cells[0].Values.Int("a")
			got[a] = append(got[a], len(g.Cells))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("workers %d size %d: group sizes %v, want %v", tc.workers, tc.size, got, tc.want)
		}
	}
}

func execute(t *testing.T, pl *Plan, dir string, cells []*Cell, opt ExecOptions) error {
	t.Helper()
	store, err := results.OpenStore(dir, "s0of1", pl.Columns, pl.Tables())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, err = pl.Execute(context.Background(), cells, store, opt)
	return err
}

func mergedTables(t *testing.T, pl *Plan, dir string) string {
	t.Helper()
	if _, err := results.Merge(dir, pl.MergePlan()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range []string{"summary.csv", "trace.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// Execution commits every cell exactly once, in canonical order after a
// merge, whatever the workers, group size and flush interval.
func TestExecuteIsDeterministic(t *testing.T) {
	pl := mustPlan(t, "experiment: toy\nreplicates: 5\ngrid:\n  a: [1, 2, 3]\n  mode: [p, q]\n", &toyFamily{})
	var want string
	for i, opt := range []ExecOptions{{Workers: 1}, {Workers: 3, GroupSize: 2}, {Workers: 2, GroupSize: 1, FlushEvery: time.Nanosecond}} {
		dir := t.TempDir()
		if err := execute(t, pl, dir, pl.Cells, opt); err != nil {
			t.Fatal(err)
		}
		got := mergedTables(t, pl, dir)
		if i == 0 {
			want = got
			if n := strings.Count(got, "\n"); n != 1+30+1+60 {
				t.Fatalf("%d lines:\n%s", n, got)
			}
			if !strings.Contains(got, ",2,\n") { // NaN metric written empty
				t.Errorf("NaN not written as an empty field:\n%s", got[:300])
			}
		} else if got != want {
			t.Errorf("options %+v change the merged tables", opt)
		}
	}
}

// A failing group stops the run, but the groups completed before are
// committed; cancellation likewise.
func TestExecuteKeepsCompletedWork(t *testing.T) {
	f := &toyFamily{fail: "3"}
	pl := mustPlan(t, "experiment: toy\nreplicates: 2\ngrid:\n  a: [1, 2, 3, 4]\n", f)
	dir := t.TempDir()
	err := execute(t, pl, dir, pl.Cells, ExecOptions{Workers: 1, GroupSize: 2})
	if err == nil || !strings.Contains(err.Error(), "toy failure") {
		t.Fatalf("error %v", err)
	}
	done, _ := results.Done(dir, pl.Tables())
	if len(done) != 4 {
		t.Errorf("%d cells committed, want the 4 before the failure", len(done))
	}
	// Cancellation: the first group completes, then the context ends.
	f2 := &toyFamily{sleep: 50 * time.Millisecond}
	pl2 := mustPlan(t, "experiment: toy\nreplicates: 1\ngrid:\n  a: [1, 2, 3, 4, 5, 6]\n", f2)
	dir2 := t.TempDir()
	store, _ := results.OpenStore(dir2, "s0of1", pl2.Columns, pl2.Tables())
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Millisecond)
	defer cancel()
	_, err = pl2.Execute(ctx, pl2.Cells, store, ExecOptions{Workers: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v", err)
	}
	done, _ = results.Done(dir2, pl2.Tables())
	if len(done) != 1 || f2.runs.Load() != 2 {
		t.Errorf("%d cells committed (want 1), %d groups started (want 2)", len(done), f2.runs.Load())
	}
}

func TestProgressFinal(t *testing.T) {
	pl := mustPlan(t, "experiment: toy\nreplicates: 3\n", &toyFamily{})
	var states []ProgressState
	if err := execute(t, pl, t.TempDir(), pl.Cells, ExecOptions{Progress: func(s ProgressState) { states = append(states, s) }}); err != nil {
		t.Fatal(err)
	}
	last := states[len(states)-1]
	if !last.Final || last.CellsDone != 3 || last.WorkDone != 6 || last.WorkTotal != 6 || last.Fraction() != 1 {
		t.Errorf("final state %+v", last)
	}
	for _, style := range []string{ProgressBar, ProgressPlain, ProgressJSON} {
		var b strings.Builder
		NewProgress(&b, style, time.Hour, "s0of1")(last)
		if !strings.Contains(b.String(), "3/3") && !strings.Contains(b.String(), `"cells_done":3`) {
			t.Errorf("%s: %q", style, b.String())
		}
	}
}

// BenchmarkPlan100k plans sweeps of 100,000 cells: 1,000 points x 100
// replicates, and 100,000 points x 1 replicate.
func BenchmarkPlan100k(b *testing.B) {
	for _, tc := range []struct{ name, yaml string }{
		{"points=1000", "experiment: toy\nreplicates: 100\ngrid:\n  a: {from: 100, to: 199, step: 1}\n  x: {from: 0, to: 0.9, num: 10}\n"},
		{"points=100000", "experiment: toy\nreplicates: 1\ngrid:\n  a: {from: 100, to: 1099, step: 1}\n  x: {from: 0, to: 0.99, num: 100}\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			spec, err := ParseSpec("toy.yaml", []byte(tc.yaml))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				pl, err := NewPlan(spec, toyFamilies(&toyFamily{}))
				if err != nil || len(pl.Cells) != 100_000 {
					b.Fatal(err, len(pl.Cells))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e9, "s/plan")
		})
	}
}

// BenchmarkCellOverhead is the engine's cost per cell of a trivial family:
// grouping, scheduling, committing (CSV, fsync, rename) and progress, for
// 1,000 cells of 1,000 points (one cell per group), with the default
// commit interval and with a commit after every group (the worst case).
func BenchmarkCellOverhead(b *testing.B) {
	spec, _ := ParseSpec("toy.yaml", []byte("experiment: toy\nreplicates: 1\ngrid:\n  a: {from: 100, to: 1099, step: 1}\n"))
	f := &toyFamily{}
	pl, err := NewPlan(spec, toyFamilies(f))
	if err != nil {
		b.Fatal(err)
	}
	for _, flush := range []time.Duration{0, time.Nanosecond} {
		b.Run(fmt.Sprintf("flush=%v", flush), func(b *testing.B) {
			cells := 0
			for b.Loop() {
				dir := b.TempDir()
				store, err := results.OpenStore(dir, "s0of1", pl.Columns, pl.Tables())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := pl.Execute(context.Background(), pl.Cells, store, ExecOptions{Workers: 2, FlushEvery: flush}); err != nil {
					b.Fatal(err)
				}
				store.Close()
				cells += len(pl.Cells)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(cells)/1e6, "ms/cell")
		})
	}
}

// A commit that fails stops the run: no more groups start.
func TestCommitFailureStopsTheRun(t *testing.T) {
	f := &toyFamily{sleep: 10 * time.Millisecond}
	pl := mustPlan(t, "experiment: toy\nreplicates: 1\ngrid:\n  a: {from: 100, to: 149, step: 1}\n", f)
	dir := t.TempDir()
	store, err := results.OpenStore(dir, "s0of1", pl.Columns, pl.Tables())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	os.RemoveAll(filepath.Join(dir, "parts"))
	os.WriteFile(filepath.Join(dir, "parts"), nil, 0o644) // parts is no longer a directory
	_, err = pl.Execute(context.Background(), pl.Cells, store, ExecOptions{Workers: 1, FlushEvery: time.Nanosecond})
	if err == nil || !strings.Contains(err.Error(), "commit results") || errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if n := f.runs.Load(); n > 5 {
		t.Errorf("%d of 50 groups ran after the first commit failed", n)
	}
}
