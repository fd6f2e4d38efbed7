package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/results"
)

// A psdda sweep with random graphs and per-edge delays gives byte-identical
// merged tables whatever the workers, groups and shards.
func TestPsddaSweepIsByteIdentical(t *testing.T) {
	base := t.TempDir()
	args := []string{"--experiment", "psdda", "--quiet", "--seeds", "4",
		"--set", "graph=random", "--set", "n=30", "--set", "degree=2", "--set", "objective=lsq", "--set", "d=3",
		"--set", "T=200", "--set", "delays=per-edge", "--set", "b=3", "--set", "node_errors=long",
		"--set", "mode=ps-dda,dda-doubly"}
	files := []string{"summary.csv", "trace.csv", "nodes.csv"}
	read := func(dir string) map[string][]byte { return readMerged(t, dir, files...) }
	one := filepath.Join(base, "one")
	out := mustRun(t, append([]string{"run", "--out", one, "--workers", "2"}, args...)...)
	if !strings.Contains(out, "8 cells merged") || !strings.Contains(out, "dda-doubly") {
		t.Fatalf("report: %s", out)
	}
	want := read(one)
	if n := bytes.Count(want["nodes.csv"], []byte("\n")); n < 8*30*10 {
		t.Fatalf("nodes.csv has %d lines", n)
	}
	checkSweepVariants(t, base, args, files, want)
}

// checkSweepVariants runs the sweep args again with one worker and groups
// of one, and as 3 shards merged, and compares the merged files with want
// (the tables of a first run).
func checkSweepVariants(t *testing.T, base string, args, files []string, want map[string][]byte) {
	t.Helper()
	check := func(what, dir string) {
		got := readMerged(t, dir, files...)
		for _, f := range files {
			if !bytes.Equal(got[f], want[f]) {
				t.Errorf("%s: %s differs from the first run", what, f)
			}
		}
	}
	g1 := filepath.Join(base, "g1")
	mustRun(t, append([]string{"run", "--out", g1, "--workers", "1", "--group", "1"}, args...)...)
	check("--workers 1 --group 1", g1)
	sharded := filepath.Join(base, "sharded")
	for i := 2; i >= 0; i-- {
		mustRun(t, append([]string{"run", "--out", sharded, "--shard", fmt.Sprintf("%d/3", i)}, args...)...)
	}
	mustRun(t, "merge", sharded)
	check("3 shards", sharded)
}

// The paper002-qp preset runs every algorithm at b = 1, 5, 10; at b = 1
// PS-DDA's final maximum error is below both DDAs'.
func TestPsddaPaperPreset(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "qp")
	out := mustRun(t, "run", "--preset", "paper002-qp", "--out", dir, "--quiet")
	if !strings.Contains(out, "9 cells merged") {
		t.Fatalf("report: %s", out)
	}
	for _, w := range []string{"ps-dda", "dda-column", "dda-doubly", "0.525"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	// summary.csv: PS-DDA's final maximum error is the lowest at b = 1.
	tab, err := results.ReadTable(filepath.Join(dir, "summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) int {
		c, err := tab.Col(name)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cb, cm, ce := col("b"), col("mode"), col("err_max")
	errMax := map[string]float64{}
	for _, row := range tab.Rows {
		if row[cb] == "1" {
			v, err := strconv.ParseFloat(row[ce], 64)
			if err != nil {
				t.Fatal(err)
			}
			errMax[row[cm]] = v
		}
	}
	if len(errMax) != 3 || !(errMax["ps-dda"] < 0.05 && errMax["ps-dda"] < errMax["dda-doubly"] && errMax["dda-doubly"] < errMax["dda-column"]) {
		t.Errorf("final maximum errors at b = 1: %v; want ps-dda < 0.05, below dda-doubly, below dda-column", errMax)
	}
	png := filepath.Join(dir, "fig2.png")
	mustRun(t, "plot", dir, "--table", "trace", "--where", "mode=ps-dda,b=1", "--x", "step", "--y", "err_[0-9]*", "--log-x", "--log-y", "--out", png)
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("fig2.png: %v", err)
	}
}
