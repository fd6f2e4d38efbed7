package zo

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels/cpu"
	"github.com/batchrun/batchrun/kernels/philox"
	"github.com/batchrun/batchrun/policy"
)

// This file holds a literal float64 reference implementation of the spec's
// algorithm (zo-wireless sections 1-5), one seed at a time: no batching, no
// age grouping, no ring buffer. Every past perturbation u_k(tau) is kept in a
// map, every stored message is a (timestamp, slope) pair, and the update is
// applied term by term,
//
//	theta_k += alpha_t * s_p(tau_kp) * u_k(tau_kp)   for every p,
//
// in float64. It draws the same random numbers as the production code (the
// stream layout of streams.go), so the two trajectories agree up to the
// rounding of the production path's float32 arithmetic.

// refMutation deliberately breaks the reference, to show that the comparison
// with the production code catches such a bug.
type refMutation int

const (
	mutNone          refMutation = iota
	mutSign                      // descend instead of ascend
	mutCurrentU                  // pair s_p(tau) with u_k(t) instead of u_k(tau)
	mutNoDrop                    // keep terms older than the buffer
	mutNoLinkDelay               // relay: forward the neighbour's current buffer, not the one of t-1
	mutAlwaysUp                  // async: ignore link failures
	mutAlwaysExplore             // async: ignore the up_p exploration draws
	mutDelayPlusOne              // fixed-delay: use s_p(t - d_kp - 1)
	mutHalfStep                  // alpha_t / 2
)

func (m refMutation) String() string {
	return [...]string{"none", "sign", "current-u", "no-drop", "no-link-delay", "always-up", "always-explore", "delay+1", "half-step"}[m]
}

// refResult is the outcome of one reference seed-run.
type refResult struct {
	sumRate []float64   // [T]
	theta   [][]float64 // final parameters [agent][P]
	eval    []EvalPoint
}

// refNeighbours is the spec's graph written out: i != j are neighbours iff
// some window [k, k+window), k = 0, stride, 2 stride, ..., holds both.
func refNeighbours(n, window, stride int) [][]int {
	out := make([][]int, n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if i == j {
				continue
			}
			for k := 0; k < n; k += stride {
				if k <= i && i < k+window && k <= j && j < k+window {
					out[i] = append(out[i], j)
					break
				}
			}
		}
	}
	return out
}

// refProcess builds a seed's channel process from the spec's geometry
// (paper: L = N, l = N/4) and the stream ids of streams.go.
func refProcess(t testing.TB, cfg *Config, key, tag uint64) channel.Process {
	t.Helper()
	if cfg.Channel == "rayleigh" {
		p, err := channel.NewRayleigh(cfg.N, key, stream(tag, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	L, l := float64(cfg.N), float64(cfg.N)/4
	if cfg.Geometry != "paper" || cfg.L != L || cfg.LOffset != l || cfg.Values.Float("L") != L || cfg.Values.Float("l") != l {
		t.Fatalf("reference supports the paper geometry only")
	}
	geo, err := channel.NewGeometry(cfg.N, L, l, key, stream(tagGeometry, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	p, err := channel.NewAR1(geo.PathLoss(cfg.PLExp), cfg.C, cfg.Threshold, key, stream(tag, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// refSample is one channel sample in float64 with its observation.
type refSample struct {
	h []float64   // [N*N]
	x [][]float64 // [N][K]
}

func nextSample(proc channel.Process, obs *channel.Observer, n, k int) refSample {
	h32 := make([]float32, n*n)
	x32 := make([]float32, n*k)
	proc.Next(h32)
	obs.Observe(h32, x32)
	s := refSample{h: make([]float64, n*n), x: make([][]float64, n)}
	for i, v := range h32 {
		s.h[i] = float64(v)
	}
	for i := range s.x {
		s.x[i] = make([]float64, k)
		for c := range s.x[i] {
			s.x[i][c] = float64(x32[i*k+c])
		}
	}
	return s
}

// refMeanRates is the batch-mean rate of every link over samples with the
// policies theta(i) of the links.
func refMeanRates(cfg *Config, arch policy.Arch, samples []refSample, theta func(i int) []float64) []float64 {
	n := cfg.N
	mean := make([]float64, n)
	p := make([]float64, n)
	r := make([]float64, n)
	for _, smp := range samples {
		for i := 0; i < n; i++ {
			p[i] = policy.Forward64(arch, theta(i), smp.x[i], cfg.Pmax)
		}
		channel.Rates(smp.h, p, cfg.Sigma2, r)
		for i := range mean {
			mean[i] += r[i] / float64(len(samples))
		}
	}
	return mean
}

type refPair struct {
	ts int // -1: nothing known
	s  float64
}

// refRun runs one seed of one mode literally, as the spec describes it.
func refRun(t testing.TB, cfg *Config, mode string, seed uint64, mut refMutation) refResult {
	t.Helper()
	key := SeedKey(seed)
	N, K, B, T := cfg.N, cfg.K, cfg.B, cfg.T
	arch := policy.Arch{In: K, Hidden: cfg.Hidden}
	P := arch.NumParams()
	A := N
	if mode == ModeCentralZO {
		A = 1
	}
	agentOf := func(i int) int {
		if A == 1 {
			return 0
		}
		return i
	}

	// Initial weights: PyTorch's nn.Linear init, the same for every agent
	// (init=shared) or one per agent.
	theta := make([][]float64, A)
	for a := range theta {
		w := make([]float32, P)
		agent := uint64(0)
		if cfg.Init == "independent" {
			agent = uint64(a)
		}
		policy.InitUniform(w, arch, key, stream(tagInit, agent, 0))
		theta[a] = make([]float64, P)
		for i, v := range w {
			theta[a][i] = float64(v)
		}
	}

	proc := refProcess(t, cfg, key, tagFading)
	obs := channel.NewObserver(N, K)

	// Held-out evaluation set: K burn-in samples, then eval_samples samples
	// of the tagEvalFading process on the same geometry.
	var evalSamples []refSample
	var res refResult
	evaluate := func(iter int) {
		if cfg.EvalEvery <= 0 {
			return
		}
		if evalSamples == nil {
			ep := refProcess(t, cfg, key, tagEvalFading)
			eo := channel.NewObserver(N, K)
			for b := 0; b < K; b++ {
				nextSample(ep, eo, N, K)
			}
			for b := 0; b < cfg.EvalSamples; b++ {
				evalSamples = append(evalSamples, nextSample(ep, eo, N, K))
			}
		}
		rates := refMeanRates(cfg, arch, evalSamples, func(i int) []float64 { return theta[agentOf(i)] })
		sum := 0.0
		for _, r := range rates {
			sum += r
		}
		res.eval = append(res.eval, EvalPoint{Iter: iter, SumRate: sum})
	}

	// Every perturbation ever drawn: u[{agent, tau}], nil when the agent did
	// not explore (u = 0).
	u := map[[2]int][]float64{}
	zero := make([]float64, P)
	uOf := func(a, tau int) []float64 {
		if v := u[[2]int{a, tau}]; v != nil {
			return v
		}
		return zero
	}
	slopeHist := [][]float64{} // [t][p]

	// async: stored pairs and the messages kept for the next iteration.
	nb := refNeighbours(N, cfg.Window, cfg.Stride)
	var edges [][2]int // (from, to)
	for to := 0; to < N; to++ {
		for _, from := range nb[to] {
			edges = append(edges, [2]int{from, to})
		}
	}
	newPairs := func() [][]refPair {
		m := make([][]refPair, N)
		for k := range m {
			m[k] = make([]refPair, N)
			for p := range m[k] {
				m[k][p] = refPair{ts: -1}
			}
		}
		return m
	}
	stored, msgs := newPairs(), newPairs()

	// fixed-delay: d_kp uniform on {1..D}, d_kk = 0.
	d := make([][]int, N)
	for k := range d {
		d[k] = make([]int, N)
		for p := range d[k] {
			if p != k {
				x := philox.Float64(key, stream(tagDelay, 0, 0), uint64(k*N+p))
				d[k][p] = 1 + min(int(math.Floor(x*float64(cfg.D))), cfg.D-1)
			}
		}
	}

	res.sumRate = make([]float64, T)
	evaluate(0)
	for it := 0; it < T; it++ {
		// 1. 2B samples continuing the fading process and the observation.
		samples := make([]refSample, 2*B)
		for b := range samples {
			samples[b] = nextSample(proc, obs, N, K)
		}
		// 2. u_k(t); in async mode agent k explores with probability up_p.
		for a := 0; a < A; a++ {
			if mode == ModeAsync && mut != mutAlwaysExplore &&
				!(philox.Float64(key, stream(tagExplore, 0, uint64(it)), uint64(a)) < cfg.UpP) {
				continue
			}
			v := make([]float64, P)
			for p := range v {
				v[p] = float64(philox.Normal32(key, stream(tagPerturb, uint64(a), uint64(it)), uint64(p)))
			}
			u[[2]int{a, it}] = v
		}
		// 3-4. Base and jointly perturbed evaluations.
		base := refMeanRates(cfg, arch, samples[:B], func(i int) []float64 { return theta[agentOf(i)] })
		pert := refMeanRates(cfg, arch, samples[B:], func(i int) []float64 {
			a := agentOf(i)
			w := make([]float64, P)
			for p := range w {
				w[p] = theta[a][p] + cfg.Mu*uOf(a, it)[p]
			}
			return w
		})
		// 5. Slopes; log the base batch sum-rate.
		s := make([]float64, N)
		for i := range s {
			s[i] = (pert[i] - base[i]) / cfg.Mu
			res.sumRate[it] += base[i]
		}
		slopeHist = append(slopeHist, s)

		// 7. Update, term by term.
		alpha := cfg.Alpha / math.Pow(float64(it+1), cfg.AlphaDecay)
		if mut == mutHalfStep {
			alpha /= 2
		}
		apply := func(k, tau int, slope float64) {
			if it-tau >= cfg.Buffer && mut != mutNoDrop {
				return // u_k(tau) no longer available
			}
			if mut == mutCurrentU {
				tau = it
			}
			sign := 1.0
			if mut == mutSign {
				sign = -1
			}
			v := uOf(k, tau)
			for p := range theta[k] {
				theta[k][p] += sign * alpha * slope * v[p]
			}
		}
		switch mode {
		case ModeSync, ModeCentralZO:
			S := 0.0
			for _, v := range s {
				S += v
			}
			for k := 0; k < A; k++ {
				apply(k, it, S)
			}
		case ModeFixedDelay:
			for k := 0; k < N; k++ {
				for p := 0; p < N; p++ {
					dl := d[k][p]
					if mut == mutDelayPlusOne && p != k {
						dl++
					}
					tau := it - dl
					if tau < 0 {
						continue
					}
					apply(k, tau, slopeHist[tau][p])
				}
			}
		case ModeAsync:
			// 6. Own slope at once; keep the buffers as next iteration's
			// messages; receive the messages kept at t-1 over the links
			// that succeed, newest wins.
			for k := 0; k < N; k++ {
				stored[k][k] = refPair{it, s[k]}
			}
			keep := newPairs()
			for k := range keep {
				copy(keep[k], stored[k])
			}
			send := msgs
			if mut == mutNoLinkDelay {
				send = keep
			}
			for e, ed := range edges {
				from, to := ed[0], ed[1]
				up := philox.Float64(key, stream(tagLink, 0, uint64(it)), uint64(e)) < cfg.TxP*cfg.RxP
				if !up && mut != mutAlwaysUp {
					continue
				}
				for p := 0; p < N; p++ {
					if m := send[from][p]; m.ts > stored[to][p].ts {
						stored[to][p] = m
					}
				}
			}
			msgs = keep
			for k := 0; k < N; k++ {
				for p := 0; p < N; p++ {
					if pr := stored[k][p]; pr.ts >= 0 {
						apply(k, pr.ts, pr.s)
					}
				}
			}
		default:
			t.Fatalf("unknown mode %q", mode)
		}
		if cfg.EvalEvery > 0 && (it+1)%cfg.EvalEvery == 0 {
			evaluate(it + 1)
		}
	}
	res.theta = theta
	return res
}

// prodGroup runs one mode of cfg for the seeds through the production group
// and returns the traces and the final parameters [seed][agent][P].
func prodGroup(t testing.TB, cfg *Config, mode string, seeds []uint64) ([]SeedTrace, [][][]float64) {
	t.Helper()
	g, err := newGroup(cfg, mode, cpu.New(), seeds)
	if err != nil {
		t.Fatal(err)
	}
	traces, err := g.run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	theta := make([][][]float64, g.S)
	for s := range theta {
		theta[s] = make([][]float64, g.agents)
		for a := range theta[s] {
			theta[s][a] = make([]float64, g.P)
			for p := range theta[s][a] {
				theta[s][a][p] = float64(g.theta[(s*g.agents+a)*g.P+p])
			}
		}
	}
	return traces, theta
}

// thetaDiff is max |a-b| / (1 + max |b|) over all parameters.
func thetaDiff(a, b [][]float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	worst, scale := 0.0, 0.0
	for k := range a {
		if len(a[k]) != len(b[k]) {
			return math.Inf(1)
		}
		for p := range a[k] {
			d := math.Abs(a[k][p] - b[k][p])
			if math.IsNaN(d) {
				return math.Inf(1)
			}
			worst = max(worst, d)
			scale = max(scale, math.Abs(b[k][p]))
		}
	}
	return worst / (1 + scale)
}

// Tolerances of the float32 production path against the float64 reference.
// Over 30 seeds of every case below the largest deviations are about 1.2e-4
// (sum-rate, an isolated iteration where float32 cancellation in a forward
// pass with large observations shows; it does not accumulate) and 1.3e-4
// (parameters); with the 3 seeds tested they stay below 1e-5. Every mutation
// of the reference moves both by more than 4e-2.
const (
	refTolTrace = 1e-3
	refTolTheta = 1e-3
)

type refCase struct {
	name      string
	mode      string
	overrides []string
	mutations []refMutation // each must make the comparison fail
}

func refCases() []refCase {
	small := func(extra ...string) []string {
		return append([]string{"K=3"}, extra...)
	}
	return []refCase{
		{
			// A chain of windows 0-1-2, 2-3-4, 4-5-6: up to 3 hops, so ages
			// up to 5 with every link up; buffer 3 drops the far slopes.
			name: "async-chain", mode: ModeAsync,
			overrides: small("N=7", "hidden=4,3", "B=2", "T=40", "window=3", "stride=2", "buffer=3", "up_p=0.8", "tx_p=0.9", "rx_p=0.85"),
			mutations: []refMutation{mutSign, mutCurrentU, mutNoDrop, mutNoLinkDelay, mutAlwaysUp, mutAlwaysExplore, mutHalfStep},
		},
		{
			// The paper's graph (window 6, stride 3) on 9 agents: 2 hops.
			name: "async-paper-graph", mode: ModeAsync,
			overrides: small("N=9", "hidden=5", "B=3", "T=30", "buffer=4", "up_p=0.7", "tx_p=0.8", "rx_p=0.9", "E=10", "eval_samples=6"),
			mutations: []refMutation{mutSign, mutCurrentU, mutNoDrop, mutNoLinkDelay, mutAlwaysUp, mutAlwaysExplore},
		},
		{
			name: "async-independent-init", mode: ModeAsync,
			overrides: small("N=6", "hidden=4,3", "B=2", "T=25", "buffer=2", "init=independent", "window=3", "stride=2"),
			mutations: []refMutation{mutSign, mutCurrentU, mutNoDrop},
		},
		{
			name: "fixed-delay", mode: ModeFixedDelay,
			overrides: small("N=5", "hidden=4,3", "B=2", "T=30", "D=2", "E=15", "eval_samples=5"),
			mutations: []refMutation{mutSign, mutCurrentU, mutDelayPlusOne},
		},
		{
			// buffer 3 < D+1: delays 3 and 4 fall out of the buffer.
			name: "fixed-delay-truncated", mode: ModeFixedDelay,
			overrides: small("N=5", "hidden=5", "B=3", "T=30", "D=4", "buffer=3"),
			mutations: []refMutation{mutSign, mutCurrentU, mutNoDrop},
		},
		{
			name: "sync", mode: ModeSync,
			overrides: small("N=6", "hidden=5", "B=3", "T=30", "E=10", "eval_samples=5"),
			mutations: []refMutation{mutSign, mutHalfStep},
		},
		{
			name: "central-zo", mode: ModeCentralZO,
			overrides: small("N=6", "hidden=4,3", "B=2", "T=30", "E=10", "eval_samples=5"),
			mutations: []refMutation{mutSign, mutHalfStep},
		},
		{
			name: "async-rayleigh", mode: ModeAsync,
			overrides: small("channel=rayleigh", "Pmax=1", "N=5", "hidden=4,3", "B=3", "T=30", "window=3", "stride=2", "buffer=3", "up_p=0.8"),
			mutations: []refMutation{mutSign, mutCurrentU},
		},
		{
			name: "central-zo-rayleigh", mode: ModeCentralZO,
			overrides: small("channel=rayleigh", "Pmax=1", "N=4", "hidden=5", "B=2", "T=30"),
			mutations: []refMutation{mutSign},
		},
	}
}

// refCompare runs the reference for every seed and returns the largest
// deviations of production's traces, parameters and evaluations from it.
func refCompare(t testing.TB, cfg *Config, mode string, seeds []uint64, traces []SeedTrace, theta [][][]float64, mut refMutation) (dTrace, dTheta, dEval float64) {
	for s, seed := range seeds {
		ref := refRun(t, cfg, mode, seed, mut)
		dTrace = max(dTrace, maxRelDiff(traces[s].SumRate, ref.sumRate))
		if theta != nil {
			dTheta = max(dTheta, thetaDiff(theta[s], ref.theta))
		}
		if len(traces[s].Eval) != len(ref.eval) {
			dEval = math.Inf(1)
			continue
		}
		for i, e := range traces[s].Eval {
			if e.Iter != ref.eval[i].Iter {
				dEval = math.Inf(1)
			}
			dEval = max(dEval, relDiff(e.SumRate, ref.eval[i].SumRate))
		}
	}
	return
}

// TestReferenceTrajectories compares the production run with the literal
// float64 reference, seed by seed: the per-iteration sum-rate trace (through
// Run and through a group), the final parameters and the held-out
// evaluations. Then it breaks the reference in ways a production bug could
// and checks that each break would have been caught.
func TestReferenceTrajectories(t *testing.T) {
	seeds := []uint64{0, 1, 2}
	for _, tc := range refCases() {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, append([]string{"mode=" + tc.mode}, tc.overrides...)...)
			// Run in groups of 2 and 1 seeds; the group of all seeds gives
			// the final parameters.
			runTraces := append(runOrFatal(t, cfg, seeds[:2]), runOrFatal(t, cfg, seeds[2:])...)
			traces, theta := prodGroup(t, &cfg, tc.mode, seeds)
			for s := range seeds {
				if d := maxRelDiff(runTraces[s].SumRate, traces[s].SumRate); d != 0 {
					t.Errorf("seed %d: Run and a group of all seeds differ by %g", seeds[s], d)
				}
			}
			dTrace, dTheta, dEval := refCompare(t, &cfg, tc.mode, seeds, runTraces, theta, mutNone)
			t.Logf("max deviation from reference: trace %.2g, theta %.2g, eval %.2g", dTrace, dTheta, dEval)
			if dTrace > refTolTrace {
				t.Errorf("sum-rate trace deviates from the reference by %g > %g", dTrace, refTolTrace)
			}
			if dTheta > refTolTheta {
				t.Errorf("final parameters deviate from the reference by %g > %g", dTheta, refTolTheta)
			}
			if dEval > refTolTrace {
				t.Errorf("held-out evaluations deviate from the reference by %g > %g", dEval, refTolTrace)
			}
			if cfg.EvalEvery > 0 && len(runTraces[0].Eval) != cfg.T/cfg.EvalEvery+1 {
				t.Errorf("got %d evaluations, want %d", len(runTraces[0].Eval), cfg.T/cfg.EvalEvery+1)
			}
			// Sanity of the sum-rate itself: positive, finite, and the
			// policies actually move.
			for s, tr := range traces {
				for it, x := range tr.SumRate {
					if !(x > 0) || math.IsInf(x, 0) {
						t.Fatalf("seed %d iteration %d: sum-rate %g", seeds[s], it, x)
					}
				}
			}

			for _, mut := range tc.mutations {
				mTrace, mTheta, _ := refCompare(t, &cfg, tc.mode, seeds, traces, theta, mut)
				t.Logf("mutation %-14s: trace %.2g, theta %.2g", mut, mTrace, mTheta)
				if mTrace <= refTolTrace {
					t.Errorf("mutation %s of the reference is not caught by the trace comparison (deviation %g <= %g)", mut, mTrace, refTolTrace)
				}
				if mTheta <= refTolTheta {
					t.Errorf("mutation %s of the reference is not caught by the parameter comparison (deviation %g <= %g)", mut, mTheta, refTolTheta)
				}
			}
		})
	}
}

// TestReferenceNeighbours checks the production graph against the literal
// definition for a range of shapes.
func TestReferenceNeighbours(t *testing.T) {
	for _, n := range []int{2, 3, 5, 7, 9, 24, 31} {
		for _, ws := range [][2]int{{6, 3}, {3, 2}, {2, 1}, {4, 4}, {5, 7}} {
			got := Neighbours(n, ws[0], ws[1])
			want := refNeighbours(n, ws[0], ws[1])
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Neighbours(%d, %d, %d) = %v, want %v", n, ws[0], ws[1], got, want)
			}
		}
	}
}
