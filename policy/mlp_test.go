package policy

import (
	"math"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/kernels/philox"
)

func TestArchNumParamsAndString(t *testing.T) {
	tests := []struct {
		arch   Arch
		params int
		str    string
	}{
		{Arch{In: 5, Hidden: []int{30, 30}}, 1141, "5-30-30-1"},
		{Arch{In: 2, Hidden: []int{2}}, 2*2 + 2 + 2 + 1, "2-2-1"},
		{Arch{In: 1, Hidden: []int{1}}, 4, "1-1-1"},
		{Arch{In: 3, Hidden: []int{4, 5, 6}}, 3*4 + 4 + 4*5 + 5 + 5*6 + 6 + 6 + 1, "3-4-5-6-1"},
	}
	for _, tt := range tests {
		if err := tt.arch.Validate(); err != nil {
			t.Errorf("%v: Validate() = %v, want nil", tt.arch, err)
		}
		if got := tt.arch.NumParams(); got != tt.params {
			t.Errorf("%v: NumParams() = %d, want %d", tt.arch, got, tt.params)
		}
		if got := tt.arch.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
	}
}

func TestArchLayers(t *testing.T) {
	for _, a := range []Arch{
		{In: 5, Hidden: []int{30, 30}},
		{In: 2, Hidden: []int{2}},
		{In: 7, Hidden: []int{3, 1, 9, 4}},
	} {
		ls := a.Layers()
		if len(ls) != len(a.Hidden)+1 {
			t.Fatalf("%v: %d layers, want %d", a, len(ls), len(a.Hidden)+1)
		}
		off, in := 0, a.In
		for l, ly := range ls {
			out := 1
			if l < len(a.Hidden) {
				out = a.Hidden[l]
			}
			want := Layer{In: in, Out: out, W: off, B: off + in*out}
			if ly != want {
				t.Errorf("%v: layer %d = %+v, want %+v", a, l, ly, want)
			}
			off = want.B + out
			in = out
		}
		if off != a.NumParams() {
			t.Errorf("%v: layers cover %d values, want NumParams = %d", a, off, a.NumParams())
		}
	}
}

func TestArchValidate(t *testing.T) {
	tests := []struct {
		name string
		arch Arch
		want string // substring of the error
	}{
		{"zero input", Arch{In: 0, Hidden: []int{30}}, "input width In is 0"},
		{"negative input", Arch{In: -2, Hidden: []int{30}}, "In is -2"},
		{"no hidden", Arch{In: 5}, "Hidden is empty"},
		{"empty hidden", Arch{In: 5, Hidden: []int{}}, "Hidden is empty"},
		{"zero width", Arch{In: 5, Hidden: []int{30, 30, 0}}, "hidden width Hidden[2] is 0, want >= 1"},
		{"negative width", Arch{In: 5, Hidden: []int{-1}}, "Hidden[0] is -1"},
	}
	for _, tt := range tests {
		err := tt.arch.Validate()
		if err == nil {
			t.Errorf("%s: Validate() = nil, want error containing %q", tt.name, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "policy: ") {
			t.Errorf("%s: Validate() = %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestInitUniformBoundsAndLayout(t *testing.T) {
	a := Arch{In: 5, Hidden: []int{30, 30}}
	const key, stream = 7, 3
	dst := make([]float32, a.NumParams())
	InitUniform(dst, a, key, stream)
	for l, ly := range a.Layers() {
		bound := float32(1 / math.Sqrt(float64(ly.In)))
		for i := ly.W; i < ly.B+ly.Out; i++ {
			if !(dst[i] >= -bound && dst[i] <= bound) {
				t.Fatalf("layer %d: dst[%d] = %v outside [-%v, %v]", l, i, dst[i], bound, bound)
			}
			want := (2*philox.Float32(key, stream, uint64(i)) - 1) * bound
			if dst[i] != want {
				t.Fatalf("layer %d: dst[%d] = %v, want %v", l, i, dst[i], want)
			}
		}
	}
}

func TestInitUniformMoments(t *testing.T) {
	a := Arch{In: 100, Hidden: []int{200, 50}}
	dst := make([]float32, a.NumParams())
	InitUniform(dst, a, 11, 0)
	checked := 0
	for l, ly := range a.Layers() {
		vals := dst[ly.W : ly.B+ly.Out]
		if len(vals) < 5000 {
			continue
		}
		checked++
		bound := 1 / math.Sqrt(float64(ly.In))
		var s, s2 float64
		for _, x := range vals {
			s += float64(x)
			s2 += float64(x) * float64(x)
		}
		n := float64(len(vals))
		mean := s / n
		std := math.Sqrt(s2/n - mean*mean)
		wantStd := bound / math.Sqrt(3)
		// Standard error of the mean is wantStd/sqrt(n), of the std about
		// wantStd*sqrt(0.8/(4n)) for a uniform; allow about 5 of each.
		if math.Abs(mean) > 5*wantStd/math.Sqrt(n) {
			t.Errorf("layer %d: mean %.4g, want 0 within %.3g", l, mean, 5*wantStd/math.Sqrt(n))
		}
		if rel := math.Abs(std/wantStd - 1); rel > 5*math.Sqrt(0.2/n) {
			t.Errorf("layer %d: std %.5g, want %.5g (relative error %.3g)", l, std, wantStd, rel)
		}
	}
	if checked != 2 {
		t.Fatalf("checked %d layers, want 2", checked)
	}
}

func TestInitUniformDeterministic(t *testing.T) {
	a := Arch{In: 5, Hidden: []int{30, 30}}
	n := a.NumParams()
	x, y, z, k := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	InitUniform(x, a, 1, 2)
	InitUniform(y, a, 1, 2)
	InitUniform(z, a, 1, 3)
	InitUniform(k, a, 2, 2)
	same, diffStream, diffKey := 0, 0, 0
	for i := range x {
		if x[i] == y[i] {
			same++
		}
		if x[i] != z[i] {
			diffStream++
		}
		if x[i] != k[i] {
			diffKey++
		}
	}
	if same != n {
		t.Errorf("same key and stream: %d of %d values equal, want all", same, n)
	}
	if diffStream < n*99/100 {
		t.Errorf("different stream: only %d of %d values differ", diffStream, n)
	}
	if diffKey < n*99/100 {
		t.Errorf("different key: only %d of %d values differ", diffKey, n)
	}
}

func TestInitUniformPanics(t *testing.T) {
	tests := []struct {
		name string
		arch Arch
		n    int
	}{
		{"short dst", Arch{In: 5, Hidden: []int{30, 30}}, 1140},
		{"invalid arch", Arch{In: 0, Hidden: []int{3}}, 7},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: InitUniform did not panic", tt.name)
				}
			}()
			InitUniform(make([]float32, tt.n), tt.arch, 0, 0)
		}()
	}
}

func sigmoidRef(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func TestForward64HandComputed(t *testing.T) {
	tiny := Arch{In: 2, Hidden: []int{2}}
	// W0 = [[1, -1], [0.5, 2]], b0 = [0, -1], W1 = [[1, -2]], b1 = 0.5.
	theta := []float64{1, -1, 0.5, 2, 0, -1, 1, -2, 0.5}
	deep := Arch{In: 1, Hidden: []int{2, 1}}
	// W0 = [[2], [-1]], b0 = [1, 0], W1 = [[1, 3]], b1 = [-4], W2 = [[-0.5]], b2 = 1.
	thetaDeep := []float64{2, -1, 1, 0, 1, 3, -4, -0.5, 1}
	tests := []struct {
		name  string
		arch  Arch
		theta []float64
		x     []float64
		pmax  float64
		want  float64
	}{
		// a = relu(3-1, 1.5+2-1) = (2, 2.5); z = 2 - 5 + 0.5 = -2.5.
		{"both active", tiny, theta, []float64{3, 1}, 1, sigmoidRef(-2.5)},
		// a = relu(-4, -0.5) = (0, 0); z = 0.5.
		{"both clamped", tiny, theta, []float64{-3, 1}, 2, 2 * sigmoidRef(0.5)},
		// a = relu(1-3, 0.5+6-1) = (0, 5.5); z = -11 + 0.5.
		{"one clamped", tiny, theta, []float64{1, 3}, 10, 10 * sigmoidRef(-10.5)},
		// a1 = relu(2*1.5+1, -1.5) = (4, 0); a2 = relu(4-4) = 0; z = 1.
		{"deep zero", deep, thetaDeep, []float64{1.5}, 3, 3 * sigmoidRef(1)},
		// a1 = relu(-1, 1) = (0, 1); a2 = relu(3-4) = 0; z = 1.
		{"deep negative", deep, thetaDeep, []float64{-1}, 1, sigmoidRef(1)},
		// a1 = (7, 0); a2 = relu(7-4) = 3; z = -1.5+1 = -0.5.
		{"deep active", deep, thetaDeep, []float64{3}, 1, sigmoidRef(-0.5)},
	}
	for _, tt := range tests {
		got := Forward64(tt.arch, tt.theta, tt.x, tt.pmax)
		if math.Abs(got-tt.want) > 1e-15*tt.pmax {
			t.Errorf("%s: Forward64 = %.17g, want %.17g", tt.name, got, tt.want)
		}
	}
}

func TestForward64Range(t *testing.T) {
	a := Arch{In: 5, Hidden: []int{30, 30}}
	theta32 := make([]float32, a.NumParams())
	theta := make([]float64, a.NumParams())
	x := make([]float64, a.In)
	for seed := range uint64(50) {
		InitUniform(theta32, a, 5, seed)
		scale := float64(1 + seed) // larger weights push z far out
		for i, v := range theta32 {
			theta[i] = scale * float64(v)
		}
		for j := range x {
			x[j] = 20 * (philox.Float64(6, seed, uint64(j)) - 0.5)
		}
		const pmax = 2.5
		if got := Forward64(a, theta, x, pmax); !(got >= 0 && got <= pmax) {
			t.Fatalf("seed %d: Forward64 = %v, want in [0, %v]", seed, got, pmax)
		}
	}
}

func TestForward64LargeZ(t *testing.T) {
	a := Arch{In: 1, Hidden: []int{1}}
	tests := []struct {
		bias, want float64
	}{
		{1000, 4},
		{-1000, 0},
		{1e300, 4},
		{-1e300, 0},
		{math.Inf(1), 4},
		{math.Inf(-1), 0},
		{40, 4},
	}
	for _, tt := range tests {
		theta := []float64{0, 0, 0, tt.bias} // z = bias
		got := Forward64(a, theta, []float64{1}, 4)
		if got != tt.want {
			t.Errorf("z = %g: Forward64 = %v, want %v", tt.bias, got, tt.want)
		}
	}
	// Just below the saturation the result is tiny but positive and finite.
	if got := Forward64(a, []float64{0, 0, 0, -700}, []float64{1}, 1); !(got > 0 && got < 1e-300) {
		t.Errorf("z = -700: Forward64 = %v, want tiny positive", got)
	}
}

func TestForward64Wide(t *testing.T) {
	// Hidden width beyond the stack buffer: must agree with a narrow-layout
	// computation of the same network.
	a := Arch{In: 3, Hidden: []int{200}}
	theta32 := make([]float32, a.NumParams())
	InitUniform(theta32, a, 1, 1)
	theta := make([]float64, len(theta32))
	for i, v := range theta32 {
		theta[i] = float64(v)
	}
	x := []float64{0.3, -1.2, 2}
	z := theta[len(theta)-1]
	for o := range 200 {
		s := theta[3*200+o]
		for j := range 3 {
			s += theta[o*3+j] * x[j]
		}
		z += theta[3*200+200+o] * max(s, 0)
	}
	got := Forward64(a, theta, x, 1)
	if want := sigmoidRef(z); math.Abs(got-want) > 1e-14 {
		t.Errorf("Forward64 = %v, want %v", got, want)
	}
}

func TestForward64Allocs(t *testing.T) {
	a := Arch{In: 5, Hidden: []int{30, 30}}
	theta := make([]float64, a.NumParams())
	x := make([]float64, a.In)
	if n := testing.AllocsPerRun(100, func() { Forward64(a, theta, x, 1) }); n != 0 {
		t.Errorf("Forward64 allocates %v times per call, want 0", n)
	}
}

func TestPowerBaselines(t *testing.T) {
	p := make([]float64, 1000)
	FullPower(p, 3)
	for i, v := range p {
		if v != 3 {
			t.Fatalf("FullPower: p[%d] = %v, want 3", i, v)
		}
	}
	RandomPower(p, 3, 9, 4, 100)
	var s float64
	for i, v := range p {
		if want := 3 * philox.Float64(9, 4, 100+uint64(i)); v != want {
			t.Fatalf("RandomPower: p[%d] = %v, want %v", i, v, want)
		}
		if !(v >= 0 && v < 3) {
			t.Fatalf("RandomPower: p[%d] = %v outside [0, 3)", i, v)
		}
		s += v
	}
	if mean := s / 1000; math.Abs(mean-1.5) > 5*3/math.Sqrt(12*1000) {
		t.Errorf("RandomPower: mean %v, want 1.5", mean)
	}
}
