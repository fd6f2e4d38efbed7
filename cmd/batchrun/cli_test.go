package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every malformed spec or flag exits 2 with a message naming the file, the
// field (and the line where there is one), and writes nothing.
func TestBadInputExits2AndWritesNothing(t *testing.T) {
	tmp := t.TempDir()
	notDir := writeFile(t, tmp, "afile", "")
	tests := []struct {
		name string
		spec string   // spec file text ("" = none)
		args []string // after "run"
		want []string // substrings of stderr
	}{
		// Spec files.
		{"unknown key", "experiment: zo\nreplicate: 3\n", nil, []string{"sweep.yaml:2", "replicate", "unknown key", `did you mean "replicates"`}},
		{"unknown nested key", "experiment: zo\ngrid:\n  N: {from: 2, to: 8, stride: 2}\n", nil, []string{"sweep.yaml:3", "grid.N.stride", "unknown key"}},
		{"wrong type", "experiment: zo\nset:\n  N: abc\n", nil, []string{"sweep.yaml:3", "set.N", "not an integer"}},
		{"wrong type in grid", "experiment: zo\ngrid:\n  T: [10, 2.5]\n", nil, []string{"sweep.yaml:3", "grid.T", "not an integer"}},
		{"out of range", "experiment: zo\ngrid:\n  up_p: [0.5, 1.5]\n", nil, []string{"sweep.yaml:3", "grid.up_p", "[0, 1]"}},
		{"empty grid axis", "experiment: zo\ngrid:\n  N: []\n", nil, []string{"sweep.yaml:3", "grid.N", "empty list"}},
		{"grid not a mapping", "experiment: zo\ngrid: [1, 2]\n", nil, []string{"sweep.yaml:2", "grid", "mapping"}},
		{"parameter on two axes", "experiment: zo\ngrid:\n  mu: [1, 2]\nzip:\n  - {mu: [1, 2], alpha: [0.1, 0.2]}\n", nil, []string{"sweep.yaml", "mu", "on two axes", "sweep.yaml:3", "sweep.yaml:5"}},
		{"set and axis", "experiment: zo\nset:\n  N: 8\ngrid:\n  N: [6, 8]\n", nil, []string{"N", "on two axes", "sweep.yaml:3", "sweep.yaml:5"}},
		{"zip lengths", "experiment: zo\nzip:\n  - {mu: [1, 2], alpha: [0.1]}\n", nil, []string{"sweep.yaml:3", "zip.alpha", "equal lengths"}},
		{"zero replicates", "experiment: zo\nreplicates: 0\n", nil, []string{"sweep.yaml:2", "replicates", "count >= 1"}},
		{"unknown experiment", "experiment: zzz\n", nil, []string{"sweep.yaml:1", "experiment", `unknown experiment "zzz"`, "zo"}},
		{"unknown preset", "experiment: zo\npreset: paper999\n", nil, []string{"sweep.yaml:2", "preset", `unknown preset "paper999"`, "paper000"}},
		{"unknown parameter", "experiment: zo\nset:\n  Pmx: 3\n", nil, []string{"sweep.yaml:3", `unknown parameter "Pmx"`, `did you mean "Pmax"`}},
		{"bad range", "experiment: zo\ngrid:\n  mu: {from: 1, to: 0.1, step: 0.1}\n", nil, []string{"sweep.yaml:3", "grid.mu", "from must be <= to"}},
		{"log range <= 0", "experiment: zo\ngrid:\n  mu: {from: 0, to: 1, num: 3, scale: log}\n", nil, []string{"sweep.yaml:3", "grid.mu", "log needs from > 0"}},
		{"missing experiment", "replicates: 3\n", nil, []string{"sweep.yaml", "experiment", "missing"}},
		{"not yaml", "experiment: [zo\n", nil, []string{"sweep.yaml"}},
		{"empty file", "", []string{}, []string{"sweep.yaml", "empty spec"}},
		{"same points", "experiment: zo\ngrid:\n  L: [0, 24]\n", nil, []string{"sweep.yaml", "resolve to the same parameters"}},
		// Flags.
		{"bad shard 5/5", "", []string{"--shard", "5/5"}, []string{"--shard", "0 <= i < n"}},
		{"bad shard 0/0", "", []string{"--shard", "0/0"}, []string{"--shard", "0 <= i < n"}},
		{"shard auto without env", "", []string{"--shard", "auto"}, []string{"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"}},
		{"conflicting --set", "", []string{"--set", "N=8", "--set", "N=12"}, []string{"--set", "N", "conflicting values"}},
		{"--set on a spec axis", "experiment: zo\ngrid:\n  N: [6, 8]\n", []string{"--set", "N=12"}, []string{"--set", "N", "conflicts with the axis at", "sweep.yaml:3"}},
		{"unwritable output directory", "", []string{"--out", filepath.Join(notDir, "sub")}, []string{"afile", "output directory"}},
		{"misspelled --set", "", []string{"--set", "Pmx=3"}, []string{`unknown parameter "Pmx"`, `did you mean "Pmax"`}},
		{"--set wrong type", "", []string{"--set", "N=abc"}, []string{"parameter N", "not an integer"}},
		{"--set out of range", "", []string{"--set", "N=1"}, []string{"parameter N", "out of range"}},
		{"bad mode", "", []string{"--set", "mode=async,nope"}, []string{"--set mode", "parameter mode", `"nope": unknown value`, "fixed-delay"}},
		{"NaN", "", []string{"--set", "mu=NaN"}, []string{"parameter mu", "finite"}},
		{"zero learning rate", "", []string{"--set", "mode=first-order", "--set", "lr=0"}, []string{"parameter lr", "out of range", "> 0"}},
		{"no equals", "", []string{"--set", "N"}, []string{`--set: "N"`, "name=value"}},
		{"zero replicates flag", "", []string{"--replicates", "0"}, []string{"--replicates 0", "want a count in [1,"}},
		{"replicate list", "", []string{"--seed-list", "5-2"}, []string{"5-2", "a <= b"}},
		{"two replicate flags", "", []string{"--seeds", "3", "--seed-list", "1"}, []string{"give one of"}},
		{"unknown flag", "", []string{"--seedz", "3"}, []string{"seedz"}},
		{"workers", "", []string{"--workers", "0"}, []string{"--workers"}},
		{"unknown backend", "", []string{"--backend", "gpu"}, []string{`--backend "gpu"`, "allowed: auto, cpu, cuda"}},
		{"negative device", "", []string{"--device", "-1"}, []string{"--device -1", "ordinal >= 0"}},
		{"progress style", "", []string{"--progress", "fancy"}, []string{"--progress", "plain"}},
		{"spec and preset", "experiment: zo\n", []string{"--preset", "paper000"}, []string{"give a spec file, --preset or --experiment, not two"}},
		{"memory", "", []string{"--set", "N=200000", "--seeds", "64"}, []string{"GiB", "--workers"}},
		// psdda (spec section 3-6).
		{"psdda union not strongly connected", "experiment: psdda\nset:\n  graph: edges\n  n: 3\n  edges: 1->2 2->3 / 2->1\n", []string{},
			[]string{"sweep.yaml", "parameter edges (n = 3)", "the union of the 2 graphs is not strongly connected: node 3 cannot reach node 1"}},
		{"psdda negative delay", "", []string{"--experiment", "psdda", "--set", "b=-1"}, []string{"parameter b", "out of range", "[0, 1048576]"}},
		{"psdda empty box", "", []string{"--preset", "paper002-qp", "--set", "lo=1", "--set", "hi=0.5"}, []string{"[lo, hi]^d = [1, 0.5]^2 is empty"}},
		{"psdda unknown objective", "", []string{"--experiment", "psdda", "--set", "objective=logistic"}, []string{"parameter objective", "one of qp, sensor, lsq"}},
		{"psdda paper graph size", "", []string{"--experiment", "psdda", "--set", "n=9"}, []string{"graph paper002 has 8 nodes"}},
		// asynpd (spec sections 1-4).
		{"asynpd infeasible box", "", []string{"--preset", "paper003", "--set", "lo=2.5"}, []string{"infeasible box", "[lo, hi1]^d = [2.5, 2]^5", "want lo <= hi1"}},
		{"asynpd infeasible budget", "", []string{"--experiment", "asynpd", "--set", "lo=1.5"}, []string{"infeasible problem", "||thetabar||^2 <= budget = 9 cannot hold", "raise budget or lower lo"}},
		{"asynpd negative delay", "", []string{"--experiment", "asynpd", "--set", "broadcast_lo=-1"}, []string{"parameter broadcast_lo", "out of range", ">= 0"}},
		{"asynpd negative compute time", "", []string{"--experiment", "asynpd", "--set", "c_lo=-2"}, []string{"parameter c_lo", "out of range", "> 0"}},
		{"asynpd a = 0", "", []string{"--experiment", "asynpd", "--set", "a=0"}, []string{"parameter a", "out of range", "> 0"}},
		{"asynpd lambda_max <= 0", "", []string{"--experiment", "asynpd", "--set", "lambda_max=0"}, []string{"parameter lambda_max", "out of range", "> 0"}},
		{"asynpd straggler index", "", []string{"--preset", "paper003-straggler", "--set", "stragglers=0"}, []string{"parameter stragglers", "1..n = 1..10"}},
		{"unknown experiment", "", []string{"--experiment", "pdsda"}, []string{"--experiment", "asynpd, psdda, zo"}},
		{"preset and experiment", "", []string{"--experiment", "psdda", "--preset", "paper002-qp"}, []string{"--preset or --experiment, not both"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			out := filepath.Join(base, "out")
			args := []string{"run", "--out", out, "--quiet"}
			if tc.spec != "" || tc.args != nil && len(tc.args) == 0 {
				args = append(args, writeFile(t, base, "sweep.yaml", tc.spec))
			}
			if tc.name == "unwritable output directory" {
				args = []string{"run", "--quiet"}
			}
			args = append(args, tc.args...)
			code, _, stderr := runCLI(t, context.Background(), args...)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output directory exists after a usage error (stat: %v)", err)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "Usage:"},
		{[]string{"nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"help"}, exitOK, "batchrun run"},
		{[]string{"run", "--help"}, exitOK, "--shard"},
		{[]string{"help", "merge"}, exitOK, "Usage: batchrun merge"},
		{[]string{"presets"}, exitOK, "paper000"},
		{[]string{"presets", "paper000"}, exitOK, "up_p"},
		{[]string{"presets", "--help"}, exitOK, "Usage: batchrun presets"},
		{[]string{"presets", "nope"}, exitUsage, `unknown preset "nope"`},
		{[]string{"spec", "--example"}, exitOK, "zip:"},
		{[]string{"spec"}, exitUsage, "--example"},
		{[]string{"merge"}, exitUsage, "one run directory"},
		{[]string{"merge", "/nonexistent/dir"}, exitUsage, "not a run directory"},
		{[]string{"summarize", "/nonexistent/dir"}, exitUsage, "manifest.json"},
		{[]string{"plot", "/nonexistent/dir", "--x", "iter", "--y", "sum_rate", "--out", "a.gif"}, exitUsage, ".png, .svg or .pdf"},
		{[]string{"version"}, exitOK, "batchrun"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runCLI(t, context.Background(), tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("batchrun %v: exit %d (want %d), output lacks %q?\n%s%s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}
}

// The example spec printed by `batchrun spec --example` is a valid spec.
func TestExampleSpecPlans(t *testing.T) {
	_, example, _ := runCLI(t, context.Background(), "spec", "--example")
	path := writeFile(t, t.TempDir(), "example.yaml", example)
	code, stdout, stderr := runCLI(t, context.Background(), "plan", path, "--counts")
	// 3 modes x 2 sizes x 2 zipped points = 12 points, 8 replicates.
	if code != exitOK || !strings.Contains(stdout, "96 cells (12 points x 8 replicates)") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{{"run", "--help"}, {"help", "run"}, {"presets", "-h"}, {"help", "plan"}, {"plot", "--help"}} {
		code, stdout, stderr := runCLI(t, context.Background(), args...)
		if code != exitOK || !strings.Contains(stdout, "Usage: batchrun") || stderr != "" {
			t.Errorf("batchrun %v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

// An interrupted run exits 130, leaves no temporary or partial file, and
// the same command then completes it.
func TestInterruptedRunResumes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "out")
	args := []string{"run", "--seeds", "2", "--set", "T=20", "--set", "N=6", "--out", dir, "--quiet"}
	code, _, stderr := runCLI(t, ctx, args...)
	if code != exitInterrupted || !strings.Contains(stderr, "interrupted") || !strings.Contains(stderr, "resume") {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitInterrupted, stderr)
	}
	assertNoPartialFiles(t, dir)
	if code, _, stderr := runCLI(t, context.Background(), args...); code != exitOK {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "summary.csv")); err != nil {
		t.Fatal(err)
	}
}

func assertNoPartialFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left: %s", path)
		}
		return nil
	})
}

// --fresh discards the results in the directory and runs everything again;
// summarize refuses merged tables older than the spec.
func TestFreshAndStaleMerge(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	args := []string{"run", "--out", dir, "--set", "T=6", "--set", "N=4", "--set", "mode=sync", "--progress", "none"}
	mustRun(t, append(args, "--seeds", "2")...)
	_, _, stderr := runCLI(t, context.Background(), append(args, "--seeds", "2", "--fresh")...)
	if !strings.Contains(stderr, "0 done, 2 to run") {
		t.Fatalf("--fresh did not start over: %s", stderr)
	}
	if runs, _ := filepath.Glob(filepath.Join(dir, "runs", "*.json")); len(runs) != 1 {
		t.Errorf("%d process records after --fresh, want 1", len(runs))
	}
	// Grow the grid in a shard: the merged tables are now stale.
	mustRun(t, append(args, "--seeds", "4", "--shard", "0/2", "--quiet")...)
	code, _, stderr := runCLI(t, context.Background(), "summarize", dir)
	if code != exitUsage || !strings.Contains(stderr, "older than its spec.yaml") {
		t.Errorf("summarize of stale tables: exit %d %s", code, stderr)
	}
	// Resuming through the run directory's own spec.yaml, from elsewhere.
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(t.TempDir())
	out := mustRun(t, "run", filepath.Join(dir, "spec.yaml"), "--quiet")
	if !strings.Contains(out, "4 cells merged in "+dir) {
		t.Errorf("resume through spec.yaml: %s", out)
	}
	mustRun(t, "summarize", dir)
}

func TestTooLargeForMemoryIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, context.Background(), "run", "--set", "N=200000", "--seeds", "64", "--out", dir, "--quiet")
	if code != exitUsage || !strings.Contains(stderr, "GiB") {
		t.Fatalf("exit %d, stderr %q; want %d with a memory estimate", code, stderr, exitUsage)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("refused run created %s", dir)
	}
}

func TestQuietPrintsOnlyTheReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, context.Background(), "run", "--seeds", "1", "--set", "T=5", "--set", "mode=async", "--out", dir, "--quiet")
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "1 cells merged") {
		t.Errorf("exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
}

// --progress json writes one JSON object per line, the last one final.
func TestProgressJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, context.Background(), "run", "--seeds", "2", "--set", "T=5", "--set", "N=4", "--out", dir, "--progress", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var last map[string]any
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		n++
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
	}
	if n == 0 || last["final"] != true || last["cells_done"] != float64(18) || last["cells_total"] != float64(18) {
		t.Errorf("%d JSON lines, last %v\n%s", n, last, stderr)
	}
}
