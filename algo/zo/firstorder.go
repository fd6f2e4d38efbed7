package zo

import (
	"fmt"
	"math"

	"github.com/batchrun/batchrun/algo/zo/backprop"
	"github.com/batchrun/batchrun/policy"
)

// firstOrder runs the first-order references (spec section 5) for a group:
// the policies of every seed live in one gorgonia graph (package backprop),
// as one MLP per agent (first-order) or one per seed (central-first-order),
// all trained jointly by Adam on the gradient of the batch-mean sum-rate.
//
// They see the channels of every other mode: 2B samples are drawn per
// iteration, and the first B (the base samples, on which every mode logs
// its sum-rate) are the batch that is logged and differentiated. The
// other B continue the fading process and the observation state, as in the
// zeroth-order modes, and are not used: so the logged batches of all modes
// of a seed are the same samples and their comparisons stay paired. The
// logged sum-rate of iteration t is that of the policies before the
// iteration's Adam step, as in the zeroth-order modes. The graph computes
// in float64 from the float32 channel samples; the held-out evaluations run
// the float32 kernels on the policies rounded to float32.
type firstOrder struct {
	net     *backprop.Net
	trainer *backprop.Trainer
	flat    []float64 // one parameter vector
}

func newFirstOrder(g *group) (*firstOrder, error) {
	cfg := g.cfg
	net, err := backprop.New(backprop.Shape{
		Arch: policy.Arch{In: g.K, Hidden: cfg.Hidden},
		S:    g.S, N: g.N, B: g.B,
		Shared: g.mode == ModeCentralFirst,
		Pmax:   cfg.Pmax, Sigma2: cfg.Sigma2,
	}, true)
	if err != nil {
		return nil, err
	}
	tr, err := backprop.NewTrainer(net, cfg.LR)
	if err != nil {
		return nil, err
	}
	P := g.P
	for a := 0; a < g.S*g.agents; a++ {
		net.SetParams(a, g.theta[a*P:][:P])
	}
	return &firstOrder{net: net, trainer: tr, flat: make([]float64, P)}, nil
}

// step is iteration t of a first-order mode, after the group has drawn the
// iteration's channel samples.
func (fo *firstOrder) step(g *group, t int, traces []SeedTrace) error {
	N, B, K, B2 := g.N, g.B, g.K, 2*g.B
	for s := 0; s < g.S; s++ {
		for b := 0; b < B; b++ {
			fo.net.SetSample(s, b, g.h[(s*B2+b)*N*N:][:N*N], g.x[(s*B2+b)*N*K:][:N*K])
		}
	}
	if err := fo.net.Run(); err != nil {
		return fmt.Errorf("zo: mode %s, iteration %d: %w", g.mode, t+1, err)
	}
	for s, sum := range fo.net.SumRates() {
		if math.IsNaN(sum) || math.IsInf(sum, 0) {
			return fmt.Errorf("zo: mode %s, seed %d, iteration %d: the sum-rate is %v; the policies diverged (lr = %g too large?)",
				g.mode, g.seeds[s], t+1, sum, g.cfg.LR)
		}
		traces[s].SumRate[t] = sum
	}
	if err := fo.trainer.Update(); err != nil {
		return fmt.Errorf("zo: mode %s, iteration %d: %w", g.mode, t+1, err)
	}
	return nil
}

// export rounds the current policies into the group's float32 theta, for
// the held-out evaluation.
func (fo *firstOrder) export(g *group) {
	P := g.P
	for a := 0; a < g.S*g.agents; a++ {
		fo.net.Params(a, fo.flat)
		dst := g.theta[a*P:][:P]
		for i, v := range fo.flat {
			dst[i] = float32(v)
		}
	}
}
