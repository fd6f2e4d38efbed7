package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/batchrun/batchrun/kernels"
)

// Arch is an MLP In -> Hidden[0] -> ... -> Hidden[len(Hidden)-1] -> 1 with
// ReLU hidden activations and the output Pmax * sigmoid(z) (see the package
// documentation).
type Arch struct {
	// In is the width of the observation, K.
	In int
	// Hidden holds the widths of the hidden layers, at least one.
	Hidden []int
}

// Validate reports whether a describes a usable network: In >= 1,
// at least one hidden layer, and every hidden width >= 1.
func (a Arch) Validate() error {
	if a.In < 1 {
		return fmt.Errorf("policy: input width In is %d, want >= 1", a.In)
	}
	if len(a.Hidden) == 0 {
		return fmt.Errorf("policy: Hidden is empty, want at least one hidden layer")
	}
	for l, h := range a.Hidden {
		if h < 1 {
			return fmt.Errorf("policy: hidden width Hidden[%d] is %d, want >= 1", l, h)
		}
	}
	return nil
}

// NumParams returns the number of parameters of one MLP, the sum over its
// affine layers of Out*In + Out. For In = 5 and Hidden = {30, 30} it is 1141.
func (a Arch) NumParams() int { return kernels.MLP{In: a.In, Hidden: a.Hidden}.NumParams() }

// Layer describes one affine layer y = W x + b inside the flat parameter
// vector: W is the offset of the weight matrix [Out][In] (row-major, so the
// weight from input j to output o is at W + o*In + j) and B the offset of
// the bias [Out].
type Layer struct {
	In, Out, W, B int
}

// Layers returns the affine layers of a in order, the last one being the
// output layer with Out = 1. The layout is the order of a PyTorch
// state_dict of nn.Linear layers: layer 0 weight, layer 0 bias, layer 1
// weight, layer 1 bias, ..., output weight [1][Hidden[L-1]], output bias [1].
// The layers are contiguous and cover exactly NumParams values.
func (a Arch) Layers() []Layer {
	ls := make([]Layer, 0, len(a.Hidden)+1)
	off, in := 0, a.In
	add := func(out int) {
		l := Layer{In: in, Out: out, W: off, B: off + in*out}
		ls = append(ls, l)
		off = l.B + out
		in = out
	}
	for _, h := range a.Hidden {
		add(h)
	}
	add(1)
	return ls
}

// String returns the widths of a joined by dashes, e.g. "5-30-30-1".
func (a Arch) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(a.In))
	for _, h := range a.Hidden {
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(h))
	}
	b.WriteString("-1")
	return b.String()
}
