package peak

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// want runs n steps of kind's recurrence in Go (see Run).
func want(kind string, n int, acc, x, y []float32) []float32 {
	lanes := Lanes(kind)
	out := slices.Clone(acc)
	for range n {
		for i := range out {
			a, xv, yv := out[i], x[i%lanes], y[i%lanes]
			if kind == "scalar" {
				out[i] = float32(a*xv) + yv
				continue
			}
			// The operands below make the float64 FMA exact, so the
			// conversion is the one rounding of a float32 FMA.
			out[i] = float32(math.FMA(float64(xv), float64(yv), float64(a)))
		}
	}
	return out
}

// operands returns accumulators in [2^-6, 2^-5) (24 significant bits) and,
// for the SIMD kinds, x in [2^-4, 2^-3) and y in [2^-5, 2^-4) with 20
// significant bits each. For up to 100 steps the accumulators stay below 1,
// so every exact acc + x*y fits in 53 bits (bits 2^-1 to 2^-47), while x*y
// does not fit in float32 and is not small against the accumulators' ulp:
// an unfused multiply and add would round differently (see
// TestOperandsSeeFusion).
func operands(rng *rand.Rand, kind string) (acc, x, y []float32) {
	lanes := Lanes(kind)
	acc = make([]float32, Accumulators*lanes)
	for i := range acc {
		acc[i] = float32(1<<23+rng.IntN(1<<23)) / (1 << 29)
	}
	x, y = make([]float32, lanes), make([]float32, lanes)
	for j := range lanes {
		if kind == "scalar" {
			x[j], y[j] = 0.5+rng.Float32()/2, rng.Float32()/16
			continue
		}
		x[j] = float32(1<<19+rng.IntN(1<<19)) / (1 << 23)
		y[j] = float32(1<<19+rng.IntN(1<<19)) / (1 << 24)
	}
	return acc, x, y
}

func TestRunMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kind := range Supported() {
		for _, n := range []int{0, 1, 2, 7, 100} {
			acc, x, y := operands(rng, kind)
			w := want(kind, n, acc, x, y)
			got := slices.Clone(acc)
			Run(kind, n, got, x, y)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(w[i]) {
					t.Fatalf("%s, n = %d: accumulator %d lane %d = %v, want %v (start %v, x %v, y %v)",
						kind, n, i/Lanes(kind), i%Lanes(kind), got[i], w[i], acc[i], x[i%Lanes(kind)], y[i%Lanes(kind)])
				}
			}
			if n > 0 && slices.Equal(got, acc) {
				t.Fatalf("%s, n = %d: the accumulators did not change", kind, n)
			}
		}
	}
}

// TestOperandsSeeFusion checks that the SIMD test would catch a loop that
// multiplies and adds with two roundings.
func TestOperandsSeeFusion(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	acc, x, y := operands(rng, "avx512")
	fused := want("avx512", 100, acc, x, y)
	differ := 0
	for i, a := range acc {
		for range 100 {
			p := x[i%16] * y[i%16] // rounded: GOAMD64=v1 has no FMA, and
			a += float32(p)        // the conversion forbids fusing anyway
		}
		if a != fused[i] {
			differ++
		}
	}
	t.Logf("%d of %d accumulator lanes differ after 100 unfused steps", differ, len(acc))
	if differ == 0 {
		t.Fatal("an unfused multiply-add gives the same accumulators; the operands test nothing")
	}
}

func TestSupported(t *testing.T) {
	s := Supported()
	if len(s) == 0 || s[len(s)-1] != "scalar" {
		t.Fatalf("Supported() = %q, want scalar last", s)
	}
	for _, k := range s {
		if Lanes(k) == 0 {
			t.Errorf("Supported() lists unknown kind %q", k)
		}
	}
}

func TestMeasure(t *testing.T) {
	for _, kind := range Kinds {
		g := Measure(kind, 20*time.Millisecond)
		if !(g > 0) || math.IsInf(g, 0) {
			t.Errorf("Measure(%q) = %v GFLOP/s, want > 0", kind, g)
		}
		t.Logf("%s: %.1f GFLOP/s (supported: %v)", kind, g, slices.Contains(Supported(), kind))
	}
	if g := Measure("sse9", time.Millisecond); g != 0 {
		t.Errorf("Measure(unknown) = %v, want 0", g)
	}
}

func TestRunPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Run with a short acc did not panic")
		}
	}()
	Run("scalar", 1, make([]float32, 3), []float32{1}, []float32{1})
}
