// Package graph holds the directed communication graphs of distributed
// optimization: digraphs on nodes 0..n-1, time-varying sequences G(0),
// G(1), ... of them, the check that a sequence is B-strongly connected, and
// the mixing weights that the algorithms use on each G(t).
//
// A sequence is B-strongly connected when, for every t, the union of the
// edge sets of G(t), ..., G(t+B-1) is strongly connected: every node's
// information reaches every other node within any B consecutive steps
// (possibly over several steps).
//
// Mixing weights (see Mixing):
//
//   - Push-sum (column stochastic, from out-degrees only): node j keeps
//     1/d_j(t) of its value and sends 1/d_j(t) along each out-edge, where
//     d_j(t) = out-degree of j in G(t) + 1. Every column of P(t) sums to 1,
//     so the total of a pushed quantity is conserved; rows need not.
//   - Metropolis (doubly stochastic, on the symmetrised graph
//     {i,j} such that i->j or j->i in G(t)): W_ij = 1/(1+max(deg_i, deg_j))
//     for neighbours, W_ii = 1 - sum_{j != i} W_ij.
//
// Text forms use 1-based node numbers, as papers do: "j->i" is an edge from
// node j to node i, and a sequence's graphs are separated by "/" (see
// ParseCycle). Error messages name nodes the same way.
package graph

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Edge is a directed edge From -> To between nodes numbered from 0.
type Edge struct{ From, To int32 }

// String writes e 1-based, as "j->i".
func (e Edge) String() string { return fmt.Sprintf("%d->%d", e.From+1, e.To+1) }

// Compare orders edges lexicographically by (From, To).
func Compare(a, b Edge) int {
	if a.From != b.From {
		return int(a.From - b.From)
	}
	return int(a.To - b.To)
}

// Validate checks that edges are a simple digraph on n nodes: endpoints in
// range, no self-loops (they are implicit in every mixing rule) and no edge
// twice.
func Validate(n int, edges []Edge) error {
	seen := make(map[Edge]bool, len(edges))
	for _, e := range edges {
		if e.From < 0 || int(e.From) >= n || e.To < 0 || int(e.To) >= n {
			return fmt.Errorf("edge %s: nodes are numbered 1..%d", e, n)
		}
		if e.From == e.To {
			return fmt.Errorf("edge %s: a self-loop (every node keeps a share of its own value without one)", e)
		}
		if seen[e] {
			return fmt.Errorf("edge %s given twice", e)
		}
		seen[e] = true
	}
	return nil
}

// ParseEdges reads edges "j->i" separated by spaces, 1-based, on n nodes.
func ParseEdges(n int, text string) ([]Edge, error) {
	var out []Edge
	for _, tok := range strings.Fields(text) {
		from, to, ok := strings.Cut(tok, "->")
		if !ok {
			return nil, fmt.Errorf("%q: want an edge j->i", tok)
		}
		j, err1 := strconv.Atoi(from)
		i, err2 := strconv.Atoi(to)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%q: want an edge j->i between node numbers", tok)
		}
		if j < 1 || j > n || i < 1 || i > n {
			return nil, fmt.Errorf("edge %s: nodes are numbered 1..%d", tok, n)
		}
		out = append(out, Edge{int32(j - 1), int32(i - 1)})
	}
	if err := Validate(n, out); err != nil {
		return nil, err
	}
	return out, nil
}

// FormatEdges writes edges 1-based, separated by spaces, in the order given.
func FormatEdges(edges []Edge) string {
	parts := make([]string, len(edges))
	for k, e := range edges {
		parts[k] = e.String()
	}
	return strings.Join(parts, " ")
}

// Union returns the distinct edges of all the given edge sets, sorted by
// (From, To).
func Union(sets ...[]Edge) []Edge {
	var out []Edge
	for _, s := range sets {
		out = append(out, s...)
	}
	slices.SortFunc(out, Compare)
	return slices.Compact(out)
}

// StronglyConnected returns nil if every node of the digraph (n, edges)
// reaches every other one, and otherwise an error naming a node that node 1
// cannot reach or that cannot reach node 1. Duplicate edges are allowed.
// It costs O(n + len(edges)).
func StronglyConnected(n int, edges []Edge) error {
	if n <= 1 {
		return nil
	}
	// Forward and backward reachability from node 0 over adjacency lists in
	// compressed form.
	reach := func(forward bool) int {
		start := make([]int32, n+1)
		for _, e := range edges {
			u := e.From
			if !forward {
				u = e.To
			}
			start[u+1]++
		}
		for u := range n {
			start[u+1] += start[u]
		}
		adj := make([]int32, len(edges))
		fill := slices.Clone(start[:n])
		for _, e := range edges {
			u, v := e.From, e.To
			if !forward {
				u, v = v, u
			}
			adj[fill[u]] = v
			fill[u]++
		}
		seen := make([]bool, n)
		seen[0] = true
		stack := []int32{0}
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, v := range adj[start[u]:start[u+1]] {
				if !seen[v] {
					seen[v] = true
					stack = append(stack, v)
				}
			}
		}
		return slices.Index(seen, false)
	}
	if u := reach(true); u >= 0 {
		return fmt.Errorf("not strongly connected: node %d cannot be reached from node 1", u+1)
	}
	if u := reach(false); u >= 0 {
		return fmt.Errorf("not strongly connected: node %d cannot reach node 1", u+1)
	}
	return nil
}
