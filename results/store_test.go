package results

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testTables = []TableDef{
	{Name: "summary", Metrics: []string{"v"}},
	{Name: "trace", Step: "iter", Metrics: []string{"v", "w"}},
}

func cellOut(i int, key string) CellOutput {
	return CellOutput{Index: i, Key: key, Prefix: key + `,"a,b"`, Tables: [][]Row{
		{{Metrics: []float64{float64(i)}}},
		{{Step: 1, Metrics: []float64{1, math.NaN()}}, {Step: 2, Metrics: []float64{2, 0.5}}},
	}}
}

func openStore(t *testing.T, dir, label string) *Store {
	t.Helper()
	s, err := OpenStore(dir, label, []string{"key", "p"}, testTables)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Parts commit in any order and merge into plan order; a cell in two parts
// or in none is reported, and nothing is written then.
func TestCommitAndMerge(t *testing.T) {
	dir := t.TempDir()
	a, b := openStore(t, dir, "s0of2"), openStore(t, dir, "s1of2")
	if err := b.Commit([]CellOutput{cellOut(2, "k2"), cellOut(1, "k1")}); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit([]CellOutput{cellOut(0, "k0")}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"k0", "k1", "k2"}
	stats, err := Merge(dir, MergePlan{Keys: keys, Tables: testTables})
	if err != nil || stats.Rows["trace.csv"] != 6 {
		t.Fatalf("merge: %v %+v", err, stats)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "trace.csv"))
	want := "key,p,iter,v,w\n" +
		"k0,\"a,b\",1,1,\nk0,\"a,b\",2,2,0.5\n" +
		"k1,\"a,b\",1,1,\nk1,\"a,b\",2,2,0.5\n" +
		"k2,\"a,b\",1,1,\nk2,\"a,b\",2,2,0.5\n"
	if string(got) != want {
		t.Errorf("trace.csv:\n%s\nwant\n%s", got, want)
	}
	// A gap, then a duplicate.
	os.Remove(filepath.Join(dir, "trace.csv"))
	_, err = Merge(dir, MergePlan{Keys: []string{"k0", "k1", "k2", "k3"}, Tables: testTables})
	var prob *MergeProblem
	if !errors.As(err, &prob) || len(prob.Missing) != 1 || prob.Missing[0] != 3 {
		t.Fatalf("gap: %v", err)
	}
	if err := a.Commit([]CellOutput{cellOut(1, "k1")}); err != nil {
		t.Fatal(err)
	}
	_, err = Merge(dir, MergePlan{Keys: keys, Tables: testTables})
	if !errors.As(err, &prob) || len(prob.Duplicated[1]) != 2 {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "trace.csv")); !os.IsNotExist(err) {
		t.Error("a failed merge wrote trace.csv")
	}
}

// A part whose commit table exists but another table is missing does not
// count: its cells are run again.
func TestIncompletePartIsNotDone(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, "s0of1")
	if err := s.Commit([]CellOutput{cellOut(0, "k0")}); err != nil {
		t.Fatal(err)
	}
	traces, _ := filepath.Glob(filepath.Join(dir, "parts", "*.trace.csv"))
	os.Remove(traces[0])
	done, err := Done(dir, testTables)
	if err != nil || len(done) != 0 {
		t.Errorf("done %v, %v; want nothing", done, err)
	}
}

// CleanOrphans removes a crashed process's uncommitted files but never
// those of a process that still holds its lock.
func TestCleanOrphansSparesLiveProcesses(t *testing.T) {
	dir := t.TempDir()
	live := openStore(t, dir, "s0of1")
	crashed := openStore(t, dir, "s0of1")
	orphan := func(s *Store) []string {
		base := filepath.Join(dir, "parts", s.Label()+"-000007")
		files := []string{base + ".trace.csv", filepath.Join(dir, "parts", "."+s.Label()+"-000008.summary.csv.tmp-123")}
		for _, f := range files {
			os.WriteFile(f, []byte("key\n"), 0o644)
		}
		return files
	}
	liveFiles := orphan(live)
	crashedFiles := orphan(crashed)
	if err := crashed.Commit([]CellOutput{cellOut(0, "k0")}); err != nil {
		t.Fatal(err)
	}
	// "Crash": the lock is released without the process cleaning up.
	crashed.lock.Close()
	crashed.lock = nil
	next := openStore(t, dir, "s0of1")
	if err := next.CleanOrphans(); err != nil {
		t.Fatal(err)
	}
	for _, f := range liveFiles {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a live process's file was removed: %s", f)
		}
	}
	for _, f := range crashedFiles {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("a crashed process's orphan survived: %s", f)
		}
	}
	if done, _ := Done(dir, testTables); done["k0"] != 1 {
		t.Error("the crashed process's committed part was removed")
	}
	if err := Discard(dir, testTables); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("Discard while processes hold locks: %v", err)
	}
}

// Parts written before parameters were added (lr after the key, x at the
// end of the parameters) merge with those columns filled in; a part lacking
// a column that was not added does not merge.
func TestMergeFillsAddedColumns(t *testing.T) {
	dir := t.TempDir()
	old := openStore(t, dir, "old") // key, p
	cur, err := OpenStore(dir, "new", []string{"key", "lr", "p", "x"}, testTables)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if err := old.Commit([]CellOutput{cellOut(0, "k0")}); err != nil {
		t.Fatal(err)
	}
	c1 := cellOut(1, "k1")
	c1.Prefix = `k1,0.2,"a,b",7`
	if err := cur.Commit([]CellOutput{c1}); err != nil {
		t.Fatal(err)
	}
	pl := MergePlan{Keys: []string{"k0", "k1"}, Header: []string{"key", "lr", "p", "x"}, Tables: testTables,
		Added: map[string]string{"lr": "0.1", "x": "a,\"b"}}
	if _, err := Merge(dir, pl); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "trace.csv"))
	want := "key,lr,p,x,iter,v,w\n" +
		"k0,0.1,\"a,b\",\"a,\"\"b\",1,1,\nk0,0.1,\"a,b\",\"a,\"\"b\",2,2,0.5\n" +
		"k1,0.2,\"a,b\",7,1,1,\nk1,0.2,\"a,b\",7,2,2,0.5\n"
	if string(got) != want {
		t.Errorf("trace.csv:\n%s\nwant\n%s", got, want)
	}
	// Without lr among the added columns the old part does not fit.
	delete(pl.Added, "lr")
	if _, err := Merge(dir, pl); err == nil || !strings.Contains(err.Error(), "columns differ") {
		t.Errorf("merge with a column missing that was not added: %v", err)
	}
}
