package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// GPU is one CUDA device opened by Driver.Open: its primary context, with
// a module loaded. It implements Device. Its methods, and those of the
// Streams of different goroutines, may be called concurrently; Close
// must not run concurrently with any of them.
type GPU struct {
	d    *Driver
	dev  int32   // CUdevice
	ctx  uintptr // CUcontext, the primary context; 0 once closed
	mod  uintptr // CUmodule; 0 where none was loaded
	info GPUInfo

	mu    sync.Mutex
	funcs map[string]uintptr // CUfunction by kernel name
}

var _ Device = (*GPU)(nil)

// GPUInfo describes a CUDA device. A number that is zero is unknown.
type GPUInfo struct {
	Ordinal       int    // the device's ordinal, as given to Driver.Open
	Name          string // e.g. "NVIDIA H100 80GB HBM3"
	TotalMemory   int64  // bytes
	FreeMemory    int64  // bytes free when Info was called
	Major, Minor  int    // compute capability
	SMs           int    // streaming multiprocessors
	ClockRate     int    // peak SM clock, kHz
	MemoryClock   int    // peak memory clock, kHz
	BusWidth      int    // global memory bus width, bits
	DriverVersion int    // as Driver.Version
}

// Arch returns the compute capability as a target name, e.g. "sm_90".
func (i GPUInfo) Arch() string { return fmt.Sprintf("sm_%d%d", i.Major, i.Minor) }

// PeakBandwidth returns the theoretical peak bandwidth of global memory in
// bytes per second, 2 (double data rate) * memory clock * bus width, or 0
// where the clock or the width is unknown.
func (i GPUInfo) PeakBandwidth() float64 {
	return 2 * float64(i.MemoryClock) * 1e3 * float64(i.BusWidth) / 8
}

// CUdevice_attribute values read by Open.
const (
	attrClockRate            = 13
	attrMultiprocessorCount  = 16
	attrMemoryClockRate      = 36
	attrGlobalMemoryBusWidth = 37
	attrComputeCapMajor      = 75
	attrComputeCapMinor      = 76
)

// CU_CTX_SCHED_BLOCKING_SYNC: a thread waiting for the context's work
// blocks on a synchronization primitive instead of spinning.
const ctxSchedBlockingSync = 0x04

// CUjit_option values of cuModuleLoadDataEx.
const (
	jitErrorLogBuffer    = 5
	jitErrorLogBufferLen = 6
)

// Open opens the device of the given ordinal: it retains the device's
// primary context and loads module, the text of a PTX module, into it.
// With an empty module, Open loads none, and the GPU serves to describe
// the device but launches no kernels. An ordinal the driver does not know
// is an error wrapping ErrNoDevice; a module that fails to compile is an
// error with the compiler's log.
func (d *Driver) Open(ordinal int, module []byte) (*GPU, error) {
	n, err := d.Devices()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("cuda: device %d: %s: %w", ordinal, countDevices(n), ErrNoDevice)
	}
	g := &GPU{d: d, funcs: make(map[string]uintptr)}
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&g.dev, int32(ordinal))); err != nil {
		return nil, err
	}
	if err := g.describe(ordinal); err != nil {
		return nil, err
	}
	// A host thread that waits for the GPU (a copy back, Sync) sleeps
	// instead of spinning, leaving its core to the CPU groups that run
	// beside the GPU's. This is the context's scheduling policy only: a
	// driver that refuses it (another user of the primary context in this
	// process chose otherwise) leaves the default, which is as correct.
	_ = d.cuDevicePrimaryCtxSetFlags(g.dev, ctxSchedBlockingSync)
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&g.ctx, g.dev)); err != nil {
		return nil, err
	}
	if len(module) > 0 {
		if err := g.load(module); err != nil {
			d.cuDevicePrimaryCtxRelease(g.dev)
			return nil, err
		}
	}
	return g, nil
}

// countDevices says how many devices there are, for the error of an
// ordinal out of range.
func countDevices(n int) string {
	switch n {
	case 0:
		return "the driver lists no CUDA device"
	case 1:
		return "only 1 CUDA device (0)"
	}
	return fmt.Sprintf("only %d CUDA devices (0-%d)", n, n-1)
}

// describe fills in g.info, except for the free memory.
func (g *GPU) describe(ordinal int) error {
	d := g.d
	var name [256]byte
	if err := d.check("cuDeviceGetName", d.cuDeviceGetName(&name[0], int32(len(name)), g.dev)); err != nil {
		return err
	}
	var total uintptr
	if err := d.check("cuDeviceTotalMem_v2", d.cuDeviceTotalMem(&total, g.dev)); err != nil {
		return err
	}
	g.info = GPUInfo{
		Ordinal:       ordinal,
		Name:          cString(name[:]),
		TotalMemory:   int64(total),
		DriverVersion: d.version,
	}
	for _, a := range []struct {
		attr     int32
		v        *int
		required bool
	}{
		{attrComputeCapMajor, &g.info.Major, true},
		{attrComputeCapMinor, &g.info.Minor, true},
		{attrMultiprocessorCount, &g.info.SMs, true},
		{attrClockRate, &g.info.ClockRate, false},
		{attrMemoryClockRate, &g.info.MemoryClock, false},
		{attrGlobalMemoryBusWidth, &g.info.BusWidth, false},
	} {
		var v int32
		err := d.check("cuDeviceGetAttribute", d.cuDeviceGetAttribute(&v, a.attr, g.dev))
		if err != nil && a.required {
			return fmt.Errorf("%w (attribute %d)", err, a.attr)
		}
		*a.v = int(v) // 0, unknown, on error
	}
	return nil
}

// logSize is the size of the buffer for the JIT compiler's error log.
const logSize = 16 << 10

// load loads the PTX module text into g's context.
func (g *GPU) load(module []byte) error {
	image := make([]byte, len(module)+1) // NUL-terminated
	copy(image, module)
	logBuf := make([]byte, logSize)
	var pin runtime.Pinner
	pin.Pin(&logBuf[0])
	defer pin.Unpin()
	options := []int32{jitErrorLogBuffer, jitErrorLogBufferLen}
	values := []uintptr{uintptr(unsafe.Pointer(&logBuf[0])), logSize}

	if err := g.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	r := g.d.cuModuleLoadDataEx(&g.mod, &image[0], uint32(len(options)), &options[0], &values[0])
	runtime.KeepAlive(logBuf)
	if err := g.d.check("cuModuleLoadDataEx", r); err != nil {
		g.mod = 0
		if log := strings.TrimSpace(cString(logBuf)); log != "" {
			return fmt.Errorf("%w:\n%s", err, log)
		}
		return err
	}
	return nil
}

// enter locks the calling goroutine to its OS thread and makes g's
// context current on it. Unless it fails, the caller must call
// runtime.UnlockOSThread when done with the driver.
func (g *GPU) enter() error {
	if g.ctx == 0 {
		return errClosed
	}
	runtime.LockOSThread()
	if err := g.d.check("cuCtxSetCurrent", g.d.cuCtxSetCurrent(g.ctx)); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	return nil
}

// Name describes the device as "cuda:ORDINAL (NAME, MEMORY GiB, ARCH)",
// e.g. "cuda:0 (NVIDIA H100 80GB HBM3, 79.1 GiB, sm_90)".
func (g *GPU) Name() string {
	i := g.info
	return fmt.Sprintf("cuda:%d (%s, %.1f GiB, %s)", i.Ordinal, i.Name, float64(i.TotalMemory)/(1<<30), i.Arch())
}

// Info describes the device, with its memory free at the time of the call
// (0 where the driver cannot tell).
func (g *GPU) Info() GPUInfo {
	i := g.info
	if g.enter() == nil {
		var free, total uintptr
		if g.d.cuMemGetInfo(&free, &total) == 0 {
			i.FreeMemory = int64(free)
		}
		runtime.UnlockOSThread()
	}
	return i
}

// PeakBandwidth returns the device's theoretical peak bandwidth of global
// memory in bytes per second, or 0 where unknown (see
// GPUInfo.PeakBandwidth).
func (g *GPU) PeakBandwidth() float64 { return g.info.PeakBandwidth() }

// NewQueue returns a new Stream of the device as a Queue.
func (g *GPU) NewQueue() (Queue, error) {
	s, err := g.NewStream()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// function returns the kernel of g's module called name.
func (g *GPU) function(name string) (uintptr, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.funcs[name]; ok {
		return f, nil
	}
	if g.mod == 0 {
		return 0, fmt.Errorf("cuda: kernel %s: no module loaded", name)
	}
	var f uintptr
	if err := g.d.check("cuModuleGetFunction", g.d.cuModuleGetFunction(&f, g.mod, name)); err != nil {
		return 0, fmt.Errorf("%w (kernel %s)", err, name)
	}
	g.funcs[name] = f
	return f, nil
}

// Close waits for the work on the device, unloads the module and releases
// the primary context. The GPU's Streams and Events must be closed first.
// Closing a closed GPU does nothing.
func (g *GPU) Close() error {
	if g.ctx == 0 {
		return nil
	}
	var errs []error
	if err := g.enter(); err != nil {
		errs = append(errs, err)
	} else {
		errs = append(errs, g.d.check("cuCtxSynchronize", g.d.cuCtxSynchronize()))
		if g.mod != 0 {
			errs = append(errs, g.d.check("cuModuleUnload", g.d.cuModuleUnload(g.mod)))
		}
		runtime.UnlockOSThread()
	}
	errs = append(errs, g.d.check("cuDevicePrimaryCtxRelease_v2", g.d.cuDevicePrimaryCtxRelease(g.dev)))
	g.ctx, g.mod = 0, 0
	g.mu.Lock()
	clear(g.funcs)
	g.mu.Unlock()
	return errors.Join(errs...)
}
