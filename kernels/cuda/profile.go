package cuda

import (
	"errors"
	"slices"
	"sync"
	"time"
)

// Profiler is a Device that times every kernel its queues launch, with a
// pair of events around each launch (what `batchrun bench` reports). It
// wraps an open GPU, which its owner closes.
type Profiler struct {
	gpu *GPU

	mu      sync.Mutex
	pending []timedLaunch
	times   map[string]*KernelTime
}

// KernelTime is the device time of one kernel over its launches.
type KernelTime struct {
	Name     string
	Launches int
	Total    time.Duration
}

type timedLaunch struct {
	name          string
	before, after *Event
}

// NewProfiler returns a Profiler of g.
func NewProfiler(g *GPU) *Profiler { return &Profiler{gpu: g, times: map[string]*KernelTime{}} }

// Name names the GPU.
func (p *Profiler) Name() string { return p.gpu.Name() }

// NewQueue returns a queue of the GPU whose launches are timed.
func (p *Profiler) NewQueue() (Queue, error) {
	s, err := p.gpu.NewStream()
	if err != nil {
		return nil, err
	}
	return &profiledStream{Stream: s, p: p}, nil
}

// Close does nothing: the GPU belongs to the caller.
func (p *Profiler) Close() error { return nil }

// Times waits for the timed launches and returns the device time of every
// kernel, the longest first.
func (p *Profiler) Times() ([]KernelTime, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, l := range p.pending {
		d, err := l.before.Elapsed(l.after)
		if err != nil {
			errs = append(errs, err)
		}
		l.before.Close()
		l.after.Close()
		kt := p.times[l.name]
		if kt == nil {
			kt = &KernelTime{Name: l.name}
			p.times[l.name] = kt
		}
		kt.Launches++
		kt.Total += d
	}
	p.pending = nil
	var out []KernelTime
	for _, kt := range p.times {
		out = append(out, *kt)
	}
	slices.SortFunc(out, func(a, b KernelTime) int { return int(b.Total - a.Total) })
	return out, errors.Join(errs...)
}

// Reset forgets the times measured so far.
func (p *Profiler) Reset() {
	p.Times()
	p.mu.Lock()
	p.times = map[string]*KernelTime{}
	p.mu.Unlock()
}

type profiledStream struct {
	*Stream
	p *Profiler
}

func (s *profiledStream) Launch(kernel string, grid, block Dim, args ...uint64) error {
	before, err := s.Record()
	if err != nil {
		return err
	}
	if err := s.Stream.Launch(kernel, grid, block, args...); err != nil {
		before.Close()
		return err
	}
	after, err := s.Record()
	if err != nil {
		before.Close()
		return err
	}
	s.p.mu.Lock()
	s.p.pending = append(s.p.pending, timedLaunch{name: kernel, before: before, after: after})
	s.p.mu.Unlock()
	return nil
}
