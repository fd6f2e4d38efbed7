package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/batchrun/batchrun/algo/asynpd"
	"github.com/batchrun/batchrun/algo/psdda"
	"github.com/batchrun/batchrun/algo/zo"
	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/results"
)

// defaultSpec is the embedded job of `batchrun run` without a spec or
// --preset (what `make run` runs).
//
//go:embed default.yaml
var defaultSpec []byte

// families returns the experiment families, with their compute backend
// (nil: the kernels $BATCHRUN_KERNELS names, else the best the CPU runs).
func families(be kernels.Backend) batch.Families {
	if be == nil {
		be = cpu.New()
	}
	return batch.Families{"zo": zo.Family{Backend: be}, "psdda": psdda.Family{}, "asynpd": asynpd.Family{}}
}

// kernelsFlag adds --kernels to a flag set.
func kernelsFlag(fs *flag.FlagSet) *string {
	return fs.String("kernels", "", "CPU kernels: auto, "+strings.Join(cpu.Variants(), ", ")+" (default: $"+cpu.EnvVariable+", else auto: the best this CPU runs; results agree to float tolerance)")
}

// backend resolves --kernels (or $BATCHRUN_KERNELS) into a backend.
func backend(flagValue string) (kernels.Backend, error) {
	name, from := flagValue, "--kernels"
	if name == "" {
		name, from = os.Getenv(cpu.EnvVariable), "$"+cpu.EnvVariable
	}
	be, err := cpu.NewVariant(name)
	if err != nil {
		return nil, usagef("%s: %v", from, err)
	}
	return be, nil
}

const runUsage = `Usage: batchrun run [SPEC.yaml] [flags]

Runs a sweep: the cells (parameter point x replicate) of the spec file, of
--preset, of an --experiment's defaults, or of the embedded default
(paper000, every mode, 4 replicates).
Cells of one parameter point run as one batched group; groups run on all
cores. Completed cells are committed to DIR/parts every --flush-every, so
an interrupted run loses only the groups under way, and a killed one also
those completed since the last commit: run the same command again and it
skips every finished cell (growing the grid runs only the new cells).
When every cell of the plan is done, the run merges them into one CSV per
table of the experiment (summary.csv, trace.csv, ...), timing.csv and
manifest.json in DIR, and prints a report.

Sharding: --shard i/n runs the i-th of n disjoint blocks of cells (0 <= i <
n); --shard auto takes i and n from a Slurm job array (SLURM_ARRAY_TASK_ID,
SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job
(JOB_COMPLETION_INDEX, with --shards n). Then run batchrun merge DIR.

GPU: with --backend auto (the default) or cuda, the zeroth-order zo modes
(async, fixed-delay, sync, central-zo) run on a CUDA GPU when libcuda.so.1
loads and --device exists, each parameter point's replicates as one batch of
up to 4096 seeds (split when the GPU runs out of memory); everything else
runs on the CPU. Without a GPU, auto says so in one line and runs on the
CPU; cuda exits 2. The manifest names the backends. CPU and GPU use the same
random numbers, and their results agree to float tolerance.

Seeds: every cell's seed derives from the root seed, its parameters and its
replicate index, so results never depend on workers, groups or shards.
`

// specFlags are the flags shared by run and plan that build the spec.
type specFlags struct {
	preset     *string
	experiment *string
	replicates *string
	seeds      *int
	seedList   *string
	sets       stringList
	out        *string
	shard      *string
	shards     *int
}

func addSpecFlags(fs *flag.FlagSet) *specFlags {
	f := &specFlags{}
	f.preset = fs.String("preset", "", "run a preset instead of a spec file (batchrun presets lists them)")
	f.experiment = fs.String("experiment", "", "run an experiment's defaults (with --set) instead of a spec file or preset: zo, psdda or asynpd")
	f.replicates = fs.String("replicates", "", "replicates per parameter point: a count n (0..n-1), a range a-b, or a list 3,5,9 (overrides the spec)")
	f.seeds = fs.Int("seeds", 0, "the same as --replicates n")
	f.seedList = fs.String("seed-list", "", "the same as --replicates LIST")
	fs.Var(&f.sets, "set", "set a parameter, name=value (repeatable); name=a,b,c makes an axis (for a list-valued parameter such as hidden, a,b,c is one value)")
	f.out = fs.String("out", "", "run directory (default: the spec's out, or runs/NAME)")
	f.shard = fs.String("shard", "", "run one shard: i/n (0 <= i < n), or auto (Slurm array or Kubernetes Indexed Job)")
	f.shards = fs.Int("shards", 0, "number of shards for --shard auto under Kubernetes (the Job's completions)")
	return f
}

// load builds the spec from the arguments and flags, resolves it into a
// plan and picks the shard. Every error is a usage error.
func (f *specFlags) load(fs *flag.FlagSet, fams batch.Families) (*batch.Plan, batch.Shard, error) {
	var spec *batch.Spec
	var err error
	name := "default"
	switch {
	case fs.NArg() > 1:
		return nil, batch.Shard{}, usagef("%s: want at most one spec file, got %q", fs.Name(), fs.Args())
	case fs.NArg() == 1 && (*f.preset != "" || *f.experiment != ""):
		return nil, batch.Shard{}, usagef("%s: give a spec file, --preset or --experiment, not two (a spec file names its experiment and preset)", fs.Name())
	case *f.preset != "" && *f.experiment != "":
		return nil, batch.Shard{}, usagef("%s: give --preset or --experiment, not both (a preset names its experiment)", fs.Name())
	case fs.NArg() == 1:
		spec, err = batch.LoadSpec(fs.Arg(0))
		name = strings.TrimSuffix(filepath.Base(fs.Arg(0)), filepath.Ext(fs.Arg(0)))
		if err == nil && isRunDir(filepath.Dir(fs.Arg(0))) && filepath.Base(fs.Arg(0)) == "spec.yaml" {
			// A run directory's own spec: it resumes that directory, from
			// whatever working directory.
			spec.Out = filepath.Dir(fs.Arg(0))
		}
	case *f.preset != "":
		spec, err = presetSpec(*f.preset, fams)
		name = *f.preset
	case *f.experiment != "":
		if _, ok := fams[*f.experiment]; !ok {
			return nil, batch.Shard{}, usagef("%s: --experiment %q: allowed: %s", fs.Name(), *f.experiment, strings.Join(fams.Names(), ", "))
		}
		spec = &batch.Spec{Source: "--experiment " + *f.experiment, Experiment: *f.experiment}
		name = *f.experiment
	default:
		spec, err = batch.ParseSpec("default.yaml (embedded)", defaultSpec)
	}
	if err != nil {
		return nil, batch.Shard{}, usageError{err}
	}
	if fam, ok := fams[spec.Experiment]; ok {
		if err := spec.Override(fam.Schema(), f.sets); err != nil {
			return nil, batch.Shard{}, usageError{err}
		}
	}
	reps, err := f.replicateList(fs)
	if err != nil {
		return nil, batch.Shard{}, err
	}
	if reps != nil {
		spec.Replicates = reps
	}
	if *f.out != "" {
		spec.Out = *f.out
	}
	if spec.Out == "" {
		spec.Out = filepath.Join("runs", name)
	}
	plan, err := batch.NewPlan(spec, fams)
	if err != nil {
		return nil, batch.Shard{}, usageError{err}
	}
	shard := batch.Shard{I: 0, N: 1}
	switch {
	case *f.shard == "auto":
		shard, err = batch.ShardFromEnv(os.LookupEnv, *f.shards)
	case *f.shard != "":
		if *f.shards != 0 {
			return nil, batch.Shard{}, usagef("--shards is only for --shard auto; --shard i/n names the count itself")
		}
		shard, err = batch.ParseShard(*f.shard)
	case *f.shards != 0:
		err = fmt.Errorf("--shards %d needs --shard auto", *f.shards)
	}
	if err != nil {
		return nil, batch.Shard{}, usageError{err}
	}
	return plan, shard, nil
}

// otherBackends returns the backends other than name that earlier
// processes of the run directory used.
func otherBackends(dir, name string) []string {
	var out []string
	procs, _ := filepath.Glob(filepath.Join(dir, "runs", "*.json"))
	for _, p := range procs {
		m, err := results.ReadManifest(p)
		if err == nil && m.Backend != "" && m.Backend != name && !slices.Contains(out, m.Backend) && m.CellsRun > 0 {
			out = append(out, m.Backend)
		}
	}
	return out
}

// isRunDir reports whether dir holds the records of batchrun runs.
func isRunDir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "runs"))
	return err == nil && st.IsDir()
}

// replicateList reads --replicates, --seeds and --seed-list (nil: none given).
func (f *specFlags) replicateList(fs *flag.FlagSet) ([]int, error) {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	n := 0
	text := ""
	for _, name := range []string{"replicates", "seeds", "seed-list"} {
		if given[name] {
			n++
		}
	}
	if n > 1 {
		return nil, usagef("give one of --replicates, --seeds and --seed-list")
	}
	switch {
	case given["seeds"]:
		if *f.seeds < 1 || *f.seeds > batch.MaxReplicates {
			return nil, usagef("--seeds %d: want a count in [1, %d]", *f.seeds, batch.MaxReplicates)
		}
		return batch.Count(*f.seeds), nil
	case given["replicates"]:
		text = *f.replicates
		if c, err := strconv.Atoi(text); err == nil {
			if c < 1 || c > batch.MaxReplicates {
				return nil, usagef("--replicates %d: want a count in [1, %d]", c, batch.MaxReplicates)
			}
			return batch.Count(c), nil
		}
	case given["seed-list"]:
		text = *f.seedList
	default:
		return nil, nil
	}
	var out []int
	seen := map[int]bool{}
	for _, field := range strings.Split(text, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(field), "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a || len(out)+b-a >= batch.MaxReplicates {
			return nil, usagef("replicates %q: %q is not an index >= 0 or a range a-b (a <= b), or makes more than %d replicates", text, field, batch.MaxReplicates)
		}
		for r := a; r <= b; r++ {
			if seen[r] {
				return nil, usagef("replicates %q: %d given twice", text, r)
			}
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

func presetSpec(name string, fams batch.Families) (*batch.Spec, error) {
	var names []string
	for _, fname := range fams.Names() {
		for _, p := range fams[fname].Presets() {
			if p.Name == name {
				return &batch.Spec{Source: "--preset " + name, Experiment: fname, Preset: name}, nil
			}
			names = append(names, p.Name)
		}
	}
	return nil, fmt.Errorf("unknown preset %q (known: %s; see batchrun presets)", name, strings.Join(names, ", "))
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("run", runUsage)
	sf := addSpecFlags(fs)
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "concurrent groups (default: the CPUs this process may use; results do not depend on it)")
	group := fs.Int("group", 0, "most cells per batched group (0: automatic; results do not depend on it)")
	fresh := fs.Bool("fresh", false, "discard the results already in the run directory instead of resuming")
	cf := addComputeFlags(fs)
	progress := fs.String("progress", "auto", "progress output on stderr: "+strings.Join(batch.ProgressStyles, ", ")+" (auto: bar on a terminal, plain otherwise)")
	every := fs.Duration("progress-every", 30*time.Second, "interval of plain and json progress lines")
	flushEvery := fs.Duration("flush-every", 2*time.Second, "commit completed cells at least this often")
	quiet := fs.Bool("quiet", false, "no progress or log lines, only the final report")
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	// Everything the user gave is checked before anything is written.
	if err := cf.check(); err != nil {
		return err
	}
	comp, err := cf.cpuOnly()
	if err != nil {
		return err
	}
	plan, shard, err := sf.load(fs, comp.families())
	if err != nil {
		return err
	}
	if *workers < 1 {
		return usagef("--workers %d: want >= 1", *workers)
	}
	if *group < 0 {
		return usagef("--group %d: want >= 0 (0: automatic)", *group)
	}
	style, err := progressStyle(*progress, *quiet, stderr)
	if err != nil {
		return err
	}
	if *every <= 0 || *flushEvery <= 0 {
		return usagef("--progress-every and --flush-every must be > 0")
	}
	dir := plan.Spec.Out
	if *fresh && shard.N > 1 {
		return usagef("--fresh with --shard would discard the other shards' results; clear the directory once before submitting the shards")
	}
	cells := plan.ShardCells(shard)
	if plan.Family.Name() == "zo" && slices.ContainsFunc(cells, func(c *batch.Cell) bool { return zo.OnDevice(c.Values.String("mode")) }) {
		// Only zo's zeroth-order modes compute on a GPU: it is looked
		// for when this shard has some.
		if comp, err = cf.withGPU(comp); err != nil {
			return err
		}
		defer comp.close()
		plan.Family = comp.families()["zo"]
	}
	groups := plan.Groups(cells, *workers, *group)
	if err := plan.CheckMemory(groups, *workers, batch.AvailableMemory()*9/10); err != nil {
		return usageError{err}
	}
	if *fresh {
		if err := results.Discard(dir, plan.Tables()); err != nil {
			return fmt.Errorf("--fresh: %w", err)
		}
	}
	store, err := results.OpenStore(dir, shard.Label(), plan.Columns, plan.Tables())
	if err != nil {
		return usageError{err}
	}
	defer store.Close()
	if err := store.CleanOrphans(); err != nil {
		return fmt.Errorf("clean up after an earlier crash: %w", err)
	}
	done, err := results.Done(dir, plan.Tables())
	if err != nil {
		return err
	}
	var todo []*batch.Cell
	for _, c := range cells {
		if done[c.Key] == 0 {
			todo = append(todo, c)
		}
	}
	if err := writeSpec(dir, plan); err != nil {
		return err
	}
	host := results.ThisHost()
	m := manifest(plan, append([]string{"batchrun", "run"}, args...))
	m.Status, m.Shard, m.Workers, m.Backend, m.Host, m.Start = "running", shard.String(), *workers, comp.name(), &host, time.Now().UTC()
	procPath := filepath.Join(dir, "runs", store.Label()+".json")
	if err := results.WriteManifest(procPath, m); err != nil {
		return err
	}
	say := func(format string, a ...any) {
		if !*quiet {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	if comp.fallback != "" {
		say("%s", comp.fallback)
	}
	if others := otherBackends(dir, comp.name()); len(others) > 0 && len(todo) > 0 {
		say("batchrun: note: earlier cells of %s ran on %s, these run on %s: results agree to float tolerance across kernels, not bit for bit (--kernels and --backend pick them)", dir, strings.Join(others, ", "), comp.name())
	}
	say("batchrun: %s: %d cells in the plan, shard %s has %d: %d done, %d to run in %s on %s (%s)",
		dir, len(plan.Cells), shard, len(cells), len(cells)-len(todo), len(todo), plural(len(plan.Groups(todo, *workers, *group)), "group"), plural(*workers, "worker"), comp.name())
	stats, runErr := plan.Execute(ctx, todo, store, batch.ExecOptions{
		Workers: *workers, GroupSize: *group, FlushEvery: *flushEvery,
		Progress: batch.NewProgress(stderr, style, *every, shard.Label()),
	})
	m.End = time.Now().UTC()
	m.WallSec = m.End.Sub(m.Start).Seconds()
	m.CellsRun = stats.Cells
	switch {
	case runErr == nil:
		m.Status = "complete"
	case errors.Is(runErr, context.Canceled):
		m.Status = "interrupted"
	default:
		m.Status = "failed"
	}
	if err := results.WriteManifest(procPath, m); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return fmt.Errorf("%w (%d cells committed; run the same command to resume)", runErr, stats.Cells)
	}
	if len(todo) > 0 {
		say("batchrun: %d cells in %.1f s (%.3f s per cell, %s)", stats.Cells, stats.Wall.Seconds(), stats.Wall.Seconds()/float64(max(stats.Cells, 1)), plural(*workers, "worker"))
	}
	// Merge once every cell of the plan is done (the last shard to finish
	// does it; concurrent merges write identical files atomically).
	done, err = results.Done(dir, plan.Tables())
	if err != nil {
		return err
	}
	for _, c := range plan.Cells {
		if done[c.Key] == 0 {
			fmt.Fprintf(stdout, "shard %s done; other shards still have cells to run. When all have finished: batchrun merge %s\n", shard, dir)
			return nil
		}
	}
	return mergeAndReport(dir, plan, append([]string{"batchrun", "run"}, args...), stdout)
}

// progressStyle resolves --progress.
func progressStyle(style string, quiet bool, stderr io.Writer) (string, error) {
	for _, s := range batch.ProgressStyles {
		if s == style {
			if quiet {
				return batch.ProgressNone, nil
			}
			if s == "auto" {
				if isTerminal(stderr) {
					return batch.ProgressBar, nil
				}
				return batch.ProgressPlain, nil
			}
			return s, nil
		}
	}
	return "", usagef("--progress %q: allowed: %s", style, strings.Join(batch.ProgressStyles, ", "))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// manifest returns the parts of a manifest that come from the plan.
func manifest(plan *batch.Plan, command []string) *results.Manifest {
	m := &results.Manifest{
		Tool: "batchrun", Version: results.Version(), Command: command,
		Experiment: plan.Family.Name(), Spec: plan.Spec.YAML(), Replicates: plan.Spec.Replicates,
		Cells: len(plan.Cells), Columns: plan.Columns, Tables: plan.Tables(),
	}
	for _, a := range plan.Axes {
		m.Grid = append(m.Grid, results.GridAxis{Params: a.Params, Values: a.Values})
	}
	return m
}

// writeSpec writes the effective spec to DIR/spec.yaml, so that merge and a
// resume (batchrun run DIR/spec.yaml) find the plan.
func writeSpec(dir string, plan *batch.Plan) error {
	text := "# The effective spec of this run directory (written by batchrun run).\n" + plan.Spec.YAML()
	return results.WriteAtomic(filepath.Join(dir, "spec.yaml"), func(w *bufio.Writer) error {
		_, err := w.WriteString(text)
		return err
	})
}

const planUsage = `Usage: batchrun plan [SPEC.yaml] [flags]

Lists the cells of a sweep (the same spec, --preset, --set and --replicates
as batchrun run) with their key, replicate, seed, axis values and status in
the run directory: done or pending. --shard lists one shard's cells.
`

func cmdPlan(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", planUsage)
	sf := addSpecFlags(fs)
	counts := fs.Bool("counts", false, "print only the counts")
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	plan, shard, err := sf.load(fs, families(nil))
	if err != nil {
		return err
	}
	done, err := results.Done(plan.Spec.Out, plan.Tables())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	cells := plan.ShardCells(shard)
	nDone := 0
	for _, c := range cells {
		if done[c.Key] > 0 {
			nDone++
		}
	}
	if !*counts {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		head := []string{"cell", "key", "replicate", "seed"}
		for _, a := range plan.Axes {
			head = append(head, a.Params...)
		}
		fmt.Fprintln(tw, strings.Join(append(head, "status"), "\t"))
		for _, c := range cells {
			row := []string{strconv.Itoa(c.Index), c.Key, strconv.Itoa(c.Replicate), strconv.FormatUint(c.Seed, 10)}
			for _, a := range plan.Axes {
				for _, p := range a.Params {
					row = append(row, c.Values.Text(p))
				}
			}
			status := "pending"
			if n := done[c.Key]; n == 1 {
				status = "done"
			} else if n > 1 {
				status = fmt.Sprintf("done %d times", n)
			}
			fmt.Fprintln(tw, strings.Join(append(row, status), "\t"))
		}
		tw.Flush()
	}
	fmt.Fprintf(stdout, "%s: %d cells (%d points x %d replicates)", plan.Spec.Out, len(plan.Cells), len(plan.Points), len(plan.Spec.Replicates))
	if shard.N > 1 {
		fmt.Fprintf(stdout, ", shard %s has %d", shard, len(cells))
	}
	fmt.Fprintf(stdout, ": %d done, %d pending\n", nDone, len(cells)-nDone)
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
