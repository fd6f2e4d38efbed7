package kernels_test

import (
	"strings"
	"testing"

	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/policy"
)

func TestMLPShape(t *testing.T) {
	tests := []struct {
		net      kernels.MLP
		params   int
		maxWidth int
	}{
		{kernels.MLP{In: 5, Hidden: []int{30, 30}}, 1141, 30},
		{kernels.MLP{In: 1, Hidden: []int{1}}, 4, 1},
		{kernels.MLP{In: 3, Hidden: []int{7}}, 3*7 + 7 + 7 + 1, 7},
		{kernels.MLP{In: 5, Hidden: []int{1}}, 5 + 1 + 1 + 1, 5},
		{kernels.MLP{In: 40, Hidden: []int{8, 2}}, 40*8 + 8 + 8*2 + 2 + 2 + 1, 40},
		{kernels.MLP{In: 5, Hidden: []int{5, 3, 2}}, 5*5 + 5 + 5*3 + 3 + 3*2 + 2 + 2 + 1, 5},
		{kernels.MLP{In: 2, Hidden: []int{3, 64, 4}}, 2*3 + 3 + 3*64 + 64 + 64*4 + 4 + 4 + 1, 64},
	}
	for _, tc := range tests {
		name := policy.Arch{In: tc.net.In, Hidden: tc.net.Hidden}.String()
		if got := tc.net.NumParams(); got != tc.params {
			t.Errorf("%s: NumParams = %d, want %d", name, got, tc.params)
		}
		if ref := (policy.Arch{In: tc.net.In, Hidden: tc.net.Hidden}).NumParams(); tc.net.NumParams() != ref {
			t.Errorf("%s: NumParams = %d, policy.Arch.NumParams = %d", name, tc.net.NumParams(), ref)
		}
		if got := tc.net.MaxWidth(); got != tc.maxWidth {
			t.Errorf("%s: MaxWidth = %d, want %d", name, got, tc.maxWidth)
		}
		if err := tc.net.Validate(); err != nil {
			t.Errorf("%s: Validate = %v, want nil", name, err)
		}
	}
}

func TestMLPValidate(t *testing.T) {
	tests := []struct {
		net  kernels.MLP
		want string // substring of the error
	}{
		{kernels.MLP{In: 0, Hidden: []int{3}}, "input width 0"},
		{kernels.MLP{In: -2, Hidden: []int{3}}, "input width -2"},
		{kernels.MLP{In: 3}, "without hidden layers"},
		{kernels.MLP{In: 3, Hidden: []int{}}, "without hidden layers"},
		{kernels.MLP{In: 3, Hidden: []int{0}}, "hidden width 1 is 0"},
		{kernels.MLP{In: 3, Hidden: []int{4, -1}}, "hidden width 2 is -1"},
	}
	for _, tc := range tests {
		err := tc.net.Validate()
		if err == nil {
			t.Errorf("%+v: Validate = nil, want an error containing %q", tc.net, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: Validate = %q, want it to contain %q", tc.net, err, tc.want)
		}
		// policy rejects the same shapes.
		if (policy.Arch{In: tc.net.In, Hidden: tc.net.Hidden}).Validate() == nil {
			t.Errorf("%+v: policy.Arch accepts a shape kernels.MLP rejects", tc.net)
		}
	}
}

// NumParams matches the float64 reference over a grid of shapes.
func TestMLPNumParamsGrid(t *testing.T) {
	for in := 1; in <= 6; in++ {
		for _, hidden := range [][]int{{1}, {2, 9}, {30, 30}, {5, 3, 2}, {128}} {
			net := kernels.MLP{In: in, Hidden: hidden}
			arch := policy.Arch{In: in, Hidden: hidden}
			if net.NumParams() != arch.NumParams() {
				t.Errorf("%v: NumParams = %d, policy says %d", arch, net.NumParams(), arch.NumParams())
			}
			layers := arch.Layers()
			last := layers[len(layers)-1]
			if end := last.B + last.Out; end != net.NumParams() {
				t.Errorf("%v: layers end at %d, NumParams = %d", arch, end, net.NumParams())
			}
		}
	}
}
