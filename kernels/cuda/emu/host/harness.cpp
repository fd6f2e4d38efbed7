// harness.cpp: the process side of package kernels/cuda/emu. It is linked
// with a generated translation unit that defines the kernel table
// (emu_kernel_table, emu_kernel_count) and serves requests on standard input
// and output:
//
//   request: u32 op, then by op
//     alloc     u64 bytes                   reply: u64 pointer
//     free      u64 pointer
//     upload    u64 dst, u64 n, n bytes
//     download  u64 src, u64 n              reply: n bytes
//     zero      u64 pointer, u64 n
//     launch    u32 name length, name, u32 grid x y z, u32 block x y z,
//               u32 argument count, u64 slots
//     quit
//   reply: u32 status (0 ok, 1 error, 2 out of memory), u32 message
//          length, message, then the payload when the status is 0.
//
// All integers are little-endian. The process writes a hello (u32 magic,
// u32 kernel count) when it is ready. Standard output is moved to a private
// descriptor and descriptor 1 is pointed at standard error, so that printf
// in a kernel cannot corrupt the protocol.
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

#include "cuda_emu.h"

#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_ASAN 1
#endif
#endif

#ifdef EMU_ASAN
#include <sanitizer/common_interface_defs.h>
extern "C" const char *__asan_default_options() { return "detect_leaks=0"; }
#endif

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the emulator protocol is little-endian");

extern const emu_rt::KernelEntry emu_kernel_table[];
extern const std::size_t emu_kernel_count;

namespace emu_rt {

uint3 thread_idx, block_idx;
dim3 block_dim, grid_dim;

namespace {

enum Op : uint32_t { OpAlloc = 1, OpFree, OpUpload, OpDownload, OpZero, OpLaunch, OpQuit };
enum Status : uint32_t { StatusOK = 0, StatusError = 1, StatusOOM = 2 };
constexpr uint32_t kMagic = 0x756d6521; // "!emu"
constexpr std::size_t kAlign = 256;
constexpr unsigned kMaxBlock = 1024;
#ifdef EMU_ASAN
constexpr std::size_t kStackSize = 1 << 20;
#else
constexpr std::size_t kStackSize = 256 << 10;
#endif

// Abort ends a launch with an error.
struct Abort {
	std::string msg;
};

std::string format(const char *f, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char *f, ...) {
	char buf[512];
	va_list ap;
	va_start(ap, f);
	vsnprintf(buf, sizeof buf, f, ap);
	va_end(ap);
	return buf;
}

// The launch in progress.
const KernelEntry *cur_kernel;
bool cur_fiber_mode;

// Fiber is a thread of a block run as a coroutine.
struct Fiber {
	ucontext_t ctx;
	char *stack; // usable stack (a guard page below)
	bool done;
	uint3 idx;
};

std::vector<Fiber> fibers; // stacks allocated once, reused
ucontext_t sched_ctx;
Fiber *cur_fiber;
const Invoker *cur_inv;
std::string fiber_err;
bool fiber_failed;

#ifdef EMU_ASAN
void *sched_fake_stack;
const void *sched_stack_bottom;
std::size_t sched_stack_size;
#endif

// switch_to_fiber resumes f from the scheduler.
void switch_to_fiber(Fiber *f) {
	cur_fiber = f;
	thread_idx = f->idx;
#ifdef EMU_ASAN
	__sanitizer_start_switch_fiber(&sched_fake_stack, f->stack, kStackSize);
#endif
	swapcontext(&sched_ctx, &f->ctx);
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(sched_fake_stack, nullptr, nullptr);
#endif
	cur_fiber = nullptr;
}

// switch_to_scheduler suspends the running fiber (for good when done).
void switch_to_scheduler(bool done) {
	Fiber *f = cur_fiber;
#ifdef EMU_ASAN
	void *fake = nullptr;
	__sanitizer_start_switch_fiber(done ? nullptr : &fake, sched_stack_bottom, sched_stack_size);
#endif
	swapcontext(&f->ctx, &sched_ctx);
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(fake, &sched_stack_bottom, &sched_stack_size);
#endif
}

void fiber_main() {
#ifdef EMU_ASAN
	__sanitizer_finish_switch_fiber(nullptr, &sched_stack_bottom, &sched_stack_size);
#endif
	try {
		cur_inv->call(cur_inv->ctx);
	} catch (Abort &a) {
		fiber_err = a.msg;
		fiber_failed = true;
	}
	cur_fiber->done = true;
	switch_to_scheduler(true);
	std::abort(); // never resumed
}

void ensure_fibers(std::size_t n) {
	long page = sysconf(_SC_PAGESIZE);
	while (fibers.size() < n) {
		std::size_t size = kStackSize + std::size_t(page);
		void *m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m == MAP_FAILED) {
			throw Abort{"cannot allocate a thread stack"};
		}
		mprotect(m, std::size_t(page), PROT_NONE); // guard page: an overflow faults
		Fiber f{};
		f.stack = static_cast<char *>(m) + page;
		fibers.push_back(f);
	}
}

std::string where() {
	return format("block (%u,%u,%u) thread (%u,%u,%u)", block_idx.x, block_idx.y, block_idx.z, thread_idx.x,
	              thread_idx.y, thread_idx.z);
}

// run_block_fibers runs the threads of the current block as coroutines,
// round after round: each round runs every unfinished thread to its next
// __syncthreads or its end.
void run_block_fibers(const Invoker &inv) {
	unsigned n = block_dim.x * block_dim.y * block_dim.z;
	ensure_fibers(n);
	cur_inv = &inv;
	fiber_failed = false;
	for (unsigned t = 0; t < n; t++) {
		Fiber &f = fibers[t];
		f.done = false;
		f.idx = uint3{t % block_dim.x, (t / block_dim.x) % block_dim.y, t / (block_dim.x * block_dim.y)};
		getcontext(&f.ctx);
		f.ctx.uc_stack.ss_sp = f.stack;
		f.ctx.uc_stack.ss_size = kStackSize;
		f.ctx.uc_link = nullptr;
		makecontext(&f.ctx, fiber_main, 0);
	}
	for (unsigned left = n; left > 0;) {
		left = 0;
		for (unsigned t = 0; t < n; t++) {
			Fiber &f = fibers[t];
			if (f.done) {
				continue;
			}
			switch_to_fiber(&f);
			if (fiber_failed) {
				throw Abort{fiber_err};
			}
			if (!f.done) {
				left++;
			}
		}
	}
}

void run_block_loop(const Invoker &inv) {
	for (unsigned z = 0; z < block_dim.z; z++) {
		for (unsigned y = 0; y < block_dim.y; y++) {
			for (unsigned x = 0; x < block_dim.x; x++) {
				thread_idx = uint3{x, y, z};
				inv.call(inv.ctx);
			}
		}
	}
}

// ---- memory ----

std::map<uintptr_t, std::size_t> allocs; // start -> size

// find_range returns whether [p, p+n) lies in one allocation.
bool find_range(uint64_t p, uint64_t n) {
	auto it = allocs.upper_bound(uintptr_t(p));
	if (it == allocs.begin()) {
		return false;
	}
	--it;
	uint64_t start = it->first, size = it->second;
	return p >= start && n <= size && p - start <= size - n;
}

// ---- protocol ----

FILE *in;
FILE *out;

[[noreturn]] void die(const char *msg) {
	fprintf(stderr, "emu: %s\n", msg);
	std::_Exit(3);
}

void read_exact(void *p, std::size_t n) {
	if (n > 0 && fread(p, 1, n, in) != n) {
		if (feof(in)) {
			std::_Exit(0); // the parent went away
		}
		die("reading a request failed");
	}
}

uint32_t read_u32() {
	uint32_t v;
	read_exact(&v, sizeof v);
	return v;
}

uint64_t read_u64() {
	uint64_t v;
	read_exact(&v, sizeof v);
	return v;
}

void discard(uint64_t n) {
	char buf[1 << 16];
	while (n > 0) {
		std::size_t k = n < sizeof buf ? std::size_t(n) : sizeof buf;
		read_exact(buf, k);
		n -= k;
	}
}

void write_exact(const void *p, std::size_t n) {
	if (n > 0 && fwrite(p, 1, n, out) != n) {
		die("writing a reply failed");
	}
}

void reply(Status st, const std::string &msg = std::string()) {
	uint32_t h[2] = {st, uint32_t(msg.size())};
	write_exact(h, sizeof h);
	write_exact(msg.data(), msg.size());
}

void flush() {
	fflush(stdout); // kernel printf output
	if (fflush(out) != 0) {
		die("writing a reply failed");
	}
}

void do_alloc() {
	uint64_t n = read_u64();
	void *p = nullptr;
	if (n == 0 || n > (uint64_t(1) << 48)) {
		reply(StatusError, format("invalid size %llu", (unsigned long long)n));
		return;
	}
	if (posix_memalign(&p, kAlign, std::size_t(n)) != 0 || p == nullptr) {
		reply(StatusOOM, format("cannot allocate %llu bytes of host memory", (unsigned long long)n));
		return;
	}
	std::memset(p, 0, std::size_t(n));
	allocs[uintptr_t(p)] = std::size_t(n);
	reply(StatusOK);
	uint64_t v = uintptr_t(p);
	write_exact(&v, sizeof v);
}

void do_free() {
	uint64_t p = read_u64();
	auto it = allocs.find(uintptr_t(p));
	if (it == allocs.end()) {
		reply(StatusError, "not the start of a live allocation");
		return;
	}
	allocs.erase(it);
	std::free(reinterpret_cast<void *>(uintptr_t(p)));
	reply(StatusOK);
}

std::string range_error(uint64_t p, uint64_t n) {
	return format("[0x%llx, +%llu bytes) is not inside one allocation", (unsigned long long)p, (unsigned long long)n);
}

void do_upload() {
	uint64_t p = read_u64(), n = read_u64();
	if (!find_range(p, n)) {
		discard(n);
		reply(StatusError, range_error(p, n));
		return;
	}
	read_exact(reinterpret_cast<void *>(uintptr_t(p)), std::size_t(n));
	reply(StatusOK);
}

void do_download() {
	uint64_t p = read_u64(), n = read_u64();
	if (!find_range(p, n)) {
		reply(StatusError, range_error(p, n));
		return;
	}
	reply(StatusOK);
	write_exact(reinterpret_cast<const void *>(uintptr_t(p)), std::size_t(n));
}

void do_zero() {
	uint64_t p = read_u64(), n = read_u64();
	if (!find_range(p, n)) {
		reply(StatusError, range_error(p, n));
		return;
	}
	std::memset(reinterpret_cast<void *>(uintptr_t(p)), 0, std::size_t(n));
	reply(StatusOK);
}

void do_launch() {
	uint32_t len = read_u32();
	if (len > 4096) {
		die("kernel name too long");
	}
	std::string name(len, '\0');
	read_exact(name.data(), len);
	uint32_t d[6];
	read_exact(d, sizeof d);
	uint32_t nargs = read_u32();
	if (nargs > 4096) {
		die("too many kernel arguments");
	}
	std::vector<uint64_t> slots(nargs);
	read_exact(slots.data(), nargs * sizeof(uint64_t));

	const KernelEntry *k = nullptr;
	for (std::size_t i = 0; i < emu_kernel_count; i++) {
		if (name == emu_kernel_table[i].name) {
			k = &emu_kernel_table[i];
			break;
		}
	}
	if (k == nullptr) {
		reply(StatusError, format("no kernel %s in the module", name.c_str()));
		return;
	}
	if (int(nargs) != k->launcher.arity) {
		reply(StatusError, format("kernel %s takes %d arguments, got %u", k->name, k->launcher.arity, nargs));
		return;
	}
	for (uint32_t v : d) {
		if (v == 0) {
			reply(StatusError, "zero grid or block dimension");
			return;
		}
	}
	if (uint64_t(d[3]) * d[4] * d[5] > kMaxBlock) {
		reply(StatusError, format("block of %llu threads (at most %u)", (unsigned long long)d[3] * d[4] * d[5], kMaxBlock));
		return;
	}
	grid_dim = dim3(d[0], d[1], d[2]);
	block_dim = dim3(d[3], d[4], d[5]);
	block_idx = uint3{0, 0, 0};
	thread_idx = uint3{0, 0, 0};
	cur_kernel = k;
	cur_fiber_mode = k->barrier;
	try {
		k->launcher.run(k->launcher.fn, slots.data());
	} catch (Abort &a) {
		cur_kernel = nullptr;
		reply(StatusError, a.msg);
		return;
	}
	cur_kernel = nullptr;
	reply(StatusOK);
}

// ---- crash reports ----

#ifndef EMU_ASAN
char alt_stack[64 << 10];

void on_fatal(int sig) {
	char buf[512];
	const KernelEntry *k = cur_kernel;
	int n;
	if (k != nullptr) {
		n = snprintf(buf, sizeof buf, "emu: %s in kernel %s, block (%u,%u,%u) thread (%u,%u,%u)\n", strsignal(sig),
		             k->name, block_idx.x, block_idx.y, block_idx.z, thread_idx.x, thread_idx.y, thread_idx.z);
	} else {
		n = snprintf(buf, sizeof buf, "emu: %s outside a kernel\n", strsignal(sig));
	}
	if (n > 0) {
		ssize_t w = write(2, buf, std::size_t(n) < sizeof buf ? std::size_t(n) : sizeof buf - 1);
		(void)w;
	}
	// SA_RESETHAND restored the default action: returning re-raises.
	if (sig == SIGABRT) {
		raise(sig);
	}
}

void install_handlers() {
	stack_t ss{};
	ss.ss_sp = alt_stack;
	ss.ss_size = sizeof alt_stack;
	sigaltstack(&ss, nullptr);
	struct sigaction sa {};
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
		sigaction(sig, &sa, nullptr);
	}
}
#else
void install_handlers() {}
#endif

} // namespace

void syncthreads() {
	if (!cur_fiber_mode || cur_fiber == nullptr) {
		throw Abort{format("kernel %s calls __syncthreads but is not flagged Barrier (%s)",
		                   cur_kernel ? cur_kernel->name : "?", where().c_str())};
	}
	switch_to_scheduler(false);
	thread_idx = cur_fiber->idx;
}

void trap() {
	throw Abort{format("kernel %s executed __trap (%s)", cur_kernel ? cur_kernel->name : "?", where().c_str())};
}

void run_grid(const Invoker &inv) {
	for (unsigned z = 0; z < grid_dim.z; z++) {
		for (unsigned y = 0; y < grid_dim.y; y++) {
			for (unsigned x = 0; x < grid_dim.x; x++) {
				block_idx = uint3{x, y, z};
				if (cur_fiber_mode) {
					run_block_fibers(inv);
				} else {
					run_block_loop(inv);
				}
			}
		}
	}
}

} // namespace emu_rt

int main() {
	using namespace emu_rt;
	int fd = dup(1);
	if (fd < 0 || dup2(2, 1) < 0) {
		die("cannot set up the protocol descriptors");
	}
	in = stdin;
	out = fdopen(fd, "wb");
	if (out == nullptr) {
		die("cannot open the reply stream");
	}
	static char inbuf[1 << 16], outbuf[1 << 16];
	setvbuf(in, inbuf, _IOFBF, sizeof inbuf);
	setvbuf(out, outbuf, _IOFBF, sizeof outbuf);
	install_handlers();

	uint32_t hello[2] = {kMagic, uint32_t(emu_kernel_count)};
	write_exact(hello, sizeof hello);
	flush();
	for (;;) {
		uint32_t op = read_u32();
		switch (op) {
		case OpAlloc:
			do_alloc();
			break;
		case OpFree:
			do_free();
			break;
		case OpUpload:
			do_upload();
			break;
		case OpDownload:
			do_download();
			break;
		case OpZero:
			do_zero();
			break;
		case OpLaunch:
			do_launch();
			break;
		case OpQuit:
			reply(StatusOK);
			flush();
			return 0;
		default:
			die("unknown request");
		}
		flush();
	}
}
