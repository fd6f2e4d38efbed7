//go:build !amd64

package cpu

// Without amd64 assembly every entry point runs its Go twin.

func mvLog2SliceBest(dst, src []float32)                   { log2SliceGo(dst, src) }
func mvSigmoidSliceBest(dst, src []float32, scale float32) { sigmoidSliceGo(dst, src, scale) }

func ratesSample512(h, p []float32, sigma2 float32, mean []float64) {
	ratesSampleGo(h, p, sigma2, mean)
}

func ratesSample256(h, p []float32, sigma2 float32, mean []float64) {
	ratesSampleGo(h, p, sigma2, mean)
}

func updAxpy512(y, x []float32, a float32) { updAxpyGo(y, x, a) }
func updAxpy256(y, x []float32, a float32) { updAxpyGo(y, x, a) }

// mvISAs returns the kernel sets this CPU runs: none.
func mvISAs() []mvISA { return nil }
