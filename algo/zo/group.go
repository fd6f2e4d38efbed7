package zo

import (
	"context"
	"fmt"
	"math"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/philox"
)

// SeedTrace is what one seed-run of one mode produces.
type SeedTrace struct {
	Seed    uint64
	SumRate []float64   // [T]: base batch sum-rate of iteration t (1-based iter t+1)
	Eval    []EvalPoint // held-out evaluations, when E > 0
}

// EvalPoint is one held-out evaluation of the current policies.
type EvalPoint struct {
	Iter    int     // iterations completed (0: the initial policies)
	SumRate float64 // mean sum-rate over the held-out samples
}

// group runs one mode for a batch of seeds as one batched computation:
// tensors are [seed][agent][sample][...]. Everything is allocated once;
// an iteration allocates nothing.
type group struct {
	cfg   *Config
	mode  string
	be    kernels.Backend
	net   kernels.MLP
	seeds []uint64
	keys  []uint64

	S, N, B, K, P int
	agents, slots int

	procs []channel.Process
	obs   []*channel.Observer
	h     []float32 // [S][2B][N][N]
	x     []float32 // [S][2B][N][K]
	power []float32 // [S][2B][N]

	theta    []float32 // [S][agents][P]
	ring     []float32 // [S][agents][slots][P]
	explored []bool    // [S][agents][slots]: ring slot holds a drawn (nonzero) u
	explore  []bool    // [S][agents]: this iteration
	streams  []uint64  // [agents]

	rateBase, ratePert []float64 // [S][N]
	slopes             []float64 // [N]
	coef64             []float64 // [agents][slots]
	coef               []float32 // [S][agents][slots]
	sched              []scheduler

	eval    *evalSet
	scratch []float32 // Forward work space

	// The first-order modes train the policies in a gorgonia graph; theta
	// is then only a float32 copy for the held-out evaluations.
	firstOrder *firstOrder

	fwd     kernels.Forward
	rates   kernels.Rates
	perturb kernels.Perturb
	update  kernels.Update
}

func newGroup(cfg *Config, mode string, be kernels.Backend, seeds []uint64) (*group, error) {
	g := &group{
		cfg: cfg, mode: mode, be: be, seeds: seeds,
		net: kernels.MLP{In: cfg.K, Hidden: cfg.Hidden},
		S:   len(seeds), N: cfg.N, B: cfg.B, K: cfg.K,
		agents: cfg.Agents(mode), slots: cfg.Slots(mode),
	}
	if err := g.net.Validate(); err != nil {
		return nil, err
	}
	g.P = g.net.NumParams()
	S, N, B2, K, P, A := g.S, g.N, 2*g.B, g.K, g.P, g.agents
	g.keys = make([]uint64, S)
	g.procs = make([]channel.Process, S)
	g.obs = make([]*channel.Observer, S)
	g.sched = make([]scheduler, S)
	nb := Neighbours(N, cfg.Window, cfg.Stride)
	for s, seed := range seeds {
		key := SeedKey(seed)
		g.keys[s] = key
		proc, err := newProcess(cfg, key, tagFading, be)
		if err != nil {
			return nil, err
		}
		g.procs[s] = proc
		g.obs[s] = channel.NewObserver(N, K)
		switch mode {
		case ModeAsync:
			g.sched[s] = newRelay(N, g.slots, nb, key, cfg.TxP*cfg.RxP)
		case ModeFixedDelay:
			g.sched[s] = newDelays(N, g.slots, cfg.D, key)
		case ModeSync, ModeCentralZO:
			g.sched[s] = global{agents: A}
		case ModeFirstOrder, ModeCentralFirst:
			// No messages: the gradient is exact and immediate.
		default:
			return nil, fmt.Errorf("zo: unknown mode %q", mode)
		}
	}
	g.h = make([]float32, S*B2*N*N)
	g.x = make([]float32, S*B2*N*K)
	g.power = make([]float32, S*B2*N)
	g.theta = make([]float32, S*A*P)
	g.ring = make([]float32, S*A*g.slots*P)
	g.explored = make([]bool, S*A*g.slots)
	g.explore = make([]bool, S*A)
	g.streams = make([]uint64, A)
	g.rateBase = make([]float64, S*N)
	g.ratePert = make([]float64, S*N)
	g.slopes = make([]float64, N)
	g.coef64 = make([]float64, A*g.slots)
	g.coef = make([]float32, S*A*g.slots)
	g.initTheta()
	if IsFirstOrder(mode) {
		fo, err := newFirstOrder(g)
		if err != nil {
			return nil, err
		}
		g.firstOrder = fo
	}

	g.fwd = kernels.Forward{
		Net: g.net, S: S, N: N, B: g.B,
		Theta: g.theta, ThetaSeedStride: A * P, ThetaAgentStride: P,
		USeedStride: A * g.slots * P, UAgentStride: g.slots * P, Mu: float32(cfg.Mu),
		ObsSeedStride: B2 * N * K, Pmax: float32(cfg.Pmax), PowerSeedStride: B2 * N,
	}
	if A == 1 {
		g.fwd.ThetaAgentStride, g.fwd.UAgentStride = 0, 0
	}
	g.scratch = make([]float32, g.be.ForwardScratchLen(&g.fwd))
	g.fwd.Scratch = g.scratch
	g.rates = kernels.Rates{S: S, N: N, B: g.B, HSeedStride: B2 * N * N, PowerSeedStride: B2 * N, Sigma2: cfg.Sigma2}
	g.perturb = kernels.Perturb{S: S, N: A, P: P, Keys: g.keys, Streams: g.streams, SeedStride: A * g.slots * P, AgentStride: g.slots * P}
	g.update = kernels.Update{
		S: S, N: A, P: P, Slots: g.slots, Theta: g.theta, ThetaSeedStride: A * P, ThetaAgentStride: P,
		Ring: g.ring, RingSeedStride: A * g.slots * P, RingAgentStride: g.slots * P, Coef: g.coef,
	}
	if cfg.EvalEvery > 0 {
		ev, err := newEvalSet(cfg, g.keys, be)
		if err != nil {
			return nil, err
		}
		ev.prepare(g)
		g.eval = ev
	}
	return g, nil
}

// newProcess returns the channel process of a seed on the given stream tag:
// the geometry is always the seed's own (tagGeometry), so training and
// held-out channels share positions and differ in fading only.
func newProcess(cfg *Config, key uint64, tag uint64, be kernels.Backend) (channel.Process, error) {
	if cfg.Channel == "rayleigh" {
		r, err := channel.NewRayleigh(cfg.N, key, stream(tag, 0, 0))
		if err != nil {
			return nil, err
		}
		r.UseNormals(be.FillNormal32)
		return r, nil
	}
	geo, err := channel.NewGeometry(cfg.N, cfg.L, cfg.LOffset, key, stream(tagGeometry, 0, 0))
	if err != nil {
		return nil, err
	}
	ar, err := channel.NewAR1(geo.PathLoss(cfg.PLExp), cfg.C, cfg.Threshold, key, stream(tag, 0, 0))
	if err != nil {
		return nil, err
	}
	ar.UseNormals(be.FillNormal32)
	return ar, nil
}

// initTheta draws the initial policies (see initPolicies).
func (g *group) initTheta() { initPolicies(g.theta, g.cfg, g.keys, g.agents, g.P) }

// run executes T iterations and records the trace of every seed. It checks
// ctx once per iteration.
func (g *group) run(ctx context.Context, progress func(seedIters int)) ([]SeedTrace, error) {
	cfg := g.cfg
	if g.firstOrder != nil {
		defer g.firstOrder.net.Close()
	}
	traces := make([]SeedTrace, g.S)
	for s := range traces {
		traces[s] = SeedTrace{Seed: g.seeds[s], SumRate: make([]float64, cfg.T)}
	}
	if g.eval != nil {
		g.evaluate(0, traces)
	}
	for t := 0; t < cfg.T; t++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := g.step(t, traces); err != nil {
			return nil, err
		}
		// Every E iterations, and always the final policies.
		if g.eval != nil && ((t+1)%cfg.EvalEvery == 0 || t+1 == cfg.T) {
			g.evaluate(t+1, traces)
		}
		if progress != nil {
			progress(g.S)
		}
	}
	return traces, nil
}

// step is iteration t of the spec's algorithm for every seed of the group.
// It fails if a seed's sum-rate is no longer finite (the policies diverged:
// a step size or radius too large), naming the seed and the iteration.
func (g *group) step(t int, traces []SeedTrace) error {
	cfg := g.cfg
	S, N, B, K, P, A, slots := g.S, g.N, g.B, g.K, g.P, g.agents, g.slots
	B2 := 2 * B

	// 1. 2B channel samples continuing the fading process and observation.
	for s := 0; s < S; s++ {
		for b := 0; b < B2; b++ {
			h := g.h[(s*B2+b)*N*N:][:N*N]
			g.procs[s].Next(h)
			g.obs[s].Observe(h, g.x[(s*B2+b)*N*K:][:N*K])
		}
	}

	if g.firstOrder != nil {
		return g.firstOrder.step(g, t, traces)
	}

	// 2. Perturbation directions u_k(t) into ring slot t mod slots; in async
	// mode an agent explores with probability up_p, else u_k(t) = 0. The
	// one policy of central-zo draws agent 0's stream.
	slot := t % slots
	for a := 0; a < A; a++ {
		g.streams[a] = stream(tagPerturb, uint64(a), uint64(t))
	}
	for s := 0; s < S; s++ {
		for a := 0; a < A; a++ {
			e := true
			if g.mode == ModeAsync && cfg.UpP < 1 {
				e = philox.Float64(g.keys[s], stream(tagExplore, 0, uint64(t)), uint64(a)) < cfg.UpP
			}
			g.explore[s*A+a] = e
			g.explored[(s*A+a)*slots+slot] = e
		}
	}
	g.perturb.Dst = g.ring[slot*P:]
	g.perturb.Explore = g.explore
	g.be.Perturb(&g.perturb)

	// 3-4. Base evaluation on samples 0..B-1 with theta, perturbed evaluation
	// on samples B..2B-1 with theta + mu u (all agents jointly).
	f := &g.fwd
	f.U, f.Obs, f.Power = nil, g.x, g.power
	g.be.Forward(f)
	f.U, f.Obs, f.Power = g.ring[slot*P:], g.x[B*N*K:], g.power[B*N:]
	g.be.Forward(f)
	r := &g.rates
	r.H, r.Power, r.MeanRate = g.h, g.power, g.rateBase
	g.be.Rates(r)
	r.H, r.Power, r.MeanRate = g.h[B*N*N:], g.power[B*N:], g.ratePert
	g.be.Rates(r)

	// 5-7. Slopes, message passing, update coefficients with the step size.
	alpha := cfg.Alpha / math.Pow(float64(t+1), cfg.AlphaDecay)
	invMu := 1 / cfg.Mu
	for s := 0; s < S; s++ {
		base := g.rateBase[s*N : s*N+N]
		pert := g.ratePert[s*N : s*N+N]
		sum := 0.0
		for i := range base {
			sum += base[i]
			g.slopes[i] = (pert[i] - base[i]) * invMu
		}
		if math.IsNaN(sum) || math.IsInf(sum, 0) {
			return fmt.Errorf("zo: mode %s, seed %d, iteration %d: the sum-rate is %v; the policies diverged (alpha = %g, mu = %g too large?)",
				g.mode, g.seeds[s], t+1, sum, cfg.Alpha, cfg.Mu)
		}
		traces[s].SumRate[t] = sum
		g.sched[s].Step(t, g.slopes, g.coef64)
		coef := g.coef[s*A*slots : (s+1)*A*slots]
		explored := g.explored[s*A*slots : (s+1)*A*slots]
		for i, c := range g.coef64 {
			if !explored[i] {
				c = 0 // u was zero: the term vanishes, skip the work
			}
			coef[i] = float32(alpha * c)
		}
	}
	g.be.Update(&g.update)
	return nil
}
