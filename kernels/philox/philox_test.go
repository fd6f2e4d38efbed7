package philox

import (
	"math"
	"slices"
	"testing"
)

// Known-answer vectors of Philox4x32-10 from the Random123 distribution
// (kat_vectors): counter words c0..c3, key words k0, k1, expected output.
func TestBlockKnownAnswers(t *testing.T) {
	tests := []struct {
		c    [4]uint32
		k    [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0}, [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, tc := range tests {
		key := uint64(tc.k[0]) | uint64(tc.k[1])<<32
		block := uint64(tc.c[0]) | uint64(tc.c[1])<<32
		stream := uint64(tc.c[2]) | uint64(tc.c[3])<<32
		if got := Block(key, stream, block); got != tc.want {
			t.Errorf("Block(c=%x, k=%x) = %x, want %x", tc.c, tc.k, got, tc.want)
		}
	}
}

func TestFillMatchesPointwise(t *testing.T) {
	for _, first := range []uint64{0, 1, 2, 3, 4, 5, 1<<32 - 3} {
		for _, n := range []int{0, 1, 3, 4, 7, 17} {
			dst := make([]float32, n)
			FillNormal32(dst, 42, 7, first)
			for i, v := range dst {
				if w := Normal32(42, 7, first+uint64(i)); v != w {
					t.Fatalf("first=%d n=%d i=%d: fill %v, pointwise %v", first, n, i, v, w)
				}
			}
		}
	}
}

func TestStreamsAndKeysDiffer(t *testing.T) {
	a := Block(1, 2, 3)
	for _, b := range [][4]uint32{Block(2, 2, 3), Block(1, 3, 3), Block(1, 2, 4)} {
		if a == b {
			t.Fatalf("distinct (key, stream, block) gave equal blocks %x", a)
		}
	}
}

// Moments of the normal and uniform variates over 2^20 draws: mean, variance,
// skewness and kurtosis within about 5 standard errors, and the lag-1
// correlation inside a stream near 0.
func TestMoments(t *testing.T) {
	const n = 1 << 20
	buf := make([]float32, n)
	FillNormal32(buf, 0xdeadbeef, 11, 0)
	var m1, m2, m3, m4, lag float64
	for i, v := range buf {
		x := float64(v)
		m1 += x
		m2 += x * x
		m3 += x * x * x
		m4 += x * x * x * x
		if i > 0 {
			lag += x * float64(buf[i-1])
		}
	}
	m1, m2, m3, m4, lag = m1/n, m2/n, m3/n, m4/n, lag/n
	se := 1 / math.Sqrt(n)
	checks := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"mean", m1, 0, 5 * se},
		{"variance", m2, 1, 5 * math.Sqrt2 * se},
		{"third moment", m3, 0, 5 * math.Sqrt(15) * se},
		{"fourth moment", m4, 3, 5 * math.Sqrt(96) * se},
		{"lag-1 correlation", lag, 0, 5 * se},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > c.tol {
			t.Errorf("normal %s = %.5f, want %.5f +- %.5f", c.name, c.got, c.want, c.tol)
		}
	}
	var u1, u2 float64
	for i := uint64(0); i < n; i++ {
		u := float64(Float32(3, 5, i))
		if u < 0 || u >= 1 {
			t.Fatalf("Float32 = %v outside [0, 1)", u)
		}
		u1 += u
		u2 += u * u
	}
	if mean := u1 / n; math.Abs(mean-0.5) > 5*se*math.Sqrt(1.0/12) {
		t.Errorf("uniform mean %v, want 0.5", mean)
	}
	if v := u2/n - (u1/n)*(u1/n); math.Abs(v-1.0/12) > 0.002 {
		t.Errorf("uniform variance %v, want 1/12", v)
	}
	for i := uint64(0); i < 1000; i++ {
		if u := Float64(9, 9, i); u < 0 || u >= 1 {
			t.Fatalf("Float64 = %v outside [0, 1)", u)
		}
	}
}

func TestLn01(t *testing.T) {
	worst := 0.0
	for i := 1; i <= 1<<16; i++ {
		u := float64(i) / (1 << 16)
		worst = math.Max(worst, math.Abs(Ln01(u)-math.Log(u)))
	}
	for _, u := range []float64{1.0 / (1 << 24), math.Sqrt2 / 2, 0.7071067, 0.7071068, 1} {
		worst = math.Max(worst, math.Abs(Ln01(u)-math.Log(u)))
	}
	if worst > 2e-10 {
		t.Errorf("max |Ln01 - math.Log| = %g, want <= 2e-10", worst)
	}
}

func TestSinCos2Pi(t *testing.T) {
	worst := 0.0
	for i := 0; i < 1<<16; i++ {
		u := float64(i) / (1 << 16)
		s, c := SinCos2Pi(u)
		ws, wc := math.Sincos(2 * math.Pi * u)
		worst = math.Max(worst, math.Max(math.Abs(s-ws), math.Abs(c-wc)))
	}
	if worst > 3e-9 {
		t.Errorf("max error of SinCos2Pi = %g, want <= 3e-9", worst)
	}
}

var sink float32

func BenchmarkFillNormal32(b *testing.B) {
	buf := make([]float32, 4096)
	for b.Loop() {
		FillNormal32(buf, 1, 2, 0)
	}
	sink = buf[17]
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(buf)), "ns/normal")
}

// SplitMix64's reference stream from state 0 (Vigna's splitmix64.c):
// state advances by the golden gamma, so output k is SplitMix64(k*gamma).
func TestSplitMix64(t *testing.T) {
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	for k, w := range want {
		if got := SplitMix64(uint64(k) * 0x9e3779b97f4a7c15); got != w {
			t.Errorf("output %d = %#x, want %#x", k, got, w)
		}
	}
}

func TestReader(t *testing.T) {
	r := NewReader(7, 3)
	for n := range uint64(21) {
		if got, want := r.Float64(), Float64(7, 3, n); got != want {
			t.Fatalf("variate %d: Reader %v, Float64 %v", n, got, want)
		}
	}
}

func TestNormalPair64(t *testing.T) {
	const count = 200_000
	var sum0, sum1, sq0, sq1, cross float64
	for n := range uint64(count) {
		a, b := NormalPair64(11, 5, n)
		if a != Normal64(11, 5, n) {
			t.Fatalf("block %d: cosine branch %v, Normal64 %v", n, a, Normal64(11, 5, n))
		}
		if n < 1000 {
			w := Block(11, 5, n)
			u1 := 1 - unit53(w[0], w[1])
			u2 := unit53(w[2], w[3])
			want := math.Sqrt(-2*math.Log(u1)) * math.Sin(2*math.Pi*u2)
			if math.Abs(b-want) > 1e-8 {
				t.Fatalf("block %d: sine branch %v, math library %v", n, b, want)
			}
		}
		sum0, sum1 = sum0+a, sum1+b
		sq0, sq1, cross = sq0+a*a, sq1+b*b, cross+a*b
	}
	// Standard errors: 0.0022 for means and the correlation, 0.0032 for
	// the variances.
	for _, m := range []float64{sum0 / count, sum1 / count, cross / count} {
		if math.Abs(m) > 0.01 {
			t.Errorf("mean or correlation %v, want 0", m)
		}
	}
	for _, v := range []float64{sq0 / count, sq1 / count} {
		if math.Abs(v-1) > 0.015 {
			t.Errorf("variance %v, want 1", v)
		}
	}
}

func TestNormal64(t *testing.T) {
	const count = 200_000
	sum, sum2 := 0.0, 0.0
	for n := range uint64(count) {
		x := Normal64(11, 5, n)
		sum += x
		sum2 += x * x
		if n < 1000 {
			w := Block(11, 5, n)
			u1 := 1 - unit53(w[0], w[1])
			u2 := unit53(w[2], w[3])
			want := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
			if math.Abs(x-want) > 1e-8 {
				t.Fatalf("variate %d = %v, math library %v", n, x, want)
			}
		}
	}
	mean, variance := sum/count, sum2/count-(sum/count)*(sum/count)
	// Standard errors: 0.0022 for the mean, 0.0032 for the variance.
	if math.Abs(mean) > 0.01 || math.Abs(variance-1) > 0.015 {
		t.Errorf("mean %v, variance %v", mean, variance)
	}
}

func TestExp(t *testing.T) {
	for _, x := range []float64{0, 1, -1, 0.5, -0.3465, 0.3466, 1e-300, -1e-20, 2.5, -7.25, 30, -30, 300, -300, 709, -708, -740} {
		got, want := Exp(x), math.Exp(x)
		if math.Abs(got-want) > 1e-14*want {
			t.Errorf("Exp(%v) = %v, math.Exp %v", x, got, want)
		}
	}
	r := NewReader(3, 9)
	for range 100_000 {
		x := 60 * (r.Float64() - 0.5)
		if got, want := Exp(x), math.Exp(x); math.Abs(got-want) > 1e-14*want {
			t.Fatalf("Exp(%v) = %v, math.Exp %v", x, got, want)
		}
	}
	if !math.IsInf(Exp(710), 1) || Exp(-746) != 0 || !math.IsNaN(Exp(math.NaN())) {
		t.Errorf("Exp(710) = %v, Exp(-746) = %v, Exp(NaN) = %v: want +Inf, 0, NaN", Exp(710), Exp(-746), Exp(math.NaN()))
	}
}

func TestPolarNormals(t *testing.T) {
	const count = 400_000
	dst := make([]float64, 5)
	var sum, sq, quad, tail float64
	var blocks uint64
	for u := range uint64(count / 5) {
		used := PolarNormals(dst, 4, 2, u<<8)
		blocks += used
		if used == 0 || used > 1<<8 {
			t.Fatalf("draw %d used %d blocks", u, used)
		}
		for _, z := range dst {
			sum += z
			sq += z * z
			quad += z * z * z * z
			if math.Abs(z) > 2 {
				tail++
			}
		}
	}
	mean, variance := sum/count, sq/count
	if math.Abs(mean) > 0.01 || math.Abs(variance-1) > 0.015 || math.Abs(quad/count-3) > 0.06 {
		t.Errorf("mean %v, variance %v, fourth moment %v: want 0, 1, 3", mean, variance, quad/count)
	}
	// P(|Z| > 2) = 0.0455; standard error 3.3e-4.
	if p := tail / count; math.Abs(p-0.0455) > 0.0015 {
		t.Errorf("P(|Z| > 2) = %v, want 0.0455", p)
	}
	// Three accepted pairs take 3 / (pi/4) = 3.8 points on average, two
	// per block, and the rest of the last block is unused: about 2.2 blocks.
	if per := float64(blocks) / (count / 5); per < 2.1 || per > 2.35 {
		t.Errorf("%v blocks per 5 normals, want about 2.2", per)
	}
	// The same arguments give the same normals.
	a, b := make([]float64, 7), make([]float64, 7)
	PolarNormals(a, 9, 9, 100)
	PolarNormals(b, 9, 9, 100)
	if !slices.Equal(a, b) {
		t.Errorf("PolarNormals is not a function of its arguments: %v, %v", a, b)
	}
}
