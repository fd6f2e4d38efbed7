package psdda

import (
	"context"
	"math"
	"testing"

	"github.com/batchrun/batchrun/graph"
)

// denseNet is the spec's augmented network (section 3), built only in
// tests: compute nodes 0..n-1, then the b_e delay nodes of every edge e of
// the union graph, edge by edge in lexicographic (j, i) order, nearest to j
// first.
type denseNet struct {
	n, size int
	union   []graph.Edge
	first   map[graph.Edge]int // first delay node of an edge with b_e > 0
	delay   map[graph.Edge]int
}

func newDenseNet(n int, union []graph.Edge, delay func(graph.Edge) int) *denseNet {
	dn := &denseNet{n: n, size: n, union: union, first: map[graph.Edge]int{}, delay: map[graph.Edge]int{}}
	for _, e := range union {
		b := delay(e)
		dn.delay[e] = b
		if b > 0 {
			dn.first[e] = dn.size
			dn.size += b
		}
	}
	return dn
}

// weights returns the n x n mixing matrix of the mode on the digraph
// (n, edges), from its definition: push-sum P_ij = 1/(outdeg_j + 1) for
// j -> i and i = j; Metropolis on the symmetrised graph.
func denseWeights(n int, edges []graph.Edge, metropolis bool) [][]float64 {
	W := make([][]float64, n)
	for i := range W {
		W[i] = make([]float64, n)
	}
	if !metropolis {
		out := make([]int, n)
		for _, e := range edges {
			out[e.From]++
		}
		for j := range n {
			W[j][j] = 1 / float64(out[j]+1)
		}
		for _, e := range edges {
			W[e.To][e.From] = 1 / float64(out[e.From]+1)
		}
		return W
	}
	adj := make([][]bool, n)
	for i := range adj {
		adj[i] = make([]bool, n)
	}
	for _, e := range edges {
		adj[e.From][e.To], adj[e.To][e.From] = true, true
	}
	deg := make([]int, n)
	for i := range n {
		for j := range n {
			if adj[i][j] {
				deg[i]++
			}
		}
	}
	for i := range n {
		W[i][i] = 1
		for j := range n {
			if adj[i][j] {
				W[i][j] = 1 / float64(1+max(deg[i], deg[j]))
				W[i][i] -= W[i][j]
			}
		}
	}
	return W
}

// Q returns the augmented matrix of a step from the compute nodes' mixing
// matrix W: an active link j -> i with b_e = 0 keeps W_ij; with b_e > 0, j
// sends W_ij to the edge's first delay node; links out of delay nodes are
// always active with weight 1.
func (dn *denseNet) Q(W [][]float64, delayAt func(graph.Edge) int) [][]float64 {
	Q := make([][]float64, dn.size)
	for i := range Q {
		Q[i] = make([]float64, dn.size)
	}
	for j := range dn.n {
		Q[j][j] = W[j][j]
		for i := range dn.n {
			if i == j || W[i][j] == 0 {
				continue
			}
			e := graph.Edge{From: int32(j), To: int32(i)}
			if b, ok := dn.delay[e]; !ok || b != delayAt(e) {
				panic("edge outside the union or with another delay")
			}
			if dn.delay[e] == 0 {
				Q[i][j] = W[i][j]
			} else {
				Q[dn.first[e]][j] = W[i][j]
			}
		}
	}
	for _, e := range dn.union {
		b := dn.delay[e]
		for p := range b {
			k := dn.first[e] + p
			if p+1 < b {
				Q[k+1][k] = 1
			} else {
				Q[e.To][k] = 1
			}
		}
	}
	return Q
}

func mulVec(Q [][]float64, v []float64) []float64 {
	out := make([]float64, len(Q))
	for i, row := range Q {
		for j, q := range row {
			out[i] += q * v[j]
		}
	}
	return out
}

func testConfig(t *testing.T, set map[string]string) Config {
	t.Helper()
	v, err := Schema().Resolve(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := NewConfig(v)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type denseCase struct {
	name string
	set  map[string]string
}

func denseCases() []denseCase {
	var cases []denseCase
	for _, mode := range Modes {
		for _, b := range []string{"0", "1", "3"} {
			for _, delays := range []string{DelayFixed, DelayPerEdge} {
				cases = append(cases, denseCase{mode + "/paper002/b=" + b + "/" + delays,
					map[string]string{"mode": mode, "b": b, "delays": delays, "T": "60"}})
			}
		}
		// Boxes that exclude 0 (x(0) = Proj(0) is a corner) or cut x*.
		cases = append(cases, denseCase{mode + "/paper002/box [0.1, 1]",
			map[string]string{"mode": mode, "b": "2", "lo": "0.1", "hi": "1", "T": "60"}})
		cases = append(cases, denseCase{mode + "/paper002/box [-1, 0.2]",
			map[string]string{"mode": mode, "b": "1", "lo": "-1", "hi": "0.2", "T": "60"}})
		cases = append(cases, denseCase{mode + "/random/per-edge",
			map[string]string{"mode": mode, "graph": GraphRandom, "n": "12", "window": "3", "degree": "1.5",
				"b": "4", "delays": DelayPerEdge, "objective": ObjectiveLSQ, "d": "3", "T": "60"}})
		cases = append(cases, denseCase{mode + "/edges/sensor",
			map[string]string{"mode": mode, "graph": GraphEdges, "n": "5", "edges": "1->2 2->3 / 3->4 4->5 5->1 / 2->1",
				"b": "2", "objective": ObjectiveSensor, "d": "3", "T": "60"}})
	}
	return cases
}

// TestDenseQ runs the spec's recursion on the dense augmented matrices Q(t)
// next to the ring-buffer path and compares compute nodes' w, z and x and
// the mass in transit, grouped by arrival step, after every step; and it
// compares Run's per-node errors f(xhat_i(t)) - f* at every step with the
// dense path's, computed here from the definitions (x(0) = Proj(0),
// a(t+1) = a / sqrt(t+1), xhat_i(t) = mean of x_i(1..t), f summed over the
// nodes).
func TestDenseQ(t *testing.T) {
	for _, tc := range denseCases() {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, tc.set)
			const seed = 11
			n, d := cfg.N, cfg.D
			prob, err := NewProblem(&cfg, seed)
			if err != nil {
				t.Fatal(err)
			}
			sched, err := newSchedule(&cfg, seed)
			if err != nil {
				t.Fatal(err)
			}
			metro := cfg.Mode == ModeDDADouble
			var graphs [][]graph.Edge
			for s := range cfg.T {
				graphs = append(graphs, sched.seq.Edges(nil, s))
			}
			var directed [][]graph.Edge
			for _, g := range graphs {
				if metro {
					var sym []graph.Edge
					for _, e := range g {
						sym = append(sym, e, graph.Edge{From: e.To, To: e.From})
					}
					g = graph.Union(sym)
				}
				directed = append(directed, g)
			}
			union := graph.Union(directed...)
			dn := newDenseNet(n, union, func(e graph.Edge) int { return int(sched.delay(e.From, e.To, 0)) })

			st := newPushState(n, d, cfg.Bmax)
			wD := make([]float64, dn.size)
			zD := make([][]float64, d) // per dimension, over the augmented nodes
			for k := range zD {
				zD[k] = make([]float64, dn.size)
			}
			for i := range n {
				wD[i] = 1
			}
			set := map[string]string{"trace_points": "0", "node_errors": NodesLong}
			for k, v := range tc.set {
				set[k] = v
			}
			runCfg := testConfig(t, set)
			res, err := Run(context.Background(), &runCfg, seed, func(int) {})
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float64, n*d)
			xD := make([]float64, n*d)
			for i := range n * d {
				xD[i] = min(max(0, cfg.Lo), cfg.Hi)
			}
			copy(x, xD)
			xsumD := make([]float64, n*d)
			xhat := make([]float64, d)
			g := make([]float64, n*d)
			gD := make([]float64, n*d)
			for s := range cfg.T {
				for i := range n {
					prob.Grad(g[i*d:(i+1)*d], i, x[i*d:(i+1)*d])
					prob.Grad(gD[i*d:(i+1)*d], i, xD[i*d:(i+1)*d])
				}
				W := denseWeights(n, graphs[s], metro)
				Q := dn.Q(W, func(e graph.Edge) int { return int(sched.delay(e.From, e.To, s)) })
				for j := range dn.size {
					sum := 0.0
					for i := range dn.size {
						sum += Q[i][j]
					}
					if math.Abs(sum-1) > 1e-14 {
						t.Fatalf("t=%d: column %d of Q(t) sums to %v", s, j, sum)
					}
				}
				st.step(s, sched.at(s), g)
				wD = mulVec(Q, wD)
				for k := range d {
					zD[k] = mulVec(Q, zD[k])
					for i := range n {
						zD[k][i] += gD[i*d+k]
					}
				}
				scale := -cfg.A / math.Sqrt(float64(s+1))
				for i := range n {
					sF, sD := scale, scale
					if cfg.Mode == ModePSDDA {
						sF /= st.w[i]
						sD /= wD[i]
					}
					for k := range d {
						x[i*d+k] = min(max(sF*st.z[i*d+k], cfg.Lo), cfg.Hi)
						xD[i*d+k] = min(max(sD*zD[k][i], cfg.Lo), cfg.Hi)
						xsumD[i*d+k] += xD[i*d+k]
					}
				}
				for i := range n {
					for k := range d {
						xhat[k] = xsumD[i*d+k] / float64(s+1)
					}
					want := prob.Value(xhat) - prob.FStar
					if got := res.NodeErr[s][i]; res.Steps[s] != s+1 || math.Abs(got-want) > 1e-10*max(1, prob.FStar) {
						t.Fatalf("t=%d: Run's error of node %d is %v, the dense path's %v", s+1, i+1, got, want)
					}
				}
				const tol = 1e-12
				for i := range n {
					if math.Abs(st.w[i]-wD[i]) > tol {
						t.Fatalf("t=%d: w_%d = %v (rings), %v (dense)", s+1, i+1, st.w[i], wD[i])
					}
					for k := range d {
						if math.Abs(st.z[i*d+k]-zD[k][i]) > tol*max(1, math.Abs(zD[k][i])) {
							t.Fatalf("t=%d: z_%d[%d] = %v (rings), %v (dense)", s+1, i+1, k, st.z[i*d+k], zD[k][i])
						}
						if math.Abs(x[i*d+k]-xD[i*d+k]) > tol {
							t.Fatalf("t=%d: x_%d[%d] = %v (rings), %v (dense)", s+1, i+1, k, x[i*d+k], xD[i*d+k])
						}
					}
				}
				// Delay node p (1..b) of an edge into i reaches i in b-p+1 steps.
				transitW := make([]float64, n*st.slots)
				for _, e := range union {
					b := dn.delay[e]
					for p := 1; p <= b; p++ {
						r := b - p + 1
						transitW[int(e.To)*st.slots+r] += wD[dn.first[e]+p-1]
					}
				}
				for i := range n {
					for r := 1; r < st.slots; r++ {
						got := st.arrW[((s+1+r)%st.slots)*n+i]
						if math.Abs(got-transitW[i*st.slots+r]) > tol {
							t.Fatalf("t=%d: mass arriving at node %d in %d steps: %v (rings), %v (delay nodes)", s+1, i+1, r, got, transitW[i*st.slots+r])
						}
					}
				}
			}
		})
	}
}

// TestArrival sends mass over one edge with delay b and checks that it
// reaches the other node after exactly b + 1 steps, whole.
func TestArrival(t *testing.T) {
	for _, b := range []int{0, 1, 2, 5, 10} {
		st := newPushState(2, 1, b)
		st.z[0] = 4
		noGrad := []float64{0, 0}
		for s := range b + 4 {
			m := stepMixing{Self: []float64{1, 1}, Fixed: b}
			if s == 0 {
				m.Self[0] = 0.5
				m.Links = []graph.Link{{From: 0, To: 1, W: 0.5}}
			}
			st.step(s, m, noGrad)
			wantW, wantZ := 1.0, 0.0
			if s+1 >= b+1 {
				wantW, wantZ = 1.5, 2
			}
			if st.w[1] != wantW || st.z[1] != wantZ || st.w[0] != 0.5 || st.z[0] != 2 {
				t.Fatalf("b=%d, after step %d: node 2 has w=%v z=%v, node 1 w=%v z=%v; want node 2 w=%v z=%v", b, s+1, st.w[1], st.z[1], st.w[0], st.z[0], wantW, wantZ)
			}
			w, z := st.mass()
			if w != 2 || z[0] != 4 {
				t.Fatalf("b=%d, after step %d: total w %v, z %v; want 2 and 4", b, s+1, w, z)
			}
		}
	}
}

// TestConservation runs every mode and delay model and checks after every
// step that sum w = n and sum z = the running sum of gradients, over
// compute nodes and messages in transit.
func TestConservation(t *testing.T) {
	for _, mode := range Modes {
		for _, delays := range []string{DelayFixed, DelayPerEdge, DelayPerStep} {
			for _, gr := range []map[string]string{
				{"graph": GraphPaper002},
				{"graph": GraphRandom, "n": "300", "degree": "3", "window": "4", "objective": ObjectiveLSQ, "d": "4"},
			} {
				set := map[string]string{"mode": mode, "delays": delays, "b": "7", "T": "200"}
				for k, v := range gr {
					set[k] = v
				}
				cfg := testConfig(t, set)
				n, d := cfg.N, cfg.D
				prob, _ := NewProblem(&cfg, 5)
				sched, _ := newSchedule(&cfg, 5)
				st := newPushState(n, d, cfg.Bmax)
				x, g, gsum := make([]float64, n*d), make([]float64, n*d), make([]float64, d)
				for s := range cfg.T {
					for i := range n {
						prob.Grad(g[i*d:(i+1)*d], i, x[i*d:(i+1)*d])
						for k := range d {
							gsum[k] += g[i*d+k]
						}
					}
					st.step(s, sched.at(s), g)
					for i := range n * d {
						x[i] = min(max(-0.1*st.z[i]/st.w[i/d], cfg.Lo), cfg.Hi)
					}
					w, z := st.mass()
					if math.Abs(w-float64(n)) > 1e-12*float64(n) {
						t.Fatalf("%s %s %s t=%d: sum w = %v, want %d", mode, delays, gr["graph"], s+1, w, n)
					}
					for k := range d {
						if math.Abs(z[k]-gsum[k]) > 1e-11*max(1, math.Abs(gsum[k])) {
							t.Fatalf("%s %s %s t=%d: sum z[%d] = %v, sum of gradients %v", mode, delays, gr["graph"], s+1, k, z[k], gsum[k])
						}
					}
				}
			}
		}
	}
}

// TestDelayDraws checks the per-edge and per-step delay models: values in
// {0..b}, every value drawn, per-edge constant over time, per-step not.
func TestDelayDraws(t *testing.T) {
	cfg := testConfig(t, map[string]string{"graph": GraphRandom, "n": "50", "b": "6", "delays": DelayPerEdge})
	sched, _ := newSchedule(&cfg, 3)
	seen := make([]int, 7)
	for j := range int32(50) {
		for i := range int32(50) {
			b := sched.delay(j, i, 0)
			if b < 0 || b > 6 {
				t.Fatalf("delay %d outside {0..6}", b)
			}
			seen[b]++
			if sched.delay(j, i, 99) != b {
				t.Fatal("per-edge delay changed over time")
			}
		}
	}
	for b, c := range seen {
		if c < 2500/7/2 {
			t.Errorf("delay %d drawn %d times of 2500", b, c)
		}
	}
	cfg = testConfig(t, map[string]string{"graph": GraphRandom, "n": "50", "b": "6", "delays": DelayPerStep})
	sched, _ = newSchedule(&cfg, 3)
	changed := 0
	for s := range 20 {
		if sched.delay(1, 2, s) != sched.delay(1, 2, s+1) {
			changed++
		}
	}
	if changed < 10 {
		t.Errorf("per-step delay of one edge changed %d times in 20 steps", changed)
	}
	cfg = testConfig(t, map[string]string{"b": "6"})
	sched, _ = newSchedule(&cfg, 3)
	m := sched.at(5)
	for k, l := range m.Links {
		if m.Delay != nil && m.Delay[k] != 6 || m.Delay == nil && m.Fixed != 6 {
			t.Fatalf("fixed delays: link %d->%d has %v", l.From+1, l.To+1, m)
		}
	}
}
