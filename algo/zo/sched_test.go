package zo

import (
	"math"
	"slices"
	"testing"

	"github.com/batchrun/batchrun/kernels/cpu"
)

func seqInts(lo, hi int) []int { // lo..hi inclusive
	var out []int
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

// TestNeighboursPaperGraph checks the paper's communication graph: 24
// agents, windows [k, k+6) for k = 0, 3, 6, ...
func TestNeighboursPaperGraph(t *testing.T) {
	nb := Neighbours(24, 6, 3)
	if len(nb) != 24 {
		t.Fatalf("got %d agents, want 24", len(nb))
	}
	for i, l := range nb {
		if !slices.IsSorted(l) {
			t.Errorf("agent %d: neighbours %v not sorted", i, l)
		}
		for _, j := range l {
			if j == i {
				t.Errorf("agent %d is its own neighbour", i)
			}
			if !slices.Contains(nb[j], i) {
				t.Errorf("%d -> %d but not %d -> %d", i, j, j, i)
			}
		}
	}
	want := map[int][]int{
		0:  seqInts(1, 5),
		1:  append(seqInts(0, 0), seqInts(2, 5)...),
		3:  append(seqInts(0, 2), seqInts(4, 8)...),
		4:  append(seqInts(0, 3), seqInts(5, 8)...),
		5:  append(seqInts(0, 4), seqInts(6, 8)...),
		6:  append(seqInts(3, 5), seqInts(7, 11)...),
		12: append(seqInts(9, 11), seqInts(13, 17)...),
		20: append(seqInts(15, 19), seqInts(21, 23)...),
		21: append(seqInts(18, 20), seqInts(22, 23)...),
		23: seqInts(18, 22),
	}
	for i, w := range want {
		if !slices.Equal(nb[i], w) {
			t.Errorf("neighbours of %d = %v, want %v", i, nb[i], w)
		}
	}

	hops := Hops(nb)
	for i := range hops {
		for j := range hops {
			if hops[i][j] != hops[j][i] {
				t.Errorf("hops not symmetric at (%d, %d)", i, j)
			}
			if (hops[i][j] == 1) != slices.Contains(nb[i], j) {
				t.Errorf("hops[%d][%d] = %d disagrees with the neighbour lists", i, j, hops[i][j])
			}
		}
		if hops[i][i] != 0 {
			t.Errorf("hops[%d][%d] = %d, want 0", i, i, hops[i][i])
		}
	}
	// From agent 0 every hop after the first advances 3 agents.
	for j := 1; j < 24; j++ {
		want := 1
		if j > 5 {
			want = 1 + (j-5+2)/3
		}
		if hops[0][j] != want {
			t.Errorf("hops[0][%d] = %d, want %d", j, hops[0][j], want)
		}
	}
	if hops[0][23] != 7 {
		t.Errorf("diameter path 0 -> 23 has %d hops, want 7", hops[0][23])
	}
	// Disconnected graphs report -1.
	if h := Hops(Neighbours(8, 2, 3)); h[0][7] != -1 || h[0][1] != 1 || h[0][2] != -1 {
		t.Errorf("Hops of a disconnected graph: %v", h)
	}
}

func diameter(h [][]int) int {
	d := 0
	for i := range h {
		for _, v := range h[i] {
			d = max(d, v)
		}
	}
	return d
}

// testSlope is a deterministic, distinct-enough slope of agent p at t.
func testSlope(p, t int) float64 {
	return math.Sin(1.7*float64(p)+0.37*float64(t)) + 0.01*float64(p)
}

// TestRelayAges checks the message ages of the relay: with every link up,
// after more than twice the diameter, agent k holds agent p's slope of age
// exactly 2h-1 (h = hops, 0 for itself); with link failures ages are never
// smaller and larger on average, and the stored timestamps never go back.
func TestRelayAges(t *testing.T) {
	graphs := []struct {
		name           string
		n, win, stride int
	}{
		{"paper", 24, 6, 3},
		{"chain", 9, 3, 2},
		{"complete", 5, 6, 3},
	}
	for _, gr := range graphs {
		t.Run(gr.name, func(t *testing.T) {
			n := gr.n
			nb := Neighbours(n, gr.win, gr.stride)
			hops := Hops(nb)
			diam := diameter(hops)
			want := func(k, p int) int {
				if k == p {
					return 0
				}
				return 2*hops[k][p] - 1
			}
			const slots = 6
			slopes := make([]float64, n)
			coef := make([]float64, n*slots)
			ages := make([]int, n*n)
			prev := make([]int, n*n)

			// Every link up.
			r := newRelay(n, slots, nb, SeedKey(5), 1)
			for it := 0; it < 2*diam+3; it++ {
				for p := range slopes {
					slopes[p] = testSlope(p, it)
				}
				r.Step(it, slopes, coef)
				r.ages(it, ages)
				for k := 0; k < n; k++ {
					for p := 0; p < n; p++ {
						a := ages[k*n+p]
						switch {
						case it >= want(k, p) && a != want(k, p):
							t.Fatalf("t=%d: agent %d holds agent %d's slope of age %d, want %d", it, k, p, a, want(k, p))
						case it < want(k, p) && a != -1:
							t.Fatalf("t=%d: agent %d already holds agent %d's slope (age %d, %d hops)", it, k, p, a, hops[k][p])
						}
					}
				}
				// The coefficients pair each slope with the agent's own u of
				// the slope's timestamp; ages >= slots are dropped.
				wantCoef := make([]float64, n*slots)
				for k := 0; k < n; k++ {
					for p := 0; p < n; p++ {
						a := ages[k*n+p]
						if a < 0 || a >= slots {
							continue
						}
						wantCoef[k*slots+(it-a)%slots] += testSlope(p, it-a)
					}
				}
				for i := range coef {
					if math.Abs(coef[i]-wantCoef[i]) > 1e-12 {
						t.Fatalf("t=%d: coef[agent %d][slot %d] = %g, want %g", it, i/slots, i%slots, coef[i], wantCoef[i])
					}
				}
			}

			// Link failures (tx_p*rx_p = 0.81, the paper's). The paper graph
			// has many redundant paths: there only about 8% of the pairs are
			// older than ideal.
			r = newRelay(n, slots, nb, SeedKey(5), 0.81)
			var sumIdeal, sumGot float64
			var count, larger int
			for it := 0; it < 300; it++ {
				for p := range slopes {
					slopes[p] = testSlope(p, it)
				}
				copy(prev, ages)
				r.Step(it, slopes, coef)
				r.ages(it, ages)
				for k := 0; k < n; k++ {
					for p := 0; p < n; p++ {
						a := ages[k*n+p]
						if a == -1 {
							if it > 10*diam+20 {
								t.Fatalf("t=%d: agent %d still knows nothing of agent %d", it, k, p)
							}
							continue
						}
						if a < want(k, p) {
							t.Fatalf("t=%d: age %d of %d's slope at %d is below the minimum %d", it, a, p, k, want(k, p))
						}
						if it > 0 && prev[k*n+p] >= 0 && a > prev[k*n+p]+1 {
							t.Fatalf("t=%d: agent %d's copy of %d's slope went back in time (age %d -> %d)", it, k, p, prev[k*n+p], a)
						}
						if it >= 50 && k != p {
							sumIdeal += float64(want(k, p))
							sumGot += float64(a)
							count++
							if a > want(k, p) {
								larger++
							}
						}
					}
				}
			}
			t.Logf("mean age with failures %.3f, without %.3f; %.1f%% of pairs older than ideal",
				sumGot/float64(count), sumIdeal/float64(count), 100*float64(larger)/float64(count))
			if !(sumGot > sumIdeal) || float64(larger) < 0.02*float64(count) {
				t.Errorf("link failures do not age messages: mean age %g vs %g without failures", sumGot/float64(count), sumIdeal/float64(count))
			}
		})
	}
}

// TestGroupRelayAges runs the async mode of paper000 with tx_p = rx_p =
// up_p = 1 and reads the relay's ages after more than twice the diameter.
func TestGroupRelayAges(t *testing.T) {
	cfg := testConfig(t, "mode=async", "T=20", "tx_p=1", "rx_p=1", "up_p=1", "hidden=4", "B=1")
	g, err := newGroup(&cfg, ModeAsync, cpu.New(), []uint64{0, 7})
	if err != nil {
		t.Fatal(err)
	}
	traces := make([]SeedTrace, g.S)
	for s := range traces {
		traces[s].SumRate = make([]float64, cfg.T)
	}
	hops := Hops(Neighbours(cfg.N, cfg.Window, cfg.Stride))
	if d := diameter(hops); 2*d >= cfg.T {
		t.Fatalf("T = %d too small for diameter %d", cfg.T, d)
	}
	for it := 0; it < cfg.T; it++ {
		g.step(it, traces)
	}
	ages := make([]int, cfg.N*cfg.N)
	for s := range g.sched {
		g.sched[s].(*relay).ages(cfg.T-1, ages)
		for k := 0; k < cfg.N; k++ {
			for p := 0; p < cfg.N; p++ {
				want := 2*hops[k][p] - 1
				if k == p {
					want = 0
				}
				if ages[k*cfg.N+p] != want {
					t.Errorf("seed %d: agent %d holds agent %d's slope with age %d, want %d (%d hops)", s, k, p, ages[k*cfg.N+p], want, hops[k][p])
				}
			}
		}
	}
}

// TestDelays checks the fixed-delay draws: d_kk = 0, d_kp in {1..D},
// uniform, and a pure function of the key.
func TestDelays(t *testing.T) {
	const n, D = 24, 10
	counts := make([]int, D+1)
	total := 0
	for seed := uint64(0); seed < 20; seed++ {
		dl := newDelays(n, D+1, D, SeedKey(seed))
		again := newDelays(n, D+1, D, SeedKey(seed))
		if !slices.Equal(dl.d, again.d) {
			t.Fatalf("seed %d: delays are not reproducible", seed)
		}
		for k := 0; k < n; k++ {
			for p := 0; p < n; p++ {
				d := int(dl.d[k*n+p])
				if k == p {
					if d != 0 {
						t.Errorf("d[%d][%d] = %d, want 0", k, k, d)
					}
					continue
				}
				if d < 1 || d > D {
					t.Fatalf("d[%d][%d] = %d, want 1..%d", k, p, d, D)
				}
				counts[d]++
				total++
			}
		}
	}
	chi2 := 0.0
	e := float64(total) / D
	for d := 1; d <= D; d++ {
		chi2 += (float64(counts[d]) - e) * (float64(counts[d]) - e) / e
	}
	// 9 degrees of freedom: P(chi2 > 33) < 2e-4.
	if chi2 > 33 {
		t.Errorf("delays not uniform on 1..%d: counts %v, chi2 %.1f", D, counts[1:], chi2)
	}
	// Different seeds draw different delays.
	if slices.Equal(newDelays(n, D+1, D, SeedKey(1)).d, newDelays(n, D+1, D, SeedKey(2)).d) {
		t.Error("seeds 1 and 2 draw the same delays")
	}
	// D = 1: every delay is 1.
	for _, d := range newDelays(5, 2, 1, SeedKey(3)).d[1:5] {
		if d != 1 {
			t.Errorf("D = 1 gives delay %d", d)
		}
	}
}

// TestDelaysCoefficients sends one impulse slope (agent p at iteration t0)
// through the fixed-delay scheduler: agent k must see it exactly at
// iteration t0 + d_kp, paired with its ring slot t0 mod slots, and never when
// the delay does not fit in the slots.
func TestDelaysCoefficients(t *testing.T) {
	const n = 6
	for _, tc := range []struct{ D, slots int }{{2, 3}, {10, 11}, {4, 3}, {5, 1}} {
		for _, p := range []int{0, 3} {
			for _, t0 := range []int{0, 4, 13} {
				dl := newDelays(n, tc.slots, tc.D, SeedKey(11))
				slopes := make([]float64, n)
				coef := make([]float64, n*tc.slots)
				seen := make([]int, n) // iteration at which agent k saw the impulse, -1 never
				for k := range seen {
					seen[k] = -1
				}
				for it := 0; it < t0+tc.D+3; it++ {
					clear(slopes)
					if it == t0 {
						slopes[p] = 1
					}
					dl.Step(it, slopes, coef)
					for k := 0; k < n; k++ {
						for j := 0; j < tc.slots; j++ {
							c := coef[k*tc.slots+j]
							if c == 0 {
								continue
							}
							if c != 1 || j != t0%tc.slots || seen[k] >= 0 {
								t.Fatalf("D=%d slots=%d p=%d t0=%d: t=%d agent %d coef[slot %d] = %g", tc.D, tc.slots, p, t0, it, k, j, c)
							}
							seen[k] = it
						}
					}
				}
				for k := 0; k < n; k++ {
					d := int(dl.d[k*n+p])
					want := t0 + d
					if d >= tc.slots {
						want = -1 // u_k(t0) is gone by the time the slope arrives
					}
					if seen[k] != want {
						t.Errorf("D=%d slots=%d: agent %d saw agent %d's slope of t=%d at %d, want %d (d=%d)", tc.D, tc.slots, k, p, t0, seen[k], want, d)
					}
				}
			}
		}
	}
}

// TestGlobalAndSlots checks sync/central-zo coefficients and the slots of
// every mode.
func TestGlobalAndSlots(t *testing.T) {
	coef := make([]float64, 4)
	global{agents: 4}.Step(0, []float64{1, -2, 0.5}, coef)
	for a, c := range coef {
		if c != -0.5 {
			t.Errorf("global coef[%d] = %g, want -0.5", a, c)
		}
	}
	cfg := testConfig(t, "buffer=7", "D=10", "N=5")
	for mode, want := range map[string][2]int{
		ModeAsync: {5, 7}, ModeFixedDelay: {5, 7}, ModeSync: {5, 1}, ModeCentralZO: {1, 1},
	} {
		if a, s := cfg.Agents(mode), cfg.Slots(mode); a != want[0] || s != want[1] {
			t.Errorf("%s: agents %d slots %d, want %v", mode, a, s, want)
		}
	}
	cfg = testConfig(t, "buffer=40", "D=3")
	if s := cfg.Slots(ModeFixedDelay); s != 4 {
		t.Errorf("fixed-delay slots with D=3 = %d, want 4", s)
	}
}
