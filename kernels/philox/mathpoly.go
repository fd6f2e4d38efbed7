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

// Exp returns e^x, the same bits on every platform (math.Exp may use a fused
// multiply-add where the CPU has one). It reduces x = k ln2 + r with
// |r| <= ln2/2, k ln2 subtracted in two exact parts (fdlibm's split), sums
// the Taylor series of e^r to degree 13 (truncation below 4e-18) with every
// product rounded explicitly, and scales by 2^k. TestExp checks a relative
// error below 1e-14 against math.Exp. Samplers of log-normal and Pareto
// variates use it.
func Exp(x float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01 // the high bits of ln 2: k*ln2Hi is exact
		ln2Lo = 1.90821492927058770002e-10 // ln 2 - ln2Hi
	)
	switch {
	case x != x:
		return x
	case x > 709.782712893384:
		return math.Inf(1)
	case x < -745.1332191019412:
		return 0
	}
	k := math.Round(x * (1 / ln2))
	r := float64(x-float64(k*ln2Hi)) - float64(k*ln2Lo)
	p := 1.0 / 6227020800 // 1/13!
	for _, c := range [...]float64{1.0 / 479001600, 1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880,
		1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1} {
		p = float64(p*r) + c
	}
	return math.Ldexp(p, int(k))
}
