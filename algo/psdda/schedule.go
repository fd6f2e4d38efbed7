package psdda

import (
	"fmt"
	"slices"

	"github.com/batchrun/batchrun/graph"
	"github.com/batchrun/batchrun/kernels/philox"
)

// schedule gives, for every step t of one seed, the mixing matrix of the
// mode on G(t) and the delay of each of its links.
//
// Delays: fixed gives every link b. per-edge draws b_e uniform on {0..b}
// once per seed and directed edge (j, i), so both directions of a
// symmetrised edge (dda-doubly) have their own delay. per-step redraws it
// at every step; a message still arrives whole, after b_e(t) + 1 steps
// (messages may overtake each other). Self-loops are never delayed.
type schedule struct {
	n          int
	seq        graph.Sequence
	metropolis bool
	delays     string
	bmax       int
	dkey       uint64

	// For a cycle without per-step delays: one mixing per graph of the cycle.
	cycle []stepMixing

	edges      []graph.Edge
	mix        graph.Mixing
	linkDelays []int32
}

// Delay streams (Philox key = delayKey(seed)); index = j*n + i for the
// directed edge j -> i.
const (
	streamEdgeDelay = 1 << 56
	streamStepDelay = 2 << 56 // | t
)

func newSchedule(cfg *Config, seed uint64) (*schedule, error) {
	s := &schedule{
		n: cfg.N, metropolis: cfg.Mode == ModeDDADouble,
		delays: cfg.Delays, bmax: cfg.Bmax, dkey: delayKey(seed),
	}
	if cfg.Cycle != nil {
		s.seq = cfg.Cycle
	} else {
		r, err := graph.NewRandom(cfg.N, cfg.Window, cfg.Degree, graphKey(seed))
		if err != nil {
			return nil, fmt.Errorf("random graph sequence: %w", err)
		}
		s.seq = r
	}
	if c, ok := s.seq.(*graph.Cycle); ok && s.delays != DelayPerStep {
		for k := range c.Period() {
			m := s.build(k)
			s.cycle = append(s.cycle, stepMixing{
				Self: slices.Clone(m.Self), Links: slices.Clone(m.Links), Delay: slices.Clone(m.Delay), Fixed: m.Fixed})
		}
	}
	return s, nil
}

// at returns step t's mixing matrix and delays. They stay valid until the
// next call.
func (s *schedule) at(t int) stepMixing {
	if s.cycle != nil {
		return s.cycle[t%len(s.cycle)]
	}
	return s.build(t)
}

func (s *schedule) build(t int) stepMixing {
	s.edges = s.seq.Edges(s.edges[:0], t)
	if s.metropolis {
		s.mix.Metropolis(s.n, s.edges)
	} else {
		s.mix.PushSum(s.n, s.edges)
	}
	m := stepMixing{Self: s.mix.Self, Links: s.mix.Links, Fixed: s.bmax}
	if s.delays != DelayFixed && s.bmax > 0 {
		s.linkDelays = s.linkDelays[:0]
		for _, l := range s.mix.Links {
			s.linkDelays = append(s.linkDelays, s.delay(l.From, l.To, t))
		}
		m.Delay = s.linkDelays
	}
	return m
}

// delay returns the delay of the directed edge j -> i at step t.
func (s *schedule) delay(j, i int32, t int) int32 {
	if s.delays == DelayFixed || s.bmax == 0 {
		return int32(s.bmax)
	}
	stream := uint64(streamEdgeDelay)
	if s.delays == DelayPerStep {
		stream = streamStepDelay | uint64(t)
	}
	u := philox.Uint32(s.dkey, stream, uint64(j)*uint64(s.n)+uint64(i))
	return int32(uint64(u) * uint64(s.bmax+1) >> 32) // uniform on {0..bmax}
}
