// Package kernels defines the compute backends of batchrun: the batched,
// fused operations of the zo hot loop, each over S seeds at once, behind one
// small interface that a CPU and (later) a GPU implementation satisfy.
//
// Layouts are flat float32 slices with explicit strides, seeds outermost:
//
//   - parameters of agent k of seed s: Theta[s*ThetaSeedStride + k*ThetaAgentStride:][:P],
//     with agent stride 0 for one policy shared by all agents;
//   - observations: Obs[s*ObsSeedStride + (b*N + k)*In:][:In] for sample b;
//   - powers: Power[s*PowerSeedStride + b*N + k];
//   - channel amplitudes: H[s*HSeedStride + b*N*N + r*N + j], transmitter j
//     to receiver r.
//
// Every operation treats seeds independently: the numbers produced for a
// seed do not depend on which other seeds share the call, or on how a
// backend splits the work. This is what makes results independent of batch
// composition and worker count.
package kernels

import "fmt"

// MLP is the per-agent policy network In -> Hidden[0] -> ... -> 1 with ReLU
// hidden layers and output Pmax * sigmoid(z). Its flat parameter layout is
// PyTorch's nn.Linear state_dict order: for each layer the weight [out][in]
// row-major, then the bias [out]. (package policy documents the same layout
// and is the float64 reference.)
type MLP struct {
	In     int
	Hidden []int
}

// NumParams returns the number of weights and biases.
func (m MLP) NumParams() int {
	p, in := 0, m.In
	for _, h := range m.Hidden {
		p += h*in + h
		in = h
	}
	return p + in + 1
}

// MaxWidth returns the widest layer (input included).
func (m MLP) MaxWidth() int {
	w := m.In
	for _, h := range m.Hidden {
		w = max(w, h)
	}
	return w
}

// Validate reports a network shape no kernel can run.
func (m MLP) Validate() error {
	if m.In < 1 {
		return fmt.Errorf("kernels: MLP input width %d, want >= 1", m.In)
	}
	if len(m.Hidden) == 0 {
		return fmt.Errorf("kernels: MLP without hidden layers")
	}
	for i, h := range m.Hidden {
		if h < 1 {
			return fmt.Errorf("kernels: MLP hidden width %d is %d, want >= 1", i+1, h)
		}
	}
	return nil
}

// Forward is a batched policy forward pass: for every seed s < S, agent
// k < N and sample b < B,
//
//	Power[s][b][k] = Pmax * sigmoid(MLP(theta_sk + Mu u_sk; Obs[s][b][k]))
//
// where u_sk is read from U with its own strides, or is zero when U is nil.
type Forward struct {
	Net     MLP
	S, N, B int

	Theta                             []float32
	ThetaSeedStride, ThetaAgentStride int

	U                         []float32 // nil: no perturbation
	USeedStride, UAgentStride int
	Mu                        float32

	Obs           []float32
	ObsSeedStride int

	Pmax            float32
	Power           []float32
	PowerSeedStride int

	// Scratch is optional work space of at least ScratchLen() floats that
	// the caller owns; with it a call allocates nothing, ever. Nil: the
	// backend uses buffers of its own.
	Scratch []float32
}

// ScratchLen returns the work space Forward needs: one perturbed parameter
// vector and two activation buffers of B samples.
func (f *Forward) ScratchLen() int { return f.Net.NumParams() + 2*f.B*f.Net.MaxWidth() }

// Rates computes the batch-mean rate of every link of every seed,
//
//	MeanRate[s*N + i] = (1/B) sum_b log2(1 + H_ii^2 p_i / (Sigma2 + sum_{j != i} H_ij^2 p_j))
//
// on the B samples H[s][b] with powers Power[s][b]. Sums are in float64.
type Rates struct {
	S, N, B         int
	H               []float32
	HSeedStride     int
	Power           []float32
	PowerSeedStride int
	Sigma2          float64
	MeanRate        []float64 // out, [S][N]
}

// Perturb draws the perturbation directions of one iteration: for every seed
// s and agent k with Explore[s*N+k], the P values
//
//	Dst[s*SeedStride + k*AgentStride + p] = philox.Normal32(Keys[s], Streams[k], p)
//
// and zeros for agents that do not explore. Explore nil means all explore.
type Perturb struct {
	S, N, P                 int
	Keys                    []uint64 // [S]
	Streams                 []uint64 // [N]
	Explore                 []bool   // [S][N] or nil
	Dst                     []float32
	SeedStride, AgentStride int
}

// Update is the zeroth-order update grouped by message age: for every seed s
// and agent k,
//
//	theta_sk += sum_{j < Slots} Coef[(s*N + k)*Slots + j] * u_sk(j)
//
// where u_sk(j) = Ring[s*RingSeedStride + k*RingAgentStride + j*P:][:P] is
// the perturbation held in ring slot j. Zero coefficients cost nothing. The
// step size is folded into Coef.
type Update struct {
	S, N, P, Slots                    int
	Theta                             []float32
	ThetaSeedStride, ThetaAgentStride int
	Ring                              []float32
	RingSeedStride, RingAgentStride   int
	Coef                              []float32
}

// Backend runs the batched operations. Implementations are safe for
// concurrent use by several goroutines on disjoint outputs.
type Backend interface {
	// Name identifies the backend and its kernel set, e.g. "cpu/generic".
	Name() string
	// ForwardScratchLen returns the work space Forward needs for f on this
	// backend (at least f.ScratchLen()); with a Scratch that long, Forward
	// never allocates.
	ForwardScratchLen(f *Forward) int
	Forward(*Forward)
	Rates(*Rates)
	Perturb(*Perturb)
	Update(*Update)
	// FillNormal32 writes standard normals first, first+1, ... of a Philox
	// stream to dst, bit for bit what philox.FillNormal32 writes (the
	// channel processes draw their innovations with it).
	FillNormal32(dst []float32, key, stream, first uint64)
}
