//go:build !amd64

package cpu

import "github.com/batchrun/batchrun/kernels"

// ForwardAVX512Supported reports whether ForwardAVX512 runs AVX-512
// kernels: never on this architecture.
func ForwardAVX512Supported() bool { return false }

// ForwardAVX2Supported reports whether ForwardAVX2 runs AVX2 kernels: never
// on this architecture.
func ForwardAVX2Supported() bool { return false }

// ForwardAVX512 runs f on the generic path on this architecture, in scratch
// when it holds f.ScratchLen() floats (see the amd64 version).
func ForwardAVX512(f *kernels.Forward, scratch []float32) { forwardFallback(f, scratch) }

// ForwardAVX2 runs f on the generic path on this architecture, in scratch
// when it holds f.ScratchLen() floats (see the amd64 version).
func ForwardAVX2(f *kernels.Forward, scratch []float32) { forwardFallback(f, scratch) }

// simdKernelSets returns the assembly kernel sets this machine runs: none.
func simdKernelSets() []*simdKernels { return nil }
