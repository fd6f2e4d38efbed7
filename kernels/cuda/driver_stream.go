package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// Stream is an in-order queue of work on a GPU: a CUDA stream that does
// not synchronize with the default stream. It implements Queue. A Stream
// is used by one goroutine at a time; different Streams of one GPU may be
// used concurrently.
type Stream struct {
	g      *GPU
	s      uintptr          // CUstream; 0 once closed
	allocs map[Ptr]int64    // live allocations, with their sizes
	slots  []uint64         // argument slots of the launch in progress
	params []unsafe.Pointer // kernelParams: pointers to the slots
}

var _ Queue = (*Stream)(nil)

// CU_STREAM_NON_BLOCKING: work on the stream does not synchronize with
// the legacy default stream.
const streamNonBlocking = 1

// NewStream returns a new Stream of the device.
func (g *GPU) NewStream() (*Stream, error) {
	if err := g.enter(); err != nil {
		return nil, err
	}
	defer runtime.UnlockOSThread()
	s := &Stream{g: g, allocs: make(map[Ptr]int64)}
	if err := g.d.check("cuStreamCreate", g.d.cuStreamCreate(&s.s, streamNonBlocking)); err != nil {
		return nil, err
	}
	return s, nil
}

// enter is GPU.enter for a Stream that must not be closed.
func (s *Stream) enter() error {
	if s.s == 0 {
		return errClosed
	}
	return s.g.enter()
}

// Alloc returns bytes (> 0) of device memory, zeroed on the stream. An
// error wraps ErrOutOfMemory where the device has too little free memory.
func (s *Stream) Alloc(bytes int64) (Ptr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("cuda: alloc of %d bytes", bytes)
	}
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer runtime.UnlockOSThread()
	d := s.g.d
	var p uint64
	if err := d.check("cuMemAlloc_v2", d.cuMemAlloc(&p, uintptr(bytes))); err != nil {
		return 0, fmt.Errorf("%w (allocating %d bytes on cuda:%d)", err, bytes, s.g.info.Ordinal)
	}
	if err := d.check("cuMemsetD8Async", d.cuMemsetD8Async(p, 0, uintptr(bytes), s.s)); err != nil {
		d.cuMemFree(p)
		return 0, err
	}
	s.allocs[Ptr(p)] = bytes
	return Ptr(p), nil
}

// Free frees memory allocated by Alloc of the same Stream. Freeing the
// zero Ptr does nothing.
func (s *Stream) Free(p Ptr) error {
	if p == 0 {
		return nil
	}
	if _, ok := s.allocs[p]; !ok {
		return fmt.Errorf("cuda: free of %#x: not allocated by this queue", uint64(p))
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	delete(s.allocs, p)
	return s.g.d.check("cuMemFree_v2", s.g.d.cuMemFree(uint64(p)))
}

// Upload copies src to the device at dst, after the work issued before
// it, and returns when the copy is done.
func (s *Stream) Upload(dst Ptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	var pin runtime.Pinner
	pin.Pin(&src[0])
	defer pin.Unpin()
	d := s.g.d
	if err := d.check("cuMemcpyHtoDAsync_v2", d.cuMemcpyHtoDAsync(uint64(dst), unsafe.Pointer(&src[0]), uintptr(len(src)), s.s)); err != nil {
		return fmt.Errorf("%w (%d bytes to %#x)", err, len(src), uint64(dst))
	}
	return d.check("cuStreamSynchronize", d.cuStreamSynchronize(s.s))
}

// Download copies len(dst) bytes from the device at src into dst, after
// the work issued before it, and returns when the copy is done.
func (s *Stream) Download(dst []byte, src Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	var pin runtime.Pinner
	pin.Pin(&dst[0])
	defer pin.Unpin()
	d := s.g.d
	if err := d.check("cuMemcpyDtoHAsync_v2", d.cuMemcpyDtoHAsync(unsafe.Pointer(&dst[0]), uint64(src), uintptr(len(dst)), s.s)); err != nil {
		return fmt.Errorf("%w (%d bytes from %#x)", err, len(dst), uint64(src))
	}
	return d.check("cuStreamSynchronize", d.cuStreamSynchronize(s.s))
}

// Zero sets bytes of device memory at p to zero, asynchronously.
func (s *Stream) Zero(p Ptr, bytes int64) error {
	if bytes == 0 {
		return nil
	}
	if bytes < 0 {
		return fmt.Errorf("cuda: zero of %d bytes", bytes)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	return s.g.d.check("cuMemsetD8Async", s.g.d.cuMemsetD8Async(uint64(p), 0, uintptr(bytes), s.s))
}

// Launch issues the named kernel of the GPU's module on grid x block
// threads, with no dynamic shared memory, and the given argument slots,
// one per kernel parameter (see the package doc). The launch is
// asynchronous: errors of the kernel's execution surface at a later Sync,
// copy or launch.
func (s *Stream) Launch(kernel string, grid, block Dim, args ...uint64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	f, err := s.g.function(kernel)
	if err != nil {
		return err
	}
	// The driver reads the parameters through kernelParams during the
	// call: the slots live in the Stream and are pinned for it.
	var params *unsafe.Pointer
	if len(args) > 0 {
		s.slots = append(s.slots[:0], args...)
		var pin runtime.Pinner
		pin.Pin(&s.slots[0])
		defer pin.Unpin()
		s.params = s.params[:0]
		for i := range s.slots {
			s.params = append(s.params, unsafe.Pointer(&s.slots[i]))
		}
		params = &s.params[0]
	}
	r := s.g.d.cuLaunchKernel(f,
		dim(grid.X), dim(grid.Y), dim(grid.Z),
		dim(block.X), dim(block.Y), dim(block.Z),
		0, s.s, params, 0)
	if err := s.g.d.check("cuLaunchKernel", r); err != nil {
		return fmt.Errorf("%w (kernel %s, grid %s, block %s)", err, kernel, dimString(grid), dimString(block))
	}
	return nil
}

// dim returns a Dim component for the driver, zero counted as 1.
func dim(n int) uint32 { return uint32(max(n, 1)) }

// dimString formats d as XxYxZ, zero components counted as 1.
func dimString(d Dim) string { return fmt.Sprintf("%dx%dx%d", dim(d.X), dim(d.Y), dim(d.Z)) }

// Sync waits for the work issued on the stream so far and returns the
// first error it raised.
func (s *Stream) Sync() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	return s.g.d.check("cuStreamSynchronize", s.g.d.cuStreamSynchronize(s.s))
}

// Close waits for the stream's work, frees the memory allocated on it
// that was not freed, and destroys the stream. Closing a closed Stream
// does nothing.
func (s *Stream) Close() error {
	if s.s == 0 {
		return nil
	}
	if err := s.g.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	d := s.g.d
	errs := []error{d.check("cuStreamSynchronize", d.cuStreamSynchronize(s.s))}
	for p := range s.allocs {
		errs = append(errs, d.check("cuMemFree_v2", d.cuMemFree(uint64(p))))
	}
	clear(s.allocs)
	errs = append(errs, d.check("cuStreamDestroy_v2", d.cuStreamDestroy(s.s)))
	s.s = 0
	return errors.Join(errs...)
}

// Event is a point in the work of a Stream, for timing it.
type Event struct {
	g  *GPU
	ev uintptr // CUevent; 0 once closed
}

// Record returns a new Event that completes when the work issued on the
// stream so far has completed.
func (s *Stream) Record() (*Event, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer runtime.UnlockOSThread()
	d := s.g.d
	e := &Event{g: s.g}
	if err := d.check("cuEventCreate", d.cuEventCreate(&e.ev, 0)); err != nil {
		return nil, err
	}
	if err := d.check("cuEventRecord", d.cuEventRecord(e.ev, s.s)); err != nil {
		d.cuEventDestroy(e.ev)
		return nil, err
	}
	return e, nil
}

// Elapsed waits for the later event to complete and returns the device
// time between e and it (with a resolution of about half a microsecond).
func (e *Event) Elapsed(later *Event) (time.Duration, error) {
	if e.ev == 0 || later.ev == 0 {
		return 0, errClosed
	}
	if err := e.g.enter(); err != nil {
		return 0, err
	}
	defer runtime.UnlockOSThread()
	d := e.g.d
	if err := d.check("cuEventSynchronize", d.cuEventSynchronize(later.ev)); err != nil {
		return 0, err
	}
	var ms float32
	if err := d.check("cuEventElapsedTime", d.cuEventElapsedTime(&ms, e.ev, later.ev)); err != nil {
		return 0, err
	}
	return time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

// Close releases the event. Closing a closed Event does nothing.
func (e *Event) Close() error {
	if e.ev == 0 {
		return nil
	}
	if err := e.g.enter(); err != nil {
		return err
	}
	defer runtime.UnlockOSThread()
	err := e.g.d.check("cuEventDestroy_v2", e.g.d.cuEventDestroy(e.ev))
	e.ev = 0
	return err
}
