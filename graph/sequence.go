package graph

import (
	"fmt"
	"math"
	"strings"

	"github.com/batchrun/batchrun/kernels/philox"
)

// Sequence is a time-varying digraph G(0), G(1), ... on a fixed node set.
type Sequence interface {
	// Nodes returns the number of nodes.
	Nodes() int
	// Edges appends the edges of G(t) to dst and returns it. The order is
	// fixed for a given t; edges are distinct and have no self-loops.
	Edges(dst []Edge, t int) []Edge
}

// Cycle is a periodic sequence: G(t) = Graphs[t mod len(Graphs)].
type Cycle struct {
	n      int
	graphs [][]Edge
}

// Paper002 is the four-graph cycle of Wang et al. (arXiv 2112.01731,
// simulations) on 8 nodes: no graph is strongly connected, their union is,
// and it is unbalanced.
const Paper002 = "1->2 1->3 4->5 6->7 6->8 / 2->4 3->4 5->6 7->1 8->1 / 2->3 4->6 5->8 7->2 / 3->5 8->7 5->1 6->4"

// NewCycle returns the periodic sequence of graphs on n nodes, after
// checking each graph (see Validate) and that their union is strongly
// connected, which makes the sequence len(graphs)-strongly connected: every
// window of len(graphs) steps holds every graph once.
func NewCycle(n int, graphs [][]Edge) (*Cycle, error) {
	if n < 1 {
		return nil, fmt.Errorf("a graph needs at least 1 node, got %d", n)
	}
	if len(graphs) == 0 {
		return nil, fmt.Errorf("a graph sequence needs at least one graph")
	}
	c := &Cycle{n: n}
	for k, g := range graphs {
		if err := Validate(n, g); err != nil {
			return nil, fmt.Errorf("graph %d: %w", k+1, err)
		}
		c.graphs = append(c.graphs, append([]Edge(nil), g...))
	}
	if err := StronglyConnected(n, Union(c.graphs...)); err != nil {
		return nil, fmt.Errorf("the union of the %d graphs is %w", len(graphs), err)
	}
	return c, nil
}

// ParseCycle reads a periodic sequence: graphs separated by "/", each a
// space-separated list of 1-based edges "j->i" (an empty graph is allowed),
// for example Paper002. The union must be strongly connected.
func ParseCycle(n int, text string) (*Cycle, error) {
	var graphs [][]Edge
	for k, part := range strings.Split(text, "/") {
		g, err := ParseEdges(n, part)
		if err != nil {
			return nil, fmt.Errorf("graph %d: %w", k+1, err)
		}
		graphs = append(graphs, g)
	}
	return NewCycle(n, graphs)
}

// Nodes returns the number of nodes.
func (c *Cycle) Nodes() int { return c.n }

// Period returns the number of graphs in the cycle.
func (c *Cycle) Period() int { return len(c.graphs) }

// Graph returns graph k of the cycle (not a copy).
func (c *Cycle) Graph(k int) []Edge { return c.graphs[k] }

// Edges appends G(t)'s edges in the order they were given.
func (c *Cycle) Edges(dst []Edge, t int) []Edge {
	return append(dst, c.graphs[t%len(c.graphs)]...)
}

// String writes the cycle in ParseCycle's syntax.
func (c *Cycle) String() string {
	parts := make([]string, len(c.graphs))
	for k, g := range c.graphs {
		parts[k] = FormatEdges(g)
	}
	return strings.Join(parts, " / ")
}

// Random is a random B-strongly connected sequence, a pure function of its
// key (Philox4x32-10), so that any G(t) can be regenerated on its own.
//
// It is the union of a backbone and a fresh random graph per step:
//
//   - Backbone: a random Hamiltonian cycle pi(0) -> pi(1) -> ... -> pi(n-1)
//     -> pi(0), drawn once; its edge leaving pi(k) is active at the steps
//     t = k mod B. Every window of B consecutive steps therefore holds the
//     whole cycle, which is strongly connected: the sequence is
//     B-strongly connected by construction (CheckWindows verifies it in
//     tests).
//   - Random part: every ordered pair j != i is an edge of G(t) with
//     probability p, independently over pairs and steps (a directed
//     Erdos-Renyi graph, drawn by geometric skips in O(edges) per step). A
//     pair that is also the active backbone edge counts once.
//
// A node's expected out-degree at a step is 1/B (its backbone edge) plus
// p (n - 1 - 1/B) (the random pairs but the active backbone one), so
// p = (degree - 1/B) / (n - 1 - 1/B) makes it exactly degree, for degree in
// [1/B, n-1]; below 1/B, p = 0 and the mean out-degree is 1/B (the backbone
// alone). Edges(t) lists the active backbone edges in cycle order, then the
// random ones sorted by (From, To).
type Random struct {
	n, window int
	key       uint64
	cycle     []int32 // pi
	p, lnq    float64 // pair probability and log(1-p)
	succ      []int32 // backbone successor of each node
	phase     []int32 // step phase (mod window) at which node's backbone edge is active
}

// Philox streams of Random.
const (
	streamBackbone = 1 << 56
	streamStep     = 2 << 56 // | t
)

// NewRandom returns the random sequence of n nodes, window B and mean
// out-degree degree, drawn from key.
func NewRandom(n, window int, degree float64, key uint64) (*Random, error) {
	switch {
	case n < 2:
		return nil, fmt.Errorf("a random graph sequence needs at least 2 nodes, got %d", n)
	case n > math.MaxInt32:
		return nil, fmt.Errorf("a random graph sequence has at most %d nodes, got %d", math.MaxInt32, n)
	case window < 1:
		return nil, fmt.Errorf("window B = %d: want B >= 1", window)
	case !(degree >= 0) || degree > float64(n-1):
		return nil, fmt.Errorf("mean out-degree %g: want a number in [0, n-1] = [0, %d]", degree, n-1)
	}
	r := &Random{n: n, window: window, key: key}
	// Fisher-Yates shuffle, one uniform per swap.
	r.cycle = make([]int32, n)
	for i := range r.cycle {
		r.cycle[i] = int32(i)
	}
	u := philox.NewReader(key, streamBackbone)
	for i := n - 1; i > 0; i-- {
		j := min(int(u.Float64()*float64(i+1)), i) // the product may round up to i+1
		r.cycle[i], r.cycle[j] = r.cycle[j], r.cycle[i]
	}
	r.succ = make([]int32, n)
	r.phase = make([]int32, n)
	for i := range r.succ {
		r.succ[i] = -1
	}
	for k, v := range r.cycle {
		if r.succ[v] != -1 {
			return nil, fmt.Errorf("backbone: node %d twice in the cycle", v+1)
		}
		r.succ[v] = r.cycle[(k+1)%n]
		r.phase[v] = int32(k % window)
	}
	// The check above makes the backbone a Hamiltonian cycle: every node
	// once, so every window of B steps holds a strongly connected union.
	inv := 1 / float64(window)
	if rest := float64(n-1) - inv; rest > 0 { // rest = 0: n = 2, B = 1, the backbone is complete
		r.p = min(1, max(0, degree-inv)/rest)
	}
	if r.p < 1 {
		r.lnq = math.Log1p(-r.p)
	}
	return r, nil
}

// Nodes returns n.
func (r *Random) Nodes() int { return r.n }

// Backbone returns the Hamiltonian cycle pi (not a copy).
func (r *Random) Backbone() []int32 { return r.cycle }

// Edges appends the edges of G(t).
func (r *Random) Edges(dst []Edge, t int) []Edge {
	n := r.n
	ph := t % r.window
	for k := ph; k < n; k += r.window {
		dst = append(dst, Edge{r.cycle[k], r.cycle[(k+1)%n]})
	}
	if r.p == 0 {
		return dst
	}
	pairs := int64(n) * int64(n-1)
	add := func(q int64) []Edge {
		j := int32(q / int64(n-1))
		i := int32(q % int64(n-1))
		if i >= j {
			i++
		}
		if r.succ[j] == i && int(r.phase[j]) == ph {
			return dst // the active backbone edge
		}
		return append(dst, Edge{j, i})
	}
	if r.p >= 1 {
		for q := range pairs {
			dst = add(q)
		}
		return dst
	}
	// Geometric skips: the gap before the next edge is floor(ln U / ln(1-p))
	// for U uniform on (0, 1].
	u := philox.NewReader(r.key, streamStep|uint64(t)&(1<<56-1))
	for q := int64(-1); ; {
		gap := philox.Ln01(1-u.Float64()) / r.lnq // 1 - U is uniform on (0, 1]
		if gap >= float64(pairs-q-1) {
			return dst
		}
		q += int64(gap) + 1
		dst = add(q)
	}
}

// CheckWindows returns nil if, for every t in [0, horizon-B], the union of
// G(t), ..., G(t+B-1) is strongly connected, and otherwise an error naming
// the first failing window. It costs O(horizon * B * edges); sequences
// built here are B-strongly connected by construction, so this is a test
// and a check of hand-made sequences.
func CheckWindows(s Sequence, window, horizon int) error {
	if window < 1 {
		return fmt.Errorf("window B = %d: want B >= 1", window)
	}
	var edges []Edge
	for t := 0; t+window <= max(horizon, window); t++ {
		edges = edges[:0]
		for k := range window {
			edges = s.Edges(edges, t+k)
		}
		if err := StronglyConnected(s.Nodes(), edges); err != nil {
			return fmt.Errorf("the union of G(%d)..G(%d) is %w", t, t+window-1, err)
		}
	}
	return nil
}
