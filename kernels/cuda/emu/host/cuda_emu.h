// cuda_emu.h: CUDA C on the host, for the emulator of package
// kernels/cuda/emu. A translation unit that includes this header and then a
// .cu file compiles the .cu file's kernels as plain C++ functions; the
// harness (harness.cpp) runs them, one block after another and one thread at
// a time, setting threadIdx, blockIdx, blockDim and gridDim before each.
//
// What maps to what:
//   - __global__, __device__, __host__, __constant__: nothing;
//     __forceinline__: always_inline; __noinline__: noinline;
//     __launch_bounds__(...): nothing; __restrict__ is GNU C++ already.
//   - __shared__: static. Blocks run one after another, so one static copy
//     serves every block; unlike the device it keeps its contents from one
//     block (and launch) to the next. Dynamic shared memory (extern
//     __shared__) is not supported.
//   - __syncthreads(): a switch back to the harness's scheduler, for kernels
//     flagged Barrier (run as coroutines); any other kernel that calls it
//     aborts the launch with an error.
//   - the intrinsics with a _rn suffix and sqrt: the correctly rounded C++
//     operations (the build has -ffp-contract=off, so a*b+c is never
//     fused); the math library functions (exp, log2, ...): the C++
//     library's, which may differ from CUDA's in the last place.
//   - atomics: plain read-modify-write operations (no two threads ever run
//     at the same time).
//
// No warp-level operations (__shfl_*, __ballot_sync, ...) are provided.
#pragma once

#include <bit>
#include <cassert>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <math.h>
#include <stdint.h>
#include <tuple>
#include <type_traits>
#include <utility>

#define BATCHRUN_CUDA_EMU 1

#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static

struct uint3 {
	unsigned int x, y, z;
};

struct dim3 {
	unsigned int x, y, z;
	constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
	constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
	constexpr operator uint3() const { return uint3{x, y, z}; }
};

// emu_rt is the interface between the kernels' translation unit and the
// harness.
namespace emu_rt {

// The indices of the running thread, set by the harness.
extern uint3 thread_idx, block_idx;
extern dim3 block_dim, grid_dim;

// syncthreads is __syncthreads: it returns when every thread of the block
// has reached it (or ended), or aborts the launch when the kernel runs
// without barriers.
void syncthreads();

// trap aborts the launch with an error naming the kernel.
[[noreturn]] void trap();

// Invoker calls the kernel of a launch, its arguments bound, for the
// current thread.
struct Invoker {
	void *ctx;
	void (*call)(void *ctx);
};

// run_grid runs every thread of the launch's grid (set by the harness
// before the launcher is called) with inv.
void run_grid(const Invoker &inv);

// Launcher is a kernel with the function that unpacks its argument slots.
struct Launcher {
	void (*fn)();
	void (*run)(void (*fn)(), const uint64_t *slots);
	int arity;
};

// KernelEntry is a row of the kernel table of the generated translation
// unit.
struct KernelEntry {
	const char *name;
	Launcher launcher;
	bool barrier;
};

// unpack reads a parameter of type T from the low bytes of its slot.
template <class T> inline T unpack(uint64_t slot) {
	static_assert(std::is_trivially_copyable_v<T>, "kernel parameters must be trivially copyable");
	static_assert(sizeof(T) <= sizeof(uint64_t), "kernel parameters must fit a 64-bit slot");
	T v;
	std::memcpy(&v, &slot, sizeof(T));
	return v;
}

template <class... A, std::size_t... I>
inline void run_kernel(void (*fn)(), const uint64_t *slots, std::index_sequence<I...>) {
	using Args = std::tuple<std::remove_cvref_t<A>...>;
	struct Ctx {
		void (*k)(A...);
		Args args;
	};
	Ctx c{reinterpret_cast<void (*)(A...)>(fn), Args{unpack<std::remove_cvref_t<A>>(slots[I])...}};
	run_grid(Invoker{&c, [](void *p) {
				 Ctx *c = static_cast<Ctx *>(p);
				 std::apply(c->k, c->args);
			 }});
}

template <class... A> inline void run_kernel(void (*fn)(), const uint64_t *slots) {
	run_kernel<A...>(fn, slots, std::index_sequence_for<A...>{});
}

// launcher returns the Launcher of kernel k, its parameter types deduced.
template <class... A> inline Launcher launcher(void (*k)(A...)) {
	return Launcher{reinterpret_cast<void (*)()>(k), &run_kernel<A...>, int(sizeof...(A))};
}

} // namespace emu_rt

inline const uint3 &threadIdx = emu_rt::thread_idx;
inline const uint3 &blockIdx = emu_rt::block_idx;
inline const dim3 &blockDim = emu_rt::block_dim;
inline const dim3 &gridDim = emu_rt::grid_dim;
constexpr int warpSize = 32;

inline void __syncthreads() { emu_rt::syncthreads(); }
[[noreturn]] inline void __trap() { emu_rt::trap(); }
inline void __threadfence() {}
inline void __threadfence_block() {}
inline void __threadfence_system() {}

// Correctly rounded arithmetic.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __drcp_rn(double a) { return 1.0 / a; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }

// Conversions (correctly rounded, to nearest even).
inline float __double2float_rn(double a) { return static_cast<float>(a); }
inline double __int2double_rn(int a) { return static_cast<double>(a); }
inline double __uint2double_rn(unsigned int a) { return static_cast<double>(a); }
inline double __ll2double_rn(long long a) { return static_cast<double>(a); }
inline double __ull2double_rn(unsigned long long a) { return static_cast<double>(a); }
inline float __int2float_rn(int a) { return static_cast<float>(a); }
inline float __uint2float_rn(unsigned int a) { return static_cast<float>(a); }
inline float __ll2float_rn(long long a) { return static_cast<float>(a); }
inline float __ull2float_rn(unsigned long long a) { return static_cast<float>(a); }

// Reinterpretations.
inline unsigned int __float_as_uint(float a) { return std::bit_cast<unsigned int>(a); }
inline float __uint_as_float(unsigned int a) { return std::bit_cast<float>(a); }
inline int __float_as_int(float a) { return std::bit_cast<int>(a); }
inline float __int_as_float(int a) { return std::bit_cast<float>(a); }
inline long long __double_as_longlong(double a) { return std::bit_cast<long long>(a); }
inline double __longlong_as_double(long long a) { return std::bit_cast<double>(a); }
inline int __double2hiint(double a) { return static_cast<int>(std::bit_cast<unsigned long long>(a) >> 32); }
inline int __double2loint(double a) { return static_cast<int>(std::bit_cast<unsigned long long>(a)); }
inline double __hiloint2double(int hi, int lo) {
	return std::bit_cast<double>((static_cast<unsigned long long>(static_cast<unsigned int>(hi)) << 32) |
	                             static_cast<unsigned int>(lo));
}

// Integer intrinsics.
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
	return static_cast<unsigned int>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline int __mulhi(int a, int b) { return static_cast<int>((static_cast<long long>(a) * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
	return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline long long __mul64hi(long long a, long long b) {
	return static_cast<long long>((static_cast<__int128>(a) * b) >> 64);
}
inline int __popc(unsigned int a) { return std::popcount(a); }
inline int __popcll(unsigned long long a) { return std::popcount(a); }
inline int __clz(int a) { return std::countl_zero(static_cast<unsigned int>(a)); }
inline int __clzll(long long a) { return std::countl_zero(static_cast<unsigned long long>(a)); }
inline int __ffs(int a) { return __builtin_ffs(a); }
inline int __ffsll(long long a) { return __builtin_ffsll(a); }
inline unsigned int __brev(unsigned int a) {
	unsigned int r = 0;
	for (int i = 0; i < 32; i++, a >>= 1) {
		r = (r << 1) | (a & 1u);
	}
	return r;
}
inline unsigned long long __brevll(unsigned long long a) {
	unsigned long long r = 0;
	for (int i = 0; i < 64; i++, a >>= 1) {
		r = (r << 1) | (a & 1ull);
	}
	return r;
}

// min and max with CUDA's overloads: mixed signed and unsigned operands
// compare as unsigned; floating-point ones are fmin and fmax.
#define EMU_MINMAX(R, A, B)                                                                                         \
	inline R min(A a, B b) { return static_cast<R>(a) < static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); } \
	inline R max(A a, B b) { return static_cast<R>(a) > static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); }
EMU_MINMAX(int, int, int)
EMU_MINMAX(unsigned int, unsigned int, unsigned int)
EMU_MINMAX(unsigned int, int, unsigned int)
EMU_MINMAX(unsigned int, unsigned int, int)
EMU_MINMAX(long, long, long)
EMU_MINMAX(unsigned long, unsigned long, unsigned long)
EMU_MINMAX(unsigned long, long, unsigned long)
EMU_MINMAX(unsigned long, unsigned long, long)
EMU_MINMAX(long long, long long, long long)
EMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
EMU_MINMAX(unsigned long long, long long, unsigned long long)
EMU_MINMAX(unsigned long long, unsigned long long, long long)
#undef EMU_MINMAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline double min(float a, double b) { return std::fmin(static_cast<double>(a), b); }
inline double max(float a, double b) { return std::fmax(static_cast<double>(a), b); }
inline double min(double a, float b) { return std::fmin(a, static_cast<double>(b)); }
inline double max(double a, float b) { return std::fmax(a, static_cast<double>(b)); }

// Atomics: threads never run at the same time, so these are plain
// read-modify-writes that return the old value.
#define EMU_ATOMIC(NAME, T, EXPR)                                                                                   \
	inline T NAME(T *p, T v) {                                                                                      \
		T old = *p;                                                                                                 \
		*p = (EXPR);                                                                                                \
		return old;                                                                                                 \
	}
EMU_ATOMIC(atomicAdd, int, old + v)
EMU_ATOMIC(atomicAdd, unsigned int, old + v)
EMU_ATOMIC(atomicAdd, unsigned long long, old + v)
EMU_ATOMIC(atomicAdd, float, old + v)
EMU_ATOMIC(atomicAdd, double, old + v)
EMU_ATOMIC(atomicSub, int, old - v)
EMU_ATOMIC(atomicSub, unsigned int, old - v)
EMU_ATOMIC(atomicExch, int, v)
EMU_ATOMIC(atomicExch, unsigned int, v)
EMU_ATOMIC(atomicExch, unsigned long long, v)
EMU_ATOMIC(atomicExch, float, v)
EMU_ATOMIC(atomicMin, int, v < old ? v : old)
EMU_ATOMIC(atomicMin, unsigned int, v < old ? v : old)
EMU_ATOMIC(atomicMin, long long, v < old ? v : old)
EMU_ATOMIC(atomicMin, unsigned long long, v < old ? v : old)
EMU_ATOMIC(atomicMax, int, v > old ? v : old)
EMU_ATOMIC(atomicMax, unsigned int, v > old ? v : old)
EMU_ATOMIC(atomicMax, long long, v > old ? v : old)
EMU_ATOMIC(atomicMax, unsigned long long, v > old ? v : old)
EMU_ATOMIC(atomicAnd, int, old & v)
EMU_ATOMIC(atomicAnd, unsigned int, old & v)
EMU_ATOMIC(atomicAnd, unsigned long long, old & v)
EMU_ATOMIC(atomicOr, int, old | v)
EMU_ATOMIC(atomicOr, unsigned int, old | v)
EMU_ATOMIC(atomicOr, unsigned long long, old | v)
EMU_ATOMIC(atomicXor, int, old ^ v)
EMU_ATOMIC(atomicXor, unsigned int, old ^ v)
EMU_ATOMIC(atomicXor, unsigned long long, old ^ v)
EMU_ATOMIC(atomicInc, unsigned int, old >= v ? 0u : old + 1u)
EMU_ATOMIC(atomicDec, unsigned int, (old == 0u || old > v) ? v : old - 1u)
#undef EMU_ATOMIC
#define EMU_ATOMIC_CAS(T)                                                                                           \
	inline T atomicCAS(T *p, T compare, T v) {                                                                      \
		T old = *p;                                                                                                 \
		if (old == compare) {                                                                                       \
			*p = v;                                                                                                 \
		}                                                                                                           \
		return old;                                                                                                 \
	}
EMU_ATOMIC_CAS(int)
EMU_ATOMIC_CAS(unsigned int)
EMU_ATOMIC_CAS(unsigned long long)
#undef EMU_ATOMIC_CAS
