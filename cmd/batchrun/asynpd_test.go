package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/results"
)

// An asynpd sweep with random compute times, outages, stragglers and
// exponential delays gives byte-identical merged tables whatever the
// workers, groups and shards.
func TestAsynpdSweepIsByteIdentical(t *testing.T) {
	base := t.TempDir()
	args := []string{"--experiment", "asynpd", "--quiet", "--seeds", "3",
		"--set", "n=25", "--set", "horizon=200", "--set", "compute=lognormal", "--set", "fail_prob=0.02",
		"--set", "stragglers=3 9", "--set", "broadcast=exponential", "--set", "mode=asyn-pd,sync-pd"}
	files := []string{"summary.csv", "time.csv", "iters.csv"}
	read := func(dir string) map[string][]byte { return readMerged(t, dir, files...) }
	one := filepath.Join(base, "one")
	out := mustRun(t, append([]string{"run", "--out", one, "--workers", "2"}, args...)...)
	if !strings.Contains(out, "6 cells merged") || !strings.Contains(out, "sync-pd") {
		t.Fatalf("report: %s", out)
	}
	checkSweepVariants(t, base, args, files, read(one))
}

// The paper003 preset: Asyn-PD's mean error at the horizon is far below
// Sync-PD's, the report says so, and Fig. 2 plots from the tables.
func TestAsynpdPaperPreset(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p3")
	out := mustRun(t, "run", "--preset", "paper003", "--out", dir, "--quiet")
	for _, w := range []string{"20 cells merged", "asyn-pd", "sync-pd", "0.5385"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	tab, err := results.ReadTable(filepath.Join(dir, "summary.csv"))
	if err != nil {
		t.Fatal(err)
	}
	cm, err := tab.Col("mode")
	if err != nil {
		t.Fatal(err)
	}
	ce, err := tab.Col("err")
	if err != nil {
		t.Fatal(err)
	}
	sum := map[string]float64{}
	for _, row := range tab.Rows {
		v, err := strconv.ParseFloat(row[ce], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum[row[cm]] += v / 10
	}
	if !(sum["asyn-pd"] < 0.15 && sum["sync-pd"] >= 5*sum["asyn-pd"]) {
		t.Errorf("mean total errors at the horizon %v: want asyn-pd < 0.15 and 5x below sync-pd", sum)
	}
	png := filepath.Join(dir, "fig2.png")
	mustRun(t, "plot", dir, "--table", "time", "--x", "time", "--y", "err_theta,err_lambda", "--by", "mode", "--log-y", "--out", png)
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("fig2.png: %v", err)
	}
}
