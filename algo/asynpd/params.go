package asynpd

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/batchrun/batchrun/async"
	"github.com/batchrun/batchrun/batch"
)

// The algorithms.
const (
	ModeAsyn = "asyn-pd" // event-driven: buffered workers and server, never waiting
	ModeSync = "sync-pd" // rounds: the server waits for every worker
)

// Modes lists the algorithms in their canonical order.
var Modes = []string{ModeAsyn, ModeSync}

// Schema returns the parameters of the asynpd experiment. Its defaults are
// the spec's paper003 instance.
func Schema() batch.Schema {
	return batch.Schema{
		{Name: "mode", Kind: batch.Enum, Default: ModeAsyn, Enum: Modes, Doc: "asyn-pd: event-driven asynchronous primal-dual; sync-pd: rounds timed by the slowest worker"},
		{Name: "n", Kind: batch.Int, Default: "10", Range: batch.Between(2, 1<<24), Doc: "workers; workers 1..floor(n/2) form class 1, the rest class 2"},
		{Name: "d", Kind: batch.Int, Default: "5", Range: batch.Between(1, 1<<16), Doc: "dimension of each worker's model theta_i"},
		{Name: "sigma", Kind: batch.Float, Default: "0.5", Range: batch.AtLeast(0), Doc: "f_i(theta; xi) = 0.5 ||theta - xi||^2 with xi ~ N(mu_i 1, sigma^2 I)"},
		{Name: "mu1", Kind: batch.Float, Default: "1", Doc: "mean of xi's coordinates for class 1"},
		{Name: "mu2", Kind: batch.Float, Default: "2", Doc: "mean of xi's coordinates for class 2"},
		{Name: "lo", Kind: batch.Float, Default: "0", Doc: "lower bound of every box C_i"},
		{Name: "hi1", Kind: batch.Float, Default: "2", Doc: "class 1: C_i = [lo, hi1]^d"},
		{Name: "hi2", Kind: batch.Float, Default: "3", Doc: "class 2: C_i = [lo, hi2]^d"},
		{Name: "constraint", Kind: batch.Enum, Default: ConstraintNorm, Enum: []string{ConstraintNorm, ConstraintSum, ConstraintBoth}, Doc: "coupling: norm: ||thetabar||^2 <= budget; sum: sum_k thetabar_k <= sum_budget; both (m = 2)"},
		{Name: "budget", Kind: batch.Float, Default: "9", Doc: "constraint norm: ||thetabar||^2 <= budget"},
		{Name: "sum_budget", Kind: batch.Float, Default: "5", Doc: "constraint sum: sum_k thetabar_k <= sum_budget"},
		{Name: "lambda_max", Kind: batch.Float, Default: "10", Range: batch.Above(0), Doc: "Lambda = [0, lambda_max]^m"},
		{Name: "alpha", Kind: batch.Float, Default: "0.01", Range: batch.Above(0), Doc: "primal regularization alpha/2 ||theta_i||^2"},
		{Name: "beta", Kind: batch.Float, Default: "0.01", Range: batch.Above(0), Doc: "dual regularization -beta/2 ||lambda||^2"},
		{Name: "a", Kind: batch.Float, Default: "200", Range: batch.Above(0), Doc: "step size gamma_t = a / (b + t)"},
		{Name: "b", Kind: batch.Float, Default: "1000", Range: batch.Above(0), Doc: "step size gamma_t = a / (b + t)"},
		{Name: "horizon", Kind: batch.Float, Default: "3000", Range: batch.Above(0), Doc: "simulated wall time of a run"},
		{Name: "compute", Kind: batch.Enum, Default: async.ComputeFixed, Enum: async.ComputeModels, Doc: "compute time of an update: m_i times a unit-mean factor: fixed (1), exponential, lognormal (c_sigma), pareto (c_alpha)"},
		{Name: "c_lo", Kind: batch.Float, Default: "1", Range: batch.Above(0), Doc: "worker i's mean compute time m_i ~ U[c_lo, c_hi], drawn once per worker and seed"},
		{Name: "c_hi", Kind: batch.Float, Default: "5", Range: batch.Above(0), Doc: "see c_lo"},
		{Name: "c_sigma", Kind: batch.Float, Default: "1", Range: batch.AtLeast(0), Doc: "compute = lognormal: shape sigma of the factor exp(sigma Z - sigma^2/2)"},
		{Name: "c_alpha", Kind: batch.Float, Default: "2.5", Range: batch.Above(1), Doc: "compute = pareto: tail index of the factor (mean 1)"},
		{Name: "stragglers", Kind: batch.Text, Default: "", Syntax: `space-separated 1-based worker indices, e.g. "1" or "1 7"; empty: none`, Doc: "workers whose mean compute time is straggler_time instead of a U[c_lo, c_hi] draw"},
		{Name: "straggler_time", Kind: batch.Float, Default: "50", Range: batch.Above(0), Doc: "mean compute time of the stragglers"},
		{Name: "upload", Kind: batch.Enum, Default: async.DelayUniform, Enum: async.DelayModels, Doc: "upload delay per message: uniform on [upload_lo, upload_hi], or upload_lo + exponential with the same mean"},
		{Name: "upload_lo", Kind: batch.Float, Default: "0", Range: batch.AtLeast(0), Doc: "see upload"},
		{Name: "upload_hi", Kind: batch.Float, Default: "1", Range: batch.AtLeast(0), Doc: "see upload"},
		{Name: "broadcast", Kind: batch.Enum, Default: async.DelayUniform, Enum: async.DelayModels, Doc: "broadcast delay per message and worker: uniform on [broadcast_lo, broadcast_hi], or broadcast_lo + exponential with the same mean"},
		{Name: "broadcast_lo", Kind: batch.Float, Default: "0", Range: batch.AtLeast(0), Doc: "see broadcast"},
		{Name: "broadcast_hi", Kind: batch.Float, Default: "1", Range: batch.AtLeast(0), Doc: "see broadcast"},
		{Name: "fail_prob", Kind: batch.Float, Default: "0", Range: batch.Range{Lo: 0, Hi: 1, HasLo: true, HasHi: true, HiOpen: true}, Doc: "after each update a worker stops with this probability (extension: workers that fail and come back)"},
		{Name: "fail_time", Kind: batch.Float, Default: "100", Range: batch.Above(0), Doc: "mean length of a stop (exponential)"},
		{Name: "grid", Kind: batch.Int, Default: "300", Range: batch.Between(1, 1<<22), Doc: "the time table has rows at k horizon / grid, k = 0..grid"},
		{Name: "trace_points", Kind: batch.Int, Default: "20", Range: batch.Between(0, 1<<20), Doc: "the iters table has rows at about this many log-spaced iteration counts per decade, the same for every seed (summary has the final counts); 0 = every iteration"},
	}
}

// Presets returns the paper's figures and a scaling study.
func Presets() []batch.Preset {
	return []batch.Preset{
		{
			Name: "paper003", Experiment: "asynpd",
			Doc: "Li, Yemini, Wai (arXiv 2509.01172) Fig. 2: 10 workers, d = 5, ||thetabar||^2 <= 9, compute times U[1, 5] per worker, " +
				"delays U[0, 1]; Asyn-PD vs Sync-PD over 3000 time units, 10 replicates",
			Set:  map[string]string{},
			Grid: map[string]string{"mode": strings.Join(Modes, ",")}, Replicates: 10,
		},
		{
			Name: "paper003-straggler", Experiment: "asynpd",
			Doc:  "Li, Yemini, Wai Fig. 3: as paper003, but worker 1 takes 50 time units per update",
			Set:  map[string]string{"stragglers": "1", "straggler_time": "50"},
			Grid: map[string]string{"mode": strings.Join(Modes, ",")}, Replicates: 10,
		},
		{
			Name: "scaling", Experiment: "asynpd",
			Doc:  "Beyond the paper: Asyn-PD with 10 to 10,000 workers, d = 5, 300 time units (n = 10,000: about a million updates)",
			Set:  map[string]string{"mode": ModeAsyn, "horizon": "300", "grid": "100"},
			Grid: map[string]string{"n": "10,100,1000,10000"}, Replicates: 4,
		},
	}
}

// Config is a resolved parameter set of the asynpd experiment.
type Config struct {
	Mode        string
	Problem     Problem
	A, B        float64
	Horizon     float64
	Compute     async.Compute
	CLo, CHi    float64
	Stragglers  []int // 0-based
	StragglerC  float64
	Upload      async.Delay
	Broadcast   async.Delay
	Outage      async.Outage
	Grid        int
	TracePoints int
	Values      batch.Values
}

// NewConfig reads and cross-checks resolved parameter values; errors name
// the parameters.
func NewConfig(v batch.Values) (Config, error) {
	n, d := v.Int("n"), v.Int("d")
	n1 := n / 2
	c := Config{
		Mode: v.String("mode"),
		Problem: Problem{
			N: n, D: d, Sigma: v.Float("sigma"),
			Classes: []Class{
				{First: 0, Count: n1, Mu: v.Float("mu1"), Lo: v.Float("lo"), Hi: v.Float("hi1")},
				{First: n1, Count: n - n1, Mu: v.Float("mu2"), Lo: v.Float("lo"), Hi: v.Float("hi2")},
			},
			Alpha: v.Float("alpha"), Beta: v.Float("beta"), LambdaMax: v.Float("lambda_max"),
		},
		A: v.Float("a"), B: v.Float("b"), Horizon: v.Float("horizon"),
		Compute:    async.Compute{Model: v.String("compute"), Sigma: v.Float("c_sigma"), Alpha: v.Float("c_alpha")},
		CLo:        v.Float("c_lo"),
		CHi:        v.Float("c_hi"),
		StragglerC: v.Float("straggler_time"),
		Upload:     async.Delay{Model: v.String("upload"), Lo: v.Float("upload_lo"), Hi: v.Float("upload_hi")},
		Broadcast:  async.Delay{Model: v.String("broadcast"), Lo: v.Float("broadcast_lo"), Hi: v.Float("broadcast_hi")},
		Outage:     async.Outage{Prob: v.Float("fail_prob"), Mean: v.Float("fail_time")},
		Grid:       v.Int("grid"), TracePoints: v.Int("trace_points"),
		Values: v,
	}
	p := &c.Problem
	for i, cl := range p.Classes {
		if cl.Lo > cl.Hi {
			return c, fmt.Errorf("infeasible box: class %d (workers %d-%d) has C_i = [lo, hi%d]^d = [%g, %g]^%d, which is empty: want lo <= hi%d",
				i+1, cl.First+1, cl.First+cl.Count, i+1, cl.Lo, cl.Hi, d, i+1)
		}
	}
	switch con := v.String("constraint"); con {
	case ConstraintNorm:
		p.Cons = []Constraint{{Kind: ConstraintNorm, Budget: v.Float("budget")}}
	case ConstraintSum:
		p.Cons = []Constraint{{Kind: ConstraintSum, Budget: v.Float("sum_budget")}}
	default:
		p.Cons = []Constraint{{Kind: ConstraintNorm, Budget: v.Float("budget")}, {Kind: ConstraintSum, Budget: v.Float("sum_budget")}}
	}
	for j, con := range p.Cons {
		if g := p.MinG(j); g > 0 {
			name, what, move := "budget", "||thetabar||^2", "lower lo"
			if con.Kind == ConstraintSum {
				name, what = "sum_budget", "sum_k thetabar_k"
			} else if p.Classes[0].Hi < 0 || p.Classes[1].Hi < 0 {
				move = "move the boxes toward 0"
			}
			return c, fmt.Errorf("infeasible problem: the constraint %s <= %s = %g cannot hold for models in the boxes C_i (its smallest value there is %g): raise %s or %s",
				what, name, con.Budget, con.Budget+g, name, move)
		}
	}
	if c.CLo > c.CHi {
		return c, fmt.Errorf("compute times U[c_lo, c_hi] = U[%g, %g]: want c_lo <= c_hi", c.CLo, c.CHi)
	}
	if err := c.Compute.Validate(); err != nil {
		return c, fmt.Errorf("parameter compute: %w", err)
	}
	for _, m := range []struct {
		name string
		d    async.Delay
	}{{"upload", c.Upload}, {"broadcast", c.Broadcast}} {
		if err := m.d.Validate(); err != nil {
			return c, fmt.Errorf("parameters %s, %s_lo, %s_hi: %w", m.name, m.name, m.name, err)
		}
	}
	if err := c.Outage.Validate(); err != nil {
		return c, fmt.Errorf("parameters fail_prob, fail_time: %w", err)
	}
	st, err := parseStragglers(v.String("stragglers"), n)
	if err != nil {
		return c, err
	}
	c.Stragglers = st
	// Parameters that the point does not use are reset to their defaults,
	// so that outputs do not suggest they mattered.
	var unused []string
	switch v.String("constraint") {
	case ConstraintNorm:
		unused = append(unused, "sum_budget")
	case ConstraintSum:
		unused = append(unused, "budget")
	}
	if c.Compute.Model != async.ComputeLogNormal {
		unused = append(unused, "c_sigma")
	}
	if c.Compute.Model != async.ComputePareto {
		unused = append(unused, "c_alpha")
	}
	if len(st) == 0 {
		unused = append(unused, "straggler_time")
	}
	if c.Outage.Prob == 0 {
		unused = append(unused, "fail_time")
	}
	for _, name := range unused {
		p, _ := c.Values.Schema().Lookup(name)
		if c.Values.Text(name) != p.Default {
			def, err := p.Parse(p.Default)
			if err != nil {
				return c, err
			}
			c.Values = c.Values.With(name, def) // a copy: cells share their Values
		}
	}
	// Outputs show the stragglers in canonical form.
	if text := formatStragglers(st); text != v.String("stragglers") {
		c.Values = c.Values.With("stragglers", text)
	}
	return c, nil
}

// parseStragglers reads space-separated 1-based worker indices.
func parseStragglers(text string, n int) ([]int, error) {
	var out []int
	for f := range strings.FieldsSeq(text) {
		i, err := strconv.Atoi(f)
		if err != nil || i < 1 || i > n {
			return nil, fmt.Errorf("parameter stragglers = %q: %q is not a worker index; want 1-based indices 1..n = 1..%d separated by spaces", text, f, n)
		}
		if slices.Contains(out, i-1) {
			return nil, fmt.Errorf("parameter stragglers = %q: worker %d is named twice", text, i)
		}
		out = append(out, i-1)
	}
	slices.Sort(out)
	return out, nil
}

func formatStragglers(st []int) string {
	var f []string
	for _, i := range st {
		f = append(f, strconv.Itoa(i+1))
	}
	return strings.Join(f, " ")
}
