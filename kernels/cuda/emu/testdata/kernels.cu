// Kernels of the emulator's tests.
#include "scale.cuh"

// axpy: y[i] = a*x[i] + y[i] for i < n.
extern "C" __global__ void axpy(int n, float a, const float *__restrict__ x, float *__restrict__ y) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		y[i] = __fadd_rn(__fmul_rn(a, x[i]), y[i]);
	}
}

// block_sum: out[b] = the sum of x over block b (a tree reduction in shared
// memory; blockDim.x a power of two at most 256).
extern "C" __global__ void block_sum(const double *__restrict__ x, long long n, double *__restrict__ out) {
	__shared__ double part[256];
	long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	part[threadIdx.x] = i < n ? x[i] : 0.0;
	__syncthreads();
	for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
		if (threadIdx.x < s) {
			part[threadIdx.x] += part[threadIdx.x + s];
		}
		__syncthreads();
	}
	if (threadIdx.x == 0) {
		out[blockIdx.x] = part[0];
	}
}

// index3: out[thread] = its (x, y, z) thread and block indices packed.
extern "C" __global__ void index3(unsigned *out) {
	unsigned b = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
	unsigned t = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
	unsigned per = blockDim.x * blockDim.y * blockDim.z;
	out[b * per + t] = scale_index(threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x, blockIdx.y, blockIdx.z);
}

// trap_at traps in thread i.
extern "C" __global__ void trap_at(int i) {
	if ((int)(blockIdx.x * blockDim.x + threadIdx.x) == i) {
		__trap();
	}
}

// crash writes through p (pass a bad address).
extern "C" __global__ void crash(int *p) {
	if (threadIdx.x == 3) {
		*p = 1;
	}
}

// barrier_unflagged calls __syncthreads but is registered without Barrier.
extern "C" __global__ void barrier_unflagged() { __syncthreads(); }

// past_end writes p[n], one past an allocation of n ints.
extern "C" __global__ void past_end(int *p, int n) { p[n] = 1; }
