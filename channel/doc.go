// Package channel models the wireless interference channels of the zo
// experiments: link geometry and path loss, fading processes that produce one
// channel sample after another, the aggregation-GNN observation each link
// derives from them, and link rates. Its float64 functions are the reference
// the batched kernels are tested against.
//
// # Geometry and path loss
//
// N links, link i from transmitter i to receiver i. Transmitter i is uniform
// in [-L, L]^2 and receiver i = transmitter i + a uniform offset in [-l, l]^2,
// drawn once per seed. The paper's geometry takes L = N, l = N/4; the density
// geometry takes L = 24 sqrt(N/24), l = 6, so that links keep the density and
// the lengths of N = 24 as N grows. d[r][j] is the distance from transmitter
// j to receiver r and the amplitude path loss is PL[r][j] = d[r][j]^(-2.2).
//
// # Fading
//
// AR1 is a real Gaussian AR(1) process per entry, continued over all samples
// of a seed-run (one long time series):
//
//	F_0 ~ N(0, 1),  F_s = sqrt(1-c) F_{s-1} + sqrt(c) W_s,  W_s ~ N(0, 1)
//
// so that every F_s is standard normal and corr(F_s, F_{s-1}) = sqrt(1-c).
// Sample s is H_s = |F_s * PL| (elementwise), with entries <= the threshold
// (0.01) set to 0; the thresholded channel is used everywhere after that.
//
// Rayleigh is the i.i.d. Gaussian interference channel of Sun et al. 2018
// ("Learning to optimize"): h_ij ~ CN(0, 1) independently per sample, no path
// loss and no threshold, used with sigma2 = 1 and Pmax = 1.
//
// # Observation
//
// Observer holds the state of the K-tap aggregation that each agent sees:
//
//	v_0(t) = H_t 1,   v_c(t) = H_t v_{c-1}(t-1),   c = 1..K-1
//
// with v_c(-1) = 0, so that agent i's input at sample t is row i of
// [H_t 1, H_t H_{t-1} 1, ..., H_t ... H_{t-K+1} 1], computed with K
// matrix-vector products per sample (O(K N^2)), never matrix products.
//
// # Randomness
//
// Every draw is a pure function of (key, stream, index) through package
// philox; the index layouts are documented on each generator.
package channel
