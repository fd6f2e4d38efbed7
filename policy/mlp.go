package policy

import (
	"fmt"
	"math"

	"github.com/batchrun/batchrun/kernels/philox"
)

// InitUniform writes PyTorch's default nn.Linear initialisation of an MLP
// with architecture a into dst, which must have length a.NumParams(): every
// weight and bias of a layer with fan_in inputs is drawn from
// U(-bound, bound), bound = 1/sqrt(fan_in), parameter i (its index in the
// flat vector) as
//
//	dst[i] = (2*philox.Float32(key, stream, uint64(i)) - 1) * bound
//
// computed in float32. The result is a pure function of (a, key, stream).
// InitUniform panics if a is invalid or dst has the wrong length.
func InitUniform(dst []float32, a Arch, key, stream uint64) {
	if err := a.Validate(); err != nil {
		panic(fmt.Sprintf("policy: InitUniform: %v", err))
	}
	if len(dst) != a.NumParams() {
		panic(fmt.Sprintf("policy: InitUniform: len(dst) = %d, want NumParams = %d for %v", len(dst), a.NumParams(), a))
	}
	for _, l := range a.Layers() {
		bound := float32(1 / math.Sqrt(float64(l.In)))
		end := l.B + l.Out
		for i := l.W; i < end; i++ {
			dst[i] = (2*philox.Float32(key, stream, uint64(i)) - 1) * bound
		}
	}
}

// Forward64 is the float64 reference forward pass of one MLP with
// architecture a and parameters theta (length a.NumParams(), laid out as
// described by Arch.Layers) on the observation x (length a.In): ReLU hidden
// layers and the output pmax * sigmoid(z), which lies in [0, pmax] for every
// finite or infinite z. It panics if a is invalid or a length is wrong. It
// does not allocate when every hidden width is at most 128.
func Forward64(a Arch, theta []float64, x []float64, pmax float64) float64 {
	if err := a.Validate(); err != nil {
		panic(fmt.Sprintf("policy: Forward64: %v", err))
	}
	if len(theta) != a.NumParams() {
		panic(fmt.Sprintf("policy: Forward64: len(theta) = %d, want NumParams = %d for %v", len(theta), a.NumParams(), a))
	}
	if len(x) != a.In {
		panic(fmt.Sprintf("policy: Forward64: len(x) = %d, want In = %d", len(x), a.In))
	}
	maxW := 0
	for _, h := range a.Hidden {
		maxW = max(maxW, h)
	}
	var stack [256]float64
	var buf []float64
	if 2*maxW <= len(stack) {
		buf = stack[:2*maxW]
	} else {
		buf = make([]float64, 2*maxW)
	}
	ping, pong := buf[:maxW], buf[maxW:]
	cur := x
	off, in := 0, a.In
	for _, out := range a.Hidden {
		w, b := theta[off:off+out*in], theta[off+out*in:off+out*in+out]
		next := ping[:out]
		for o := range out {
			s := b[o]
			for j, wj := range w[o*in : o*in+in] {
				s += wj * cur[j]
			}
			next[o] = max(s, 0)
		}
		cur, ping, pong = next, pong, ping
		off += out*in + out
		in = out
	}
	w, b := theta[off:off+in], theta[off+in]
	z := b
	for j, wj := range w {
		z += wj * cur[j]
	}
	return pmax * sigmoid(z)
}

// sigmoid returns 1/(1+exp(-z)) without overflow: exp is only ever taken of
// a non-positive argument.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// FullPower sets every power to pmax.
func FullPower(p []float64, pmax float64) {
	for i := range p {
		p[i] = pmax
	}
}

// RandomPower sets p[i] = pmax * philox.Float64(key, stream, first+i), so
// that the powers are independent and uniform on [0, pmax).
func RandomPower(p []float64, pmax float64, key, stream, first uint64) {
	for i := range p {
		p[i] = pmax * philox.Float64(key, stream, first+uint64(i))
	}
}
