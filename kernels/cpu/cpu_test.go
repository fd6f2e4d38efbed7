package cpu_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/kernels/philox"
	"github.com/batchrun/batchrun/policy"
)

var _ kernels.Backend = (*cpu.Backend)(nil)

// sentinel marks slice entries a kernel must neither write nor read: a NaN
// with a recognisable payload, so that reading it poisons the result and
// writing it is detected bit-exactly.
var sentinel = math.Float32frombits(0x7fc0dead)

func isSentinel(x float32) bool { return math.Float32bits(x) == 0x7fc0dead }

func fillSentinel(x []float32) {
	for i := range x {
		x[i] = sentinel
	}
}

func normals(rng *rand.Rand, x []float32, scale float64) {
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
}

func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func arch(net kernels.MLP) policy.Arch { return policy.Arch{In: net.In, Hidden: net.Hidden} }

// layout picks the memory layout of a Forward or Update problem.
type layout struct {
	shared  bool // agent stride 0: one policy per seed shared by all agents
	perturb bool // Forward: U != nil
	slots   int  // ring slots per agent of U
	slot    int  // ring slot U is taken from
	pad     int  // extra elements after the block of every seed
}

func (l layout) String() string {
	return fmt.Sprintf("shared=%v/perturb=%v/slot=%d of %d/pad=%d", l.shared, l.perturb, l.slot, l.slots, l.pad)
}

// randomParams writes parameters of net to theta, every layer uniform on
// +-1.5/sqrt(fan_in) (a bit wider than PyTorch's init).
func randomParams(rng *rand.Rand, net kernels.MLP, theta []float32) {
	for _, l := range arch(net).Layers() {
		bound := 1.5 / math.Sqrt(float64(l.In))
		for i := l.W; i < l.B+l.Out; i++ {
			theta[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
}

// newForward builds a Forward problem with random parameters, ring
// perturbations and observations; every padding entry and every power holds
// the sentinel.
func newForward(rng *rand.Rand, net kernels.MLP, S, N, B int, l layout) *kernels.Forward {
	P := net.NumParams()
	f := &kernels.Forward{Net: net, S: S, N: N, B: B, Pmax: float32(0.5 + 10*rng.Float64())}
	f.Theta, f.ThetaSeedStride, f.ThetaAgentStride = newParams(S, N, P, l, func(v []float32) { randomParams(rng, net, v) })
	if l.perturb {
		// Ring [S][N][slots][P]: the other slots hold other (finite) directions.
		f.UAgentStride = l.slots * P
		f.USeedStride = N*f.UAgentStride + l.pad
		ring := make([]float32, S*f.USeedStride)
		fillSentinel(ring)
		for s := 0; s < S; s++ {
			normals(rng, ring[s*f.USeedStride:][:N*f.UAgentStride], 1)
		}
		f.U = ring[l.slot*P:]
		f.Mu = float32(0.05 + 0.5*rng.Float64())
		if rng.IntN(2) == 0 {
			f.Mu = -f.Mu
		}
	}
	f.ObsSeedStride = B*N*net.In + l.pad
	f.Obs = make([]float32, S*f.ObsSeedStride+l.pad)
	fillSentinel(f.Obs)
	for s := 0; s < S; s++ {
		normals(rng, f.Obs[s*f.ObsSeedStride:][:B*N*net.In], 1)
	}
	f.PowerSeedStride = B*N + l.pad
	f.Power = make([]float32, S*f.PowerSeedStride+l.pad+1)
	fillSentinel(f.Power)
	return f
}

// refForward returns the float64 reference power of every written entry of
// f.Power, indexed like f.Power (NaN where nothing is written).
func refForward(f *kernels.Forward) []float64 {
	a := arch(f.Net)
	P := f.Net.NumParams()
	want := make([]float64, len(f.Power))
	for i := range want {
		want[i] = math.NaN()
	}
	params := make([]float64, P)
	x := make([]float64, f.Net.In)
	for s := 0; s < f.S; s++ {
		for k := 0; k < f.N; k++ {
			theta := f.Theta[s*f.ThetaSeedStride+k*f.ThetaAgentStride:][:P]
			for i, v := range theta {
				params[i] = float64(v)
				if f.U != nil {
					params[i] += float64(f.Mu) * float64(f.U[s*f.USeedStride+k*f.UAgentStride+i])
				}
			}
			for b := 0; b < f.B; b++ {
				for i := range x {
					x[i] = float64(f.Obs[s*f.ObsSeedStride+(b*f.N+k)*f.Net.In+i])
				}
				want[s*f.PowerSeedStride+b*f.N+k] = policy.Forward64(a, params, x, float64(f.Pmax))
			}
		}
	}
	return want
}

// checkPowers compares f.Power with the reference: relative error below tol
// at written entries, the sentinel everywhere else.
func checkPowers(f *kernels.Forward, want []float64, tol float64) error {
	for i, w := range want {
		got := f.Power[i]
		if math.IsNaN(w) {
			if !isSentinel(got) {
				return fmt.Errorf("Power[%d] = %v outside the written entries, want it untouched", i, got)
			}
			continue
		}
		if d := math.Abs(float64(got) - w); !(d <= tol*math.Abs(w)) {
			s, r := i/f.PowerSeedStride, i%f.PowerSeedStride
			return fmt.Errorf("Power[seed %d, sample %d, agent %d] = %v, float64 reference %v (rel. error %.2g)",
				s, r/f.N, r%f.N, got, w, d/math.Abs(w))
		}
	}
	return nil
}

func TestForwardMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	be := cpu.New()
	hiddens := [][]int{{1}, {7}, {30, 30}, {5, 3, 2}}
	layouts := []layout{
		{shared: false, perturb: true, slots: 3, slot: 1, pad: 3},
		{shared: true, perturb: true, slots: 2, slot: 1, pad: 1},
		{shared: false, perturb: false, pad: 5},
		{shared: true, perturb: false, pad: 0},
		{shared: false, perturb: true, slots: 1, slot: 0, pad: 0},
	}
	cases := 0
	for _, in := range []int{1, 3, 5} {
		for _, hidden := range hiddens {
			for _, S := range []int{1, 3} {
				for _, N := range []int{1, 2, 5} {
					for _, B := range []int{1, 3, 4, 5, 10} {
						for _, l := range layouts {
							net := kernels.MLP{In: in, Hidden: hidden}
							f := newForward(rng, net, S, N, B, l)
							theta := append([]float32(nil), f.Theta...)
							u := append([]float32(nil), f.U...)
							obs := append([]float32(nil), f.Obs...)
							want := refForward(f)
							be.Forward(f)
							name := fmt.Sprintf("%v S=%d N=%d B=%d %v", arch(net), S, N, B, l)
							if err := checkPowers(f, want, 1e-4); err != nil {
								t.Errorf("%s: %v", name, err)
							}
							if !sameBits(theta, f.Theta) || !sameBits(u, f.U) || !sameBits(obs, f.Obs) {
								t.Errorf("%s: Forward modified its inputs", name)
							}
							cases++
						}
					}
				}
			}
		}
	}
	if cases != 3*4*2*3*5*len(layouts) {
		t.Fatalf("ran %d cases", cases)
	}
}

// Saturated outputs stay finite: exactly Pmax and +0, never NaN.
func TestForwardSaturation(t *testing.T) {
	net := kernels.MLP{In: 1, Hidden: []int{2}}
	f := newForward(rand.New(rand.NewPCG(3, 4)), net, 1, 1, 2, layout{})
	// h = relu(x, -x), z = 1e4 h0 - 1e4 h1: z = +-5e5 for x = +-50.
	copy(f.Theta, []float32{1, -1, 0, 0, 1e4, -1e4, 0})
	copy(f.Obs, []float32{50, -50})
	cpu.New().Forward(f)
	if got := f.Power[0]; got != f.Pmax {
		t.Errorf("z = +5e5: power %v, want Pmax = %v", got, f.Pmax)
	}
	if got := f.Power[1]; math.Float32bits(got) != 0 {
		t.Errorf("z = -5e5: power %v, want +0", got)
	}
}

// newRates builds a Rates problem: amplitudes and powers with zeros among
// them, padding holding the sentinel, MeanRate prefilled with garbage.
func newRates(rng *rand.Rand, S, N, B, pad int) *kernels.Rates {
	r := &kernels.Rates{S: S, N: N, B: B, Sigma2: 0.05 + 2*rng.Float64()}
	r.HSeedStride = B*N*N + pad
	r.H = make([]float32, S*r.HSeedStride+pad)
	fillSentinel(r.H)
	r.PowerSeedStride = B*N + pad
	r.Power = make([]float32, S*r.PowerSeedStride+pad)
	fillSentinel(r.Power)
	for s := 0; s < S; s++ {
		h := r.H[s*r.HSeedStride:][:B*N*N]
		for i := range h {
			if rng.IntN(5) == 0 {
				h[i] = 0
			} else {
				h[i] = float32(rng.NormFloat64() * math.Exp(2*rng.NormFloat64()))
			}
		}
		p := r.Power[s*r.PowerSeedStride:][:B*N]
		for i := range p {
			if rng.IntN(6) == 0 {
				p[i] = 0
			} else {
				p[i] = float32(10 * rng.Float64())
			}
		}
	}
	r.MeanRate = make([]float64, S*N+2)
	for i := range r.MeanRate {
		r.MeanRate[i] = 123.5
	}
	return r
}

func refRates(r *kernels.Rates) []float64 {
	want := make([]float64, r.S*r.N)
	h := make([]float64, r.N*r.N)
	p := make([]float64, r.N)
	out := make([]float64, r.N)
	for s := 0; s < r.S; s++ {
		for b := 0; b < r.B; b++ {
			for i := range h {
				h[i] = float64(r.H[s*r.HSeedStride+b*r.N*r.N+i])
			}
			for i := range p {
				p[i] = float64(r.Power[s*r.PowerSeedStride+b*r.N+i])
			}
			channel.Rates(h, p, r.Sigma2, out)
			for i, v := range out {
				want[s*r.N+i] += v / float64(r.B)
			}
		}
	}
	return want
}

func TestRatesMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	be := cpu.New()
	zeros := 0
	for _, S := range []int{1, 3} {
		for _, N := range []int{1, 2, 5, 24} {
			for _, B := range []int{1, 3, 10} {
				for _, pad := range []int{0, 1, 7} {
					r := newRates(rng, S, N, B, pad)
					h := append([]float32(nil), r.H...)
					p := append([]float32(nil), r.Power...)
					want := refRates(r)
					be.Rates(r)
					name := fmt.Sprintf("S=%d N=%d B=%d pad=%d", S, N, B, pad)
					for i, w := range want {
						got := r.MeanRate[i]
						if d := math.Abs(got - w); !(d <= 1e-5*math.Abs(w)) {
							t.Errorf("%s: MeanRate[seed %d, link %d] = %v, reference %v", name, i/N, i%N, got, w)
						}
						if w == 0 {
							zeros++
						}
					}
					for i := S * N; i < len(r.MeanRate); i++ {
						if r.MeanRate[i] != 123.5 {
							t.Errorf("%s: MeanRate[%d] = %v beyond [S][N], want untouched", name, i, r.MeanRate[i])
						}
					}
					if !sameBits(h, r.H) || !sameBits(p, r.Power) {
						t.Errorf("%s: Rates modified its inputs", name)
					}
				}
			}
		}
	}
	if zeros == 0 {
		t.Error("no link with zero rate was tested")
	}
}

// A single sample with known rates.
func TestRatesKnownValues(t *testing.T) {
	// Two links, sigma2 = 1: H = [[1, 1], [0, 2]], p = [3, 1].
	// r0 = log2(1 + 3/(1 + 1)) = log2(2.5); r1 = log2(1 + 4/(1 + 0)) = log2(5).
	r := &kernels.Rates{S: 1, N: 2, B: 1, H: []float32{1, 1, 0, 2}, HSeedStride: 4,
		Power: []float32{3, 1}, PowerSeedStride: 2, Sigma2: 1, MeanRate: make([]float64, 2)}
	be := cpu.New()
	be.Rates(r)
	// Generic sums in float64 with math.Log2; the SIMD rates use float32
	// gains and a vectorized log2 (documented bound about 1e-6 relative).
	tol := 1e-12
	if be.Variant() != cpu.Generic {
		tol = 1e-6
	}
	want := []float64{math.Log2(2.5), math.Log2(5)}
	for i, w := range want {
		if math.Abs(r.MeanRate[i]-w) > tol*math.Abs(w) {
			t.Errorf("%s: MeanRate[%d] = %v, want %v", be.Name(), i, r.MeanRate[i], w)
		}
	}
}

func TestPerturb(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	be := &cpu.Backend{} // the zero value is ready to use
	for _, S := range []int{1, 3} {
		for _, N := range []int{1, 4} {
			for _, P := range []int{1, 3, 4, 5, 1141} {
				for _, allExplore := range []bool{true, false} {
					const slots, pad = 3, 2
					slot := rng.IntN(slots)
					p := &kernels.Perturb{S: S, N: N, P: P, AgentStride: slots * P}
					p.SeedStride = N*p.AgentStride + pad
					ring := make([]float32, S*p.SeedStride)
					fillSentinel(ring)
					// The slot being drawn holds stale, non-zero values.
					for s := 0; s < S; s++ {
						for k := 0; k < N; k++ {
							normals(rng, ring[s*p.SeedStride+k*p.AgentStride+slot*P:][:P], 1)
						}
					}
					p.Dst = ring[slot*P:]
					p.Keys = make([]uint64, S)
					for s := range p.Keys {
						p.Keys[s] = rng.Uint64()
					}
					p.Streams = make([]uint64, N)
					for k := range p.Streams {
						p.Streams[k] = rng.Uint64()
					}
					explore := make([]bool, S*N)
					for i := range explore {
						explore[i] = allExplore || rng.IntN(2) == 0
					}
					if !allExplore {
						explore[0], explore[len(explore)-1] = false, true
						p.Explore = explore
					}
					be.Perturb(p)

					name := fmt.Sprintf("S=%d N=%d P=%d explore=%v", S, N, P, p.Explore)
					want := make([]float32, P)
					for s := 0; s < S; s++ {
						for k := 0; k < N; k++ {
							agent := ring[s*p.SeedStride+k*p.AgentStride:][:slots*P]
							for j := 0; j < slots; j++ {
								got := agent[j*P : j*P+P]
								switch {
								case j != slot:
									for i, v := range got {
										if !isSentinel(v) {
											t.Fatalf("%s: seed %d agent %d: slot %d [%d] = %v written, only slot %d may be", name, s, k, j, i, v, slot)
										}
									}
								case explore[s*N+k]:
									philox.FillNormal32(want, p.Keys[s], p.Streams[k], 0)
									if !sameBits(got, want) {
										t.Fatalf("%s: seed %d agent %d: direction differs from philox.FillNormal32", name, s, k)
									}
								default:
									for i, v := range got {
										if math.Float32bits(v) != 0 {
											t.Fatalf("%s: seed %d agent %d does not explore, [%d] = %v, want +0", name, s, k, i, v)
										}
									}
								}
							}
						}
						for i := N * p.AgentStride; i < p.SeedStride; i++ {
							if !isSentinel(ring[s*p.SeedStride+i]) {
								t.Fatalf("%s: padding of seed %d written", name, s)
							}
						}
					}
				}
			}
		}
	}
}

// Each direction depends on its key and stream only: pointwise Normal32.
func TestPerturbPointwise(t *testing.T) {
	const P = 13
	p := &kernels.Perturb{S: 2, N: 2, P: P, Keys: []uint64{1, 2}, Streams: []uint64{10, 20},
		Dst: make([]float32, 4*P), SeedStride: 2 * P, AgentStride: P}
	cpu.New().Perturb(p)
	for s := 0; s < 2; s++ {
		for k := 0; k < 2; k++ {
			for i := 0; i < P; i++ {
				got := p.Dst[s*p.SeedStride+k*p.AgentStride+i]
				if want := philox.Normal32(p.Keys[s], p.Streams[k], uint64(i)); got != want {
					t.Fatalf("seed %d agent %d [%d] = %v, philox.Normal32 = %v", s, k, i, got, want)
				}
			}
		}
	}
}

// newParams lays out the parameter vectors of S seeds x N agents (one shared
// vector per seed if l.shared) with l.pad sentinel values after every seed,
// fills each vector with fill, and returns the slice and its strides.
func newParams(S, N, P int, l layout, fill func([]float32)) (theta []float32, seedStride, agentStride int) {
	seedStride, agentStride = N*P+l.pad, P
	if l.shared {
		seedStride, agentStride = P+l.pad, 0
	}
	theta = make([]float32, S*seedStride+l.pad)
	fillSentinel(theta)
	for s := 0; s < S; s++ {
		for k := 0; k < N; k++ {
			fill(theta[s*seedStride+k*agentStride:][:P])
		}
	}
	return theta, seedStride, agentStride
}

// newUpdate builds an Update problem with random parameters, ring and
// coefficients (about half of them zero); padding holds the sentinel.
func newUpdate(rng *rand.Rand, S, N, P, slots int, l layout) *kernels.Update {
	u := &kernels.Update{S: S, N: N, P: P, Slots: slots}
	u.Theta, u.ThetaSeedStride, u.ThetaAgentStride = newParams(S, N, P, l, func(v []float32) { normals(rng, v, 0.3) })
	u.RingAgentStride = slots*P + l.pad
	u.RingSeedStride = N*u.RingAgentStride + l.pad
	u.Ring = make([]float32, S*u.RingSeedStride)
	fillSentinel(u.Ring)
	for s := 0; s < S; s++ {
		for k := 0; k < N; k++ {
			normals(rng, u.Ring[s*u.RingSeedStride+k*u.RingAgentStride:][:slots*P], 1)
		}
	}
	u.Coef = make([]float32, S*N*slots)
	for i := range u.Coef {
		if rng.IntN(2) == 0 {
			u.Coef[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	return u
}

// refUpdate returns theta after the update in float64 and, per entry, the
// magnitude scale |theta| + sum |c u| of the terms added, indexed like Theta.
func refUpdate(u *kernels.Update) (want, scale []float64) {
	want = make([]float64, len(u.Theta))
	scale = make([]float64, len(u.Theta))
	for i, v := range u.Theta {
		want[i] = float64(v)
		scale[i] = math.Abs(float64(v))
	}
	for s := 0; s < u.S; s++ {
		for k := 0; k < u.N; k++ {
			base := s*u.ThetaSeedStride + k*u.ThetaAgentStride
			for j := 0; j < u.Slots; j++ {
				c := float64(u.Coef[(s*u.N+k)*u.Slots+j])
				if c == 0 {
					continue
				}
				ring := u.Ring[s*u.RingSeedStride+k*u.RingAgentStride+j*u.P:][:u.P]
				for i, r := range ring {
					want[base+i] += c * float64(r)
					scale[base+i] += math.Abs(c * float64(r))
				}
			}
		}
	}
	return want, scale
}

func TestUpdateMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	be := cpu.New()
	for _, S := range []int{1, 3} {
		for _, N := range []int{1, 4} {
			for _, P := range []int{1, 7, 1141} {
				for _, slots := range []int{1, 5} {
					for _, l := range []layout{{pad: 0}, {pad: 3}, {shared: true, pad: 2}} {
						u := newUpdate(rng, S, N, P, slots, l)
						ring := append([]float32(nil), u.Ring...)
						want, scale := refUpdate(u)
						be.Update(u)
						name := fmt.Sprintf("S=%d N=%d P=%d slots=%d %v", S, N, P, slots, l)
						if !sameBits(ring, u.Ring) {
							t.Errorf("%s: Update modified the ring", name)
						}
						for i, w := range want {
							got := u.Theta[i]
							if math.IsNaN(w) {
								if !isSentinel(got) {
									t.Errorf("%s: Theta[%d] = %v is padding, want untouched", name, i, got)
									break
								}
								continue
							}
							if d := math.Abs(float64(got) - w); !(d <= 1e-5*scale[i]) {
								t.Errorf("%s: Theta[%d] = %v, float64 reference %v", name, i, got, w)
								break
							}
						}
					}
				}
			}
		}
	}
}

// Zero coefficients leave theta bit-identical, even where the ring slots
// they would weight hold NaN (they are skipped, not multiplied by zero).
func TestUpdateZeroCoefficients(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	be := cpu.New()
	for _, l := range []layout{{pad: 1}, {shared: true}} {
		const S, N, P, slots = 2, 3, 17, 4
		u := newUpdate(rng, S, N, P, slots, l)
		idle := make([]bool, S*N) // agents with no coefficient at all
		for sk := range idle {
			idle[sk] = !l.shared && sk%2 == 0
			for j := 0; j < slots; j++ {
				c := &u.Coef[sk*slots+j]
				if idle[sk] || l.shared || j%2 == 1 {
					*c = 0
				} else if *c == 0 {
					*c = 0.25
				}
				if *c == 0 {
					s, k := sk/N, sk%N
					fillSentinel(u.Ring[s*u.RingSeedStride+k*u.RingAgentStride+j*P:][:P])
				}
			}
		}
		before := append([]float32(nil), u.Theta...)
		want, scale := refUpdate(u)
		be.Update(u)
		for s := 0; s < S; s++ {
			for k := 0; k < N; k++ {
				off := s*u.ThetaSeedStride + k*u.ThetaAgentStride
				got, old := u.Theta[off:off+P], before[off:off+P]
				if l.shared || idle[s*N+k] {
					if !sameBits(got, old) {
						t.Errorf("%v: seed %d agent %d has only zero coefficients but theta changed", l, s, k)
					}
					continue
				}
				for i := range got {
					if d := math.Abs(float64(got[i]) - want[off+i]); !(d <= 1e-5*scale[off+i]) {
						t.Errorf("%v: seed %d agent %d: theta[%d] = %v, reference %v", l, s, k, i, got[i], want[off+i])
						break
					}
				}
			}
		}
	}
}

// Seeds are independent: seed 2 of a batch of 4 gives bit-identical results
// to seed 2 run alone.
func TestSeedIndependence(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	be := cpu.New()
	const S, seed = 4, 2
	net := kernels.MLP{In: 5, Hidden: []int{30, 30}}
	for _, l := range []layout{{perturb: true, slots: 3, slot: 2, pad: 5}, {shared: true, pad: 1}} {
		for _, B := range []int{3, 10} {
			const N = 6
			f := newForward(rng, net, S, N, B, l)
			be.Forward(f)
			one := *f
			one.S = 1
			one.Theta = f.Theta[seed*f.ThetaSeedStride:]
			if f.U != nil {
				one.U = f.U[seed*f.USeedStride:]
			}
			one.Obs = f.Obs[seed*f.ObsSeedStride:]
			one.Power = make([]float32, f.PowerSeedStride)
			be.Forward(&one)
			if !sameBits(one.Power[:B*N], f.Power[seed*f.PowerSeedStride:][:B*N]) {
				t.Errorf("Forward %v B=%d: seed %d alone differs from seed %d in a batch of %d", l, B, seed, seed, S)
			}

			r := newRates(rng, S, N, B, l.pad)
			r.Power = f.Power // the powers just computed, same strides
			r.PowerSeedStride = f.PowerSeedStride
			be.Rates(r)
			ro := *r
			ro.S = 1
			ro.H = r.H[seed*r.HSeedStride:]
			ro.Power = r.Power[seed*r.PowerSeedStride:]
			ro.MeanRate = make([]float64, N)
			be.Rates(&ro)
			for i, v := range ro.MeanRate {
				if w := r.MeanRate[seed*N+i]; math.Float64bits(v) != math.Float64bits(w) {
					t.Errorf("Rates B=%d: link %d of seed %d alone %v, in a batch %v", B, i, seed, v, w)
				}
			}
		}
	}

	// Update and Perturb.
	const N, P, slots = 3, 29, 4
	u := newUpdate(rng, S, N, P, slots, layout{pad: 2})
	theta0 := append([]float32(nil), u.Theta...)
	be.Update(u)
	uo := *u
	uo.S = 1
	uo.Theta = append([]float32(nil), theta0[seed*u.ThetaSeedStride:]...)
	uo.Ring = u.Ring[seed*u.RingSeedStride:]
	uo.Coef = u.Coef[seed*N*slots:]
	be.Update(&uo)
	if !sameBits(uo.Theta[:N*P], u.Theta[seed*u.ThetaSeedStride:][:N*P]) {
		t.Errorf("Update: seed %d alone differs from seed %d in a batch", seed, seed)
	}

	p := &kernels.Perturb{S: S, N: N, P: P, Keys: []uint64{5, 6, 7, 8}, Streams: []uint64{1, 2, 3},
		Explore: []bool{true, false, true, false, true, true, true, false, false, true, true, true},
		Dst:     make([]float32, S*N*P), SeedStride: N * P, AgentStride: P}
	be.Perturb(p)
	po := *p
	po.S = 1
	po.Keys = p.Keys[seed:]
	po.Explore = p.Explore[seed*N:]
	po.Dst = make([]float32, N*P)
	be.Perturb(&po)
	if !sameBits(po.Dst, p.Dst[seed*N*P:][:N*P]) {
		t.Errorf("Perturb: seed %d alone differs from seed %d in a batch", seed, seed)
	}
}

// One backend used by several goroutines on disjoint outputs gives the
// results of a sequential run.
func TestConcurrentUse(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	const S = 8
	net := kernels.MLP{In: 5, Hidden: []int{30, 30}}
	f := newForward(rng, net, S, 4, 5, layout{perturb: true, slots: 2, slot: 1, pad: 1})
	want := refForward(f)
	be := cpu.New()
	var wg sync.WaitGroup
	for s := 0; s < S; s++ {
		wg.Go(func() {
			for range 20 {
				one := *f
				one.S = 1
				one.Theta = f.Theta[s*f.ThetaSeedStride:]
				one.U = f.U[s*f.USeedStride:]
				one.Obs = f.Obs[s*f.ObsSeedStride:]
				one.Power = f.Power[s*f.PowerSeedStride:]
				be.Forward(&one)
			}
		})
	}
	wg.Wait()
	if err := checkPowers(f, want, 1e-4); err != nil {
		t.Error(err)
	}
}

func TestName(t *testing.T) {
	if name := cpu.New().Name(); !strings.HasPrefix(name, "cpu/") {
		t.Errorf("Name() = %q, want a cpu/ prefix", name)
	}
}

// paper builds the four operations at the shape of the paper000 preset: N
// agents with 5-30-30-1 MLPs, B samples, a ring of slots perturbations, and
// about 15 nonzero update coefficients per agent.
type paper struct {
	fwd   *kernels.Forward
	rates *kernels.Rates
	pert  *kernels.Perturb
	upd   *kernels.Update
}

func newPaper(S, N, B, slots int) paper {
	rng := rand.New(rand.NewPCG(17, 18))
	net := kernels.MLP{In: 5, Hidden: []int{30, 30}}
	P := net.NumParams()
	// slot 0: f.U is the whole ring [S][N][slots][P].
	f := newForward(rng, net, S, N, B, layout{perturb: true, slots: slots})
	r := newRates(rng, S, N, B, 0)
	r.Power, r.PowerSeedStride = f.Power, f.PowerSeedStride
	u := &kernels.Update{S: S, N: N, P: P, Slots: slots,
		Theta: f.Theta, ThetaSeedStride: f.ThetaSeedStride, ThetaAgentStride: f.ThetaAgentStride,
		Ring: f.U, RingSeedStride: f.USeedStride, RingAgentStride: f.UAgentStride,
		Coef: make([]float32, S*N*slots)}
	for sk := 0; sk < S*N; sk++ {
		for _, j := range rng.Perm(slots)[:min(15, slots)] {
			u.Coef[sk*slots+j] = float32(1e-3 * rng.NormFloat64())
		}
	}
	p := &kernels.Perturb{S: S, N: N, P: P, Keys: make([]uint64, S), Streams: make([]uint64, N),
		Dst: f.U[(slots-1)*P:], SeedStride: f.USeedStride, AgentStride: f.UAgentStride}
	for s := range p.Keys {
		p.Keys[s] = rng.Uint64()
	}
	for k := range p.Streams {
		p.Streams[k] = rng.Uint64()
	}
	return paper{f, r, p, u}
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers at random")
	}
	pp := newPaper(4, 24, 10, 40)
	be := cpu.New()
	ops := []struct {
		name string
		run  func()
	}{
		{"Forward", func() { be.Forward(pp.fwd) }},
		{"Rates", func() { be.Rates(pp.rates) }},
		{"Perturb", func() { be.Perturb(pp.pert) }},
		{"Update", func() { be.Update(pp.upd) }},
	}
	for _, op := range ops {
		op.run() // warm-up
		if n := testing.AllocsPerRun(20, op.run); n != 0 {
			t.Errorf("%s: %v allocations per call after warm-up, want 0", op.name, n)
		}
	}
}

// paper000: 64 seeds, 24 agents, 5-30-30-1 MLPs, B = 10, ring of 40 (only
// Update reads more than one slot).
const benchS, benchN, benchB, benchSlots = 64, 24, 10, 40

func BenchmarkForward(b *testing.B) {
	pp := newPaper(benchS, benchN, benchB, 1)
	pp.fwd.Mu = 2
	be := cpu.New()
	net := pp.fwd.Net
	flopsPerSample := 0 // 2 flops per multiply-add, all layers
	in := net.In
	for _, h := range net.Hidden {
		flopsPerSample += 2 * in * h
		in = h
	}
	flopsPerSample += 2 * in
	samples := benchS * benchN * benchB
	for b.Loop() {
		be.Forward(pp.fwd)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(flopsPerSample)*float64(samples)*float64(b.N)/sec/1e9, "GFLOP/s")
	b.ReportMetric(sec*1e9/(float64(b.N)*float64(samples)), "ns/sample")
}

func BenchmarkRates(b *testing.B) {
	pp := newPaper(benchS, benchN, benchB, 1)
	be := cpu.New()
	be.Forward(pp.fwd)
	for b.Loop() {
		be.Rates(pp.rates)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*benchS*benchN*benchB), "ns/link-sample")
}

func BenchmarkPerturb(b *testing.B) {
	pp := newPaper(benchS, benchN, benchB, 1)
	be := cpu.New()
	for b.Loop() {
		be.Perturb(pp.pert)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*benchS*benchN*pp.pert.P), "ns/normal")
}

func BenchmarkUpdate(b *testing.B) {
	pp := newPaper(benchS, benchN, benchB, benchSlots)
	nonzero := 0
	for _, c := range pp.upd.Coef {
		if c != 0 {
			nonzero++
		}
	}
	be := cpu.New()
	for b.Loop() {
		be.Update(pp.upd)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*nonzero), "ns/axpy")
}
