package zo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cuda"
	"github.com/batchrun/batchrun/policy"
)

// OnDevice reports whether a mode runs on a GPU when one is given: the
// zeroth-order modes. The first-order references (gorgonia) and the fixed
// policies run on the CPU.
func OnDevice(mode string) bool {
	switch mode {
	case ModeAsync, ModeFixedDelay, ModeSync, ModeCentralZO:
		return true
	}
	return false
}

// traceChunk is the number of iterations between two host synchronisations
// of a device group: their sum-rates are copied back, checked and reported
// as progress together.
const traceChunk = 100

// RunDevice runs a zeroth-order mode for a batch of seeds on dev: the same
// algorithm and random numbers as Run, every iteration on the device; the
// host only launches kernels and, every traceChunk iterations, copies the
// sum-rates back. be draws the held-out channel set, which is made once on
// the host. When the device has too little memory for all seeds, the batch
// is split in halves (and again) and the parts run one after the other:
// seeds are independent, so the results are the same.
func RunDevice(ctx context.Context, cfg *Config, seeds []uint64, be kernels.Backend, dev cuda.Device, progress func(seedIters int)) ([]SeedTrace, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("zo: no seeds to run")
	}
	if !OnDevice(cfg.Mode) {
		return nil, fmt.Errorf("zo: mode %s does not run on a GPU", cfg.Mode)
	}
	traces, started, err := runDeviceOnce(ctx, cfg, seeds, be, dev, progress)
	// Only a batch that found no room before it started is split: one that
	// failed on the way has reported progress, and its halves would report
	// it again.
	if errors.Is(err, cuda.ErrOutOfMemory) && !started && len(seeds) > 1 {
		half := len(seeds) / 2
		slog.Info("zo: the GPU has too little memory for the batch; splitting it", "mode", cfg.Mode, "seeds", len(seeds), "parts", fmt.Sprintf("%d+%d", half, len(seeds)-half), "err", err)
		a, err := RunDevice(ctx, cfg, seeds[:half], be, dev, progress)
		if err != nil {
			return nil, err
		}
		b, err := RunDevice(ctx, cfg, seeds[half:], be, dev, progress)
		if err != nil {
			return nil, err
		}
		return append(a, b...), nil
	}
	return traces, err
}

// runDeviceOnce runs the seeds as one batch; started reports whether the
// batch got its memory and began to iterate.
func runDeviceOnce(ctx context.Context, cfg *Config, seeds []uint64, be kernels.Backend, dev cuda.Device, progress func(seedIters int)) (traces []SeedTrace, started bool, err error) {
	q, err := dev.NewQueue()
	if err != nil {
		return nil, false, fmt.Errorf("zo: mode %s on %s: %w", cfg.Mode, dev.Name(), err)
	}
	defer func() {
		if cerr := q.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	g, err := newDeviceGroup(cfg, q, be, seeds)
	if err != nil {
		return nil, false, fmt.Errorf("zo: mode %s on %s: %w", cfg.Mode, dev.Name(), err)
	}
	traces, err = g.run(ctx, progress)
	return traces, true, err
}

// deviceGroup is a group (see group) whose tensors live on a GPU. Its
// buffers mirror the CPU group's, with the schedulers' state on the device
// too (algo/zo relay and delays, as arrays over seeds).
type deviceGroup struct {
	cfg   *Config
	q     cuda.Queue
	seeds []uint64

	S, N, B, K, P, A, slots int
	forward                 string // forward kernel
	layers                  int

	keys, pl, f, h, x, prev, power, hidden cuda.Ptr
	theta, ring, explored                  cuda.Ptr
	rateBase, ratePert, slopes, trace      cuda.Ptr
	coef64, coef                           cuda.Ptr
	arA, arB, threshold                    float32

	// async: relay state and incoming links.
	ts, val, sendTs, send, keepTs, keep cuda.Ptr
	inStart, inFrom                     cuda.Ptr
	// fixed-delay: delays and slope history.
	delay, hist cuda.Ptr
	depth       int

	// held-out evaluation
	M                                 int
	evH, evX, evPower, evRate, evOut  cuda.Ptr
	evalIters                         []int
	maxEvals                          int
	err                               error // first allocation or copy error
	traceHost                         []float64
	thetaSeedStride, thetaAgentStride int
}

// alloc returns n bytes of zeroed device memory, or 0 after the first error.
func (g *deviceGroup) alloc(n int64) cuda.Ptr {
	if g.err != nil {
		return 0
	}
	p, err := g.q.Alloc(max(n, 1))
	if err != nil {
		g.err = err
		return 0
	}
	return p
}

// upload allocates device memory holding src.
func upload[T any](g *deviceGroup, src []T) cuda.Ptr {
	b := cuda.Bytes(src)
	p := g.alloc(int64(len(b)))
	if g.err == nil && len(b) > 0 {
		g.err = g.q.Upload(p, b)
	}
	return p
}

func newDeviceGroup(cfg *Config, q cuda.Queue, be kernels.Backend, seeds []uint64) (*deviceGroup, error) {
	mode := cfg.Mode
	net := kernels.MLP{In: cfg.K, Hidden: cfg.Hidden}
	if err := net.Validate(); err != nil {
		return nil, err
	}
	fwd, err := cuda.ForwardKernel(net.MaxWidth())
	if err != nil {
		return nil, err
	}
	g := &deviceGroup{
		cfg: cfg, q: q, seeds: seeds, forward: fwd, layers: len(cfg.Hidden),
		S: len(seeds), N: cfg.N, B: cfg.B, K: cfg.K, P: net.NumParams(),
		A: cfg.Agents(mode), slots: cfg.Slots(mode),
	}
	S, N, B2, K, P, A, slots := g.S, g.N, 2*g.B, g.K, g.P, g.A, g.slots
	nn := N * N
	keys := make([]uint64, S)
	for s, seed := range seeds {
		keys[s] = SeedKey(seed)
	}
	g.keys = upload(g, keys)

	// The channel process: the AR(1) fading over each seed's path loss, or
	// the i.i.d. Rayleigh channel (no state).
	if cfg.Channel != "rayleigh" {
		pl := make([]float32, S*nn)
		for s, key := range keys {
			geo, err := channel.NewGeometry(N, cfg.L, cfg.LOffset, key, stream(tagGeometry, 0, 0))
			if err != nil {
				return nil, err
			}
			loss := geo.PathLoss(cfg.PLExp)
			if s == 0 {
				// The CPU process checks the parameters.
				if _, err := channel.NewAR1(loss, cfg.C, cfg.Threshold, key, stream(tagFading, 0, 0)); err != nil {
					return nil, err
				}
			}
			for i, v := range loss {
				pl[s*nn+i] = float32(v)
			}
		}
		g.pl = upload(g, pl)
		g.f = g.alloc(int64(S * nn * 4))
		g.arA, g.arB = float32(math.Sqrt(1-cfg.C)), float32(math.Sqrt(cfg.C))
		if g.threshold = float32(cfg.Threshold); !(g.threshold > 0) {
			g.threshold = 0
		}
	}
	g.h = g.alloc(int64(S * B2 * nn * 4))
	g.x = g.alloc(int64(S * B2 * N * K * 4))
	g.prev = g.alloc(int64(S * N * K * 4))
	g.power = g.alloc(int64(S * B2 * N * 4))
	hidden := make([]int32, len(cfg.Hidden))
	for i, h := range cfg.Hidden {
		hidden[i] = int32(h)
	}
	g.hidden = upload(g, hidden)

	theta := make([]float32, S*A*P)
	initPolicies(theta, cfg, keys, A, P)
	g.theta = upload(g, theta)
	g.thetaSeedStride, g.thetaAgentStride = A*P, P
	if A == 1 {
		g.thetaAgentStride = 0
	}
	g.ring = g.alloc(int64(S) * int64(A) * int64(slots) * int64(P) * 4)
	g.explored = g.alloc(int64(S * A * slots))
	g.rateBase = g.alloc(int64(S * N * 8))
	g.ratePert = g.alloc(int64(S * N * 8))
	g.slopes = g.alloc(int64(S * N * 8))
	g.trace = g.alloc(int64(S * traceChunk * 8))
	g.traceHost = make([]float64, S*traceChunk)
	g.coef64 = g.alloc(int64(S * A * slots * 8))
	g.coef = g.alloc(int64(S * A * slots * 4))

	switch mode {
	case ModeAsync:
		none := make([]int32, S*nn)
		for i := range none {
			none[i] = -1
		}
		g.ts, g.sendTs, g.keepTs = upload(g, none), upload(g, none), upload(g, none)
		g.val, g.send, g.keep = g.alloc(int64(S*nn*8)), g.alloc(int64(S*nn*8)), g.alloc(int64(S*nn*8))
		// The relay's links, grouped by receiver: the links into agent k
		// are inFrom[inStart[k]:inStart[k+1]], and a link's number is its
		// position there.
		edges := relayEdges(Neighbours(N, cfg.Window, cfg.Stride))
		start, from := make([]int32, N+1), make([]int32, len(edges))
		for e, ed := range edges {
			from[e] = ed[0]
			start[ed[1]+1] = int32(e + 1)
		}
		for k := 1; k <= N; k++ {
			start[k] = max(start[k], start[k-1]) // agents without incoming links
		}
		g.inStart, g.inFrom = upload(g, start), upload(g, from)
	case ModeFixedDelay:
		d := make([]int32, S*nn)
		for s, key := range keys {
			copy(d[s*nn:], newDelays(N, slots, cfg.D, key).d)
		}
		g.delay = upload(g, d)
		g.depth = cfg.D + 1
		g.hist = g.alloc(int64(S * g.depth * N * 8))
	}

	if cfg.EvalEvery > 0 {
		ev, err := newEvalSet(cfg, keys, be)
		if err != nil {
			return nil, err
		}
		g.M = ev.M
		g.evH, g.evX = upload(g, ev.h), upload(g, ev.x)
		g.evPower = g.alloc(int64(S * g.M * N * 4))
		g.evRate = g.alloc(int64(S * N * 8))
		g.maxEvals = cfg.T/cfg.EvalEvery + 2
		g.evOut = g.alloc(int64(S * g.maxEvals * 8))
	}
	if g.err != nil {
		return nil, g.err
	}
	return g, nil
}

// initPolicies draws the initial policies of every seed into theta
// ([S][A][P]): PyTorch's nn.Linear initialisation, the same vector for
// every agent (init=shared, the paper) or one per agent.
func initPolicies(theta []float32, cfg *Config, keys []uint64, A, P int) {
	arch := policy.Arch{In: cfg.K, Hidden: cfg.Hidden}
	for s, key := range keys {
		for a := 0; a < A; a++ {
			agent := uint64(0)
			if cfg.Init == "independent" {
				agent = uint64(a)
			}
			policy.InitUniform(theta[(s*A+a)*P:][:P], arch, key, stream(tagInit, agent, 0))
		}
	}
}

const threadsPerBlock = 256

// launch runs a kernel over n threads in blocks of threadsPerBlock.
func (g *deviceGroup) launch(kernel string, n int, args ...uint64) error {
	return g.q.Launch(kernel, cuda.Grid(n, threadsPerBlock), cuda.D1(threadsPerBlock), args...)
}

// run executes T iterations and returns every seed's trace.
func (g *deviceGroup) run(ctx context.Context, progress func(seedIters int)) ([]SeedTrace, error) {
	cfg := g.cfg
	traces := make([]SeedTrace, g.S)
	for s := range traces {
		traces[s] = SeedTrace{Seed: g.seeds[s], SumRate: make([]float64, cfg.T)}
	}
	if cfg.EvalEvery > 0 {
		if err := g.evaluate(0); err != nil {
			return nil, err
		}
	}
	from := 0 // first iteration of the chunk
	for t := 0; t < cfg.T; t++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := g.step(t); err != nil {
			return nil, err
		}
		if cfg.EvalEvery > 0 && ((t+1)%cfg.EvalEvery == 0 || t+1 == cfg.T) {
			if err := g.evaluate(t + 1); err != nil {
				return nil, err
			}
		}
		if (t+1)%traceChunk == 0 || t+1 == cfg.T {
			if err := g.collect(from, t+1, traces); err != nil {
				return nil, err
			}
			if progress != nil {
				progress(g.S * (t + 1 - from))
			}
			from = t + 1
		}
	}
	if cfg.EvalEvery > 0 {
		out := make([]float64, g.S*g.maxEvals)
		if err := g.q.Download(cuda.Bytes(out), g.evOut); err != nil {
			return nil, err
		}
		for s := range traces {
			for i, iter := range g.evalIters {
				traces[s].Eval = append(traces[s].Eval, EvalPoint{Iter: iter, SumRate: out[s*g.maxEvals+i]})
			}
		}
	}
	return traces, nil
}

// collect copies the sum-rates of iterations from..to-1 back and fails,
// as the CPU group does, at the first iteration where a seed's sum-rate is
// not finite.
func (g *deviceGroup) collect(from, to int, traces []SeedTrace) error {
	if err := g.q.Download(cuda.Bytes(g.traceHost), g.trace); err != nil {
		return err
	}
	for t := from; t < to; t++ {
		for s := range traces {
			sum := g.traceHost[s*traceChunk+t-from]
			if math.IsNaN(sum) || math.IsInf(sum, 0) {
				return fmt.Errorf("zo: mode %s, seed %d, iteration %d: the sum-rate is %v; the policies diverged (alpha = %g, mu = %g too large?)",
					g.cfg.Mode, g.seeds[s], t+1, sum, g.cfg.Alpha, g.cfg.Mu)
			}
			traces[s].SumRate[t] = sum
		}
	}
	return nil
}

// forwardArgs are the arguments of a forward kernel: policies theta (+ mu u
// when u is not 0) on the observations x of nb samples per seed.
func (g *deviceGroup) forwardArgs(u cuda.Ptr, x cuda.Ptr, xSeed int, power cuda.Ptr, pSeed int, nb int) []uint64 {
	uSeed, uAgent := g.A*g.slots*g.P, g.slots*g.P
	if g.A == 1 {
		uAgent = 0
	}
	return []uint64{
		g.theta.Arg(), i64(g.thetaSeedStride), i64(g.thetaAgentStride),
		u.Arg(), i64(uSeed), i64(uAgent), cuda.F32(float32(g.cfg.Mu)),
		x.Arg(), i64(xSeed), power.Arg(), i64(pSeed),
		cuda.I32(g.S), cuda.I32(g.N), cuda.I32(nb), cuda.I32(g.K), g.hidden.Arg(), cuda.I32(g.layers), cuda.F32(float32(g.cfg.Pmax)),
	}
}

// step issues iteration t for every seed (see group.step).
func (g *deviceGroup) step(t int) error {
	cfg := g.cfg
	S, N, B, K, P, A, slots := g.S, g.N, g.B, g.K, g.P, g.A, g.slots
	B2, nn := 2*B, N*N
	hSeed, xSeed, pSeed := B2*nn, B2*N*K, B2*N

	// 1. 2B channel samples and their observations.
	var err error
	if cfg.Channel == "rayleigh" {
		err = g.launch("zo_channel_rayleigh", S*nn, g.keys.Arg(), cuda.U64(stream(tagFading, 0, 0)),
			g.h.Arg(), i64(hSeed), cuda.I32(S), cuda.I32(nn), cuda.I32(B2), i64(t*B2))
	} else {
		err = g.launch("zo_channel_ar1", S*nn, g.keys.Arg(), cuda.U64(stream(tagFading, 0, 0)), g.pl.Arg(), g.f.Arg(),
			g.h.Arg(), i64(hSeed), cuda.I32(S), cuda.I32(nn), cuda.I32(B2), i64(t*B2),
			cuda.F32(g.arA), cuda.F32(g.arB), cuda.F32(g.threshold))
	}
	if err != nil {
		return err
	}
	block := min(threadsPerBlock, (N+31)/32*32)
	if err := g.q.Launch("zo_observe", cuda.D1(S), cuda.D1(block), g.h.Arg(), i64(hSeed), g.x.Arg(), i64(xSeed),
		g.prev.Arg(), cuda.I32(N), cuda.I32(K), cuda.I32(B2)); err != nil {
		return err
	}

	// 2. Perturbation directions into ring slot t mod slots.
	slot := t % slots
	explore := 0
	if cfg.Mode == ModeAsync && cfg.UpP < 1 {
		explore = 1
	}
	if err := g.launch("zo_perturb", S*A*((P+3)/4), g.keys.Arg(), cuda.U64(stream(tagPerturb, 0, uint64(t))), g.ring.Arg(),
		g.explored.Arg(), cuda.I32(S), cuda.I32(A), cuda.I32(P), cuda.I32(slots), cuda.I32(slot),
		cuda.I32(explore), cuda.U64(stream(tagExplore, 0, uint64(t))), cuda.F64(cfg.UpP)); err != nil {
		return err
	}

	// 3-4. Base and perturbed evaluations.
	if err := g.launch(g.forward, S*N*B, g.forwardArgs(0, g.x, xSeed, g.power, pSeed, B)...); err != nil {
		return err
	}
	if err := g.launch(g.forward, S*N*B, g.forwardArgs(g.ring.Add(int64(slot*P*4)), g.x.Add(int64(B*N*K*4)), xSeed,
		g.power.Add(int64(B*N*4)), pSeed, B)...); err != nil {
		return err
	}
	if err := g.launch("zo_rates", S*N, g.h.Arg(), i64(hSeed), g.power.Arg(), i64(pSeed), cuda.F64(cfg.Sigma2),
		g.rateBase.Arg(), cuda.I32(S), cuda.I32(N), cuda.I32(B)); err != nil {
		return err
	}
	if err := g.launch("zo_rates", S*N, g.h.Add(int64(B*nn*4)).Arg(), i64(hSeed), g.power.Add(int64(B*N*4)).Arg(), i64(pSeed),
		cuda.F64(cfg.Sigma2), g.ratePert.Arg(), cuda.I32(S), cuda.I32(N), cuda.I32(B)); err != nil {
		return err
	}

	// 5-7. Slopes and sum-rate, the scheduler, the update.
	if err := g.launch("zo_slopes", S, g.rateBase.Arg(), g.ratePert.Arg(), g.slopes.Arg(), cuda.F64(1/cfg.Mu),
		g.trace.Arg(), i64(traceChunk), cuda.I32(t%traceChunk), g.hist.Arg(), cuda.I32(g.depth), cuda.I32(t),
		cuda.I32(S), cuda.I32(N)); err != nil {
		return err
	}
	alpha := cfg.Alpha / math.Pow(float64(t+1), cfg.AlphaDecay)
	switch cfg.Mode {
	case ModeAsync:
		if err := g.launch("zo_relay", S*nn, cuda.I32(t), g.slopes.Arg(), g.ts.Arg(), g.val.Arg(), g.sendTs.Arg(), g.send.Arg(),
			g.keepTs.Arg(), g.keep.Arg(), g.inStart.Arg(), g.inFrom.Arg(), g.keys.Arg(),
			cuda.U64(stream(tagLink, 0, uint64(t))), cuda.F64(cfg.TxP*cfg.RxP), cuda.I32(S), cuda.I32(N)); err != nil {
			return err
		}
		g.sendTs, g.keepTs = g.keepTs, g.sendTs
		g.send, g.keep = g.keep, g.send
		err = g.launch("zo_relay_coef", S*N, cuda.I32(t), g.ts.Arg(), g.val.Arg(), g.coef64.Arg(), g.coef.Arg(),
			g.explored.Arg(), cuda.F64(alpha), cuda.I32(S), cuda.I32(N), cuda.I32(slots))
	case ModeFixedDelay:
		err = g.launch("zo_delay_coef", S*N, cuda.I32(t), g.delay.Arg(), g.hist.Arg(), cuda.I32(g.depth), g.coef64.Arg(),
			g.coef.Arg(), g.explored.Arg(), cuda.F64(alpha), cuda.I32(S), cuda.I32(N), cuda.I32(slots))
	default: // sync, central-zo
		err = g.launch("zo_global_coef", S, g.slopes.Arg(), g.coef.Arg(), g.explored.Arg(), cuda.F64(alpha),
			cuda.I32(S), cuda.I32(N), cuda.I32(A))
	}
	if err != nil {
		return err
	}
	return g.launch("zo_update", S*A*P, g.theta.Arg(), g.ring.Arg(), g.coef.Arg(), cuda.I32(S), cuda.I32(A), cuda.I32(P), cuda.I32(slots))
}

// evaluate issues the held-out evaluation of the current policies after
// iter iterations; the sum-rates are copied back at the end of the run.
func (g *deviceGroup) evaluate(iter int) error {
	S, N, M := g.S, g.N, g.M
	col := len(g.evalIters)
	if col >= g.maxEvals {
		return fmt.Errorf("zo: evaluation %d of at most %d", col+1, g.maxEvals)
	}
	g.evalIters = append(g.evalIters, iter)
	if err := g.launch(g.forward, S*N*M, g.forwardArgs(0, g.evX, M*N*g.K, g.evPower, M*N, M)...); err != nil {
		return err
	}
	if err := g.launch("zo_rates", S*N, g.evH.Arg(), i64(M*N*N), g.evPower.Arg(), i64(M*N), cuda.F64(g.cfg.Sigma2),
		g.evRate.Arg(), cuda.I32(S), cuda.I32(N), cuda.I32(M)); err != nil {
		return err
	}
	return g.launch("zo_slopes", S, g.evRate.Arg(), 0, 0, cuda.F64(0), g.evOut.Arg(), i64(g.maxEvals), cuda.I32(col),
		0, cuda.I32(0), cuda.I32(0), cuda.I32(S), cuda.I32(N))
}

// i64 is the argument slot of a long long parameter.
func i64(v int) uint64 { return uint64(int64(v)) }
