package graph

import "slices"

// Link is one off-diagonal weight of a mixing matrix: node To receives
// W times node From's value.
type Link struct {
	From, To int32
	W        float64
}

// Mixing is one step's mixing matrix A in sparse form: node j keeps
// Self[j] of its value and sends Links[k].W of it to Links[k].To, so that
// A[j][j] = Self[j] and A[To][From] = W. Links out of one node are
// consecutive only if the edges were.
type Mixing struct {
	Self  []float64
	Links []Link
}

// reset sizes m for n nodes with no links.
func (m *Mixing) reset(n int) {
	m.Self = slices.Grow(m.Self[:0], n)[:n]
	m.Links = m.Links[:0]
}

// PushSum sets m to the column-stochastic push-sum weights of the digraph
// (n, edges): with d_j = out-degree of j + 1, Self[j] = 1/d_j and every
// out-edge of j carries 1/d_j, in the order of edges. Edges must be
// distinct.
func (m *Mixing) PushSum(n int, edges []Edge) {
	m.reset(n)
	for j := range m.Self {
		m.Self[j] = 1
	}
	for _, e := range edges {
		m.Self[e.From]++ // out-degree + 1, for now
	}
	for _, e := range edges {
		m.Links = append(m.Links, Link{e.From, e.To, 1 / m.Self[e.From]})
	}
	for j, d := range m.Self {
		m.Self[j] = 1 / d
	}
}

// Metropolis sets m to the Metropolis weights of the symmetrised digraph:
// nodes i and j are neighbours if i->j or j->i is an edge; with deg the
// number of neighbours, W_ij = 1/(1 + max(deg_i, deg_j)) in both directions
// and Self[i] = 1 - sum_j W_ij. The matrix is symmetric and doubly
// stochastic. Links come in pairs (i->j, j->i) with i < j, sorted by (i, j).
func (m *Mixing) Metropolis(n int, edges []Edge) {
	m.reset(n)
	pairs := make([]uint64, 0, len(edges))
	for _, e := range edges {
		a, b := min(e.From, e.To), max(e.From, e.To)
		pairs = append(pairs, uint64(a)<<32|uint64(b))
	}
	slices.Sort(pairs)
	pairs = slices.Compact(pairs)
	deg := make([]int32, n)
	for _, p := range pairs {
		deg[p>>32]++
		deg[uint32(p)]++
	}
	for i := range m.Self {
		m.Self[i] = 1
	}
	for _, p := range pairs {
		i, j := int32(p>>32), int32(uint32(p))
		w := 1 / float64(1+max(deg[i], deg[j]))
		m.Links = append(m.Links, Link{i, j, w}, Link{j, i, w})
		m.Self[i] -= w
		m.Self[j] -= w
	}
}

// ColumnSums returns, for every node j, Self[j] plus the weights of its
// links: 1 for a column-stochastic matrix.
func (m *Mixing) ColumnSums() []float64 {
	s := slices.Clone(m.Self)
	for _, l := range m.Links {
		s[l.From] += l.W
	}
	return s
}

// RowSums returns, for every node i, Self[i] plus the weights of the links
// into i: 1 for a row-stochastic matrix.
func (m *Mixing) RowSums() []float64 {
	s := slices.Clone(m.Self)
	for _, l := range m.Links {
		s[l.To] += l.W
	}
	return s
}
