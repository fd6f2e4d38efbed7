// Package emu runs CUDA C kernels on the host, for testing a GPU backend on
// machines without a GPU. Open compiles a .cu file with the host's C++
// compiler (g++ or clang++, C++20) against a small header that maps CUDA C
// onto C++ (host/cuda_emu.h), links it with a harness (host/harness.cpp)
// and starts the result as a child process; the returned Device implements cuda.Device, so
// the code that drives a GPU drives the emulator unchanged: the same
// allocations, copies, launches and argument slots.
//
// The emulator runs a launch's blocks one after another and the threads of
// a block one at a time, in order of their index: it checks what a kernel
// computes, not how fast, nor races between threads. Kernels that call
// __syncthreads must be flagged Barrier; their threads run as coroutines
// that switch at each barrier. Floating point follows the C++ compiler with
// contraction off (-ffp-contract=off), so a*b+c rounds twice, the _rn
// intrinsics are the correctly rounded operations, fmaf is fused, and math
// library functions (expf, log2, ...) are the C library's, which may differ
// from CUDA's in the last place.
//
// Device memory is host memory of the child process. A copy outside a live
// allocation is refused with an error; a kernel that traps or crashes is
// reported as an error naming the kernel and the thread, never as a crash
// of the calling program (out-of-bounds accesses that do not fault are
// caught only with Options.Sanitize). Options.MemoryLimit makes
// allocations fail with cuda.ErrOutOfMemory past a budget, to test what a
// program does when a GPU fills up.
//
// Builds are cached by the hash of everything that goes into them, in the
// user's cache directory (batchrun/emu), so only the first Open of a given
// source pays for the compiler.
package emu

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/batchrun/batchrun/kernels/cuda"
)

//go:embed host/cuda_emu.h
var header []byte

//go:embed host/harness.cpp
var harness []byte

// ErrNoCompiler is returned by Open where no C++ compiler is installed.
var ErrNoCompiler = errors.New("emu: no C++ compiler found (set CXX, or install g++)")

// Kernel names a kernel of the source (declared extern "C" __global__)
// and says whether it calls __syncthreads.
type Kernel struct {
	Name    string
	Barrier bool
}

// Options configure an emulated device.
type Options struct {
	// MemoryLimit is the device memory in bytes; an allocation that would
	// take the live total past it fails with cuda.ErrOutOfMemory. Zero
	// means no limit but the host's.
	MemoryLimit int64
	// Sanitize builds the kernels with AddressSanitizer and
	// UndefinedBehaviorSanitizer, so that an out-of-bounds access inside
	// an allocation's padding or an overflow is reported too (slower).
	Sanitize bool
	// CacheDir holds the built executables; empty means the user's cache
	// directory (or the temporary directory where there is none).
	CacheDir string
}

// Name is the name of every emulated device.
const Name = "emu (host emulation of the CUDA kernels)"

// Device is an emulated GPU: a child process running the compiled kernels.
// Its queues share the process and its memory; work runs synchronously in
// the order it is issued.
type Device struct {
	opt Options

	mu     sync.Mutex // guards everything below and the protocol
	cmd    *exec.Cmd
	in     *bufio.Writer
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *tailBuffer
	dead   error // set when the process is gone
	used   int64 // live allocated bytes
	queues int
	closed bool
}

// Open builds src (a .cu file; files it includes are looked up in its
// directory) with the given kernels and starts it. It returns ErrNoCompiler
// where there is no C++ compiler, and the compiler's messages where the
// build fails.
func Open(src string, kernels []Kernel, opt Options) (*Device, error) {
	if len(kernels) == 0 {
		return nil, errors.New("emu: no kernels")
	}
	if opt.MemoryLimit < 0 {
		return nil, fmt.Errorf("emu: MemoryLimit %d is negative", opt.MemoryLimit)
	}
	exe, err := build(src, kernels, opt)
	if err != nil {
		return nil, err
	}
	return start(exe, len(kernels), opt)
}

// compiler returns the C++ compiler to use: $CXX, else g++, else c++,
// else clang++.
func compiler() (string, error) {
	if cxx := strings.TrimSpace(os.Getenv("CXX")); cxx != "" {
		p, err := exec.LookPath(cxx)
		if err != nil {
			return "", fmt.Errorf("%w: CXX=%s: %v", ErrNoCompiler, cxx, err)
		}
		return p, nil
	}
	for _, name := range []string{"g++", "c++", "clang++"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoCompiler
}

// flags returns the compiler flags of a build.
func flags(opt Options) []string {
	f := []string{"-std=c++20", "-ffp-contract=off", "-fno-fast-math", "-w"}
	if opt.Sanitize {
		return append(f, "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=undefined")
	}
	return append(f, "-O2")
}

// kernelTable returns the generated translation unit: the source and the
// table of its kernels' launchers.
func kernelTable(src string, kernels []Kernel) []byte {
	var b bytes.Buffer
	b.WriteString("// Generated by package kernels/cuda/emu: the kernels of the source and their launchers.\n")
	b.WriteString("#include \"cuda_emu.h\"\n")
	fmt.Fprintf(&b, "#include %q\n", filepath.Base(src))
	b.WriteString("extern const emu_rt::KernelEntry emu_kernel_table[] = {\n")
	for _, k := range kernels {
		fmt.Fprintf(&b, "\t{%q, emu_rt::launcher(&%s), %t},\n", k.Name, k.Name, k.Barrier)
	}
	b.WriteString("};\n")
	fmt.Fprintf(&b, "extern const std::size_t emu_kernel_count = %d;\n", len(kernels))
	return b.Bytes()
}

// build compiles src with the harness, or finds the executable of an
// identical earlier build in the cache, and returns its path.
func build(src string, kernels []Kernel, opt Options) (string, error) {
	for _, k := range kernels {
		if !isIdent(k.Name) {
			return "", fmt.Errorf("emu: kernel name %q is not a C identifier", k.Name)
		}
	}
	cxx, err := compiler()
	if err != nil {
		return "", err
	}
	srcDir := filepath.Dir(src)
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("emu: %w", err)
	}
	table := kernelTable(src, kernels)

	// The key covers the compiler, its version, the flags, the harness,
	// the generated table and every file under the source's directory (the
	// includes).
	h := sha256.New()
	version, _ := exec.Command(cxx, "--version").Output()
	fmt.Fprintf(h, "%s\x00%s\x00%q\x00", cxx, version, flags(opt))
	for _, part := range [][]byte{header, harness, table} {
		fmt.Fprintf(h, "%d\x00", len(part))
		h.Write(part)
	}
	// WalkDir visits in lexical order: the key does not depend on the
	// file system's.
	err = filepath.WalkDir(srcDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(srcDir, path)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("emu: hash the sources: %w", err)
	}
	key := hex.EncodeToString(h.Sum(nil))[:24]

	cache := opt.CacheDir
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "batchrun", "emu")
		} else {
			cache = filepath.Join(os.TempDir(), "batchrun-emu")
		}
	}
	exe := filepath.Join(cache, "kernels-"+key)
	if fi, err := os.Stat(exe); err == nil && fi.Mode().IsRegular() {
		return exe, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("emu: cache directory: %w", err)
	}
	work, err := os.MkdirTemp(cache, "build-")
	if err != nil {
		return "", fmt.Errorf("emu: %w", err)
	}
	defer os.RemoveAll(work)
	for name, b := range map[string][]byte{"cuda_emu.h": header, "harness.cpp": harness, "kernels.cpp": table} {
		if err := os.WriteFile(filepath.Join(work, name), b, 0o644); err != nil {
			return "", fmt.Errorf("emu: %w", err)
		}
	}
	tmp := filepath.Join(work, "kernels")
	args := append(flags(opt), "-I", work, "-I", srcDir, "-o", tmp,
		filepath.Join(work, "harness.cpp"), filepath.Join(work, "kernels.cpp"))
	cmd := exec.Command(cxx, args...)
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("emu: compile %s with %s: %v\n%s", src, filepath.Base(cxx), err, tail(msg.String(), 8000))
	}
	// A rename is atomic: builds racing in parallel test binaries leave
	// one complete executable.
	if err := os.Rename(tmp, exe); err != nil {
		return "", fmt.Errorf("emu: %w", err)
	}
	return exe, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// tailBuffer keeps the last bytes written to it (the child's standard
// error, for crash reports).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 16 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = append(t.buf[:0:0], t.buf[len(t.buf)-tailMax:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// The protocol of harness.cpp.
const (
	opAlloc uint32 = iota + 1
	opFree
	opUpload
	opDownload
	opZero
	opLaunch
	opQuit

	statusOK    = 0
	statusError = 1
	statusOOM   = 2

	magic = 0x756d6521
)

func start(exe string, nkernels int, opt Options) (*Device, error) {
	cmd := exec.Command(exe)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("emu: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("emu: %w", err)
	}
	d := &Device{opt: opt, cmd: cmd, stdin: stdin, in: bufio.NewWriterSize(stdin, 1<<16),
		out: bufio.NewReaderSize(stdout, 1<<16), stderr: &tailBuffer{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emu: start %s: %w", exe, err)
	}
	var hello [2]uint32
	if err := binary.Read(d.out, binary.LittleEndian, &hello); err != nil {
		return nil, d.fail(fmt.Errorf("read hello: %w", err))
	}
	if hello[0] != magic || int(hello[1]) != nkernels {
		d.cmd.Process.Kill()
		d.cmd.Wait()
		return nil, fmt.Errorf("emu: %s is not a kernel process of %d kernels", exe, nkernels)
	}
	return d, nil
}

// fail marks the process dead after err broke the protocol, and returns
// the error with what the process said on its way out.
func (d *Device) fail(err error) error {
	if d.dead != nil {
		return d.dead
	}
	d.stdin.Close()
	d.cmd.Process.Kill()
	state := d.cmd.Wait()
	msg := d.stderr.String()
	if msg == "" && state != nil {
		msg = state.Error()
	}
	d.dead = fmt.Errorf("emu: the kernel process died (%v): %s", err, msg)
	return d.dead
}

// Name implements cuda.Device.
func (d *Device) Name() string { return Name }

// NewQueue implements cuda.Device.
func (d *Device) NewQueue() (cuda.Queue, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("emu: device closed")
	}
	d.queues++
	return &Queue{d: d, allocs: map[cuda.Ptr]int64{}}, nil
}

// Close stops the process. Its queues must be closed first.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	if d.queues > 0 {
		return fmt.Errorf("emu: close a device with %d open queues", d.queues)
	}
	d.closed = true
	if d.dead != nil {
		return nil
	}
	if _, err := d.call(opQuit, nil, nil); err != nil {
		return err
	}
	d.stdin.Close()
	if err := d.cmd.Wait(); err != nil {
		return fmt.Errorf("emu: the kernel process: %v: %s", err, d.stderr.String())
	}
	return nil
}

// MemoryInUse returns the bytes of emulated device memory allocated and
// not freed.
func (d *Device) MemoryInUse() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used
}

// call sends a request (op, then the words, then body) and reads its
// reply; payload, when not nil, receives the reply's payload of exactly
// its length. The error of a refused request is returned as a *requestError.
func (d *Device) call(op uint32, words []uint64, body []byte, payload ...[]byte) (st uint32, err error) {
	if d.dead != nil {
		return 0, d.dead
	}
	var buf [8]byte
	binary.LittleEndian.PutUint32(buf[:4], op)
	d.in.Write(buf[:4])
	for _, w := range words {
		binary.LittleEndian.PutUint64(buf[:], w)
		d.in.Write(buf[:])
	}
	d.in.Write(body)
	if err := d.in.Flush(); err != nil {
		return 0, d.fail(err)
	}
	var h [2]uint32
	if err := binary.Read(d.out, binary.LittleEndian, &h); err != nil {
		return 0, d.fail(err)
	}
	if h[1] > 1<<20 {
		return 0, d.fail(fmt.Errorf("reply message of %d bytes", h[1]))
	}
	msg := make([]byte, h[1])
	if _, err := io.ReadFull(d.out, msg); err != nil {
		return 0, d.fail(err)
	}
	if h[0] != statusOK {
		return h[0], &requestError{status: h[0], msg: string(msg)}
	}
	for _, p := range payload {
		if _, err := io.ReadFull(d.out, p); err != nil {
			return 0, d.fail(err)
		}
	}
	return statusOK, nil
}

type requestError struct {
	status uint32
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func (e *requestError) Is(target error) bool {
	return e.status == statusOOM && target == cuda.ErrOutOfMemory
}

// Queue is an in-order queue of an emulated device. Its work runs when it
// is issued, so Launch returns the kernel's own error and Sync has nothing
// to wait for.
type Queue struct {
	d      *Device
	allocs map[cuda.Ptr]int64
	closed bool
}

var _ cuda.Queue = (*Queue)(nil)
var _ cuda.Device = (*Device)(nil)

func (q *Queue) lock() error {
	q.d.mu.Lock()
	if q.closed {
		q.d.mu.Unlock()
		return errors.New("emu: queue closed")
	}
	return nil
}

// Alloc implements cuda.Queue.
func (q *Queue) Alloc(bytes int64) (cuda.Ptr, error) {
	if bytes <= 0 {
		return 0, fmt.Errorf("emu: alloc %d bytes: size must be positive", bytes)
	}
	if err := q.lock(); err != nil {
		return 0, err
	}
	defer q.d.mu.Unlock()
	d := q.d
	if lim := d.opt.MemoryLimit; lim > 0 && bytes > lim-d.used {
		return 0, fmt.Errorf("emu: alloc %d bytes with %d of %d in use: %w", bytes, d.used, lim, cuda.ErrOutOfMemory)
	}
	p := make([]byte, 8)
	if _, err := d.call(opAlloc, []uint64{uint64(bytes)}, nil, p); err != nil {
		return 0, fmt.Errorf("emu: alloc %d bytes: %w", bytes, err)
	}
	ptr := cuda.Ptr(binary.LittleEndian.Uint64(p))
	q.allocs[ptr] = bytes
	d.used += bytes
	return ptr, nil
}

// Free implements cuda.Queue; p must have come from this queue's Alloc.
func (q *Queue) Free(p cuda.Ptr) error {
	if err := q.lock(); err != nil {
		return err
	}
	defer q.d.mu.Unlock()
	return q.free(p)
}

func (q *Queue) free(p cuda.Ptr) error {
	n, ok := q.allocs[p]
	if !ok {
		return fmt.Errorf("emu: free 0x%x: not an allocation of this queue", uint64(p))
	}
	// The memory of a dead process is gone with it: only the books are
	// left to settle.
	if q.d.dead == nil {
		if _, err := q.d.call(opFree, []uint64{uint64(p)}, nil); err != nil && q.d.dead == nil {
			return fmt.Errorf("emu: free 0x%x: %w", uint64(p), err)
		}
	}
	delete(q.allocs, p)
	q.d.used -= n
	return nil
}

// Upload implements cuda.Queue.
func (q *Queue) Upload(dst cuda.Ptr, src []byte) error {
	if len(src) == 0 {
		return nil
	}
	if err := q.lock(); err != nil {
		return err
	}
	defer q.d.mu.Unlock()
	if _, err := q.d.call(opUpload, []uint64{uint64(dst), uint64(len(src))}, src); err != nil {
		return fmt.Errorf("emu: upload %d bytes: %w", len(src), err)
	}
	return nil
}

// Download implements cuda.Queue.
func (q *Queue) Download(dst []byte, src cuda.Ptr) error {
	if len(dst) == 0 {
		return nil
	}
	if err := q.lock(); err != nil {
		return err
	}
	defer q.d.mu.Unlock()
	if _, err := q.d.call(opDownload, []uint64{uint64(src), uint64(len(dst))}, nil, dst); err != nil {
		return fmt.Errorf("emu: download %d bytes: %w", len(dst), err)
	}
	return nil
}

// Zero implements cuda.Queue.
func (q *Queue) Zero(p cuda.Ptr, bytes int64) error {
	if bytes <= 0 {
		if bytes == 0 {
			return nil
		}
		return fmt.Errorf("emu: zero %d bytes: size must not be negative", bytes)
	}
	if err := q.lock(); err != nil {
		return err
	}
	defer q.d.mu.Unlock()
	if _, err := q.d.call(opZero, []uint64{uint64(p), uint64(bytes)}, nil); err != nil {
		return fmt.Errorf("emu: zero %d bytes: %w", bytes, err)
	}
	return nil
}

// Launch implements cuda.Queue. It runs the kernel to completion before
// it returns, and returns its error (an unknown kernel, a wrong argument
// count, a bad shape, __trap, or a crash, named with the thread).
func (q *Queue) Launch(kernel string, grid, block cuda.Dim, args ...uint64) error {
	if err := q.lock(); err != nil {
		return err
	}
	defer q.d.mu.Unlock()
	var body bytes.Buffer
	le := binary.LittleEndian
	body.Write(le.AppendUint32(nil, uint32(len(kernel))))
	body.WriteString(kernel)
	for _, v := range []int{grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z} {
		if v < 0 || v > 1<<31-1 {
			return fmt.Errorf("emu: launch %s: dimension %d out of range", kernel, v)
		}
		body.Write(le.AppendUint32(nil, uint32(max(v, 1))))
	}
	body.Write(le.AppendUint32(nil, uint32(len(args))))
	for _, a := range args {
		body.Write(le.AppendUint64(nil, a))
	}
	if _, err := q.d.call(opLaunch, nil, body.Bytes()); err != nil {
		return fmt.Errorf("emu: launch %s: %w", kernel, err)
	}
	return nil
}

// Sync implements cuda.Queue: work runs as it is issued, so there is
// nothing to wait for; it reports a dead process.
func (q *Queue) Sync() error {
	if err := q.lock(); err != nil {
		return err
	}
	defer q.d.mu.Unlock()
	return q.d.dead
}

// Close implements cuda.Queue: it frees what the queue allocated.
func (q *Queue) Close() error {
	if err := q.lock(); err != nil {
		return nil // closing twice is harmless
	}
	defer q.d.mu.Unlock()
	var first error
	for p := range q.allocs {
		if err := q.free(p); err != nil && first == nil {
			first = err
		}
	}
	q.closed = true
	q.d.queues--
	return first
}
