package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run the command in a child process (to kill it):
// with BATCHRUN_TEST_MAIN set, the test binary is batchrun, its arguments
// in BATCHRUN_TEST_ARGS separated by newlines.
func TestMain(m *testing.M) {
	if os.Getenv("BATCHRUN_TEST_MAIN") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := Main(ctx, strings.Split(os.Getenv("BATCHRUN_TEST_ARGS"), "\n"), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// sweep48 is a 48-cell sweep: 4 modes x 2 sizes x 6 replicates, short runs.
const sweep48 = `experiment: zo
preset: paper000
set:
  T: 40
  E: 20
  eval_samples: 8
grid:
  mode: [async, sync, central-zo, full-power]
  N: [5, 7]
replicates: 6
`

var mergedFiles = []string{"summary.csv", "trace.csv", "eval.csv"}

// readMerged reads the merged tables of a run directory: files, or the zo
// tables when none are named.
func readMerged(t *testing.T, dir string, files ...string) map[string][]byte {
	t.Helper()
	if len(files) == 0 {
		files = mergedFiles
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

func sameFiles(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	for _, f := range mergedFiles {
		if !bytes.Equal(got[f], want[f]) {
			t.Errorf("%s: %s differs from the single-process run (%d vs %d bytes)", what, f, len(got[f]), len(want[f]))
		}
	}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, context.Background(), args...)
	if code != exitOK {
		t.Fatalf("batchrun %v: exit %d\n%s%s", args, code, stdout, stderr)
	}
	return stdout
}

// The same 48-cell sweep run as one process, as 5 shards merged, and with
// 1 and 4 workers gives byte-identical merged CSV.
func TestSweepIsByteIdenticalAcrossShardsAndWorkers(t *testing.T) {
	base := t.TempDir()
	spec := writeFile(t, base, "sweep.yaml", sweep48)
	one := filepath.Join(base, "one")
	out := mustRun(t, "run", spec, "--out", one, "--quiet", "--workers", "2")
	if !strings.Contains(out, "48 cells merged") {
		t.Fatalf("single run: %s", out)
	}
	want := readMerged(t, one)
	if n := bytes.Count(want["summary.csv"], []byte("\n")); n != 49 {
		t.Fatalf("summary.csv has %d lines, want 49", n)
	}
	for _, w := range []string{"1", "4"} {
		dir := filepath.Join(base, "w"+w)
		mustRun(t, "run", spec, "--out", dir, "--quiet", "--workers", w)
		sameFiles(t, "--workers "+w, readMerged(t, dir), want)
	}
	sharded := filepath.Join(base, "sharded")
	for i := 4; i >= 0; i-- { // out of order, with different worker counts
		mustRun(t, "run", spec, "--out", sharded, "--quiet", "--shard", fmt.Sprintf("%d/5", i), "--workers", fmt.Sprint(1+i%2))
	}
	mustRun(t, "merge", sharded)
	sameFiles(t, "5 shards", readMerged(t, sharded), want)
	// Groups of one cell each.
	g1 := filepath.Join(base, "g1")
	mustRun(t, "run", spec, "--out", g1, "--quiet", "--group", "1")
	sameFiles(t, "--group 1", readMerged(t, g1), want)
}

// Running the same command again skips finished cells; growing the grid
// runs only the new cells; plan shows done and pending.
func TestResumeAndGrowGrid(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "out")
	args := []string{"run", "--out", dir, "--set", "T=10", "--set", "N=4", "--set", "mode=async,sync", "--progress", "none"}
	_, _, stderr := runCLI(t, context.Background(), append(args, "--seeds", "2")...)
	if !strings.Contains(stderr, "4 cells in the plan") || !strings.Contains(stderr, "0 done, 4 to run") {
		t.Fatalf("first run: %s", stderr)
	}
	first, _ := os.ReadFile(filepath.Join(dir, "summary.csv"))
	_, _, stderr = runCLI(t, context.Background(), append(args, "--seeds", "2")...)
	if !strings.Contains(stderr, "4 done, 0 to run") {
		t.Fatalf("second run did not skip: %s", stderr)
	}
	_, stdout, _ := runCLI(t, context.Background(), "plan", "--out", dir, "--set", "T=10", "--set", "N=4", "--set", "mode=async,sync", "--seeds", "3")
	if !strings.Contains(stdout, "6 cells (2 points x 3 replicates)") || !strings.Contains(stdout, "4 done, 2 pending") || strings.Count(stdout, "  pending\n") != 2 {
		t.Fatalf("plan of the grown grid:\n%s", stdout)
	}
	_, _, stderr = runCLI(t, context.Background(), append(args, "--seeds", "3")...)
	if !strings.Contains(stderr, "4 done, 2 to run") {
		t.Fatalf("grown grid: %s", stderr)
	}
	grown, _ := os.ReadFile(filepath.Join(dir, "summary.csv"))
	// The first four cells' rows are unchanged by the growth.
	for _, line := range strings.Split(strings.TrimSpace(string(first)), "\n") {
		if !bytes.Contains(grown, []byte(line+"\n")) {
			t.Errorf("row changed or lost after growing the grid: %s", line)
		}
	}
}

// merge fails with exit 1 on a missing shard, naming the cells and the
// command that runs them, and on a duplicated cell, naming it and its parts.
func TestMergeDetectsGapsAndDuplicates(t *testing.T) {
	base := t.TempDir()
	spec := writeFile(t, base, "sweep.yaml", "experiment: zo\nset: {T: 8, N: 4}\ngrid:\n  mode: [async, wmmse]\nreplicates: 5\n")
	dir := filepath.Join(base, "out")
	for _, i := range []int{0, 1, 3} {
		mustRun(t, "run", spec, "--out", dir, "--quiet", "--shard", fmt.Sprintf("%d/4", i))
	}
	code, _, stderr := runCLI(t, context.Background(), "merge", dir)
	if code != exitFailure || !strings.Contains(stderr, "cells missing") || !strings.Contains(stderr, "mode=wmmse") ||
		!strings.Contains(stderr, "batchrun run "+filepath.Join(dir, "spec.yaml")+" --out "+dir) {
		t.Fatalf("merge with a missing shard: exit %d\n%s", code, stderr)
	}
	for _, f := range mergedFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("failed merge wrote %s", f)
		}
	}
	// The printed command completes the run.
	mustRun(t, "run", filepath.Join(dir, "spec.yaml"), "--out", dir, "--quiet")
	mustRun(t, "merge", dir)
	// Duplicate one part under another name.
	parts, _ := filepath.Glob(filepath.Join(dir, "parts", "s0of4-*.csv"))
	if len(parts) == 0 {
		t.Fatal("no parts of shard 0")
	}
	for _, p := range parts {
		data, _ := os.ReadFile(p)
		name := strings.Replace(filepath.Base(p), "s0of4-", "s0of4x-", 1)
		os.WriteFile(filepath.Join(dir, "parts", name), data, 0o644)
	}
	code, _, stderr = runCLI(t, context.Background(), "merge", dir)
	if code != exitFailure || !strings.Contains(stderr, "more than once") || !strings.Contains(stderr, "s0of4x-") || !strings.Contains(stderr, "replicate 0") {
		t.Fatalf("merge with a duplicate: exit %d\n%s", code, stderr)
	}
}

// summarize writes aggregate.csv and plot writes a PNG and an SVG.
func TestSummarizeAndPlot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	mustRun(t, "run", "--out", dir, "--quiet", "--seeds", "3", "--set", "T=12", "--set", "N=4", "--set", "mode=sync,full-power")
	out := mustRun(t, "summarize", dir)
	if !strings.Contains(out, "aggregate.csv") {
		t.Fatal(out)
	}
	agg, err := os.ReadFile(filepath.Join(dir, "aggregate.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(agg)), "\n")
	if !strings.HasPrefix(lines[0], "table,experiment,mode,N,") || !strings.HasSuffix(lines[0], "step,metric,n,mean,std,ci95_low,ci95_high") {
		t.Errorf("aggregate header: %s", lines[0])
	}
	// 2 points x (8 summary metrics, some empty without E; 12 steps x 2 trace metrics).
	var trace, summary int
	for _, l := range lines[1:] {
		switch {
		case strings.HasPrefix(l, "trace,"):
			trace++
			if !strings.Contains(l, ",3,") {
				t.Errorf("trace aggregate without n = 3: %s", l)
			}
		case strings.HasPrefix(l, "summary,"):
			summary++
		}
	}
	if trace != 2*12*2 || summary != 2*4 {
		t.Errorf("%d trace and %d summary aggregate rows, want 48 and 8", trace, summary)
	}
	for _, f := range []string{"fig.png", "fig.svg"} {
		path := filepath.Join(dir, f)
		mustRun(t, "plot", dir, "--x", "iter", "--y", "sum_rate", "--by", "mode", "--out", path)
		if st, err := os.Stat(path); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", f, err)
		}
	}
	code, _, stderr := runCLI(t, context.Background(), "plot", dir, "--x", "iter", "--y", "nope", "--out", filepath.Join(dir, "x.png"))
	if code != exitUsage || !strings.Contains(stderr, "nope") {
		t.Errorf("plot of an unknown column: exit %d %s", code, stderr)
	}
}

// Crash safety: the process is killed with SIGKILL at random moments of a
// sweep and resumed each time; the final merged result equals the
// uninterrupted run's, with no lost, duplicated or partial rows.
func TestKilledAndResumedEqualsUninterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and resumes a sweep many times")
	}
	base := t.TempDir()
	child := func(args []string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "BATCHRUN_TEST_MAIN=1", "BATCHRUN_TEST_ARGS="+strings.Join(args, "\n"))
		return cmd
	}
	// The sweep must take long enough, on whatever kernels, for kills to
	// land in it: T grows until the uninterrupted run takes 2 s or more.
	var spec, ref string
	var full time.Duration
	for T := 600; ; T *= 3 {
		spec = writeFile(t, base, fmt.Sprintf("sweep%d.yaml", T), strings.Replace(sweep48, "T: 40", fmt.Sprintf("T: %d", T), 1))
		ref = filepath.Join(base, fmt.Sprintf("ref%d", T))
		start := time.Now()
		mustRun(t, "run", spec, "--out", ref, "--quiet")
		if full = time.Since(start); full >= 2*time.Second || T > 100000 {
			break
		}
	}
	want := readMerged(t, ref)
	// A child's start-up (before any cell can run) is added to every delay.
	start := time.Now()
	if out, err := child([]string{"plan", spec, "--counts"}).CombinedOutput(); err != nil {
		t.Fatalf("plan: %v %s", err, out)
	}
	startup := time.Since(start)

	dir := filepath.Join(base, "killed")
	args := []string{"run", spec, "--out", dir, "--quiet", "--flush-every", "10ms", "--group", "1"}
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for attempt := 0; ; attempt++ {
		if attempt > 400 {
			t.Fatal("the sweep never completed")
		}
		cmd := child(args)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		delay := startup + time.Duration((0.04+rng.Float64()*0.08)*float64(full))
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("run exited with %v: %s", err, stderr.String())
			}
			if kills < 10 {
				// Completed before we could kill it: start over in a fresh
				// directory so that we get at least 10 kills.
				t.Logf("completed after %d kills; starting over", kills)
				os.RemoveAll(dir)
				continue
			}
			sameFiles(t, fmt.Sprintf("killed %d times and resumed", kills), readMerged(t, dir), want)
			// No half-written file survives under a final name.
			for _, f := range mergedFiles {
				data, _ := os.ReadFile(filepath.Join(dir, f))
				if len(data) > 0 && data[len(data)-1] != '\n' {
					t.Errorf("%s ends mid-row", f)
				}
			}
			t.Logf("%d kills, %d attempts", kills, attempt+1)
			return
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			kills++

		}
	}
}

// dropColumn rewrites every part file of dir without the column name, as
// a version before the parameter existed wrote them.
func dropColumn(t *testing.T, dir, name string) {
	t.Helper()
	parts, _ := filepath.Glob(filepath.Join(dir, "parts", "*.csv"))
	if len(parts) == 0 {
		t.Fatal("no parts")
	}
	for _, path := range parts {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(recs[0], name)
		if col < 0 {
			t.Fatalf("%s has no column %s", path, name)
		}
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		for _, r := range recs {
			w.Write(slices.Delete(r, col, col+1))
		}
		w.Flush()
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A run directory written before the lr parameter existed (its parts lack
// the column) resumes: its cells count as done, and the merge fills in lr's
// default, so the files equal those of a fresh run byte for byte.
func TestResumeAcrossAnAddedParameter(t *testing.T) {
	base := t.TempDir()
	old, fresh := filepath.Join(base, "old"), filepath.Join(base, "fresh")
	args := []string{"run", "--set", "T=10", "--set", "N=4", "--set", "mode=async,full-power", "--progress", "none"}
	mustRun(t, append(args, "--out", old, "--seeds", "2")...)
	dropColumn(t, old, "lr")
	_, _, stderr := runCLI(t, context.Background(), append(args, "--out", old, "--seeds", "3")...)
	if !strings.Contains(stderr, "4 done, 2 to run") {
		t.Fatalf("resume of the old directory: %s", stderr)
	}
	mustRun(t, append(args, "--out", fresh, "--seeds", "3")...)
	got, want := readMerged(t, old), readMerged(t, fresh)
	sameFiles(t, "resumed across an added parameter", got, want)
	if !bytes.Contains(got["summary.csv"], []byte(",lr,")) {
		t.Error("summary.csv has no lr column")
	}
}
