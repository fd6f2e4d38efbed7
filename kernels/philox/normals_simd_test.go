package philox

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
)

type fillVariant struct {
	name string
	fill func(dst []float32, key, stream, first uint64)
	ok   func() bool
}

var fillVariants = []fillVariant{
	{"generic", FillNormal32, func() bool { return true }},
	{"AVX2", FillNormal32AVX2, HasAVX2},
	{"AVX512", FillNormal32AVX512, HasAVX512},
}

// checkFill compares v.fill with FillNormal32 bit for bit on one call, and
// checks that v.fill writes nothing outside dst.
func checkFill(t *testing.T, v fillVariant, key, stream, first uint64, n int) {
	t.Helper()
	const pad = 40
	want := make([]float32, n)
	FillNormal32(want, key, stream, first)
	buf := make([]float32, n+2*pad)
	for i := range buf {
		buf[i] = -1234.5
	}
	v.fill(buf[pad:pad+n:pad+n], key, stream, first)
	for i, x := range buf {
		if i < pad || i >= pad+n {
			if x != -1234.5 {
				t.Fatalf("%s(key=%#x stream=%#x first=%#x len=%d) wrote outside dst at %d", v.name, key, stream, first, n, i-pad)
			}
			continue
		}
		if w := want[i-pad]; math.Float32bits(x) != math.Float32bits(w) {
			t.Fatalf("%s(key=%#x stream=%#x first=%#x len=%d)[%d] = %v (%#08x), FillNormal32 %v (%#08x)",
				v.name, key, stream, first, n, i-pad, x, math.Float32bits(x), w, math.Float32bits(w))
		}
	}
}

// firsts are start indices around the places where the counter words carry:
// the block index crosses 2^32 (c0 -> c1) at n = 2^34, the index itself
// crosses 2^32 and wraps around 2^64.
func firsts(rng *rand.Rand) []uint64 {
	f := []uint64{0, 1, 2, 3, 4, 5, 7, 31, 33, 1001}
	for _, c := range []uint64{1 << 32, 1 << 34, 1 << 36, 1 << 62, 3 << 62} {
		for d := uint64(0); d <= 40; d += 3 {
			f = append(f, c-d, c+d)
		}
	}
	for d := uint64(1); d <= 140; d += 7 {
		f = append(f, -d) // wraps during the fill
	}
	for range 20 {
		f = append(f, rng.Uint64())
	}
	return f
}

func TestFillNormal32SIMDMatches(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := [][2]uint64{{0, 0}, {42, 7}, {0xffffffffffffffff, 0xffffffffffffffff}, {rng.Uint64(), rng.Uint64()}}
	for _, v := range fillVariants {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok() {
				t.Skipf("CPU lacks %s", v.name)
			}
			lens := []int{100, 127, 128, 129, 255, 256, 1000, 1231, 4099}
			for n := 0; n <= 67; n++ {
				lens = append(lens, n)
			}
			for _, ks := range keys {
				for _, first := range firsts(rng) {
					for _, n := range lens {
						checkFill(t, v, ks[0], ks[1], first, n)
					}
				}
			}
		})
	}
}

func TestFillNormal32SIMDRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	iters := 3000
	if testing.Short() {
		iters = 300
	}
	for _, v := range fillVariants[1:] {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok() {
				t.Skipf("CPU lacks %s", v.name)
			}
			for range iters {
				first := rng.Uint64()
				switch rng.IntN(4) {
				case 0:
					first >>= rng.IntN(64)
				case 1: // near a carry of the block counter
					first = uint64(rng.IntN(1<<30))<<34 - uint64(rng.IntN(200))
				}
				checkFill(t, v, rng.Uint64(), rng.Uint64(), first, rng.IntN(3000))
			}
		})
	}
}

// TestFillNormal32SIMDLong checks one long fill (all lane positions and many
// group boundaries) across a carry into counter word 1.
func TestFillNormal32SIMDLong(t *testing.T) {
	for _, v := range fillVariants[1:] {
		t.Run(v.name, func(t *testing.T) {
			if !v.ok() {
				t.Skipf("CPU lacks %s", v.name)
			}
			checkFill(t, v, 0x0123456789abcdef, 0xfedcba9876543210, 1<<34-(1<<19)+3, 1<<20+5)
		})
	}
}

// boxMullerWords runs the Box-Muller part of a kernel on given words: all
// 2^24 values of the 24 bits that u1 uses, then all 2^24 values of the 24
// bits that u2 uses (the low 8 bits and the other word random), checked
// against the scalar boxMuller. The kernels read each group lane-major, and
// lane j of the AVX-512 kernel holds block perm[j] of its group.
func TestBoxMullerWordsExhaustive(t *testing.T) {
	if testing.Short() {
		t.Skip("exhaustive over 2^25 pairs")
	}
	kernels := []struct {
		name  string
		ok    bool
		fn    func(dst []float32, words []uint32)
		lanes int
		perm  []int
	}{
		{"AVX2", HasAVX2(), boxMullerWordsAVX2, 4, []int{0, 1, 2, 3}},
		{"AVX512", HasAVX512(), boxMullerWordsAVX512, 8, []int{0, 2, 4, 6, 1, 3, 5, 7}},
	}
	const chunk = 1 << 20 // pairs per round
	rng := rand.New(rand.NewPCG(5, 6))
	even := make([]uint32, chunk)
	odd := make([]uint32, chunk)
	want := make([][2]float32, chunk)
	words := make([]uint32, 2*chunk)
	got := make([]float32, 2*chunk)
	for pass := range 2 {
		for lo := 0; lo < 1<<24; lo += chunk {
			for i := range chunk {
				swept := uint32(lo+i)<<8 | uint32(rng.IntN(256))
				even[i], odd[i] = swept, rng.Uint32()
				if pass == 1 {
					even[i], odd[i] = rng.Uint32(), swept
				}
				want[i][0], want[i][1] = boxMuller(even[i], odd[i])
			}
			for _, k := range kernels {
				if !k.ok {
					continue
				}
				// Pair p goes to group p / (2 lanes), lane j, pair A or B.
				g := 4 * k.lanes // words (and outputs) per group
				slot := func(p int) (wordIdx [2]int, outIdx int) {
					grp, r := p/(2*k.lanes), p%(2*k.lanes)
					j, ab := r%k.lanes, r/k.lanes // lane, pair (w0,w1) or (w2,w3)
					base := grp * g
					wordIdx = [2]int{base + (2*ab)*k.lanes + j, base + (2*ab+1)*k.lanes + j}
					return wordIdx, base + 4*k.perm[j] + 2*ab
				}
				for p := range chunk {
					wi, _ := slot(p)
					words[wi[0]], words[wi[1]] = even[p], odd[p]
				}
				k.fn(got, words)
				for p := range chunk {
					_, o := slot(p)
					for h := range 2 {
						if math.Float32bits(got[o+h]) != math.Float32bits(want[p][h]) {
							t.Fatalf("%s: words (%#08x, %#08x) output %d = %v, boxMuller %v",
								k.name, even[p], odd[p], h, got[o+h], want[p][h])
						}
					}
				}
			}
		}
	}
}

// TestAVX2KernelsAreAVX2 checks that the generated AVX2 functions use only
// what AVX2 CPUs have: no register above 15 (which needs EVEX encoding, that
// is AVX-512), no zmm or mask register, no broadcast operand.
func TestAVX2KernelsAreAVX2(t *testing.T) {
	src, err := os.ReadFile("normals_amd64.s")
	if err != nil {
		t.Skip(err)
	}
	bad := regexp.MustCompile(`\b([XY](1[6-9]|2[0-9]|3[01])|Z[0-9]+|K[0-7])\b|\.BCST`)
	found := 0
	for _, fn := range strings.Split(string(src), "\nTEXT ")[1:] {
		name, _, _ := strings.Cut(fn, "(")
		if !strings.HasSuffix(name, "AVX2") {
			continue
		}
		found++
		for _, line := range strings.Split(fn, "\n") {
			if bad.MatchString(line) {
				t.Errorf("%s: %s", name, strings.TrimSpace(line))
			}
		}
	}
	if found != 2 {
		t.Errorf("found %d AVX2 functions in normals_amd64.s, want 2", found)
	}
}

func TestFillNormal32SIMDNoAllocs(t *testing.T) {
	buf := make([]float32, 1000)
	for _, v := range fillVariants {
		for _, n := range []int{2, 5, 1000} {
			if a := testing.AllocsPerRun(10, func() { v.fill(buf[:n], 1, 2, 3) }); a != 0 {
				t.Errorf("%s(len %d) allocates %v times", v.name, n, a)
			}
		}
	}
}

func BenchmarkFillNormal32Variants(b *testing.B) {
	for _, v := range fillVariants {
		b.Run(v.name, func(b *testing.B) {
			if !v.ok() {
				b.Skipf("CPU lacks %s", v.name)
			}
			buf := make([]float32, 4096)
			for b.Loop() {
				v.fill(buf, 1, 2, 0)
			}
			sink = buf[17]
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(buf)), "ns/normal")
		})
	}
}

// BenchmarkFillNormal32VariantsSizes times the sizes of the zo experiment
// (P = 1231 parameters per agent) and a short fill, where the scalar head and
// tail and the call overhead weigh more.
func BenchmarkFillNormal32VariantsSizes(b *testing.B) {
	for _, n := range []int{3, 8, 100, 1231} {
		for _, v := range fillVariants {
			b.Run(fmt.Sprintf("%s/n=%d", v.name, n), func(b *testing.B) {
				if !v.ok() {
					b.Skipf("CPU lacks %s", v.name)
				}
				buf := make([]float32, n)
				first := uint64(0)
				for b.Loop() {
					v.fill(buf, 1, 2, first)
					first += 3 // unaligned starts, as for consecutive agents
				}
				sink = buf[len(buf)-1]
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(buf)), "ns/normal")
			})
		}
	}
}
