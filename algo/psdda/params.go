package psdda

import (
	"fmt"
	"strings"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/graph"
)

// The algorithms (spec sections 2-4).
const (
	ModePSDDA     = "ps-dda"     // push-sum dual averaging: x = Proj(-a(t) z / w)
	ModeDDAColumn = "dda-column" // the same column-stochastic weights, x = Proj(-a(t) z): biased
	ModeDDADouble = "dda-doubly" // Metropolis weights on the symmetrised graphs, x = Proj(-a(t) z)
)

// Modes lists the algorithms in their canonical order.
var Modes = []string{ModePSDDA, ModeDDAColumn, ModeDDADouble}

// The graph sequences.
const (
	GraphPaper002 = "paper002" // the paper's four-graph cycle on 8 nodes
	GraphEdges    = "edges"    // a cycle of graphs given by the edges parameter
	GraphRandom   = "random"   // a random B-strongly connected sequence per seed
)

// The delay models.
const (
	DelayFixed   = "fixed"    // every edge has b delay nodes
	DelayPerEdge = "per-edge" // b_e uniform on {0..b}, drawn once per seed and directed edge
	DelayPerStep = "per-step" // b_e(t) uniform on {0..b}, redrawn at every step
)

// The objectives.
const (
	ObjectiveQP     = "qp"     // f_i = ||x - b_i||^2, b_i = (0.1 i, 0.5 - 0.05 i)
	ObjectiveSensor = "sensor" // f_i = (z_i - H_i x)^2 + lambda ||x||^2
	ObjectiveLSQ    = "lsq"    // f_i = ||A_i x - y_i||^2 + lambda ||x||^2
)

// The per-node error outputs.
const (
	NodesAuto = "auto" // trace columns err_1..err_16 when n <= 16, the nodes table otherwise
	NodesLong = "long" // the nodes table whatever n
	NodesOff  = "off"  // neither
)

// NodeColumns is the number of per-node error columns of the trace table.
const NodeColumns = 16

// Schema returns the parameters of the psdda experiment.
func Schema() batch.Schema {
	return batch.Schema{
		{Name: "mode", Kind: batch.Enum, Default: ModePSDDA, Enum: Modes, Doc: "algorithm: push-sum DDA, or DDA with column- or doubly stochastic weights"},
		{Name: "n", Kind: batch.Int, Default: "8", Range: batch.Between(2, 1<<24), Doc: "number of (compute) nodes"},
		{Name: "d", Kind: batch.Int, Default: "2", Range: batch.Between(1, 1000), Doc: "dimension of x"},
		{Name: "T", Kind: batch.Int, Default: "5000", Range: batch.Between(1, 1<<31-1), Doc: "steps"},
		{Name: "a", Kind: batch.Float, Default: "0.1", Range: batch.Above(0), Doc: "step size scale: a(t) = a / sqrt(t)"},
		{Name: "b", Kind: batch.Int, Default: "1", Range: batch.Between(0, 1<<20), Doc: "delay nodes per edge: mass sent at t arrives at t+b+1 (the bound for per-edge and per-step delays)"},
		{Name: "delays", Kind: batch.Enum, Default: DelayFixed, Enum: []string{DelayFixed, DelayPerEdge, DelayPerStep}, Doc: "fixed: b on every edge; per-edge: uniform on {0..b} per directed edge and seed; per-step: redrawn every step"},
		{Name: "graph", Kind: batch.Enum, Default: GraphPaper002, Enum: []string{GraphPaper002, GraphEdges, GraphRandom}, Doc: "paper002: the paper's 4-graph cycle (n = 8); edges: the cycle in the edges parameter; random: drawn per seed, every window steps strongly connected"},
		{Name: "edges", Kind: batch.Text, Default: "", Syntax: `graphs separated by "/", each a space-separated list of 1-based edges j->i, e.g. "1->2 2->3 / 3->1"`, Doc: "graph = edges: the cycle G(t) = G_{(t mod m)+1}; the union must be strongly connected"},
		{Name: "degree", Kind: batch.Float, Default: "5", Range: batch.AtLeast(0), Doc: "graph = random: mean out-degree of G(t), at most n-1 (at least 1/window: the backbone)"},
		{Name: "window", Kind: batch.Int, Default: "5", Range: batch.Between(1, 1<<20), Doc: "graph = random: every window of this many steps has a strongly connected union (the paper's B)"},
		{Name: "objective", Kind: batch.Enum, Default: ObjectiveQP, Enum: []string{ObjectiveQP, ObjectiveSensor, ObjectiveLSQ}, Doc: "qp: f_i = ||x - b_i||^2 (d = 2); sensor: (z_i - H_i x)^2 + lambda ||x||^2, data per seed; lsq: ||A_i x - y_i||^2 + lambda ||x||^2, Gaussian A_i per seed"},
		{Name: "lambda", Kind: batch.Float, Default: "0.1", Range: batch.AtLeast(0), Doc: "sensor and lsq: ridge weight"},
		{Name: "rows", Kind: batch.Int, Default: "5", Range: batch.Between(1, 1<<16), Doc: "lsq: rows of each node's A_i"},
		{Name: "noise", Kind: batch.Float, Default: "0.1", Range: batch.AtLeast(0), Doc: "lsq: standard deviation of the noise in y_i"},
		{Name: "lo", Kind: batch.Float, Default: "-1", Doc: "X = [lo, hi]^d"},
		{Name: "hi", Kind: batch.Float, Default: "1", Doc: "X = [lo, hi]^d"},
		{Name: "trace_points", Kind: batch.Int, Default: "100", Range: batch.Between(0, 1<<20), Doc: "trace rows at about this many log-spaced steps (always 1 and T); 0 = every step"},
		{Name: "node_errors", Kind: batch.Enum, Default: NodesAuto, Enum: []string{NodesAuto, NodesLong, NodesOff}, Doc: "per-node errors: auto = trace columns err_1..err_16 when n <= 16, else the long nodes table; long = the nodes table; off = neither"},
	}
}

// Presets returns the named parameter sets: the paper's figures.
func Presets() []batch.Preset {
	return []batch.Preset{
		{
			Name: "paper002-qp", Experiment: "psdda",
			Doc: "Wang et al. (arXiv 2112.01731) Figs. 2-4: quadratic program, 8 nodes, 4-graph cycle, a = 0.1, T = 5000; " +
				"every algorithm at b = 1, 5, 10 (deterministic: one replicate)",
			Set:  map[string]string{"objective": ObjectiveQP, "graph": GraphPaper002, "n": "8", "d": "2", "a": "0.1", "T": "5000"},
			Grid: map[string]string{"mode": strings.Join(Modes, ","), "b": "1,5,10"}, Replicates: 1,
		},
		{
			Name: "paper002-sensor", Experiment: "psdda",
			Doc: "Wang et al. Figs. 5-6: distributed estimation by 8 sensors, same graphs, a = 0.1, T = 3000; " +
				"PS-DDA at b = 1, 3, 5, data drawn per replicate",
			Set:  map[string]string{"objective": ObjectiveSensor, "graph": GraphPaper002, "n": "8", "d": "2", "a": "0.1", "T": "3000", "lambda": "0.1"},
			Grid: map[string]string{"b": "1,3,5"}, Replicates: 10,
		},
		{
			Name: "scaling", Experiment: "psdda",
			Doc:  "Beyond the paper: PS-DDA on random B-strongly connected digraphs, least squares in d = 10, n = 100 to 10,000",
			Set:  map[string]string{"objective": ObjectiveLSQ, "graph": GraphRandom, "d": "10", "T": "1000", "degree": "5", "window": "5", "node_errors": NodesOff},
			Grid: map[string]string{"n": "100,1000,10000", "b": "1,10"}, Replicates: 8,
		},
	}
}

// Config is a resolved parameter set of the psdda experiment.
type Config struct {
	Mode          string
	N, D, T       int
	A             float64
	Bmax          int // b: the fixed delay, or the bound of random delays
	Delays        string
	Graph         string
	Cycle         *graph.Cycle // the fixed sequence (graph paper002 or edges); nil for random
	Degree        float64
	Window        int
	Objective     string
	Lambda, Noise float64
	Rows          int
	Lo, Hi        float64
	TracePoints   int
	NodeErrors    string
	Values        batch.Values
}

// NewConfig reads and cross-checks resolved parameter values; errors name
// the parameters.
func NewConfig(v batch.Values) (Config, error) {
	c := Config{
		Mode: v.String("mode"), N: v.Int("n"), D: v.Int("d"), T: v.Int("T"),
		A: v.Float("a"), Bmax: v.Int("b"), Delays: v.String("delays"),
		Graph: v.String("graph"), Degree: v.Float("degree"), Window: v.Int("window"),
		Objective: v.String("objective"), Lambda: v.Float("lambda"), Noise: v.Float("noise"), Rows: v.Int("rows"),
		Lo: v.Float("lo"), Hi: v.Float("hi"),
		TracePoints: v.Int("trace_points"), NodeErrors: v.String("node_errors"),
		Values: v,
	}
	if c.Lo > c.Hi {
		return c, fmt.Errorf("the box X = [lo, hi]^d = [%g, %g]^%d is empty: want lo <= hi", c.Lo, c.Hi, c.D)
	}
	switch c.Graph {
	case GraphPaper002:
		if c.N != 8 {
			return c, fmt.Errorf("graph %s has 8 nodes, but n = %d: set n = 8, or graph = random or edges", c.Graph, c.N)
		}
		cyc, err := graph.ParseCycle(8, graph.Paper002)
		if err != nil {
			return c, fmt.Errorf("graph %s: %w", c.Graph, err)
		}
		c.Cycle = cyc
	case GraphEdges:
		if v.String("edges") == "" {
			return c, fmt.Errorf("graph = edges needs the parameter edges: %s", schemaSyntax("edges"))
		}
		cyc, err := graph.ParseCycle(c.N, v.String("edges"))
		if err != nil {
			return c, fmt.Errorf("parameter edges (n = %d): %w", c.N, err)
		}
		c.Cycle = cyc
		// Outputs show the edges in canonical form.
		c.Values = c.Values.With("edges", cyc.String())
	case GraphRandom:
		if c.Degree > float64(c.N-1) {
			return c, fmt.Errorf("parameter degree = %g: want a mean out-degree of at most n-1 = %d", c.Degree, c.N-1)
		}
	}
	if c.Graph != GraphEdges && v.String("edges") != "" {
		return c, fmt.Errorf("parameter edges is set, but graph = %s: set graph = edges to use it", c.Graph)
	}
	if c.Objective == ObjectiveQP && c.D != 2 {
		return c, fmt.Errorf("objective qp is defined for d = 2 (b_i = (0.1 i, 0.5 - 0.05 i)), but d = %d", c.D)
	}
	rows := map[string]int{ObjectiveSensor: 1, ObjectiveLSQ: c.Rows}[c.Objective]
	if rows > 0 && c.Lambda == 0 && c.N*rows < c.D {
		return c, fmt.Errorf("objective %s with lambda = 0 has n * rows = %d data rows for d = %d unknowns: f is not strictly convex; set lambda > 0 or more nodes", c.Objective, c.N*rows, c.D)
	}
	// Parameters that the point does not use are reset to their defaults,
	// so that outputs do not suggest they mattered and a sweep over one of
	// them is reported as points that resolve to the same parameters.
	unused := []string{}
	if c.Graph != GraphRandom {
		unused = append(unused, "degree", "window")
	}
	switch c.Objective {
	case ObjectiveQP:
		unused = append(unused, "lambda", "rows", "noise")
	case ObjectiveSensor:
		unused = append(unused, "rows", "noise")
	}
	for _, name := range unused {
		p, _ := c.Values.Schema().Lookup(name)
		def, err := p.Parse(p.Default)
		if err != nil {
			return c, err
		}
		if c.Values.Text(name) != p.Default {
			c.Values = c.Values.With(name, def) // a copy: cells share their Values
		}
	}
	return c, nil
}

func schemaSyntax(name string) string {
	p, _ := Schema().Lookup(name)
	return p.Allowed()
}

// Slots returns the length of the arrival rings: b + 1 steps ahead.
func (c *Config) Slots() int { return c.Bmax + 1 }

// perNodeColumns reports whether the trace carries per-node errors.
func (c *Config) perNodeColumns() bool {
	return c.NodeErrors == NodesAuto && c.N <= NodeColumns
}

// nodesTable reports whether per-node errors go to the long nodes table.
func (c *Config) nodesTable() bool {
	return c.NodeErrors == NodesLong || c.NodeErrors == NodesAuto && c.N > NodeColumns
}
