package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/batchrun/batchrun/algo/zo"
	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/results"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// The embedded default job of `batchrun run` without --preset (what
// `make run` runs): a short paper000 sweep, all four modes on a few seeds.
const (
	defaultPreset = "paper000"
	defaultSeeds  = 4
)

// usageError marks errors in what the user asked for (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

const mainUsage = `batchrun runs batched Monte Carlo experiments of asynchronous distributed
optimization and writes tidy CSV.

Usage:
  batchrun run [flags]       run an experiment (batchrun run --help)
  batchrun presets [NAME]    list presets and their parameters
  batchrun version           print the version
  batchrun help              print this help

Exit codes: 0 success, 1 run failure, 2 bad usage or input, 130 interrupted.
`

// Main runs the command line args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "presets":
		err = cmdPresets(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "batchrun %s %s %s/%s\n", results.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	case "help", "-h", "--help", "-help":
		switch {
		case len(args) > 1 && args[1] == "run":
			err = cmdRun(ctx, []string{"--help"}, stdout, stderr)
		case len(args) > 1 && args[1] == "presets":
			err = cmdPresets([]string{"--help"}, stdout, stderr)
		default:
			fmt.Fprint(stdout, mainUsage)
		}
	default:
		fmt.Fprintf(stderr, "batchrun: unknown command %q\n\n%s", args[0], mainUsage)
		return exitUsage
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintln(stderr, "batchrun: interrupted; no results were written")
		return exitInterrupted
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "batchrun: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "batchrun: %v\n", err)
		return exitFailure
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// newFlagSet returns a flag set that prints nothing itself: parseFlags
// prints the help (to stdout, when asked for) and reports errors.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // flag.Parse's own messages; see parseFlags
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, usage)
		fmt.Fprintln(out, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args: -h prints the help to stdout and returns
// flag.ErrHelp; a bad flag is a usage error pointing at the help.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return err
		}
		return usagef("%s: %v (see batchrun %s --help)", fs.Name(), err, fs.Name())
	}
	if !allowArgs && fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q (see batchrun %s --help)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return nil
}

func findPreset(name string) (batch.Preset, error) {
	var names []string
	for _, p := range zo.Presets() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return batch.Preset{}, usagef("unknown preset %q (known: %s; see batchrun presets)", name, strings.Join(names, ", "))
}

const runUsage = `Usage: batchrun run [--preset NAME] [--seeds S | --seed-list LIST] [--set key=value ...] [--out DIR]

Runs every mode of the preset (or the modes chosen with --set mode=...) on
the same seeds, each seed-run on its own channel stream, seeds batched into
groups that run on all cores. Without --preset it runs the embedded default:
preset paper000 on 4 seeds (the four zeroth-order modes side by side).

Writes to DIR: trace.csv (one row per mode, seed and iteration), summary.csv
(one row per mode and seed), eval.csv (with --set E=...), manifest.json.
Every file is written whole or not at all. Parameters: batchrun presets.
`

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("run", runUsage)
	preset := fs.String("preset", "", "preset to run (default: the embedded paper000 job)")
	seeds := fs.Int("seeds", defaultSeeds, "number of seeds: runs seeds 0..S-1")
	seedList := fs.String("seed-list", "", "explicit seeds instead of --seeds, e.g. 3 or 0-7,12")
	var sets stringList
	fs.Var(&sets, "set", "override a parameter, key=value (repeatable); lists are comma-separated")
	out := fs.String("out", "", "output directory (default runs/PRESET-YYYYMMDD-HHMMSS)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "concurrent jobs (default: the CPUs this process may use; results do not depend on it)")
	group := fs.Int("group", 0, "seeds per batched group (0: automatic; results do not depend on it)")
	overwrite := fs.Bool("overwrite", false, "replace results already in --out")
	quiet := fs.Bool("quiet", false, "no log or progress lines, only the final report")
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	// Everything the user gave is checked before anything is written.
	name := *preset
	if name == "" {
		name = defaultPreset
	}
	p, err := findPreset(name)
	if err != nil {
		return err
	}
	values, err := zo.Schema().Resolve(p.Set, sets)
	if err != nil {
		return usageError{err}
	}
	cfg, err := zo.NewConfig(values)
	if err != nil {
		return usageError{err}
	}
	seedIDs, err := parseSeeds(*seeds, *seedList, explicit["seeds"])
	if err != nil {
		return err
	}
	if *workers < 1 {
		return usagef("--workers = %d, want >= 1", *workers)
	}
	if *group < 0 {
		return usagef("--group = %d, want >= 0", *group)
	}
	size := zo.GroupSize(len(seedIDs), *workers, *group)
	if err := checkMemory(&cfg, len(seedIDs), size, *workers); err != nil {
		return err
	}
	dir, created, err := prepareOut(*out, name, *overwrite)
	if err != nil {
		return err
	}
	// Leave no empty directory behind if the run does not complete.
	defer func() {
		if created && err != nil {
			os.Remove(dir) // only succeeds while it is empty
		}
	}()

	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	be := cpu.New()
	if *preset == "" {
		log.Info("no --preset: running the embedded default job", "preset", name, "seeds", len(seedIDs))
	}
	log.Info("run", "preset", name, "modes", strings.Join(cfg.Modes, ","), "seeds", len(seedIDs), "N", cfg.N, "T", cfg.T, "backend", be.Name(), "workers", *workers)
	start := time.Now()
	opt := zo.Options{Workers: *workers, GroupSize: *group}
	if !*quiet {
		opt.Progress = progressLogger(log, start)
	}
	res, err := zo.Run(ctx, cfg, seedIDs, be, opt)
	if err != nil {
		return err
	}
	end := time.Now()
	if err := ctx.Err(); err != nil {
		return err
	}

	files := map[string]int{}
	write := func(file string, fill func(*results.CSV, string) error) error {
		rows, err := results.WriteCSV(filepath.Join(dir, file), func(c *results.CSV) error { return fill(c, name) })
		files[file] = rows
		return err
	}
	if err := write("trace.csv", res.WriteTrace); err != nil {
		return err
	}
	if err := write("summary.csv", res.WriteSummary); err != nil {
		return err
	}
	if cfg.EvalEvery > 0 {
		if err := write("eval.csv", res.WriteEval); err != nil {
			return err
		}
	} else if err := os.Remove(filepath.Join(dir, "eval.csv")); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove the previous run's eval.csv: %w", err) // --overwrite of a run with E > 0
	}
	m := &results.Manifest{
		Tool: "batchrun", Version: results.Version(), Command: append([]string{"batchrun", "run"}, args...),
		Experiment: "zo", Preset: name, Seeds: seedIDs, Backend: be.Name(), Workers: *workers,
		Host: results.ThisHost(), Start: start.UTC(), End: end.UTC(), WallSec: end.Sub(start).Seconds(),
		Timings: map[string]string{}, Files: files,
	}
	for _, prm := range values.Schema() {
		m.Params = append(m.Params, results.Param{Name: prm.Name, Value: values.Text(prm.Name)})
	}
	for _, mr := range res.Modes {
		m.Timings[mr.Mode+" (work, summed over jobs)"] = mr.Wall.Round(time.Millisecond).String()
	}
	if cfg.Baselines || cfg.EvalEvery > 0 {
		m.Timings["baselines and held-out references (work, summed over jobs)"] = res.BaselineWall.Round(time.Millisecond).String()
	}
	if err := results.WriteManifest(filepath.Join(dir, "manifest.json"), m); err != nil {
		return err
	}
	res.Report(stdout)
	wall := end.Sub(start)
	runs := len(seedIDs) * len(cfg.Modes)
	fmt.Fprintf(stdout, "\n%s (%s x %s) of T = %d in %.1f s: %.3f s per seed-run on %s\n",
		plural(runs, "seed-run"), plural(len(seedIDs), "seed"), plural(len(cfg.Modes), "mode"), cfg.T,
		wall.Seconds(), wall.Seconds()/float64(runs), plural(*workers, "worker"))
	fmt.Fprintf(stdout, "results in %s: trace.csv (%d rows), summary.csv (%d rows)", dir, files["trace.csv"], files["summary.csv"])
	if cfg.EvalEvery > 0 {
		fmt.Fprintf(stdout, ", eval.csv (%d rows)", files["eval.csv"])
	}
	fmt.Fprintln(stdout, ", manifest.json")
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// checkMemory refuses a run whose estimated memory exceeds what the machine
// has available, naming what to lower, instead of letting it die mid-run.
func checkMemory(cfg *zo.Config, seeds, group, workers int) error {
	avail := batch.AvailableMemory()
	if avail == 0 {
		return nil // cannot tell
	}
	var per int64
	for _, mode := range cfg.Modes {
		per = max(per, cfg.GroupBytes(mode, group))
	}
	need := int64(min(workers, (seeds+group-1)/group*len(cfg.Modes)))*per + cfg.ResultBytes(seeds)
	if float64(need) > 0.9*float64(avail) {
		const gib = 1 << 30
		return usagef("this run needs about %.1f GiB (N = %d, %d seeds per group, %d workers, T = %d) but %.1f GiB are available: lower N, --group or --workers, or run fewer seeds at a time",
			float64(need)/gib, cfg.N, group, workers, cfg.T, float64(avail)/gib)
	}
	return nil
}

// prepareOut creates the output directory before any work, so that an
// unusable --out fails at once. The default is runs/PRESET-TIMESTAMP, made
// exclusively (a suffix is added if another run took the name). Without
// overwrite, a directory that already holds results is refused.
func prepareOut(dir, preset string, overwrite bool) (path string, created bool, err error) {
	if dir == "" {
		if err := os.MkdirAll("runs", 0o755); err != nil {
			return "", false, fmt.Errorf("create runs directory: %w", err)
		}
		base := filepath.Join("runs", fmt.Sprintf("%s-%s", preset, time.Now().Format("20060102-150405")))
		for i := 0; ; i++ {
			path = base
			if i > 0 {
				path = fmt.Sprintf("%s-%d", base, i)
			}
			err := os.Mkdir(path, 0o755)
			if err == nil {
				return path, true, nil
			}
			if !os.IsExist(err) || i > 1000 {
				return "", false, fmt.Errorf("create output directory: %w", err)
			}
		}
	}
	if !overwrite {
		for _, f := range []string{"manifest.json", "trace.csv", "summary.csv", "eval.csv"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				return "", false, usagef("--out %s already holds results (%s); choose another directory or pass --overwrite", dir, f)
			}
		}
	}
	_, statErr := os.Stat(dir)
	created = os.IsNotExist(statErr)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("--out %s: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		if created {
			os.Remove(dir)
		}
		return "", false, fmt.Errorf("--out %s is not writable: %w", dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return dir, created, nil
}

// parseSeeds returns seeds 0..n-1, or the explicit list ("3", "0-7,12").
func parseSeeds(n int, list string, nGiven bool) ([]uint64, error) {
	if list != "" {
		if nGiven {
			return nil, usagef("give either --seeds or --seed-list, not both")
		}
		var out []uint64
		seen := map[uint64]bool{}
		for _, f := range strings.Split(list, ",") {
			f = strings.TrimSpace(f)
			lo, hi, isRange := strings.Cut(f, "-")
			a, err1 := strconv.ParseUint(lo, 10, 64)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.ParseUint(hi, 10, 64)
			}
			if err1 != nil || err2 != nil || b < a || b-a >= 1<<20 {
				return nil, usagef("--seed-list %q: %q is not a seed or a range a-b of seeds (a <= b)", list, f)
			}
			if uint64(len(out))+b-a >= 1<<20 {
				return nil, usagef("--seed-list %q: more than %d seeds; split the run", list, 1<<20)
			}
			for s := a; ; s++ {
				if seen[s] {
					return nil, usagef("--seed-list %q: seed %d given twice", list, s)
				}
				seen[s] = true
				out = append(out, s)
				if s == b {
					break
				}
			}
		}
		return out, nil
	}
	if n < 1 || n > 1<<20 {
		return nil, usagef("--seeds = %d, want 1 <= S <= %d", n, 1<<20)
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i)
	}
	return out, nil
}

// progressLogger logs progress at most every 5 seconds, with an ETA.
func progressLogger(log *slog.Logger, start time.Time) func(done, total int64) {
	var last time.Time
	var mu = make(chan struct{}, 1)
	return func(done, total int64) {
		select {
		case mu <- struct{}{}:
		default:
			return // another worker is reporting
		}
		defer func() { <-mu }()
		now := time.Now()
		if now.Sub(last) < 5*time.Second && done < total {
			return
		}
		last = now
		el := now.Sub(start)
		frac := float64(done) / float64(total)
		eta := time.Duration(float64(el) * (1 - frac) / max(frac, 1e-9))
		log.Info("progress", "done", fmt.Sprintf("%.1f%%", 100*frac), "seed_iterations", fmt.Sprintf("%d/%d", done, total),
			"elapsed", el.Round(time.Second).String(), "eta", eta.Round(time.Second).String())
	}
}

func cmdPresets(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("presets", "Usage: batchrun presets [NAME]\n\nLists the presets with their parameters, defaults and allowed values.\n")
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	presets := zo.Presets()
	if fs.NArg() > 1 {
		return usagef("presets: want at most one preset name")
	}
	if fs.NArg() == 1 {
		p, err := findPreset(fs.Arg(0))
		if err != nil {
			return err
		}
		presets = []batch.Preset{p}
	}
	schema := zo.Schema()
	for i, p := range presets {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s (experiment %s)\n  %s\n\n", p.Name, p.Experiment, p.Doc)
		v, err := schema.Resolve(p.Set, nil)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  parameter\tvalue\tallowed\tmeaning")
		for _, prm := range schema {
			mark := " "
			if _, ok := p.Set[prm.Name]; ok {
				mark = "*"
			}
			fmt.Fprintf(tw, " %s%s\t%s\t%s\t%s\n", mark, prm.Name, v.Text(prm.Name), prm.Allowed(), prm.Doc)
		}
		tw.Flush()
		fmt.Fprintln(stdout, "  (* set by the preset; others are the experiment's defaults; L, l = 0 means from geometry)")
	}
	return nil
}
