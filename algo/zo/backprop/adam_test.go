package backprop

import (
	"math"
	"testing"

	"github.com/batchrun/batchrun/policy"
)

// TestAdamStepsMatchHand checks two Adam steps against the update written
// out by hand from the gradients the net reports, with bias correction at
// k = 1 and k = 2 and the moments carried between them.
func TestAdamStepsMatchHand(t *testing.T) {
	for _, tc := range shapes[:3] {
		t.Run(tc.name, func(t *testing.T) {
			sh := tc.sh
			const lr = 0.1
			n, bt := loadedNet(t, sh, 5, true)
			tr := trainer(t, n, lr)
			A, P := sh.Sets(), sh.Arch.NumParams()
			theta := make([][]float64, A)
			m := make([][]float64, A)
			v := make([][]float64, A)
			for a := range A {
				theta[a] = append([]float64(nil), bt.theta[a]...)
				m[a], v[a] = make([]float64, P), make([]float64, P)
			}
			got := make([]float64, P)
			moved := 0
			for k := 1; k <= 2; k++ {
				if err := n.Run(); err != nil {
					t.Fatal(err)
				}
				grads := make([][]float64, A)
				for a := range A {
					grads[a] = make([]float64, P)
					if err := n.Grad(a, grads[a]); err != nil {
						t.Fatal(err)
					}
				}
				if err := tr.Update(); err != nil {
					t.Fatal(err)
				}
				for a := range A {
					grad := grads[a]
					n.Params(a, got)
					for i, g := range grad {
						m[a][i] = 0.9*m[a][i] + 0.1*g
						v[a][i] = 0.999*v[a][i] + 0.001*g*g
						mhat := m[a][i] / (1 - math.Pow(0.9, float64(k)))
						vhat := v[a][i] / (1 - math.Pow(0.999, float64(k)))
						theta[a][i] -= lr * mhat / (math.Sqrt(vhat) + 1e-8)
						if d := math.Abs(got[i] - theta[a][i]); d > 1e-12 {
							t.Fatalf("step %d set %d parameter %d: %.15g, want %.15g", k, a, i, got[i], theta[a][i])
						}
						if g != 0 && math.Abs(got[i]-bt.theta[a][i]) > 0.05 {
							moved++
						}
					}
				}
			}
			// Adam's first step moves every parameter with a nonzero
			// gradient by lr: the check above compared real moves.
			if moved == 0 {
				t.Fatal("no parameter moved")
			}
		})
	}
}

// TestAdamAscends checks that a few Adam steps on a fixed batch raise every
// seed's sum-rate: the sign of the step is right (gradient ascent of the
// sum-rate).
func TestAdamAscends(t *testing.T) {
	sh := Shape{Arch: policy.Arch{In: 5, Hidden: []int{30, 30}}, S: 3, N: 6, B: 10, Pmax: 10, Sigma2: 1}
	n, _ := loadedNet(t, sh, 9, true)
	tr := trainer(t, n, 0.01)
	if err := tr.Step(); err != nil {
		t.Fatal(err)
	}
	first := append([]float64(nil), n.SumRates()...)
	for range 20 {
		if err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	for s, r := range n.SumRates() {
		if !(r > first[s]) {
			t.Errorf("seed %d: sum-rate %.6g after 21 steps, %.6g before", s, r, first[s])
		}
	}
}

func TestNewTrainerRejects(t *testing.T) {
	sh := shapes[0].sh
	n, err := New(sh, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewTrainer(n, 0.1); err == nil {
		t.Error("a net without gradients: no error")
	}
	g, err := New(sh, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, lr := range []float64{0, -1, math.NaN()} {
		if _, err := NewTrainer(g, lr); err == nil {
			t.Errorf("lr %v: no error", lr)
		}
	}
}

func BenchmarkTrainerStep(b *testing.B) {
	for _, tc := range []struct {
		name   string
		S      int
		shared bool
	}{{"per-agent/S=1", 1, false}, {"per-agent/S=8", 8, false}, {"shared/S=1", 1, true}, {"shared/S=8", 8, true}} {
		b.Run(tc.name, func(b *testing.B) {
			sh := Shape{Arch: policy.Arch{In: 5, Hidden: []int{30, 30}}, S: tc.S, N: 24, B: 10, Shared: tc.shared, Pmax: 10, Sigma2: 1}
			n, _ := loadedNet(b, sh, 1, true)
			tr := trainer(b, n, 0.1)
			for b.Loop() {
				if err := tr.Step(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(tc.S)/1e3, "us/seed-step")
		})
	}
}
