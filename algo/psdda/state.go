package psdda

import "github.com/batchrun/batchrun/graph"

// pushState is the delayed push-sum recursion of spec section 3,
//
//	w(t+1) = Q(t) w(t),   z(t+1) = Q(t) z(t) + [g(t); 0],
//
// over the network augmented with delay nodes, stored without the delay
// nodes. On an edge j -> i with b delay nodes, the links that leave delay
// nodes are always active with weight 1, so the chain is a shift register:
// what j puts in at step t reaches i, unchanged, at step t + b + 1. By
// linearity, the delay nodes of all the chains into i can be summed by the
// step at which their mass arrives: arrivals[s mod (bmax+1)][i] holds what
// reaches i at step s. A step then costs O((links + nodes) d) and the
// memory O(nodes (bmax+1) d), whatever the delays, instead of
// O(links (b+1) d) for explicit per-edge shift registers. Mass in transit
// (the delay nodes' total) is the sum of the rings. (TestDenseQ checks
// this path against the spec's dense Q(t) with numbered delay nodes.)
//
// The delay may differ per link and per step (at most bmax): a message
// sent at t over a link of delay b is deposited in the slot of step
// t + b + 1.
type pushState struct {
	n, d, slots int
	w, z        []float64 // [node], [node][dim]
	arrW, arrZ  []float64 // [slot][node], [slot][node][dim]
}

func newPushState(n, d, bmax int) *pushState {
	s := &pushState{n: n, d: d, slots: bmax + 1}
	s.w = make([]float64, n)
	s.z = make([]float64, n*d)
	s.arrW = make([]float64, s.slots*n)
	s.arrZ = make([]float64, s.slots*n*d)
	for i := range s.w {
		s.w[i] = 1
	}
	return s
}

// step advances the state from t to t+1 with the step's mixing matrix and
// link delays, and the local gradients g ([node][dim]) added to z. Sends
// read the state at t before any node is updated.
func (s *pushState) step(t int, m stepMixing, g []float64) {
	n, d, slots := s.n, s.d, s.slots
	for k, l := range m.Links {
		b := m.Fixed
		if m.Delay != nil {
			b = int(m.Delay[k])
		}
		dst := (t+1+b)%slots*n + int(l.To)
		s.arrW[dst] += float64(l.W * s.w[l.From])
		src := s.z[int(l.From)*d : int(l.From+1)*d]
		out := s.arrZ[dst*d : dst*d+d]
		for k, v := range src {
			out[k] += float64(l.W * v)
		}
	}
	slot := (t + 1) % slots
	arrW := s.arrW[slot*n : slot*n+n]
	arrZ := s.arrZ[slot*n*d : (slot+1)*n*d]
	for i := range n {
		a := m.Self[i]
		s.w[i] = float64(a*s.w[i]) + arrW[i]
		arrW[i] = 0
		z := s.z[i*d : i*d+d]
		az := arrZ[i*d : i*d+d]
		gi := g[i*d : i*d+d]
		for k := range z {
			z[k] = float64(a*z[k]) + az[k] + gi[k]
			az[k] = 0
		}
	}
}

// mass returns the totals of w and of z over compute nodes and messages in
// transit (the delay nodes of the spec): n and the running sum of
// gradients, if the weights are column stochastic.
func (s *pushState) mass() (w float64, z []float64) {
	z = make([]float64, s.d)
	for _, v := range s.w {
		w += v
	}
	for _, v := range s.arrW {
		w += v
	}
	for i := 0; i < len(s.z); i += s.d {
		for k := range z {
			z[k] += s.z[i+k]
		}
	}
	for i := 0; i < len(s.arrZ); i += s.d {
		for k := range z {
			z[k] += s.arrZ[i+k]
		}
	}
	return w, z
}

// stepMixing is one step's mixing matrix (see graph.Mixing) with the delay
// of each link: Delay[k] for Links[k], or Fixed for every link when Delay
// is nil.
type stepMixing struct {
	Self  []float64
	Links []graph.Link
	Delay []int32
	Fixed int
}
