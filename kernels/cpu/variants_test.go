package cpu_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/kernels"
	"github.com/batchrun/batchrun/kernels/cpu"
)

// simdVariants returns a backend of every SIMD variant this CPU runs.
func simdVariants(t *testing.T) []*cpu.Backend {
	var out []*cpu.Backend
	for _, be := range cpu.All() {
		if be.Variant() != cpu.Generic {
			out = append(out, be)
		}
	}
	if len(out) == 0 {
		t.Skip("this CPU runs no SIMD variant")
	}
	return out
}

func generic(t *testing.T) *cpu.Backend {
	be, err := cpu.NewVariant(cpu.Generic)
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// Every SIMD variant agrees with the generic kernels on random shapes with
// odd sizes and tails: normals, perturbations and updates bit for bit, the
// forward pass and the rates to float tolerance.
func TestVariantsAgreeWithGeneric(t *testing.T) {
	gen := generic(t)
	for _, be := range simdVariants(t) {
		t.Run(be.Name(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(41, 42))
			for _, net := range []kernels.MLP{{In: 1, Hidden: []int{1}}, {In: 5, Hidden: []int{30, 30}}, {In: 3, Hidden: []int{17, 15, 33}}, {In: 7, Hidden: []int{16}}} {
				for _, shape := range [][3]int{{1, 1, 1}, {2, 3, 5}, {3, 5, 13}, {1, 24, 10}} {
					S, N, B := shape[0], shape[1], shape[2]
					for _, l := range []layout{{perturb: true, slots: 2, slot: 1, pad: 3}, {shared: true, perturb: true, slots: 1}, {pad: 1}} {
						f := newForward(rng, net, S, N, B, l)
						g := *f
						g.Power = slices.Clone(f.Power)
						be.Forward(f)
						gen.Forward(&g)
						for i := range f.Power {
							a, b := float64(f.Power[i]), float64(g.Power[i])
							if math.Float32bits(f.Power[i]) != math.Float32bits(g.Power[i]) && !(math.Abs(a-b) <= 2e-5*math.Abs(b)+1e-30) {
								t.Fatalf("Forward %v S=%d N=%d B=%d %v: Power[%d] = %v, generic %v", arch(net), S, N, B, l, i, a, b)
							}
						}
					}
				}
			}
			for _, N := range []int{1, 2, 7, 16, 17, 24, 33} {
				for _, B := range []int{1, 3, 10} {
					r := newRates(rng, 2, N, B, 3)
					g := *r
					g.MeanRate = slices.Clone(r.MeanRate)
					be.Rates(r)
					gen.Rates(&g)
					for i := range r.MeanRate {
						if d := math.Abs(r.MeanRate[i] - g.MeanRate[i]); !(d <= 2e-6*math.Abs(g.MeanRate[i])) {
							t.Fatalf("Rates N=%d B=%d: MeanRate[%d] = %v, generic %v", N, B, i, r.MeanRate[i], g.MeanRate[i])
						}
					}
				}
			}
			for _, P := range []int{1, 15, 16, 17, 1141} {
				u := newUpdate(rng, 2, 3, P, 4, layout{pad: 5})
				g := *u
				g.Theta = slices.Clone(u.Theta)
				be.Update(u)
				gen.Update(&g)
				if !sameBits(u.Theta, g.Theta) {
					t.Fatalf("Update P=%d differs from generic", P)
				}
			}
			for _, n := range []int{0, 1, 3, 31, 32, 33, 1141, 4099} {
				for _, first := range []uint64{0, 1, 6, 1<<32 - 3} {
					a, b := make([]float32, n), make([]float32, n)
					be.FillNormal32(a, 7, 9, first)
					gen.FillNormal32(b, 7, 9, first)
					if !sameBits(a, b) {
						t.Fatalf("FillNormal32 n=%d first=%d differs from generic", n, first)
					}
				}
			}
		})
	}
}

func TestNewVariant(t *testing.T) {
	for _, name := range []string{"", "auto", cpu.Generic, cpu.Best()} {
		be, err := cpu.NewVariant(name)
		if err != nil || !strings.HasPrefix(be.Name(), "cpu/") {
			t.Errorf("NewVariant(%q) = %v, %v", name, be, err)
		}
	}
	if be, _ := cpu.NewVariant("auto"); be.Variant() != cpu.Best() {
		t.Errorf("auto is %s, best %s", be.Variant(), cpu.Best())
	}
	if _, err := cpu.NewVariant("sse9"); err == nil || !strings.Contains(err.Error(), "allowed: auto, avx512, avx2, generic") {
		t.Errorf("unknown variant: %v", err)
	}
	for _, v := range cpu.Variants() {
		_, err := cpu.NewVariant(v)
		if cpu.Supported(v) != (err == nil) {
			t.Errorf("%s: supported %v, NewVariant error %v", v, cpu.Supported(v), err)
		}
	}
	t.Setenv(cpu.EnvVariable, cpu.Generic)
	if v := cpu.New().Variant(); v != cpu.Generic {
		t.Errorf("with %s=generic New() is %s", cpu.EnvVariable, v)
	}
	var zero cpu.Backend
	if zero.Name() != "cpu/generic" {
		t.Errorf("zero Backend is %s", zero.Name())
	}
}

// All holds one backend per variant the CPU runs, best first, generic last.
func TestAll(t *testing.T) {
	var want []string
	for _, v := range cpu.Variants() {
		if cpu.Supported(v) {
			want = append(want, v)
		}
	}
	var got []string
	for _, be := range cpu.All() {
		got = append(got, be.Variant())
	}
	if !slices.Equal(got, want) || got[len(got)-1] != cpu.Generic {
		t.Errorf("All: %v, want %v ending in generic", got, want)
	}
}
