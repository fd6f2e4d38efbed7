//go:build !amd64

package philox

// HasAVX512 reports whether FillNormal32AVX512 runs an AVX-512 kernel: never
// on this architecture.
func HasAVX512() bool { return false }

// HasAVX2 reports whether FillNormal32AVX2 runs an AVX2 kernel: never on this
// architecture.
func HasAVX2() bool { return false }

// FillNormal32AVX512 is FillNormal32 (no AVX-512 kernel on this
// architecture).
func FillNormal32AVX512(dst []float32, key, stream, first uint64) {
	FillNormal32(dst, key, stream, first)
}

// FillNormal32AVX2 is FillNormal32 (no AVX2 kernel on this architecture).
func FillNormal32AVX2(dst []float32, key, stream, first uint64) {
	FillNormal32(dst, key, stream, first)
}

// The Box-Muller test hooks of the amd64 kernels, for normals_simd_test.go;
// never called here, since HasAVX2 and HasAVX512 are false.

func boxMullerWordsAVX512(dst []float32, words []uint32) { panic("philox: no AVX-512 kernel") }

func boxMullerWordsAVX2(dst []float32, words []uint32) { panic("philox: no AVX2 kernel") }
