// Package async is the simulated clock of batchrun's asynchronous
// experiments: a priority queue of timed events with a total, deterministic
// order for simultaneous ones, and the random models of compute times,
// message delays and outages that schedule those events.
//
// The models turn counter-based random words (see kernels/philox) into
// durations, so a simulation that draws word (stream, counter) for every
// duration it needs is a pure function of its seed: the event sequence does
// not depend on how many simulations run at once, or in which order.
//
// Durations:
//
//	compute time of an update   c = m_i * S,  m_i the worker's mean, S a unit-mean factor:
//	    fixed        S = 1
//	    exponential  S = -ln(1 - u)
//	    lognormal    S = exp(sigma Z - sigma^2 / 2),  Z standard normal
//	    pareto       S = x_m u^(-1/alpha),  x_m = (alpha - 1) / alpha,  alpha > 1
//	message delay               uniform on [lo, hi], or
//	                            lo + an exponential variate of mean (hi - lo) / 2
//	                            (both models have the mean (lo + hi) / 2)
//	outage after an update      with probability p, a pause of exponential length
package async

// Event is one timed event. Events are ordered by Time, then Kind, then
// Worker, then Seq: simultaneous events are processed in a fixed order, so a
// simulation is deterministic. Msg is free for the caller (for example a
// payload slot); it takes no part in the order.
type Event struct {
	Time   float64
	Kind   uint8
	Worker int32
	Msg    int32
	Seq    int64
}

// Before reports whether e is processed before f.
func (e *Event) Before(f *Event) bool {
	if e.Time != f.Time {
		return e.Time < f.Time
	}
	if e.Kind != f.Kind {
		return e.Kind < f.Kind
	}
	if e.Worker != f.Worker {
		return e.Worker < f.Worker
	}
	return e.Seq < f.Seq
}

// Queue is a priority queue of events (a 4-ary min-heap in the order of
// Event.Before: half the depth of a binary heap, and a node's children
// share a cache line or two). The zero value is an empty queue. Push and Pop cost
// O(log n) and do not allocate once the queue has grown to its largest size.
type Queue struct {
	h []Event
}

// Len returns the number of queued events.
func (q *Queue) Len() int { return len(q.h) }

// Reset empties the queue, keeping its memory.
func (q *Queue) Reset() { q.h = q.h[:0] }

// Peek returns the first event; the queue must not be empty.
func (q *Queue) Peek() *Event { return &q.h[0] }

// Push adds an event.
func (q *Queue) Push(e Event) {
	q.h = append(q.h, e)
	h := q.h
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !e.Before(&h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
}

// Pop removes and returns the first event; the queue must not be empty.
func (q *Queue) Pop() Event {
	h := q.h
	top := h[0]
	last := h[len(h)-1]
	h = h[:len(h)-1]
	q.h = h
	if len(h) == 0 {
		return top
	}
	// Move the hole at the root down to where last belongs.
	i, n := 0, len(h)
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		best := c
		for j := c + 1; j < c+4 && j < n; j++ {
			if h[j].Before(&h[best]) {
				best = j
			}
		}
		if !h[best].Before(&last) {
			break
		}
		h[i] = h[best]
		i = best
	}
	h[i] = last
	return top
}
