package asynpd

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/async"
)

// This file holds the fast Asyn-PD simulator (asyn.go), which works out
// broadcast deliveries lazily at snapshot time, to a naive reference
// written independently here: every (broadcast, worker) delivery is a queue
// event, each worker's buffer is updated when a newer broadcast arrives, a
// snapshot is simply the buffer, and the server recomputes its mean from
// its buffer on every receive. The reference shares with the fast simulator
// only the world's random draws and numeric steps (newWorld, initial,
// computeTime, uploadDelay, pause, step, dualStep, Problem.Dual, and
// broadcastWord for the delay of broadcast k to worker i) and the
// recorder's measurement of a state (sample).

// refOrder gives the reference's event kinds; their numeric order is the
// processing order at equal times (then worker, then Seq, as in
// async.Event.Before).
type refOrder struct {
	receive, arrive, complete, resume uint8
}

// refOrderRight is the order asyn.go's semantics require: server receives,
// then broadcast arrivals, then worker completions, then returns from
// outages.
var refOrderRight = refOrder{receive: 0, arrive: 1, complete: 2, resume: 3}

// refOptions configures the reference.
type refOptions struct {
	order refOrder
	// runningSum makes the server keep its buffer's sum as the fast
	// simulator does (updated on each accepted receive, recomputed after
	// every n of them) instead of recomputing it on every receive: the
	// same rounding, so the runs must agree bit for bit.
	runningSum bool
	// lastWins (a mutant) makes every buffer keep the message that arrived
	// last instead of the newest one.
	lastWins bool
}

// refRun is the outcome of one run.
type refRun struct {
	events []Event // completions, receives and resumes, in the fast sim's kinds
	// snaps[j] is the broadcast that the worker of events[j] computes with
	// after the event (the one in its buffer at its last snapshot).
	snaps  []int64
	theta  []float64
	lambda []float64
	res    *SeedResult
	// The reference's counts of messages that newest-wins drops: stale
	// models at the server, broadcasts overtaken by a newer one.
	staleReceives, staleArrivals int64
	// The fast simulator's count of broadcasts trimmed away (its base).
	trimmed int64
}

// runReference runs the naive event-driven Asyn-PD on one seed.
func runReference(cfg *Config, star *Saddle, seed uint64, opt refOptions) *refRun {
	ord := opt.order
	w := newWorld(cfg, seed)
	rec := newRecorder(cfg, star, seed) // only for thetaStar and sample
	n, d := w.n, w.d
	p := w.p

	theta := make([]float64, n*d)
	w.initial(theta)
	lambda := make([]float64, p.M())
	gval := make([]float64, p.M())

	// The server's buffer: the newest model of each worker by the sender's
	// update count (0: the initial model).
	buf := append([]float64(nil), theta...)
	bufSeq := make([]int64, n)
	// The buffer's sum: recomputed on every receive, or (opt.runningSum)
	// kept up to date and recomputed after every n accepted receives.
	sum := make([]float64, d)
	accepted := 0
	resum := func() {
		clear(sum)
		for i := range n {
			for k := range d {
				sum[k] += buf[i*d+k]
			}
		}
		accepted = 0
	}
	meanOfBuffer := func() []float64 {
		if !opt.runningSum {
			resum()
		}
		m := make([]float64, d)
		for k := range d {
			m[k] = sum[k] / float64(n)
		}
		return m
	}
	resum()

	// Broadcast k's message is bcast[k]; broadcast 0 is the initial message
	// h(0) = grad G(thetatilde(0))^T lambda(0), in every buffer at time 0.
	h0 := make([]float64, d)
	p.Dual(meanOfBuffer(), lambda, h0)
	bcast := [][]float64{h0}
	held := make([]int64, n) // the newest broadcast in each worker's buffer
	snap := make([]int64, n) // the broadcast each worker's computation uses
	upd := make([]int64, n)

	// Models in flight to the server: payload[e.Msg].
	var payload [][]float64

	var q async.Queue
	var t, updates, receives int64
	gamma := func() float64 {
		g := cfg.A / (cfg.B + float64(t))
		t++
		return g
	}
	start := func(i int, tau float64) {
		snap[i] = held[i]
		u := upd[i]
		q.Push(async.Event{Time: tau + w.computeTime(i, u), Kind: ord.complete, Worker: int32(i), Seq: u})
	}

	out := &refRun{res: &SeedResult{Seed: seed}}
	res := out.res
	sample := func(time float64) Sample { return rec.sample(time, t, updates, theta, lambda) }
	gridTime := func(k int) float64 {
		if k == cfg.Grid {
			return cfg.Horizon
		}
		return float64(k) * cfg.Horizon / float64(cfg.Grid)
	}
	iterIndex := 0
	nextIter := IterCount(0, cfg.TracePoints)

	for i := range n {
		start(i, 0)
	}
	res.Grid = append(res.Grid, sample(0))
	nextGrid := 1
	for q.Len() > 0 && q.Peek().Time <= cfg.Horizon {
		e := q.Pop()
		// Grid point g shows the state after every event at times <= g.
		for ; nextGrid <= cfg.Grid && gridTime(nextGrid) < e.Time; nextGrid++ {
			res.Grid = append(res.Grid, sample(gridTime(nextGrid)))
		}
		i := int(e.Worker)
		tau := e.Time
		var kind uint8
		switch e.Kind {
		case ord.arrive:
			if e.Seq > held[i] || opt.lastWins {
				held[i] = e.Seq
			} else {
				out.staleArrivals++
			}
			continue // not an iteration, not observed
		case ord.complete:
			kind = kindComplete
			if e.Seq != upd[i] {
				panic(fmt.Sprintf("reference: worker %d completes update %d, holds %d", i, e.Seq, upd[i]))
			}
			u := upd[i]
			x := theta[i*d : (i+1)*d]
			w.step(x, bcast[snap[i]], i, u, gamma())
			upd[i]++
			updates++
			payload = append(payload, append([]float64(nil), x...))
			q.Push(async.Event{Time: tau + w.uploadDelay(i, u), Kind: ord.receive, Worker: int32(i),
				Msg: int32(len(payload) - 1), Seq: u + 1})
			if pause := w.pause(i, u); pause > 0 {
				q.Push(async.Event{Time: tau + pause, Kind: ord.resume, Worker: int32(i), Seq: u + 1})
			} else {
				start(i, tau)
			}
		case ord.receive:
			kind = kindReceive
			g := gamma()
			receives++
			if e.Seq > bufSeq[i] || opt.lastWins {
				old := buf[i*d : (i+1)*d]
				for k, v := range payload[e.Msg] {
					sum[k] += v - old[k]
				}
				copy(old, payload[e.Msg])
				bufSeq[i] = e.Seq
				accepted++
				if accepted >= n {
					resum()
				}
			} else {
				out.staleReceives++
			}
			payload[e.Msg] = nil
			h := make([]float64, d)
			w.dualStep(meanOfBuffer(), lambda, gval, h, g)
			k := int64(len(bcast))
			bcast = append(bcast, h)
			for j := range n {
				// The delay of broadcast k to worker j: the package's
				// definition, a pure function of (seed, k, j).
				delay := cfg.Broadcast.Sample(broadcastWord(w.key, j, k))
				q.Push(async.Event{Time: tau + delay, Kind: ord.arrive, Worker: int32(j), Seq: k})
			}
		case ord.resume:
			kind = kindResume
			start(i, tau)
		default:
			panic(fmt.Sprintf("reference: unknown event kind %d", e.Kind))
		}
		out.events = append(out.events, Event{Time: tau, Kind: kind, Worker: i, Iteration: t})
		out.snaps = append(out.snaps, snap[i])
		if kind != kindResume {
			if t == nextIter {
				res.Iters = append(res.Iters, sample(tau))
				iterIndex++
				nextIter = IterCount(iterIndex, cfg.TracePoints)
			}
		}
	}
	for ; nextGrid <= cfg.Grid; nextGrid++ {
		res.Grid = append(res.Grid, sample(gridTime(nextGrid)))
	}
	res.Iterations, res.Updates, res.Receives = t, updates, receives
	out.theta, out.lambda = theta, lambda
	return out
}

// runFast runs asyn.go's simulator on one seed, observing every event.
func runFast(t *testing.T, cfg *Config, star *Saddle, seed uint64) *refRun {
	t.Helper()
	out := &refRun{}
	w := newWorld(cfg, seed)
	rec := newRecorder(cfg, star, seed)
	var s *asyn
	s = newAsyn(w, rec, func(e Event) {
		out.events = append(out.events, e)
		out.snaps = append(out.snaps, s.held[e.Worker])
	})
	if err := s.run(context.Background(), nil); err != nil {
		t.Fatalf("fast simulator: %v", err)
	}
	out.theta, out.lambda, out.res, out.trimmed = s.theta, s.lambda, rec.res, s.base
	return out
}

func refKindName(k uint8) string {
	switch k {
	case kindReceive:
		return "receive"
	case kindComplete:
		return "complete"
	case kindResume:
		return "resume"
	}
	return fmt.Sprintf("kind%d", k)
}

func refEventString(e Event) string {
	return fmt.Sprintf("{time %v (%b), %s, worker %d, t %d}", e.Time, e.Time, refKindName(e.Kind), e.Worker, e.Iteration)
}

// refTol is the tolerance of the models and samples when the reference
// recomputes the server's mean on every receive while the fast simulator
// keeps a running sum (recomputed after every n accepted receives): their
// thetatilde differ in the last bits between recomputations, and so do the
// dual steps and messages. The rounding is relative to the O(1) terms of
// the updates (the models in their boxes, ||thetatilde||^2 and the budget),
// not to lambda, which is often near 0, so values are compared relative to
// max(|a|, |b|, 1); squared errors are compared as distances (their square
// roots), which the models' rounding moves by as much as it moves them.
const refTol = 1e-12

// refDiff returns the difference of a and b relative to max(|a|, |b|, 1).
func refDiff(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// refSame reports whether a and b are the same float64, bit for bit.
func refSame(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

// refCompare returns the differences between the fast run and the
// reference (nil if they agree) and the largest refDiff of the models and
// samples. The events and counts must be identical; the models and samples
// bit for bit if exact, else to refTol.
func refCompare(fast, ref *refRun, exact bool) (errs []string, worst float64) {
	// Events: identical, times included.
	nf, nr := len(fast.events), len(ref.events)
	for j := range min(nf, nr) {
		if fast.events[j] != ref.events[j] {
			errs = append(errs, fmt.Sprintf("event %d of %d (fast) / %d (reference) differs:\n\tfast      %s\n\treference %s",
				j, nf, nr, refEventString(fast.events[j]), refEventString(ref.events[j])))
			break
		}
		if fast.snaps[j] != ref.snaps[j] {
			errs = append(errs, fmt.Sprintf("snapshot after event %d %s: worker %d computes with broadcast %d (fast) vs %d (reference)",
				j, refEventString(fast.events[j]), fast.events[j].Worker, fast.snaps[j], ref.snaps[j]))
			break
		}
	}
	if len(errs) == 0 && nf != nr {
		j := min(nf, nr)
		extra := "reference " + refEventString(ref.events[min(j, nr-1)])
		if nf > nr {
			extra = "fast " + refEventString(fast.events[j])
		}
		errs = append(errs, fmt.Sprintf("the fast run has %d events, the reference %d; first unmatched event %d: %s", nf, nr, j, extra))
	}

	// agree compares one value (what names it) and records the first
	// disagreement of a group; it reports whether they agree.
	agree := func(what string, a, b float64) bool {
		d := refDiff(a, b)
		worst = math.Max(worst, d)
		if exact && !refSame(a, b) || !exact && !(d <= refTol) {
			errs = append(errs, fmt.Sprintf("%s: %v (fast) vs %v (reference), difference %.3g (bits %#x vs %#x)",
				what, a, b, d, math.Float64bits(a), math.Float64bits(b)))
			return false
		}
		return true
	}
	vec := func(name string, a, b []float64) {
		if len(a) != len(b) {
			errs = append(errs, fmt.Sprintf("%s: length %d (fast) vs %d (reference)", name, len(a), len(b)))
			return
		}
		for j := range a {
			if !agree(fmt.Sprintf("%s[%d]", name, j), a[j], b[j]) {
				return
			}
		}
	}
	vec("theta", fast.theta, ref.theta)
	vec("lambda", fast.lambda, ref.lambda)

	dist := math.Sqrt
	if exact {
		dist = func(x float64) float64 { return x }
	}
	samples := func(name string, a, b []Sample) {
		if len(a) != len(b) {
			errs = append(errs, fmt.Sprintf("%s: %d samples (fast) vs %d (reference)", name, len(a), len(b)))
			return
		}
		for j := range a {
			x, y := a[j], b[j]
			if x.Time != y.Time || x.Iteration != y.Iteration || x.Updates != y.Updates {
				errs = append(errs, fmt.Sprintf("%s[%d]: (time %v, t %d, updates %d) (fast) vs (time %v, t %d, updates %d) (reference)",
					name, j, x.Time, x.Iteration, x.Updates, y.Time, y.Iteration, y.Updates))
				return
			}
			at := fmt.Sprintf("%s[%d] (time %v, t %d)", name, j, x.Time, x.Iteration)
			if !agree(at+" err_theta", dist(x.ErrTheta), dist(y.ErrTheta)) ||
				!agree(at+" err_lambda", dist(x.ErrLambda), dist(y.ErrLambda)) ||
				!agree(at+" lambda_norm", x.LambdaNorm, y.LambdaNorm) {
				return
			}
		}
	}
	samples("grid", fast.res.Grid, ref.res.Grid)
	samples("iters", fast.res.Iters, ref.res.Iters)
	fr, rr := fast.res, ref.res
	if fr.Iterations != rr.Iterations || fr.Updates != rr.Updates || fr.Receives != rr.Receives || fr.Rounds != rr.Rounds {
		errs = append(errs, fmt.Sprintf("counts (iterations, updates, receives, rounds): (%d, %d, %d, %d) (fast) vs (%d, %d, %d, %d) (reference)",
			fr.Iterations, fr.Updates, fr.Receives, fr.Rounds, rr.Iterations, rr.Updates, rr.Receives, rr.Rounds))
	}
	return errs, worst
}

// refConfig resolves the defaults with overrides.
func refConfig(t *testing.T, set []string) (*Config, *Saddle) {
	t.Helper()
	v, err := Schema().Resolve(nil, set)
	if err != nil {
		t.Fatalf("%v: %v", set, err)
	}
	cfg, err := NewConfig(v)
	if err != nil {
		t.Fatalf("%v: %v", set, err)
	}
	star, err := cfg.Problem.Solve()
	if err != nil {
		t.Fatalf("%v: saddle point: %v", set, err)
	}
	return &cfg, star
}

var refConfigs = []struct {
	name string
	set  []string
}{
	{"defaults", []string{"horizon=300"}},
	{"n40", []string{"n=40", "horizon=100"}},
	{"exponential-delays", []string{"horizon=300", "broadcast=exponential", "upload=exponential"}},
	{"compute-exponential", []string{"horizon=300", "compute=exponential"}},
	{"compute-pareto", []string{"horizon=300", "compute=pareto"}},
	{"outages", []string{"horizon=300", "fail_prob=0.2", "fail_time=5"}},
	{"stragglers", []string{"horizon=300", "stragglers=1 3"}},
	{"zero-delays", []string{"horizon=100", "broadcast_hi=0", "upload_hi=0", "c_lo=1", "c_hi=1"}},
	{"broadcast-0.5-2", []string{"horizon=300", "broadcast_lo=0.5", "broadcast_hi=2"}},
}

var refSeeds = []uint64{1, 2, 3, 12345}

// TestReferenceAsyn holds the fast simulator to the naive reference on
// every configuration and seed, twice:
//
//   - with the reference's server keeping a running sum as the fast
//     simulator does: everything must agree bit for bit (the events and
//     their times, iteration counts and snapshots, the models, every grid
//     and iters sample, the counts);
//   - with the reference recomputing the mean on every receive: the events,
//     snapshots and counts must still be identical, the models and samples
//     agree to refTol.
//
// It also checks that the table exercises newest-wins (some model reaches
// the server after a newer one from its worker, and some broadcast reaches
// a worker after a newer one) and the fast simulator's trimming of old
// broadcasts.
func TestReferenceAsyn(t *testing.T) {
	var staleReceives, staleArrivals, trimmed int64
	for _, c := range refConfigs {
		t.Run(c.name, func(t *testing.T) {
			cfg, star := refConfig(t, c.set)
			for _, seed := range refSeeds {
				fast := runFast(t, cfg, star, seed)
				if len(fast.events) == 0 || fast.res.Receives == 0 || fast.res.Updates == 0 {
					t.Errorf("config %s, seed %d: %d events, %d receives, %d updates: the comparison is vacuous",
						c.name, seed, len(fast.events), fast.res.Receives, fast.res.Updates)
				}
				worst := 0.0
				var ref *refRun
				for _, running := range []bool{true, false} {
					ref = runReference(cfg, star, seed, refOptions{order: refOrderRight, runningSum: running})
					errs, w := refCompare(fast, ref, running)
					how := "the reference recomputing the mean on every receive (to a tolerance)"
					if running {
						how = "the reference keeping a running sum (bit for bit)"
					}
					if len(errs) > 0 {
						t.Errorf("config %s %q, seed %d: the fast simulator and %s disagree:\n%s",
							c.name, strings.Join(c.set, " "), seed, how, strings.Join(errs, "\n"))
					}
					if !running {
						worst = w
					}
				}
				trimmed += fast.trimmed
				staleReceives += ref.staleReceives
				staleArrivals += ref.staleArrivals
				t.Logf("seed %d: %d events, %d receives (%d stale), %d updates, %d broadcast arrivals overtaken, %d broadcasts trimmed; recomputed mean: largest difference %.3g",
					seed, len(fast.events), fast.res.Receives, ref.staleReceives, fast.res.Updates, ref.staleArrivals, fast.trimmed, worst)
			}
		})
	}
	if staleReceives == 0 || staleArrivals == 0 {
		t.Errorf("the configurations never exercise newest-wins: %d stale receives, %d overtaken broadcast arrivals", staleReceives, staleArrivals)
	}
	if trimmed == 0 {
		t.Errorf("the configurations never make the fast simulator trim its broadcasts")
	}
}

// TestReferenceMutants shows the comparison can fail, with references that
// are wrong on purpose:
//
//   - on the zero-delay configuration (every message arrives at once and
//     every worker completes at integer times, so many events share a
//     time), processing broadcast arrivals after completions at equal
//     times: no event time depends on a message, so the events are the
//     same, but workers compute with older broadcasts;
//   - on the same configuration, processing receives after completions at
//     equal times: the events are reordered;
//   - with exponential delays (which reorder messages), buffers that keep
//     the message that arrived last instead of the newest.
func TestReferenceMutants(t *testing.T) {
	zero := []string{"horizon=100", "broadcast_hi=0", "upload_hi=0", "c_lo=1", "c_hi=1"}
	expo := []string{"horizon=300", "broadcast=exponential", "upload=exponential"}
	for _, m := range []struct {
		name  string
		set   []string
		opt   refOptions
		first string // what the first difference is about
	}{
		{"arrivals after completions", zero, refOptions{order: refOrder{receive: 0, complete: 1, arrive: 2, resume: 3}}, "snapshot"},
		{"receives after completions", zero, refOptions{order: refOrder{complete: 0, arrive: 1, receive: 2, resume: 3}}, "event"},
		{"last arrival wins", expo, refOptions{order: refOrderRight, lastWins: true}, "snapshot"},
	} {
		cfg, star := refConfig(t, m.set)
		const seed = 1
		fast := runFast(t, cfg, star, seed)
		for _, running := range []bool{true, false} {
			opt := m.opt
			opt.runningSum = running
			errs, _ := refCompare(fast, runReference(cfg, star, seed, opt), running)
			if len(errs) == 0 {
				t.Errorf("mutant %q (running sum %v): the comparison passes, so it cannot tell the mutant from the simulator", m.name, running)
				continue
			}
			if !strings.HasPrefix(errs[0], m.first+" ") {
				t.Errorf("mutant %q (running sum %v): the first difference is not about the %s:\n%s",
					m.name, running, m.first, strings.Join(errs, "\n"))
			}
			t.Logf("mutant %q (running sum %v) is caught:\n%s", m.name, running, strings.Join(errs, "\n"))
		}
	}
}
