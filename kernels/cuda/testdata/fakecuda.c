// fakecuda.c is a fake CUDA driver library for the tests of package cuda,
// built by them with gcc -shared -fPIC. It exports the entry points the
// binding uses, on host memory, with a behaviour the tests set through
// fake_set(key, value):
//
//	fail:NAME    the CUresult the entry point NAME returns (0: it works)
//	devices      the device count (1)
//	attr:N       the value of CUdevice_attribute N
//	totalmem     the memory of a device, bytes; freemem, the free memory
//	version      the driver version (13000)
//	now_us       the device clock, read by cuEventRecord
//	launch_us    how far each cuLaunchKernel advances now_us (0)
//
// and counters the tests read with fake_get(key): live:allocs,
// live:streams, live:events, live:modules, live:ctxrefs (references to
// primary contexts), ctx:flags (the last primary context flags set), calls:NAME, and of the last launch launch:grid.x ..
// launch:block.z, launch:shared, launch:stream, launch:nargs.
//
// A module is text of lines "kernel NAME SIZE...", one SIZE in bytes per
// parameter; any other line that is not empty or a "//" comment fails
// the load with CUDA_ERROR_INVALID_PTX and a log. cuLaunchKernel copies
// SIZE bytes of each parameter into a zeroed 8-byte slot, read by
// fake_last_args. Entry points that need a context fail with
// CUDA_ERROR_INVALID_CONTEXT unless a retained primary context is current
// on the calling thread, and those given a stream fail unless it was
// created in the current context. Compiling with -DFAKE_OMIT_cuLaunchKernel or
// -DFAKE_OMIT_cuMemsetD8Async leaves that entry point out.
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

enum {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_NOT_INITIALIZED = 3,
	CUDA_ERROR_INVALID_DEVICE = 101,
	CUDA_ERROR_INVALID_CONTEXT = 201,
	CUDA_ERROR_INVALID_PTX = 218,
	CUDA_ERROR_INVALID_HANDLE = 400,
	CUDA_ERROR_NOT_FOUND = 500,
	CUDA_ERROR_NOT_READY = 600,
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

// The settings and counters.
#define NKV 256
static struct {
	char key[64];
	long long val;
} kv[NKV];
static int nkv;

static long long *find(const char *key, int create) {
	for (int i = 0; i < nkv; i++)
		if (strcmp(kv[i].key, key) == 0)
			return &kv[i].val;
	if (!create || nkv == NKV)
		return NULL;
	snprintf(kv[nkv].key, sizeof kv[nkv].key, "%s", key);
	kv[nkv].val = 0;
	return &kv[nkv++].val;
}

static long long get(const char *key, long long def) {
	long long *v = find(key, 0);
	return v ? *v : def;
}

static void add(const char *key, long long d) {
	long long *v = find(key, 1);
	if (v)
		*v += d;
}

static void put(const char *key, long long x) {
	long long *v = find(key, 1);
	if (v)
		*v = x;
}

void fake_set(const char *key, long long value) {
	pthread_mutex_lock(&mu);
	put(key, value);
	pthread_mutex_unlock(&mu);
}

long long fake_get(const char *key) {
	pthread_mutex_lock(&mu);
	long long v = get(key, 0);
	pthread_mutex_unlock(&mu);
	return v;
}

// Contexts: one primary context per device; the current one per thread.
#define NDEV 8
struct ctx {
	int dev, refs;
};
static struct ctx ctxs[NDEV];
static __thread struct ctx *current;
static int inited;

static CUresult begin(const char *name, int needctx) {
	pthread_mutex_lock(&mu);
	char key[80];
	snprintf(key, sizeof key, "calls:%s", name);
	add(key, 1);
	snprintf(key, sizeof key, "fail:%s", name);
	CUresult r = (CUresult)get(key, 0);
	if (r == 0 && !inited && strcmp(name, "cuInit") != 0 && strcmp(name, "cuDriverGetVersion") != 0)
		r = CUDA_ERROR_NOT_INITIALIZED;
	if (r == 0 && needctx && (current == NULL || current->refs == 0))
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r != 0)
		pthread_mutex_unlock(&mu);
	return r;
}

// BEGIN starts an entry point, locking mu; RETURN ends it.
#define BEGIN(needctx)                            \
	do {                                      \
		CUresult r_ = begin(__func__, needctx); \
		if (r_ != 0)                      \
			return r_;                \
	} while (0)
#define RETURN(x)                           \
	do {                                \
		CUresult x_ = (x);          \
		pthread_mutex_unlock(&mu);  \
		return x_;                  \
	} while (0)

static int devices(void) { return (int)get("devices", 1); }

CUresult cuInit(unsigned flags) {
	BEGIN(0);
	if (flags != 0)
		RETURN(CUDA_ERROR_INVALID_VALUE);
	inited = 1;
	RETURN(CUDA_SUCCESS);
}

CUresult cuDriverGetVersion(int *v) {
	BEGIN(0);
	*v = (int)get("version", 13000);
	RETURN(CUDA_SUCCESS);
}

static const struct {
	int code;
	const char *name, *msg;
} errs[] = {
    {0, "CUDA_SUCCESS", "no error"},
    {1, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {35, "CUDA_ERROR_INSUFFICIENT_DRIVER", "CUDA driver version is insufficient for CUDA runtime version"},
    {100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {218, "CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"},
    {400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {500, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {600, "CUDA_ERROR_NOT_READY", "device not ready"},
    {804, "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", "forward compatibility was attempted on non supported HW"},
    {999, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static CUresult errorText(int code, const char **s, int msg) {
	for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
		if (errs[i].code == code) {
			*s = msg ? errs[i].msg : errs[i].name;
			return CUDA_SUCCESS;
		}
	*s = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorName(CUresult code, const char **s) { return errorText(code, s, 0); }
CUresult cuGetErrorString(CUresult code, const char **s) { return errorText(code, s, 1); }

CUresult cuDeviceGetCount(int *n) {
	BEGIN(0);
	*n = devices();
	RETURN(CUDA_SUCCESS);
}

CUresult cuDeviceGet(CUdevice *dev, int ordinal) {
	BEGIN(0);
	if (ordinal < 0 || ordinal >= devices() || ordinal >= NDEV)
		RETURN(CUDA_ERROR_INVALID_DEVICE);
	*dev = ordinal;
	RETURN(CUDA_SUCCESS);
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
	BEGIN(0);
	if (dev < 0 || dev >= devices())
		RETURN(CUDA_ERROR_INVALID_DEVICE);
	snprintf(name, (size_t)len, "Fake H100 %d", dev);
	RETURN(CUDA_SUCCESS);
}

CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice dev) {
	BEGIN(0);
	if (dev < 0 || dev >= devices())
		RETURN(CUDA_ERROR_INVALID_DEVICE);
	long long def = 0;
	switch (attr) {
	case 13: def = 1980000; break; // clock rate, kHz
	case 16: def = 132; break;     // SMs
	case 36: def = 2619000; break; // memory clock, kHz
	case 37: def = 5120; break;    // bus width, bits
	case 75: def = 9; break;       // compute capability
	case 76: def = 0; break;
	}
	char key[32];
	snprintf(key, sizeof key, "attr:%d", attr);
	*v = (int)get(key, def);
	RETURN(CUDA_SUCCESS);
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
	BEGIN(0);
	if (dev < 0 || dev >= devices())
		RETURN(CUDA_ERROR_INVALID_DEVICE);
	*bytes = (size_t)get("totalmem", 80LL << 30);
	RETURN(CUDA_SUCCESS);
}

CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
	BEGIN(0);
	if (dev < 0 || dev >= devices())
		RETURN(CUDA_ERROR_INVALID_DEVICE);
	put("ctx:flags", flags);
	RETURN(CUDA_SUCCESS);
}

CUresult cuDevicePrimaryCtxRetain(void **ctx, CUdevice dev) {
	BEGIN(0);
	if (dev < 0 || dev >= devices() || dev >= NDEV)
		RETURN(CUDA_ERROR_INVALID_DEVICE);
	ctxs[dev].dev = dev;
	ctxs[dev].refs++;
	add("live:ctxrefs", 1);
	*ctx = &ctxs[dev];
	RETURN(CUDA_SUCCESS);
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
	BEGIN(0);
	if (dev < 0 || dev >= NDEV || ctxs[dev].refs == 0)
		RETURN(CUDA_ERROR_INVALID_CONTEXT);
	ctxs[dev].refs--;
	add("live:ctxrefs", -1);
	RETURN(CUDA_SUCCESS);
}

CUresult cuCtxSetCurrent(void *ctx) {
	BEGIN(0);
	current = ctx;
	RETURN(CUDA_SUCCESS);
}

CUresult cuCtxSynchronize(void) {
	BEGIN(1);
	RETURN(CUDA_SUCCESS);
}

CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
	BEGIN(1);
	*free = (size_t)get("freemem", 79LL << 30);
	*total = (size_t)get("totalmem", 80LL << 30);
	RETURN(CUDA_SUCCESS);
}

// Memory: host memory, the allocations kept in a list.
struct alloc {
	char *p;
	size_t n;
	struct alloc *next;
};
static struct alloc *allocs;

static int inside(CUdeviceptr p, size_t n) {
	for (struct alloc *a = allocs; a; a = a->next)
		if ((uintptr_t)p >= (uintptr_t)a->p && (uintptr_t)p + n <= (uintptr_t)a->p + a->n)
			return 1;
	return 0;
}

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
	BEGIN(1);
	if (n == 0)
		RETURN(CUDA_ERROR_INVALID_VALUE);
	struct alloc *a = malloc(sizeof *a);
	a->p = malloc(n);
	memset(a->p, 0xAB, n); // not zero: Alloc must zero it
	a->n = n;
	a->next = allocs;
	allocs = a;
	add("live:allocs", 1);
	*p = (CUdeviceptr)(uintptr_t)a->p;
	RETURN(CUDA_SUCCESS);
}

CUresult cuMemFree_v2(CUdeviceptr p) {
	BEGIN(1);
	for (struct alloc **a = &allocs; *a; a = &(*a)->next)
		if ((uintptr_t)(*a)->p == (uintptr_t)p) {
			struct alloc *f = *a;
			*a = f->next;
			free(f->p);
			free(f);
			add("live:allocs", -1);
			RETURN(CUDA_SUCCESS);
		}
	RETURN(CUDA_ERROR_INVALID_VALUE);
}

// Streams and events.
struct stream {
	unsigned flags;
	struct ctx *ctx; // the context current when it was created
};
struct event {
	long long t;
	int recorded;
};

// isStream reports whether s is a stream of the current context (the
// tests never use the default stream).
static int isStream(void *s) { return s != NULL && ((struct stream *)s)->ctx == current; }

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *s) {
	BEGIN(1);
	if (!isStream(s) || !inside(dst, n))
		RETURN(CUDA_ERROR_INVALID_VALUE);
	memcpy((void *)(uintptr_t)dst, src, n);
	RETURN(CUDA_SUCCESS);
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *s) {
	BEGIN(1);
	if (!isStream(s) || !inside(src, n))
		RETURN(CUDA_ERROR_INVALID_VALUE);
	memcpy(dst, (void *)(uintptr_t)src, n);
	RETURN(CUDA_SUCCESS);
}

#ifndef FAKE_OMIT_cuMemsetD8Async
CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, void *s) {
	BEGIN(1);
	if (!isStream(s) || !inside(dst, n))
		RETURN(CUDA_ERROR_INVALID_VALUE);
	memset((void *)(uintptr_t)dst, v, n);
	RETURN(CUDA_SUCCESS);
}
#endif

CUresult cuStreamCreate(void **s, unsigned flags) {
	BEGIN(1);
	struct stream *st = malloc(sizeof *st);
	st->flags = flags;
	st->ctx = current;
	*s = st;
	add("live:streams", 1);
	put("stream:flags", flags);
	RETURN(CUDA_SUCCESS);
}

CUresult cuStreamDestroy_v2(void *s) {
	BEGIN(1);
	if (!isStream(s))
		RETURN(CUDA_ERROR_INVALID_HANDLE);
	free(s);
	add("live:streams", -1);
	RETURN(CUDA_SUCCESS);
}

CUresult cuStreamSynchronize(void *s) {
	BEGIN(1);
	if (!isStream(s))
		RETURN(CUDA_ERROR_INVALID_HANDLE);
	RETURN(CUDA_SUCCESS);
}

CUresult cuEventCreate(void **e, unsigned flags) {
	BEGIN(1);
	struct event *ev = calloc(1, sizeof *ev);
	(void)flags;
	*e = ev;
	add("live:events", 1);
	RETURN(CUDA_SUCCESS);
}

CUresult cuEventRecord(void *e, void *s) {
	BEGIN(1);
	if (!isStream(s))
		RETURN(CUDA_ERROR_INVALID_HANDLE);
	struct event *ev = e;
	ev->t = get("now_us", 0);
	ev->recorded = 1;
	RETURN(CUDA_SUCCESS);
}

CUresult cuEventSynchronize(void *e) {
	BEGIN(1);
	RETURN(((struct event *)e)->recorded ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}

CUresult cuEventElapsedTime(float *ms, void *start, void *end) {
	BEGIN(1);
	struct event *a = start, *b = end;
	if (!a->recorded || !b->recorded)
		RETURN(CUDA_ERROR_NOT_READY);
	*ms = (float)(b->t - a->t) / 1000.0f;
	RETURN(CUDA_SUCCESS);
}

CUresult cuEventDestroy_v2(void *e) {
	BEGIN(1);
	free(e);
	add("live:events", -1);
	RETURN(CUDA_SUCCESS);
}

// Modules.
#define MAXPARAMS 32
struct kernel {
	char name[64];
	int nparams;
	int sizes[MAXPARAMS];
};
struct module {
	int n;
	struct kernel k[16];
};

// jitLog writes the error log into the buffer given by the options.
static void jitLog(unsigned n, int *options, void **values, const char *log) {
	char *buf = NULL;
	size_t size = 0;
	int sizeAt = -1;
	for (unsigned i = 0; i < n; i++) {
		if (options[i] == 5) // CU_JIT_ERROR_LOG_BUFFER
			buf = values[i];
		if (options[i] == 6) { // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
			size = (size_t)(uintptr_t)values[i];
			sizeAt = (int)i;
		}
	}
	if (buf == NULL || size == 0)
		return;
	snprintf(buf, size, "%s", log);
	values[sizeAt] = (void *)(uintptr_t)(strlen(buf) + 1);
}

CUresult cuModuleLoadDataEx(void **mod, const void *image, unsigned n, int *options, void **values) {
	BEGIN(1);
	const char *text = image;
	put("module:len", (long long)strlen(text));
	struct module *m = calloc(1, sizeof *m);
	int line = 0;
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char buf[512];
		snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), p);
		p += len + (eol ? 1 : 0);
		line++;
		if (buf[0] == 0 || strncmp(buf, "//", 2) == 0)
			continue;
		struct kernel *k = &m->k[m->n];
		int off = 0;
		if (m->n == 16 || sscanf(buf, "kernel %63s%n", k->name, &off) != 1) {
			char log[640];
			snprintf(log, sizeof log, "fake ptxas: line %d: expected 'kernel NAME SIZE...', found '%s'", line, buf);
			jitLog(n, options, values, log);
			free(m);
			RETURN(CUDA_ERROR_INVALID_PTX);
		}
		int size, used;
		for (const char *q = buf + off; k->nparams < MAXPARAMS && sscanf(q, "%d%n", &size, &used) == 1; q += used)
			k->sizes[k->nparams++] = size;
		m->n++;
	}
	*mod = m;
	add("live:modules", 1);
	RETURN(CUDA_SUCCESS);
}

CUresult cuModuleUnload(void *mod) {
	BEGIN(1);
	free(mod);
	add("live:modules", -1);
	RETURN(CUDA_SUCCESS);
}

CUresult cuModuleGetFunction(void **fn, void *mod, const char *name) {
	BEGIN(1);
	struct module *m = mod;
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->k[i].name, name) == 0) {
			*fn = &m->k[i];
			RETURN(CUDA_SUCCESS);
		}
	RETURN(CUDA_ERROR_NOT_FOUND);
}

// The argument slots of the last launch.
static unsigned long long lastArgs[MAXPARAMS];
static int lastN;

int fake_last_args(unsigned long long *out, int max) {
	pthread_mutex_lock(&mu);
	int n = lastN < max ? lastN : max;
	memcpy(out, lastArgs, (size_t)n * sizeof lastArgs[0]);
	pthread_mutex_unlock(&mu);
	return n;
}

#ifndef FAKE_OMIT_cuLaunchKernel
CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *s, void **params, void **extra) {
	BEGIN(1);
	struct kernel *k = fn;
	if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || extra != NULL || !isStream(s))
		RETURN(CUDA_ERROR_INVALID_VALUE);
	if (k->nparams > 0 && params == NULL)
		RETURN(CUDA_ERROR_INVALID_VALUE);
	for (int i = 0; i < k->nparams; i++) {
		lastArgs[i] = 0;
		memcpy(&lastArgs[i], params[i], (size_t)k->sizes[i]);
	}
	lastN = k->nparams;
	put("launch:grid.x", gx);
	put("launch:grid.y", gy);
	put("launch:grid.z", gz);
	put("launch:block.x", bx);
	put("launch:block.y", by);
	put("launch:block.z", bz);
	put("launch:shared", shared);
	put("launch:stream", (long long)(uintptr_t)s);
	put("launch:nargs", k->nparams);
	add("now_us", get("launch_us", 0));
	RETURN(CUDA_SUCCESS);
}
#endif
