package cpu

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/batchrun/batchrun/kernels"
)

// Tests of the SIMD forward pass (forward_simd.go): the assembly kernels
// against their pure-Go twins bit for bit, the whole pass against
// Backend.Forward to fwdTol relative.

// fwdTol is the relative tolerance of SIMD powers against Backend.Forward:
// the SIMD layers fuse multiply and add (the generic ones round the
// product), which moves z by a few float32 ulps of the partial sums; the
// largest relative difference seen over thousands of random networks (up to
// three hidden layers of 64) is about 8e-6.
const fwdTol = 2e-5

// fwdSentinel marks entries nothing may write (a NaN with a payload).
var fwdSentinel = math.Float32frombits(0x7fc0beef)

func fwdFill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}

func fwdNormals(rng *rand.Rand, x []float32, scale float64) {
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
}

// fwdFirstBitDiff returns the first index where a and b differ bitwise, or -1.
func fwdFirstBitDiff(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// exactFMA32 is a*b + c rounded once to float32, by big.Float.
func exactFMA32(a, b, c float32) float32 {
	p := new(big.Float).SetPrec(2000).SetFloat64(float64(a))
	p.Mul(p, new(big.Float).SetPrec(2000).SetFloat64(float64(b)))
	p.Add(p, new(big.Float).SetPrec(2000).SetFloat64(float64(c)))
	if p.Sign() == 0 {
		// Exact zero: -0 only for (-0) + (-0), as IEEE 754 rounds to nearest.
		if (a == 0 || b == 0) && c == 0 && math.Signbit(float64(a)) != math.Signbit(float64(b)) && math.Signbit(float64(c)) {
			return float32(math.Copysign(0, -1))
		}
		return 0
	}
	f, _ := p.Float32()
	return f
}

func TestFMARoundOdd32(t *testing.T) {
	// a*b = 2^-24 + 2^-54 exactly: 1 + a*b lies just above the float32
	// midpoint 1 + 2^-24, but rounds to it in float64.
	a := float32(13644800 * 0x1p-35)
	b := float32(5157184 * 0x1p-35)
	if got, want := fmaRoundOdd32(a, b, 1), float32(1+0x1p-23); got != want {
		t.Errorf("fmaRoundOdd32 double-rounding case = %x, want %x", got, want)
	}
	if naive := float32(math.FMA(float64(a), float64(b), 1)); naive == float32(1+0x1p-23) {
		t.Errorf("the double-rounding case does not double-round: %x", naive)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	r32 := func() float32 {
		switch rng.IntN(8) {
		case 0:
			return 0
		case 1: // near a power of two
			return float32(math.Ldexp(1+float64(rng.IntN(8))*0x1p-23, rng.IntN(40)-20))
		case 2: // tiny
			return float32(math.Ldexp(rng.Float64(), -rng.IntN(150)))
		}
		return float32(math.Ldexp(rng.NormFloat64(), rng.IntN(40)-20))
	}
	for n := 0; n < 200000; n++ {
		a, b, c := r32(), r32(), r32()
		if rng.IntN(2) == 0 {
			// c close to -a*b: cancellation
			c = -float32(float64(a)*float64(b)) * (1 + float32(rng.IntN(5)-2)*0x1p-23)
		}
		if rng.IntN(4) == 0 {
			// c close to a float32 midpoint above a*b
			c = float32(math.Ldexp(1, rng.IntN(10)))
			b = float32(math.Ldexp(float64(1+rng.IntN(1<<12)), -rng.IntN(40)-20))
		}
		got, want := fmaRoundOdd32(a, b, c), exactFMA32(a, b, c)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fmaRoundOdd32(%x, %x, %x) = %x, want %x", a, b, c, got, want)
		}
	}
}

// TestDenseKernels compares every assembly dense kernel with the Go twin bit
// for bit on all tile heights, lane counts and tails, and checks that it
// writes nothing outside dst.
func TestDenseKernels(t *testing.T) {
	sets := simdKernelSets()
	if len(sets) == 0 {
		t.Skip("no SIMD kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range sets {
		cases := 0
		for in := 1; in <= 35; in += 1 + rng.IntN(3) {
			for out := 1; out <= 40; out++ {
				nv := 1 + rng.IntN(5)
				lanes := nv * k.width
				relu := rng.IntN(2) == 0
				x := make([]float32, in*lanes)
				w := make([]float32, out*in)
				bias := make([]float32, out)
				fwdNormals(rng, x, 1)
				fwdNormals(rng, w, 1)
				fwdNormals(rng, bias, 1)
				// Some exact zeros and negative zeros.
				for i := 0; i < 3; i++ {
					x[rng.IntN(len(x))] = float32(math.Copysign(0, -1))
					w[rng.IntN(len(w))] = 0
				}
				if rng.IntN(4) == 0 {
					// an output that is exactly -0: -0 bias, zero weights
					o := rng.IntN(out)
					bias[o] = float32(math.Copysign(0, -1))
					clear(w[o*in : o*in+in])
				}
				got := make([]float32, out*lanes+40)
				want := make([]float32, out*lanes+40)
				fwdFill(got, fwdSentinel)
				fwdFill(want, fwdSentinel)
				k.dense(got, x, w, bias, in, out, lanes, relu)
				denseTransposedGo(want, x, w, bias, in, out, lanes, relu)
				if i := fwdFirstBitDiff(got, want); i >= 0 {
					t.Fatalf("%s in=%d out=%d lanes=%d relu=%v: dst[%d] = %x (bits %08x), Go twin %x (bits %08x)",
						k.name, in, out, lanes, relu, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
				cases++
			}
		}
		// NaN propagates through the layer and through ReLU.
		if err := fwdTestDenseOut(k, rng); err != nil {
			t.Fatal(err)
		}
		x := []float32{float32(math.NaN())}
		x = append(x, make([]float32, k.width-1)...)
		dst := make([]float32, k.width)
		k.dense(dst, x, []float32{1}, []float32{-1}, 1, 1, k.width, true)
		if !math.IsNaN(float64(dst[0])) || dst[1] != 0 {
			t.Errorf("%s: ReLU(NaN) = %v, ReLU(-1) = %v, want NaN and 0", k.name, dst[0], dst[1])
		}
		// The hardware FMA rounds once, like fmaRoundOdd32: the case where
		// float32(math.FMA) double-rounds (see TestFMARoundOdd32).
		x = make([]float32, k.width)
		x[0] = float32(5157184 * 0x1p-35)
		k.dense(dst, x, []float32{float32(13644800 * 0x1p-35)}, []float32{1}, 1, 1, k.width, false)
		if dst[0] != float32(1+0x1p-23) {
			t.Errorf("%s: FMA of the double-rounding case = %x, want %x", k.name, dst[0], float32(1+0x1p-23))
		}
		t.Logf("%s: %d shapes", k.name, cases)
	}
}

// fwdTestDenseOut compares the fused last layers of k with the Go twin.
func fwdTestDenseOut(k *simdKernels, rng *rand.Rand) error {
	for in := 1; in <= 35; in += 1 + rng.IntN(4) {
		for out := 1; out <= 40; out++ {
			lanes := (1 + rng.IntN(5)) * k.width
			x := make([]float32, in*lanes)
			w := make([]float32, out*in)
			bias := make([]float32, out)
			w3 := make([]float32, out+1)
			fwdNormals(rng, x, 1)
			fwdNormals(rng, w, 1)
			fwdNormals(rng, bias, 1)
			fwdNormals(rng, w3, 1)
			got := make([]float32, lanes+20)
			want := make([]float32, lanes+20)
			fwdFill(got, fwdSentinel)
			fwdFill(want, fwdSentinel)
			tmp := make([]float32, out*lanes)
			xs := append([]float32(nil), x...)
			k.denseOut(got, tmp, x, w, bias, w3[:out], w3[out:], in, out, lanes)
			denseOutGo(want, tmp, x, w, bias, w3[:out], w3[out:], in, out, lanes)
			if i := fwdFirstBitDiff(got, want); i >= 0 {
				return fmt.Errorf("%s denseOut in=%d out=%d lanes=%d: z[%d] = %v, Go twin %v", k.name, in, out, lanes, i, got[i], want[i])
			}
			if fwdFirstBitDiff(x, xs) >= 0 {
				return fmt.Errorf("%s denseOut modified x", k.name)
			}
		}
	}
	return nil
}

func TestGatherKernels(t *testing.T) {
	sets := simdKernelSets()
	if len(sets) == 0 {
		t.Skip("no SIMD kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(17, 18))
	for _, k := range sets {
		for range 300 {
			in, step := 1+rng.IntN(8), 1+rng.IntN(6)
			lanes := (1 + rng.IntN(4)) * k.width
			nb := 1 + rng.IntN(lanes)
			row0 := rng.IntN(step)
			obs := make([]float32, (row0+(nb-1)*step)*in+in)
			fwdNormals(rng, obs, 1)
			got := make([]float32, in*lanes+10)
			want := make([]float32, in*lanes+10)
			fwdFill(got, fwdSentinel)
			fwdFill(want, fwdSentinel)
			k.gather(got, obs, row0, step, in, nb, lanes)
			gatherGo(want, obs, row0, step, in, nb, lanes)
			if i := fwdFirstBitDiff(got, want); i >= 0 {
				t.Fatalf("%s gather in=%d step=%d nb=%d lanes=%d: x[%d] = %v, want %v", k.name, in, step, nb, lanes, i, got[i], want[i])
			}
		}
	}
}

func TestPerturbKernels(t *testing.T) {
	sets := simdKernelSets()
	if len(sets) == 0 {
		t.Skip("no SIMD kernels on this machine")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range sets {
		for n := 0; n <= 300; n++ {
			theta := make([]float32, n)
			u := make([]float32, n)
			fwdNormals(rng, theta, 1)
			fwdNormals(rng, u, 1)
			mu := float32(rng.NormFloat64())
			got := make([]float32, n+20)
			want := make([]float32, n+20)
			fwdFill(got, fwdSentinel)
			fwdFill(want, fwdSentinel)
			next := make([]float32, n)
			k.perturb(got[:n], theta, u, mu, next, next)
			for i := range n {
				want[i] = theta[i] + float32(mu*u[i]) // as Backend.Forward
			}
			if i := fwdFirstBitDiff(got, want); i >= 0 {
				t.Fatalf("%s n=%d: dst[%d] = %v, want %v", k.name, n, i, got[i], want[i])
			}
		}
	}
}

// fwdLayout is the memory layout of a random Forward problem.
type fwdLayout struct {
	sharedTheta bool // ThetaAgentStride 0
	perturb     bool // U != nil
	sharedU     bool // UAgentStride 0
	pad         int  // extra floats after each seed's block
}

// fwdProblem builds a random Forward problem with sentinels in every entry
// outside the layout.
func fwdProblem(rng *rand.Rand, net kernels.MLP, S, N, B int, l fwdLayout) *kernels.Forward {
	P := net.NumParams()
	f := &kernels.Forward{Net: net, S: S, N: N, B: B, Pmax: float32(0.5 + 10*rng.Float64())}
	block := func(agentStride int, scale float64) ([]float32, int) {
		seedStride := N*agentStride + P + l.pad
		v := make([]float32, S*seedStride)
		fwdFill(v, fwdSentinel)
		for s := 0; s < S; s++ {
			for k := 0; k < N; k++ {
				fwdNormals(rng, v[s*seedStride+k*agentStride:][:P], scale)
			}
		}
		return v, seedStride
	}
	f.ThetaAgentStride = P + l.pad
	if l.sharedTheta {
		f.ThetaAgentStride = 0
	}
	f.Theta, f.ThetaSeedStride = block(f.ThetaAgentStride, 0.4)
	if l.perturb {
		f.UAgentStride = P
		if l.sharedU {
			f.UAgentStride = 0
		}
		f.U, f.USeedStride = block(f.UAgentStride, 1)
		f.Mu = float32(0.05 + 0.3*rng.Float64())
		if rng.IntN(2) == 0 {
			f.Mu = -f.Mu
		}
	}
	f.ObsSeedStride = B*N*net.In + l.pad
	f.Obs = make([]float32, S*f.ObsSeedStride+l.pad)
	fwdFill(f.Obs, fwdSentinel)
	for s := 0; s < S; s++ {
		fwdNormals(rng, f.Obs[s*f.ObsSeedStride:][:B*N*net.In], 1)
	}
	f.PowerSeedStride = B*N + l.pad
	f.Power = make([]float32, S*f.PowerSeedStride+l.pad+1)
	fwdFill(f.Power, fwdSentinel)
	return f
}

// fwdVariant is one implementation of the SIMD entry points.
type fwdVariant struct {
	name  string
	run   func(f *kernels.Forward, scratch []float32)
	exact bool // runs assembly: must equal the Go twin bit for bit
}

func fwdVariants() []fwdVariant {
	return []fwdVariant{
		{"avx512", ForwardAVX512, ForwardAVX512Supported()},
		{"avx2", ForwardAVX2, ForwardAVX2Supported()},
	}
}

// fwdCheck runs every variant on f and compares with the Go twin and with
// Backend.Forward. The scratch is filled with NaN before every run.
func fwdCheck(t *testing.T, name string, f *kernels.Forward) {
	t.Helper()
	theta := append([]float32(nil), f.Theta...)
	u := append([]float32(nil), f.U...)
	obs := append([]float32(nil), f.Obs...)
	power0 := append([]float32(nil), f.Power...)

	be := new(Backend)
	if be.Name() != "cpu/generic" {
		t.Fatalf("the zero Backend is %s, want cpu/generic", be.Name())
	}
	be.Forward(f)
	generic := append([]float32(nil), f.Power...)

	scratch := make([]float32, SIMDScratchLen(f)+7)
	run := func(do func()) []float32 {
		copy(f.Power, power0)
		fwdFill(scratch, float32(math.NaN()))
		do()
		return append([]float32(nil), f.Power...)
	}
	twin := run(func() { forwardSIMD(f, scratch[7:], &fwdGoKernels) })
	if err := fwdCompare(twin, generic, fwdTol); err != nil {
		t.Errorf("%s: Go twin vs generic: %v", name, err)
	}
	twin8 := run(func() {
		k := fwdGoKernels
		k.width = 8
		forwardSIMD(f, scratch, &k)
	})
	if i := fwdFirstBitDiff(twin8, twin); i >= 0 {
		t.Errorf("%s: Go twin with 8 lanes differs at %d: %v vs %v", name, i, twin8[i], twin[i])
	}
	for _, v := range fwdVariants() {
		got := run(func() { v.run(f, scratch[3:]) })
		if v.exact {
			if i := fwdFirstBitDiff(got, twin); i >= 0 {
				t.Errorf("%s: %s: Power[%d] = %v (bits %08x), Go twin %v (bits %08x)",
					name, v.name, i, got[i], math.Float32bits(got[i]), twin[i], math.Float32bits(twin[i]))
			}
		}
		if err := fwdCompare(got, generic, fwdTol); err != nil {
			t.Errorf("%s: %s vs generic: %v", name, v.name, err)
		}
	}
	if fwdFirstBitDiff(theta, f.Theta) >= 0 || fwdFirstBitDiff(u, f.U) >= 0 || fwdFirstBitDiff(obs, f.Obs) >= 0 {
		t.Errorf("%s: inputs modified", name)
	}
}

// fwdCompare checks got against want: equal sentinels, relative error at
// most tol elsewhere.
func fwdCompare(got, want []float32, tol float64) error {
	for i, w := range want {
		g := got[i]
		if math.Float32bits(w) == math.Float32bits(fwdSentinel) || math.Float32bits(g) == math.Float32bits(fwdSentinel) {
			if math.Float32bits(g) != math.Float32bits(w) {
				return fmt.Errorf("Power[%d] = %v, want %v (one of them untouched)", i, g, w)
			}
			continue
		}
		if d := math.Abs(float64(g) - float64(w)); !(d <= tol*math.Abs(float64(w))) {
			return fmt.Errorf("Power[%d] = %v, want %v (rel. error %.2g)", i, g, w, d/math.Abs(float64(w)))
		}
	}
	return nil
}

func TestForwardSIMDMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	widths := []int{1, 3, 15, 16, 17, 30, 33}
	n := 600
	if testing.Short() {
		n = 150
	}
	for c := 0; c < n; c++ {
		hidden := make([]int, 1+rng.IntN(3))
		for i := range hidden {
			hidden[i] = widths[rng.IntN(len(widths))]
		}
		net := kernels.MLP{In: 1 + rng.IntN(7), Hidden: hidden}
		S, N, B := 1+rng.IntN(3), 1+rng.IntN(5), 1+rng.IntN(13)
		if rng.IntN(10) == 0 {
			B = 14 + rng.IntN(70) // several chunks per agent
		}
		l := fwdLayout{
			sharedTheta: rng.IntN(3) == 0,
			perturb:     rng.IntN(3) != 0,
			sharedU:     rng.IntN(3) == 0,
			pad:         rng.IntN(4),
		}
		f := fwdProblem(rng, net, S, N, B, l)
		fwdCheck(t, fmt.Sprintf("%v S=%d N=%d B=%d %+v", net, S, N, B, l), f)
	}
	// Wide layers: smaller chunks.
	for _, hidden := range [][]int{{70, 5}, {300}} {
		net := kernels.MLP{In: 4, Hidden: hidden}
		for _, l := range []fwdLayout{{perturb: true}, {sharedTheta: true, perturb: true, sharedU: true}} {
			f := fwdProblem(rng, net, 2, 3, 25, l)
			fwdCheck(t, fmt.Sprintf("%v %+v", net, l), f)
		}
	}
}

// TestForwardSIMDPaper checks the paper000 shape (5-30-30-1, B = 10).
func TestForwardSIMDPaper(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	net := kernels.MLP{In: 5, Hidden: []int{30, 30}}
	for _, l := range []fwdLayout{{perturb: true}, {}, {sharedTheta: true}, {sharedTheta: true, perturb: true, sharedU: true}} {
		fwdCheck(t, fmt.Sprintf("paper %+v", l), fwdProblem(rng, net, 4, 24, 10, l))
	}
}

func TestForwardSIMDScratch(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	f := fwdProblem(rng, kernels.MLP{In: 5, Hidden: []int{30, 30}}, 2, 3, 10, fwdLayout{perturb: true})
	if n, m := SIMDScratchLen(f), f.ScratchLen(); n < m {
		t.Fatalf("SIMDScratchLen = %d < ScratchLen = %d", n, m)
	}
	power0 := append([]float32(nil), f.Power...)
	new(Backend).Forward(f)
	want := append([]float32(nil), f.Power...)
	for _, v := range fwdVariants() {
		// f.Scratch serves when the argument is short.
		f.Scratch = make([]float32, SIMDScratchLen(f))
		copy(f.Power, power0)
		v.run(f, nil)
		if err := fwdCompare(f.Power, want, fwdTol); err != nil {
			t.Errorf("%s with f.Scratch: %v", v.name, err)
		}
		// No allocations.
		scratch := make([]float32, SIMDScratchLen(f))
		f.Scratch = nil
		if n := testing.AllocsPerRun(10, func() { v.run(f, scratch) }); n != 0 {
			t.Errorf("%s: %v allocations per call", v.name, n)
		}
		if v.exact {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s: no panic with a short work space", v.name)
					}
				}()
				v.run(f, scratch[:len(scratch)-1])
			}()
		}
	}
}

// TestForwardSIMDConcurrent runs the variants from several goroutines on
// disjoint outputs sharing the inputs.
func TestForwardSIMDConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	f := fwdProblem(rng, kernels.MLP{In: 5, Hidden: []int{30, 30}}, 8, 6, 10, fwdLayout{perturb: true})
	new(Backend).Forward(f)
	want := append([]float32(nil), f.Power...)
	for _, v := range fwdVariants() {
		var wg sync.WaitGroup
		outs := make([][]float32, 4)
		for g := range outs {
			g2 := *f
			g2.Power = make([]float32, len(f.Power))
			outs[g] = g2.Power
			wg.Go(func() {
				scratch := make([]float32, SIMDScratchLen(&g2))
				for range 20 {
					v.run(&g2, scratch)
				}
			})
		}
		wg.Wait()
		for g, out := range outs {
			for i := range out {
				if math.Float32bits(want[i]) == math.Float32bits(fwdSentinel) {
					out[i] = fwdSentinel // never written: zero here
				}
			}
			if err := fwdCompare(out, want, fwdTol); err != nil {
				t.Errorf("%s goroutine %d: %v", v.name, g, err)
			}
		}
	}
}

// TestForwardAVX2Registers checks that the AVX2 functions of the generated
// assembly use VEX-encodable registers only (avo's allocator may pick
// X16-X31 otherwise, which would need AVX-512).
func TestForwardAVX2Registers(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("amd64 only")
	}
	src, err := os.ReadFile("forward_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	bad := regexp.MustCompile(`\b([XY](1[6-9]|2[0-9]|3[01])|Z[0-9]+|K[0-7])\b|\.BCST`)
	fn := ""
	funcs := 0
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "TEXT ") {
			fn = line
			if strings.Contains(fn, "AVX2(SB)") {
				funcs++
			}
			continue
		}
		if strings.Contains(fn, "AVX2(SB)") && bad.MatchString(line) {
			t.Errorf("AVX2 function %q uses an EVEX-only operand: %s", fn, strings.TrimSpace(line))
		}
	}
	if funcs != 3 {
		t.Errorf("found %d AVX2 functions, want 3", funcs)
	}
}

// BenchmarkForwardSIMD runs the forward pass at the paper000 shape: 64 seeds,
// 24 agents with 5-30-30-1 MLPs, B = 10, U != nil. GFLOP/s counts the
// multiply-adds of the layers (2 flops each), not the perturbation nor the
// sigmoid.
func BenchmarkForwardSIMD(b *testing.B) {
	const S, N, B = 64, 24, 10
	net := kernels.MLP{In: 5, Hidden: []int{30, 30}}
	flops := 0
	in := net.In
	for _, h := range net.Hidden {
		flops += 2 * in * h
		in = h
	}
	flops += 2 * in
	flops *= S * N * B
	layouts := []struct {
		name string
		l    fwdLayout
	}{
		{"", fwdLayout{perturb: true}},
		{"shared/", fwdLayout{sharedTheta: true, perturb: true, sharedU: true}},
	}
	for _, lay := range layouts {
		f := fwdProblem(rand.New(rand.NewPCG(1, 2)), net, S, N, B, lay.l)
		f.Scratch = make([]float32, f.ScratchLen())
		scratch := make([]float32, SIMDScratchLen(f))
		be := new(Backend) // the zero Backend is the generic one
		variants := []struct {
			name string
			ok   bool
			run  func()
		}{
			{"generic", true, func() { be.Forward(f) }},
			{"avx2", ForwardAVX2Supported(), func() { ForwardAVX2(f, scratch) }},
			{"avx512", ForwardAVX512Supported(), func() { ForwardAVX512(f, scratch) }},
		}
		for _, v := range variants {
			b.Run(lay.name+v.name, func(b *testing.B) {
				if !v.ok {
					b.Skip("not supported by this CPU")
				}
				for b.Loop() {
					v.run()
				}
				sec := b.Elapsed().Seconds()
				b.ReportMetric(float64(flops)*float64(b.N)/sec/1e9, "GFLOP/s")
				b.ReportMetric(sec*1e9/float64(b.N*S*N*B), "ns/sample")
			})
		}
	}
}
