package backprop

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cpu"
)

// TestKernelsMatchGraph checks the hot path against the graph, which is
// its executable reference: on random policies, perturbations and
// channels, every CPU kernel variant's perturbed forward pass
// (kernels.Forward with theta + mu u) and batch-mean rates (kernels.Rates)
// agree with the graph evaluated at theta + mu u, to float32 tolerance,
// per agent and with one policy shared by a seed's agents.
func TestKernelsMatchGraph(t *testing.T) {
	for _, be := range cpu.All() {
		t.Run(be.Name(), func(t *testing.T) {
			for _, tc := range shapes {
				t.Run(tc.name, func(t *testing.T) {
					checkKernels(t, be, tc.sh)
				})
			}
		})
	}
}

func checkKernels(t *testing.T, be kernels.Backend, sh Shape) {
	const mu = 0.5
	S, N, B, K, A := sh.S, sh.N, sh.B, sh.Arch.In, sh.Sets()
	P := sh.Arch.NumParams()
	bt := randomBatch(t, sh, 13)
	rng := rand.New(rand.NewPCG(17, 19))
	theta := make([]float32, A*P)
	u := make([]float32, A*P)
	for a := range A {
		for i := range P {
			theta[a*P+i] = float32(bt.theta[a][i])
			u[a*P+i] = float32(rng.NormFloat64())
		}
	}
	// The kernels' layouts: observations and channels [S][B][N][...].
	obs := make([]float32, S*B*N*K)
	h := make([]float32, S*B*N*N)
	for s := range S {
		for b := range B {
			copy(obs[(s*B+b)*N*K:], bt.x[s*B+b])
			copy(h[(s*B+b)*N*N:], bt.h[s*B+b])
		}
	}
	agentStride := P
	if sh.Shared {
		agentStride = 0
	}
	f := &kernels.Forward{
		Net: kernels.MLP{In: K, Hidden: sh.Arch.Hidden}, S: S, N: N, B: B,
		Theta: theta, ThetaSeedStride: (A / S) * P, ThetaAgentStride: agentStride,
		U: u, USeedStride: (A / S) * P, UAgentStride: agentStride, Mu: mu,
		Obs: obs, ObsSeedStride: B * N * K,
		Pmax: float32(sh.Pmax), Power: make([]float32, S*B*N), PowerSeedStride: B * N,
	}
	be.Forward(f)
	mean := make([]float64, S*N)
	be.Rates(&kernels.Rates{S: S, N: N, B: B, H: h, HSeedStride: B * N * N, Power: f.Power, PowerSeedStride: B * N, Sigma2: sh.Sigma2, MeanRate: mean})

	n, err := New(sh, false)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	bt.load(n)
	// The graph at theta + mu u, formed in float32 as the kernels do.
	pert := make([]float32, P)
	for a := range A {
		for i := range P {
			pert[i] = theta[a*P+i] + mu*u[a*P+i]
		}
		n.SetParams(a, pert)
	}
	if err := n.Run(); err != nil {
		t.Fatal(err)
	}
	powers, rates := n.Powers(), n.LinkRates()
	worstP, worstR := 0.0, 0.0
	for s := range S {
		for i := range N {
			for b := range B {
				got, want := float64(f.Power[(s*B+b)*N+i]), powers[(s*N+i)*B+b]
				worstP = math.Max(worstP, math.Abs(got-want)/sh.Pmax)
			}
			got, want := mean[s*N+i], rates[s*N+i]
			worstR = math.Max(worstR, math.Abs(got-want)/math.Max(1, math.Abs(want)))
		}
	}
	t.Logf("worst power error %.2g of Pmax, worst rate error %.2g", worstP, worstR)
	if worstP > 1e-5 || worstR > 1e-5 {
		t.Errorf("kernels vs graph: worst power error %.2g of Pmax, worst rate error %.2g, want both <= 1e-5", worstP, worstR)
	}
	// The check must see more than saturated powers.
	inside := 0
	for _, p := range powers {
		if p > 0.01*sh.Pmax && p < 0.99*sh.Pmax {
			inside++
		}
	}
	if inside < len(powers)/4 {
		t.Fatalf("only %d of %d powers away from 0 and Pmax: the comparison says little", inside, len(powers))
	}
}
