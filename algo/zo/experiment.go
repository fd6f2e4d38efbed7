// Package zo is the zo experiment family (spec zo-wireless): N wireless
// links learn per-agent MLP power policies by zeroth-order optimization of
// the sum-rate, sharing only scalar slopes over a lossy, delayed
// message-passing graph.
//
// Per iteration t and seed, with 2B fresh channel samples:
//
//	rbar_i(theta)        batch-mean rate of link i on samples 1..B
//	rbar_i(theta + mu u) on samples B+1..2B, every agent perturbed by u_k ~ N(0, I)
//	s_i(t) = (rbar_i(theta + mu u) - rbar_i(theta)) / mu
//	theta_k <- theta_k + alpha_t sum_p s_p(tau_kp) u_k(tau_kp),  alpha_t = alpha / (t+1)^alpha_decay
//
// where tau_kp is the timestamp of the slope of agent p that agent k holds:
// t itself in sync mode, t - d_kp under fixed delays, and whatever the relay
// message passing has delivered in async mode (see relay). The update is
// grouped by message age: c_k(a) = sum of the slopes of age a, then
// theta_k += alpha_t sum_a c_k(a) u_k(t-a), at most `buffer` vectors per
// agent. The perturbations u_k(t-a) are kept in a ring of `buffer` slots per
// agent (they could be regenerated from their counter-based streams; storing
// them costs S*N*buffer*P floats and saves regenerating up to buffer normal
// vectors per agent and iteration).
//
// The first-order references (first-order, central-first-order) replace
// steps 2-7 by backpropagation of the batch-mean sum-rate through every
// policy and an Adam step (see firstOrder and package backprop).
//
// Seeds are the batch dimension: a group of seeds of one mode runs as one
// batched computation through a kernels.Backend (Run); the sweep engine
// (package batch, through Family) runs groups on all cores. Every random
// number comes from a counter-based stream of the seed (see SeedKey), so a
// seed's results do not depend on the group it ran in, the worker count or
// the order of groups.
package zo

import (
	"context"
	"fmt"

	"github.com/batchrun/batchrun/kernels"
)

// Run runs cfg.Mode for a batch of seeds as one batched computation and
// returns their traces in the order of seeds. A fixed policy (IsBaseline)
// replays each seed's training channels and evaluates the policy on the
// base samples of every iteration. progress, if not nil, is called with
// seed-iterations as they complete.
func Run(ctx context.Context, cfg *Config, seeds []uint64, be kernels.Backend, progress func(seedIters int)) ([]SeedTrace, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("zo: no seeds to run")
	}
	if IsBaseline(cfg.Mode) {
		traces := make([]SeedTrace, len(seeds))
		for i, seed := range seeds {
			tr, err := baselineRun(ctx, cfg, seed, be, progress)
			if err != nil {
				return nil, fmt.Errorf("zo: %s of seed %d: %w", cfg.Mode, seed, err)
			}
			traces[i] = tr
		}
		return traces, nil
	}
	g, err := newGroup(cfg, cfg.Mode, be, seeds)
	if err != nil {
		return nil, fmt.Errorf("zo: mode %s: %w", cfg.Mode, err)
	}
	return g.run(ctx, progress)
}
