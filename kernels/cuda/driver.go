package cuda

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// Driver is the CUDA driver library (libcuda), opened and initialized.
// Its methods are safe for concurrent use. A Driver is never closed: the
// library stays loaded for the life of the process.
type Driver struct {
	lib     string // the path the library was opened by
	version int    // cuDriverGetVersion

	// Entry points of the library, registered by purego. Handles
	// (CUcontext, CUmodule, CUfunction, CUstream, CUevent) are uintptr,
	// device addresses (CUdeviceptr) uint64, CUdevice and C ints int32,
	// size_t uintptr; every function returns a CUresult.
	cuInit                     func(flags uint32) uint32
	cuDriverGetVersion         func(version *int32) uint32
	cuGetErrorName             func(code uint32, str **byte) uint32
	cuGetErrorString           func(code uint32, str **byte) uint32
	cuDeviceGetCount           func(count *int32) uint32
	cuDeviceGet                func(dev *int32, ordinal int32) uint32
	cuDeviceGetName            func(name *byte, size int32, dev int32) uint32
	cuDeviceGetAttribute       func(value *int32, attr int32, dev int32) uint32
	cuDeviceTotalMem           func(bytes *uintptr, dev int32) uint32
	cuDevicePrimaryCtxSetFlags func(dev int32, flags uint32) uint32
	cuDevicePrimaryCtxRetain   func(ctx *uintptr, dev int32) uint32
	cuDevicePrimaryCtxRelease  func(dev int32) uint32
	cuCtxSetCurrent            func(ctx uintptr) uint32
	cuCtxSynchronize           func() uint32
	cuMemGetInfo               func(free, total *uintptr) uint32
	cuModuleLoadDataEx         func(mod *uintptr, image *byte, n uint32, options *int32, values *uintptr) uint32
	cuModuleUnload             func(mod uintptr) uint32
	cuModuleGetFunction        func(fn *uintptr, mod uintptr, name string) uint32
	cuStreamCreate             func(stream *uintptr, flags uint32) uint32
	cuStreamDestroy            func(stream uintptr) uint32
	cuStreamSynchronize        func(stream uintptr) uint32
	cuMemAlloc                 func(p *uint64, bytes uintptr) uint32
	cuMemFree                  func(p uint64) uint32
	cuMemcpyHtoDAsync          func(dst uint64, src unsafe.Pointer, bytes uintptr, stream uintptr) uint32
	cuMemcpyDtoHAsync          func(dst unsafe.Pointer, src uint64, bytes uintptr, stream uintptr) uint32
	cuMemsetD8Async            func(dst uint64, value uint8, n uintptr, stream uintptr) uint32
	cuLaunchKernel             func(fn uintptr, gx, gy, gz, bx, by, bz, sharedMem uint32, stream uintptr, params *unsafe.Pointer, extra uintptr) uint32
	cuEventCreate              func(event *uintptr, flags uint32) uint32
	cuEventRecord              func(event, stream uintptr) uint32
	cuEventSynchronize         func(event uintptr) uint32
	cuEventElapsedTime         func(ms *float32, start, end uintptr) uint32
	cuEventDestroy             func(event uintptr) uint32
}

// symbols returns the entry points of d by their exported names.
func (d *Driver) symbols() []struct {
	name string
	fn   any
} {
	return []struct {
		name string
		fn   any
	}{
		{"cuInit", &d.cuInit},
		{"cuDriverGetVersion", &d.cuDriverGetVersion},
		{"cuGetErrorName", &d.cuGetErrorName},
		{"cuGetErrorString", &d.cuGetErrorString},
		{"cuDeviceGetCount", &d.cuDeviceGetCount},
		{"cuDeviceGet", &d.cuDeviceGet},
		{"cuDeviceGetName", &d.cuDeviceGetName},
		{"cuDeviceGetAttribute", &d.cuDeviceGetAttribute},
		{"cuDeviceTotalMem_v2", &d.cuDeviceTotalMem},
		{"cuDevicePrimaryCtxSetFlags_v2", &d.cuDevicePrimaryCtxSetFlags},
		{"cuDevicePrimaryCtxRetain", &d.cuDevicePrimaryCtxRetain},
		{"cuDevicePrimaryCtxRelease_v2", &d.cuDevicePrimaryCtxRelease},
		{"cuCtxSetCurrent", &d.cuCtxSetCurrent},
		{"cuCtxSynchronize", &d.cuCtxSynchronize},
		{"cuMemGetInfo_v2", &d.cuMemGetInfo},
		{"cuModuleLoadDataEx", &d.cuModuleLoadDataEx},
		{"cuModuleUnload", &d.cuModuleUnload},
		{"cuModuleGetFunction", &d.cuModuleGetFunction},
		{"cuStreamCreate", &d.cuStreamCreate},
		{"cuStreamDestroy_v2", &d.cuStreamDestroy},
		{"cuStreamSynchronize", &d.cuStreamSynchronize},
		{"cuMemAlloc_v2", &d.cuMemAlloc},
		{"cuMemFree_v2", &d.cuMemFree},
		{"cuMemcpyHtoDAsync_v2", &d.cuMemcpyHtoDAsync},
		{"cuMemcpyDtoHAsync_v2", &d.cuMemcpyDtoHAsync},
		{"cuMemsetD8Async", &d.cuMemsetD8Async},
		{"cuLaunchKernel", &d.cuLaunchKernel},
		{"cuEventCreate", &d.cuEventCreate},
		{"cuEventRecord", &d.cuEventRecord},
		{"cuEventSynchronize", &d.cuEventSynchronize},
		{"cuEventElapsedTime", &d.cuEventElapsedTime},
		{"cuEventDestroy_v2", &d.cuEventDestroy},
	}
}

// Load opens the CUDA driver library of the system, libcuda.so.1 (or
// libcuda.so where only that is installed), and initializes it. Where
// the library is missing, lacks an entry point, or finds no device it can
// use, the error wraps ErrNoDevice and says why in one line.
func Load() (*Driver, error) {
	h, err := dlopen("libcuda.so.1")
	if err != nil {
		h2, err2 := dlopen("libcuda.so")
		if err2 != nil {
			return nil, openError("libcuda.so.1", err)
		}
		return load("libcuda.so", h2)
	}
	return load("libcuda.so.1", h)
}

// LoadFrom is like Load but opens the driver library at path.
func LoadFrom(path string) (*Driver, error) {
	h, err := dlopen(path)
	if err != nil {
		return nil, openError(path, err)
	}
	return load(path, h)
}

// openError is the error of a library that could not be opened.
func openError(path string, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, path) {
		msg = path + ": " + msg
	}
	return fmt.Errorf("cuda: %s: %w", msg, ErrNoDevice)
}

// load registers the entry points of the library with handle h, opened
// from path, and initializes it.
func load(path string, h uintptr) (*Driver, error) {
	d := &Driver{lib: path}
	syms := d.symbols()
	addrs := make([]uintptr, len(syms))
	var missing []string
	for i, s := range syms {
		a, err := dlsym(h, s.name)
		if err != nil || a == 0 {
			missing = append(missing, s.name)
		}
		addrs[i] = a
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cuda: %s: no symbol %s: %w", path, strings.Join(missing, ", "), ErrNoDevice)
	}
	for i, s := range syms {
		register(s.fn, addrs[i])
	}
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		// Any failure of cuInit leaves no device to use.
		if errors.Is(err, ErrNoDevice) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (%w)", err, ErrNoDevice)
	}
	var v int32
	if err := d.check("cuDriverGetVersion", d.cuDriverGetVersion(&v)); err != nil {
		return nil, err
	}
	d.version = int(v)
	return d, nil
}

// Library returns the path the driver library was opened by.
func (d *Driver) Library() string { return d.lib }

// Version returns the CUDA version of the driver, 1000*major + 10*minor
// (13000 for CUDA 13.0).
func (d *Driver) Version() int { return d.version }

// Devices returns the number of CUDA devices the driver can use.
func (d *Driver) Devices() (int, error) {
	var n int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// Error is a failed call of the CUDA driver API.
type Error struct {
	Call    string // the entry point, e.g. "cuMemAlloc_v2"
	Code    int    // the CUresult
	Name    string // e.g. "CUDA_ERROR_OUT_OF_MEMORY"; empty where the driver does not know the code
	Message string // e.g. "out of memory"; may be empty
}

// Error returns e as "cuda: CALL: NAME: MESSAGE", with the number of the
// code where the driver has no name for it.
func (e *Error) Error() string {
	name := e.Name
	if name == "" {
		name = "CUDA error " + strconv.Itoa(e.Code)
	}
	s := "cuda: " + e.Call + ": " + name
	if e.Message != "" && e.Message != e.Name {
		s += ": " + e.Message
	}
	return s
}

// CUresult codes that map to the package's sentinel errors.
const (
	cudaErrorOutOfMemory        = 2
	cudaErrorInsufficientDriver = 35
	cudaErrorNoDevice           = 100
)

// Is reports whether e is an instance of target: ErrOutOfMemory for
// CUDA_ERROR_OUT_OF_MEMORY, ErrNoDevice for CUDA_ERROR_NO_DEVICE and
// CUDA_ERROR_INSUFFICIENT_DRIVER.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrOutOfMemory:
		return e.Code == cudaErrorOutOfMemory
	case ErrNoDevice:
		return e.Code == cudaErrorNoDevice || e.Code == cudaErrorInsufficientDriver
	}
	return false
}

// check returns nil if r is CUDA_SUCCESS, else the *Error of call.
func (d *Driver) check(call string, r uint32) error {
	if r == 0 {
		return nil
	}
	e := &Error{Call: call, Code: int(r)}
	var s *byte
	if d.cuGetErrorName(r, &s) == 0 {
		e.Name = goString(s)
	}
	s = nil
	if d.cuGetErrorString(r, &s) == 0 {
		e.Message = goString(s)
	}
	return e
}

// goString copies the NUL-terminated C string at p.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// cString returns the bytes of the NUL-terminated C string in b.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// errClosed is returned by the methods of a closed GPU, Stream or Event.
var errClosed = errors.New("cuda: use of a closed handle")
