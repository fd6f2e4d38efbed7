package zo

import (
	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels"
)

// evalSet is the held-out channel set of a batch of seeds: M samples of a
// fading process independent of the training one (stream tagEvalFading, same
// geometry), after a burn-in of K samples so that every observation tap is
// filled. The same set serves every evaluation, so successive evaluations
// differ only by the policies.
type evalSet struct {
	M     int
	h     []float32 // [S][M][N][N]
	x     []float32 // [S][M][N][K]
	power []float32 // [S][M][N]
	rate  []float64 // [S][N]
	fwd   kernels.Forward
	rates kernels.Rates
}

func newEvalSet(cfg *Config, keys []uint64, be kernels.Backend) (*evalSet, error) {
	S, M, N, K := len(keys), cfg.EvalSamples, cfg.N, cfg.K
	ev := &evalSet{M: M, h: make([]float32, S*M*N*N), x: make([]float32, S*M*N*K), power: make([]float32, S*M*N), rate: make([]float64, S*N)}
	burnH, burnX := make([]float32, N*N), make([]float32, N*K)
	for s, key := range keys {
		proc, err := newProcess(cfg, key, tagEvalFading, be)
		if err != nil {
			return nil, err
		}
		obs := channel.NewObserver(N, K)
		for b := 0; b < K; b++ {
			proc.Next(burnH)
			obs.Observe(burnH, burnX)
		}
		for b := 0; b < M; b++ {
			h := ev.h[(s*M+b)*N*N:][:N*N]
			proc.Next(h)
			obs.Observe(h, ev.x[(s*M+b)*N*K:][:N*K])
		}
	}
	return ev, nil
}

// prepare sets up the held-out forward pass and rates of a group.
func (ev *evalSet) prepare(g *group) {
	S, N, K, M, A, P := g.S, g.N, g.K, ev.M, g.agents, g.P
	ev.fwd = kernels.Forward{
		Net: g.net, S: S, N: N, B: M,
		Theta: g.theta, ThetaSeedStride: A * P, ThetaAgentStride: P,
		Obs: ev.x, ObsSeedStride: M * N * K, Pmax: float32(g.cfg.Pmax),
		Power: ev.power, PowerSeedStride: M * N,
	}
	if A == 1 {
		ev.fwd.ThetaAgentStride = 0
	}
	ev.fwd.Scratch = make([]float32, g.be.ForwardScratchLen(&ev.fwd))
	ev.rates = kernels.Rates{S: S, N: N, B: M, H: ev.h, HSeedStride: M * N * N, Power: ev.power, PowerSeedStride: M * N, Sigma2: g.cfg.Sigma2, MeanRate: ev.rate}
}

// evaluate records the held-out sum-rate of the current (unperturbed)
// policies of every seed.
func (g *group) evaluate(iter int, traces []SeedTrace) {
	ev, N := g.eval, g.N
	if g.firstOrder != nil {
		g.firstOrder.export(g)
	}
	g.be.Forward(&ev.fwd)
	g.be.Rates(&ev.rates)
	for s := range traces {
		sum := 0.0
		for _, r := range ev.rate[s*N : s*N+N] {
			sum += r
		}
		traces[s].Eval = append(traces[s].Eval, EvalPoint{Iter: iter, SumRate: sum})
	}
}
