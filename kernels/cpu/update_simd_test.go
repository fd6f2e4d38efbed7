package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/batchrun/batchrun/kernels"
)

// Tests of update_simd.go: UpdateAVX512 and UpdateAVX2 against the generic
// Backend.Update bit for bit.

func TestUpdateSIMDAxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	axpys := []func(y, x []float32, a float32){updAxpy512, updAxpy256}
	for n := 0; n <= 300; n++ {
		x := make([]float32, n+3)
		y0 := make([]float32, n+8)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range y0 {
			y0[i] = float32(rng.NormFloat64() * 3)
		}
		a := float32(rng.NormFloat64() * 0.1)
		want := append([]float32(nil), y0...)
		updAxpyGo(want[:n], x, a) // the generic (cpu.go)
		for k, f := range axpys {
			got := append([]float32(nil), y0...)
			f(got[:n], x, a)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("axpy %d n=%d: y[%d] = %x, generic %x", k, n, i, got[i], want[i])
				}
			}
		}
	}
}

type updShape struct {
	S, N, P, Slots int
	shared         bool
	pad            int
	density        float64 // fraction of nonzero coefficients
}

func (sh updShape) String() string {
	return fmt.Sprintf("S=%d/N=%d/P=%d/Slots=%d/shared=%v/pad=%d/density=%g", sh.S, sh.N, sh.P, sh.Slots, sh.shared, sh.pad, sh.density)
}

func updProblem(rng *rand.Rand, sh updShape) *kernels.Update {
	u := &kernels.Update{S: sh.S, N: sh.N, P: sh.P, Slots: sh.Slots}
	if sh.shared {
		u.ThetaSeedStride = sh.P + sh.pad
	} else {
		u.ThetaAgentStride = sh.P + sh.pad
		u.ThetaSeedStride = sh.N*u.ThetaAgentStride + sh.pad
	}
	u.RingAgentStride = sh.Slots*sh.P + sh.pad
	u.RingSeedStride = sh.N*u.RingAgentStride + sh.pad
	u.Theta = make([]float32, sh.S*u.ThetaSeedStride)
	u.Ring = make([]float32, sh.S*u.RingSeedStride)
	u.Coef = make([]float32, sh.S*sh.N*sh.Slots)
	for i := range u.Theta {
		u.Theta[i] = float32(rng.NormFloat64())
	}
	for i := range u.Ring {
		u.Ring[i] = float32(rng.NormFloat64())
	}
	for i := range u.Coef {
		if rng.Float64() < sh.density {
			u.Coef[i] = float32(rng.NormFloat64() * 1e-2)
		}
	}
	return u
}

func TestUpdateSIMDMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	var be Backend
	var shapes []updShape
	for _, p := range []int{1, 5, 15, 16, 17, 31, 33, 63, 64, 65, 100, 129, 1231} {
		for _, shared := range []bool{false, true} {
			shapes = append(shapes,
				updShape{S: 2, N: 3, P: p, Slots: 4, shared: shared, pad: p % 3, density: 0.6},
				updShape{S: 1, N: 5, P: p, Slots: 1, shared: shared, density: 1})
		}
	}
	shapes = append(shapes, updShape{S: 2, N: 24, P: 1231, Slots: 40, density: 0.3})
	for _, sh := range shapes {
		u := updProblem(rng, sh)
		theta0 := append([]float32(nil), u.Theta...)
		be.Update(u)
		want := append([]float32(nil), u.Theta...)
		for _, f := range []func(*kernels.Update){UpdateAVX512, UpdateAVX2} {
			copy(u.Theta, theta0)
			f(u)
			for i := range want {
				if math.Float32bits(u.Theta[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v: theta[%d] = %x, generic %x", sh, i, u.Theta[i], want[i])
				}
			}
		}
	}
}

func BenchmarkUpdateSIMD(b *testing.B) {
	type impl struct {
		name string
		f    func(*kernels.Update)
	}
	var be Backend
	impls := []impl{{"generic", be.Update}}
	for _, isa := range mvISAs() {
		impls = append(impls, impl{isa.name, isa.update})
	}
	for _, density := range []float64{1, 0.25} {
		sh := updShape{S: 1, N: 24, P: 1231, Slots: 40, density: density}
		u := updProblem(rand.New(rand.NewPCG(1, 1)), sh)
		nz := 0
		for _, c := range u.Coef {
			if c != 0 {
				nz++
			}
		}
		for _, im := range impls {
			b.Run(fmt.Sprintf("P=%d/Slots=%d/N=%d/density=%g/%s", sh.P, sh.Slots, sh.N, density, im.name), func(b *testing.B) {
				for b.Loop() {
					im.f(u)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(nz*sh.P), "ns/elem")
			})
		}
	}
}
