package emu_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/batchrun/batchrun/kernels/cuda"
	"github.com/batchrun/batchrun/kernels/cuda/cudatest"
	"github.com/batchrun/batchrun/kernels/cuda/emu"
)

var testKernels = []emu.Kernel{
	{Name: "axpy"},
	{Name: "block_sum", Barrier: true},
	{Name: "index3"},
	{Name: "trap_at"},
	{Name: "crash"},
	{Name: "barrier_unflagged"},
	{Name: "past_end"},
}

// skipWithoutCompiler skips the test where err says there is no C++
// compiler, except under CI, where make test installs one.
func skipWithoutCompiler(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, emu.ErrNoCompiler) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v: under CI the emulator tests must run", err)
		}
		t.Skip(err)
	}
}

// openDevice opens the test kernels; the caller closes the device.
func openDevice(t *testing.T, opt emu.Options) *emu.Device {
	t.Helper()
	dev, err := emu.Open(filepath.Join("testdata", "kernels.cu"), testKernels, opt)
	skipWithoutCompiler(t, err)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// open opens the test kernels with a queue, both closed when the test
// ends.
func open(t *testing.T, opt emu.Options) (*emu.Device, cuda.Queue) {
	t.Helper()
	dev := openDevice(t, opt)
	q, err := dev.NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		q.Close()
		if err := dev.Close(); err != nil {
			t.Error(err)
		}
	})
	return dev, q
}

// get downloads n values from p.
func get[T any](t *testing.T, q cuda.Queue, p cuda.Ptr, n int) []T {
	t.Helper()
	s := make([]T, n)
	cudatest.Get(t, q, s, p)
	return s
}

func TestAxpy(t *testing.T) {
	_, q := open(t, emu.Options{})
	const n = 1000
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i] = float32(i)/7, float32(n-i)/3
	}
	px, py := cudatest.Put(t, q, x), cudatest.Put(t, q, y)
	const a = float32(1.5)
	if err := q.Launch("axpy", cuda.Grid(n, 128), cuda.D1(128), cuda.I32(n), cuda.F32(a), px.Arg(), py.Arg()); err != nil {
		t.Fatal(err)
	}
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
	got := get[float32](t, q, py, n)
	for i := range got {
		if want := a*x[i] + y[i]; got[i] != want {
			t.Fatalf("y[%d] = %v, want %v", i, got[i], want)
		}
	}
}

func TestBarrierReduction(t *testing.T) {
	_, q := open(t, emu.Options{})
	const n, per = 1000, 256
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i + 1)
	}
	px := cudatest.Put(t, q, x)
	blocks := (n + per - 1) / per
	out, err := q.Alloc(int64(8 * blocks))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Launch("block_sum", cuda.D1(blocks), cuda.D1(per), px.Arg(), cuda.U64(n), out.Arg()); err != nil {
		t.Fatal(err)
	}
	got := get[float64](t, q, out, blocks)
	for b := range blocks {
		lo, hi := b*per+1, min((b+1)*per, n)
		if want := float64((lo + hi) * (hi - lo + 1) / 2); got[b] != want {
			t.Errorf("block %d: sum %v, want %v", b, got[b], want)
		}
	}
}

func TestThreeDimensionalIndices(t *testing.T) {
	_, q := open(t, emu.Options{})
	grid, block := cuda.Dim{X: 2, Y: 3, Z: 2}, cuda.Dim{X: 4, Y: 2, Z: 3}
	n := grid.Count() * block.Count()
	out, err := q.Alloc(int64(4 * n))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Launch("index3", grid, block, out.Arg()); err != nil {
		t.Fatal(err)
	}
	got := get[uint32](t, q, out, n)
	i := 0
	for bz := range 2 {
		for by := range 3 {
			for bx := range 2 {
				for tz := range 3 {
					for ty := range 2 {
						for tx := range 4 {
							want := uint32(tx | ty<<4 | tz<<8 | bx<<12 | by<<16 | bz<<20)
							if got[i] != want {
								t.Fatalf("thread %d: %#x, want %#x", i, got[i], want)
							}
							i++
						}
					}
				}
			}
		}
	}
}

func TestZeroAndMemoryAccounting(t *testing.T) {
	dev, q := open(t, emu.Options{MemoryLimit: 4096})
	p := cudatest.Put(t, q, []float32{1, 2, 3, 4})
	if err := q.Zero(p.Add(4), 8); err != nil {
		t.Fatal(err)
	}
	if got := get[float32](t, q, p, 4); got[0] != 1 || got[1] != 0 || got[2] != 0 || got[3] != 4 {
		t.Errorf("after Zero: %v, want [1 0 0 4]", got)
	}
	if got := dev.MemoryInUse(); got != 16 {
		t.Errorf("MemoryInUse = %d, want 16", got)
	}
	_, err := q.Alloc(4096)
	if !errors.Is(err, cuda.ErrOutOfMemory) {
		t.Fatalf("Alloc past the limit: %v, want ErrOutOfMemory", err)
	}
	if err := q.Free(p); err != nil {
		t.Fatal(err)
	}
	big, err := q.Alloc(4096)
	if err != nil {
		t.Fatalf("Alloc of the whole limit after a free: %v", err)
	}
	// A second queue shares the memory; closing a queue frees its memory.
	q2, err := dev.NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q2.Alloc(1); !errors.Is(err, cuda.ErrOutOfMemory) {
		t.Errorf("Alloc on a second queue of a full device: %v, want ErrOutOfMemory", err)
	}
	if err := q2.Free(big); err == nil {
		t.Error("Free of another queue's allocation succeeded")
	}
	q2.Close()
	if err := q.Free(big); err != nil {
		t.Fatal(err)
	}
	if got := dev.MemoryInUse(); got != 0 {
		t.Errorf("MemoryInUse after freeing everything = %d", got)
	}
}

func TestErrors(t *testing.T) {
	_, q := open(t, emu.Options{})
	p, err := q.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"alloc zero", func() error { _, err := q.Alloc(0); return err }(), "size must be positive"},
		{"upload past the end", q.Upload(p.Add(60), make([]byte, 8)), "not inside one allocation"},
		{"download before the start", q.Download(make([]byte, 8), p-8), "not inside one allocation"},
		{"zero past the end", q.Zero(p, 65), "not inside one allocation"},
		{"unknown kernel", q.Launch("nope", cuda.D1(1), cuda.D1(1)), "no kernel nope"},
		{"wrong arity", q.Launch("axpy", cuda.D1(1), cuda.D1(1), cuda.I32(1)), "takes 4 arguments, got 1"},
		{"block too large", q.Launch("index3", cuda.D1(1), cuda.D1(2048), p.Arg()), "block of 2048 threads"},
		{"trap", q.Launch("trap_at", cuda.D1(4), cuda.D1(32), cuda.I32(70)), "trap_at executed __trap (block (2,0,0) thread (6,0,0))"},
		{"unflagged barrier", q.Launch("barrier_unflagged", cuda.D1(1), cuda.D1(2)), "not flagged Barrier"},
		{"free twice", func() error { q.Free(p); return q.Free(p) }(), "not an allocation of this queue"},
	}
	for _, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	// The process survives refused requests and kernel errors.
	if err := q.Launch("trap_at", cuda.D1(1), cuda.D1(32), cuda.I32(-1)); err != nil {
		t.Errorf("a launch after errors: %v", err)
	}
}

func TestCrashIsAnError(t *testing.T) {
	_, q := open(t, emu.Options{})
	err := q.Launch("crash", cuda.D1(1), cuda.D1(8), cuda.Ptr(16).Arg())
	if err == nil || !strings.Contains(err.Error(), "in kernel crash, block (0,0,0) thread (3,0,0)") {
		t.Fatalf("crash: %v, want the kernel and thread named", err)
	}
	if _, err := q.Alloc(8); err == nil || !strings.Contains(err.Error(), "died") {
		t.Errorf("Alloc after a crash: %v, want the process's death", err)
	}
	// The dead process's memory is let go of with the queue.
	dev, q2 := open(t, emu.Options{})
	if _, err := q2.Alloc(64); err != nil {
		t.Fatal(err)
	}
	if err := q2.Launch("crash", cuda.D1(1), cuda.D1(8), cuda.Ptr(16).Arg()); err == nil {
		t.Fatal("no crash")
	}
	if err := q2.Close(); err != nil {
		t.Errorf("Close after a crash: %v", err)
	}
	if n := dev.MemoryInUse(); n != 0 {
		t.Errorf("MemoryInUse after closing the queue of a dead process = %d, want 0", n)
	}
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "bad.cu")
	if err := os.WriteFile(src, []byte("extern \"C\" __global__ void k(int n) { undeclared(n); }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := emu.Open(src, []emu.Kernel{{Name: "k"}}, emu.Options{CacheDir: dir})
	skipWithoutCompiler(t, err)
	if err == nil || !strings.Contains(err.Error(), "undeclared") {
		t.Errorf("a source that does not compile: %v, want the compiler's message", err)
	}
	if _, err := emu.Open(src, nil, emu.Options{}); err == nil {
		t.Error("Open with no kernels succeeded")
	}
	if _, err := emu.Open(src, []emu.Kernel{{Name: "k; system(\"x\")"}}, emu.Options{}); err == nil || !strings.Contains(err.Error(), "not a C identifier") {
		t.Errorf("a kernel name that is not an identifier: %v", err)
	}
	if _, err := emu.Open(filepath.Join(dir, "missing.cu"), []emu.Kernel{{Name: "k"}}, emu.Options{}); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	t.Setenv("CXX", "no-such-compiler-batchrun")
	if _, err := emu.Open(src, []emu.Kernel{{Name: "k"}}, emu.Options{}); !errors.Is(err, emu.ErrNoCompiler) {
		t.Errorf("CXX naming a missing compiler: %v, want ErrNoCompiler", err)
	}
}

func TestBuildIsCached(t *testing.T) {
	cache := t.TempDir()
	for range 2 {
		dev := openDevice(t, emu.Options{CacheDir: cache})
		if dev.Name() != emu.Name {
			t.Errorf("Name = %q", dev.Name())
		}
		if err := dev.Close(); err != nil {
			t.Fatal(err)
		}
	}
	exes, _ := filepath.Glob(filepath.Join(cache, "kernels-*"))
	builds, _ := filepath.Glob(filepath.Join(cache, "build-*"))
	if len(exes) != 1 || len(builds) != 0 {
		t.Errorf("cache holds executables %v and build directories %v, want one executable", exes, builds)
	}
}

func TestDeviceCloseNeedsQueuesClosed(t *testing.T) {
	dev := openDevice(t, emu.Options{})
	q, err := dev.NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.Close(); err == nil {
		t.Error("Close with an open queue succeeded")
	}
	q.Close()
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.NewQueue(); err == nil {
		t.Error("NewQueue on a closed device succeeded")
	}
}

// With Sanitize, a write just past an allocation is an error naming the
// kernel; without, it goes unnoticed (it lands in the allocator's padding).
func TestSanitizeCatchesOutOfBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("a sanitized build; skipped with -short")
	}
	for _, sanitize := range []bool{false, true} {
		_, q := open(t, emu.Options{Sanitize: sanitize})
		p, err := q.Alloc(4 * 10)
		if err != nil {
			t.Fatal(err)
		}
		err = q.Launch("past_end", cuda.D1(1), cuda.D1(1), p.Arg(), cuda.I32(10))
		switch {
		case !sanitize && err != nil:
			t.Errorf("without Sanitize: %v", err)
		case sanitize && (err == nil || !strings.Contains(err.Error(), "heap-buffer-overflow") || !strings.Contains(err.Error(), "past_end")):
			t.Errorf("with Sanitize: %v, want a heap-buffer-overflow in past_end", err)
		}
	}
}
