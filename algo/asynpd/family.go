package asynpd

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/results"
)

// Run runs one seed of cfg against the saddle point star (from
// cfg.Problem.Solve). progress, if not nil, receives the simulated time
// reached (nondecreasing, ending at the horizon); observe, if not nil,
// every processed event.
func Run(ctx context.Context, cfg *Config, star *Saddle, seed uint64, progress func(time float64), observe func(Event)) (*SeedResult, error) {
	w := newWorld(cfg, seed)
	rec := newRecorder(cfg, star, seed)
	var err error
	if cfg.Mode == ModeSync {
		err = runSync(ctx, w, rec, progress, observe)
	} else {
		err = runAsyn(ctx, w, rec, progress, observe)
	}
	if err != nil {
		return nil, err
	}
	return rec.res, nil
}

// Family is the asynpd experiment as the sweep engine runs it. A cell is
// one algorithm on one seed; the cells of a parameter point share the
// saddle point, computed once per group.
//
// The algorithm's and the outputs' parameters (mode, a, b, horizon, grid,
// trace_points) are paired: cells that differ only in them get the same
// seed, so Asyn-PD and Sync-PD see the same initial models, compute speeds,
// noise and delays. Everything else (the instance and the environment)
// enters the seed.
type Family struct{}

var _ batch.Family = Family{}

// Name returns "asynpd".
func (Family) Name() string { return "asynpd" }

// Schema returns the parameters (see Schema).
func (Family) Schema() batch.Schema { return Schema() }

// Presets returns the presets (see Presets).
func (Family) Presets() []batch.Preset { return Presets() }

// Paired returns mode, a, b, horizon, grid, trace_points.
func (Family) Paired() []string {
	return []string{"mode", "a", "b", "horizon", "grid", "trace_points"}
}

var sampleMetrics = []string{"time", "iteration", "updates", "err_theta", "err_lambda", "err", "lambda"}

// The output tables.
var (
	tableSummary = results.TableDef{Name: "summary", Metrics: []string{
		"lambda_star", "kkt", "err_theta", "err_lambda", "err", "lambda", "iterations", "updates", "rounds"}}
	tableTime  = results.TableDef{Name: "time", Step: "k", Metrics: sampleMetrics}
	tableIters = results.TableDef{Name: "iters", Step: "row", Metrics: sampleMetrics}
)

// Tables returns summary (one row per cell: lambda* of the first
// constraint, the saddle point's KKT residual, the errors
// ||theta - theta*||^2, (lambda - lambda*)^2 and their sum and ||lambda||
// at the horizon, iterations, worker updates and rounds (Sync-PD)), time
// (the same at times k horizon / grid) and iters (at log-spaced iteration
// counts: Asyn-PD's t, Sync-PD's rounds).
func (Family) Tables() []results.TableDef {
	return []results.TableDef{tableSummary, tableTime, tableIters}
}

// Resolve checks a parameter point (boxes, feasibility, models).
func (Family) Resolve(v batch.Values) (batch.Values, error) {
	cfg, err := NewConfig(v)
	if err != nil {
		return batch.Values{}, err
	}
	return cfg.Values, nil
}

// Work returns the expected number of worker updates of a cell (at least
// 1): progress is counted in them, as the simulated time advances.
func (Family) Work(v batch.Values) int64 {
	c := (v.Float("c_lo") + v.Float("c_hi")) / 2
	return max(1, int64(float64(v.Int("n"))*v.Float("horizon")/c))
}

// GroupBytes estimates the memory of a group of cells: one seed's state at
// a time, and every cell's rows.
func (Family) GroupBytes(v batch.Values, cells int) int64 {
	cfg, err := NewConfig(v)
	if err != nil {
		return 0
	}
	n, d := int64(cfg.Problem.N), int64(cfg.Problem.D)
	state := n*d*8*5 + n*80
	// Broadcasts live from the oldest worker snapshot on: about the
	// broadcast rate times the slowest worker's update time.
	rate := float64(n) / ((cfg.CLo + cfg.CHi) / 2)
	slowest := cfg.CHi
	if len(cfg.Stragglers) > 0 {
		slowest = math.Max(slowest, cfg.StragglerC)
	}
	window := math.Min(slowest+cfg.Broadcast.Max()+cfg.Upload.Mean(), cfg.Horizon)
	ring := int64(2 * rate * window * float64(d+1) * 8)
	rows := int64(cfg.Grid+1+300) * int64(8*len(sampleMetrics)+64)
	return state + ring + int64(cells)*rows
}

// RunGroup runs the cells of one parameter point, seed after seed.
func (Family) RunGroup(ctx context.Context, cells []*batch.Cell, progress func(int64)) ([][][]results.Row, error) {
	cfg, err := NewConfig(cells[0].Values)
	if err != nil {
		return nil, err
	}
	star, err := cfg.Problem.Solve()
	if err != nil {
		return nil, fmt.Errorf("asynpd saddle point: %w", err)
	}
	kkt := cfg.Problem.KKT(star)
	work := Family{}.Work(cfg.Values)
	out := make([][][]results.Row, len(cells))
	for ci, c := range cells {
		done := int64(0)
		report := func(time float64) {
			now := int64(float64(work) * math.Min(time/cfg.Horizon, 1))
			if now > done {
				progress(now - done)
				done = now
			}
		}
		res, err := Run(ctx, &cfg, star, c.Seed, report, nil)
		if err != nil {
			return nil, fmt.Errorf("asynpd cell %s (replicate %d, seed %d): %w", c.Key, c.Replicate, c.Seed, err)
		}
		if done < work {
			progress(work - done)
		}
		out[ci] = cellRows(&cfg, res, star, kkt)
	}
	return out, nil
}

func sampleRow(step int64, s Sample) results.Row {
	return results.Row{Step: step, Metrics: []float64{
		s.Time, float64(s.Iteration), float64(s.Updates), s.ErrTheta, s.ErrLambda, s.Err(), s.LambdaNorm}}
}

// cellRows turns one seed's result into the rows of the three tables.
func cellRows(cfg *Config, r *SeedResult, star *Saddle, kkt float64) [][]results.Row {
	final := r.Grid[len(r.Grid)-1]
	rounds := math.NaN() // Asyn-PD has no rounds
	if cfg.Mode == ModeSync {
		rounds = float64(r.Rounds)
	}
	summary := []results.Row{{Metrics: []float64{
		star.Lambda[0], kkt, final.ErrTheta, final.ErrLambda, final.Err(), final.LambdaNorm,
		float64(r.Iterations), float64(r.Updates), rounds}}}
	var grid, iters []results.Row
	for k, s := range r.Grid {
		grid = append(grid, sampleRow(int64(k), s))
	}
	for k, s := range r.Iters {
		iters = append(iters, sampleRow(int64(k), s))
	}
	return [][]results.Row{summary, grid, iters}
}

// Report prints, per parameter point, the number of cells with results and
// the mean over them of the final errors, iterations and updates, with the
// parameters that vary between the points shown.
func (Family) Report(w io.Writer, cells []*batch.Cell, summary [][]float64) {
	batch.WriteReport(w, batch.MeansByPoint(cells, summary),
		[]string{"cells", "horizon", "lambda*", "|theta-theta*|^2", "(lambda-lambda*)^2", "total error", "iterations", "updates"},
		func(pt batch.PointMeans) []string {
			m := pt.Mean // the summary table's metrics
			return []string{strconv.Itoa(pt.Cells), pt.Values.Text("horizon"), fmt.Sprintf("%.4g", m[0]),
				fmt.Sprintf("%.3e", m[2]), fmt.Sprintf("%.3e", m[3]), fmt.Sprintf("%.3e", m[4]),
				fmt.Sprintf("%.0f", m[6]), fmt.Sprintf("%.0f", m[7])}
		})
}
