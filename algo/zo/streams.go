package zo

import "github.com/batchrun/batchrun/kernels/philox"

// Randomness of a seed-run. Every random number is
// philox(key, stream, index) with key = SeedKey(seed) and the stream built
// from a purpose tag and up to two small integers (an agent and an
// iteration), so any draw can be regenerated anywhere:
//
//	stream = tag<<56 | agent<<32 | iteration
//
// The streams of a seed do not depend on the mode, so all modes of one seed
// see the same geometry, channel samples and perturbation directions: their
// comparisons are paired. The one shared policy of central-zo draws agent
// 0's perturbation stream.
//
// The key depends on the seed number alone, not on the other parameters: a
// deliberate choice, so that variants of one setup (modes, step sizes,
// delays) are compared on the same channels. Runs that differ in N or B
// then also share random numbers (for N, the first links' positions); that
// is harmless for comparisons across seeds, but a sweep engine that derives
// keys from full cell identities should keep this pairing across modes.
const (
	tagGeometry    = 1 // index 4i+c: link i's positions
	tagFading      = 2 // training channel samples
	tagEvalFading  = 3 // held-out channel samples
	tagInit        = 4 // agent: initial weights (agent 0 for a shared init)
	tagPerturb     = 5 // agent, iteration: u_k(t), index = parameter
	tagExplore     = 6 // iteration: index = agent; async exploration draws
	tagLink        = 7 // iteration: index = directed edge; async link success
	tagDelay       = 8 // index = k*N + p: fixed-delay draws
	tagRandomPower = 9 // index = (t*B + b)*N + i: random-power baseline
)

func stream(tag, agent, iter uint64) uint64 {
	return tag<<56 | (agent&0xffffff)<<32 | iter&0xffffffff
}

// SeedKey returns the Philox key of a seed of the zo experiment: the seed
// number scrambled by SplitMix64 with an experiment constant, so that
// neighbouring seeds get unrelated keys.
func SeedKey(seed uint64) uint64 {
	return philox.SplitMix64(seed ^ 0x7a6f2d7365656473) // "zo-seeds"
}
