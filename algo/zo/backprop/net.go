// Package backprop is the first-order reference of the zo family: the
// power policies' forward pass and the batch sum-rate built as a gorgonia
// expression graph, differentiated symbolically, and stepped with Adam.
//
// A Net holds a batch of S seeds. Each seed has N agents (links) and B
// channel samples; agent i observes x_{s,i,b} (K taps) and transmits
// p_{s,i,b} = Pmax sigmoid(z), where z is the output of an MLP with ReLU
// hidden layers (policy.Arch). With Shared false every agent has its own MLP
// (mode first-order, A = S*N parameter sets); with Shared true the agents of
// a seed share one (central-first-order, A = S). The graph computes, from
// the squared channel gains G = H^2 of every sample,
//
//	r_{s,b,i} = log2(1 + G_ii p_i / (sigma2 + sum_{j != i} G_ij p_j))
//	rbar_{s,i} = (1/B) sum_b r_{s,b,i}            (LinkRates)
//	R_s = sum_i rbar_{s,i}                        (SumRates: the batch-mean sum-rate)
//	loss = -sum_s R_s
//
// The sigmoid is gorgonia's: exactly 1 for z > 19 (the true value is at
// least 1 - 5.6e-9 there) with gradient 0, so a policy driven past z = 19 on
// every sample stays at full power, as one in float32 PyTorch does past
// z = 17.
//
// Seeds share nothing: the gradient of the loss with respect to seed s's
// parameters is the gradient of R_s alone, and Adam works element by
// element, so a seed's trajectory does not depend on the other seeds of the
// batch (the tests check this to the bit).
//
// Layout. The tensors are batched over parameter sets: an affine layer with
// In inputs and Out outputs is a weight tensor [A, In, Out] and a bias
// [A, 1, Out], applied with one batched matrix product to the rows of its
// set, [A, R, In] with R = B (per agent) or N*B (shared). Observations are
// stored [S][N][B][K], so the same buffer reads as either. Parameters move
// in and out in the flat layout of policy.Arch.Layers (PyTorch's
// state_dict order: W [Out][In] row-major, then b [Out]) with SetParams and
// Params. The graph is built once per shape and its tape machine reused for
// every step: gorgonia's TapeMachine allocates on every run, and building a
// graph costs far more than running it.
package backprop

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/batchrun/batchrun/policy"
)

// Shape is the shape of a batch: the network, the batch sizes and the
// channel constants.
type Shape struct {
	Arch    policy.Arch
	S, N, B int
	// Shared: one MLP per seed for all its agents (central-first-order).
	Shared bool
	// Pmax is the maximum power, Sigma2 the noise power.
	Pmax, Sigma2 float64
}

// Sets returns A, the number of parameter sets: S*N, or S when Shared.
func (sh Shape) Sets() int {
	if sh.Shared {
		return sh.S
	}
	return sh.S * sh.N
}

// Validate reports a shape no graph can be built for.
func (sh Shape) Validate() error {
	if err := sh.Arch.Validate(); err != nil {
		return err
	}
	switch {
	case sh.S < 1:
		return fmt.Errorf("backprop: S = %d seeds, want >= 1", sh.S)
	case sh.N < 1:
		return fmt.Errorf("backprop: N = %d agents, want >= 1", sh.N)
	case sh.B < 1:
		return fmt.Errorf("backprop: B = %d samples, want >= 1", sh.B)
	case !(sh.Pmax > 0) || math.IsInf(sh.Pmax, 0):
		return fmt.Errorf("backprop: Pmax = %v, want finite > 0", sh.Pmax)
	case !(sh.Sigma2 > 0) || math.IsInf(sh.Sigma2, 0):
		return fmt.Errorf("backprop: Sigma2 = %v, want finite > 0", sh.Sigma2)
	}
	return nil
}

// Net is the expression graph of one batch shape with its tape machine.
type Net struct {
	shape  Shape
	layers []policy.Layer

	g      *gorgonia.ExprGraph
	params gorgonia.Nodes // per layer: weight [A, In, Out], bias [A, 1, Out]
	values [][]float64    // backing arrays of params, same order

	obs, gains, diag []float64 // inputs: [S][N][B][K], [S][B][N][N] off-diagonal G, [S][B][N] diagonal G

	power, linkRate, sumRate, loss *gorgonia.Node
	grads                          bool
	vm                             gorgonia.VM
}

// New builds the graph of shape sh. With grads true it also builds the
// gradient of the loss with respect to every parameter, which Run then
// computes (Grad reads it, Adam steps with it).
func New(sh Shape, grads bool) (*Net, error) {
	if err := sh.Validate(); err != nil {
		return nil, err
	}
	n := &Net{shape: sh, layers: sh.Arch.Layers(), grads: grads}
	if err := n.build(); err != nil {
		return nil, fmt.Errorf("backprop: build graph for %v, S=%d N=%d B=%d shared=%v: %w", sh.Arch, sh.S, sh.N, sh.B, sh.Shared, err)
	}
	opts := []gorgonia.VMOpt{}
	if grads {
		opts = append(opts, gorgonia.BindDualValues(n.params...))
	}
	n.vm = gorgonia.NewTapeMachine(n.g, opts...)
	return n, nil
}

// dense returns a float64 tensor of the given shape on a fresh backing
// array, which it also returns.
func dense(shape ...int) (*tensor.Dense, []float64) {
	size := 1
	for _, d := range shape {
		size *= d
	}
	buf := make([]float64, size)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(buf)), buf
}

func (n *Net) input(name string, shape ...int) (*gorgonia.Node, []float64) {
	t, buf := dense(shape...)
	node := gorgonia.NewTensor(n.g, tensor.Float64, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(t))
	return node, buf
}

func (n *Net) build() error {
	sh := n.shape
	S, N, B, K, A := sh.S, sh.N, sh.B, sh.Arch.In, sh.Sets()
	R := B
	if sh.Shared {
		R = N * B
	}
	n.g = gorgonia.NewGraph()
	var obs, gains, diag *gorgonia.Node
	obs, n.obs = n.input("obs", A, R, K)
	gains, n.gains = n.input("gains", S*B, N, N)
	diag, n.diag = n.input("diag", S*B, N, 1)

	// The MLPs: x <- relu(x W + b) for the hidden layers, z = x w + b.
	x := obs
	var err error
	for l, ly := range n.layers {
		w, wv := n.input(fmt.Sprintf("W%d", l), A, ly.In, ly.Out)
		b, bv := n.input(fmt.Sprintf("b%d", l), A, 1, ly.Out)
		n.params = append(n.params, w, b)
		n.values = append(n.values, wv, bv)
		if x, err = gorgonia.BatchedMatMul(x, w); err != nil {
			return err
		}
		if x, err = gorgonia.BroadcastAdd(x, b, nil, []byte{1}); err != nil {
			return err
		}
		if l < len(n.layers)-1 {
			if x, err = gorgonia.Rectify(x); err != nil {
				return err
			}
		}
	}
	// p = Pmax sigmoid(z): [A, R, 1] is [S][N][B] in memory.
	p, err := gorgonia.Sigmoid(x)
	if err != nil {
		return err
	}
	if p, err = gorgonia.Mul(p, gorgonia.NewConstant(sh.Pmax, gorgonia.WithName("Pmax"))); err != nil {
		return err
	}
	if n.power, err = gorgonia.Reshape(p, tensor.Shape{S, N, B}); err != nil {
		return err
	}
	// Per sample: [S, B, N] -> [S*B, N, 1].
	if p, err = gorgonia.Transpose(n.power, 0, 2, 1); err != nil {
		return err
	}
	if p, err = gorgonia.Reshape(p, tensor.Shape{S * B, N, 1}); err != nil {
		return err
	}
	interference, err := gorgonia.BatchedMatMul(gains, p)
	if err != nil {
		return err
	}
	if interference, err = gorgonia.Add(interference, gorgonia.NewConstant(sh.Sigma2, gorgonia.WithName("sigma2"))); err != nil {
		return err
	}
	signal, err := gorgonia.HadamardProd(diag, p)
	if err != nil {
		return err
	}
	sinr, err := gorgonia.HadamardDiv(signal, interference)
	if err != nil {
		return err
	}
	// log2(1 + sinr) = log1p(sinr) / ln 2, with the 1/B of the batch mean.
	rate, err := gorgonia.Log1p(sinr)
	if err != nil {
		return err
	}
	if rate, err = gorgonia.Reshape(rate, tensor.Shape{S, B, N}); err != nil {
		return err
	}
	if rate, err = gorgonia.Sum(rate, 1); err != nil {
		return err
	}
	if n.linkRate, err = gorgonia.Mul(rate, gorgonia.NewConstant(1/(math.Ln2*float64(B)), gorgonia.WithName("1/(B ln2)"))); err != nil {
		return err
	}
	if n.sumRate, err = gorgonia.Sum(n.linkRate, 1); err != nil {
		return err
	}
	total, err := gorgonia.Sum(n.sumRate)
	if err != nil {
		return err
	}
	if n.loss, err = gorgonia.Neg(total); err != nil {
		return err
	}
	if n.grads {
		if _, err = gorgonia.Grad(n.loss, n.params...); err != nil {
			return err
		}
	}
	return nil
}

// Shape returns the net's shape.
func (n *Net) Shape() Shape { return n.shape }

// SetParams sets parameter set a (seed s, agent i at a = s*N + i; seed s at
// a = s when Shared) from theta in the flat layout of policy.Arch.Layers.
func (n *Net) SetParams(a int, theta []float32) { setParams(n, a, theta) }

// SetParams64 is SetParams from float64 parameters.
func (n *Net) SetParams64(a int, theta []float64) { setParams(n, a, theta) }

func setParams[T float32 | float64](n *Net, a int, theta []T) {
	n.checkParams(a, len(theta))
	for l, ly := range n.layers {
		w := n.values[2*l][a*ly.In*ly.Out:][:ly.In*ly.Out]
		for o := range ly.Out {
			for j := range ly.In {
				w[j*ly.Out+o] = float64(theta[ly.W+o*ly.In+j])
			}
		}
		b := n.values[2*l+1][a*ly.Out:][:ly.Out]
		for o := range b {
			b[o] = float64(theta[ly.B+o])
		}
	}
}

// Params writes parameter set a into dst in the flat layout.
func (n *Net) Params(a int, dst []float64) {
	n.checkParams(a, len(dst))
	n.flatten(n.values, a, dst)
}

// Grad writes the gradient of the loss (minus the sum over seeds of the
// batch-mean sum-rates) with respect to parameter set a, computed by the
// last Run, into dst in the flat layout. It panics if the net was built
// without gradients.
func (n *Net) Grad(a int, dst []float64) error {
	if !n.grads {
		panic("backprop: Grad of a net built without gradients")
	}
	n.checkParams(a, len(dst))
	grads := make([][]float64, len(n.params))
	for i, p := range n.params {
		g, err := p.Grad()
		if err != nil {
			return fmt.Errorf("backprop: gradient of %s: %w", p.Name(), err)
		}
		grads[i] = g.Data().([]float64)
	}
	n.flatten(grads, a, dst)
	return nil
}

// flatten writes parameter set a of tensors, laid out as the parameters
// (per layer a weight [A, In, Out] and a bias [A, 1, Out]), into dst in the
// flat layout.
func (n *Net) flatten(tensors [][]float64, a int, dst []float64) {
	for l, ly := range n.layers {
		w := tensors[2*l][a*ly.In*ly.Out:][:ly.In*ly.Out]
		for o := range ly.Out {
			for j := range ly.In {
				dst[ly.W+o*ly.In+j] = w[j*ly.Out+o]
			}
		}
		copy(dst[ly.B:ly.B+ly.Out], tensors[2*l+1][a*ly.Out:][:ly.Out])
	}
}

func (n *Net) checkParams(a, length int) {
	if a < 0 || a >= n.shape.Sets() {
		panic(fmt.Sprintf("backprop: parameter set %d of %d", a, n.shape.Sets()))
	}
	if p := n.shape.Arch.NumParams(); length != p {
		panic(fmt.Sprintf("backprop: %d parameters, want %d for %v", length, p, n.shape.Arch))
	}
}

// SetSample sets sample b of seed s: h holds the N x N channel amplitudes
// H[r][j] (row r = receiver) and x the N x K observations (agent-major),
// both as the channel package produces them.
func (n *Net) SetSample(s, b int, h, x []float32) {
	sh := n.shape
	N, B, K := sh.N, sh.B, sh.Arch.In
	if s < 0 || s >= sh.S || b < 0 || b >= B {
		panic(fmt.Sprintf("backprop: sample (%d, %d) of (%d, %d)", s, b, sh.S, B))
	}
	if len(h) != N*N || len(x) != N*K {
		panic(fmt.Sprintf("backprop: sample lengths %d, %d, want %d, %d", len(h), len(x), N*N, N*K))
	}
	gains := n.gains[(s*B+b)*N*N:][:N*N]
	diag := n.diag[(s*B+b)*N:][:N]
	for r := range N {
		for j := range N {
			a := float64(h[r*N+j])
			if j == r {
				diag[r] = a * a
				gains[r*N+j] = 0
			} else {
				gains[r*N+j] = a * a
			}
		}
		copy64(n.obs[((s*N+r)*B+b)*K:][:K], x[r*K:][:K])
	}
}

func copy64(dst []float64, src []float32) {
	for i, v := range src {
		dst[i] = float64(v)
	}
}

// Run evaluates the graph on the current parameters and samples, and its
// gradient when the net has one. (gorgonia adds a run's gradient to the
// one its parameters hold, and only its solvers clear them; Run clears
// them first, so the gradient is always that of the last Run.)
func (n *Net) Run() error {
	n.vm.Reset()
	if n.grads {
		for _, p := range n.params {
			if g, err := p.Grad(); err == nil {
				if d, ok := g.(*tensor.Dense); ok {
					d.Zero()
				}
			}
		}
	}
	if err := n.vm.RunAll(); err != nil {
		return fmt.Errorf("backprop: run graph: %w", err)
	}
	return nil
}

// SumRates returns the batch-mean sum-rate R_s of every seed from the last
// Run (a view valid until the next Run).
func (n *Net) SumRates() []float64 { return n.sumRate.Value().Data().([]float64) }

// LinkRates returns the batch-mean rates rbar_{s,i}, [S][N], from the last
// Run (a view valid until the next Run).
func (n *Net) LinkRates() []float64 { return n.linkRate.Value().Data().([]float64) }

// Powers returns the powers p_{s,i,b}, [S][N][B], from the last Run (a view
// valid until the next Run).
func (n *Net) Powers() []float64 { return n.power.Value().Data().([]float64) }

// Close releases the tape machine.
func (n *Net) Close() error { return n.vm.Close() }
