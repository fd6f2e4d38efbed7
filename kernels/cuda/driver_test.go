//go:build linux

package cuda

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebitengine/purego"
)

// fakeLib is a fake CUDA driver library built from testdata/fakecuda.c, with
// the functions that set its behaviour and read its counters.
type fakeLib struct {
	path     string
	set      func(key string, value int64)
	get      func(key string) int64
	lastArgs func(out *uint64, max int32) int32
}

// newFakeLib builds the fake driver with the given gcc options in a
// temporary directory and opens it; it skips the test where gcc is
// missing (except under CI, CI=true, where make test installs it). Each fake is a library of its own, with its own state.
func newFakeLib(t *testing.T, gccArgs ...string) *fakeLib {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gcc not found: under CI the fake CUDA driver must be built (make test installs gcc)")
		}
		t.Skip("gcc not found: cannot build the fake CUDA driver")
	}
	f := &fakeLib{path: filepath.Join(t.TempDir(), "libfakecuda.so")}
	args := append([]string{"-shared", "-fPIC", "-O1", "-o", f.path}, gccArgs...)
	args = append(args, filepath.Join("testdata", "fakecuda.c"), "-lpthread")
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("building the fake driver: %v\n%s", err, out)
	}
	h, err := purego.Dlopen(f.path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	for name, fn := range map[string]any{"fake_set": &f.set, "fake_get": &f.get, "fake_last_args": &f.lastArgs} {
		purego.RegisterLibFunc(fn, h, name)
	}
	return f
}

// driver sets the given keys of the fake and loads it.
func (f *fakeLib) driver(t *testing.T, settings map[string]int64) *Driver {
	t.Helper()
	for k, v := range settings {
		f.set(k, v)
	}
	d, err := LoadFrom(f.path)
	if err != nil {
		t.Fatalf("LoadFrom(fake): %v", err)
	}
	return d
}

// open loads the fake and opens its device 0 with module, closing it when
// the test ends.
func (f *fakeLib) open(t *testing.T, module string) *GPU {
	t.Helper()
	g, err := f.driver(t, nil).Open(0, []byte(module))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// newTestStream returns a new Stream of g, closed when the test ends.
func newTestStream(t *testing.T, g *GPU) *Stream {
	t.Helper()
	s, err := g.NewStream()
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// expectCount fails the test unless the fake's counter key is want.
func (f *fakeLib) expectCount(t *testing.T, key string, want int64) {
	t.Helper()
	if got := f.get(key); got != want {
		t.Errorf("fake %s = %d, want %d", key, got, want)
	}
}

// expectDriverError fails the test unless err wraps target (if not nil) and its
// message has one line containing each of parts.
func expectDriverError(t *testing.T, err, target error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %q", err, target)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error %q has more than one line", msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q does not contain %q", msg, p)
		}
	}
}

// fakeModule is a module of the fake driver: kernels with the sizes of
// their parameters.
const fakeModule = `// kernels of the tests
kernel probe 8 4 4 8 8 4
kernel none
kernel narrow 1 2 4 4
`

// TestLoadFromMissingLibrary checks that a library that cannot be opened
// is an error wrapping ErrNoDevice that names it.
func TestLoadFromMissingLibrary(t *testing.T) {
	path := filepath.Join(t.TempDir(), "libcuda.so.1")
	_, err := LoadFrom(path)
	expectDriverError(t, err, ErrNoDevice, "cuda: ", path, "no CUDA device")
}

// TestLoad loads the system's driver: where it is missing or finds no
// device, the error wraps ErrNoDevice and says why in one line.
func TestLoad(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Logf("Load: %v", err)
		expectDriverError(t, err, ErrNoDevice)
		if msg := err.Error(); !strings.Contains(msg, "libcuda") && !strings.Contains(msg, "cuInit") {
			t.Errorf("error %q names neither the library nor cuInit", msg)
		}
		return
	}
	n, err := d.Devices()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: CUDA driver %d, %d devices", d.Library(), d.Version(), n)
}

// TestLoadInitFailure checks that every failure of cuInit is an error
// wrapping ErrNoDevice with the driver's name and description of the code,
// or its number where the driver has none.
func TestLoadInitFailure(t *testing.T) {
	f := newFakeLib(t)
	for _, tc := range []struct {
		code int64
		want string
	}{
		{100, "cuda: cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected"},
		{35, "CUDA_ERROR_INSUFFICIENT_DRIVER"},
		{804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE"},
		{3, "CUDA_ERROR_NOT_INITIALIZED"},
		{999, "CUDA_ERROR_UNKNOWN: unknown error"},
		{12345, "cuda: cuInit: CUDA error 12345 (no CUDA device)"},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			f.set("fail:cuInit", tc.code)
			_, err := LoadFrom(f.path)
			expectDriverError(t, err, ErrNoDevice, tc.want)
			var e *Error
			if !errors.As(err, &e) || e.Call != "cuInit" || e.Code != int(tc.code) {
				t.Errorf("error %#v is not the *Error of cuInit with code %d", e, tc.code)
			}
		})
	}
}

// TestLoadMissingSymbol checks that a library without an entry point the
// binding needs is an error naming it (every one missing), not a panic.
func TestLoadMissingSymbol(t *testing.T) {
	f := newFakeLib(t, "-DFAKE_OMIT_cuLaunchKernel", "-DFAKE_OMIT_cuMemsetD8Async")
	_, err := LoadFrom(f.path)
	expectDriverError(t, err, ErrNoDevice, f.path, "cuLaunchKernel", "cuMemsetD8Async")
	f.expectCount(t, "calls:cuInit", 0)
}

// TestError checks the message of an *Error and the sentinels it is.
func TestError(t *testing.T) {
	for _, tc := range []struct {
		err         *Error
		want        string
		oom, nodev  bool
		description string
	}{
		{&Error{"cuMemAlloc_v2", 2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"}, "cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY: out of memory", true, false, "out of memory"},
		{&Error{"cuInit", 100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"}, "cuda: cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected", false, true, "no device"},
		{&Error{"cuInit", 35, "CUDA_ERROR_INSUFFICIENT_DRIVER", ""}, "cuda: cuInit: CUDA_ERROR_INSUFFICIENT_DRIVER", false, true, "old driver, no message"},
		{&Error{"cuLaunchKernel", 719, "", ""}, "cuda: cuLaunchKernel: CUDA error 719", false, false, "unknown code"},
		{&Error{"cuStreamSynchronize", 700, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"}, "cuda: cuStreamSynchronize: CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered", false, false, "other"},
	} {
		t.Run(tc.description, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			wrapped := fmt.Errorf("%w (context)", tc.err)
			if got := errors.Is(wrapped, ErrOutOfMemory); got != tc.oom {
				t.Errorf("errors.Is(ErrOutOfMemory) = %v, want %v", got, tc.oom)
			}
			if got := errors.Is(wrapped, ErrNoDevice); got != tc.nodev {
				t.Errorf("errors.Is(ErrNoDevice) = %v, want %v", got, tc.nodev)
			}
		})
	}
}

// TestOpen checks the description of a device, that the module reaches
// the driver NUL-terminated, and that Close releases the module and the
// context.
func TestOpen(t *testing.T) {
	f := newFakeLib(t)
	d := f.driver(t, nil)
	if v := d.Version(); v != 13000 {
		t.Errorf("Version() = %d, want 13000", v)
	}
	if n, err := d.Devices(); n != 1 || err != nil {
		t.Errorf("Devices() = %d, %v, want 1, nil", n, err)
	}
	g, err := d.Open(0, []byte(fakeModule))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := g.Name(), "cuda:0 (Fake H100 0, 80.0 GiB, sm_90)"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	want := GPUInfo{
		Ordinal: 0, Name: "Fake H100 0",
		TotalMemory: 80 << 30, FreeMemory: 79 << 30,
		Major: 9, Minor: 0, SMs: 132,
		ClockRate: 1980000, MemoryClock: 2619000, BusWidth: 5120,
		DriverVersion: 13000,
	}
	if got := g.Info(); got != want {
		t.Errorf("Info() = %+v\nwant %+v", got, want)
	}
	if got, want := g.PeakBandwidth(), 2*2619000e3*5120/8; got != want {
		t.Errorf("PeakBandwidth() = %g, want %g", got, want)
	}
	f.expectCount(t, "module:len", int64(len(fakeModule)))
	f.expectCount(t, "live:modules", 1)
	f.expectCount(t, "ctx:flags", ctxSchedBlockingSync) // waiting threads sleep
	f.expectCount(t, "live:ctxrefs", 1)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	f.expectCount(t, "live:modules", 0)
	f.expectCount(t, "live:ctxrefs", 0)
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := g.NewQueue(); err == nil {
		t.Error("NewQueue of a closed GPU: no error")
	}
}

// TestOpenDescribes checks Name and PeakBandwidth for other devices.
func TestOpenDescribes(t *testing.T) {
	for _, tc := range []struct {
		test     string
		settings map[string]int64
		ordinal  int
		name     string // "": Open fails
		peak     float64
	}{
		{"second", map[string]int64{"devices": 2}, 1, "cuda:1 (Fake H100 1, 80.0 GiB, sm_90)", 3.352320e12},
		{"sm_86", map[string]int64{"attr:75": 8, "attr:76": 6, "totalmem": 24 << 30, "attr:36": 9751000, "attr:37": 384}, 0, "cuda:0 (Fake H100 0, 24.0 GiB, sm_86)", 936.096e9},
		{"no memory clock", map[string]int64{"attr:36": 0}, 0, "cuda:0 (Fake H100 0, 80.0 GiB, sm_90)", 0},
		{"no attributes", map[string]int64{"fail:cuDeviceGetAttribute": 1}, 0, "", 0},
	} {
		t.Run(tc.test, func(t *testing.T) {
			f := newFakeLib(t)
			g, err := f.driver(t, tc.settings).Open(tc.ordinal, []byte(fakeModule))
			if tc.name == "" {
				expectDriverError(t, err, nil, "cuDeviceGetAttribute", "CUDA_ERROR_INVALID_VALUE")
				f.expectCount(t, "live:ctxrefs", 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if got := g.Name(); got != tc.name {
				t.Errorf("Name() = %q, want %q", got, tc.name)
			}
			if got := g.Info().PeakBandwidth(); math.Abs(got-tc.peak) > 1e-9*tc.peak {
				t.Errorf("PeakBandwidth() = %g, want %g", got, tc.peak)
			}
		})
	}
}

// TestOpenOrdinal checks that an ordinal out of range is an error wrapping
// ErrNoDevice that says how many devices there are.
func TestOpenOrdinal(t *testing.T) {
	f := newFakeLib(t)
	d := f.driver(t, nil)
	for _, tc := range []struct {
		devices, ordinal int
		want             string
	}{
		{1, 1, "cuda: device 1: only 1 CUDA device (0): no CUDA device"},
		{1, 3, "device 3: only 1 CUDA device (0)"},
		{1, -1, "device -1: only 1 CUDA device (0)"},
		{4, 4, "device 4: only 4 CUDA devices (0-3)"},
		{0, 0, "device 0: the driver lists no CUDA device"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			f.set("devices", int64(tc.devices))
			_, err := d.Open(tc.ordinal, []byte(fakeModule))
			expectDriverError(t, err, ErrNoDevice, tc.want)
			f.expectCount(t, "live:ctxrefs", 0)
		})
	}
}

// TestOpenModuleError checks that a module that fails to compile is an
// error with the compiler's log, and that the context is released.
func TestOpenModuleError(t *testing.T) {
	f := newFakeLib(t)
	_, err := f.driver(t, nil).Open(0, []byte("kernel ok 8\nnot a kernel\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"cuda: cuModuleLoadDataEx: CUDA_ERROR_INVALID_PTX: a PTX JIT compilation failed",
		"fake ptxas: line 2: expected 'kernel NAME SIZE...', found 'not a kernel'",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	f.expectCount(t, "live:ctxrefs", 0)
	f.expectCount(t, "live:modules", 0)
}

// TestOpenWithoutModule checks that a GPU opened without a module
// describes the device and refuses launches.
func TestOpenWithoutModule(t *testing.T) {
	f := newFakeLib(t)
	g := f.open(t, "")
	if g.Info().SMs != 132 {
		t.Errorf("Info() = %+v", g.Info())
	}
	err := newTestStream(t, g).Launch("probe", D1(1), D1(1))
	expectDriverError(t, err, nil, "probe", "no module")
	f.expectCount(t, "live:modules", 0)
}

// TestAllocOutOfMemory checks that CUDA_ERROR_OUT_OF_MEMORY is an error
// wrapping ErrOutOfMemory that names the call and the size.
func TestAllocOutOfMemory(t *testing.T) {
	f := newFakeLib(t)
	q := newTestStream(t, f.open(t, fakeModule))
	f.set("fail:cuMemAlloc_v2", 2)
	_, err := q.Alloc(1 << 20)
	expectDriverError(t, err, ErrOutOfMemory, "cuda: cuMemAlloc_v2: CUDA_ERROR_OUT_OF_MEMORY: out of memory", "1048576 bytes")
	if errors.Is(err, ErrNoDevice) {
		t.Errorf("error %q wraps ErrNoDevice", err)
	}
	f.set("fail:cuMemAlloc_v2", 0)
	if _, err := q.Alloc(1 << 20); err != nil {
		t.Errorf("Alloc after the failure: %v", err)
	}
}

// TestQueueMemory checks allocation, copies, Zero and Free on a Stream,
// and that Close frees what is left and destroys the stream.
func TestQueueMemory(t *testing.T) {
	f := newFakeLib(t)
	g := f.open(t, fakeModule)
	q, err := g.NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	f.expectCount(t, "stream:flags", 1) // CU_STREAM_NON_BLOCKING
	p, err := q.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 64)
	if err := q.Download(got, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, make([]byte, 64)) {
		t.Errorf("new allocation is not zero: % x", got)
	}
	src := make([]byte, 64)
	for i := range src {
		src[i] = byte(i + 1)
	}
	if err := q.Upload(p, src); err != nil {
		t.Fatal(err)
	}
	if err := q.Zero(p.Add(8), 16); err != nil {
		t.Fatal(err)
	}
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := q.Download(got, p); err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(src)
	clear(want[8:24])
	if !bytes.Equal(got, want) {
		t.Errorf("Download = % x\nwant % x", got, want)
	}
	f32 := []float32{1, -2.5, 3e38}
	back := make([]float32, 3)
	if err := q.Upload(p.Add(4), Bytes(f32)); err != nil {
		t.Fatal(err)
	}
	if err := q.Download(Bytes(back), p.Add(4)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(back) != fmt.Sprint(f32) {
		t.Errorf("float32 round trip = %v, want %v", back, f32)
	}
	if err := q.Free(p); err != nil {
		t.Fatal(err)
	}
	if err := q.Free(p); err == nil {
		t.Error("second Free: no error")
	}
	if _, err := q.Alloc(0); err == nil {
		t.Error("Alloc(0): no error")
	}
	for range 3 {
		if _, err := q.Alloc(100); err != nil {
			t.Fatal(err)
		}
	}
	f.expectCount(t, "live:allocs", 3)
	f.expectCount(t, "live:streams", 1)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	f.expectCount(t, "live:allocs", 0)
	f.expectCount(t, "live:streams", 0)
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := q.Alloc(8); !errors.Is(err, errClosed) {
		t.Errorf("Alloc on a closed queue: %v, want %v", err, errClosed)
	}
}

// TestLaunchArgs checks that the argument slots reach the kernel as it
// reads them: each parameter takes its own size from the start of its
// slot, so a 4-byte parameter reads the low 4 bytes of a slot.
func TestLaunchArgs(t *testing.T) {
	f := newFakeLib(t)
	q := newTestStream(t, f.open(t, fakeModule))
	const ptr = Ptr(0x7f12_3456_7000)
	for _, tc := range []struct {
		kernel      string
		grid, block Dim
		args        []uint64
		want        []uint64 // the slots as the kernel reads them
		dims        [6]int64
	}{
		{
			kernel: "probe", grid: D1(3), block: Dim{X: 128, Y: 2},
			args: []uint64{ptr.Add(16).Arg(), I32(-7), F32(1.5), F64(-2.25), U64(1<<40 + 3), I32(math.MaxInt32)},
			want: []uint64{0x7f12_3456_7010, 0xffff_fff9, uint64(math.Float32bits(1.5)), math.Float64bits(-2.25), 1<<40 + 3, 0x7fff_ffff},
			dims: [6]int64{3, 1, 1, 128, 2, 1},
		},
		{
			kernel: "narrow", grid: Dim{X: 2, Y: 3, Z: 4}, block: Dim{},
			args: []uint64{U64(0xdead_beef_cafe_0042), U64(0xdead_beef_cafe_1234), U64(0xdead_beef_0000_0005), F32(-0.5)},
			want: []uint64{0x42, 0x1234, 5, uint64(math.Float32bits(-0.5))},
			dims: [6]int64{2, 3, 4, 1, 1, 1},
		},
		{kernel: "none", grid: Grid(1000, 256), block: D1(256), dims: [6]int64{4, 1, 1, 256, 1, 1}},
	} {
		t.Run(tc.kernel, func(t *testing.T) {
			if err := q.Launch(tc.kernel, tc.grid, tc.block, tc.args...); err != nil {
				t.Fatal(err)
			}
			got := make([]uint64, 32)
			got = got[:f.lastArgs(&got[0], int32(len(got)))]
			if fmt.Sprintf("%#x", got) != fmt.Sprintf("%#x", tc.want) {
				t.Errorf("kernel read %#x\nwant %#x", got, tc.want)
			}
			var dims [6]int64
			for i, k := range []string{"grid.x", "grid.y", "grid.z", "block.x", "block.y", "block.z"} {
				dims[i] = f.get("launch:" + k)
			}
			if dims != tc.dims {
				t.Errorf("launched on %v, want %v", dims, tc.dims)
			}
			f.expectCount(t, "launch:shared", 0)
			f.expectCount(t, "launch:stream", int64(q.s))
		})
	}
	if err := q.Launch("probe", D1(1), D1(1), make([]uint64, 6)...); err != nil {
		t.Fatal(err)
	}
	f.expectCount(t, "calls:cuModuleGetFunction", 3) // one lookup per kernel
}

// TestLaunchErrors checks that a failed launch names the kernel, and the
// grid and the block where the launch itself failed.
func TestLaunchErrors(t *testing.T) {
	f := newFakeLib(t)
	q := newTestStream(t, f.open(t, fakeModule))
	err := q.Launch("nosuch", D1(1), D1(32))
	expectDriverError(t, err, nil, "cuda: cuModuleGetFunction: CUDA_ERROR_NOT_FOUND: named symbol not found", "kernel nosuch")

	f.set("fail:cuLaunchKernel", 1)
	err = q.Launch("probe", Dim{X: 3}, Dim{X: 128, Y: 2}, make([]uint64, 6)...)
	expectDriverError(t, err, nil, "cuda: cuLaunchKernel: CUDA_ERROR_INVALID_VALUE: invalid argument", "kernel probe", "grid 3x1x1", "block 128x2x1")

	f.set("fail:cuLaunchKernel", 0)
	f.set("fail:cuStreamSynchronize", 700)
	expectDriverError(t, q.Sync(), nil, "cuStreamSynchronize", "CUDA error 700")
	f.set("fail:cuStreamSynchronize", 0)
}

// TestEvents checks the time between two events of a Stream.
func TestEvents(t *testing.T) {
	f := newFakeLib(t)
	q := newTestStream(t, f.open(t, fakeModule))
	f.set("now_us", 1000)
	start, err := q.Record()
	if err != nil {
		t.Fatal(err)
	}
	f.set("now_us", 2500)
	end, err := q.Record()
	if err != nil {
		t.Fatal(err)
	}
	d, err := start.Elapsed(end)
	if err != nil {
		t.Fatal(err)
	}
	if d != 1500*time.Microsecond {
		t.Errorf("Elapsed = %v, want 1.5ms", d)
	}
	f.expectCount(t, "live:events", 2)
	for _, e := range []*Event{start, end} {
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f.expectCount(t, "live:events", 0)
	if _, err := start.Elapsed(end); !errors.Is(err, errClosed) {
		t.Errorf("Elapsed of closed events: %v, want %v", err, errClosed)
	}
}

// TestConcurrentQueues runs queues of two GPUs on many goroutines: the
// fake driver keeps a current context per OS thread and refuses a stream
// of another context, so an operation that ran on a thread without its
// GPU's context current would fail.
func TestConcurrentQueues(t *testing.T) {
	f := newFakeLib(t)
	d := f.driver(t, map[string]int64{"devices": 2})
	var gpus [2]*GPU
	for i := range gpus {
		g, err := d.Open(i, []byte(fakeModule))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		gpus[i] = g
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			q, err := gpus[w%2].NewQueue()
			if err != nil {
				errs <- err
				return
			}
			defer q.Close()
			for i := range 200 {
				p, err := q.Alloc(64)
				if err == nil {
					err = q.Upload(p, Bytes([]int64{int64(w), int64(i)}))
				}
				if err == nil {
					err = q.Launch([]string{"probe", "none", "narrow"}[i%3], D1(1), D1(1), make([]uint64, 6)...)
				}
				got := make([]int64, 2)
				if err == nil {
					err = q.Download(Bytes(got), p)
				}
				if err == nil && (got[0] != int64(w) || got[1] != int64(i)) {
					err = fmt.Errorf("worker %d, step %d: read %v", w, i, got)
				}
				if err == nil {
					err = q.Free(p)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	reportAll(t, &wg, errs)
	f.expectCount(t, "live:allocs", 0)
	f.expectCount(t, "live:streams", 0)
}

// gpuTestModule is the PTX module of TestGPU (ptxas -arch=sm_75 accepts
// it): probe stores its parameters at out (a at 0, b at 4, c at 8, d at
// 16), iota sets out[i] = i for i < n.
const gpuTestModule = `.version 7.0
.target sm_75
.address_size 64

.visible .entry probe(.param .u64 out, .param .u32 a, .param .f32 b, .param .f64 c, .param .u64 d)
{
	.reg .b32 %r<2>;
	.reg .f32 %f<2>;
	.reg .f64 %fd<2>;
	.reg .b64 %rd<4>;

	ld.param.u64 %rd1, [out];
	cvta.to.global.u64 %rd2, %rd1;
	ld.param.u32 %r1, [a];
	ld.param.f32 %f1, [b];
	ld.param.f64 %fd1, [c];
	ld.param.u64 %rd3, [d];
	st.global.u32 [%rd2], %r1;
	st.global.f32 [%rd2+4], %f1;
	st.global.f64 [%rd2+8], %fd1;
	st.global.u64 [%rd2+16], %rd3;
	ret;
}

.visible .entry iota(.param .u64 out, .param .u32 n)
{
	.reg .pred %p<2>;
	.reg .b32 %r<6>;
	.reg .b64 %rd<5>;

	ld.param.u64 %rd1, [out];
	ld.param.u32 %r1, [n];
	mov.u32 %r2, %ctaid.x;
	mov.u32 %r3, %ntid.x;
	mov.u32 %r4, %tid.x;
	mad.lo.s32 %r5, %r2, %r3, %r4;
	setp.ge.u32 %p1, %r5, %r1;
	@%p1 bra DONE;
	cvta.to.global.u64 %rd2, %rd1;
	mul.wide.u32 %rd3, %r5, 4;
	add.s64 %rd4, %rd2, %rd3;
	st.global.u32 [%rd4], %r5;
DONE:
	ret;
}
`

// runIota runs the kernel iota of gpuTestModule for n on q and checks what
// it wrote.
func runIota(q *Stream, n int) error {
	p, err := q.Alloc(int64(4 * n))
	if err != nil {
		return err
	}
	defer q.Free(p)
	if err := q.Launch("iota", Grid(n, 256), D1(256), p.Arg(), I32(n)); err != nil {
		return err
	}
	got := make([]uint32, n)
	if err := q.Download(Bytes(got), p); err != nil {
		return err
	}
	for i, v := range got {
		if v != uint32(i) {
			return fmt.Errorf("iota(%d): out[%d] = %d", n, i, v)
		}
	}
	return nil
}

// TestGPU runs the binding on the system's CUDA device 0, where there is
// one: argument slots as a kernel reads them, a grid of blocks, timing,
// ErrOutOfMemory, the log of a module that fails to compile, and queues
// on concurrent goroutines.
func TestGPU(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Skipf("no CUDA device: %v", err)
	}
	g, err := d.Open(0, []byte(gpuTestModule))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	info := g.Info()
	t.Logf("%s, driver %d: %+v, peak %.0f GB/s", g.Name(), d.Version(), info, info.PeakBandwidth()/1e9)
	if info.SMs <= 0 || info.Major <= 0 || info.FreeMemory <= 0 || info.FreeMemory > info.TotalMemory {
		t.Errorf("Info() = %+v", info)
	}
	q := newTestStream(t, g)

	t.Run("args", func(t *testing.T) {
		out, err := q.Alloc(24)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Free(out)
		if err := q.Launch("probe", D1(1), D1(1), out.Arg(), I32(-7), F32(1.5), F64(-2.25), U64(1<<40+3)); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 24)
		if err := q.Download(b, out); err != nil {
			t.Fatal(err)
		}
		a := int32(binary.LittleEndian.Uint32(b))
		f := math.Float32frombits(binary.LittleEndian.Uint32(b[4:]))
		c := math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
		u := binary.LittleEndian.Uint64(b[16:])
		if a != -7 || f != 1.5 || c != -2.25 || u != 1<<40+3 {
			t.Errorf("probe read %d, %g, %g, %#x; want -7, 1.5, -2.25, %#x", a, f, c, u, uint64(1<<40+3))
		}
	})

	t.Run("iota", func(t *testing.T) {
		start, err := q.Record()
		if err != nil {
			t.Fatal(err)
		}
		defer start.Close()
		if err := runIota(q, 1_000_003); err != nil {
			t.Fatal(err)
		}
		end, err := q.Record()
		if err != nil {
			t.Fatal(err)
		}
		defer end.Close()
		el, err := start.Elapsed(end)
		if err != nil || el <= 0 {
			t.Errorf("Elapsed = %v, %v", el, err)
		}
		t.Logf("iota(1000003) with its copies: %v", el)
	})

	t.Run("out of memory", func(t *testing.T) {
		_, err := q.Alloc(1 << 50)
		expectDriverError(t, err, ErrOutOfMemory, "cuMemAlloc_v2")
	})

	t.Run("bad module", func(t *testing.T) {
		_, err := d.Open(0, []byte(".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry broken()\n{\n\tbogus.u32 %r1;\n}\n"))
		var e *Error
		if !errors.As(err, &e) || e.Call != "cuModuleLoadDataEx" {
			t.Fatalf("error %v is not the *Error of cuModuleLoadDataEx", err)
		}
		if len(err.Error()) <= len(e.Error()) {
			t.Errorf("error %q has no log", err)
		}
		t.Logf("%v", err)
	})

	t.Run("zo module", func(t *testing.T) {
		z, err := d.Open(0, PTX())
		if err != nil {
			t.Fatal(err)
		}
		defer z.Close()
		if err := z.enter(); err != nil {
			t.Fatal(err)
		}
		defer runtime.UnlockOSThread()
		for _, k := range Kernels {
			if _, err := z.function(k.Name); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				q, err := g.NewQueue()
				if err != nil {
					errs <- err
					return
				}
				defer q.Close()
				for i := range 20 {
					if err := runIota(q.(*Stream), 1000*w+i+1); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		reportAll(t, &wg, errs)
	})
}

// reportAll waits for the goroutines of wg and reports the errors they
// sent on errs.
func reportAll(t *testing.T, wg *sync.WaitGroup, errs chan error) {
	t.Helper()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestProfiler times every launch of its queues with a pair of events and
// sums them per kernel, the longest first; a failed launch is not timed
// and leaks no events.
func TestProfiler(t *testing.T) {
	f := newFakeLib(t)
	g := f.open(t, fakeModule)
	p := NewProfiler(g)
	if p.Name() != g.Name() {
		t.Errorf("Name = %q, want the GPU's %q", p.Name(), g.Name())
	}
	q, err := p.NewQueue()
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	launch := func(kernel string, us int64, args ...uint64) error {
		f.set("launch_us", us)
		return q.Launch(kernel, D1(1), D1(32), args...)
	}
	for _, l := range []struct {
		kernel string
		us     int64
	}{{"none", 10}, {"none", 30}, {"narrow", 100}} {
		args := map[string][]uint64{"narrow": {U64(1), U64(2), U64(3), F32(4)}}[l.kernel]
		if err := launch(l.kernel, l.us, args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := launch("probe", 5); err == nil {
		t.Fatal("a launch with too few arguments succeeded")
	}
	got, err := p.Times()
	if err != nil {
		t.Fatal(err)
	}
	// cuEventElapsedTime is float32 milliseconds: equal to a nanosecond.
	want := []KernelTime{{"narrow", 1, 100 * time.Microsecond}, {"none", 2, 40 * time.Microsecond}}
	close := func(a, b KernelTime) bool {
		return a.Name == b.Name && a.Launches == b.Launches && (a.Total-b.Total).Abs() <= 10*time.Nanosecond
	}
	if len(got) != len(want) || !close(got[0], want[0]) || !close(got[1], want[1]) {
		t.Errorf("Times = %v, want %v", got, want)
	}
	f.expectCount(t, "live:events", 0)
	p.Reset()
	if got, _ := p.Times(); len(got) != 0 {
		t.Errorf("Times after Reset = %v", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
