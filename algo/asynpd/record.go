package asynpd

import (
	"math"

	"github.com/batchrun/batchrun/kernels/philox"
)

// Random streams: stream = purpose << 32 | worker; the counter is the
// worker's update index u (0, 1, ...) or the broadcast index k.
const (
	streamInit      = 1 << 32 // theta_i(0): PolarNormals from block 0
	streamSpeed     = 2 << 32 // m_i: Float64 variate i (one stream for all workers)
	streamNoise     = 3 << 32 // xi of update u: PolarNormals from block u 2^32
	streamCompute   = 4 << 32 // the compute-time factor of update u: block u
	streamUpload    = 5 << 32 // the upload delay of update u: word u
	streamBroadcast = 6 << 32 // the delay of broadcast k to the worker: its top byte, byte k of the stream
	streamFine      = 8 << 32 // ... and its low 24 bits: the top of word k (see broadcastWord)
	streamOutage    = 7 << 32 // the pause after update u: block u
)

// broadcastWord returns the random 32-bit word behind the delay of broadcast
// k to worker i, Broadcast.Sample(broadcastWord(key, i, k)). Its top byte is
// byte k of worker i's broadcast stream (16 per Philox block) and its low
// 24 bits come from a second stream: a snapshot can rule most broadcasts in
// or out from the top byte alone (see asyn.snapshot), at a sixteenth of a
// Philox block each.
func broadcastWord(key uint64, i int, k int64) uint32 {
	return fineWord(key, i, k, broadcastByte(philox.Block(key, streamBroadcast|uint64(i), uint64(k>>4)), k))
}

// fineWord completes broadcast k's word from its top byte c.
func fineWord(key uint64, i int, k int64, c uint8) uint32 {
	return uint32(c)<<24 | philox.Uint32(key, streamFine|uint64(i), uint64(k))>>8
}

// broadcastByte returns the top byte of broadcast k's word from block k/16.
func broadcastByte(block [4]uint32, k int64) uint8 {
	return uint8(block[(k>>2)&3] >> (8 * (k & 3)))
}

// SeedKey derives the Philox key of a seed-run.
func SeedKey(seed uint64) uint64 { return philox.SplitMix64(seed ^ 0xa5e9_3d71_c0de_0003) }

// Sample is the state of a run at one moment.
type Sample struct {
	Time       float64
	Iteration  int64 // iterations t so far (Asyn-PD: completions and receives; Sync-PD: rounds)
	Updates    int64 // worker updates so far
	ErrTheta   float64
	ErrLambda  float64
	LambdaNorm float64 // ||lambda||
}

// Err returns the total error ||theta - theta*||^2 + ||lambda - lambda*||^2.
func (s Sample) Err() float64 { return s.ErrTheta + s.ErrLambda }

// SeedResult is what one seed-run records.
type SeedResult struct {
	Seed  uint64
	Grid  []Sample // at times k horizon / grid, k = 0..grid
	Iters []Sample // at log-spaced iteration counts (the same for every seed)
	// At the horizon.
	Iterations, Updates, Receives, Rounds int64
}

// recorder samples a run's state on the time grid and at log-spaced
// iteration counts.
type recorder struct {
	cfg       *Config
	star      *Saddle
	thetaStar []float64 // n*d: theta*_i of every worker
	res       *SeedResult
	nextGrid  int
	nextIter  int64
	iterIndex int
}

func newRecorder(cfg *Config, star *Saddle, seed uint64) *recorder {
	p := &cfg.Problem
	ts := make([]float64, p.N*p.D)
	for i := range p.N {
		copy(ts[i*p.D:], p.ThetaStar(star, i))
	}
	r := &recorder{cfg: cfg, star: star, thetaStar: ts, res: &SeedResult{Seed: seed}}
	r.nextIter = IterCount(0, cfg.TracePoints)
	return r
}

// gridTime returns the time of grid point k: k horizon / grid, and the
// horizon itself for k = grid (the quotient can round above it).
func (r *recorder) gridTime(k int) float64 {
	if k == r.cfg.Grid {
		return r.cfg.Horizon
	}
	return float64(k) * r.cfg.Horizon / float64(r.cfg.Grid)
}

// IterCount returns the j-th iteration count of the iters table: every
// count if perDecade is 0, else about perDecade log-spaced counts per
// decade, round(10^(j / perDecade)) made increasing.
func IterCount(j, perDecade int) int64 {
	if perDecade == 0 {
		return int64(j) + 1
	}
	prev := int64(0)
	for i := 0; i <= j; i++ {
		prev = nextIterCount(i, perDecade, prev)
	}
	return prev
}

// nextIterCount returns IterCount(j, perDecade) from IterCount(j-1,
// perDecade) = prev, in constant time.
func nextIterCount(j, perDecade int, prev int64) int64 {
	if perDecade == 0 {
		return int64(j) + 1
	}
	return max(int64(math.Round(math.Pow(10, float64(j)/float64(perDecade)))), prev+1)
}

// sample measures the state: theta holds the n models, lambda the
// multipliers.
func (r *recorder) sample(time float64, iter, updates int64, theta, lambda []float64) Sample {
	s := Sample{Time: time, Iteration: iter, Updates: updates}
	d := r.cfg.Problem.D
	for i := range r.cfg.Problem.N {
		s.ErrTheta += r.errTheta(i, theta[i*d:(i+1)*d])
	}
	s.ErrLambda, s.LambdaNorm = r.errLambda(lambda)
	return s
}

// errLambda returns ||lambda - lambda*||^2 and ||lambda||.
func (r *recorder) errLambda(lambda []float64) (err, norm float64) {
	for j, l := range lambda {
		e := l - r.star.Lambda[j]
		err += float64(e * e)
		norm += float64(l * l)
	}
	return err, math.Sqrt(norm)
}

// errTheta returns ||x - theta*_i||^2 for worker i's model x.
func (r *recorder) errTheta(i int, x []float64) float64 {
	d := len(x)
	e := 0.0
	for k, v := range x {
		diff := v - r.thetaStar[i*d+k]
		e += float64(diff * diff)
	}
	return e
}

// iterDue reports whether the iteration count iter is traced; it advances
// to the next traced count.
func (r *recorder) iterDue(iter int64) bool {
	if iter != r.nextIter {
		return false
	}
	r.iterIndex++
	r.nextIter = nextIterCount(r.iterIndex, r.cfg.TracePoints, r.nextIter)
	return true
}
