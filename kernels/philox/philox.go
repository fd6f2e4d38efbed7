// Package philox is the counter-based random number generator of batchrun:
// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011) and the uniform and normal variates derived from it.
//
// Every random number in the project is a pure function of (key, stream,
// index): the key identifies a seed-run, the stream one purpose within it (the
// fading of one channel process, the perturbation of one agent at one
// iteration, ...), and the index counts the numbers drawn from that stream.
// Nothing is sequential, so results do not depend on worker count, batch
// composition or backend, and any number can be regenerated on demand.
//
// One Philox block maps the 64-bit key and the 128-bit counter (stream, block)
// to four 32-bit words. Variate n of a stream lives in block n/4, lane n%4:
//
//	Uint32(key, stream, n)   = word n%4 of Block(key, stream, n/4)
//	Float32(key, stream, n)  = (word >> 8) * 2^-24            in [0, 1)
//	Normal32(key, stream, n) = Box-Muller on the lane pair (0,1) or (2,3):
//	    r = sqrt(-2 ln u1), u1 = ((w_even >> 8) + 1) * 2^-24  in (0, 1]
//	    a = 2 pi u2,        u2 = (w_odd >> 8) * 2^-24          in [0, 1)
//	    lane even -> r cos a, lane odd -> r sin a
//
// The logarithm and the sine and cosine are polynomial approximations
// evaluated in float64 (see Ln01 and SinCos2Pi), accurate to better than
// 3e-9 absolute, far below float32 resolution, and deterministic on every
// platform: no math library or fused multiply-add can change a result.
// Normal32's tails end at sqrt(-2 ln 2^-24) ~ 5.77 standard deviations.
package philox

import (
	"math"
	"math/bits"
)

// Philox4x32 round constants (Random123).
const (
	mul0  = 0xD2511F53
	mul1  = 0xCD9E8D57
	weyl0 = 0x9E3779B9
	weyl1 = 0xBB67AE85
)

// Block returns the four 32-bit outputs of Philox4x32-10 for the 64-bit key
// and the 128-bit counter (stream, block). stream fills counter words 2-3 and
// block fills words 0-1 (low word first).
func Block(key, stream, block uint64) [4]uint32 {
	return block4(uint32(key), uint32(key>>32), uint32(block), uint32(block>>32), uint32(stream), uint32(stream>>32))
}

// block4 is Philox4x32-10 on key (k0, k1) and counter (c0, c1, c2, c3), with
// the ten rounds written out (the compiler does not unroll the loop form).
func block4(k0, k1, c0, c1, c2, c3 uint32) [4]uint32 {
	var hi0, lo0, hi1, lo1 uint32
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	k0 += weyl0
	k1 += weyl1
	hi0, lo0 = bits.Mul32(mul0, c0)
	hi1, lo1 = bits.Mul32(mul1, c2)
	c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	return [4]uint32{c0, c1, c2, c3}
}

// Uint32 returns variate n of stream as a raw 32-bit word.
func Uint32(key, stream, n uint64) uint32 {
	return Block(key, stream, n/4)[n%4]
}

// Float32 returns variate n of stream, uniform on [0, 1) with 24 random bits.
func Float32(key, stream, n uint64) float32 {
	return unit24(Uint32(key, stream, n))
}

// Float64 returns variate n of stream, uniform on [0, 1) with 53 random bits.
// It consumes the lane pair (2(n%2), 2(n%2)+1) of block n/2.
func Float64(key, stream, n uint64) float64 {
	w := Block(key, stream, n/2)
	j := 2 * (n % 2)
	return unit53(w[j], w[j+1])
}

// Normal64 returns variate n of stream, standard normal in float64: the
// cosine branch of Box-Muller on the two 53-bit uniforms of block n, u1 in
// (0, 1] and u2 in [0, 1), with the portable Ln01 and SinCos2Pi (so the
// value is the same on every architecture; its tails end near 8.6
// standard deviations).
func Normal64(key, stream, n uint64) float64 {
	c, _ := NormalPair64(key, stream, n)
	return c
}

// NormalPair64 returns both Box-Muller branches of block n of stream: the
// cosine branch, which is Normal64(key, stream, n), and the sine branch,
// independent of it. Two normals for one block, one logarithm and one
// sine-cosine evaluation.
func NormalPair64(key, stream, n uint64) (float64, float64) {
	return NormalPairOf(Block(key, stream, n))
}

// NormalPairOf is Box-Muller on one block's words: NormalPair64 of the
// block w, for callers that hold the block.
func NormalPairOf(w [4]uint32) (float64, float64) {
	u1 := 1 - unit53(w[0], w[1])
	u2 := unit53(w[2], w[3])
	s, c := SinCos2Pi(u2)
	r := math.Sqrt(-2 * Ln01(u1))
	return float64(r * c), float64(r * s)
}

// Reader reads the Float64 variates 0, 1, 2, ... of one stream in order,
// computing each Philox block once (Float64 alone computes it for each of
// its two variates).
type Reader struct {
	key, stream, block uint64
	buf                [4]uint32
	next               int // next lane pair of buf: 0, 2, or 4 (refill)
}

// NewReader returns a Reader at variate 0 of stream.
func NewReader(key, stream uint64) Reader {
	return Reader{key: key, stream: stream, next: 4}
}

// Float64 returns the next variate: Float64(key, stream, n) for n = 0, 1, ...
func (r *Reader) Float64() float64 {
	if r.next == 4 {
		r.buf = Block(r.key, r.stream, r.block)
		r.block++
		r.next = 0
	}
	j := r.next
	r.next += 2
	return unit53(r.buf[j], r.buf[j+1])
}

// Normal32 returns variate n of stream, standard normal (see the package doc).
func Normal32(key, stream, n uint64) float32 {
	w := Block(key, stream, n/4)
	j := n % 4 &^ 1
	c, s := boxMuller(w[j], w[j+1])
	if n%2 == 0 {
		return c
	}
	return s
}

// FillNormal32 writes variates first, first+1, ..., first+len(dst)-1 of
// stream to dst. It equals calling Normal32 for each index, at a quarter of
// the Philox cost. It does not allocate.
func FillNormal32(dst []float32, key, stream, first uint64) {
	n := first
	i := 0
	// Head: partial block.
	for i < len(dst) && n%4 != 0 {
		dst[i] = Normal32(key, stream, n)
		i++
		n++
	}
	k0, k1 := uint32(key), uint32(key>>32)
	c2, c3 := uint32(stream), uint32(stream>>32)
	for ; i+4 <= len(dst); i, n = i+4, n+4 {
		b := n / 4
		w := block4(k0, k1, uint32(b), uint32(b>>32), c2, c3)
		d := dst[i : i+4 : i+4]
		d[0], d[1] = boxMuller(w[0], w[1])
		d[2], d[3] = boxMuller(w[2], w[3])
	}
	for ; i < len(dst); i, n = i+1, n+1 {
		dst[i] = Normal32(key, stream, n)
	}
}

func unit24(w uint32) float32 { return float32(w>>8) * (1.0 / (1 << 24)) }

// Unit53 returns the 53-bit uniform on [0, 1) that Float64 makes of two
// words (lo, hi), for callers that hold a block.
func Unit53(lo, hi uint32) float64 { return unit53(lo, hi) }

func unit53(lo, hi uint32) float64 {
	return float64(uint64(hi)<<21|uint64(lo>>11)) * (1.0 / (1 << 53))
}

// boxMuller turns two words into two standard normals.
func boxMuller(a, b uint32) (float32, float32) {
	u1 := float64((a>>8)+1) * (1.0 / (1 << 24)) // (0, 1]
	u2 := float64(b>>8) * (1.0 / (1 << 24))     // [0, 1)
	r := math.Sqrt(-2 * Ln01(u1))               // correctly rounded (IEEE 754) everywhere
	s, c := SinCos2Pi(u2)
	return float32(r * c), float32(r * s)
}

// SplitMix64 returns the SplitMix64 finaliser of z + golden gamma (Steele,
// Lea, Flood 2014): a bijection of uint64 whose outputs for neighbouring
// inputs look unrelated. Families derive their Philox keys with it from
// seeds and purpose constants.
func SplitMix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// PolarNormals fills dst with standard normals by Marsaglia's polar method
// on blocks first, first+1, ... of stream, and returns the number of
// blocks it used. Each block gives two candidate points (v1, v2) in
// (-1, 1)^2 from 32-bit words; a point with 0 < s = v1^2 + v2^2 < 1 (about
// 79%) gives the pair v sqrt(-2 ln s / s). No sine or cosine: cheaper than
// Box-Muller where the normals need not be random-access (a consumer gives
// each use its own range of blocks, since the count varies). The logarithm
// is the portable Ln01, so the values are the same on every platform.
func PolarNormals(dst []float64, key, stream, first uint64) uint64 {
	b := first
	i := 0
	for i < len(dst) {
		w := Block(key, stream, b)
		b++
		for p := 0; p < 4 && i < len(dst); p += 2 {
			v1 := float64(int32(w[p]))*(1.0/(1<<31)) + 0.5/(1<<31)
			v2 := float64(int32(w[p+1]))*(1.0/(1<<31)) + 0.5/(1<<31)
			s := float64(v1*v1) + float64(v2*v2)
			if s >= 1 {
				continue
			}
			f := math.Sqrt(-2 * Ln01(s) / s)
			dst[i] = float64(v1 * f)
			i++
			if i < len(dst) {
				dst[i] = float64(v2 * f)
				i++
			}
		}
	}
	return b - first
}
