package graph

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestPaper002(t *testing.T) {
	c, err := ParseCycle(8, Paper002)
	if err != nil {
		t.Fatal(err)
	}
	if c.Period() != 4 {
		t.Fatalf("period %d, want 4", c.Period())
	}
	for k := range 4 {
		if err := StronglyConnected(8, c.Graph(k)); err == nil {
			t.Errorf("graph %d alone is strongly connected; the paper's are not", k+1)
		}
	}
	u := Union(c.graphs...)
	if err := StronglyConnected(8, u); err != nil {
		t.Fatal(err)
	}
	in, out := make([]int, 8), make([]int, 8)
	for _, e := range u {
		out[e.From]++
		in[e.To]++
	}
	if slices.Equal(in, out) {
		t.Error("the union is balanced; the paper's is not")
	}
	if got := c.String(); got != Paper002 {
		t.Errorf("String() = %q, want %q", got, Paper002)
	}
	if err := CheckWindows(c, 4, 20); err != nil {
		t.Error(err)
	}
	if err := CheckWindows(c, 3, 20); err == nil {
		t.Error("3-step windows of the paper's cycle are strongly connected; want an error (each graph is needed)")
	}
	// G(t) = G_{(t mod 4)+1}.
	if got := FormatEdges(c.Edges(nil, 6)); got != "2->3 4->6 5->8 7->2" {
		t.Errorf("G(6) = %s, want the third graph", got)
	}
}

func TestParseCycleErrors(t *testing.T) {
	tests := []struct {
		n          int
		text, want string
	}{
		{3, "1->2 / 2->3", "the union of the 2 graphs is not strongly connected: node 2 cannot reach node 1"},
		{3, "1->2 2->3 3->1 / 1->1", "graph 2: edge 1->1: a self-loop"},
		{3, "1->2 1->2 2->3 3->1", "graph 1: edge 1->2 given twice"},
		{3, "1->4 2->3 3->1", "edge 1->4: nodes are numbered 1..3"},
		{3, "0->1", "nodes are numbered 1..3"},
		{3, "1-2", `"1-2": want an edge j->i`},
		{3, "a->b", "between node numbers"},
		{2, "", "node 2 cannot be reached from node 1"},
		{0, "", "at least 1 node"},
	}
	for _, tc := range tests {
		_, err := ParseCycle(tc.n, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCycle(%d, %q) = %v, want an error containing %q", tc.n, tc.text, err, tc.want)
		}
	}
	// Empty graphs in a cycle are steps without communication.
	c, err := ParseCycle(2, "1->2 / / 2->1")
	if err != nil || c.Period() != 3 || len(c.Edges(nil, 1)) != 0 {
		t.Errorf("cycle with an empty graph: %v, %v", c, err)
	}
}

func TestStronglyConnected(t *testing.T) {
	tests := []struct {
		n     int
		edges string
		want  string // "" = connected
	}{
		{1, "", ""},
		{2, "1->2 2->1", ""},
		{2, "1->2", "node 2 cannot reach node 1"},
		{3, "1->2 2->3 3->1", ""},
		{3, "1->2 2->1 2->3", "node 3 cannot reach node 1"},
		{3, "2->3 3->2 1->2 2->1", ""},
		{4, "1->2 2->1 3->4 4->3", "node 3 cannot be reached from node 1"},
	}
	for _, tc := range tests {
		edges, err := ParseEdges(tc.n, tc.edges)
		if err != nil {
			t.Fatal(err)
		}
		err = StronglyConnected(tc.n, edges)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("StronglyConnected(%d, %s) = %v, want %q", tc.n, tc.edges, err, tc.want)
		}
	}
}

func TestRandomWindows(t *testing.T) {
	for _, tc := range []struct {
		n, window int
		degree    float64
	}{
		{2, 1, 1}, {5, 3, 0}, {30, 4, 0}, {30, 4, 2}, {50, 7, 1.5}, {200, 5, 5}, {12, 2, 11}, {7, 10, 0.5},
	} {
		for key := range uint64(3) {
			r, err := NewRandom(tc.n, tc.window, tc.degree, key)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckWindows(r, tc.window, 60); err != nil {
				t.Errorf("n=%d B=%d degree=%g key=%d: %v", tc.n, tc.window, tc.degree, key, err)
			}
			for s := range 60 {
				if err := Validate(tc.n, r.Edges(nil, s)); err != nil {
					t.Fatalf("n=%d B=%d degree=%g key=%d t=%d: %v", tc.n, tc.window, tc.degree, key, s, err)
				}
			}
		}
	}
	// Without random edges, B-1 steps miss backbone edges: the check fails.
	r, _ := NewRandom(30, 4, 0, 1)
	if err := CheckWindows(r, 3, 20); err == nil {
		t.Error("3-step windows of a 4-step backbone are strongly connected; want an error")
	}
	// Complete graphs when degree = n-1.
	r, _ = NewRandom(6, 1, 5, 1)
	if got := len(r.Edges(nil, 3)); got != 30 {
		t.Errorf("degree n: %d edges, want 30", got)
	}
}

func TestRandomBackboneIsHamiltonian(t *testing.T) {
	r, _ := NewRandom(1000, 3, 0, 42)
	seen := make([]bool, 1000)
	for _, v := range r.Backbone() {
		if seen[v] {
			t.Fatalf("node %d twice in the backbone", v+1)
		}
		seen[v] = true
	}
	var union []Edge
	for s := range 3 {
		union = r.Edges(union, s)
	}
	if len(union) != 1000 {
		t.Errorf("3 steps hold %d backbone edges, want 1000", len(union))
	}
}

func TestRandomDegree(t *testing.T) {
	for _, tc := range []struct {
		n, window int
		degree    float64
		want      float64
	}{
		{2000, 5, 1, 1}, {2000, 5, 5, 5}, {2000, 5, 20, 20},
		{10, 5, 9, 9},        // dense: overlaps with the backbone are common
		{10, 3, 5, 5},        // and n is not a multiple of B
		{1000, 5, 0.05, 0.2}, // below 1/B: the backbone alone
	} {
		r, _ := NewRandom(tc.n, tc.window, tc.degree, 7)
		edges := 0
		steps := 400_000 / tc.n
		for s := range steps {
			edges += len(r.Edges(nil, s))
		}
		mean := float64(edges) / float64(steps*tc.n)
		// Binomial counts over 400,000 node-steps: 1% is many sigmas.
		if math.Abs(mean-tc.want) > 0.01*tc.want {
			t.Errorf("n=%d B=%d degree %g: mean out-degree %.4f, want %g", tc.n, tc.window, tc.degree, mean, tc.want)
		}
	}
}

func TestRandomDeterministic(t *testing.T) {
	a, _ := NewRandom(300, 4, 5, 9)
	b, _ := NewRandom(300, 4, 5, 9)
	c, _ := NewRandom(300, 4, 5, 10)
	for s := range 10 {
		ea, eb, ec := a.Edges(nil, s), b.Edges(nil, s), c.Edges(nil, s)
		if !slices.Equal(ea, eb) {
			t.Fatalf("t=%d: same key, different edges", s)
		}
		if slices.Equal(ea, ec) {
			t.Fatalf("t=%d: different keys, same edges", s)
		}
	}
	// G(t) does not depend on the order of calls.
	late := a.Edges(nil, 7)
	if !slices.Equal(late, b.Edges(nil, 7)) {
		t.Error("G(7) depends on earlier calls")
	}
}

func TestNewRandomErrors(t *testing.T) {
	for _, tc := range []struct {
		n, window int
		degree    float64
		want      string
	}{
		{1, 1, 1, "at least 2 nodes"},
		{10, 0, 1, "want B >= 1"},
		{10, 2, -1, "mean out-degree -1"},
		{10, 2, math.NaN(), "mean out-degree NaN"},
		{10, 2, 9.5, "[0, n-1] = [0, 9]"},
	} {
		_, err := NewRandom(tc.n, tc.window, tc.degree, 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewRandom(%d, %d, %g) = %v, want %q", tc.n, tc.window, tc.degree, err, tc.want)
		}
	}
}

func TestMixing(t *testing.T) {
	c, _ := ParseCycle(8, Paper002)
	r, _ := NewRandom(200, 3, 4, 5)
	var graphs [][]Edge
	for k := range 4 {
		graphs = append(graphs, c.Graph(k))
	}
	for s := range 3 {
		graphs = append(graphs, r.Edges(nil, s))
	}
	var m Mixing
	for gi, g := range graphs {
		n := 8
		if gi >= 4 {
			n = 200
		}
		m.PushSum(n, g)
		for j, s := range m.ColumnSums() {
			if math.Abs(s-1) > 1e-15 {
				t.Errorf("graph %d push-sum column %d sums to %v", gi, j, s)
			}
		}
		for _, l := range m.Links {
			if l.W != m.Self[l.From] {
				t.Errorf("graph %d: link %d->%d weight %v, self weight %v; want equal", gi, l.From+1, l.To+1, l.W, m.Self[l.From])
			}
		}
		m.Metropolis(n, g)
		cols, rows := m.ColumnSums(), m.RowSums()
		for i := range n {
			if math.Abs(cols[i]-1) > 1e-14 || math.Abs(rows[i]-1) > 1e-14 || m.Self[i] < 0 {
				t.Errorf("graph %d Metropolis node %d: column %v, row %v, self %v", gi, i, cols[i], rows[i], m.Self[i])
			}
		}
	}
	// The first paper graph: 1 -> 2, 3 (out-degree 2): 1/3 each.
	m.PushSum(8, c.Graph(0))
	if m.Self[0] != 1.0/3 || m.Self[1] != 1 || m.Self[5] != 1.0/3 || m.Self[3] != 0.5 {
		t.Errorf("P1 self weights %v", m.Self)
	}
	// Metropolis on 1 - 2 - 3 (a path): W12 = W23 = 1/3, W22 = 1/3.
	m.Metropolis(3, []Edge{{0, 1}, {1, 0}, {2, 1}})
	want := []Link{{0, 1, 1.0 / 3}, {1, 0, 1.0 / 3}, {1, 2, 1.0 / 3}, {2, 1, 1.0 / 3}}
	if !slices.Equal(m.Links, want) || math.Abs(m.Self[1]-1.0/3) > 1e-15 || math.Abs(m.Self[0]-2.0/3) > 1e-15 {
		t.Errorf("Metropolis of a path: links %v, self %v", m.Links, m.Self)
	}
}

func BenchmarkRandomEdges(b *testing.B) {
	r, _ := NewRandom(10000, 5, 5, 1)
	var edges []Edge
	t := 0
	for b.Loop() {
		edges = r.Edges(edges[:0], t)
		t++
	}
	b.ReportMetric(float64(len(edges)), "edges/step")
}
