package philox

import "github.com/klauspost/cpuid/v2"

//go:generate sh -c "cd ../asmgen && go run ./normals -out ../philox/normals_amd64.s -stubs ../philox/normals_stubs_amd64.go -pkg philox"

var (
	// AVX-512 kernel: F for the arithmetic, DQ for VCVTQQ2PD, VL for the
	// ymm shuffles that the assembler may encode with EVEX.
	hasAVX512 = cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512DQ, cpuid.AVX512VL)
	hasAVX2   = cpuid.CPU.Supports(cpuid.AVX, cpuid.AVX2)
)

// HasAVX512 reports whether FillNormal32AVX512 runs its AVX-512 kernel on
// this CPU (otherwise it falls back to FillNormal32).
func HasAVX512() bool { return hasAVX512 }

// HasAVX2 reports whether FillNormal32AVX2 runs its AVX2 kernel on this CPU
// (otherwise it falls back to FillNormal32).
func HasAVX2() bool { return hasAVX2 }

// FillNormal32AVX512 is FillNormal32 with an AVX-512 kernel: its output is
// bit-identical for every key, stream, first and length. It computes groups
// of 8 Philox blocks (32 normals) at a time. Without AVX-512 (F, DQ, VL) it
// is FillNormal32.
func FillNormal32AVX512(dst []float32, key, stream, first uint64) {
	if !hasAVX512 {
		FillNormal32(dst, key, stream, first)
		return
	}
	fillNormal32Kernel(dst, key, stream, first, true)
}

// FillNormal32AVX2 is FillNormal32 with an AVX2 kernel: its output is
// bit-identical for every key, stream, first and length. It computes groups
// of 4 Philox blocks (16 normals) at a time. Without AVX2 it is FillNormal32.
func FillNormal32AVX2(dst []float32, key, stream, first uint64) {
	if !hasAVX2 {
		FillNormal32(dst, key, stream, first)
		return
	}
	fillNormal32Kernel(dst, key, stream, first, false)
}

// fillNormal32Kernel fills dst with the AVX-512 or the AVX2 kernel, which
// write whole groups of 32 or 16 normals (8 or 4 Philox blocks) starting at
// a block boundary: the groups inside dst directly, the partial groups at
// either end through a buffer (even for one normal, a kernel call costs
// about as much as the scalar code).
// The kernels count blocks in 64-bit lanes, so a call must not cross the
// point where the normal index n wraps around 2^64 (block 2^62), which
// FillNormal32 follows as n/4 of the wrapped n: that rare case goes to the
// scalar code.
func fillNormal32Kernel(dst []float32, key, stream, n uint64, avx512 bool) {
	var buf [32]float32
	group := 16
	if avx512 {
		group = 32
	}
	gb := uint64(group / 4) // blocks per group
	for len(dst) > 0 {
		off := int(n % 4)
		b := n / 4
		lim := 1<<62 - b // blocks before n wraps to 0
		if lim < gb {
			m := len(dst)
			if w := 4*lim - uint64(off); uint64(m) > w {
				m = int(w)
			}
			FillNormal32(dst[:m], key, stream, n)
			dst, n = dst[m:], n+uint64(m)
			continue
		}
		if off != 0 || len(dst) < group {
			runKernel(avx512, buf[:group:group], key, stream, b)
			m := copy(dst, buf[off:group])
			dst, n = dst[m:], n+uint64(m)
			continue
		}
		nb := min(uint64(len(dst)/4), lim)
		m := int(nb-nb%gb) * 4
		runKernel(avx512, dst[:m:m], key, stream, b)
		dst, n = dst[m:], n+uint64(m)
	}
}

// runKernel calls a kernel directly (not through a func value, which would
// move the buffer of fillNormal32Kernel to the heap).
func runKernel(avx512 bool, dst []float32, key, stream, block uint64) {
	if avx512 {
		normalsAVX512(dst, key, stream, block)
	} else {
		normalsAVX2(dst, key, stream, block)
	}
}
