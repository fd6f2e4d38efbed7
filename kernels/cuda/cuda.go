// Package cuda is the GPU backend of batchrun: a thin binding of the CUDA
// driver API, loaded at run time with purego (no cgo, no CUDA at build
// time), and the CUDA C kernels of the zo hot loop, compiled to PTX ahead of
// time and embedded in the binary (see PTX).
//
// A program finds a GPU with Load and Driver.Open; where libcuda.so.1 or a
// device is missing, those return an error wrapping ErrNoDevice, and the
// caller runs on the CPU instead. A Device hands out Queues: in-order queues
// of device work (a CUDA stream with the embedded module loaded), the only
// thing a batched computation needs of a GPU. The same Queue interface is
// implemented by package cuda/emu, which runs the kernels' CUDA C sources on
// the host, compiled by a C++ compiler, so that the orchestration and the
// kernels are tested on machines without a GPU.
//
// Kernel arguments travel as 64-bit slots, one per parameter, holding the
// value in its low bytes (I32, U32, F32, F64, U64, or a Ptr): the driver
// reads each parameter's own size from the start of its slot, which on a
// little-endian machine is the value.
package cuda

import (
	"errors"
	"math"
	"unsafe"
)

// Ptr is a device address (CUdeviceptr). The zero Ptr is no allocation.
type Ptr uint64

// Dim is a grid or block shape; zero components count as 1.
type Dim struct{ X, Y, Z int }

// D1 returns the one-dimensional shape n.
func D1(n int) Dim { return Dim{X: n} }

// Count returns X*Y*Z with zero components counted as 1.
func (d Dim) Count() int { return max(d.X, 1) * max(d.Y, 1) * max(d.Z, 1) }

// Grid returns the one-dimensional grid of blocks of per threads that
// covers n threads (at least one block).
func Grid(n, per int) Dim { return D1(max(1, (n+per-1)/per)) }

// Argument slots of a kernel launch, one per kernel parameter.
func I32(v int) uint64     { return uint64(uint32(int32(v))) }
func U64(v uint64) uint64  { return v }
func F32(v float32) uint64 { return uint64(math.Float32bits(v)) }
func F64(v float64) uint64 { return math.Float64bits(v) }

// Arg returns the argument slot of a pointer parameter.
func (p Ptr) Arg() uint64 { return uint64(p) }

// Add returns p advanced by b bytes.
func (p Ptr) Add(b int64) Ptr { return p + Ptr(b) }

// Bytes views a slice of plain values (numbers, bools) as its bytes, for
// Upload and Download.
func Bytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0])))
}

// Sentinel errors, wrapped by the errors of the binding and the emulator.
var (
	// ErrNoDevice: no CUDA driver library, or no device it can use.
	ErrNoDevice = errors.New("no CUDA device")
	// ErrOutOfMemory: the device has not enough free memory for an
	// allocation (CUDA_ERROR_OUT_OF_MEMORY); a batched computation splits
	// its seeds and tries again.
	ErrOutOfMemory = errors.New("out of device memory")
)

// Device is one GPU (or its emulation) with the zo kernels loaded.
type Device interface {
	// Name describes the device, e.g. "cuda:0 (NVIDIA H100 80GB HBM3,
	// 79.1 GiB, sm_90)".
	Name() string
	// NewQueue returns a new in-order queue of work on the device.
	NewQueue() (Queue, error)
	// Close releases the device; its queues must be closed first.
	Close() error
}

// Queue is an in-order queue of device work: allocations, copies and
// kernel launches run in the order they are issued. Copies are
// synchronous (they wait for the work issued before them); launches are
// asynchronous, and Sync waits for them. A Queue is used by one goroutine
// at a time.
type Queue interface {
	// Alloc returns bytes of zeroed device memory; an error wraps
	// ErrOutOfMemory when the device has too little left.
	Alloc(bytes int64) (Ptr, error)
	Free(p Ptr) error
	// Upload copies src to the device at dst; Download copies from the
	// device at src into dst.
	Upload(dst Ptr, src []byte) error
	Download(dst []byte, src Ptr) error
	// Zero sets bytes of device memory at p to zero.
	Zero(p Ptr, bytes int64) error
	// Launch runs the named kernel of the zo module on grid x block
	// threads with the given argument slots (see the package doc).
	Launch(kernel string, grid, block Dim, args ...uint64) error
	// Sync waits until all work issued so far has completed and returns
	// the first error it raised.
	Sync() error
	// Close waits for the queue's work and releases it, with all the
	// memory it allocated that was not freed.
	Close() error
}
