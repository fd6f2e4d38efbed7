package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/batchrun/batchrun/kernels"
)

// Tests of rates_simd.go: the AVX-512 and AVX2 rates against their Go twin
// bit for bit, and against the float64 Backend.Rates within the documented
// bound.

// rtProblem draws a Rates problem: amplitudes log-uniform in [lo, 1] with
// random signs, powers uniform in [0, pmax] (a fraction zeroP of them 0), a
// fraction zeroH of the channel entries 0, and pad unused (NaN) entries
// after the block of every seed.
type rtShape struct {
	S, N, B, pad int
	lo, pmax     float64
	zeroP, zeroH float64
	sigma2       float64
}

func (sh rtShape) String() string {
	return fmt.Sprintf("S=%d/N=%d/B=%d/pad=%d/lo=%g/pmax=%g/zeroP=%g/zeroH=%g/s2=%g",
		sh.S, sh.N, sh.B, sh.pad, sh.lo, sh.pmax, sh.zeroP, sh.zeroH, sh.sigma2)
}

func rtProblem(rng *rand.Rand, sh rtShape) *kernels.Rates {
	n := sh.N
	r := &kernels.Rates{
		S: sh.S, N: n, B: sh.B,
		HSeedStride:     sh.B*n*n + sh.pad,
		PowerSeedStride: sh.B*n + sh.pad,
		Sigma2:          sh.sigma2,
		MeanRate:        make([]float64, sh.S*n),
	}
	r.H = make([]float32, sh.S*r.HSeedStride)
	r.Power = make([]float32, sh.S*r.PowerSeedStride)
	nan := float32(math.NaN())
	for i := range r.H {
		r.H[i] = nan
	}
	for i := range r.Power {
		r.Power[i] = nan
	}
	logLo := math.Log(sh.lo)
	for s := 0; s < sh.S; s++ {
		h := r.H[s*r.HSeedStride:][:sh.B*n*n]
		for i := range h {
			a := math.Exp(logLo * rng.Float64())
			if rng.IntN(2) == 0 {
				a = -a
			}
			if rng.Float64() < sh.zeroH {
				a = 0
			}
			h[i] = float32(a)
		}
		p := r.Power[s*r.PowerSeedStride:][:sh.B*n]
		for i := range p {
			p[i] = float32(rng.Float64() * sh.pmax)
			if rng.Float64() < sh.zeroP {
				p[i] = 0
			}
		}
	}
	return r
}

func rtShapes() []rtShape {
	var shapes []rtShape
	for _, n := range []int{1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 100} {
		for _, b := range []int{1, 3, 10} {
			for _, s := range []int{1, 2} {
				shapes = append(shapes, rtShape{S: s, N: n, B: b, pad: (n + b + s) % 5, lo: 1e-3, pmax: 10, sigma2: 1})
			}
		}
	}
	shapes = append(shapes,
		rtShape{S: 2, N: 24, B: 3, lo: 1e-3, pmax: 10, sigma2: 1, zeroP: 0.3},
		rtShape{S: 2, N: 33, B: 3, lo: 1e-3, pmax: 10, sigma2: 1, zeroH: 0.3},
		rtShape{S: 2, N: 17, B: 3, lo: 1e-3, pmax: 10, sigma2: 1, zeroP: 1},
		rtShape{S: 2, N: 17, B: 3, lo: 1e-3, pmax: 10, sigma2: 1, zeroH: 1},
		rtShape{S: 1, N: 24, B: 10, lo: 1e-3, pmax: 10, sigma2: 1e-3},
		rtShape{S: 1, N: 24, B: 10, lo: 1e-6, pmax: 1, sigma2: 1e-9},
		rtShape{S: 1, N: 24, B: 10, lo: 1e-3, pmax: 1e-3, sigma2: 10},
		rtShape{S: 1, N: 256, B: 2, lo: 1e-3, pmax: 10, sigma2: 1},
		rtShape{S: 1, N: 257, B: 1, lo: 1e-2, pmax: 10, sigma2: 0.1},
	)
	return shapes
}

func TestRatesSIMDMatchesTwin(t *testing.T) {
	isas := mvISAs()
	if len(isas) == 0 {
		t.Skip("no AVX2 or AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, sh := range rtShapes() {
		r := rtProblem(rng, sh)
		ratesTwin(r)
		want := append([]float64(nil), r.MeanRate...)
		for _, isa := range isas {
			for i := range r.MeanRate {
				r.MeanRate[i] = math.NaN()
			}
			isa.rates(r)
			for i, w := range want {
				if math.Float64bits(r.MeanRate[i]) != math.Float64bits(w) {
					t.Fatalf("%v %s: MeanRate[%d] = %v, twin %v", sh, isa.name, i, r.MeanRate[i], w)
				}
			}
		}
	}
}

// rtBound is the documented relative bound on MeanRate (rates_simd.go).
func rtBound(n int) float64 { return float64(10+(n+15)/16)*0x1p-24 + mvLog2p1Rel }

func TestRatesSIMDAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	var be Backend
	worst := 0.0
	for _, sh := range rtShapes() {
		r := rtProblem(rng, sh)
		be.Rates(r)
		want := append([]float64(nil), r.MeanRate...)
		// The exported entry points: the assembly here, the twin elsewhere.
		for _, f := range []func(*kernels.Rates){RatesAVX512, RatesAVX2, ratesTwin} {
			f(r)
			for i, w := range want {
				got := r.MeanRate[i]
				if w == 0 || sh.zeroP == 1 || sh.zeroH == 1 {
					if got != w {
						t.Fatalf("%v: MeanRate[%d] = %v, generic %v", sh, i, got, w)
					}
					continue
				}
				e := math.Abs(got-w) / w
				worst = max(worst, e)
				if !(e <= rtBound(sh.N)) || !(e < 1e-5) {
					t.Fatalf("%v: MeanRate[%d] = %v, generic %v: relative error %.3g > %.3g", sh, i, got, w, e, rtBound(sh.N))
				}
			}
		}
	}
	t.Logf("largest relative deviation from Backend.Rates: %.3g", worst)
}

// Zero powers and zero channels give rate 0 exactly, and a link whose own
// channel is zero has rate 0 however strong the others are.
func TestRatesSIMDZeros(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	r := rtProblem(rng, rtShape{S: 1, N: 19, B: 2, lo: 1e-3, pmax: 10, sigma2: 1})
	for b := 0; b < 2; b++ {
		r.H[b*19*19+5*19+5] = 0 // link 5 has no own channel
		r.Power[b*19+7] = 0     // agent 7 is silent
	}
	for _, f := range []func(*kernels.Rates){RatesAVX512, RatesAVX2, ratesTwin} {
		f(r)
		if r.MeanRate[5] != 0 || r.MeanRate[7] != 0 {
			t.Fatalf("rates of links 5 and 7 = %v, %v, want 0", r.MeanRate[5], r.MeanRate[7])
		}
		for i, v := range r.MeanRate {
			if i != 5 && i != 7 && !(v > 0) {
				t.Fatalf("rate %d = %v", i, v)
			}
		}
	}
}

func BenchmarkRatesSIMD(b *testing.B) {
	type impl struct {
		name string
		f    func(*kernels.Rates)
	}
	var be Backend
	impls := []impl{{"generic", be.Rates}, {"twin", ratesTwin}}
	for _, isa := range mvISAs() {
		impls = append(impls, impl{isa.name, isa.rates})
	}
	for _, sh := range []rtShape{
		{S: 64, N: 24, B: 10, lo: 1e-3, pmax: 10, sigma2: 1},
		{S: 4, N: 256, B: 10, lo: 1e-3, pmax: 10, sigma2: 1},
	} {
		r := rtProblem(rand.New(rand.NewPCG(1, 1)), sh)
		links := float64(sh.S * sh.N * sh.B)
		for _, im := range impls {
			b.Run(fmt.Sprintf("N=%d/B=%d/S=%d/%s", sh.N, sh.B, sh.S, im.name), func(b *testing.B) {
				for b.Loop() {
					im.f(r)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/links, "ns/link-sample")
			})
		}
	}
}
