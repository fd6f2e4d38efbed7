package zo

import (
	"context"

	"github.com/batchrun/batchrun/policy"
)

// BaselineTrace holds the fixed policies' base-batch sum-rates of one seed,
// per iteration, on exactly the channel samples the learning modes see.
type BaselineTrace struct {
	FullPower, RandomPower, WMMSE []float64 // [T]
}

// baselines replays a seed's training channel stream (2B samples per
// iteration) and evaluates full power, uniform random power (p_i ~ U[0,
// Pmax] per sample and link) and WMMSE on the base samples 0..B-1 of every
// iteration. The stream depends only on the seed, so one replay serves all
// modes.
func baselines(ctx context.Context, cfg *Config, seed uint64, progress func(int)) (BaselineTrace, error) {
	key := SeedKey(seed)
	proc, err := newProcess(cfg, key, tagFading)
	if err != nil {
		return BaselineTrace{}, err
	}
	N, B, T := cfg.N, cfg.B, cfg.T
	bt := BaselineTrace{FullPower: make([]float64, T), RandomPower: make([]float64, T), WMMSE: make([]float64, T)}
	fp := newFixedPolicies(cfg)
	h := make([]float32, N*N)
	randStream := stream(tagRandomPower, 0, 0)
	var first uint64
	random := func(p []float64) { policy.RandomPower(p, cfg.Pmax, key, randStream, first) }
	inv := 1 / float64(B)
	for t := 0; t < T; t++ {
		if err := ctx.Err(); err != nil {
			return BaselineTrace{}, err
		}
		for b := 0; b < 2*B; b++ {
			proc.Next(h)
			if b >= B {
				continue
			}
			first = uint64((t*B + b) * N)
			full, rnd, wm := fp.sample(h, random)
			bt.FullPower[t] += float64(full * inv)
			bt.RandomPower[t] += float64(rnd * inv)
			bt.WMMSE[t] += float64(wm * inv)
		}
		if progress != nil && t%64 == 63 {
			progress(64)
		}
	}
	if progress != nil {
		progress(T % 64)
	}
	return bt, nil
}
