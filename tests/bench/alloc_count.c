/* LD_PRELOAD shim for tests/bench/rproxy_allocs.sh: counts heap allocations (malloc, calloc,
   realloc, aligned forms) in the process it is loaded into. SIGUSR2 writes the count so far,
   as decimal text, to the file named by ALLOC_COUNT_OUT. glibc's __libc_* entry points do the
   real work, so no dlsym (which itself allocates) is needed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static atomic_ulong count;

void* malloc(size_t n) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_realloc(p, n); }
void* memalign(size_t a, size_t n) { atomic_fetch_add_explicit(&count, 1, memory_order_relaxed); return __libc_memalign(a, n); }
void* aligned_alloc(size_t a, size_t n) { return memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) { *out = memalign(a, n); return *out ? 0 : 12; }

static void report(int sig) {
  (void)sig;
  const char* path = getenv("ALLOC_COUNT_OUT");
  if (!path) return;
  char buf[32];
  int i = sizeof buf;
  unsigned long v = atomic_load(&count);
  buf[--i] = '\n';
  do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  ssize_t w = write(fd, buf + i, sizeof buf - i);
  (void)w;
  close(fd);
}

__attribute__((constructor)) static void init(void) { signal(SIGUSR2, report); }
