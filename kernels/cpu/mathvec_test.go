package cpu

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
)

// Tests of mathvec.go: fma32 against exact arithmetic, the assembly slice
// kernels against their Go twins bit for bit, and the error bounds of the
// package comment of mathvec.go against math.Log2 / math.Log1p / math.Exp.
//
// The accuracy tests scan every 61st float32 of each range; with
// MATHVEC_EXHAUSTIVE=1 in the environment they scan every float32 (a few
// minutes on 2 cores), which is how the documented maxima were measured.

// mvSameFloat reports whether a and b are the same bits, or both NaN.
func mvSameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

// mvExactFMA is x*y + z rounded once, by big.Float.
func mvExactFMA(x, y, z float32) float32 {
	p := new(big.Float).SetPrec(2000).SetFloat64(float64(x))
	p.Mul(p, new(big.Float).SetPrec(2000).SetFloat64(float64(y)))
	p.Add(p, new(big.Float).SetPrec(2000).SetFloat64(float64(z)))
	f, _ := p.Float32()
	return f
}

func TestMathvecFMA32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(x, y, z float32) {
		t.Helper()
		got := fmaRoundOdd32(x, y, z)
		fx, fy, fz := float64(x), float64(y), float64(z)
		if math.IsInf(fx*fy+fz, 0) || math.IsNaN(fx*fy+fz) {
			return
		}
		if want := mvExactFMA(x, y, z); !mvSameFloat(got, want) {
			t.Fatalf("fma32(%x, %x, %x) = %x, want %x", x, y, z, got, want)
		}
	}
	for i := 0; i < 200000; i++ {
		x := float32(rng.NormFloat64())
		y := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(60)-30)))
		z := float32(rng.NormFloat64() * math.Exp2(float64(rng.IntN(80)-40)))
		check(x, y, z)
	}
	// Double-rounding traps: z = 1, x*y = 2^-24 (a float32 half ulp of 1)
	// plus or minus a tail below float64's ulp of 1.
	for i := 0; i < 20000; i++ {
		e := -30 - rng.IntN(20)
		x := float32(1 + math.Ldexp(float64(rng.IntN(1<<20)), -23))
		y := float32(math.Ldexp(1, -24) / float64(x) * (1 + math.Ldexp(rng.Float64()-0.5, e)))
		check(x, y, 1)
		check(-x, y, -1)
		check(x, -y, 1)
	}
	// Random bits, subnormals and huge values included.
	for i := 0; i < 100000; i++ {
		check(math.Float32frombits(rng.Uint32()), math.Float32frombits(rng.Uint32()), math.Float32frombits(rng.Uint32()))
	}
	check(0x1p-120, 0x1p-20, 0x1p-149)
	check(0x1p-75, 0x1p-75, -0x1p-149)
	check(math.MaxFloat32, 1, math.MaxFloat32/(1<<24))
}

// mvKernel is one slice kernel and its Go twin, as func(dst, src).
type mvKernel struct {
	name string
	twin func(dst, src []float32)
	asm  []func(dst, src []float32) // per ISA present on this machine
}

func mvKernels() []mvKernel {
	const scale = 2.5
	ks := []mvKernel{
		{name: "log2", twin: log2SliceGo},
		{name: "log2p1", twin: log2p1SliceGo},
		{name: "sigmoid", twin: func(d, s []float32) { sigmoidSliceGo(d, s, scale) }},
		{name: "sigmoid1", twin: func(d, s []float32) { sigmoidSliceGo(d, s, 1) }},
	}
	for _, isa := range mvISAs() {
		ks[0].asm = append(ks[0].asm, isa.log2)
		ks[1].asm = append(ks[1].asm, isa.log2p1)
		ks[2].asm = append(ks[2].asm, func(d, s []float32) { isa.sigmoid(d, s, scale) })
		ks[3].asm = append(ks[3].asm, func(d, s []float32) { isa.sigmoid(d, s, 1) })
	}
	return ks
}

// mvSpecials are inputs at the edges of the approximations.
func mvSpecials() []float32 {
	bits := []uint32{
		0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x00800000, 0x00800001,
		0x7f7fffff, 0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000,
		0x7f800001, 0x7fa00000, 0x3f800000, 0xbf800000, 0x3f800001, 0x3f7fffff,
		0x3f3504f2, 0x3f3504f3, 0x3f3504f4, 0x3fb504f2, 0x3fb504f3, 0x3fb504f4,
		0x33800000, 0x33800001, 0x337fffff, 0x34000000, 0x4b7fffff, 0x4b800000,
		0x4b800001, 0x4c000000, 0x5f000000, 0x7f000000, 0x7f3504f3,
	}
	var xs []float32
	for _, b := range bits {
		xs = append(xs, math.Float32frombits(b))
	}
	for _, v := range []float64{
		88.72283, 88.7228, 88.75, 89, 100, -87.33654, -87.3365, -87.5, -88,
		-103.97, -103.98, -104, -105, -150, 1e30, -1e30, 17.32868, 17.33, 16.6355,
		0.5, -0.5, 1e-8, -1e-8, 1e-30, -1e-30, 2, 3, 1e6, 2.5e7, 1.6777216e7, 1.6777218e7,
	} {
		xs = append(xs, float32(v), float32(-v))
	}
	return xs
}

// mvInputs returns n inputs drawn for the kernel: random bits, and values
// in the range where it is used.
func mvInputs(rng *rand.Rand, name string, n int) []float32 {
	xs := make([]float32, n)
	sp := mvSpecials()
	for i := range xs {
		switch rng.IntN(6) {
		case 0:
			xs[i] = math.Float32frombits(rng.Uint32())
		case 1:
			xs[i] = sp[rng.IntN(len(sp))]
		default:
			switch name {
			case "log2", "log2p1":
				xs[i] = float32(math.Exp2(rng.Float64()*60 - 30))
			default:
				xs[i] = float32((rng.Float64()*2 - 1) * 110)
			}
		}
	}
	return xs
}

func TestMathvecKernelsMatchTwins(t *testing.T) {
	if len(mvISAs()) == 0 {
		t.Skip("no AVX2 or AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	sentinel := math.Float32frombits(0x7fc0dead)
	for _, k := range mvKernels() {
		// Every length up to 70 (all tails), at several offsets, then long
		// slices.
		var lengths []int
		for n := 0; n <= 70; n++ {
			lengths = append(lengths, n)
		}
		lengths = append(lengths, 1000, 4099, 1<<16+5)
		for _, n := range lengths {
			for off := 0; off < 3; off++ {
				src := mvInputs(rng, k.name, n+off+8)
				want := make([]float32, n)
				k.twin(want, src[off:])
				for a, f := range k.asm {
					got := make([]float32, n+8)
					for i := range got {
						got[i] = sentinel
					}
					f(got[:n], src[off:])
					for i := range want {
						if !mvSameFloat(got[i], want[i]) {
							t.Fatalf("%s isa %d n=%d off=%d: [%d] f(%x) = %x, twin %x",
								k.name, a, n, off, i, src[off+i], math.Float32bits(got[i]), math.Float32bits(want[i]))
						}
					}
					for i := n; i < len(got); i++ {
						if math.Float32bits(got[i]) != 0x7fc0dead {
							t.Fatalf("%s isa %d n=%d: wrote past the end at %d", k.name, a, n, i)
						}
					}
				}
			}
		}
		// In place.
		src := mvInputs(rng, k.name, 999)
		want := make([]float32, len(src))
		k.twin(want, src)
		for a, f := range k.asm {
			got := append([]float32(nil), src...)
			f(got, got)
			for i := range want {
				if !mvSameFloat(got[i], want[i]) {
					t.Fatalf("%s isa %d in place: [%d] = %x, twin %x", k.name, a, i, got[i], want[i])
				}
			}
		}
	}
}

func TestMathvecExported(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	xs := mvInputs(rng, "log2", 1000)
	got, want := make([]float32, len(xs)), make([]float32, len(xs))
	Log2Slice(got, xs)
	log2SliceGo(want, xs)
	for i := range got {
		if !mvSameFloat(got[i], want[i]) {
			t.Fatalf("Log2Slice(%g) = %g, twin %g", xs[i], got[i], want[i])
		}
	}
	xs = mvInputs(rng, "sigmoid", 1000)
	SigmoidSlice(got, xs, 3)
	sigmoidSliceGo(want, xs, 3)
	for i := range got {
		if !mvSameFloat(got[i], want[i]) {
			t.Fatalf("SigmoidSlice(%g) = %g, twin %g", xs[i], got[i], want[i])
		}
	}
	// Specials.
	for _, c := range []struct{ x, want float64 }{
		{0, math.Inf(-1)}, {math.Copysign(0, -1), math.Inf(-1)}, {math.Inf(1), math.Inf(1)},
		{-1, math.NaN()}, {math.Inf(-1), math.NaN()}, {math.NaN(), math.NaN()},
		{1, 0}, {2, 1}, {0.5, -1}, {0x1p-149, -149}, {0x1p-126, -126}, {0x1p127, 127},
	} {
		if got := log2f32(float32(c.x)); !mvSameFloat(got, float32(c.want)) {
			t.Errorf("log2f32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	for _, c := range []struct{ z, want float64 }{
		{0, 0.5}, {math.Inf(1), 1}, {math.Inf(-1), 0}, {math.NaN(), math.NaN()},
		{1000, 1}, {-1000, 0}, {16.635532, 1}, {-103.972084, 0}, {-200, 0},
	} {
		if got := sigmoidApprox(float32(c.z)); !mvSameFloat(got, float32(c.want)) {
			t.Errorf("sigmoidApprox(%g) = %g, want %g", c.z, got, c.want)
		}
	}
	for _, c := range []struct{ x, want float64 }{
		{0, 1}, {math.Inf(1), math.Inf(1)}, {math.Inf(-1), 0}, {math.NaN(), math.NaN()},
		{88.72284, math.Inf(1)}, {-103.972084, 0}, {-110, 0}, {1, math.E},
	} {
		got := expf32(float32(c.x))
		if !mvSameFloat(got, float32(c.want)) && math.Abs(float64(got)-c.want) > 2e-7*c.want {
			t.Errorf("expf32(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	if got := log2p1f32(0); math.Float32bits(got) != 0 {
		t.Errorf("log2p1f32(0) = %g", got)
	}
	if got := log2p1f32(float32(math.Inf(1))); !math.IsInf(float64(got), 1) {
		t.Errorf("log2p1f32(Inf) = %g", got)
	}
}

// mvErr is the largest error seen: absolute, relative (to the exact value)
// and in ulps of the exact value rounded to float32.
type mvErr struct {
	abs, rel, ulp       float64
	absAt, relAt, ulpAt float32
}

func (e *mvErr) add(x float32, got float32, ref float64) {
	if math.IsInf(ref, 0) || math.IsNaN(ref) {
		return
	}
	d := math.Abs(float64(got) - ref)
	if d != d {
		d = math.Inf(1)
	}
	if d > e.abs {
		e.abs, e.absAt = d, x
	}
	if ref != 0 {
		if r := d / math.Abs(ref); r > e.rel {
			e.rel, e.relAt = r, x
		}
		_, ex := math.Frexp(ref)
		if u := d / math.Ldexp(1, max(ex-24, -149)); u > e.ulp {
			e.ulp, e.ulpAt = u, x
		}
	}
}

func (e *mvErr) merge(o mvErr) {
	if o.abs > e.abs {
		e.abs, e.absAt = o.abs, o.absAt
	}
	if o.rel > e.rel {
		e.rel, e.relAt = o.rel, o.relAt
	}
	if o.ulp > e.ulp {
		e.ulp, e.ulpAt = o.ulp, o.ulpAt
	}
}

func (e mvErr) String() string {
	return fmt.Sprintf("abs %.3g (at %g), rel %.3g (at %g), %.3g ulp (at %g)", e.abs, e.absAt, e.rel, e.relAt, e.ulp, e.ulpAt)
}

// mvScan runs kernel on the float32 with bits lo..hi (inclusive, every
// stride-th; lo > hi scans downwards through negative numbers the same way)
// and returns the largest error against ref.
func mvScan(lo, hi uint32, stride int, kernel func(dst, src []float32), ref func(float64) float64) mvErr {
	if lo > hi {
		lo, hi = hi, lo
	}
	const chunk = 1 << 16
	total := (uint64(hi)-uint64(lo))/uint64(stride) + 1
	nw := runtime.GOMAXPROCS(0)
	errs := make([]mvErr, nw)
	var wg sync.WaitGroup
	for w := 0; w < nw; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			src := make([]float32, chunk)
			dst := make([]float32, chunk)
			var e mvErr
			for start := uint64(w) * chunk; start < total; start += uint64(nw) * chunk {
				n := min(chunk, total-start)
				for i := uint64(0); i < n; i++ {
					src[i] = math.Float32frombits(uint32(uint64(lo) + (start+i)*uint64(stride)))
				}
				kernel(dst[:n], src[:n])
				for i := uint64(0); i < n; i++ {
					e.add(src[i], dst[i], ref(float64(src[i])))
				}
			}
			errs[w] = e
		}(w)
	}
	wg.Wait()
	var e mvErr
	for _, o := range errs {
		e.merge(o)
	}
	return e
}

func mvStride(t *testing.T) int {
	if os.Getenv("MATHVEC_EXHAUSTIVE") != "" {
		return 1
	}
	if testing.Short() {
		return 1009
	}
	return 61
}

func mvBits(x float32) uint32 { return math.Float32bits(x) }

func mvExpRef(x float64) float64  { return math.Exp(x) }
func mvLog2Ref(x float64) float64 { return math.Log2(x) }
func mvLog2p1Ref(x float64) float64 {
	return math.Log1p(x) / math.Ln2
}
func mvSigmoidRef(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// The documented bounds (mathvec.go), as measured exhaustively.
func TestMathvecAccuracy(t *testing.T) {
	stride := mvStride(t)
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	expSlice := func(d, s []float32) {
		for i, x := range s {
			d[i] = expf32(x)
		}
	}
	sig1 := func(d, s []float32) { SigmoidSlice(d, s, 1) }
	type bound struct{ abs, rel, ulp float64 }
	for _, c := range []struct {
		name   string
		lo, hi float32
		kernel func(d, s []float32)
		ref    func(float64) float64
		want   bound // 0: not checked
	}{
		{"log2 (0, max]", 0x1p-149, math.MaxFloat32, Log2Slice, mvLog2Ref, bound{rel: 1.6e-7, ulp: 2.2}},
		{"log2 [1, 2^30]", 1, 0x1p30, Log2Slice, mvLog2Ref, bound{abs: 1e-6}},
		{"log2 [0.5, 2]", 0.5, 2, Log2Slice, mvLog2Ref, bound{abs: 7.9e-8}},
		{"log2p1 [0, 2^-126]", 0, 0x1p-126, log2p1Best, mvLog2p1Ref, bound{abs: 0x1p-149}},
		{"log2p1 [2^-126, 2^30]", 0x1p-126, 0x1p30, log2p1Best, mvLog2p1Ref, bound{abs: 1.05e-6, rel: mvLog2p1Rel, ulp: 2.2}},
		{"log2p1 [2^30, max]", 0x1p30, math.MaxFloat32, log2p1Best, mvLog2p1Ref, bound{rel: 6.1e-8, ulp: 0.53}},
		{"exp [-87.33, 0]", -87.33, negZero, expSlice, mvExpRef, bound{rel: 9e-8, ulp: 1.07}},
		{"exp [0, 88.72]", 0, 88.72, expSlice, mvExpRef, bound{rel: 9e-8, ulp: 1.07}},
		{"exp [-104, -87.33]", -87.33, -104, expSlice, mvExpRef, bound{abs: 0x1p-149}},
		{"sigmoid [0, Inf]", 0, inf, sig1, mvSigmoidRef, bound{rel: 1.16e-7, ulp: 1.51}},
		{"sigmoid [-87.33, 0]", -87.33, negZero, sig1, mvSigmoidRef, bound{rel: 1.8e-7, ulp: 2.41}},
		{"sigmoid [-Inf, -87.33]", -87.33, -inf, sig1, mvSigmoidRef, bound{abs: 0x1p-149}},
	} {
		e := mvScan(mvBits(c.lo), mvBits(c.hi), stride, c.kernel, c.ref)
		t.Logf("%-24s %v", c.name, e)
		if c.want.abs > 0 && e.abs > c.want.abs || c.want.rel > 0 && e.rel > c.want.rel || c.want.ulp > 0 && e.ulp > c.want.ulp {
			t.Errorf("%s: %v, documented bound %+v", c.name, e, c.want)
		}
	}
}

// log2p1Best is log2p1 with the fastest kernel here.
func log2p1Best(dst, src []float32) {
	if isas := mvISAs(); len(isas) > 0 {
		isas[0].log2p1(dst, src)
		return
	}
	log2p1SliceGo(dst, src)
}

func BenchmarkMathvec(b *testing.B) {
	const n = 4096
	rng := rand.New(rand.NewPCG(7, 8))
	src := make([]float32, n) // log2: 2^-20 .. 2^20
	for i := range src {
		src[i] = float32(math.Exp2(rng.Float64()*40 - 20))
	}
	zs := make([]float32, n) // sigmoid: -10 .. 10
	for i := range zs {
		zs[i] = float32(rng.Float64()*20 - 10)
	}
	dst := make([]float32, n)
	type impl struct {
		name string
		f    func(d, s []float32)
	}
	impls := map[string][]impl{
		"log2": {{"go", log2SliceGo}, {"math", func(d, s []float32) {
			for i, x := range s {
				d[i] = float32(math.Log2(float64(x)))
			}
		}}},
		"sigmoid": {{"go", func(d, s []float32) { sigmoidSliceGo(d, s, 1) }}, {"math", func(d, s []float32) {
			for i, x := range s {
				d[i] = float32(1 / (1 + math.Exp(-float64(x))))
			}
		}}},
	}
	for _, isa := range mvISAs() {
		impls["log2"] = append(impls["log2"], impl{isa.name, isa.log2})
		impls["sigmoid"] = append(impls["sigmoid"], impl{isa.name, func(d, s []float32) { isa.sigmoid(d, s, 1) }})
	}
	for _, fn := range []string{"log2", "sigmoid"} {
		for _, im := range impls[fn] {
			in := src
			if fn == "sigmoid" {
				in = zs
			}
			b.Run(fn+"/"+im.name, func(b *testing.B) {
				for b.Loop() {
					im.f(dst, in)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
			})
		}
	}
}

// mvLog2p1Rel is the documented relative error bound of log2p1f32 for
// x >= 2^-126 (measured: 1.76e-7).
const mvLog2p1Rel = 1.8e-7
