package channel

import (
	"fmt"
	"math"

	"github.com/batchrun/batchrun/kernels/philox"
)

// NormalFiller writes standard normals number first, first+1, ... of a
// Philox stream to dst: philox.FillNormal32, or a SIMD variant of it that
// gives the same bits (see kernels.Backend).
type NormalFiller func(dst []float32, key, stream, first uint64)

// Process produces consecutive channel samples of N links: Next writes the
// amplitudes of the next sample to h (N*N, row-major, h[r*N+j] from
// transmitter j to receiver r).
type Process interface {
	Links() int
	Next(h []float32)
}

// AR1 is the paper's fading process: a real Gaussian AR(1) series per entry,
// scaled by the path loss, in absolute value, thresholded (see the package
// doc). Sample s draws its innovations W_s as philox.Normal32(key, stream,
// s*N*N + r*N + j); F_0 = W_0. State is float32; the recursion is stable
// (|sqrt(1-c)| < 1), so rounding does not accumulate.
type AR1 struct {
	n         int
	key       uint64
	stream    uint64
	a, b      float32 // sqrt(1-c), sqrt(c)
	threshold float32
	pl        []float32
	f         []float32
	w         []float32
	sample    uint64
	fill      NormalFiller
}

// UseNormals makes the process draw its innovations with fill, a variant of
// philox.FillNormal32 that gives the same numbers faster.
func (p *AR1) UseNormals(fill NormalFiller) { p.fill = fill }

// NewAR1 returns the AR(1) fading process with innovation weight c in (0, 1]
// over the amplitude path loss pl (N*N row-major), zeroing amplitudes <=
// threshold.
func NewAR1(pl []float64, c, threshold float64, key, stream uint64) (*AR1, error) {
	n := int(math.Round(math.Sqrt(float64(len(pl)))))
	if n*n != len(pl) || n == 0 {
		return nil, fmt.Errorf("channel: path loss has %d entries, want N*N with N >= 1", len(pl))
	}
	if !(c > 0 && c <= 1) {
		return nil, fmt.Errorf("channel: AR(1) innovation weight c = %g, want 0 < c <= 1", c)
	}
	p := &AR1{
		n: n, key: key, stream: stream,
		a: float32(math.Sqrt(1 - c)), b: float32(math.Sqrt(c)),
		threshold: float32(threshold),
		pl:        make([]float32, n*n),
		f:         make([]float32, n*n),
		w:         make([]float32, n*n),
		fill:      philox.FillNormal32,
	}
	for i, v := range pl {
		p.pl[i] = float32(v)
	}
	// The branch-free threshold in Next compares bit patterns, which order
	// only non-negative numbers; a negative (or -0, or NaN) threshold zeroes
	// nothing but zeros, exactly what 0 does.
	if !(p.threshold > 0) {
		p.threshold = 0
	}
	return p, nil
}

// Links returns N.
func (p *AR1) Links() int { return p.n }

// Next advances the process by one sample and writes its amplitudes to h.
func (p *AR1) Next(h []float32) {
	nn := p.n * p.n
	h = h[:nn]
	p.fill(p.w, p.key, p.stream, p.sample*uint64(nn))
	f, w, pl := p.f[:nn], p.w[:nn], p.pl[:nn]
	if p.sample == 0 {
		copy(f, w)
	} else {
		a, b := p.a, p.b
		for i := range f {
			f[i] = float32(a*f[i]) + float32(b*w[i])
		}
	}
	// |f * pl|, zeroed where <= threshold, without branches (the outcome
	// is random, so a branch would be mispredicted half the time): for
	// non-negative floats, the order of the bit patterns is the order of
	// the numbers.
	t := math.Float32bits(p.threshold)
	for i := range h {
		v := math.Float32bits(f[i]*pl[i]) &^ (1 << 31)
		keep := uint32(int32(t-v) >> 31) // all ones where v > t
		h[i] = math.Float32frombits(v & keep)
	}
	p.sample++
}

// Rayleigh is the i.i.d. Gaussian interference channel: every sample draws
// h_ij ~ CN(0, 1) afresh, real and imaginary parts N(0, 1/2) from
// philox.Normal32(key, stream, 2(s*N*N + e)) and the index after it, and
// returns the amplitudes |h_ij| (Rayleigh distributed, E|h|^2 = 1).
type Rayleigh struct {
	n      int
	key    uint64
	stream uint64
	w      []float32
	sample uint64
	fill   NormalFiller
}

// UseNormals makes the channel draw with fill, a variant of
// philox.FillNormal32 that gives the same numbers faster.
func (r *Rayleigh) UseNormals(fill NormalFiller) { r.fill = fill }

// NewRayleigh returns the i.i.d. Rayleigh channel of n links.
func NewRayleigh(n int, key, stream uint64) (*Rayleigh, error) {
	if n < 1 {
		return nil, fmt.Errorf("channel: Rayleigh channel with N = %d links, want N >= 1", n)
	}
	return &Rayleigh{n: n, key: key, stream: stream, w: make([]float32, 2*n*n), fill: philox.FillNormal32}, nil
}

// Links returns N.
func (r *Rayleigh) Links() int { return r.n }

// Next draws the next sample into h.
func (r *Rayleigh) Next(h []float32) {
	nn := r.n * r.n
	r.fill(r.w, r.key, r.stream, 2*r.sample*uint64(nn))
	for e := range h[:nn] {
		re, im := r.w[2*e], r.w[2*e+1]
		h[e] = float32(math.Sqrt(0.5 * float64(float32(re*re)+float32(im*im))))
	}
	r.sample++
}
