//go:build !amd64

package peak

// Without the amd64 assembly only the pure-Go scalar loop runs; Measure
// times it in place of the SIMD kinds.

func supported(kind string) bool { return kind == "scalar" }

func simdLoop(kind string, n int, acc, x, y []float32) {
	panic("peak: no " + kind + " loop on this architecture")
}
