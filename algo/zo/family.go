package zo

import (
	"context"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cuda"
	"github.com/batchrun/batchrun/results"
)

// Family is the zo experiment as the sweep engine runs it. A cell is one
// mode (a learning mode or a fixed policy) on one seed; the replicates of a
// parameter point run as one batched group on Backend.
//
// Modes are paired by default: cells that differ only in mode get the same
// seed, so every mode and fixed policy of a replicate sees the same
// geometry, channel samples and perturbation directions, and ratios between
// modes are paired comparisons.
//
// With a GPU, the zeroth-order modes (OnDevice) run on it in groups of up
// to GPUGroup seeds; the first-order references and the fixed policies run
// on Backend as before.
type Family struct {
	Backend kernels.Backend
	GPU     cuda.Device // nil: everything on Backend
}

// GPUGroup is the most seeds of one parameter point that a GPU runs as one
// batch (a GPU that has too little memory for them splits the batch).
const GPUGroup = 4096

var _ batch.Family = Family{}

// Name returns "zo".
func (Family) Name() string { return "zo" }

// Schema returns the parameters (see Schema).
func (Family) Schema() batch.Schema { return Schema() }

// Presets returns the presets (see Presets).
func (Family) Presets() []batch.Preset { return Presets() }

// BackendName names the compute backends: the GPU's and the CPU's
// kernels, or the CPU's alone.
func (f Family) BackendName() string {
	if f.GPU != nil {
		return f.GPU.Name() + " + " + f.Backend.Name()
	}
	return f.Backend.Name()
}

// onGPU reports whether the cells of mode run on the GPU.
func (f Family) onGPU(mode string) bool { return f.GPU != nil && OnDevice(mode) }

// MaxGroup asks for groups of GPUGroup seeds for the modes that run on the
// GPU, and leaves the others to the engine (see batch.GroupSizer).
func (f Family) MaxGroup(v batch.Values) int {
	if f.onGPU(v.String("mode")) {
		return GPUGroup
	}
	return 0
}

// Paired returns ["mode"].
func (Family) Paired() []string { return []string{"mode"} }

// The output tables. iter counts completed iterations (1..T in the trace,
// 0..T in the held-out evaluations).
var (
	tableSummary = results.TableDef{Name: "summary", Metrics: []string{
		"late_from", "sum_rate_final", "sum_rate_avg_final", "sum_rate_late",
		"eval_sum_rate", "eval_full_power", "eval_wmmse", "eval_frac_wmmse"}}
	tableTrace = results.TableDef{Name: "trace", Step: "iter", Metrics: []string{"sum_rate", "sum_rate_avg"}}
	tableEval  = results.TableDef{Name: "eval", Step: "iter", Metrics: []string{"eval_sum_rate", "eval_full_power", "eval_wmmse", "eval_frac_wmmse"}}
)

// Summary metric positions.
const (
	sumLate = 3
)

// Tables returns summary (one row per cell: final, running-average and
// late-window sum-rates, the last held-out evaluation), trace (every
// log_every-th iteration: base-batch sum-rate and its running mean) and eval
// (held-out evaluations, with full power and WMMSE on the same held-out
// samples). The late window is iterations T/2+1..T.
func (Family) Tables() []results.TableDef {
	return []results.TableDef{tableSummary, tableTrace, tableEval}
}

// Resolve checks the configuration of a parameter point and fills in the
// geometry's sides L and l where they are 0 ("from geometry").
func (Family) Resolve(v batch.Values) (batch.Values, error) {
	cfg, err := NewConfig(v)
	if err != nil {
		return batch.Values{}, err
	}
	return cfg.Values, nil
}

// Work returns T: progress is counted in seed-iterations.
func (Family) Work(v batch.Values) int64 { return int64(v.Int("T")) }

// GroupBytes estimates the memory of a group of n cells.
func (f Family) GroupBytes(v batch.Values, n int) int64 {
	cfg, err := NewConfig(v)
	if err != nil {
		return 0
	}
	if IsBaseline(cfg.Mode) {
		// One seed at a time: a channel sample, WMMSE's work space, the trace.
		return int64(cfg.N)*int64(cfg.N)*(4+8+8) + cfg.ResultBytes(n)
	}
	if f.onGPU(cfg.Mode) {
		// Host memory only: the initial policies, the held-out set and
		// the traces; the GPU splits a batch it has no room for.
		return cfg.DeviceHostBytes(n) + cfg.ResultBytes(n)
	}
	return cfg.GroupBytes(cfg.Mode, n) + cfg.ResultBytes(n)
}

// RunGroup runs the cells of one parameter point as one batched group.
func (f Family) RunGroup(ctx context.Context, cells []*batch.Cell, progress func(int64)) ([][][]results.Row, error) {
	cfg, err := NewConfig(cells[0].Values)
	if err != nil {
		return nil, err
	}
	seeds := make([]uint64, len(cells))
	for i, c := range cells {
		seeds[i] = c.Seed
	}
	run := Run
	if f.onGPU(cfg.Mode) {
		run = func(ctx context.Context, cfg *Config, seeds []uint64, be kernels.Backend, progress func(int)) ([]SeedTrace, error) {
			return RunDevice(ctx, cfg, seeds, be, f.GPU, progress)
		}
	}
	traces, err := run(ctx, &cfg, seeds, f.Backend, func(n int) { progress(int64(n)) })
	if err != nil {
		return nil, fmt.Errorf("zo %s: %w", describe(cells), err)
	}
	out := make([][][]results.Row, len(cells))
	for i, tr := range traces {
		ref := EvalReference{FullPower: math.NaN(), WMMSE: math.NaN()}
		if cfg.EvalEvery > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if ref, err = evalReference(&cfg, tr.Seed, f.Backend); err != nil {
				return nil, err
			}
		}
		out[i] = cellRows(&cfg, tr, ref)
	}
	return out, nil
}

func describe(cells []*batch.Cell) string {
	if len(cells) == 1 {
		return fmt.Sprintf("cell %s (replicate %d, seed %d)", cells[0].Key, cells[0].Replicate, cells[0].Seed)
	}
	return fmt.Sprintf("group of %d cells from %s", len(cells), cells[0].Key)
}

// cellRows turns one seed's trace into the rows of the three tables.
func cellRows(cfg *Config, tr SeedTrace, ref EvalReference) [][]results.Row {
	T, every := cfg.T, cfg.LogEvery
	var trace []results.Row
	sum := 0.0
	for t, x := range tr.SumRate {
		sum += x
		iter := t + 1
		if iter%every != 0 && iter != T {
			continue
		}
		trace = append(trace, results.Row{Step: int64(iter), Metrics: []float64{x, sum / float64(iter)}})
	}
	var eval []results.Row
	for _, e := range tr.Eval {
		eval = append(eval, results.Row{Step: int64(e.Iter), Metrics: []float64{e.SumRate, ref.FullPower, ref.WMMSE, e.SumRate / ref.WMMSE}})
	}
	lf := cfg.LateFrom()
	evalFinal := math.NaN()
	if len(tr.Eval) > 0 {
		evalFinal = tr.Eval[len(tr.Eval)-1].SumRate
	}
	summary := []results.Row{{Metrics: []float64{
		float64(lf), tr.SumRate[T-1], sum / float64(T), mean(tr.SumRate[lf-1:]),
		evalFinal, ref.FullPower, ref.WMMSE, evalFinal / ref.WMMSE,
	}}}
	return [][]results.Row{summary, trace, eval}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// Report prints, per mode, the late-window sum-rate averaged over the cells
// that have results, and its paired ratios to full power and WMMSE: the
// sums over the cells whose seed also has a full-power (WMMSE) cell, so
// that both sides of a ratio cover the same channel samples. Cells of
// different parameter points are pooled; `batchrun summarize` gives them
// point by point.
func (Family) Report(w io.Writer, cells []*batch.Cell, summary [][]float64) {
	type ref struct{ full, wmmse float64 }
	refs := map[uint64]*ref{}
	for i, c := range cells {
		if summary[i] == nil {
			continue
		}
		mode := c.Values.String("mode")
		if mode != ModeFullPower && mode != ModeWMMSE {
			continue
		}
		r := refs[c.Seed]
		if r == nil {
			r = &ref{math.NaN(), math.NaN()}
			refs[c.Seed] = r
		}
		if mode == ModeFullPower {
			r.full = summary[i][sumLate]
		} else {
			r.wmmse = summary[i][sumLate]
		}
	}
	type acc struct {
		n                  int
		late               float64
		fullNum, fullDen   float64
		wmmseNum, wmmseDen float64
		evalFrac           float64
		nEval              int
	}
	accs := map[string]*acc{}
	points := map[string]bool{}
	var lateFrom, T int
	for i, c := range cells {
		s := summary[i]
		if s == nil {
			continue
		}
		points[pointWithoutMode(c.Values)] = true
		lateFrom, T = int(s[0]), c.Values.Int("T")
		mode := c.Values.String("mode")
		a := accs[mode]
		if a == nil {
			a = &acc{}
			accs[mode] = a
		}
		a.n++
		a.late += s[sumLate]
		if r := refs[c.Seed]; r != nil {
			if !math.IsNaN(r.full) {
				a.fullNum += s[sumLate]
				a.fullDen += r.full
			}
			if !math.IsNaN(r.wmmse) {
				a.wmmseNum += s[sumLate]
				a.wmmseDen += r.wmmse
			}
		}
		if f := s[len(s)-1]; !math.IsNaN(f) {
			a.evalFrac += f
			a.nEval++
		}
	}
	if len(accs) == 0 {
		fmt.Fprintln(w, "no results")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "mode\tcells\tsum-rate %d-%d\t/ full power\t/ WMMSE\theld-out / WMMSE\t\n", lateFrom, T)
	for _, mode := range Modes {
		a := accs[mode]
		if a == nil {
			continue
		}
		ev := "-"
		if a.nEval > 0 {
			ev = fmt.Sprintf("%.3f", a.evalFrac/float64(a.nEval))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%s\t%s\t%s\t\n", mode, a.n, a.late/float64(a.n), ratio(a.fullNum, a.fullDen), ratio(a.wmmseNum, a.wmmseDen), ev)
	}
	tw.Flush()
	if len(points) > 1 {
		fmt.Fprintf(w, "(pooled over %d parameter points; `batchrun summarize` gives each point)\n", len(points))
	}
}

// pointWithoutMode identifies a parameter point up to its mode.
func pointWithoutMode(v batch.Values) string {
	var b []byte
	for _, p := range v.Schema() {
		if p.Name != "mode" {
			b = append(b, v.Text(p.Name)...)
			b = append(b, 0)
		}
	}
	return string(b)
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	return fmt.Sprintf("%.3f", a/b)
}
