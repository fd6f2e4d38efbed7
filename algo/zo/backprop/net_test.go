package backprop

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/policy"
)

// batch is a random batch: parameters (flat, per set), channel amplitudes
// and observations, in float64 and as the float32 inputs of SetSample.
type batch struct {
	sh     Shape
	theta  [][]float64 // [A][P]
	h, x   [][]float32 // [S*B][N*N], [S*B][N*K]
	h64    [][]float64
	thresh float64
}

func randomBatch(t testing.TB, sh Shape, seed uint64) *batch {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	P := sh.Arch.NumParams()
	bt := &batch{sh: sh}
	for range sh.Sets() {
		// Normal with standard deviation 1/sqrt(fan_in): activations of
		// order one, powers mostly away from 0 and Pmax.
		th := make([]float64, P)
		for _, ly := range sh.Arch.Layers() {
			sd := 1 / math.Sqrt(float64(ly.In))
			for i := ly.W; i < ly.B+ly.Out; i++ {
				th[i] = rng.NormFloat64() * sd
			}
		}
		bt.theta = append(bt.theta, th)
	}
	N, K := sh.N, sh.Arch.In
	for range sh.S * sh.B {
		h := make([]float32, N*N)
		h64 := make([]float64, N*N)
		for i := range h {
			a := float32(rng.ExpFloat64())
			if rng.IntN(8) == 0 {
				a = 0 // thresholded entries occur in real channels
			}
			h[i], h64[i] = a, float64(a)
		}
		x := make([]float32, N*K)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 2)
		}
		bt.h, bt.h64, bt.x = append(bt.h, h), append(bt.h64, h64), append(bt.x, x)
	}
	return bt
}

// loadedNet builds a net of shape sh (with gradients if grads) holding a
// random batch drawn with seed; the net is closed when the test ends.
func loadedNet(t testing.TB, sh Shape, seed uint64, grads bool) (*Net, *batch) {
	t.Helper()
	n, err := New(sh, grads)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	bt := randomBatch(t, sh, seed)
	bt.load(n)
	return n, bt
}

// trainer returns an Adam trainer of n with learning rate lr.
func trainer(t testing.TB, n *Net, lr float64) *Trainer {
	t.Helper()
	tr, err := NewTrainer(n, lr)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// load puts the batch into n.
func (bt *batch) load(n *Net) {
	for a, th := range bt.theta {
		n.SetParams64(a, th)
	}
	for s := range bt.sh.S {
		for b := range bt.sh.B {
			n.SetSample(s, b, bt.h[s*bt.sh.B+b], bt.x[s*bt.sh.B+b])
		}
	}
}

// sumRates is the float64 reference of Net.SumRates: policy.Forward64 for
// every agent and sample, channel.SumRate for every sample.
func (bt *batch) sumRates() []float64 {
	sh := bt.sh
	N, K := sh.N, sh.Arch.In
	out := make([]float64, sh.S)
	p := make([]float64, N)
	x := make([]float64, K)
	for s := range sh.S {
		for b := range sh.B {
			obs := bt.x[s*sh.B+b]
			for i := range N {
				a := s*N + i
				if sh.Shared {
					a = s
				}
				for k := range K {
					x[k] = float64(obs[i*K+k])
				}
				p[i] = policy.Forward64(sh.Arch, bt.theta[a], x, sh.Pmax)
			}
			out[s] += channel.SumRate(bt.h64[s*sh.B+b], p, sh.Sigma2) / float64(sh.B)
		}
	}
	return out
}

var shapes = []struct {
	name string
	sh   Shape
}{
	{"per-agent", Shape{Arch: policy.Arch{In: 3, Hidden: []int{4, 5}}, S: 2, N: 3, B: 4, Pmax: 10, Sigma2: 1}},
	{"shared", Shape{Arch: policy.Arch{In: 3, Hidden: []int{4, 5}}, S: 2, N: 3, B: 4, Shared: true, Pmax: 10, Sigma2: 1}},
	{"one-hidden", Shape{Arch: policy.Arch{In: 5, Hidden: []int{7}}, S: 1, N: 4, B: 2, Pmax: 3, Sigma2: 0.5}},
	{"paper", Shape{Arch: policy.Arch{In: 5, Hidden: []int{30, 30}}, S: 2, N: 6, B: 10, Pmax: 10, Sigma2: 1}},
	{"paper-shared", Shape{Arch: policy.Arch{In: 5, Hidden: []int{30, 30}}, S: 2, N: 6, B: 10, Shared: true, Pmax: 10, Sigma2: 1}},
}

// TestSumRatesMatchReference checks the graph's forward values against the
// plain float64 forward pass and rate formula. The tolerance is gorgonia's:
// its float64 sigmoid is exactly 1 above z = 19, where the true value is
// 1 - 5.6e-9 at worst.
func TestSumRatesMatchReference(t *testing.T) {
	for _, tc := range shapes {
		t.Run(tc.name, func(t *testing.T) {
			for _, grads := range []bool{false, true} {
				n, err := New(tc.sh, grads)
				if err != nil {
					t.Fatal(err)
				}
				bt := randomBatch(t, tc.sh, 7)
				bt.load(n)
				if err := n.Run(); err != nil {
					t.Fatal(err)
				}
				want := bt.sumRates()
				got := n.SumRates()
				for s := range want {
					if d := math.Abs(got[s] - want[s]); d > 1e-8*math.Max(1, math.Abs(want[s])) {
						t.Errorf("grads=%v seed %d: sum-rate %.15g, want %.15g", grads, s, got[s], want[s])
					}
				}
				n.Close()
			}
		})
	}
}

// TestGradientMatchesFiniteDifference checks the symbolic gradient of the
// loss against a central finite difference of the reference sum-rate, in
// float64, parameter by parameter for a random selection.
func TestGradientMatchesFiniteDifference(t *testing.T) {
	for _, tc := range shapes {
		t.Run(tc.name, func(t *testing.T) {
			sh := tc.sh
			n, bt := loadedNet(t, sh, 11, true)
			if err := n.Run(); err != nil {
				t.Fatal(err)
			}
			P := sh.Arch.NumParams()
			grad := make([]float64, P)
			rng := rand.New(rand.NewPCG(3, 4))
			checked, large, worst := 0, 0, 0.0
			for a := range sh.Sets() {
				if err := n.Grad(a, grad); err != nil {
					t.Fatal(err)
				}
				for _, i := range rng.Perm(P)[:min(P, 40)] {
					fd := bt.finiteDifference(a, i)
					if math.Abs(fd) > 1e-3 {
						large++
					}
					// loss = -sum_s R_s
					g := -grad[i]
					scale := math.Max(math.Abs(fd), 1e-3)
					rel := math.Abs(g-fd) / scale
					worst = math.Max(worst, rel)
					if rel > 1e-4 {
						t.Errorf("set %d parameter %d: gradient %.10g, finite difference %.10g (rel err %.2g)", a, i, g, fd, rel)
					}
					checked++
				}
			}
			t.Logf("%d partial derivatives (%d above 1e-3), worst relative error %.2g", checked, large, worst)
			if large < checked/3 {
				t.Errorf("only %d of %d partial derivatives above 1e-3: the comparison says little", large, checked)
			}
		})
	}
}

// finiteDifference returns the central difference of sum_s R_s in
// parameter i of set a, step 1e-6 relative.
func (bt *batch) finiteDifference(a, i int) float64 {
	th := bt.theta[a]
	old := th[i]
	eps := 1e-6 * math.Max(1, math.Abs(old))
	th[i] = old + eps
	up := sum(bt.sumRates())
	th[i] = old - eps
	down := sum(bt.sumRates())
	th[i] = old
	return (up - down) / (2 * eps)
}

func sum(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

func TestShapeValidate(t *testing.T) {
	good := shapes[0].sh
	for _, tc := range []struct {
		name string
		edit func(*Shape)
		want string
	}{
		{"no hidden layer", func(s *Shape) { s.Arch.Hidden = nil }, "Hidden"},
		{"zero width", func(s *Shape) { s.Arch.Hidden = []int{3, 0} }, "Hidden[1]"},
		{"no seeds", func(s *Shape) { s.S = 0 }, "S = 0"},
		{"no agents", func(s *Shape) { s.N = 0 }, "N = 0"},
		{"no samples", func(s *Shape) { s.B = -1 }, "B = -1"},
		{"Pmax", func(s *Shape) { s.Pmax = 0 }, "Pmax"},
		{"Sigma2", func(s *Shape) { s.Sigma2 = math.Inf(1) }, "Sigma2"},
	} {
		sh := good
		sh.Arch.Hidden = append([]int(nil), good.Arch.Hidden...)
		tc.edit(&sh)
		_, err := New(sh, true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}

// Every Run computes the gradient afresh: running twice gives the gradient
// of one run, not twice it.
func TestRunDoesNotAccumulate(t *testing.T) {
	sh := shapes[0].sh
	n, _ := loadedNet(t, sh, 2, true)
	P := sh.Arch.NumParams()
	once, twice := make([]float64, P), make([]float64, P)
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	if err := n.Grad(1, once); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := n.Run(); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Grad(1, twice); err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for i := range once {
		if once[i] != twice[i] {
			t.Fatalf("parameter %d: gradient %g after one run, %g after two more", i, once[i], twice[i])
		}
		if once[i] != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("the gradient is zero")
	}
}
