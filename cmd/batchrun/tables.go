package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/results"
)

// loadRunDir resolves the plan of a run directory from its spec.yaml.
func loadRunDir(dir string) (*batch.Plan, error) {
	path := filepath.Join(dir, "spec.yaml")
	spec, err := batch.LoadSpec(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, usagef("%s is not a run directory (no spec.yaml; batchrun run writes one)", dir)
	}
	if err != nil {
		return nil, usageError{err}
	}
	spec.Out = dir
	plan, err := batch.NewPlan(spec, families(nil))
	if err != nil {
		return nil, usageError{err}
	}
	return plan, nil
}

const mergeUsage = `Usage: batchrun merge DIR

Merges the committed cells of every shard and resumed run in DIR into
trace.csv, summary.csv, eval.csv and timing.csv, rows in the plan's
canonical order: trace, summary and eval do not depend on how the work was
split (timing.csv holds wall times and group sizes, which do). Writes
manifest.json listing every process. Every cell of the plan in
DIR/spec.yaml must be present exactly once: on a gap or a duplicate, merge
writes nothing, names the cells, and exits 1.
`

func cmdMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", mergeUsage)
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("merge: want one run directory")
	}
	dir := fs.Arg(0)
	plan, err := loadRunDir(dir)
	if err != nil {
		return err
	}
	return mergeAndReport(dir, plan, append([]string{"batchrun", "merge"}, args...), stdout)
}

// mergeAndReport merges the run directory, writes its manifest and prints
// the family's report.
func mergeAndReport(dir string, plan *batch.Plan, command []string, stdout io.Writer) error {
	stats, err := results.Merge(dir, plan.MergePlan())
	var prob *results.MergeProblem
	if errors.As(err, &prob) {
		return mergeError(dir, plan, prob)
	}
	if err != nil {
		return fmt.Errorf("merge %s: %w", dir, err)
	}
	m := manifest(plan, command)
	m.Status, m.Files = "merged", stats.Rows
	var backends []string
	procs, _ := filepath.Glob(filepath.Join(dir, "runs", "*.json"))
	sort.Strings(procs)
	for _, p := range procs {
		pm, err := results.ReadManifest(p)
		if err != nil {
			return err
		}
		pm.Spec, pm.Grid, pm.Columns, pm.Tables, pm.Replicates = "", nil, nil, nil, nil
		m.Processes = append(m.Processes, *pm)
		if m.Start.IsZero() || pm.Start.Before(m.Start) {
			m.Start = pm.Start
		}
		if pm.End.After(m.End) {
			m.End = pm.End
		}
		m.CellsRun += pm.CellsRun
		if m.Host == nil {
			m.Host = pm.Host
		}
		if pm.Backend != "" && !slices.Contains(backends, pm.Backend) {
			backends = append(backends, pm.Backend)
		}
	}
	slices.Sort(backends)
	m.Backend = strings.Join(backends, ",")
	if len(backends) > 1 {
		fmt.Fprintf(stdout, "note: the cells of %s ran on different kernels (%s): they agree to float tolerance, not bit for bit (see manifest.json, processes)\n", dir, m.Backend)
	}
	if !m.End.IsZero() {
		m.WallSec = m.End.Sub(m.Start).Seconds()
	}
	if err := results.WriteManifest(filepath.Join(dir, "manifest.json"), m); err != nil {
		return err
	}
	summary, err := results.ReadTable(filepath.Join(dir, plan.Tables()[0].Name+".csv"))
	if err != nil {
		return err
	}
	metrics, err := commitMetrics(summary, plan)
	if err != nil {
		return err
	}
	plan.Family.Report(stdout, plan.Cells, metrics)
	var files []string
	for _, t := range plan.Tables() {
		files = append(files, fmt.Sprintf("%s.csv (%d rows)", t.Name, stats.Rows[t.Name+".csv"]))
	}
	fmt.Fprintf(stdout, "\n%d cells merged in %s: %s, manifest.json", stats.Cells, dir, strings.Join(files, ", "))
	if stats.Extra > 0 {
		fmt.Fprintf(stdout, " (%d committed cells of an earlier grid left out)", stats.Extra)
	}
	fmt.Fprintln(stdout)
	return nil
}

// commitMetrics returns the commit-table metrics of every plan cell, in
// plan order (nil where a cell has no row).
func commitMetrics(t *results.Table, plan *batch.Plan) ([][]float64, error) {
	def := plan.Tables()[0]
	first := len(t.Header) - len(def.Metrics)
	index := map[string]int{}
	for i, c := range plan.Cells {
		index[c.Key] = i
	}
	out := make([][]float64, len(plan.Cells))
	for r, row := range t.Rows {
		i, ok := index[row[0]]
		if !ok {
			continue
		}
		vals := make([]float64, len(def.Metrics))
		for j, field := range row[first:] {
			vals[j] = math.NaN()
			if field == "" {
				continue
			}
			v, err := strconv.ParseFloat(field, 64)
			if err != nil {
				return nil, fmt.Errorf("%s.csv row %d: %s = %q is not a number", def.Name, r+1, t.Header[first+j], field)
			}
			vals[j] = v
		}
		out[i] = vals
	}
	return out, nil
}

// mergeError explains a gap or a duplicate, with the cells and the command
// that completes the run.
func mergeError(dir string, plan *batch.Plan, prob *results.MergeProblem) error {
	var b strings.Builder
	fmt.Fprintf(&b, "merge %s: %v of %d\n", dir, prob, len(plan.Cells))
	describe := func(i int) string {
		c := plan.Cells[i]
		var parts []string
		for _, a := range plan.Axes {
			for _, p := range a.Params {
				parts = append(parts, p+"="+c.Values.Text(p))
			}
		}
		return fmt.Sprintf("cell %d key %s replicate %d %s", c.Index, c.Key, c.Replicate, strings.Join(parts, " "))
	}
	const show = 20
	if n := len(prob.Missing); n > 0 {
		fmt.Fprintf(&b, "missing cells:\n")
		for _, i := range prob.Missing[:min(n, show)] {
			fmt.Fprintf(&b, "  %s\n", describe(i))
		}
		if n > show {
			fmt.Fprintf(&b, "  ... and %d more (batchrun plan %s/spec.yaml lists them)\n", n-show, dir)
		}
		fmt.Fprintf(&b, "to run the missing cells (finished ones are skipped): batchrun run %s --out %s\n", filepath.Join(dir, "spec.yaml"), dir)
	}
	if n := len(prob.Duplicated); n > 0 {
		idx := make([]int, 0, n)
		for i := range prob.Duplicated {
			idx = append(idx, i)
		}
		slices.Sort(idx)
		fmt.Fprintf(&b, "cells committed more than once (by overlapping processes):\n")
		for _, i := range idx[:min(n, show)] {
			fmt.Fprintf(&b, "  %s in parts %s\n", describe(i), strings.Join(prob.Duplicated[i], ", "))
		}
		if n > show {
			fmt.Fprintf(&b, "  ... and %d more\n", n-show)
		}
		fmt.Fprintf(&b, "the same cell computed twice gives the same rows: remove the files of one of the two parts named for each cell from %s (a part's files share its name; remove a part only if all its cells are listed here, or the removal opens gaps, which merge then reports) and merge again", filepath.Join(dir, "parts"))
	}
	return errors.New(strings.TrimRight(b.String(), "\n"))
}

const summarizeUsage = `Usage: batchrun summarize DIR

Writes DIR/aggregate.csv from the merged tables: for every parameter point
(all parameter columns; replicates pooled) and, for tables with steps, every
logged step, each metric's n, mean, sample standard deviation and 95%
confidence interval (Student t). Long format: table, parameters, step,
metric, n, mean, std, ci95_low, ci95_high. Run batchrun merge DIR first if
the run was sharded.
`

func cmdSummarize(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("summarize", summarizeUsage)
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("summarize: want one run directory")
	}
	dir := fs.Arg(0)
	m, err := mergedManifest(dir)
	if err != nil {
		return err
	}
	params := paramColumns(m)
	var parts []results.AggregatePart
	for _, def := range m.Tables {
		if def.Name == batch.Timing.Name {
			continue
		}
		t, err := results.ReadTable(filepath.Join(dir, def.Name+".csv"))
		if err != nil {
			return err
		}
		rows, err := results.Aggregate(t, results.AggregateSpec{Params: params, Step: def.Step, Metrics: def.Metrics})
		if err != nil {
			return err
		}
		parts = append(parts, results.AggregatePart{Table: def.Name, Rows: rows})
	}
	n, err := results.WriteAggregates(filepath.Join(dir, "aggregate.csv"), params, parts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d rows (per parameter point, step and metric)\n", filepath.Join(dir, "aggregate.csv"), n)
	return nil
}

// mergedManifest reads the manifest of a merged run directory.
func mergedManifest(dir string) (*results.Manifest, error) {
	m, err := results.ReadManifest(filepath.Join(dir, "manifest.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, usagef("%s has no manifest.json: not a run directory, or not merged yet (batchrun merge %s)", dir, dir)
	}
	if err != nil {
		return nil, err
	}
	if m.Status != "merged" {
		return nil, usagef("%s is not merged yet: run batchrun merge %s", dir, dir)
	}
	// A run after the merge (a grown grid, more replicates) makes the merged
	// tables stale.
	if spec, err := os.ReadFile(filepath.Join(dir, "spec.yaml")); err == nil && specBody(string(spec)) != specBody(m.Spec) {
		return nil, usagef("the merged tables of %s are older than its spec.yaml (the sweep changed since): run batchrun merge %s", dir, dir)
	}
	return m, nil
}

// specBody returns a spec's text without comments and its out line (the
// same run directory may be named by different paths).
func specBody(text string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "out:") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// paramColumns returns the columns that identify a parameter point: every
// identity and parameter column but the key, the replicate and the seed.
func paramColumns(m *results.Manifest) []string {
	var out []string
	for _, c := range m.Columns {
		if c != "key" && c != "replicate" && c != "seed" {
			out = append(out, c)
		}
	}
	return out
}

const plotUsage = `Usage: batchrun plot DIR --x COLUMN --y COLUMN[,COLUMN...] [--by COLUMN,...] [--where COLUMN=VALUE,...] [--log-x] [--log-y] [--y-range LO,HI] [--band=false] [--table NAME] --out FILE.png|svg|pdf

Plots the mean of --y against --x over the replicates (and any parameter not
in --by), one line per combination of the --by columns, with its 95%
confidence band (Student t). The table is the first merged one that has
every column named (trace.csv for --x iter), or --table.

--y takes several columns, comma-separated, for one line per column (times
the --by combinations), labelled "col" without --by and "col, by-values"
with. An entry with *, ? or [ is a pattern (path.Match syntax; quote it
from the shell) standing for the matching numeric columns of the table in
header order, other than the --x, --by and --where columns; it must match
at least one. Columns empty in every selected row are skipped (err_1 to
err_16 with only the first few filled). The y axis is labelled with the
column when one is plotted, otherwise with the --y entries joined by ", ".

--where COLUMN=VALUE keeps the rows whose COLUMN holds VALUE, as text or,
for numbers, numerically (b=1 matches 1 and 1.0). Comma-separate several
filters, or repeat the flag: filters on different columns must all hold,
several on one column are alternatives (--where mode=sync,mode=async). A
piece without = continues the value before it (--where hidden=30,30).

Examples:
  batchrun plot runs/sweep --x iter --y sum_rate --by mode --out fig1.png
  batchrun plot runs/sweep --x iter --y sum_rate,sum_rate_avg --where N=5 --by mode --out fig1b.svg
  batchrun plot runs/paper002-qp --table trace --where mode=ps-dda,b=1 --x step --y 'err_[0-9]*' --log-x --log-y --out fig2.png
`

func cmdPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plot", plotUsage)
	x := fs.String("x", "", "x column (numeric), e.g. iter or N")
	y := fs.String("y", "", "y columns (numeric), comma-separated, or patterns such as 'err_[0-9]*' (err_1, err_2, ...), e.g. sum_rate")
	by := fs.String("by", "", "comma-separated columns whose values make separate lines, e.g. mode")
	var where stringList
	fs.Var(&where, "where", "row filter `col=value[,col=value...]` (repeatable), e.g. mode=sync,N=5")
	logX := fs.Bool("log-x", false, "logarithmic x axis")
	logY := fs.Bool("log-y", false, "logarithmic y axis")
	yRange := fs.String("y-range", "", "fix the y axis to LO,HI, e.g. 5,6.5 (default: scaled to the data)")
	band := fs.Bool("band", true, "draw the 95% confidence bands (--band=false: the mean lines alone, for paired comparisons whose bands mostly show the spread between replicates)")
	table := fs.String("table", "", "table to plot (default: the first merged table with every column named)")
	title := fs.String("title", "", "plot title")
	out := fs.String("out", "", "output file: .png, .svg or .pdf")
	// Allow the directory before or after the flags.
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	if dir == "" && fs.NArg() == 1 {
		dir = fs.Arg(0)
	} else if fs.NArg() > 0 || dir == "" {
		return usagef("plot: want one run directory (batchrun plot DIR --x ... --y ... --out ...)")
	}
	if *x == "" || *y == "" || *out == "" {
		return usagef("plot: --x, --y and --out are required")
	}
	switch strings.ToLower(filepath.Ext(*out)) {
	case ".png", ".svg", ".pdf":
	default:
		return usagef("plot: --out %q: the extension picks the format: .png, .svg or .pdf", *out)
	}
	spec := results.PlotSpec{X: *x, LogX: *logX, LogY: *logY, NoBand: !*band, Title: *title}
	if *yRange != "" {
		lo, hi, ok := strings.Cut(*yRange, ",")
		a, errA := strconv.ParseFloat(strings.TrimSpace(lo), 64)
		b, errB := strconv.ParseFloat(strings.TrimSpace(hi), 64)
		if !ok || errA != nil || errB != nil || !(a < b) {
			return usagef("--y-range %q: want LO,HI with numbers LO < HI, e.g. 5,6.5", *yRange)
		}
		spec.YRange = [2]float64{a, b}
	}
	for _, c := range strings.Split(*y, ",") {
		if c = strings.TrimSpace(c); c == "" {
			return usagef("plot: --y %q: an empty column name", *y)
		}
		spec.Y = append(spec.Y, c)
	}
	if *by != "" {
		spec.By = strings.Split(*by, ",")
	}
	for _, w := range where {
		f, err := results.ParseFilters(w)
		if err != nil {
			return usagef("plot: --where: %v", err)
		}
		spec.Where = append(spec.Where, f...)
	}
	m, err := mergedManifest(dir)
	if err != nil {
		return err
	}
	var lacking []string // per table tried
	var tried []string
	for _, def := range m.Tables {
		if *table != "" && def.Name != *table {
			continue
		}
		cols := slices.Clone(m.Columns)
		if def.Step != "" {
			cols = append(cols, def.Step)
		}
		cols = append(cols, def.Metrics...)
		tried = append(tried, def.Name)
		if miss := spec.Missing(cols); len(miss) > 0 {
			for i, c := range miss {
				if strings.ContainsAny(c, "*?[") {
					miss[i] = fmt.Sprintf("a column matching %q (other than the --x, --by and --where columns)", c)
				}
			}
			lacking = append(lacking, fmt.Sprintf("  %s lacks %s (its columns: the parameter columns and %s)",
				def.Name, strings.Join(miss, ", "), strings.Join(cols[len(m.Columns):], ", ")))
			continue
		}
		t, err := results.ReadTable(filepath.Join(dir, def.Name+".csv"))
		if err != nil {
			return err
		}
		if err := results.Plot(t, spec, *out); err != nil {
			return usageError{err}
		}
		filtered := ""
		if len(where) > 0 {
			filtered = " rows with " + strings.Join(where, ",") + " of"
		}
		fmt.Fprintf(stdout, "%s: %s against %s from%s %s.csv\n", *out, *y, *x, filtered, def.Name)
		return nil
	}
	if *table != "" && len(tried) == 0 {
		var names []string
		for _, def := range m.Tables {
			names = append(names, def.Name)
		}
		return usagef("plot: --table %q: allowed: %s", *table, strings.Join(names, ", "))
	}
	return usagef("plot: no table of %s has every column named by --x, --y, --by and --where (tables: %s):\n%s\n  parameter columns (every table): %s",
		dir, strings.Join(tried, ", "), strings.Join(lacking, "\n"), strings.Join(m.Columns, ", "))
}

func cmdSpec(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("spec", "Usage: batchrun spec --example\n\nPrints an annotated sweep spec to start from.\n")
	example := fs.Bool("example", false, "print an annotated example spec")
	if err := parseFlags(fs, args, stdout, false); err != nil {
		return err
	}
	if !*example {
		return usagef("spec: what to print? batchrun spec --example")
	}
	fmt.Fprint(stdout, batch.ExampleSpec())
	return nil
}

func cmdPresets(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("presets", "Usage: batchrun presets [NAME]\n\nLists the presets with their parameters, defaults and allowed values.\n")
	if err := parseFlags(fs, args, stdout, true); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("presets: want at most one preset name")
	}
	fams := families(nil)
	shown := 0
	for _, fname := range fams.Names() {
		fam := fams[fname]
		schema := fam.Schema()
		for _, p := range fam.Presets() {
			if fs.NArg() == 1 && p.Name != fs.Arg(0) {
				continue
			}
			if shown > 0 {
				fmt.Fprintln(stdout)
			}
			shown++
			fmt.Fprintf(stdout, "%s (experiment %s)\n  %s\n\n", p.Name, fname, p.Doc)
			v, err := schema.Resolve(p.Set, nil)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  parameter\tvalue\tallowed\tmeaning")
			for _, prm := range schema {
				mark, val := " ", v.Text(prm.Name)
				if _, ok := p.Set[prm.Name]; ok {
					mark = "*"
				}
				if g, ok := p.Grid[prm.Name]; ok {
					mark, val = "*", "["+g+"]"
				}
				fmt.Fprintf(tw, " %s%s\t%s\t%s\t%s\n", mark, prm.Name, val, prm.Allowed(), prm.Doc)
			}
			tw.Flush()
			reps := max(p.Replicates, 1)
			fmt.Fprintf(stdout, "  (* set by the preset, [a,b] an axis; others are the experiment's defaults; %s by default)\n", plural(reps, "replicate"))
		}
	}
	if shown == 0 {
		_, err := presetSpec(fs.Arg(0), fams)
		return usageError{err}
	}
	return nil
}
