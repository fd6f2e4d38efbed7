package asynpd

import (
	"context"

	"github.com/batchrun/batchrun/async"
	"github.com/batchrun/batchrun/kernels/philox"
)

// The event kinds, in their order at equal times: a server receive is
// processed before a worker completion at the same instant (so a message
// with zero delay is received at once), and a completion before a worker's
// return from an outage.
const (
	kindReceive  = 0
	kindComplete = 1
	kindResume   = 2
)

// Event is one processed event, for observers (tests).
type Event struct {
	Time      float64
	Kind      uint8 // kindReceive, kindComplete or kindResume
	Worker    int   // 0-based; -1 for Sync-PD's round ends (the server's receive of the last upload)
	Iteration int64 // t after the event
}

// world holds what both algorithms share: the seed's key, the workers'
// mean compute times, models and the draws of the random streams.
type world struct {
	cfg  *Config
	p    *Problem
	key  uint64
	n, d int
	mean []float64 // m_i
	mu   []float64 // mu of each worker's class
	lo   []float64
	hi   []float64
	z    []float64 // scratch: d normals
}

func newWorld(cfg *Config, seed uint64) *world {
	p := &cfg.Problem
	w := &world{cfg: cfg, p: p, key: SeedKey(seed), n: p.N, d: p.D}
	w.mean = make([]float64, w.n)
	w.mu, w.lo, w.hi = make([]float64, w.n), make([]float64, w.n), make([]float64, w.n)
	for i := range w.n {
		w.mean[i] = cfg.CLo + float64((cfg.CHi-cfg.CLo)*philox.Float64(w.key, streamSpeed, uint64(i)))
		c := p.Classes[p.ClassOf(i)]
		w.mu[i], w.lo[i], w.hi[i] = c.Mu, c.Lo, c.Hi
	}
	for _, i := range cfg.Stragglers {
		w.mean[i] = cfg.StragglerC
	}
	w.z = make([]float64, w.d)
	return w
}

// initial writes theta(0): theta_i(0) ~ N(0, I) clipped to C_i.
func (w *world) initial(theta []float64) {
	for i := range w.n {
		philox.PolarNormals(w.z[:w.d], w.key, streamInit|uint64(i), 0)
		for k := range w.d {
			theta[i*w.d+k] = clip(w.z[k], w.lo[i], w.hi[i])
		}
	}
}

// noise fills w.z[:d] with the standard normals of update u of worker i:
// the polar method on blocks u 2^32, u 2^32 + 1, ... of the worker's noise
// stream.
func (w *world) noise(i int, u int64) {
	philox.PolarNormals(w.z[:w.d], w.key, streamNoise|uint64(i), uint64(u)<<32)
}

// computeTime returns the duration of update u of worker i.
func (w *world) computeTime(i int, u int64) float64 {
	if !w.cfg.Compute.Random() {
		return w.mean[i]
	}
	return float64(w.mean[i] * w.cfg.Compute.Factor(philox.Block(w.key, streamCompute|uint64(i), uint64(u))))
}

// uploadDelay returns the upload delay of update u of worker i.
func (w *world) uploadDelay(i int, u int64) float64 {
	return w.cfg.Upload.Sample(philox.Uint32(w.key, streamUpload|uint64(i), uint64(u)))
}

// pause returns the outage after update u of worker i.
func (w *world) pause(i int, u int64) float64 {
	if w.cfg.Outage.Prob == 0 {
		return 0
	}
	return w.cfg.Outage.Pause(philox.Block(w.key, streamOutage|uint64(i), uint64(u)))
}

// step applies update u of worker i to its model x with the message m it
// holds and step gamma:
//
//	x <- Proj_Ci(x - gamma [x - xi + alpha x + m / n]),  xi ~ N(mu_i 1, sigma^2 I)
func (w *world) step(x, m []float64, i int, u int64, gamma float64) {
	w.noise(i, u)
	p := w.p
	nf := float64(w.n)
	for k := range x {
		xi := w.mu[i] + float64(p.Sigma*w.z[k])
		g := (x[k] - xi) + float64(p.Alpha*x[k]) + m[k]/nf
		x[k] = clip(x[k]-float64(gamma*g), w.lo[i], w.hi[i])
	}
}

// dualStep applies lambda <- Proj(lambda + gamma [G(s) - beta lambda]) and
// writes the new message h = grad G(s)^T lambda.
func (w *world) dualStep(s, lambda, gval, h []float64, gamma float64) {
	p := w.p
	p.G(s, gval)
	for j := range lambda {
		lambda[j] = clip(lambda[j]+float64(gamma*(gval[j]-float64(p.Beta*lambda[j]))), 0, p.LambdaMax)
	}
	p.Dual(s, lambda, h)
}

// asyn is the state of one Asyn-PD run.
type asyn struct {
	*world
	rec *recorder

	theta []float64 // the workers' models, n*d
	snap  []float64 // the message each worker holds for its current computation, n*d
	held  []int64   // the newest broadcast in each worker's buffer at its last snapshot
	upd   []int64   // updates completed by each worker

	buf    []float64 // the server's buffer, n*d
	bufSeq []int64   // the sender's update count of each buffered model
	sum    []float64 // sum of the buffer
	tilde  []float64 // scratch: thetatilde
	lambda []float64
	gval   []float64
	recvs  int64 // receives since the sum was last recomputed

	// Broadcasts base, base+1, ...: send times and messages.
	bTime  []float64
	bMsg   []float64
	base   int64
	trimAt int
	bMin   float64 // lower bound of a broadcast delay
	bMax   float64 // upper bound of a broadcast delay
	// The uniform model's delays for the words c<<24 and c<<24 | 0xffffff:
	// bounds of every delay whose word has the top byte c (Sample is
	// nondecreasing in the word).
	lower, upper [256]float64

	// Uploads in flight: slots of d values.
	slots []float64
	free  []int32

	q        async.Queue
	t        int64 // iterations
	updates  int64
	receives int64
	observe  func(Event)
}

// runAsyn runs Asyn-PD (spec section 3) on one seed until the horizon.
//
// Worker i loops without waiting: it snapshots its buffer m_i, computes for
// c_i, applies
//
//	theta_i <- Proj_Ci(theta_i - gamma_t [grad f_i(theta_i; xi) + alpha theta_i + m_i / n])
//
// with gamma_t = a / (b + t) at the completion's iteration t, sends theta_i
// to the server (arriving after an upload delay), and starts again at once
// (or after an outage). The server, on each receive, updates its buffer
// entry, thetatilde = the buffer's mean,
//
//	lambda <- Proj_Lambda(lambda + gamma_t [G(thetatilde) - beta lambda]),
//
// and broadcasts h = grad G(thetatilde)^T lambda; worker i receives it
// after its own broadcast delay. Completions and receives are iterations;
// broadcast arrivals are not.
//
// Buffers keep the newest message: a message carries its sequence number
// (the sender's update count, the broadcast index), and one that arrives
// after a newer one from the same sender is dropped instead of overwriting
// it (the server still counts it as an iteration and takes its dual step).
// This is how a buffer with sequence numbers behaves, and it gives every
// buffer the freshest message the network has delivered.
//
// Broadcasts are not queue events: a worker works out, when it takes its
// snapshot at time tau, the newest broadcast k with t_k + delay(k, i) <= tau
// by scanning back from the newest broadcast sent; the delay of broadcast k
// to worker i is a pure function of (seed, k, i) (broadcastWord), so the
// scan sees the same delays whenever it happens. It stops at the first
// broadcast that has arrived: at once when t_k + the model's largest delay
// <= tau, and most broadcasts are ruled in or out by the top byte of their
// word, without the rest.
func runAsyn(ctx context.Context, w *world, rec *recorder, progress func(float64), observe func(Event)) error {
	s := newAsyn(w, rec, observe)
	return s.run(ctx, progress)
}

func newAsyn(w *world, rec *recorder, observe func(Event)) *asyn {
	n, d, m := w.n, w.d, w.p.M()
	s := &asyn{world: w, rec: rec, observe: observe}
	s.theta = make([]float64, n*d)
	w.initial(s.theta)
	s.buf = append([]float64(nil), s.theta...)
	s.bufSeq = make([]int64, n)
	s.snap = make([]float64, n*d)
	s.held = make([]int64, n)
	s.upd = make([]int64, n)
	s.sum = make([]float64, d)
	s.tilde = make([]float64, d)
	s.lambda = make([]float64, m)
	s.gval = make([]float64, m)
	s.bMin, s.bMax = w.cfg.Broadcast.Min(), w.cfg.Broadcast.Max()
	for c := range uint32(256) {
		s.lower[c] = w.cfg.Broadcast.Sample(c << 24)
		s.upper[c] = w.cfg.Broadcast.Sample(c<<24 | 0xffffff)
	}
	s.resum()
	// Broadcast 0 is the initial message h(0) = grad G(thetatilde(0))^T lambda(0),
	// in every buffer from the start.
	s.bTime = []float64{0}
	s.bMsg = make([]float64, d)
	s.thetaTilde()
	w.p.Dual(s.tilde, s.lambda, s.bMsg)
	for i := range n {
		copy(s.snap[i*d:(i+1)*d], s.bMsg)
	}
	s.trimAt = 1024
	return s
}

func (s *asyn) resum() {
	clear(s.sum)
	for i := range s.n {
		for k := range s.d {
			s.sum[k] += s.buf[i*s.d+k]
		}
	}
	s.recvs = 0
}

func (s *asyn) thetaTilde() {
	for k := range s.d {
		s.tilde[k] = s.sum[k] / float64(s.n)
	}
}

func (s *asyn) gamma() float64 {
	g := s.cfg.A / (s.cfg.B + float64(s.t))
	s.t++
	return g
}

func (s *asyn) record(time float64) Sample {
	return s.rec.sample(time, s.t, s.updates, s.theta, s.lambda)
}

func (s *asyn) run(ctx context.Context, progress func(float64)) error {
	cfg := s.cfg
	for i := range s.n {
		s.start(i, 0)
	}
	res := s.rec.res
	res.Grid = append(res.Grid, s.record(0))
	s.rec.nextGrid = 1
	nextGridTime := s.rec.gridTime(1)
	const checkEvery = 1 << 14
	for n := 0; s.q.Len() > 0 && s.q.Peek().Time <= cfg.Horizon; n++ {
		e := s.q.Pop()
		for s.rec.nextGrid <= cfg.Grid && nextGridTime < e.Time {
			res.Grid = append(res.Grid, s.record(nextGridTime))
			s.rec.nextGrid++
			nextGridTime = s.rec.gridTime(s.rec.nextGrid)
		}
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(e.Time)
			}
		}
		i := int(e.Worker)
		switch e.Kind {
		case kindReceive:
			s.receive(e)
		case kindComplete:
			s.complete(i, e.Time)
		case kindResume:
			s.start(i, e.Time)
		}
		if s.observe != nil {
			s.observe(Event{Time: e.Time, Kind: e.Kind, Worker: i, Iteration: s.t})
		}
		if e.Kind != kindResume && s.rec.iterDue(s.t) {
			res.Iters = append(res.Iters, s.record(e.Time))
		}
	}
	for ; s.rec.nextGrid <= cfg.Grid; s.rec.nextGrid++ {
		res.Grid = append(res.Grid, s.record(s.rec.gridTime(s.rec.nextGrid)))
	}
	res.Iterations, res.Updates, res.Receives = s.t, s.updates, s.receives
	if progress != nil {
		progress(cfg.Horizon)
	}
	return nil
}

// start makes worker i snapshot its buffer at tau and start its next update.
func (s *asyn) start(i int, tau float64) {
	s.snapshot(i, tau)
	u := s.upd[i]
	s.q.Push(async.Event{Time: tau + s.computeTime(i, u), Kind: kindComplete, Worker: int32(i), Seq: u})
}

// snapshot updates worker i's message to the newest broadcast that has
// reached it by tau.
func (s *asyn) snapshot(i int, tau float64) {
	times := s.bTime
	base := s.base
	stop := s.held[i] - base // the scan ends above the held broadcast
	bMin, bMax := s.bMin, s.bMax
	model := s.cfg.Broadcast
	uniform := model.Model == async.DelayUniform
	lower, upper := &s.lower, &s.upper
	key, stream := s.key, streamBroadcast|uint64(i)
	var block [4]uint32
	blockIndex := int64(-1)
	for j := int64(len(times)) - 1; j > stop; j-- {
		tk := times[j]
		if tk+bMin > tau {
			continue // cannot have arrived
		}
		if tk+bMax > tau {
			k := j + base
			if b := k >> 4; b != blockIndex {
				block = philox.Block(key, stream, uint64(b))
				blockIndex = b
			}
			if uniform {
				// The delay lies in [lower[c], upper[c]] for its top
				// byte c: most broadcasts are decided by c alone.
				c := broadcastByte(block, k)
				if tk+lower[c] > tau {
					continue
				}
				if tk+upper[c] > tau && tk+model.Sample(fineWord(key, i, k, c)) > tau {
					continue
				}
			} else if tk+model.Sample(fineWord(key, i, k, broadcastByte(block, k))) > tau {
				continue
			}
		}
		s.held[i] = j + base
		d := s.d
		copy(s.snap[i*d:(i+1)*d], s.bMsg[int(j)*d:])
		return
	}
}

// complete applies worker i's update at tau, sends the model and starts the
// next update (or an outage).
func (s *asyn) complete(i int, tau float64) {
	d := s.d
	u := s.upd[i]
	x := s.theta[i*d : (i+1)*d]
	s.step(x, s.snap[i*d:(i+1)*d], i, u, s.gamma())
	s.upd[i]++
	s.updates++
	slot := s.alloc()
	copy(s.slots[int(slot)*d:], x)
	s.q.Push(async.Event{Time: tau + s.uploadDelay(i, u), Kind: kindReceive, Worker: int32(i), Msg: slot, Seq: u + 1})
	if p := s.pause(i, u); p > 0 {
		s.q.Push(async.Event{Time: tau + p, Kind: kindResume, Worker: int32(i), Seq: u + 1})
		return
	}
	s.start(i, tau)
}

func (s *asyn) alloc() int32 {
	if k := len(s.free); k > 0 {
		slot := s.free[k-1]
		s.free = s.free[:k-1]
		return slot
	}
	s.slots = append(s.slots, make([]float64, s.d)...)
	return int32(len(s.slots)/s.d - 1)
}

// receive is the server's step on receiving a model.
func (s *asyn) receive(e async.Event) {
	d, i := s.d, int(e.Worker)
	gamma := s.gamma()
	s.receives++
	msg := s.slots[int(e.Msg)*d : int(e.Msg+1)*d]
	if e.Seq > s.bufSeq[i] {
		old := s.buf[i*d : (i+1)*d]
		for k := range d {
			s.sum[k] += msg[k] - old[k]
		}
		copy(old, msg)
		s.bufSeq[i] = e.Seq
		s.recvs++
	}
	s.free = append(s.free, e.Msg)
	if s.recvs >= int64(s.n) {
		s.resum() // bound the rounding drift of the running sum
	}
	s.thetaTilde()
	// The new broadcast's message is written in place at the end of bMsg.
	if len(s.bTime) >= s.trimAt {
		s.trim()
	}
	s.bMsg = append(s.bMsg, make([]float64, d)...)
	h := s.bMsg[len(s.bMsg)-d:]
	s.dualStep(s.tilde, s.lambda, s.gval, h, gamma)
	s.bTime = append(s.bTime, e.Time)
}

// trim drops the broadcasts that no snapshot can need any more: those not
// newer than every worker's held one.
func (s *asyn) trim() {
	oldest := s.held[0]
	for _, h := range s.held {
		oldest = min(oldest, h)
	}
	drop := int(oldest - s.base) // broadcasts base..oldest-1; keep oldest (harmless)
	if drop > 0 {
		s.bTime = append(s.bTime[:0], s.bTime[drop:]...)
		s.bMsg = append(s.bMsg[:0], s.bMsg[drop*s.d:]...)
		s.base += int64(drop)
	}
	s.trimAt = max(1024, 2*len(s.bTime))
}
