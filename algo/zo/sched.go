package zo

import "github.com/batchrun/batchrun/kernels/philox"

// A scheduler turns each iteration's slopes into the update coefficients of
// one seed: after Step(t, slopes, coef), coef[k*slots + j] holds the sum of
// the slopes that agent k pairs with the perturbation in its ring slot j.
// It is the light layer that models delays and asynchrony on top of the
// batched compute.
type scheduler interface {
	Step(t int, slopes []float64, coef []float64)
}

// relay is the async mode's message passing (spec 4.6). Every agent keeps,
// for every agent p, the newest (timestamp, slope) pair it knows. At
// iteration t:
//
//  1. each agent writes its own pair (t, s_k(t)) into its buffer;
//  2. the buffers as they are now are kept as the messages of iteration t+1;
//  3. each agent receives, over every incoming link that succeeds (with
//     probability tx_p*rx_p, drawn per directed link and iteration), the
//     message its neighbour kept at t-1, and keeps each received pair whose
//     timestamp is newer than its own (newest wins).
//
// The message sent at t is thus the sender's buffer of t-1 before that
// iteration's receptions: a neighbour's slope arrives with age 1 and, with
// every link up, a slope h hops away with age 2h-1 (each relay holds it one
// iteration before passing it on). The update pairs slope s_p(tau) with the
// agent's own u_k(tau), age t - tau; ages >= slots (the buffer) are dropped.
type relay struct {
	n, slots   int
	key        uint64
	success    float64
	edges      [][2]int32 // directed (from, to)
	ts, sendTs []int32    // [k*n+p]; -1: nothing known yet
	val, send  []float64
	keepTs     []int32
	keep       []float64
}

func newRelay(n, slots int, nb [][]int, key uint64, success float64) *relay {
	r := &relay{n: n, slots: slots, key: key, success: success, edges: relayEdges(nb)}
	r.ts, r.sendTs, r.keepTs = fill(n*n, -1), fill(n*n, -1), fill(n*n, -1)
	r.val, r.send, r.keep = make([]float64, n*n), make([]float64, n*n), make([]float64, n*n)
	return r
}

// relayEdges numbers the directed links of the communication graph nb
// receiver by receiver (the links into agent 0 first, in the order of
// nb[0]): a link's number indexes its success draws, so the CPU relay and
// the GPU's (zo_relay) number them alike.
func relayEdges(nb [][]int) [][2]int32 {
	var edges [][2]int32
	for to := range nb {
		for _, from := range nb[to] {
			edges = append(edges, [2]int32{int32(from), int32(to)})
		}
	}
	return edges
}

func fill(n int, v int32) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func (r *relay) Step(t int, slopes []float64, coef []float64) {
	n := r.n
	for k := 0; k < n; k++ {
		r.ts[k*n+k], r.val[k*n+k] = int32(t), slopes[k]
	}
	copy(r.keepTs, r.ts)
	copy(r.keep, r.val)
	linkStream := stream(tagLink, 0, uint64(t))
	for e, ed := range r.edges {
		if r.success < 1 && philox.Float64(r.key, linkStream, uint64(e)) >= r.success {
			continue
		}
		from, to := int(ed[0]), int(ed[1])
		src, srcVal := r.sendTs[from*n:from*n+n], r.send[from*n:from*n+n]
		dst, dstVal := r.ts[to*n:to*n+n], r.val[to*n:to*n+n]
		for p, ts := range src {
			if ts > dst[p] {
				dst[p], dstVal[p] = ts, srcVal[p]
			}
		}
	}
	r.sendTs, r.keepTs = r.keepTs, r.sendTs
	r.send, r.keep = r.keep, r.send
	r.coefficients(t, coef)
}

func (r *relay) coefficients(t int, coef []float64) {
	n, slots := r.n, r.slots
	clear(coef[:n*slots])
	for k := 0; k < n; k++ {
		c := coef[k*slots : k*slots+slots]
		for p, ts := range r.ts[k*n : k*n+n] {
			if ts < 0 || t-int(ts) >= slots {
				continue
			}
			c[int(ts)%slots] += r.val[k*n+p]
		}
	}
}

// ages writes t - timestamp of every stored pair (or -1) to out, for tests.
func (r *relay) ages(t int, out []int) {
	for i, ts := range r.ts {
		out[i] = -1
		if ts >= 0 {
			out[i] = t - int(ts)
		}
	}
}

// delays is the fixed-delay mode (spec 5): agent k uses s_p(t - d_kp) with
// its own u_k(t - d_kp), d_kp uniform on {1..D} drawn once per seed, d_kk = 0.
// Terms with t - d_kp < 0 do not exist yet; those of age >= slots are
// dropped (never, when D < buffer).
type delays struct {
	n, slots, depth int
	d               []int32   // [k*n+p]
	hist            []float64 // [(t % depth)*n + p] = s_p(t)
}

func newDelays(n, slots, maxDelay int, key uint64) *delays {
	dl := &delays{n: n, slots: slots, depth: maxDelay + 1, d: make([]int32, n*n)}
	dl.hist = make([]float64, dl.depth*n)
	st := stream(tagDelay, 0, 0)
	for k := 0; k < n; k++ {
		for p := 0; p < n; p++ {
			if p != k {
				u := philox.Float64(key, st, uint64(k*n+p))
				dl.d[k*n+p] = int32(1 + min(int(u*float64(maxDelay)), maxDelay-1))
			}
		}
	}
	return dl
}

func (dl *delays) Step(t int, slopes []float64, coef []float64) {
	n, slots := dl.n, dl.slots
	copy(dl.hist[(t%dl.depth)*n:], slopes[:n])
	clear(coef[:n*slots])
	for k := 0; k < n; k++ {
		for p := 0; p < n; p++ {
			d := int(dl.d[k*n+p])
			tau := t - d
			if tau < 0 || d >= slots {
				continue
			}
			coef[k*slots+tau%slots] += dl.hist[(tau%dl.depth)*n+p]
		}
	}
}

// global is sync and central-zo: every agent (or the one shared policy)
// steps along its current perturbation with the global slope sum_p s_p(t).
type global struct{ agents int }

func (g global) Step(t int, slopes []float64, coef []float64) {
	sum := 0.0
	for _, s := range slopes {
		sum += s
	}
	for a := 0; a < g.agents; a++ {
		coef[a] = sum
	}
}
