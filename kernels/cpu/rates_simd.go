package cpu

import "github.com/batchrun/batchrun/kernels"

// SIMD link rates.
//
// RatesAVX512, RatesAVX2 and their Go twin ratesTwin compute what
// Backend.Rates computes (see kernels.Rates), per seed s, sample b and link
// i:
//
//	g_ij  = float32(float32(H_ij^2) * p_j)          (the gains, in float32)
//	I_i   = (sum_{j != i} g_ij) + float32(Sigma2)   (float32, see below)
//	SINR  = g_ii / I_i
//	MeanRate[s*N+i] = (1/B) sum_b float64(log2p1f32(SINR))   (float64)
//
// The interference sums the off-diagonal gains only (the diagonal lane is
// masked out), never total minus own gain, so it has no cancellation: all
// terms are >= 0. The sum runs in 16 lanes, lane j%16 accumulating in
// increasing j, then the lanes are added in the tree 16 -> 8 -> 4 -> 2 -> 1
// (lane k + lane k+8, k + k+4, k + k+2, 0 + 1). The AVX2 kernel keeps two
// 8-lane accumulators to follow the same order, so RatesAVX512, RatesAVX2
// and ratesTwin return the same bits, on every CPU, and every seed's result
// is independent of the other seeds in the call.
//
// Deviation from the float64 Backend.Rates. With u = 2^-24: each gain
// carries two float32 roundings (2u), a lane sum of positive terms at most
// ceil(N/16)-1 more, the tree 4, the addition of Sigma2 one and the
// rounding of Sigma2 to float32 one, the signal two and the division one,
// so the SINR is within (10 + ceil(N/16)) u relative of the exact one; as
// d log2(1+x) / log2(1+x) <= dx/x, and log2p1f32 adds at most 1.8e-7
// relative (mathvec.go), every rate, and so every MeanRate (a mean of
// positive rates), is within
//
//	(10 + ceil(N/16)) * 2^-24 + 1.8e-7   relative
//
// of Backend.Rates: 8.4e-7 for N <= 16, 1.2e-6 for N <= 100, 1.7e-6 for
// N <= 256. This holds when the gains are normal float32 or zero
// (|H_ij| sqrt(p_j) >= 2^-63) and Sigma2 is a normal float32; NaN and Inf
// propagate as in the generic path. rates_simd_test.go checks the bound on
// random channels (N in {1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 100,
// 256, 257}, B in {1, 3, 10}, S in {1, 2}, amplitudes log-uniform in
// [1e-3, 1] (and 1e-6), powers in [0, 10], Sigma2 in {1e-9, ..., 10}) and
// measures at most 2.7e-7. Zero powers and zero channels give rate 0
// exactly, as in the generic path.

// RatesAVX512 computes batch-mean link rates (see kernels.Rates) with the
// AVX-512 kernel of rates_amd64.s, or with its Go twin on CPUs without
// AVX-512 (and on other architectures). Results are bit-identical to
// RatesAVX2 and within the bound above of Backend.Rates. It allocates
// nothing.
func RatesAVX512(r *kernels.Rates) { ratesWith(r, ratesSample512) }

// RatesAVX2 is RatesAVX512 with the AVX2+FMA kernel (same bits).
func RatesAVX2(r *kernels.Rates) { ratesWith(r, ratesSample256) }

// ratesTwin is the Go twin of RatesAVX512 and RatesAVX2 (same bits).
func ratesTwin(r *kernels.Rates) { ratesWith(r, ratesSampleGo) }

// ratesWith runs Rates with sample adding the rates of one sample of one
// seed to mean; the noise power is handed over in the sample's precision
// (float32 for the SIMD kernels and their twin, float64 for generic).
func ratesWith[T float32 | float64](r *kernels.Rates, sample func(h, p []float32, sigma2 T, mean []float64)) {
	n := r.N
	if n == 0 {
		return
	}
	inv := 1 / float64(r.B)
	sigma2 := T(r.Sigma2)
	for s := 0; s < r.S; s++ {
		mean := r.MeanRate[s*n : s*n+n]
		clear(mean)
		for b := 0; b < r.B; b++ {
			h := r.H[s*r.HSeedStride+b*n*n:][:n*n]
			p := r.Power[s*r.PowerSeedStride+b*n:][:n]
			sample(h, p, sigma2, mean)
		}
		for i := range mean {
			mean[i] *= inv
		}
	}
}

// ratesSampleGo adds the rates of one sample, log2(1 + SINR_i), to mean[i]
// for every link i < n = len(p), h being the n x n channel amplitudes (row
// i: receiver i). It is the twin of the ratesSample kernels.
func ratesSampleGo(h, p []float32, sigma2 float32, mean []float64) {
	n := len(p)
	h = h[:n*n]
	mean = mean[:n]
	for i := 0; i < n; i++ {
		row := h[i*n : i*n+n]
		var l [16]float32
		for j, a := range row {
			if j != i {
				l[j%16] += float32(float32(a*a) * p[j])
			}
		}
		for k := 0; k < 8; k++ {
			l[k] += l[k+8]
		}
		for k := 0; k < 4; k++ {
			l[k] += l[k+4]
		}
		l[0] += l[2]
		l[1] += l[3]
		interference := (l[0] + l[1]) + sigma2
		d := row[i]
		signal := float32(float32(d*d) * p[i])
		mean[i] += float64(log2p1f32(signal / interference))
	}
}

// mvISA is one instruction set's kernels of rates_amd64.s, wrapped with
// their bounds checks; tests and benchmarks run every set the CPU has.
type mvISA struct {
	name    string
	log2    func(dst, src []float32)
	log2p1  func(dst, src []float32)
	sigmoid func(dst, src []float32, scale float32)
	sample  func(h, p []float32, sigma2 float32, mean []float64)
	rates   func(r *kernels.Rates)
	axpy    func(y, x []float32, a float32)
	update  func(u *kernels.Update)
}
