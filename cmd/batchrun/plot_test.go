package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plot draws several --y columns (named and by pattern) of the rows that
// --where selects, and explains unknown columns, empty selections and
// patterns that match nothing.
func TestPlotWhereAndSeveralY(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	mustRun(t, "run", "--out", dir, "--quiet", "--seeds", "3", "--set", "T=6", "--set", "N=4", "--set", "mode=sync,full-power")

	plots := []struct {
		file string
		args []string
	}{
		{"multi.png", []string{"--x", "iter", "--y", "sum_rate,sum_rate_avg", "--where", "mode=sync"}},
		{"glob.png", []string{"--table", "trace", "--where", "mode=full-power,N=4.0", "--x", "iter", "--y", "sum_*", "--log-x", "--log-y"}},
		{"by.png", []string{"--x", "iter", "--y", "sum_*", "--by", "mode", "--where", "N=4", "--where", "mode=sync,mode=full-power"}},
		{"range.png", []string{"--x", "iter", "--y", "sum_rate", "--by", "mode", "--y-range", "0,20", "--band=false"}},
	}
	for _, p := range plots {
		t.Run(p.file, func(t *testing.T) {
			path := filepath.Join(dir, p.file)
			out := mustRun(t, append([]string{"plot", dir, "--out", path}, p.args...)...)
			if !strings.Contains(out, "trace.csv") {
				t.Errorf("plot says %q, not the table", out)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
				t.Fatalf("%s starts with %q, not a PNG", p.file, data[:min(len(data), 8)])
			}
			if _, err := png.Decode(bytes.NewReader(data)); err != nil {
				t.Errorf("%s does not decode: %v", p.file, err)
			}
		})
	}

	errs := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"unknown where column", []string{"--x", "iter", "--y", "sum_rate", "--where", "rho=1"},
			[]string{"trace lacks rho", "iter, sum_rate, sum_rate_avg", "parameter columns (every table): key, experiment, replicate, seed, mode, N"}},
		{"unknown where column of the table", []string{"--table", "trace", "--x", "iter", "--y", "sum_rate", "--where", "mode=sync,eta=1"},
			[]string{"trace lacks eta", "iter, sum_rate, sum_rate_avg", "parameter columns"}},
		{"no rows left", []string{"--x", "iter", "--y", "sum_rate", "--where", "mode=async"},
			[]string{"no row of table trace", "left by the filter mode=async", `mode is one of ["sync" "full-power"]`}},
		{"no rows left by two filters", []string{"--x", "iter", "--y", "sum_rate", "--where", "mode=sync", "--where", "N=5"},
			[]string{"left by the filter mode=sync, N=5", `N is one of ["4"]`}},
		{"pattern matches nothing", []string{"--x", "iter", "--y", "err_*", "--table", "trace"},
			[]string{`a column matching "err_*"`, "iter, sum_rate, sum_rate_avg", "parameter columns"}},
		{"bad filter", []string{"--x", "iter", "--y", "sum_rate", "--where", "sync"}, []string{"--where", "want column=value"}},
		{"empty y entry", []string{"--x", "iter", "--y", "sum_rate,", "--where", "mode=sync"}, []string{"empty column name"}},
		{"bad y range", []string{"--x", "iter", "--y", "sum_rate", "--y-range", "6,5"}, []string{"--y-range", "LO < HI"}},
		{"y range not numbers", []string{"--x", "iter", "--y", "sum_rate", "--y-range", "low"}, []string{"--y-range", "LO,HI"}},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.png")
			code, stdout, stderr := runCLI(t, context.Background(), append([]string{"plot", dir, "--out", path}, e.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s%s", code, exitUsage, stdout, stderr)
			}
			for _, w := range e.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if _, err := os.Stat(path); err == nil {
				t.Errorf("a failed plot wrote %s", path)
				os.Remove(path)
			}
		})
	}
}

// plot --help shows an example of --where and of a --y pattern.
func TestPlotHelpExamples(t *testing.T) {
	code, stdout, _ := runCLI(t, context.Background(), "plot", "--help")
	if code != exitOK {
		t.Fatalf("plot --help: exit %d", code)
	}
	for _, w := range []string{"--where mode=ps-dda,b=1", "--y 'err_[0-9]*'", "--y sum_rate,sum_rate_avg", "-where col=value"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("plot --help does not show %q:\n%s", w, stdout)
		}
	}
}
