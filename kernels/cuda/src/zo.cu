// zo.cu: the kernels of the zo hot loop, batched over seeds. One iteration
// of a group of S seeds (see package algo/zo) is, on the device:
//
//   zo_channel_ar1 / zo_channel_rayleigh   2B channel samples per seed
//   zo_observe                             the K-tap observation recursion
//   zo_perturb                             u_k(t) into ring slot t mod slots
//   zo_forward_wXX (twice)                 base and perturbed policy passes
//   zo_rates (twice)                       batch-mean link rates
//   zo_slopes                              slopes, sum-rate into the trace
//   zo_relay + zo_relay_coef |             the scheduler: update
//   zo_delay_coef | zo_global_coef         coefficients by message age
//   zo_update                              theta += sum_j coef_j u(j)
//
// Layouts are those of package kernels (seeds outermost, flat arrays with
// explicit seed strides). Randomness is package philox's, bit for bit
// (philox.cuh). Where the Go code rounds every float operation explicitly
// (the channel, the observation, the slopes, the scheduler's sums, the
// update), these kernels use the explicitly rounded intrinsics, so they give
// the CPU's numbers bit for bit; the forward pass (fused multiply-adds) and
// the rates (the device's log2) agree to float tolerance.
//
// Regenerate the PTX with `go generate ./kernels/cuda` (needs nvcc).

#include "philox.cuh"

typedef unsigned char uchar;

// global_index is the thread's index in a one-dimensional grid.
__device__ __forceinline__ long long global_index() {
	return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

// zo_channel_ar1 advances the AR(1) fading of every seed by nsamples
// samples (channel.AR1): thread (s, e) owns entry e < nn of seed s,
//
//   F_0 = W_0,  F_n = a F_{n-1} + b W_n,  H_n = |F_n PL|, zeroed <= threshold,
//
// W_n = Normal32(keys[s], stream, n*nn + e), n = first + q, written to
// h[s*hSeed + q*nn + e]. f holds F per (s, e).
extern "C" __global__ void zo_channel_ar1(const uint64_t *__restrict__ keys, uint64_t stream,
                                          const float *__restrict__ pl, float *__restrict__ f,
                                          float *__restrict__ h, long long hSeed, int S, int nn,
                                          int nsamples, long long first, float a, float b, float threshold) {
	long long i = global_index();
	if (i >= (long long)S * nn) {
		return;
	}
	int s = (int)(i / nn), e = (int)(i % nn);
	uint64_t key = keys[s];
	float fv = f[i], plv = pl[i];
	uint32_t tb = __float_as_uint(threshold);
	float *out = h + s * hSeed + e;
	for (int q = 0; q < nsamples; q++) {
		uint64_t n = (uint64_t)(first + q);
		float w = philox_normal32(key, stream, n * (uint64_t)nn + (uint64_t)e);
		fv = (n == 0) ? w : __fadd_rn(__fmul_rn(a, fv), __fmul_rn(b, w));
		uint32_t v = __float_as_uint(__fmul_rn(fv, plv)) & 0x7fffffffu;
		out[(long long)q * nn] = __uint_as_float(v > tb ? v : 0u);
	}
	f[i] = fv;
}

// zo_channel_rayleigh draws nsamples i.i.d. Rayleigh samples per seed
// (channel.Rayleigh): |h_e| with real and imaginary parts the normals
// 2(n*nn + e) and 2(n*nn + e) + 1 of the stream, over sqrt(2).
extern "C" __global__ void zo_channel_rayleigh(const uint64_t *__restrict__ keys, uint64_t stream,
                                               float *__restrict__ h, long long hSeed, int S, int nn,
                                               int nsamples, long long first) {
	long long i = global_index();
	if (i >= (long long)S * nn) {
		return;
	}
	int s = (int)(i / nn), e = (int)(i % nn);
	uint64_t key = keys[s];
	float *out = h + s * hSeed + e;
	for (int q = 0; q < nsamples; q++) {
		uint64_t n = 2 * ((uint64_t)(first + q) * (uint64_t)nn + (uint64_t)e);
		float re = philox_normal32(key, stream, n), im = philox_normal32(key, stream, n + 1);
		float sq = __fadd_rn(__fmul_rn(re, re), __fmul_rn(im, im));
		out[(long long)q * nn] = __double2float_rn(__dsqrt_rn(__dmul_rn(0.5, (double)sq)));
	}
}

// zo_observe runs the observation recursion (channel.Observer) over
// nsamples consecutive samples of every seed: one block per seed, its
// threads striding over the links,
//
//   v_0(q)[i] = sum_j H_q[i][j],  v_c(q)[i] = sum_j H_q[i][j] v_{c-1}(q-1)[j],
//
// sums in the order of j, skipping zero gains, each product and sum rounded
// as the Go code does. prev holds v(q-1) per seed ([S][N][K]).
extern "C" __global__ void zo_observe(const float *__restrict__ h, long long hSeed, float *__restrict__ x,
                                      long long xSeed, float *__restrict__ prev, int N, int K, int nsamples) {
	int s = blockIdx.x;
	long long nn = (long long)N * N;
	float *pv = prev + (long long)s * N * K;
	for (int q = 0; q < nsamples; q++) {
		const float *hq = h + s * hSeed + q * nn;
		float *xq = x + s * xSeed + (long long)q * N * K;
		for (int i = threadIdx.x; i < N; i += blockDim.x) {
			const float *row = hq + (long long)i * N;
			float sum = 0;
			for (int j = 0; j < N; j++) {
				float a = row[j];
				if (a != 0) {
					sum = __fadd_rn(sum, a);
				}
			}
			xq[(long long)i * K] = sum;
			for (int c = 1; c < K; c++) {
				float acc = 0;
				for (int j = 0; j < N; j++) {
					float a = row[j];
					if (a != 0) {
						acc = __fadd_rn(acc, __fmul_rn(a, pv[(long long)j * K + c - 1]));
					}
				}
				xq[(long long)i * K + c] = acc;
			}
		}
		__syncthreads();
		for (int i = threadIdx.x; i < N; i += blockDim.x) {
			for (int c = 0; c < K; c++) {
				pv[(long long)i * K + c] = xq[(long long)i * K + c];
			}
		}
		__syncthreads();
	}
}

// zo_perturb draws the perturbation directions of iteration t into ring
// slot `slot`: thread (s, a, q) writes the normals 4q..4q+3 of agent a,
// Normal32(keys[s], stream | a<<32, p) for p < P, or zeros where agent a
// does not explore. In async mode (explore != 0) agent a explores when
// Float64(keys[s], exploreStream, a) < upP; thread q = 0 records the choice
// in explored[(s*A + a)*slots + slot].
extern "C" __global__ void zo_perturb(const uint64_t *__restrict__ keys, uint64_t stream, float *__restrict__ ring,
                                      uchar *__restrict__ explored, int S, int A, int P, int slots, int slot,
                                      int explore, uint64_t exploreStream, double upP) {
	int quads = (P + 3) / 4;
	long long i = global_index();
	if (i >= (long long)S * A * quads) {
		return;
	}
	int q = (int)(i % quads);
	int a = (int)((i / quads) % A);
	int s = (int)(i / ((long long)quads * A));
	uint64_t key = keys[s];
	bool e = true;
	if (explore) {
		e = philox_float64(key, exploreStream, (uint64_t)a) < upP;
	}
	long long sa = (long long)s * A + a;
	if (q == 0) {
		explored[sa * slots + slot] = e ? 1 : 0;
	}
	float *dst = ring + (sa * slots + slot) * P;
	float v[4] = {0, 0, 0, 0};
	if (e) {
		uint32_t w[4];
		philox_block(key, stream | ((uint64_t)(a & 0xffffff) << 32), (uint64_t)q, w);
		philox_box_muller(w[0], w[1], &v[0], &v[1]);
		philox_box_muller(w[2], w[3], &v[2], &v[3]);
	}
	for (int l = 0; l < 4 && 4 * q + l < P; l++) {
		dst[4 * q + l] = v[l];
	}
}

// forward is the batched policy forward pass (kernels.Forward) with
// activations of at most W values: thread (s, k, b) evaluates agent k's
// MLP, parameters theta + mu*u (u null: theta), on its observation of
// sample b, layer after layer (ReLU hidden layers, fused multiply-adds),
// and writes Pmax * sigmoid(z), the sigmoid in double.
template <int W>
__device__ __forceinline__ void forward(const float *__restrict__ theta, long long thSeed, long long thAgent,
                                        const float *__restrict__ u, long long uSeed, long long uAgent, float mu,
                                        const float *__restrict__ x, long long xSeed, float *__restrict__ power,
                                        long long pSeed, int S, int N, int B, int in, const int *__restrict__ hidden,
                                        int layers, float pmax) {
	long long i = global_index();
	if (i >= (long long)S * N * B) {
		return;
	}
	int b = (int)(i % B);
	int k = (int)((i / B) % N);
	int s = (int)(i / ((long long)B * N));
	const float *th = theta + s * thSeed + k * thAgent;
	const float *uu = u ? u + s * uSeed + k * uAgent : 0;
	float act[2][W];
	const float *obs = x + s * xSeed + ((long long)b * N + k) * in;
	for (int j = 0; j < in; j++) {
		act[0][j] = obs[j];
	}
	int cur = 0, off = 0;
	for (int l = 0; l < layers; l++) {
		int out = hidden[l];
		for (int o = 0; o < out; o++) {
			long long wo = off + (long long)o * in, bo = off + (long long)out * in + o;
			float bias = uu ? __fadd_rn(th[bo], __fmul_rn(mu, uu[bo])) : th[bo];
			float acc = bias;
			for (int j = 0; j < in; j++) {
				float w = uu ? __fadd_rn(th[wo + j], __fmul_rn(mu, uu[wo + j])) : th[wo + j];
				acc = fmaf(w, act[cur][j], acc);
			}
			act[1 - cur][o] = (acc != acc) ? acc : (acc > 0.0f ? acc : 0.0f);
		}
		off += out * in + out;
		in = out;
		cur = 1 - cur;
	}
	float z = uu ? __fadd_rn(th[off + in], __fmul_rn(mu, uu[off + in])) : th[off + in];
	float dot = 0;
	for (int j = 0; j < in; j++) {
		float w = uu ? __fadd_rn(th[off + j], __fmul_rn(mu, uu[off + j])) : th[off + j];
		dot = fmaf(w, act[cur][j], dot);
	}
	z = __fadd_rn(z, dot);
	float sig = __double2float_rn(1.0 / (1.0 + exp(-(double)z)));
	power[s * pSeed + (long long)b * N + k] = __fmul_rn(pmax, sig);
}

#define ZO_FORWARD(W)                                                                                             \
	extern "C" __global__ void zo_forward_w##W(                                                                   \
	    const float *__restrict__ theta, long long thSeed, long long thAgent, const float *__restrict__ u,          \
	    long long uSeed, long long uAgent, float mu, const float *__restrict__ x, long long xSeed,                \
	    float *__restrict__ power, long long pSeed, int S, int N, int B, int in, const int *__restrict__ hidden,   \
	    int layers, float pmax) {                                                                                 \
		forward<W>(theta, thSeed, thAgent, u, uSeed, uAgent, mu, x, xSeed, power, pSeed, S, N, B, in, hidden,     \
		           layers, pmax);                                                                                 \
	}

ZO_FORWARD(32)
ZO_FORWARD(64)
ZO_FORWARD(128)
ZO_FORWARD(256)

// zo_rates is kernels.Rates: thread (s, i) computes the batch-mean rate of
// link i, (1/B) sum_b log2(1 + H_ii^2 p_i / (sigma2 + sum_{j != i} H_ij^2 p_j)),
// in double, the interference summed in the order of j.
extern "C" __global__ void zo_rates(const float *__restrict__ h, long long hSeed, const float *__restrict__ power,
                                    long long pSeed, double sigma2, double *__restrict__ mean, int S, int N, int B) {
	long long t = global_index();
	if (t >= (long long)S * N) {
		return;
	}
	int s = (int)(t / N), i = (int)(t % N);
	double sum = 0;
	for (int b = 0; b < B; b++) {
		const float *row = h + s * hSeed + (long long)b * N * N + (long long)i * N;
		const float *p = power + s * pSeed + (long long)b * N;
		double interference = sigma2;
		for (int j = 0; j < N; j++) {
			if (j != i) {
				double a = row[j];
				interference = __dadd_rn(interference, __dmul_rn(__dmul_rn(a, a), (double)p[j]));
			}
		}
		double d = row[i];
		sum = __dadd_rn(sum, log2(1.0 + __dmul_rn(d, d) * (double)p[i] / interference));
	}
	mean[t] = __dmul_rn(sum, 1.0 / (double)B);
}

// zo_slopes is thread s: s_i = (pert_i - base_i) / mu for every link, the
// sum-rate sum_i base_i (in the order of i) into trace[s*traceSeed + col],
// and, with hist (fixed delays), s_i into hist[(s*depth + t % depth)*N + i].
extern "C" __global__ void zo_slopes(const double *__restrict__ base, const double *__restrict__ pert,
                                     double *__restrict__ slopes, double invMu, double *__restrict__ trace,
                                     long long traceSeed, int col, double *__restrict__ hist, int depth, int t, int S,
                                     int N) {
	long long s = global_index();
	if (s >= S) {
		return;
	}
	double sum = 0;
	for (int i = 0; i < N; i++) {
		double b = base[s * N + i];
		sum = __dadd_rn(sum, b);
		if (pert) {
			double sl = __dmul_rn(__dsub_rn(pert[s * N + i], b), invMu);
			slopes[s * N + i] = sl;
			if (hist) {
				hist[(s * depth + t % depth) * N + i] = sl;
			}
		}
	}
	trace[s * traceSeed + col] = sum;
}

// zo_relay is one iteration of the async mode's message passing
// (algo/zo relay): thread (s, k, p) owns agent k's pair for agent p,
//
//  1. agent k writes its own pair (t, s_k(t)) (p = k);
//  2. the pair as it is now is kept (keepTs, keep): the message of t+1;
//  3. over every incoming link that succeeds (Float64(keys[s], linkStream,
//     edge) < success), the pair the neighbour kept at t-1 (sendTs, send)
//     replaces it when its timestamp is newer.
//
// A pair (p, ts) always carries s_p(ts), so the order of the incoming
// links does not matter. Incoming links of k: inFrom[inStart[k]..inStart[k+1]),
// the links numbered receiver by receiver, so a link's number is its position.
extern "C" __global__ void zo_relay(int t, const double *__restrict__ slopes, int *__restrict__ ts,
                                    double *__restrict__ val, const int *__restrict__ sendTs,
                                    const double *__restrict__ send, int *__restrict__ keepTs,
                                    double *__restrict__ keep, const int *__restrict__ inStart,
                                    const int *__restrict__ inFrom, const uint64_t *__restrict__ keys,
                                    uint64_t linkStream, double success, int S, int N) {
	long long idx = global_index();
	if (idx >= (long long)S * N * N) {
		return;
	}
	int p = (int)(idx % N);
	int k = (int)((idx / N) % N);
	long long s = idx / ((long long)N * N);
	int cts = ts[idx];
	double cv = val[idx];
	if (p == k) {
		cts = t;
		cv = slopes[s * N + k];
	}
	keepTs[idx] = cts;
	keep[idx] = cv;
	for (int e = inStart[k]; e < inStart[k + 1]; e++) {
		if (success < 1 && philox_float64(keys[s], linkStream, (uint64_t)e) >= success) {
			continue;
		}
		long long src = (s * N + inFrom[e]) * N + p;
		if (sendTs[src] > cts) {
			cts = sendTs[src];
			cv = send[src];
		}
	}
	ts[idx] = cts;
	val[idx] = cv;
}

// finish_coef turns the double coefficients of one agent into the update's:
// coef[j] = alpha * c[j] in float, 0 where ring slot j holds no direction.
__device__ __forceinline__ void finish_coef(const double *c, float *coef, const uchar *explored, double alpha,
                                            int slots) {
	for (int j = 0; j < slots; j++) {
		coef[j] = explored[j] ? __double2float_rn(__dmul_rn(alpha, c[j])) : 0.0f;
	}
}

// zo_relay_coef is thread (s, k): c_k(slot) = sum of the slopes agent k
// holds whose age t - ts is below slots, at slot ts mod slots, summed in the
// order of p; then finish_coef.
extern "C" __global__ void zo_relay_coef(int t, const int *__restrict__ ts, const double *__restrict__ val,
                                         double *__restrict__ coef64, float *__restrict__ coef,
                                         const uchar *__restrict__ explored, double alpha, int S, int N, int slots) {
	long long sk = global_index();
	if (sk >= (long long)S * N) {
		return;
	}
	double *c = coef64 + sk * slots;
	for (int j = 0; j < slots; j++) {
		c[j] = 0;
	}
	for (int p = 0; p < N; p++) {
		int v = ts[sk * N + p];
		if (v < 0 || t - v >= slots) {
			continue;
		}
		c[v % slots] = __dadd_rn(c[v % slots], val[sk * N + p]);
	}
	finish_coef(c, coef + sk * slots, explored + sk * slots, alpha, slots);
}

// zo_delay_coef is the fixed-delay mode, thread (s, k): agent k pairs
// s_p(t - d_kp) with its own u_k(t - d_kp); terms not yet existing
// (t < d_kp) or too old (d_kp >= slots) are left out. hist holds the
// slopes of the last depth iterations.
extern "C" __global__ void zo_delay_coef(int t, const int *__restrict__ d, const double *__restrict__ hist, int depth,
                                         double *__restrict__ coef64, float *__restrict__ coef,
                                         const uchar *__restrict__ explored, double alpha, int S, int N, int slots) {
	long long sk = global_index();
	if (sk >= (long long)S * N) {
		return;
	}
	long long s = sk / N;
	double *c = coef64 + sk * slots;
	for (int j = 0; j < slots; j++) {
		c[j] = 0;
	}
	for (int p = 0; p < N; p++) {
		int dd = d[sk * N + p];
		int tau = t - dd;
		if (tau < 0 || dd >= slots) {
			continue;
		}
		c[tau % slots] = __dadd_rn(c[tau % slots], hist[(s * depth + tau % depth) * N + p]);
	}
	finish_coef(c, coef + sk * slots, explored + sk * slots, alpha, slots);
}

// zo_global_coef is sync and central-zo, thread s: every agent (A of them,
// one ring slot each) steps along its current direction with the global
// slope sum_p s_p(t), summed in the order of p.
extern "C" __global__ void zo_global_coef(const double *__restrict__ slopes, float *__restrict__ coef,
                                          const uchar *__restrict__ explored, double alpha, int S, int N, int A) {
	long long s = global_index();
	if (s >= S) {
		return;
	}
	double sum = 0;
	for (int p = 0; p < N; p++) {
		sum = __dadd_rn(sum, slopes[s * N + p]);
	}
	for (int a = 0; a < A; a++) {
		finish_coef(&sum, coef + s * A + a, explored + s * A + a, alpha, 1);
	}
}

// zo_update is kernels.Update: thread (s, a, p) adds coef_j * u(j)_p over
// the ring slots j in order, skipping zero coefficients, each product and
// sum rounded (the CPU's update, bit for bit).
extern "C" __global__ void zo_update(float *__restrict__ theta, const float *__restrict__ ring,
                                     const float *__restrict__ coef, int S, int A, int P, int slots) {
	long long i = global_index();
	if (i >= (long long)S * A * P) {
		return;
	}
	int p = (int)(i % P);
	long long sa = i / P;
	const float *c = coef + sa * slots;
	const float *u = ring + sa * slots * P + p;
	float th = theta[i];
	for (int j = 0; j < slots; j++) {
		float cj = c[j];
		if (cj != 0) {
			th = __fadd_rn(th, __fmul_rn(cj, u[(long long)j * P]));
		}
	}
	theta[i] = th;
}
