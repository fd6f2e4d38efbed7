package main

import (
	"bytes"
	"context"
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

// Every bad input exits 2 with a message naming the parameter and what it
// allows, and writes nothing.
func TestBadInputExits2AndWritesNothing(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"unknown preset", []string{"--preset", "paper999"}, []string{`unknown preset "paper999"`, "paper000"}},
		{"misspelled parameter", []string{"--set", "Pmx=3"}, []string{`unknown parameter "Pmx"`, `did you mean "Pmax"`}},
		{"unknown parameter", []string{"--set", "zzz=3"}, []string{`unknown parameter "zzz"`, "known:"}},
		{"wrong type", []string{"--set", "N=abc"}, []string{"parameter N", "not an integer", "an integer [2,"}},
		{"float for int", []string{"--set", "T=2.5"}, []string{"parameter T", "not an integer"}},
		{"N < 2", []string{"--set", "N=1"}, []string{"parameter N", "out of range", "[2,"}},
		{"Pmax <= 0", []string{"--set", "Pmax=0"}, []string{"parameter Pmax", "> 0"}},
		{"negative Pmax", []string{"--set", "Pmax=-1"}, []string{"parameter Pmax", "> 0"}},
		{"up_p > 1", []string{"--set", "up_p=1.5"}, []string{"parameter up_p", "[0, 1]"}},
		{"tx_p < 0", []string{"--set", "tx_p=-0.1"}, []string{"parameter tx_p", "[0, 1]"}},
		{"rx_p > 1", []string{"--set", "rx_p=2"}, []string{"parameter rx_p", "[0, 1]"}},
		{"zero width", []string{"--set", "hidden=30,0"}, []string{"parameter hidden", "0 is out of range", ">= 1"}},
		{"T <= 0", []string{"--set", "T=0"}, []string{"parameter T", "[1,"}},
		{"B <= 0", []string{"--set", "B=0"}, []string{"parameter B", ">= 1"}},
		{"buffer < 1", []string{"--set", "buffer=0"}, []string{"parameter buffer", ">= 1"}},
		{"bad mode", []string{"--set", "mode=async,nope"}, []string{"parameter mode", `unknown value "nope"`, "fixed-delay"}},
		{"bool", []string{"--set", "baselines=maybe"}, []string{"parameter baselines", "true or false"}},
		{"NaN", []string{"--set", "mu=NaN"}, []string{"parameter mu", "finite"}},
		{"no equals", []string{"--set", "N"}, []string{`--set "N"`, "name=value"}},
		{"seeds 0", []string{"--seeds", "0"}, []string{"--seeds = 0"}},
		{"seed list", []string{"--seed-list", "5-2"}, []string{"--seed-list", "a <= b"}},
		{"seeds and list", []string{"--seeds", "3", "--seed-list", "1"}, []string{"not both"}},
		{"unknown flag", []string{"--seedz", "3"}, []string{"seedz"}},
		{"stray argument", []string{"paper000"}, []string{`unexpected argument "paper000"`}},
		{"workers", []string{"--workers", "0"}, []string{"--workers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", "--out", dir, "--quiet"}, tc.args...)
			code, _, stderr := runCLI(t, context.Background(), args...)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
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
		{[]string{"run", "--help"}, exitOK, "--seed-list"},
		{[]string{"presets"}, exitOK, "paper000"},
		{[]string{"presets", "paper000"}, exitOK, "up_p"},
		{[]string{"presets", "--help"}, exitOK, "Usage: batchrun presets"},
		{[]string{"presets", "nope"}, exitUsage, `unknown preset "nope"`},
		{[]string{"version"}, exitOK, "batchrun"},
	}
	for _, tc := range tests {
		code, stdout, stderr := runCLI(t, context.Background(), tc.args...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("batchrun %v: exit %d (want %d), output lacks %q?\n%s%s", tc.args, code, tc.code, tc.want, stdout, stderr)
		}
	}
}

// The same command twice gives byte-identical CSV files, whatever the number
// of workers and the group size.
func TestRunIsByteReproducible(t *testing.T) {
	base := t.TempDir()
	args := func(dir string, extra ...string) []string {
		return append([]string{"run", "--preset", "paper000", "--seeds", "3", "--set", "T=40", "--set", "E=20", "--set", "eval_samples=20", "--out", dir, "--quiet"}, extra...)
	}
	dirs := []string{filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")}
	extras := [][]string{{"--workers", "1"}, {"--workers", "2"}, {"--workers", "3", "--group", "1"}}
	for i, dir := range dirs {
		if code, _, stderr := runCLI(t, context.Background(), args(dir, extras[i]...)...); code != exitOK {
			t.Fatalf("run %d: exit %d\n%s", i, code, stderr)
		}
	}
	for _, f := range []string{"trace.csv", "summary.csv", "eval.csv"} {
		a, err := os.ReadFile(filepath.Join(dirs[0], f))
		if err != nil {
			t.Fatal(err)
		}
		if len(a) == 0 || bytes.Count(a, []byte("\n")) < 2 {
			t.Fatalf("%s is empty", f)
		}
		for _, d := range dirs[1:] {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs between %s and %s", f, dirs[0], d)
			}
		}
	}
	// Rows: 4 modes x 3 seeds x 40 iterations; a row per mode and seed.
	trace, _ := os.ReadFile(filepath.Join(dirs[0], "trace.csv"))
	if n := bytes.Count(trace, []byte("\n")) - 1; n != 4*3*40 {
		t.Errorf("trace.csv has %d rows, want %d", n, 4*3*40)
	}
	summary, _ := os.ReadFile(filepath.Join(dirs[0], "summary.csv"))
	if n := bytes.Count(summary, []byte("\n")) - 1; n != 4*3 {
		t.Errorf("summary.csv has %d rows, want %d", n, 4*3)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "manifest.json")); err != nil {
		t.Errorf("no manifest: %v", err)
	}
	// A second run into the same directory is refused unless --overwrite.
	code, _, stderr := runCLI(t, context.Background(), args(dirs[0])...)
	if code != exitUsage || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("rerun into a full directory: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, context.Background(), args(dirs[0], "--overwrite")...); code != exitOK {
		t.Errorf("--overwrite: exit %d\n%s", code, stderr)
	}
}

// An interrupted run exits 130 and leaves no results behind.
func TestInterruptedRunWritesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, ctx, "run", "--seeds", "2", "--set", "T=50", "--out", dir, "--quiet")
	if code != exitInterrupted || !strings.Contains(stderr, "interrupted") {
		t.Fatalf("exit %d, want %d; stderr %q", code, exitInterrupted, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("interrupted run left %s (stat: %v)", dir, err)
	}
}

func TestParseSeeds(t *testing.T) {
	got, err := parseSeeds(0, "3,7-9,0", false)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint64{3, 7, 8, 9, 0}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"x", "3,3", "1-", "-1", "2-1"} {
		if _, err := parseSeeds(0, bad, false); err == nil {
			t.Errorf("--seed-list %q accepted", bad)
		}
	}
}

func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{{"run", "--help"}, {"help", "run"}, {"presets", "-h"}, {"help", "presets"}} {
		code, stdout, stderr := runCLI(t, context.Background(), args...)
		if code != exitOK || !strings.Contains(stdout, "Usage: batchrun") || stderr != "" {
			t.Errorf("batchrun %v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

// An unusable --out fails before any computing, and a refused run leaves
// nothing behind.
func TestUnwritableOutFailsFirst(t *testing.T) {
	file := filepath.Join(t.TempDir(), "afile")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// T is huge: the test would time out if the run started computing.
	code, _, stderr := runCLI(t, context.Background(), "run", "--set", "T=1000000", "--out", filepath.Join(file, "sub"), "--quiet")
	if code != exitFailure || !strings.Contains(stderr, "afile") {
		t.Fatalf("exit %d, stderr %q; want %d naming the path", code, stderr, exitFailure)
	}
}

func TestOverwriteRemovesStaleFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	base := []string{"run", "--seeds", "1", "--set", "T=10", "--set", "mode=sync", "--out", dir, "--quiet"}
	if code, _, stderr := runCLI(t, context.Background(), append(base, "--set", "E=5", "--set", "eval_samples=4")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "eval.csv")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, context.Background(), append(base, "--overwrite")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "eval.csv")); !os.IsNotExist(err) {
		t.Errorf("eval.csv of the previous run survived --overwrite with E = 0 (stat: %v)", err)
	}
}

func TestTooLargeForMemoryIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, context.Background(), "run", "--set", "N=200000", "--seeds", "64", "--out", dir, "--quiet")
	if code != exitUsage || !strings.Contains(stderr, "GiB") || !strings.Contains(stderr, "N = 200000") {
		t.Fatalf("exit %d, stderr %q; want %d with a memory estimate", code, stderr, exitUsage)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("refused run created %s", dir)
	}
}

func TestQuietPrintsOnlyTheReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, context.Background(), "run", "--seeds", "1", "--set", "T=5", "--set", "mode=async", "--out", dir, "--quiet")
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "1 seed-run (1 seed x 1 mode)") {
		t.Errorf("exit %d, stderr %q, stdout %q", code, stderr, stdout)
	}
}
