/* abi_order: which error a system call reports when several arguments are
 * bad at once, and state the kernel must remember (signal mask, actions,
 * GS base). Linux checks arguments in a fixed order; a program that reads
 * errno sees that order, so Holdfast follows it. Raw syscall() is used so
 * that the kernel's answer is seen, not a libc wrapper's.
 *
 * Every expectation here is what Linux 6.x returns; the test runs on both. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* From <linux/futex.h>, which musl does not ship. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_WAIT_BITSET 9
#define FUTEX_CLOCK_REALTIME 256

#define KPTR ((long)0xffff800000000000UL)
#define NOPID (1L << 30)

/* -errno or the result, from a raw system call. */
static long sc(long nr, long a, long b, long c, long d, long e, long f)
{
	long r = syscall(nr, a, b, c, d, e, f);
	return r == -1 ? -errno : r;
}

static void memory(void)
{
	char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p + 4096, 4096);
	tap_eq(sc(SYS_mincore, (long)(p + 4096), 4096, KPTR, 0, 0, 0), -EFAULT,
	       "mincore of a hole into a kernel vector: EFAULT (vector checked before the walk)");
	tap_eq(sc(SYS_mincore, (long)(p + 1), 4096, KPTR, 0, 0, 0), -EINVAL, "mincore unaligned with a kernel vector: EINVAL first");
	tap_eq(sc(SYS_mincore, (long)p, 2 * 4096, (long)(p + 4096), 0, 0, 0), -EFAULT,
	       "mincore of [page, hole) into an unmapped vector: EFAULT (the page's byte is copied before the hole is reached)");
	unsigned char v2[2] = { 7, 7 };
	tap_eq(sc(SYS_mincore, (long)p, 2 * 4096, (long)v2, 0, 0, 0), -ENOMEM, "mincore of [page, hole): ENOMEM");
	tap_eq(v2[0], 0, "but the page's byte was written (untouched page: 0)");
	tap_eq(sc(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1), -EINVAL, "mmap with offset 1: EINVAL");
	long q = sc(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE | 0x40, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_ok(q > 0, "mmap ignores an unknown prot bit (0x40)");
	if (q > 0)
		munmap((void *)q, 4096);
	tap_eq(sc(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, -1, 0), -EBADF, "mmap of fd -1 without MAP_ANONYMOUS: EBADF");
	int fd = open("/proc/self/status", O_RDONLY);
	tap_eq(sc(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, fd, 0), -ENODEV, "mmap of a file without mmap support: ENODEV");
	tap_eq(sc(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), -EACCES,
	       "MAP_SHARED|PROT_WRITE of a read-only descriptor: EACCES before ENODEV");
	tap_eq(sc(SYS_mmap, 0, 4096, PROT_READ, MAP_SHARED_VALIDATE | 0x80000, fd, 0), -EOPNOTSUPP,
	       "MAP_SHARED_VALIDATE with MAP_SYNC: EOPNOTSUPP");
	tap_eq(sc(SYS_mmap, 0, 4096, PROT_READ, MAP_SHARED | 0x80000, fd, 0), -ENODEV, "MAP_SHARED ignores MAP_SYNC: ENODEV");
	long h = sc(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | 0x40000, -1, 0);
	tap_ok(h == -EINVAL || h == -ENOMEM,
	       "MAP_HUGETLB fails: EINVAL without hugetlbfs (Holdfast), ENOMEM with no huge pages reserved (%ld)", h);
	close(fd);
	/* mremap: every argument check (EINVAL) precedes the lookup (EFAULT). */
	tap_eq(sc(SYS_mremap, KPTR, 4096, -4096L, 3, (long)p, 0), -EINVAL, "mremap(kernel address, new length > TASK_SIZE): EINVAL");
	tap_eq(sc(SYS_mremap, (long)(p + 4096), 4096, 8192, 3, (long)(p + 4096 + 1), 0), -EINVAL,
	       "mremap(hole, unaligned new address): EINVAL");
	tap_eq(sc(SYS_mremap, (long)(p + 4096), 4096, 4096, 1 | 4, (long)p, 0), -EFAULT, "mremap(hole, DONTUNMAP): EFAULT");

	/* getrandom: a partial copy returns the bytes copied. */
	tap_eq(sc(SYS_getrandom, (long)(p + 4096 - 100), 200, 0, 0, 0, 0), 100, "getrandom across into a hole returns the 100 bytes copied");
	tap_eq(sc(SYS_getrandom, KPTR, 10, 0, 0, 0, 0), -EFAULT, "getrandom into the kernel: EFAULT");
	tap_eq(sc(SYS_getrandom, KPTR, 0, 0, 0, 0, 0), -EFAULT, "getrandom of 0 bytes into the kernel: EFAULT");
	tap_eq(sc(SYS_futex, (long)(p + 4096), FUTEX_WAKE, 1, 0, 0, 0), -EFAULT, "shared FUTEX_WAKE on a hole: EFAULT");
	tap_eq(sc(SYS_futex, (long)(p + 4096), FUTEX_WAKE | 128, 1, 0, 0, 0), 0, "private FUTEX_WAKE on a hole: 0 (no memory needed)");
	tap_eq(sc(SYS_futex, (long)(p + 4097), FUTEX_WAKE, 1, 0, 0, 0), -EINVAL, "shared FUTEX_WAKE unaligned: EINVAL first");
	tap_eq(sc(SYS_getrandom, (long)p, 10, 2 | 4, 0, 0, 0), -EINVAL, "getrandom GRND_RANDOM|GRND_INSECURE: EINVAL");
	munmap(p, 4096);
}

static void clocks(void)
{
	struct timespec tai, rt, res, ts = { 0, 1000 };
	tap_eq(sc(SYS_clock_gettime, CLOCK_TAI, (long)&tai, 0, 0, 0, 0), 0, "clock_gettime(CLOCK_TAI)");
	clock_gettime(CLOCK_REALTIME, &rt);
	long long d = (long long)tai.tv_sec - rt.tv_sec;
	tap_ok(d >= -1 && d <= 60, "CLOCK_TAI is REALTIME plus the TAI offset (%lld s)", d);
	tap_eq(sc(SYS_clock_getres, CLOCK_MONOTONIC_COARSE, (long)&res, 0, 0, 0, 0), 0, "clock_getres(CLOCK_MONOTONIC_COARSE)");
	tap_ok(res.tv_sec == 0 && res.tv_nsec >= 1000000 && res.tv_nsec <= 10000000, "coarse resolution is one tick (%ld ns)",
	       (long)res.tv_nsec);
	tap_eq(sc(SYS_clock_nanosleep, 100, 0, KPTR, 0, 0, 0), -EINVAL, "clock_nanosleep(bad clock, kernel request): EINVAL first");
	tap_eq(sc(SYS_clock_nanosleep, CLOCK_MONOTONIC_RAW, 0, (long)&ts, 0, 0, 0), -EOPNOTSUPP,
	       "clock_nanosleep(CLOCK_MONOTONIC_RAW): EOPNOTSUPP");
	tap_eq(sc(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, KPTR, 0, 0, 0), -EFAULT, "clock_nanosleep(kernel request): EFAULT");
}

static void signals(void)
{
	uint64_t set = 1UL << (SIGUSR1 - 1), old = 0;
	tap_eq(sc(SYS_rt_sigprocmask, 99, KPTR, 0, 8, 0, 0), -EFAULT, "rt_sigprocmask(bad how, kernel set): EFAULT first");
	tap_eq(sc(SYS_rt_sigprocmask, 99, (long)&set, 0, 8, 0, 0), -EINVAL, "rt_sigprocmask(bad how): EINVAL");
	tap_eq(sc(SYS_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, 8, 0, 0), 0, "block SIGUSR1");
	tap_eq(sc(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&old, 8, 0, 0), 0, "read the mask");
	tap_ok(old & set, "the mask holds SIGUSR1");
	uint64_t all = ~0UL;
	sc(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, (long)&old, 8, 0, 0);
	sc(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, (long)&all, 8, 0, 0);
	tap_ok(!(all & (1UL << (SIGKILL - 1))) && !(all & (1UL << (SIGSTOP - 1))), "SIGKILL and SIGSTOP are never blocked");

	uint64_t act[4] = { (uint64_t)SIG_IGN, 0, 0, 0 }, oact[4] = { 1, 1, 1, 1 };
	tap_eq(sc(SYS_rt_sigaction, 65, KPTR, 0, 8, 0, 0), -EFAULT, "rt_sigaction(65, kernel act): EFAULT first");
	tap_eq(sc(SYS_rt_sigaction, 65, 0, (long)oact, 8, 0, 0), -EINVAL, "rt_sigaction(65): EINVAL");
	tap_eq(sc(SYS_rt_sigaction, SIGUSR2, (long)act, 0, 8, 0, 0), 0, "SIGUSR2 -> SIG_IGN");
	tap_eq(sc(SYS_rt_sigaction, SIGUSR2, 0, (long)oact, 8, 0, 0), 0, "read SIGUSR2's action");
	tap_eq(oact[0], (uint64_t)SIG_IGN, "the action read back is SIG_IGN");

	tap_eq(sc(SYS_kill, NOPID, 1000, 0, 0, 0, 0), -ESRCH, "kill(no such pid, bad signal): ESRCH first");
	tap_eq(sc(SYS_kill, getpid(), 1000, 0, 0, 0, 0), -EINVAL, "kill(self, bad signal): EINVAL");
	tap_eq(sc(SYS_kill, -NOPID, 0, 0, 0, 0, 0), -ESRCH, "kill(no such group, 0): ESRCH");
	tap_eq(sc(SYS_kill, getpid(), 0, 0, 0, 0, 0), 0, "kill(self, 0)");
	tap_eq(sc(SYS_tgkill, NOPID, NOPID, 1000, 0, 0, 0), -ESRCH, "tgkill(no such thread, bad signal): ESRCH first");
	tap_eq(sc(SYS_tgkill, getpid(), gettid(), 1000, 0, 0, 0), -EINVAL, "tgkill(self, bad signal): EINVAL");
	tap_eq(sc(SYS_tgkill, 0, gettid(), 0, 0, 0, 0), -EINVAL, "tgkill(tgid 0): EINVAL");
}

static void limits_and_cpus(void)
{
	uint64_t r[2];
	tap_eq(sc(SYS_prlimit64, NOPID, 99, 0, (long)r, 0, 0), -ESRCH, "prlimit64(no such pid, bad resource): ESRCH first");
	tap_eq(sc(SYS_prlimit64, 0, 99, 0, (long)r, 0, 0), -EINVAL, "prlimit64(bad resource): EINVAL");
	tap_eq(sc(SYS_prlimit64, NOPID, 8, KPTR, 0, 0, 0), -EFAULT, "prlimit64(no such pid, kernel new limit): EFAULT first");
	uint64_t mask[16];
	tap_eq(sc(SYS_sched_getaffinity, NOPID, 7, (long)mask, 0, 0, 0), -EINVAL, "sched_getaffinity(no such pid, len 7): EINVAL first");
	tap_eq(sc(SYS_sched_getaffinity, NOPID, 8, (long)mask, 0, 0, 0), -ESRCH, "sched_getaffinity(no such pid): ESRCH");
	tap_eq(sc(SYS_sched_getaffinity, 0, 0, (long)mask, 0, 0, 0), -EINVAL, "sched_getaffinity(len 0): EINVAL");
	tap_ok(sc(SYS_sched_getaffinity, 0, sizeof mask, (long)mask, 0, 0, 0) >= 8 && (mask[0] & 1), "sched_getaffinity(self) has CPU 0");
}

static void futexes(void)
{
	int w = 7;
	struct timespec ts = { 0, 1000 }, past = { 1, 0 };
	tap_eq(sc(SYS_futex, (long)&w, FUTEX_WAIT | FUTEX_CLOCK_REALTIME, 7, (long)&ts, 0, 0), -ENOSYS,
	       "FUTEX_WAIT|FUTEX_CLOCK_REALTIME: ENOSYS");
	tap_eq(sc(SYS_futex, (long)&w, FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1, 0, 0, 0), -ENOSYS, "FUTEX_WAKE|FUTEX_CLOCK_REALTIME: ENOSYS");
	tap_eq(sc(SYS_futex, (long)&w, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 7, (long)&past, 0, -1), -ETIMEDOUT,
	       "FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME until 1970: ETIMEDOUT");
	tap_eq(sc(SYS_futex, (long)&w, FUTEX_WAIT_BITSET, 7, KPTR, 0, 0), -EFAULT, "FUTEX_WAIT_BITSET(kernel timeout, bitset 0): EFAULT first");
	tap_eq(sc(SYS_futex, (long)&w, FUTEX_WAIT_BITSET, 7, (long)&ts, 0, 0), -EINVAL, "FUTEX_WAIT_BITSET(bitset 0): EINVAL");
}

static void gs_base(void)
{
	unsigned long gs = 1;
	tap_eq(sc(SYS_arch_prctl, 0x1004, (long)&gs, 0, 0, 0, 0), 0, "arch_prctl(ARCH_GET_GS)");
	tap_eq(sc(SYS_arch_prctl, 0x1001, 0x12345000, 0, 0, 0, 0), 0, "arch_prctl(ARCH_SET_GS)");
	sched_yield();
	sc(SYS_arch_prctl, 0x1004, (long)&gs, 0, 0, 0, 0);
	tap_eq(gs, 0x12345000, "ARCH_GET_GS returns what was set");
	sc(SYS_arch_prctl, 0x1001, 0, 0, 0, 0, 0);
	tap_eq(sc(SYS_arch_prctl, 0x1004, KPTR, 0, 0, 0, 0), -EFAULT, "arch_prctl(ARCH_GET_GS, kernel address): EFAULT");
}

int main(void)
{
	tap_begin("abi_order");
	memory();
	clocks();
	signals();
	limits_and_cpus();
	futexes();
	gs_base();
	return tap_end();
}
