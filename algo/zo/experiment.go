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
// Seeds are the batch dimension: a group of seeds of one mode runs as one
// batched computation through a kernels.Backend, and groups run on all cores.
// Every random number comes from a counter-based stream of the seed (see
// SeedKey), so a seed's results do not depend on the group it ran in, the
// worker count or the order of jobs.
package zo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/kernels"
)

// Results are the outcome of one run of the zo experiment.
type Results struct {
	Config    Config
	Seeds     []uint64
	Modes     []ModeResult
	Baselines []BaselineTrace // [seed], nil when baselines are off
	EvalRefs  []EvalReference // [seed], nil when held-out evaluation is off
	Backend   string
	// BaselineWall is the work time of the fixed policies and held-out
	// references, summed over jobs.
	BaselineWall time.Duration
}

// ModeResult holds the traces of one mode, in the order of Results.Seeds.
type ModeResult struct {
	Mode   string
	Traces []SeedTrace
	Wall   time.Duration // summed over the mode's jobs (CPU-side work time)
}

// Options control how a run is executed; they never change its numbers.
type Options struct {
	Workers   int // concurrent jobs (default 1)
	GroupSize int // seeds per batched group (default: spread evenly over workers, at most 32)
	// Progress, if not nil, is called with seed-iterations done so far and
	// the total, from the workers' goroutines.
	Progress func(done, total int64)
}

// GroupSize returns the number of seeds per batched group: the requested
// size, or by default the seeds spread evenly over the workers, at most 32
// per group. It never changes results, only memory and speed.
func GroupSize(seeds, workers, requested int) int {
	if requested > 0 {
		return min(requested, seeds)
	}
	workers = max(1, workers)
	return max(1, min(32, (seeds+workers-1)/workers))
}

// Run runs every mode of cfg for the given seeds.
func Run(ctx context.Context, cfg Config, seeds []uint64, be kernels.Backend, opt Options) (*Results, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("zo: no seeds to run")
	}
	workers := max(1, opt.Workers)
	size := GroupSize(len(seeds), workers, opt.GroupSize)
	var chunks [][]uint64
	for i := 0; i < len(seeds); i += size {
		chunks = append(chunks, seeds[i:min(i+size, len(seeds))])
	}
	type job struct {
		mode  int // index into cfg.Modes, or -1 for baselines and held-out references
		chunk int
	}
	var jobs []job
	if cfg.Baselines || cfg.EvalEvery > 0 {
		for c := range chunks {
			jobs = append(jobs, job{-1, c})
		}
	}
	for m := range cfg.Modes {
		for c := range chunks {
			jobs = append(jobs, job{m, c})
		}
	}
	res := &Results{Config: cfg, Seeds: seeds, Backend: be.Name(), Modes: make([]ModeResult, len(cfg.Modes))}
	for m, mode := range cfg.Modes {
		res.Modes[m] = ModeResult{Mode: mode, Traces: make([]SeedTrace, len(seeds))}
	}
	if cfg.Baselines {
		res.Baselines = make([]BaselineTrace, len(seeds))
	}
	if cfg.EvalEvery > 0 {
		res.EvalRefs = make([]EvalReference, len(seeds))
	}
	total := int64(len(seeds)) * int64(cfg.T) * int64(len(cfg.Modes))
	if cfg.Baselines {
		total += int64(len(seeds)) * int64(cfg.T)
	}
	var mu sync.Mutex
	var done int64
	progress := func(n int) {
		if opt.Progress == nil {
			return
		}
		mu.Lock()
		done += int64(n)
		d := done
		mu.Unlock()
		opt.Progress(d, total)
	}
	offset := func(c int) int { return c * size }
	err := batch.Run(ctx, len(jobs), workers, func(ctx context.Context, j int) error {
		jb := jobs[j]
		chunk := chunks[jb.chunk]
		start := time.Now()
		if jb.mode < 0 {
			for i, seed := range chunk {
				if cfg.Baselines {
					bt, err := baselines(ctx, &cfg, seed, progress)
					if err != nil {
						return fmt.Errorf("zo: baselines of seed %d: %w", seed, err)
					}
					res.Baselines[offset(jb.chunk)+i] = bt
				}
				if cfg.EvalEvery > 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
					ref, err := evalReference(&cfg, seed)
					if err != nil {
						return fmt.Errorf("zo: held-out references of seed %d: %w", seed, err)
					}
					res.EvalRefs[offset(jb.chunk)+i] = ref
				}
			}
			mu.Lock()
			res.BaselineWall += time.Since(start)
			mu.Unlock()
			return nil
		}
		mode := cfg.Modes[jb.mode]
		g, err := newGroup(&cfg, mode, be, chunk)
		if err != nil {
			return fmt.Errorf("zo: mode %s: %w", mode, err)
		}
		traces, err := g.run(ctx, progress)
		if err != nil {
			return err
		}
		copy(res.Modes[jb.mode].Traces[offset(jb.chunk):], traces)
		mu.Lock()
		res.Modes[jb.mode].Wall += time.Since(start)
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
