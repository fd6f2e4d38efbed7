package peak

import "github.com/klauspost/cpuid/v2"

//go:generate sh -c "cd ../asmgen && go run ./peak -out ../peak/peak_amd64.s -stubs ../peak/peak_stubs_amd64.go -pkg peak"

var (
	hasAVX512 = cpuid.CPU.Supports(cpuid.AVX512F)
	hasAVX2   = cpuid.CPU.Supports(cpuid.AVX2, cpuid.FMA3)
)

func supported(kind string) bool {
	switch kind {
	case "avx512":
		return hasAVX512
	case "avx2":
		return hasAVX2
	case "scalar":
		return true
	}
	return false
}

// simdLoop runs the assembly loop of kind (a supported SIMD kind, slices of
// the right lengths: see Run).
func simdLoop(kind string, n int, acc, x, y []float32) {
	switch kind {
	case "avx512":
		var xy [32]float32
		copy(xy[:16], x)
		copy(xy[16:], y)
		fmaZMM(n, (*[Accumulators * 16]float32)(acc), &xy)
	case "avx2":
		var xy [16]float32
		copy(xy[:8], x)
		copy(xy[8:], y)
		fmaYMM(n, (*[Accumulators * 8]float32)(acc), &xy)
	}
}
