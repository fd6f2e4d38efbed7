package philox

import "math"

const ln2 = 0.693147180559945309417232121458176568

// Ln01 returns the natural logarithm of u for u in (0, 1], as used by the
// Box-Muller transform. It splits u = m * 2^e with m in [sqrt(1/2), sqrt(2))
// and sums the series ln m = 2 atanh(s) = 2 (s + s^3/3 + ... + s^11/11),
// s = (m-1)/(m+1), |s| <= 0.1716: truncation error below 1e-10 (2 s^13/13),
// far below float32 resolution (TestLn01 checks 2e-10 against math.Log).
func Ln01(u float64) float64 {
	// Branch-free split: subtracting the bits of sqrt(1/2) moves the exponent
	// boundary to sqrt(2); the arithmetic shift reads e, and adding the bits
	// back rebuilds m in [sqrt(1/2), sqrt(2)). (A branch here is mispredicted
	// half the time on random input.)
	const sqrtHalfBits = 0x3FE6A09E667F3BCD
	k := math.Float64bits(u) - sqrtHalfBits
	e := int64(k) >> 52
	m := math.Float64frombits(k&(1<<52-1) + sqrtHalfBits)
	s := (m - 1) / (m + 1)
	s2 := s * s
	p := 1.0 / 11
	p = float64(p*s2) + 1.0/9
	p = float64(p*s2) + 1.0/7
	p = float64(p*s2) + 1.0/5
	p = float64(p*s2) + 1.0/3
	p = float64(p*s2) + 1
	return float64(2*s*p) + float64(float64(e)*ln2)
}

// SinCos2Pi returns sin(2 pi u) and cos(2 pi u) for u in [0, 1). The quadrant
// comes from u exactly; within it x = 2 pi (u - q/4) - pi/4 lies in
// [-pi/4, pi/4], where Taylor polynomials of degree 9 (sine) and 10 (cosine)
// err by less than 2e-9 (TestSinCos2Pi checks 3e-9 against math.Sincos).
func SinCos2Pi(u float64) (sin, cos float64) {
	q4 := u * 4
	q := int(q4)
	x := float64((q4-float64(q))*(math.Pi/2)) - math.Pi/4
	x2 := x * x
	sp := 1.0 / 362880
	sp = float64(sp*x2) - 1.0/5040
	sp = float64(sp*x2) + 1.0/120
	sp = float64(sp*x2) - 1.0/6
	sp = float64(sp*x2) + 1
	s := float64(x * sp)
	cp := -1.0 / 3628800
	cp = float64(cp*x2) + 1.0/40320
	cp = float64(cp*x2) - 1.0/720
	cp = float64(cp*x2) + 1.0/24
	cp = float64(cp*x2) - 0.5
	cp = float64(cp*x2) + 1
	c := cp
	// angle = x + pi/4 + q pi/2: rotate (c, s) by pi/4, then by quadrant q,
	// without branches: odd quadrants swap sine and cosine, and the signs
	// follow q = 0: (+s, +c), 1: (+c, -s), 2: (-s, -c), 3: (-c, +s).
	const r = math.Sqrt2 / 2
	sa, ca := math.Float64bits(r*(s+c)), math.Float64bits(r*(c-s))
	swap := -uint64(q & 1)
	sb := sa&^swap | ca&swap
	cb := ca&^swap | sa&swap
	sb ^= uint64(q>>1&1) << 63
	cb ^= uint64((q^q>>1)&1) << 63
	return math.Float64frombits(sb), math.Float64frombits(cb)
}
