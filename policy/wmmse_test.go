package policy

import (
	"math"
	"testing"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels/philox"
)

// rayleigh fills h (n*n) with Rayleigh amplitudes |g|, g ~ CN(0, 1), drawn
// from philox stream (key, stream); buf is scratch of length 2*n*n.
func rayleigh(h []float64, buf []float32, key, stream uint64) {
	philox.FillNormal32(buf, key, stream, 0)
	for k := range h {
		a, b := float64(buf[2*k]), float64(buf[2*k+1])
		h[k] = math.Sqrt((a*a + b*b) / 2)
	}
}

// channels returns count Rayleigh channels of n links.
func channels(n, count int, key uint64) [][]float64 {
	buf := make([]float32, 2*n*n)
	hs := make([][]float64, count)
	for c := range hs {
		hs[c] = make([]float64, n*n)
		rayleigh(hs[c], buf, key, uint64(c))
	}
	return hs
}

func fullRate(h []float64, n int, sigma2, pmax float64) float64 {
	p := make([]float64, n)
	FullPower(p, pmax)
	return channel.SumRate(h, p, sigma2)
}

func TestWMMSEMonotone(t *testing.T) {
	tests := []struct {
		n            int
		sigma2, pmax float64
		count        int
	}{
		{2, 1, 1, 200},
		{5, 1, 1, 200},
		{10, 1, 1, 100},
		{24, 1, 1, 50},
		{5, 1, 100, 100},
		{24, 0.01, 1, 30},
	}
	for _, tt := range tests {
		w := NewWMMSE(tt.n)
		p := make([]float64, tt.n)
		var sumW, sumF float64
		for c, h := range channels(tt.n, tt.count, 1000+uint64(tt.n)) {
			const maxIter = 200
			prev, calls := math.Inf(-1), 0
			iters, rate := w.SolveTrace(h, tt.sigma2, tt.pmax, maxIter, 1e-6, p, func(it int, r float64) {
				if it != calls {
					t.Fatalf("n=%d channel %d: trace iter %d, want %d", tt.n, c, it, calls)
				}
				calls++
				if r < prev-1e-9 {
					t.Errorf("n=%d channel %d: sum-rate fell from %.12g to %.12g at iteration %d", tt.n, c, prev, r, it)
				}
				prev = r
			})
			if iters < 1 || iters > maxIter || calls != iters+1 {
				t.Errorf("n=%d channel %d: %d iterations, %d trace calls, want 1..%d and iterations+1", tt.n, c, iters, calls, maxIter)
			}
			if rate != prev || rate != channel.SumRate(h, p, tt.sigma2) {
				t.Errorf("n=%d channel %d: returned sum-rate %v, last traced %v, of p %v", tt.n, c, rate, prev, channel.SumRate(h, p, tt.sigma2))
			}
			for i, v := range p {
				if !(v >= 0 && v <= tt.pmax) {
					t.Fatalf("n=%d channel %d: p[%d] = %v outside [0, %v]", tt.n, c, i, v, tt.pmax)
				}
			}
			full := fullRate(h, tt.n, tt.sigma2, tt.pmax)
			if rate < full-1e-9 {
				t.Errorf("n=%d channel %d: WMMSE %v below full power %v", tt.n, c, rate, full)
			}
			sumW += rate
			sumF += full
		}
		t.Logf("n=%d sigma2=%g pmax=%g: mean sum-rate WMMSE %.4f, full power %.4f over %d channels", tt.n, tt.sigma2, tt.pmax, sumW/float64(tt.count), sumF/float64(tt.count), tt.count)
	}
}

func TestWMMSEBeatsFullPowerOnAverage(t *testing.T) {
	const n, count = 10, 200
	w := NewWMMSE(n)
	p := make([]float64, n)
	var sumW, sumF float64
	for _, h := range channels(n, count, 77) {
		_, r := w.Solve(h, 1, 1, 100, 1e-3, p)
		sumW += r
		sumF += fullRate(h, n, 1, 1)
	}
	mw, mf := sumW/count, sumF/count
	t.Logf("n=%d: mean WMMSE %.4f, full power %.4f", n, mw, mf)
	// Measured 2.79 vs 1.38: require a clear margin, not just >=.
	if mw < 1.5*mf {
		t.Errorf("mean WMMSE sum-rate %.4f, want >= 1.5 x full power %.4f", mw, mf)
	}
}

// bruteForce2 returns the best sum-rate of a 2-link channel over a
// (steps+1) x (steps+1) grid of powers in [0, pmax]^2, and the best of the
// three binary corners.
func bruteForce2(h []float64, sigma2, pmax float64, steps int) (grid, corner float64) {
	p := make([]float64, 2)
	grid = math.Inf(-1)
	for a := 0; a <= steps; a++ {
		for b := 0; b <= steps; b++ {
			p[0], p[1] = pmax*float64(a)/float64(steps), pmax*float64(b)/float64(steps)
			grid = max(grid, channel.SumRate(h, p, sigma2))
		}
	}
	corner = math.Inf(-1)
	for _, c := range [][2]float64{{pmax, pmax}, {pmax, 0}, {0, pmax}} {
		p[0], p[1] = c[0], c[1]
		corner = max(corner, channel.SumRate(h, p, sigma2))
	}
	return grid, corner
}

func TestWMMSETwoLinksVsBruteForce(t *testing.T) {
	tests := []struct {
		sigma2, pmax float64
		minRatio     float64
	}{
		// 0 dB, the setting of Sun et al.: measured 0.989 (optimal on 174
		// of 200 channels).
		{1, 1, 0.97},
		// 20 dB: WMMSE more often stops at a non-optimal corner (a local
		// optimum); measured 0.955 (optimal on 147 of 200).
		{1, 100, 0.93},
	}
	for _, tt := range tests {
		const count = 200
		w := NewWMMSE(2)
		p := make([]float64, 2)
		var sumW, sumB float64
		optimal := 0
		for c, h := range channels(2, count, 2024) {
			_, r := w.Solve(h, tt.sigma2, tt.pmax, 100, 1e-6, p)
			grid, corner := bruteForce2(h, tt.sigma2, tt.pmax, 100)
			// Binary power control is optimal for two links: no grid point
			// beats the best corner.
			if grid > corner+1e-12 {
				t.Errorf("pmax=%g channel %d: grid optimum %v above best corner %v", tt.pmax, c, grid, corner)
			}
			if r > corner+1e-9 {
				t.Errorf("pmax=%g channel %d: WMMSE %v above the optimum %v", tt.pmax, c, r, corner)
			}
			if r >= corner-1e-6 {
				optimal++
			}
			sumW += r
			sumB += corner
		}
		ratio := sumW / sumB
		t.Logf("2 links sigma2=%g pmax=%g: mean WMMSE %.4f, brute force %.4f, ratio %.4f, optimal on %d of %d", tt.sigma2, tt.pmax, sumW/count, sumB/count, ratio, optimal, count)
		if ratio < tt.minRatio {
			t.Errorf("pmax=%g: mean WMMSE / brute force = %.4f, want >= %v", tt.pmax, ratio, tt.minRatio)
		}
	}
}

// TestWMMSEGaussianIC reproduces the Gaussian interference channel of Sun et
// al. 2018 ("Learning to optimize"): K = 10 links, h_ij ~ CN(0, 1),
// sigma2 = 1, Pmax = 1, WMMSE with at most 100 iterations and tolerance
// 1e-3, averaged over 1000 channels.
func TestWMMSEGaussianIC(t *testing.T) {
	const n, count = 10, 1000
	w := NewWMMSE(n)
	p := make([]float64, n)
	h := make([]float64, n*n)
	buf := make([]float32, 2*n*n)
	var sumW, sumF, sumR, sumIt float64
	for c := range uint64(count) {
		rayleigh(h, buf, 2018, c)
		it, r := w.Solve(h, 1, 1, 100, 1e-3, p)
		sumW += r
		sumIt += float64(it)
		sumF += fullRate(h, n, 1, 1)
		RandomPower(p, 1, 2018, 1<<32+c, 0)
		sumR += channel.SumRate(h, p, 1)
	}
	mw, mf, mr := sumW/count, sumF/count, sumR/count
	t.Logf("Gaussian IC K=%d, %d channels: mean sum-rate WMMSE %.4f (%.1f iterations), full power %.4f, random power %.4f", n, count, mw, sumIt/count, mf, mr)
	if mw <= mf || mw <= mr {
		t.Errorf("mean WMMSE sum-rate %.4f, want above full power %.4f and random power %.4f", mw, mf, mr)
	}
}

func TestWMMSESpecialChannels(t *testing.T) {
	diag := func(n int, gains ...float64) []float64 {
		h := make([]float64, n*n)
		for i := range n {
			h[i*n+i] = gains[i%len(gains)]
		}
		return h
	}
	withZeroDirect := channels(4, 1, 5)[0]
	withZeroDirect[1*4+1] = 0
	isolatedZero := channels(3, 1, 6)[0]
	for k := range 3 { // link 2 neither hears nor is heard, and has no direct gain
		isolatedZero[2*3+k] = 0
		isolatedZero[k*3+2] = 0
	}
	tests := []struct {
		name         string
		n            int
		h            []float64
		sigma2, pmax float64
		want         []float64 // nil: only check zeros below
		zero         []int     // links that must end at p = 0
	}{
		{"single link", 1, []float64{0.7}, 1, 2, []float64{2}, nil},
		{"single link, weak", 1, []float64{1e-3}, 10, 3, []float64{3}, nil},
		{"single link, pmax 7", 1, []float64{1.3}, 0.5, 7, []float64{7}, nil},
		{"no cross gains", 5, diag(5, 0.3, 1, 2.5), 1, 2, []float64{2, 2, 2, 2, 2}, nil},
		{"no cross gains, pmax 10", 3, diag(3, 1e-4, 5), 0.1, 10, []float64{10, 10, 10}, nil},
		{"zero direct gain", 4, withZeroDirect, 1, 1, nil, []int{1}},
		{"isolated dead link", 3, isolatedZero, 1, 1, nil, []int{2}},
		{"all zero", 3, make([]float64, 9), 1, 1, nil, []int{0, 1, 2}},
		{"pmax 0", 3, channels(3, 1, 8)[0], 1, 0, []float64{0, 0, 0}, nil},
	}
	for _, tt := range tests {
		w := NewWMMSE(tt.n)
		p := make([]float64, tt.n)
		iters, rate := w.Solve(tt.h, tt.sigma2, tt.pmax, 50, 1e-9, p)
		if math.IsNaN(rate) || math.IsInf(rate, 0) {
			t.Errorf("%s: sum-rate %v", tt.name, rate)
		}
		if iters < 1 || iters > 50 {
			t.Errorf("%s: %d iterations, want 1..50", tt.name, iters)
		}
		for i, v := range p {
			if !(v >= 0 && v <= tt.pmax) {
				t.Errorf("%s: p[%d] = %v outside [0, %v]", tt.name, i, v, tt.pmax)
			}
			if tt.want != nil && v != tt.want[i] {
				t.Errorf("%s: p[%d] = %v, want %v", tt.name, i, v, tt.want[i])
			}
		}
		for _, i := range tt.zero {
			if p[i] != 0 {
				t.Errorf("%s: p[%d] = %v, want 0", tt.name, i, p[i])
			}
		}
		if full := fullRate(tt.h, tt.n, tt.sigma2, tt.pmax); rate < full-1e-9 {
			t.Errorf("%s: sum-rate %v below full power %v", tt.name, rate, full)
		}
	}
}

func TestWMMSEStopping(t *testing.T) {
	const n = 10
	h := channels(n, 1, 31)[0]
	w := NewWMMSE(n)
	p := make([]float64, n)
	full := fullRate(h, n, 1, 1)

	// maxIter 0 leaves full power.
	if iters, rate := w.Solve(h, 1, 1, 0, 0, p); iters != 0 || rate != full || p[0] != 1 {
		t.Errorf("maxIter 0: %d iterations, sum-rate %v, p[0] %v; want 0, %v, 1", iters, rate, p[0], full)
	}
	// tol +Inf stops after the first iteration.
	if iters, _ := w.Solve(h, 1, 1, 100, math.Inf(1), p); iters != 1 {
		t.Errorf("tol +Inf: %d iterations, want 1", iters)
	}
	// A gain of exactly tol stops: without cross gains full power is a fixed
	// point, so the first iteration gains exactly 0.
	if iters, _ := NewWMMSE(2).Solve([]float64{1, 0, 0, 2}, 1, 1, 100, 0, p[:2]); iters != 1 {
		t.Errorf("fixed point, tol 0: %d iterations, want 1", iters)
	}
	// With a negative tolerance the run ends at maxIter exactly.
	if iters, _ := w.Solve(h, 1, 1, 7, -1, p); iters != 7 {
		t.Errorf("tol -1, maxIter 7: %d iterations, want 7", iters)
	}
	// The stop comes at the first iteration whose gain is <= tol.
	const tol = 1e-3
	var rates []float64
	iters, _ := w.SolveTrace(h, 1, 1, 1000, tol, p, func(_ int, r float64) { rates = append(rates, r) })
	for k := 1; k < iters; k++ {
		if rates[k]-rates[k-1] <= tol {
			t.Errorf("gain %v <= tol at iteration %d, but ran to %d", rates[k]-rates[k-1], k, iters)
		}
	}
	if g := rates[iters] - rates[iters-1]; g > tol && iters < 1000 {
		t.Errorf("stopped at iteration %d with gain %v > tol", iters, g)
	}
	// Reuse gives the same answer as a fresh solver, and Solve equals SolveTrace.
	q := make([]float64, n)
	i2, r2 := NewWMMSE(n).Solve(h, 1, 1, 1000, tol, q)
	if i2 != iters || r2 != rates[iters] {
		t.Errorf("fresh solver: %d iterations, sum-rate %v; want %d, %v", i2, r2, iters, rates[iters])
	}
	for i := range p {
		if p[i] != q[i] {
			t.Fatalf("fresh solver: p[%d] = %v, want %v", i, q[i], p[i])
		}
	}
}

func TestWMMSEPanics(t *testing.T) {
	h := make([]float64, 4)
	tests := []struct {
		name         string
		h, p         []float64
		sigma2, pmax float64
	}{
		{"short h", h[:3], make([]float64, 2), 1, 1},
		{"short p", h, make([]float64, 1), 1, 1},
		{"zero noise", h, make([]float64, 2), 0, 1},
		{"NaN noise", h, make([]float64, 2), math.NaN(), 1},
		{"negative pmax", h, make([]float64, 2), 1, -1},
		{"NaN pmax", h, make([]float64, 2), 1, math.NaN()},
	}
	w := NewWMMSE(2)
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Solve did not panic", tt.name)
				}
			}()
			w.Solve(tt.h, tt.sigma2, tt.pmax, 10, 0, tt.p)
		}()
	}
}

func TestWMMSENoAllocs(t *testing.T) {
	const n = 24
	hs := channels(n, 4, 3)
	w := NewWMMSE(n)
	p := make([]float64, n)
	c := 0
	allocs := testing.AllocsPerRun(50, func() {
		w.Solve(hs[c%len(hs)], 1, 1, 100, 1e-3, p)
		c++
	})
	if allocs != 0 {
		t.Errorf("Solve allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkWMMSE24(b *testing.B) {
	const n = 24
	hs := channels(n, 64, 24)
	w := NewWMMSE(n)
	p := make([]float64, n)
	c, iters := 0, 0
	for b.Loop() {
		it, _ := w.Solve(hs[c%len(hs)], 1, 1, 100, 1e-3, p)
		iters += it
		c++
	}
	b.ReportMetric(float64(iters)/float64(c), "iters/op")
}
