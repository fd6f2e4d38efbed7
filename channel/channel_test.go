package channel

import (
	"math"
	"testing"
)

func TestGeometryRanges(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		sides func(int) (float64, float64)
	}{
		{"paper N=24", 24, PaperSides},
		{"paper N=7", 7, PaperSides},
		{"density N=256", 256, DensitySides},
	} {
		t.Run(tc.name, func(t *testing.T) {
			L, l := tc.sides(tc.n)
			g, err := NewGeometry(tc.n, L, l, 99, 1)
			if err != nil {
				t.Fatal(err)
			}
			var minX, maxX, minD, maxD float64 = L, -L, l, -l
			for i := 0; i < tc.n; i++ {
				for c := 0; c < 2; c++ {
					x, d := g.Tx[i][c], g.Rx[i][c]-g.Tx[i][c]
					if math.Abs(x) > L || math.Abs(d) > l {
						t.Fatalf("link %d coordinate %d: tx %g (|.|<=%g), offset %g (|.|<=%g)", i, c, x, L, d, l)
					}
					minX, maxX = math.Min(minX, x), math.Max(maxX, x)
					minD, maxD = math.Min(minD, d), math.Max(maxD, d)
				}
			}
			// The draws must fill their boxes, not sit in a corner of them.
			if tc.n >= 24 && (maxX-minX < L || maxD-minD < l) {
				t.Errorf("positions span [%g, %g], offsets [%g, %g]: too narrow for L=%g, l=%g", minX, maxX, minD, maxD, L, l)
			}
			pl := g.PathLoss(2.2)
			for r := 0; r < tc.n; r++ {
				for j := 0; j < tc.n; j++ {
					want := math.Pow(g.Distance(r, j), -2.2)
					if pl[r*tc.n+j] != want || !(want > 0) {
						t.Fatalf("PL[%d][%d] = %g, want %g > 0", r, j, pl[r*tc.n+j], want)
					}
				}
			}
		})
	}
	if L, l := DensitySides(24); L != 24 || l != 6 {
		t.Errorf("DensitySides(24) = %g, %g; want the paper's 24, 6", L, l)
	}
	if _, err := NewGeometry(0, 1, 1, 0, 0); err == nil {
		t.Error("NewGeometry(N=0) did not fail")
	}
}

// The AR(1) process starts stationary: every F_s has variance 1 and
// corr(F_s, F_{s-1}) = sqrt(1-c); the lag-2 correlation is 1-c.
func TestAR1StationaryMoments(t *testing.T) {
	const n, samples, c = 8, 4000, 0.3
	pl := make([]float64, n*n)
	for i := range pl {
		pl[i] = 1
	}
	p, err := NewAR1(pl, c, 0, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	h := make([]float32, n*n)
	hist := make([][]float64, samples)
	for s := range hist {
		p.Next(h)
		hist[s] = make([]float64, n*n)
		for e, f := range p.f {
			hist[s][e] = float64(f)
			if got := float64(h[e]); got != math.Abs(float64(f)) {
				t.Fatalf("sample %d entry %d: H = %g, want |F| = %g", s, e, got, math.Abs(float64(f)))
			}
		}
	}
	var v0, vFirst, c1, c2 float64
	for s := 0; s < samples; s++ {
		for e := 0; e < n*n; e++ {
			x := hist[s][e]
			v0 += x * x
			if s == 0 {
				vFirst += x * x
			}
			if s >= 1 {
				c1 += x * hist[s-1][e]
			}
			if s >= 2 {
				c2 += x * hist[s-2][e]
			}
		}
	}
	m := float64(samples * n * n)
	v0 /= m
	c1 /= m - n*n
	c2 /= m - 2*n*n
	// Effective sample size shrinks with the autocorrelation; tolerances are
	// about 5 standard errors of the estimates.
	if math.Abs(v0-1) > 0.05 {
		t.Errorf("stationary variance %.4f, want 1", v0)
	}
	if want := math.Sqrt(1 - c); math.Abs(c1-want) > 0.05 {
		t.Errorf("lag-1 correlation %.4f, want sqrt(1-c) = %.4f", c1, want)
	}
	if want := 1 - c; math.Abs(c2-want) > 0.05 {
		t.Errorf("lag-2 correlation %.4f, want 1-c = %.4f", c2, want)
	}
	if vFirst/(n*n) < 0.3 || vFirst/(n*n) > 2.5 {
		t.Errorf("first sample variance %.3f: F_0 should be standard normal", vFirst/(n*n))
	}
}

func TestAR1ThresholdAndPathLoss(t *testing.T) {
	g, _ := NewGeometry(24, 24, 6, 5, 1)
	pl := g.PathLoss(2.2)
	p, err := NewAR1(pl, 0.3, 0.01, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	h := make([]float32, 24*24)
	zeros := 0
	for s := 0; s < 50; s++ {
		p.Next(h)
		for e, v := range h {
			if v != 0 && v <= 0.01 {
				t.Fatalf("entry %d = %g survives the 0.01 threshold", e, v)
			}
			if v == 0 {
				zeros++
				continue
			}
			if want := math.Abs(float64(p.f[e]) * pl[e]); math.Abs(float64(v)-want) > 1e-6*want {
				t.Fatalf("entry %d = %g, want |F PL| = %g", e, v, want)
			}
		}
	}
	if zeros == 0 || zeros == 50*24*24 {
		t.Errorf("%d of %d entries thresholded: expected some but not all", zeros, 50*24*24)
	}
	if _, err := NewAR1(pl, 0, 0.01, 0, 0); err == nil {
		t.Error("c = 0 accepted")
	}
	if _, err := NewAR1(pl[:5], 0.3, 0.01, 0, 0); err == nil {
		t.Error("non-square path loss accepted")
	}
}

// Continuing the process is the same as having produced every sample in one
// go: a restart at the same key and stream replays the series exactly.
func TestAR1Deterministic(t *testing.T) {
	pl := []float64{1, 0.5, 0.5, 1}
	a, _ := NewAR1(pl, 0.3, 0.01, 1, 1)
	b, _ := NewAR1(pl, 0.3, 0.01, 1, 1)
	ha, hb := make([]float32, 4), make([]float32, 4)
	for s := 0; s < 100; s++ {
		a.Next(ha)
		b.Next(hb)
		for e := range ha {
			if ha[e] != hb[e] {
				t.Fatalf("sample %d differs: %v vs %v", s, ha, hb)
			}
		}
	}
}

func TestRayleighMoments(t *testing.T) {
	const n, samples = 10, 2000
	r, err := NewRayleigh(n, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	h := make([]float32, n*n)
	var m1, m2 float64
	for s := 0; s < samples; s++ {
		r.Next(h)
		for _, v := range h {
			m1 += float64(v)
			m2 += float64(v) * float64(v)
		}
	}
	m1 /= samples * n * n
	m2 /= samples * n * n
	if math.Abs(m2-1) > 0.02 {
		t.Errorf("E|h|^2 = %.4f, want 1", m2)
	}
	if want := math.Sqrt(math.Pi) / 2; math.Abs(m1-want) > 0.01 {
		t.Errorf("E|h| = %.4f, want sqrt(pi)/2 = %.4f", m1, want)
	}
}

// The recursion must equal row i of [H_t 1, H_t H_{t-1} 1, ...,
// H_t ... H_{t-K+1} 1], with missing samples (t < 0) contributing 0.
func TestObserverMatchesMatrixProducts(t *testing.T) {
	const n, k, samples = 5, 4, 12
	g, _ := NewGeometry(n, 5, 1.25, 8, 1)
	p, _ := NewAR1(g.PathLoss(2.2), 0.3, 0.01, 8, 2)
	o := NewObserver(n, k)
	var hs [][]float64
	h := make([]float32, n*n)
	obs := make([]float32, n*k)
	for s := 0; s < samples; s++ {
		p.Next(h)
		for e := range h {
			h[e] = float32(1 + 0.1*float64(e%7) + float64(h[e])) // dense, well-scaled
		}
		o.Observe(h, obs)
		hd := make([]float64, n*n)
		for e := range h {
			hd[e] = float64(h[e])
		}
		hs = append(hs, hd)
		for c := 0; c < k; c++ {
			// x = 1; x = H_{s-c} x; ...; x = H_s x  (zero if s-c < 0)
			x := make([]float64, n)
			if s-c >= 0 {
				for i := range x {
					x[i] = 1
				}
				for u := s - c; u <= s; u++ {
					y := make([]float64, n)
					for i := 0; i < n; i++ {
						for j := 0; j < n; j++ {
							y[i] += hs[u][i*n+j] * x[j]
						}
					}
					x = y
				}
			}
			for i := 0; i < n; i++ {
				got := float64(obs[i*k+c])
				if math.Abs(got-x[i]) > 1e-5*math.Max(1, math.Abs(x[i])) {
					t.Fatalf("sample %d tap %d link %d: recursion %g, product form %g", s, c, i, got, x[i])
				}
			}
		}
	}
}

func TestRates(t *testing.T) {
	// Two links: H = [[2, 1], [0.5, 1]], p = (1, 4), sigma2 = 1.
	h := []float64{2, 1, 0.5, 1}
	p := []float64{1, 4}
	out := make([]float64, 2)
	Rates(h, p, 1, out)
	want := []float64{math.Log2(1 + 4.0/(1+4)), math.Log2(1 + 4.0/(1+0.25))}
	for i := range want {
		if math.Abs(out[i]-want[i]) > 1e-15 {
			t.Errorf("r_%d = %v, want %v", i, out[i], want[i])
		}
	}
	if s := SumRate(h, p, 1); math.Abs(s-want[0]-want[1]) > 1e-15 {
		t.Errorf("SumRate = %v, want %v", s, want[0]+want[1])
	}
	// No power, no rate; a lone link gets log2(1 + h^2 p / sigma2).
	if s := SumRate(h, []float64{0, 0}, 1); s != 0 {
		t.Errorf("SumRate at zero power = %v", s)
	}
	if s := SumRate([]float64{3}, []float64{2}, 0.5); math.Abs(s-math.Log2(1+18/0.5)) > 1e-15 {
		t.Errorf("single link SumRate = %v", s)
	}
}

// A threshold of -0 zeroes nothing but zeros, like 0 (the branch-free
// threshold compares bit patterns).
func TestAR1NegativeZeroThreshold(t *testing.T) {
	pl := []float64{1, 0.5, 0.25, 2}
	a, err := NewAR1(pl, 0.3, 0, 7, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewAR1(pl, 0.3, math.Copysign(0, -1), 7, 9)
	if err != nil {
		t.Fatal(err)
	}
	ha, hb := make([]float32, 4), make([]float32, 4)
	for s := 0; s < 5; s++ {
		a.Next(ha)
		b.Next(hb)
		for i := range ha {
			if ha[i] != hb[i] || ha[i] == 0 {
				t.Fatalf("sample %d: threshold -0 gives %v, 0 gives %v", s, hb, ha)
			}
		}
	}
}
