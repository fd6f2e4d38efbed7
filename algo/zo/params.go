package zo

import (
	"strings"

	"github.com/batchrun/batchrun/batch"
	"github.com/batchrun/batchrun/channel"
	"github.com/batchrun/batchrun/kernels"
)

// The zeroth-order modes (spec section 4-5).
const (
	ModeAsync      = "async"       // relay message passing, link failures, skipped exploration
	ModeFixedDelay = "fixed-delay" // per-pair delays drawn once per seed
	ModeSync       = "sync"        // one global slope per iteration
	ModeCentralZO  = "central-zo"  // one policy shared by all agents
)

// The first-order references (spec section 5): backpropagation of the
// batch-mean sum-rate through the policies, Adam steps (package backprop).
const (
	ModeFirstOrder   = "first-order"         // one MLP per agent, trained jointly on the global loss
	ModeCentralFirst = "central-first-order" // one MLP shared by all agents
)

// The fixed policies, run as modes of their own on the same channels
// (spec section 6): they learn nothing, so their trace is the policy's
// batch sum-rate on the base samples of every iteration.
const (
	ModeFullPower   = "full-power"   // p_i = Pmax
	ModeRandomPower = "random-power" // p_i ~ U[0, Pmax] per sample and link
	ModeWMMSE       = "wmmse"        // Shi et al. 2011, from full power
)

// ZOModes lists the zeroth-order modes in their canonical order.
var ZOModes = []string{ModeAsync, ModeFixedDelay, ModeSync, ModeCentralZO}

// FirstOrderModes lists the first-order references.
var FirstOrderModes = []string{ModeFirstOrder, ModeCentralFirst}

// LearnModes lists the learning modes: the zeroth-order ones, then the
// first-order references.
var LearnModes = append(append([]string{}, ZOModes...), FirstOrderModes...)

// BaselineModes lists the fixed policies.
var BaselineModes = []string{ModeFullPower, ModeRandomPower, ModeWMMSE}

// Modes lists every mode: the learning ones, then the fixed policies.
var Modes = append(append([]string{}, LearnModes...), BaselineModes...)

// IsBaseline reports whether mode is a fixed policy.
func IsBaseline(mode string) bool {
	return mode == ModeFullPower || mode == ModeRandomPower || mode == ModeWMMSE
}

// IsFirstOrder reports whether mode is a first-order reference.
func IsFirstOrder(mode string) bool {
	return mode == ModeFirstOrder || mode == ModeCentralFirst
}

// Schema returns the parameters of the zo experiment. Names follow the
// spec's symbols.
func Schema() batch.Schema {
	return batch.Schema{
		{Name: "mode", Kind: batch.Enum, Default: "async", Enum: Modes, Doc: "algorithm: a zeroth-order mode, a first-order reference (backpropagation, Adam), or a fixed policy on the same channels"},
		{Name: "N", Kind: batch.Int, Default: "24", Range: batch.Between(2, 1<<20), Doc: "number of links (agents)"},
		{Name: "T", Kind: batch.Int, Default: "2000", Range: batch.Between(1, 1<<31-1), Doc: "iterations"},
		{Name: "B", Kind: batch.Int, Default: "10", Range: batch.AtLeast(1), Doc: "channel samples per evaluation (2B drawn per iteration)"},
		{Name: "K", Kind: batch.Int, Default: "5", Range: batch.AtLeast(1), Doc: "observation taps (MLP input width)"},
		{Name: "hidden", Kind: batch.IntList, Default: "30,30", Range: batch.AtLeast(1), Doc: "hidden layer widths of every agent's MLP"},
		{Name: "mu", Kind: batch.Float, Default: "2", Range: batch.Above(0), Doc: "perturbation (smoothing) radius"},
		{Name: "alpha", Kind: batch.Float, Default: "0.1", Range: batch.Above(0), Doc: "step size scale: alpha_t = alpha / (t+1)^alpha_decay"},
		{Name: "alpha_decay", Kind: batch.Float, Default: "0.25", Range: batch.AtLeast(0), Doc: "step size decay exponent"},
		{Name: "Pmax", Kind: batch.Float, Default: "10", Range: batch.Above(0), Doc: "maximum transmit power"},
		{Name: "sigma2", Kind: batch.Float, Default: "1", Range: batch.Above(0), Doc: "noise power"},
		{Name: "lr", Kind: batch.Float, Default: "0.1", Range: batch.Above(0), Doc: "first-order modes: Adam learning rate (betas 0.9, 0.999, eps 1e-8)", KeyOmitsDefault: true},
		{Name: "up_p", Kind: batch.Float, Default: "0.9", Range: batch.Between(0, 1), Doc: "async: probability that an agent explores (draws u) in an iteration"},
		{Name: "tx_p", Kind: batch.Float, Default: "0.9", Range: batch.Between(0, 1), Doc: "async: transmit success probability of a link"},
		{Name: "rx_p", Kind: batch.Float, Default: "0.9", Range: batch.Between(0, 1), Doc: "async: receive success probability of a link (a message gets through with tx_p*rx_p)"},
		{Name: "buffer", Kind: batch.Int, Default: "40", Range: batch.AtLeast(1), Doc: "perturbations kept per agent: terms of age >= buffer are dropped"},
		{Name: "D", Kind: batch.Int, Default: "10", Range: batch.AtLeast(1), Doc: "fixed-delay: delays uniform on {1..D}"},
		{Name: "window", Kind: batch.Int, Default: "6", Range: batch.AtLeast(2), Doc: "graph: agents sharing an index window [k, k+window) are neighbours"},
		{Name: "stride", Kind: batch.Int, Default: "3", Range: batch.AtLeast(1), Doc: "graph: windows start at k = 0, stride, 2*stride, ..."},
		{Name: "channel", Kind: batch.Enum, Default: "ar1", Enum: []string{"ar1", "rayleigh"}, Doc: "ar1: path loss and AR(1) fading (paper); rayleigh: i.i.d. CN(0,1) (Sun et al. 2018)"},
		{Name: "c", Kind: batch.Float, Default: "0.3", Range: batch.Range{Lo: 0, Hi: 1, HasLo: true, HasHi: true, LoOpen: true}, Doc: "ar1: fading innovation weight, F_s = sqrt(1-c) F_{s-1} + sqrt(c) W_s"},
		{Name: "threshold", Kind: batch.Float, Default: "0.01", Range: batch.AtLeast(0), Doc: "ar1: amplitudes <= threshold are set to 0"},
		{Name: "pl_exp", Kind: batch.Float, Default: "2.2", Range: batch.Above(0), Doc: "ar1: amplitude path-loss exponent"},
		{Name: "geometry", Kind: batch.Enum, Default: "paper", Enum: []string{"paper", "density"}, Doc: "ar1: paper (L = N, l = N/4) or density (L = 24 sqrt(N/24), l = 6)"},
		{Name: "L", Kind: batch.Float, Default: "0", Range: batch.AtLeast(0), Doc: "ar1: transmitter square half-side; 0 = from geometry"},
		{Name: "l", Kind: batch.Float, Default: "0", Range: batch.AtLeast(0), Doc: "ar1: receiver offset half-side; 0 = from geometry"},
		{Name: "init", Kind: batch.Enum, Default: "shared", Enum: []string{"shared", "independent"}, Doc: "initial weights: the same for every agent (paper) or independent per agent"},
		{Name: "wmmse_iter", Kind: batch.Int, Default: "100", Range: batch.AtLeast(1), Doc: "WMMSE: maximum iterations"},
		{Name: "wmmse_tol", Kind: batch.Float, Default: "0.001", Range: batch.AtLeast(0), Doc: "WMMSE: stop when an iteration gains <= wmmse_tol in sum-rate"},
		{Name: "E", Kind: batch.Int, Default: "0", Range: batch.AtLeast(0), Doc: "held-out evaluation every E iterations on fresh channels (0 = off)"},
		{Name: "eval_samples", Kind: batch.Int, Default: "200", Range: batch.AtLeast(1), Doc: "held-out channel samples per evaluation"},
		{Name: "log_every", Kind: batch.Int, Default: "1", Range: batch.AtLeast(1), Doc: "write every log_every-th iteration to trace.csv (summaries use all)"},
	}
}

// Presets returns the named parameter sets of the zo experiment.
func Presets() []batch.Preset {
	return []batch.Preset{
		{
			Name: "paper000", Experiment: "zo",
			Doc:  "Behmandpoor et al. (TSIPN 2024): 24 links, AR(1) fading, 5-30-30-1 MLPs, T = 2000; every mode and fixed policy side by side",
			Grid: map[string]string{"mode": strings.Join(Modes, ",")}, Replicates: 4,
		},
		{
			Name: "rayleigh", Experiment: "zo",
			Doc:  "i.i.d. Rayleigh interference channel of Sun et al. 2018: 10 links, sigma2 = 1, Pmax = 1",
			Set:  map[string]string{"channel": "rayleigh", "N": "10", "Pmax": "1", "sigma2": "1"},
			Grid: map[string]string{"mode": strings.Join(Modes, ",")}, Replicates: 4,
		},
	}
}

// Config is a resolved parameter set of the zo experiment.
type Config struct {
	Mode                   string
	N, T, B, K             int
	Hidden                 []int
	Mu, Alpha, AlphaDecay  float64
	LR                     float64
	Pmax, Sigma2           float64
	UpP, TxP, RxP          float64
	Buffer, D              int
	Window, Stride         int
	Channel                string
	C, Threshold, PLExp    float64
	Geometry               string
	L, LOffset             float64 // resolved sides (never 0)
	Init                   string
	WMMSEIter              int
	WMMSETol               float64
	EvalEvery, EvalSamples int
	LogEvery               int
	Values                 batch.Values // the resolved parameters, for output
}

// NewConfig reads and cross-checks resolved parameter values.
func NewConfig(v batch.Values) (Config, error) {
	c := Config{
		Mode: v.String("mode"),
		N:    v.Int("N"), T: v.Int("T"), B: v.Int("B"), K: v.Int("K"),
		Hidden: v.Ints("hidden"),
		Mu:     v.Float("mu"), Alpha: v.Float("alpha"), AlphaDecay: v.Float("alpha_decay"),
		LR:   v.Float("lr"),
		Pmax: v.Float("Pmax"), Sigma2: v.Float("sigma2"),
		UpP: v.Float("up_p"), TxP: v.Float("tx_p"), RxP: v.Float("rx_p"),
		Buffer: v.Int("buffer"), D: v.Int("D"),
		Window: v.Int("window"), Stride: v.Int("stride"),
		Channel: v.String("channel"),
		C:       v.Float("c"), Threshold: v.Float("threshold"), PLExp: v.Float("pl_exp"),
		Geometry: v.String("geometry"),
		L:        v.Float("L"), LOffset: v.Float("l"),
		Init:      v.String("init"),
		WMMSEIter: v.Int("wmmse_iter"), WMMSETol: v.Float("wmmse_tol"),
		EvalEvery: v.Int("E"), EvalSamples: v.Int("eval_samples"),
		LogEvery: v.Int("log_every"),
		Values:   v,
	}
	L, l := channel.PaperSides(c.N)
	if c.Geometry == "density" {
		L, l = channel.DensitySides(c.N)
	}
	if c.L == 0 {
		c.L = L
	}
	if c.LOffset == 0 {
		c.LOffset = l
	}
	// Outputs list the sides actually used, not the "0 = from geometry" marker.
	c.Values = v.With("L", c.L).With("l", c.LOffset)
	return c, nil
}

// Agents returns the number of parameter vectors per seed in a mode: one per
// agent, or one shared by all in central-zo and central-first-order.
func (c *Config) Agents(mode string) int {
	if mode == ModeCentralZO || mode == ModeCentralFirst {
		return 1
	}
	return c.N
}

// Slots returns the number of perturbations a mode keeps per agent: the
// buffer in async mode, at most D+1 under fixed delays, and only the current
// one in sync and central-zo. The first-order modes keep none, but the
// group's ring has one slot whatever the mode.
func (c *Config) Slots(mode string) int {
	switch mode {
	case ModeAsync:
		return c.Buffer
	case ModeFixedDelay:
		return min(c.Buffer, c.D+1)
	}
	return 1
}

// LateFrom returns the first 1-based iteration of the late window, the
// second half of the run: T/2+1 .. T (1001..2000 for T = 2000).
func (c *Config) LateFrom() int { return c.T/2 + 1 }

// GroupBytes estimates the memory of one batched group of `seeds` seed-runs
// of a mode: channel samples and observations of an iteration, policies,
// the perturbation ring, message buffers, the held-out set and the traces.
func (c *Config) GroupBytes(mode string, seeds int) int64 {
	S, N, B2, K := int64(seeds), int64(c.N), int64(2*c.B), int64(c.K)
	P := int64(kernels.MLP{In: c.K, Hidden: c.Hidden}.NumParams())
	A, slots := int64(c.Agents(mode)), int64(c.Slots(mode))
	b := S * B2 * (N*N + N*K + N) * 4 // channel samples, observations, powers
	b += S * A * P * 4 * (1 + slots)  // policies and perturbation ring
	b += S * N * 8 * 3                // rates and slopes
	switch mode {
	case ModeFirstOrder, ModeCentralFirst:
		// The gorgonia graph in float64: parameters with their gradients
		// and Adam's two moments; per layer about four activation-sized
		// tensors forward and four backward; the gains and their
		// products in the rates.
		widths := int64(1)
		for _, h := range c.Hidden {
			widths += int64(h)
		}
		b += S * A * P * 8 * 4
		b += S * N * int64(c.B) * widths * 8 * 8
		b += S * int64(c.B) * N * (N + 8) * 8 * 3
	case ModeAsync:
		b += S * N * N * 36 // three (timestamp, slope) buffers
	case ModeFixedDelay:
		b += S * N * (N*4 + int64(c.D+1)*8)
	}
	if c.EvalEvery > 0 {
		b += S * int64(c.EvalSamples) * (N*N + N*K + N) * 4
	}
	return b + S*int64(c.T)*8 // the trace
}

// ResultBytes estimates the memory the results of `seeds` cells keep until
// they are committed: the trace rows.
func (c *Config) ResultBytes(seeds int) int64 {
	return int64(seeds) * int64(c.T) * 48
}

// DeviceHostBytes estimates the host memory of a group of `seeds`
// seed-runs that runs on a GPU: the initial policies and path losses
// before they are copied over, the held-out set, and the traces.
func (c *Config) DeviceHostBytes(seeds int) int64 {
	S, N, K := int64(seeds), int64(c.N), int64(c.K)
	P := int64(kernels.MLP{In: c.K, Hidden: c.Hidden}.NumParams())
	b := S*int64(c.Agents(c.Mode))*P*4 + S*N*N*(4+4+8)
	if c.EvalEvery > 0 {
		b += S * int64(c.EvalSamples) * (N*N + N*K + N) * 4
	}
	return b + S*int64(c.T)*8
}
