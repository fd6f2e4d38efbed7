// Package cudatest opens the host emulation of the zo kernels (package
// cuda/emu) for tests of code that drives a GPU.
package cudatest

import (
	"errors"
	"os"
	"testing"

	"github.com/batchrun/batchrun/kernels/cuda"
	"github.com/batchrun/batchrun/kernels/cuda/emu"
)

// Device returns the emulated device of the zo kernels (cuda.Kernels
// compiled from cuda.Sources), closed when the test ends. Where no C++
// compiler is installed it skips the test, except under CI (CI=true),
// where the project's test scripts install one and its absence fails.
func Device(tb testing.TB, opt emu.Options) *emu.Device {
	tb.Helper()
	src, err := cuda.WriteSources(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	ks := make([]emu.Kernel, len(cuda.Kernels))
	for i, k := range cuda.Kernels {
		ks[i] = emu.Kernel{Name: k.Name, Barrier: k.Barrier}
	}
	dev, err := emu.Open(src, ks, opt)
	if errors.Is(err, emu.ErrNoCompiler) {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%v: under CI the emulator tests must run (make test installs g++)", err)
		}
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := dev.Close(); err != nil {
			tb.Error(err)
		}
	})
	return dev
}

// Put copies src to new device memory of q.
func Put[T any](tb testing.TB, q cuda.Queue, src []T) cuda.Ptr {
	tb.Helper()
	b := cuda.Bytes(src)
	p, err := q.Alloc(int64(max(len(b), 1)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := q.Upload(p, b); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Get copies device memory at src into dst.
func Get[T any](tb testing.TB, q cuda.Queue, dst []T, src cuda.Ptr) {
	tb.Helper()
	if err := q.Download(cuda.Bytes(dst), src); err != nil {
		tb.Fatal(err)
	}
}
