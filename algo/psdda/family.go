package psdda

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/results"
)

// Family is the psdda experiment as the sweep engine runs it. A cell is one
// mode on one seed; the cells of a parameter point run as one group, seed
// after seed.
//
// Everything but the problem instance is paired by default: cells that
// differ only in the algorithm's settings (mode, a, T, b, delays) or in
// what is recorded (trace_points, node_errors) get the same seed, so they
// share the objective's data, the random graph sequence and the uniform
// draws behind random delays, and their comparisons are paired. The
// instance (n, d, graph, objective and their parameters) enters the seed.
type Family struct{}

var _ batch.Family = Family{}

// Name returns "psdda".
func (Family) Name() string { return "psdda" }

// Schema returns the parameters (see Schema).
func (Family) Schema() batch.Schema { return Schema() }

// Presets returns the presets (see Presets).
func (Family) Presets() []batch.Preset { return Presets() }

// Paired returns the algorithm's and the outputs' parameters: mode, a, T,
// b, delays, trace_points, node_errors.
func (Family) Paired() []string {
	return []string{"mode", "a", "T", "b", "delays", "trace_points", "node_errors"}
}

// The output tables.
var (
	tableSummary = results.TableDef{Name: "summary", Metrics: []string{
		"f_star", "err_max", "err_mean", "err_min", "dist_max", "mass_w_err", "mass_z_err"}}
	tableTrace = results.TableDef{Name: "trace", Step: "step", Metrics: traceMetrics()}
	tableNodes = results.TableDef{Name: "nodes", Step: "step", Metrics: []string{"node", "err"}}
)

func traceMetrics() []string {
	m := []string{"err_max", "err_mean", "err_min"}
	for i := 1; i <= NodeColumns; i++ {
		m = append(m, "err_"+strconv.Itoa(i))
	}
	return m
}

// Tables returns summary (one row per cell: f*, the maximum, mean and
// minimum over nodes of f(xhat_i(T)) - f*, the largest ||xhat_i(T) - x*||
// and the relative conservation errors of w and z), trace (the errors'
// maximum, mean and minimum over nodes at the trace steps, and node i's
// error in err_i when n <= 16 and node_errors = auto) and nodes (long
// format: step, node (1-based), err; when node_errors asks for it).
func (Family) Tables() []results.TableDef {
	return []results.TableDef{tableSummary, tableTrace, tableNodes}
}

// Resolve checks a parameter point (graph, box, objective).
func (Family) Resolve(v batch.Values) (batch.Values, error) {
	cfg, err := NewConfig(v)
	if err != nil {
		return batch.Values{}, err
	}
	return cfg.Values, nil
}

// Work returns T: progress is counted in seed-steps.
func (Family) Work(v batch.Values) int64 { return int64(v.Int("T")) }

// GroupBytes estimates the memory of a group of cells: one seed's state at
// a time, and every cell's rows.
func (Family) GroupBytes(v batch.Values, cells int) int64 {
	cfg, err := NewConfig(v)
	if err != nil {
		return 0
	}
	n, d := int64(cfg.N), int64(cfg.D)
	state := n*int64(cfg.Slots())*(d+1)*8 + n*d*8*4 // rings, z, x, xsum, g
	edges := int64(float64(n) * (cfg.Degree + 1) * 2 * 40)
	if cfg.Cycle != nil {
		edges = 0
	}
	data := n * (int64(cfg.Rows) + d) * d * 8
	points := int64(cfg.T) // at most min(T, trace_points) steps are traced
	if cfg.TracePoints > 0 {
		points = min(points, int64(cfg.TracePoints))
	}
	rows := points * 200
	if cfg.perNodeColumns() || cfg.nodesTable() {
		rows += points * n * 56
	}
	return state + edges + data + int64(cells)*rows
}

// RunGroup runs the cells of one parameter point, seed after seed.
func (Family) RunGroup(ctx context.Context, cells []*batch.Cell, progress func(int64)) ([][][]results.Row, error) {
	cfg, err := NewConfig(cells[0].Values)
	if err != nil {
		return nil, err
	}
	out := make([][][]results.Row, len(cells))
	for ci, c := range cells {
		res, err := Run(ctx, &cfg, c.Seed, func(s int) { progress(int64(s)) })
		if err != nil {
			return nil, fmt.Errorf("psdda cell %s (replicate %d, seed %d): %w", c.Key, c.Replicate, c.Seed, err)
		}
		out[ci] = cellRows(&cfg, res)
	}
	return out, nil
}

// cellRows turns one seed's result into the rows of the three tables.
func cellRows(cfg *Config, r *SeedResult) [][]results.Row {
	last := len(r.Steps) - 1
	summary := []results.Row{{Metrics: []float64{
		r.FStar, r.ErrMax[last], r.ErrMean[last], r.ErrMin[last], r.DistMax, r.MassW, r.MassZ}}}
	var trace, nodes []results.Row
	for k, s := range r.Steps {
		m := make([]float64, 3+NodeColumns)
		m[0], m[1], m[2] = r.ErrMax[k], r.ErrMean[k], r.ErrMin[k]
		for i := range NodeColumns {
			m[3+i] = math.NaN()
			if cfg.perNodeColumns() && i < cfg.N {
				m[3+i] = r.NodeErr[k][i]
			}
		}
		trace = append(trace, results.Row{Step: int64(s), Metrics: m})
		if cfg.nodesTable() {
			for i, e := range r.NodeErr[k] {
				nodes = append(nodes, results.Row{Step: int64(s), Metrics: []float64{float64(i + 1), e}})
			}
		}
	}
	return [][]results.Row{summary, trace, nodes}
}

// Report prints, per parameter point, the number of cells with results and
// the mean over them of the final maximum and mean errors, with the
// parameters that vary between the points shown.
func (Family) Report(w io.Writer, cells []*batch.Cell, summary [][]float64) {
	batch.WriteReport(w, batch.MeansByPoint(cells, summary),
		[]string{"cells", "T", "f*", "max error at T", "mean error at T"},
		func(pt batch.PointMeans) []string {
			m := pt.Mean // f_star, err_max, err_mean, ...
			return []string{strconv.Itoa(pt.Cells), pt.Values.Text("T"), fmt.Sprintf("%.4g", m[0]),
				fmt.Sprintf("%.3e", m[1]), fmt.Sprintf("%.3e", m[2])}
		})
}
