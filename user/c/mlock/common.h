/*
 * common.h - tiny TAP-ish helpers for the Holdfast mlock conformance suite.
 *
 * Every program in user/c/mlock/ includes this file.  The programs must run
 * unchanged on the host's Linux (the reference) and on Holdfast, so the
 * helpers restrict themselves to a small syscall set:
 *   mmap munmap mprotect madvise mincore brk
 *   mlock mlock2 munlock mlockall munlockall
 *   getrlimit/setrlimit/prlimit64 getuid setuid
 *   open read close write exit_group clock_gettime
 * In particular output goes through write(2) directly (musl's stdio uses
 * writev and ioctl), and /proc/self/status, /proc/self/maps and
 * /proc/self/smaps are the only files ever opened.
 *
 * Output format:
 *   ok N - description
 *   not ok N - description (got ret=R errno=E(NAME), want ...)
 *   # comment lines
 *   # N passed, M failed
 * The process exit status is the number of failures (capped at 255 by the
 * kernel; programs keep well below that), so 0 == PASS.
 */
#ifndef HOLDFAST_MLOCK_COMMON_H
#define HOLDFAST_MLOCK_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif
#ifndef MCL_CURRENT
#define MCL_CURRENT 1
#endif
#ifndef MCL_FUTURE
#define MCL_FUTURE 2
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef MAP_LOCKED
#define MAP_LOCKED 0x02000
#endif
#ifndef MAP_POPULATE
#define MAP_POPULATE 0x08000
#endif
#ifndef MAP_NONBLOCK
#define MAP_NONBLOCK 0x10000
#endif

/* x86_64 only: the page size is fixed. */
#define PG 4096UL
#define NOBODY_UID 65534

static int t_num, t_pass, t_fail;

/* ---- output (write(2) only) ------------------------------------------- */

static __attribute__((unused)) void out_str(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(1, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

__attribute__((format(printf, 1, 2)))
static __attribute__((unused)) void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	out_str(buf, (size_t)n);
}

/* "# ..." diagnostic line */
#define diag(...) do { say("# "); say(__VA_ARGS__); say("\n"); } while (0)

static __attribute__((unused)) const char *errno_name(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOMEM: return "ENOMEM";
	case EINVAL: return "EINVAL";
	case EAGAIN: return "EAGAIN";
	case EFAULT: return "EFAULT";
	case EINTR: return "EINTR";
	case ENOSYS: return "ENOSYS";
	case EBUSY: return "EBUSY";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	default: return "E?";
	}
}

/* Record one check.  'why' is an optional already-formatted reason. */
static __attribute__((unused)) int ok_report(int cond, const char *desc, const char *why)
{
	t_num++;
	if (cond) {
		t_pass++;
		say("ok %d - %s\n", t_num, desc);
	} else {
		t_fail++;
		if (why && *why)
			say("not ok %d - %s (%s)\n", t_num, desc, why);
		else
			say("not ok %d - %s\n", t_num, desc);
	}
	return cond;
}

/* ok(cond, fmt, ...): the description is printf-formatted. */
#define ok(cond, ...) ({                                                   \
	char ok_desc_[512];                                                 \
	snprintf(ok_desc_, sizeof(ok_desc_), __VA_ARGS__);                  \
	ok_report(!!(cond), ok_desc_, "");                                  \
})

/* ok_eq(got, want, fmt, ...): integer equality with values in the failure line. */
#define ok_eq(got, want, ...) ({                                           \
	long g_ = (long)(got), w_ = (long)(want);                           \
	char ok_desc_[512], why_[128];                                      \
	snprintf(ok_desc_, sizeof(ok_desc_), __VA_ARGS__);                  \
	snprintf(why_, sizeof(why_), "got %ld, want %ld", g_, w_);          \
	ok_report(g_ == w_, ok_desc_, why_);                                \
})

/*
 * expect_ret(call, expected_ret, expected_errno, fmt, ...)
 * Evaluates 'call' (anything returning an integer; -1 + errno on failure)
 * and checks the return value, and errno too when expected_ret == -1.
 * Evaluates to the actual return value.
 */
#define expect_ret(call, exp_ret, exp_errno, ...) ({                       \
	errno = 0;                                                          \
	long r_ = (long)(call);                                             \
	int e_ = errno;                                                     \
	long er_ = (long)(exp_ret);                                         \
	int ee_ = (exp_errno);                                              \
	int good_ = (r_ == er_) && (er_ != -1 || e_ == ee_);                \
	char ok_desc_[512], why_[160];                                      \
	snprintf(ok_desc_, sizeof(ok_desc_), __VA_ARGS__);                  \
	snprintf(why_, sizeof(why_), "got ret=%ld errno=%s, want ret=%ld%s%s", \
		 r_, r_ == -1 ? errno_name(e_) : "-", er_,                  \
		 er_ == -1 ? " errno=" : "", er_ == -1 ? errno_name(ee_) : ""); \
	ok_report(good_, ok_desc_, why_);                                   \
	r_;                                                                 \
})

/* Final summary; returns the exit status (number of failures). */
static __attribute__((unused)) int done(void)
{
	say("# %d passed, %d failed\n", t_pass, t_fail);
	return t_fail > 255 ? 255 : t_fail;
}

/* Abort the whole program on a setup failure (counts as one failure). */
#define bail(...) do {                                                     \
	say("Bail out! "); say(__VA_ARGS__);                                \
	say(" (errno=%s)\n", errno_name(errno));                            \
	t_fail++;                                                           \
	exit(done());                                                       \
} while (0)

/* ---- syscall wrappers -------------------------------------------------- */

/* mlock2 through syscall(2) so that it works on any libc version. */
static __attribute__((unused)) int sys_mlock2(const void *addr, size_t len, unsigned int flags)
{
	return (int)syscall(SYS_mlock2, addr, len, flags);
}

/* Anonymous private RW mapping; bails on failure. */
static __attribute__((unused)) char *map_anon(size_t len, int prot, int extra_flags)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
	if (p == MAP_FAILED)
		bail("mmap(%zu, prot=%d, flags=+%#x) failed", len, prot, extra_flags);
	return p;
}

/* Anonymous shared RW mapping; bails on failure. */
static __attribute__((unused)) char *map_shared(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		bail("mmap shared(%zu) failed", len);
	return p;
}

/* mmap returning 0 / -1+errno, so it can be used with expect_ret.
 * The mapping (if any) is stored in *out.
 * This is the RAW syscall: musl's mmap() wrapper rewrites the kernel's EPERM
 * into ENOMEM for anonymous non-MAP_FIXED mappings ("fixup incorrect EPERM
 * from kernel"), which would hide the MAP_LOCKED / can_do_mlock() EPERM. */
static __attribute__((unused)) int try_mmap(void **out, size_t len, int prot, int flags)
{
	long r = syscall(SYS_mmap, 0L, len, (long)prot, (long)flags, -1L, 0L);
	*out = (r == -1) ? MAP_FAILED : (void *)r;
	return r == -1 ? -1 : 0;
}

/* Touch (write) npages pages starting at p. */
static __attribute__((unused)) void touch(char *p, size_t npages)
{
	for (size_t i = 0; i < npages; i++)
		((volatile char *)p)[i * PG] = 1;
}

/* ---- /proc readers ---------------------------------------------------- */

/* Read a whole small /proc file into buf (NUL terminated).  Returns length or -1. */
static __attribute__((unused)) long read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n + 1 < cap) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0) {
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	close(fd);
	return (long)n;
}

/* The number after "key:" on a line of text [l, end), -1 if no line has it. */
static __attribute__((unused)) long field_kb(const char *l, const char *end, const char *key)
{
	size_t kl = strlen(key);
	while (l && l < end && *l) {
		if (strncmp(l, key, kl) == 0 && l[kl] == ':')
			return strtol(l + kl + 1, NULL, 10);
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return -1;
}

/* Integer value (kB) of a "Key:   N kB" line in /proc/self/status, -1 if absent. */
static __attribute__((unused)) long status_kb(const char *key)
{
	static char buf[8192];
	long n = read_file("/proc/self/status", buf, sizeof(buf));
	return n < 0 ? -1 : field_kb(buf, buf + n, key);
}

/* VmLck of this process in kB (mm->locked_vm * 4). */
static __attribute__((unused)) long vmlck_kb(void) { return status_kb("VmLck"); }
/* VmLck in pages. */
static __attribute__((unused)) long vmlck_pages(void) { long k = vmlck_kb(); return k < 0 ? k : k / 4; }

/*
 * Number of /proc/self/maps entries that intersect [start, end).
 * Used to observe vma split/merge (selftests mlock2-tests check this).
 */
static __attribute__((unused)) int count_vmas(const void *start, const void *end)
{
	static char buf[65536];
	if (read_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return -1;
	uintptr_t s = (uintptr_t)start, e = (uintptr_t)end;
	int n = 0;
	for (char *l = buf; l && *l; ) {
		char *dash;
		unsigned long vs = strtoul(l, &dash, 16);
		unsigned long ve = strtoul(dash + 1, NULL, 16);
		if (vs < e && ve > s)
			n++;
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	return n;
}

/*
 * The block of /proc/self/smaps for the vma containing addr (NULL if none):
 * from its maps line up to the next vma's. The text stays in a static
 * buffer until the next call.
 */
static __attribute__((unused)) const char *smaps_block(const void *addr, const char **end)
{
	static char buf[1 << 20];
	if (read_file("/proc/self/smaps", buf, sizeof(buf)) < 0)
		return NULL;
	uintptr_t a = (uintptr_t)addr;
	const char *found = NULL;
	for (char *l = buf; l && *l; ) {
		char *dash;
		unsigned long vs = strtoul(l, &dash, 16);
		if (*dash == '-') {
			unsigned long ve = strtoul(dash + 1, NULL, 16);
			if (found) {
				*end = l;
				return found;
			}
			if (vs <= a && a < ve)
				found = l;
		}
		l = strchr(l, '\n');
		if (l)
			l++;
	}
	*end = buf + strlen(buf);
	return found;
}

/* The kB of smaps field `key` (Rss, Locked, ...) of the vma containing addr; -1 if absent. */
static __attribute__((unused)) long smaps_kb(const void *addr, const char *key)
{
	const char *end, *b = smaps_block(addr, &end);
	return b ? field_kb(b, end, key) : -1;
}

/* 1 if the VmFlags of the vma containing addr have the two-letter `code`, 0 if not, -1 if no vma. */
static __attribute__((unused)) int smaps_flag(const void *addr, const char *code)
{
	const char *end, *b = smaps_block(addr, &end);
	const char *v = b ? strstr(b, "\nVmFlags: ") : NULL;
	if (!v || v >= end)
		return -1;
	for (const char *c = v + 10; c + 1 < end && *c != '\n'; c += 3)
		if (c[0] == code[0] && c[1] == code[1])
			return 1;
	return 0;
}

/*
 * Total size in kB of the /proc/self/maps entries that mlockall() can lock:
 * everything except the kernel's special mappings ([vvar], [vdso],
 * [vvar_vclock], [vsyscall]) which are VM_SPECIAL / not vmas at all and are
 * skipped by mlock_fixup().  After mlockall(MCL_CURRENT) VmLck must equal this.
 */
static __attribute__((unused)) long lockable_kb(void)
{
	static char buf[65536];
	if (read_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return -1;
	long kb = 0;
	for (char *l = buf; l && *l; ) {
		char *nl = strchr(l, '\n');
		char *dash;
		unsigned long vs = strtoul(l, &dash, 16);
		unsigned long ve = strtoul(dash + 1, NULL, 16);
		char save = 0;
		if (nl) { save = *nl; *nl = 0; }
		int special = strstr(l, "[vvar") || strstr(l, "[vdso]") || strstr(l, "[vsyscall]");
		if (nl) *nl = save;
		if (!special)
			kb += (long)((ve - vs) / 1024);
		l = nl ? nl + 1 : NULL;
	}
	return kb;
}

/* ---- mincore residency ------------------------------------------------- */

/* Number of resident pages in [addr, addr+len) according to mincore(2);
 * -1 on error.  Handles any length by chunking through a static vector. */
static __attribute__((unused)) long resident_pages(const void *addr, size_t len)
{
	static unsigned char vec[4096];
	uintptr_t a = (uintptr_t)addr & ~(PG - 1);
	uintptr_t end = ((uintptr_t)addr + len + PG - 1) & ~(PG - 1);
	long n = 0;
	while (a < end) {
		size_t chunk = end - a;
		if (chunk > sizeof(vec) * PG)
			chunk = sizeof(vec) * PG;
		if (mincore((void *)a, chunk, vec) != 0)
			return -1;
		for (size_t i = 0; i < chunk / PG; i++)
			n += vec[i] & 1;
		a += chunk;
	}
	return n;
}

/* ---- credentials and rlimits ------------------------------------------- */

/* Set RLIMIT_MEMLOCK soft/hard (bytes). Returns 0 or -1. */
static __attribute__((unused)) int set_memlock(rlim_t cur, rlim_t max)
{
	struct rlimit rl = { .rlim_cur = cur, .rlim_max = max };
	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

/* Set only the soft RLIMIT_MEMLOCK (keeping the hard limit). */
static __attribute__((unused)) int set_memlock_cur(rlim_t cur)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl))
		return -1;
	rl.rlim_cur = cur;
	return setrlimit(RLIMIT_MEMLOCK, &rl);
}

static __attribute__((unused)) rlim_t memlock_cur(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	return rl.rlim_cur;
}

static __attribute__((unused)) rlim_t memlock_max(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_MEMLOCK, &rl);
	return rl.rlim_max;
}

/*
 * Become uid 65534 ("nobody") in-process.  On Linux setuid() from root to a
 * non-zero uid clears the permitted/effective capability sets, so
 * CAP_IPC_LOCK is gone; on Holdfast uid 0 has CAP_IPC_LOCK and setuid to
 * non-zero drops it.  This is one-way: programs do their unprivileged cases
 * last.  Set the RLIMIT_MEMLOCK hard limit BEFORE calling this (an
 * unprivileged process can only lower it).
 */
static __attribute__((unused)) void drop_cap_ipc_lock(void)
{
	if (getuid() != 0)
		bail("must start as root (uid %d)", (int)getuid());
	if (setuid(NOBODY_UID) != 0)
		bail("setuid(%d)", NOBODY_UID);
	if (getuid() != NOBODY_UID)
		bail("still uid %d after setuid", (int)getuid());
	diag("dropped to uid %d (no CAP_IPC_LOCK)", NOBODY_UID);
}

/* Start-of-program check: we need root (CAP_IPC_LOCK) for the privileged part. */
static __attribute__((unused)) void need_root(void)
{
	if (getuid() != 0)
		bail("run as root (uid 0 has CAP_IPC_LOCK)");
}

/* Monotonic time in nanoseconds. */
static __attribute__((unused)) long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

#endif /* HOLDFAST_MLOCK_COMMON_H */
