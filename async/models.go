package async

import (
	"fmt"
	"math"

	"github.com/batchrun/batchrun/kernels/philox"
)

// The delay models.
const (
	DelayUniform     = "uniform"     // uniform on [lo, hi]
	DelayExponential = "exponential" // lo + exponential of mean (hi - lo) / 2
)

// DelayModels lists the delay models.
var DelayModels = []string{DelayUniform, DelayExponential}

// Delay is a message delay model (see the package doc).
type Delay struct {
	Model  string
	Lo, Hi float64
}

// Validate checks the model; errors say what is wrong, not where (callers
// name the parameter).
func (m Delay) Validate() error {
	switch {
	case m.Model != DelayUniform && m.Model != DelayExponential:
		return fmt.Errorf("unknown delay model %q: want one of %s, %s", m.Model, DelayUniform, DelayExponential)
	case !(m.Lo >= 0) || math.IsInf(m.Lo, 0):
		return fmt.Errorf("the smallest delay lo = %g is negative or not finite: want a finite lo >= 0", m.Lo)
	case !(m.Hi >= m.Lo) || math.IsInf(m.Hi, 0):
		return fmt.Errorf("delays on [lo, hi] = [%g, %g]: want a finite hi >= lo", m.Lo, m.Hi)
	}
	return nil
}

// unit32 maps a 32-bit word to (w + 1/2) 2^-32, in (0, 1), increasing in w.
func unit32(w uint32) float64 { return (float64(w) + 0.5) * (1.0 / (1 << 32)) }

// Sample returns the delay for a uniformly random 32-bit word. It is
// nondecreasing in w (up to the last bits of the logarithm, see Max).
func (m Delay) Sample(w uint32) float64 {
	u := unit32(w)
	if m.Model == DelayExponential {
		return m.Lo + float64((m.Hi-m.Lo)/2*-philox.Ln01(1-u))
	}
	return m.Lo + float64((m.Hi-m.Lo)*u)
}

// Min returns a lower bound of every delay Sample returns: lo (Sample adds
// a nonnegative amount to lo).
func (m Delay) Min() float64 { return m.Lo }

// Max returns an upper bound of every delay Sample returns: the delay of
// the largest word, for the exponential model with a margin that covers
// the rounding of the logarithm (the exponential's 32-bit tail ends near
// 22.9 times its mean). Callers may treat a message as delivered, without
// drawing its delay, once its send time plus Max has passed.
func (m Delay) Max() float64 {
	top := m.Sample(math.MaxUint32)
	if m.Model == DelayExponential {
		return m.Lo + (top-m.Lo)*(1+1e-9) + 1e-300
	}
	return top
}

// Mean returns the expected delay, (lo + hi) / 2 for both models.
func (m Delay) Mean() float64 { return (m.Lo + m.Hi) / 2 }

// The compute-time models: the distribution of the unit-mean factor S.
const (
	ComputeFixed       = "fixed"       // S = 1: every update of a worker takes its mean time
	ComputeExponential = "exponential" // S ~ Exp(1)
	ComputeLogNormal   = "lognormal"   // S = exp(sigma Z - sigma^2/2)
	ComputePareto      = "pareto"      // S = x_m u^(-1/alpha), mean 1
)

// ComputeModels lists the compute-time models.
var ComputeModels = []string{ComputeFixed, ComputeExponential, ComputeLogNormal, ComputePareto}

// Compute is a compute-time model: an update of worker i takes m_i * S,
// with S drawn per update from the model (see the package doc). Sigma is
// the log-normal's shape, Alpha the Pareto tail index.
type Compute struct {
	Model string
	Sigma float64
	Alpha float64
}

// Validate checks the model.
func (m Compute) Validate() error {
	switch m.Model {
	case ComputeFixed, ComputeExponential:
	case ComputeLogNormal:
		if !(m.Sigma >= 0) || math.IsInf(m.Sigma, 0) {
			return fmt.Errorf("log-normal shape sigma = %g: want a finite sigma >= 0", m.Sigma)
		}
	case ComputePareto:
		if !(m.Alpha > 1) || math.IsInf(m.Alpha, 0) {
			return fmt.Errorf("Pareto tail index alpha = %g: want a finite alpha > 1 (the mean is infinite for alpha <= 1)", m.Alpha)
		}
	default:
		return fmt.Errorf("unknown compute-time model %q: want one of fixed, exponential, lognormal, pareto", m.Model)
	}
	return nil
}

// Random reports whether the factor is random (every model but fixed):
// callers need not draw words for a fixed model.
func (m Compute) Random() bool { return m.Model != ComputeFixed }

// Factor returns the unit-mean factor S for one Philox block of random
// words (the log-normal uses all four, the others the first two).
func (m Compute) Factor(w [4]uint32) float64 {
	switch m.Model {
	case ComputeExponential:
		return exponential(w[0], w[1])
	case ComputeLogNormal:
		z, _ := philox.NormalPairOf(w)
		return philox.Exp(float64(m.Sigma*z) - float64(m.Sigma*m.Sigma)/2)
	case ComputePareto:
		xm := (m.Alpha - 1) / m.Alpha
		return float64(xm * philox.Exp(-philox.Ln01(1-philox.Unit53(w[0], w[1]))/m.Alpha))
	}
	return 1
}

// exponential returns -ln(1 - u), a unit exponential, for the uniform u
// of two words.
func exponential(lo, hi uint32) float64 { return -philox.Ln01(1 - philox.Unit53(lo, hi)) }

// Outage is the model of workers that stop for a while and come back:
// after each update a worker stops with probability Prob, for an
// exponentially distributed time of mean Mean. Prob = 0 disables it.
type Outage struct {
	Prob, Mean float64
}

// Validate checks the model.
func (o Outage) Validate() error {
	switch {
	case !(o.Prob >= 0 && o.Prob < 1):
		return fmt.Errorf("outage probability %g: want 0 <= p < 1", o.Prob)
	case !(o.Mean > 0) || math.IsInf(o.Mean, 0):
		return fmt.Errorf("mean outage %g: want a finite mean > 0", o.Mean)
	}
	return nil
}

// Pause returns the pause after an update for one Philox block of random
// words: 0 with probability 1 - Prob, else an exponential of mean Mean.
func (o Outage) Pause(w [4]uint32) float64 {
	if o.Prob == 0 || philox.Unit53(w[0], w[1]) >= o.Prob {
		return 0
	}
	return float64(o.Mean * exponential(w[2], w[3]))
}
