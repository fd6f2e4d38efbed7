// philox.cuh: the counter-based generator of package kernels/philox on the
// GPU, bit for bit. Every double operation is an explicitly rounded
// intrinsic, so no fused multiply-add or fast-math choice of the compiler can
// change a result: Normal32 and Float64 return exactly what the Go package
// returns for the same (key, stream, index).
#pragma once

#include <stdint.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

// philox_block is Philox4x32-10 on the 64-bit key and the counter (stream,
// block): block fills counter words 0-1, stream words 2-3, low word first.
__device__ __forceinline__ void philox_block(uint64_t key, uint64_t stream, uint64_t block, uint32_t out[4]) {
	uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
	uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32);
	uint32_t c2 = (uint32_t)stream, c3 = (uint32_t)(stream >> 32);
#pragma unroll
	for (int r = 0; r < 10; r++) {
		if (r > 0) {
			k0 += PHILOX_W0;
			k1 += PHILOX_W1;
		}
		uint32_t hi0 = __umulhi(PHILOX_M0, c0), lo0 = PHILOX_M0 * c0;
		uint32_t hi1 = __umulhi(PHILOX_M1, c2), lo1 = PHILOX_M1 * c2;
		uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
		c0 = n0;
		c1 = lo1;
		c2 = n2;
		c3 = lo0;
	}
	out[0] = c0;
	out[1] = c1;
	out[2] = c2;
	out[3] = c3;
}

// philox_unit53 is the 53-bit uniform on [0, 1) of two words (lo, hi).
__device__ __forceinline__ double philox_unit53(uint32_t lo, uint32_t hi) {
	uint64_t m = ((uint64_t)hi << 21) | (uint64_t)(lo >> 11);
	return __dmul_rn((double)m, 1.0 / 9007199254740992.0);
}

// philox_float64 is philox.Float64: lanes 2(n%2), 2(n%2)+1 of block n/2.
__device__ __forceinline__ double philox_float64(uint64_t key, uint64_t stream, uint64_t n) {
	uint32_t w[4];
	philox_block(key, stream, n / 2, w);
	return (n % 2 == 0) ? philox_unit53(w[0], w[1]) : philox_unit53(w[2], w[3]);
}

// philox_ln01 is philox.Ln01: ln u for u in (0, 1].
__device__ __forceinline__ double philox_ln01(double u) {
	const uint64_t sqrtHalfBits = 0x3FE6A09E667F3BCDull;
	uint64_t k = (uint64_t)__double_as_longlong(u) - sqrtHalfBits;
	int64_t e = ((int64_t)k) >> 52;
	double m = __longlong_as_double((long long)((k & ((1ull << 52) - 1)) + sqrtHalfBits));
	double s = __ddiv_rn(__dsub_rn(m, 1.0), __dadd_rn(m, 1.0));
	double s2 = __dmul_rn(s, s);
	double p = 1.0 / 11;
	p = __dadd_rn(__dmul_rn(p, s2), 1.0 / 9);
	p = __dadd_rn(__dmul_rn(p, s2), 1.0 / 7);
	p = __dadd_rn(__dmul_rn(p, s2), 1.0 / 5);
	p = __dadd_rn(__dmul_rn(p, s2), 1.0 / 3);
	p = __dadd_rn(__dmul_rn(p, s2), 1.0);
	const double ln2 = 0.693147180559945309417232121458176568;
	return __dadd_rn(__dmul_rn(__dmul_rn(2.0, s), p), __dmul_rn((double)e, ln2));
}

// philox_sincos2pi is philox.SinCos2Pi: sin and cos of 2 pi u, u in [0, 1).
__device__ __forceinline__ void philox_sincos2pi(double u, double *sinOut, double *cosOut) {
	const double pi2 = 1.57079632679489661923132169163975144;  // pi/2
	const double pi4 = 0.785398163397448309615660845819875721; // pi/4
	const double r = 0.707106781186547524400844362104849039;   // sqrt(2)/2
	double q4 = __dmul_rn(u, 4.0);
	int q = (int)q4;
	double x = __dsub_rn(__dmul_rn(__dsub_rn(q4, (double)q), pi2), pi4);
	double x2 = __dmul_rn(x, x);
	double sp = 1.0 / 362880;
	sp = __dsub_rn(__dmul_rn(sp, x2), 1.0 / 5040);
	sp = __dadd_rn(__dmul_rn(sp, x2), 1.0 / 120);
	sp = __dsub_rn(__dmul_rn(sp, x2), 1.0 / 6);
	sp = __dadd_rn(__dmul_rn(sp, x2), 1.0);
	double s = __dmul_rn(x, sp);
	double cp = -1.0 / 3628800;
	cp = __dadd_rn(__dmul_rn(cp, x2), 1.0 / 40320);
	cp = __dsub_rn(__dmul_rn(cp, x2), 1.0 / 720);
	cp = __dadd_rn(__dmul_rn(cp, x2), 1.0 / 24);
	cp = __dsub_rn(__dmul_rn(cp, x2), 0.5);
	cp = __dadd_rn(__dmul_rn(cp, x2), 1.0);
	double c = cp;
	uint64_t sa = (uint64_t)__double_as_longlong(__dmul_rn(r, __dadd_rn(s, c)));
	uint64_t ca = (uint64_t)__double_as_longlong(__dmul_rn(r, __dsub_rn(c, s)));
	uint64_t swap = (uint64_t)0 - (uint64_t)(q & 1);
	uint64_t sb = (sa & ~swap) | (ca & swap);
	uint64_t cb = (ca & ~swap) | (sa & swap);
	sb ^= (uint64_t)((q >> 1) & 1) << 63;
	cb ^= (uint64_t)((q ^ (q >> 1)) & 1) << 63;
	*sinOut = __longlong_as_double((long long)sb);
	*cosOut = __longlong_as_double((long long)cb);
}

// philox_box_muller turns two words into two standard normals (cosine
// branch first), as philox's boxMuller.
__device__ __forceinline__ void philox_box_muller(uint32_t a, uint32_t b, float *c0, float *c1) {
	double u1 = __dmul_rn((double)((a >> 8) + 1), 1.0 / 16777216.0);
	double u2 = __dmul_rn((double)(b >> 8), 1.0 / 16777216.0);
	double r = __dsqrt_rn(__dmul_rn(-2.0, philox_ln01(u1)));
	double s, c;
	philox_sincos2pi(u2, &s, &c);
	*c0 = __double2float_rn(__dmul_rn(r, c));
	*c1 = __double2float_rn(__dmul_rn(r, s));
}

// philox_normal32 is philox.Normal32: variate n of stream, standard normal.
__device__ __forceinline__ float philox_normal32(uint64_t key, uint64_t stream, uint64_t n) {
	uint32_t w[4];
	philox_block(key, stream, n / 4, w);
	float c, s;
	if ((n & 2) == 0) {
		philox_box_muller(w[0], w[1], &c, &s);
	} else {
		philox_box_muller(w[2], w[3], &c, &s);
	}
	return (n & 1) == 0 ? c : s;
}
