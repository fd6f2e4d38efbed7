package zo

import (
	"context"
	"fmt"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/policy"
)

// baselineRun replays a seed's training channel stream (2B samples per
// iteration) and evaluates the fixed policy cfg.Mode on the base samples
// 0..B-1 of every iteration: exactly the samples on which the learning
// modes of the same seed measure their sum-rate. Random power draws p_i ~
// U[0, Pmax] per sample and link. With held-out evaluation on, the policy's
// held-out sum-rate is recorded at the same iterations as a learning mode's
// (it does not change).
func baselineRun(ctx context.Context, cfg *Config, seed uint64, be kernels.Backend, progress func(int)) (SeedTrace, error) {
	key := SeedKey(seed)
	proc, err := newProcess(cfg, key, tagFading, be)
	if err != nil {
		return SeedTrace{}, err
	}
	N, B, T := cfg.N, cfg.B, cfg.T
	tr := SeedTrace{Seed: seed, SumRate: make([]float64, T)}
	fp := newFixedPolicies(cfg)
	h := make([]float32, N*N)
	inv := 1 / float64(B)
	for t := 0; t < T; t++ {
		if err := ctx.Err(); err != nil {
			return SeedTrace{}, err
		}
		for b := 0; b < 2*B; b++ {
			proc.Next(h)
			if b >= B {
				continue
			}
			tr.SumRate[t] += fp.sumRate(cfg.Mode, h, key, stream(tagRandomPower, 0, 0), uint64((t*B+b)*N)) * inv
		}
		if progress != nil && t%64 == 63 {
			progress(64)
		}
	}
	if progress != nil {
		progress(T % 64)
	}
	if cfg.EvalEvery > 0 {
		ref, err := evalReference(cfg, seed, be)
		if err != nil {
			return SeedTrace{}, err
		}
		for _, it := range evalIters(cfg) {
			tr.Eval = append(tr.Eval, EvalPoint{Iter: it, SumRate: ref.Policy})
		}
	}
	return tr, nil
}

// evalIters returns the iterations at which held-out evaluations happen:
// 0, every E, and T.
func evalIters(cfg *Config) []int {
	its := []int{0}
	for t := 1; t <= cfg.T; t++ {
		if t%cfg.EvalEvery == 0 || t == cfg.T {
			its = append(its, t)
		}
	}
	return its
}

// EvalReference holds the fixed policies' mean sum-rates on a seed's
// held-out set, for reporting learned policies as a fraction of them.
type EvalReference struct {
	FullPower, WMMSE float64
	Policy           float64 // the sum-rate of cfg.Mode when it is a fixed policy
}

// evalReference computes full power, WMMSE and (for a fixed-policy mode)
// that policy on a seed's held-out set. Random power on the held-out set
// draws from its own stream (agent 1 of tagRandomPower).
func evalReference(cfg *Config, seed uint64, be kernels.Backend) (EvalReference, error) {
	key := SeedKey(seed)
	ev, err := newEvalSet(cfg, []uint64{key}, be)
	if err != nil {
		return EvalReference{}, err
	}
	N, M := cfg.N, ev.M
	var ref EvalReference
	fp := newFixedPolicies(cfg)
	inv := 1 / float64(M)
	for b := 0; b < M; b++ {
		h := ev.h[b*N*N:][:N*N]
		ref.FullPower += fp.sumRate(ModeFullPower, h, key, 0, 0) * inv
		ref.WMMSE += fp.sumRate(ModeWMMSE, h, key, 0, 0) * inv
		if cfg.Mode == ModeRandomPower {
			ref.Policy += fp.sumRate(ModeRandomPower, h, key, stream(tagRandomPower, 1, 0), uint64(b*N)) * inv
		}
	}
	switch cfg.Mode {
	case ModeFullPower:
		ref.Policy = ref.FullPower
	case ModeWMMSE:
		ref.Policy = ref.WMMSE
	}
	return ref, nil
}

// fixedPolicies evaluates the fixed policies on one channel sample.
type fixedPolicies struct {
	cfg   *Config
	h     []float64
	p     []float64
	wmmse *policy.WMMSE
}

func newFixedPolicies(cfg *Config) *fixedPolicies {
	n := cfg.N
	return &fixedPolicies{cfg: cfg, h: make([]float64, n*n), p: make([]float64, n), wmmse: policy.NewWMMSE(n)}
}

// sumRate returns the sum-rate of a fixed policy on amplitudes h. Random
// power draws the powers from philox(key, stream, first+i).
func (fp *fixedPolicies) sumRate(mode string, h []float32, key, stream, first uint64) float64 {
	cfg := fp.cfg
	for i, v := range h {
		fp.h[i] = float64(v)
	}
	switch mode {
	case ModeFullPower:
		policy.FullPower(fp.p, cfg.Pmax)
	case ModeRandomPower:
		policy.RandomPower(fp.p, cfg.Pmax, key, stream, first)
	case ModeWMMSE:
		_, r := fp.wmmse.Solve(fp.h, cfg.Sigma2, cfg.Pmax, cfg.WMMSEIter, cfg.WMMSETol, fp.p)
		return r
	default:
		panic(fmt.Sprintf("zo: %q is not a fixed policy", mode))
	}
	return channel.SumRate(fp.h, fp.p, cfg.Sigma2)
}
