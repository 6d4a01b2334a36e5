/* nprocs: how many CPUs are online, which ones a thread may run on, and
 * that it runs where it is told, as Linux reports them.
 *
 *   nprocs [CPUS]     CPUS: the number of CPUs that must be online (the
 *                     machine's -smp); without it any number will do
 *
 * The online CPUs are the `processor\t: N` lines of /proc/cpuinfo (one
 * per online CPU, N its number). sysconf(_SC_NPROCESSORS_ONLN) and the
 * affinity mask (sched_getaffinity) must name the same CPUs, and so must
 * `Cpus_allowed_list` in /proc/self/status. Pinned with
 * sched_setaffinity to each CPU in turn, the thread must run there after
 * a sched_yield (the getcpu system call and libc's sched_getcpu), and
 * another thread pinned by its tid likewise.
 *
 * Linux's rules (kernel/sched/syscalls.c, formerly core.c), checked in
 * the order Linux checks them:
 *   sched_getaffinity(pid, len, mask): EINVAL if len * 8 (an unsigned int
 *     product, so it wraps) < nr_cpu_ids or len is not a multiple of
 *     sizeof(long); then ESRCH for a pid that names no thread; then EFAULT
 *     if the mask cannot be written. It returns the bytes copied:
 *     min(len, cpumask_size()), a multiple of 8; the mask is the allowed
 *     CPUs that are online.
 *   sched_setaffinity(pid, len, mask): the mask is copied first (a short
 *     len is not an error: the bytes given, the rest cleared; EFAULT if it
 *     cannot be read), then ESRCH for a pid that names no thread, then
 *     EINVAL if the mask names no online CPU (empty, or offline CPUs
 *     only); CPUs beyond the online ones are dropped.
 *   getcpu(cpu, node, cache): 0, writing each pointer that is not NULL. */
#define _GNU_SOURCE
#include "tap.h"
#include "cpu.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define KPTR ((void *)0xffff800000000000UL)
#define NO_PID 0x7fffffff /* above any pid_max */

static long sys(long r)
{
	return r < 0 ? -errno : r;
}

static long getaff(long pid, unsigned long len, void *mask)
{
	return sys(syscall(SYS_sched_getaffinity, pid, len, mask));
}

static long setaff(long pid, unsigned long len, const void *mask)
{
	return sys(syscall(SYS_sched_setaffinity, pid, len, mask));
}

static int popcount(unsigned long m)
{
	return __builtin_popcountl(m);
}

/* The `processor\t: N` lines of /proc/cpuinfo as a mask; -1 if the file
 * cannot be read or a number repeats or is out of range; *lines counts
 * them. */
static long cpuinfo_mask(int *lines)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	unsigned long mask = 0;
	int bad = 0, n;
	*lines = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "processor\t: %d", &n) != 1)
			continue;
		(*lines)++;
		if (n < 0 || n >= 64 || mask >> n & 1)
			bad = 1;
		else
			mask |= 1UL << n;
	}
	fclose(f);
	return bad ? -1 : (long)mask;
}

/* `Cpus_allowed_list` of /proc/self/status ("0-2,5") as a mask, or -1. */
static long status_allowed(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[512];
	long mask = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "Cpus_allowed_list:", 18))
			continue;
		char *p = line + 18;
		mask = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		while (*p >= '0' && *p <= '9') {
			char *e;
			long lo = strtol(p, &e, 10), hi = lo;
			if (*e == '-')
				hi = strtol(e + 1, &e, 10);
			if (lo < 0 || hi >= 64 || hi < lo) {
				mask = -1;
				break;
			}
			for (long c = lo; c <= hi; c++)
				mask |= 1L << c;
			p = *e == ',' ? e + 1 : e;
		}
		if (*p != '\n' && *p != '\0')
			mask = -1;
		break;
	}
	fclose(f);
	return mask;
}

/* A second thread: on each request it yields, then reports its CPU. */
static unsigned long req, done_req;
static long t_tid, t_cpu;

static void *other(void *arg)
{
	(void)arg;
	__atomic_store_n(&t_tid, syscall(SYS_gettid), __ATOMIC_RELEASE);
	for (unsigned long seen = 0;;) {
		unsigned long r;
		while ((r = load_acquire(&req)) == seen)
			sched_yield();
		if (r == ~0UL)
			return NULL;
		sched_yield();
		__atomic_store_n(&t_cpu, current_cpu(), __ATOMIC_RELAXED);
		store_release(&done_req, r);
		seen = r;
	}
}

/* The CPU the other thread reports after a fresh request. */
static long other_cpu(void)
{
	unsigned long r = load_acquire(&req) + 1;
	store_release(&req, r);
	double deadline = now_s() + 10;
	while (load_acquire(&done_req) != r)
		if (sched_yield(), now_s() > deadline)
			return -ETIMEDOUT;
	return __atomic_load_n(&t_cpu, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	int want = argc > 1 ? atoi(argv[1]) : 0;
	unsigned long buf[16];
	char hex[2][32];
	pthread_t th;

	tap_begin("nprocs");

	/* What is online. */
	int lines;
	long online = cpuinfo_mask(&lines);
	tap_ok(online > 0, "/proc/cpuinfo has one `processor : N` line per CPU (%d lines, mask %#lx)", lines, online);
	if (online <= 0)
		online = 1;
	int n = popcount(online);
	if (want)
		tap_eq(n, want, "as many CPUs online as asked for");
	tap_eq(sysconf(_SC_NPROCESSORS_ONLN), n, "sysconf(_SC_NPROCESSORS_ONLN) counts the online CPUs");
	tap_ok(sysconf(_SC_NPROCESSORS_CONF) >= n, "sysconf(_SC_NPROCESSORS_CONF) >= online (%ld)", sysconf(_SC_NPROCESSORS_CONF));

	/* sched_getaffinity: the mask and its size. */
	memset(buf, 0xa5, sizeof buf);
	long r = getaff(0, sizeof buf, buf);
	tap_ok(r >= 8 && r <= (long)sizeof buf && r % 8 == 0, "sched_getaffinity(0, 128) returns the bytes copied (%ld)", r);
	unsigned long all = buf[0];
	snprintf(hex[0], sizeof hex[0], "%#lx", all);
	snprintf(hex[1], sizeof hex[1], "%#lx", (unsigned long)online);
	tap_check(all == (unsigned long)online, hex[0], hex[1], "the affinity mask is the online CPUs");
	tap_eq(popcount(all), n, "the affinity mask counts the online CPUs");
	tap_eq(getaff(0, 8, buf), 8, "sched_getaffinity(0, 8) copies 8 bytes");
	tap_eq(status_allowed(), (long)all, "Cpus_allowed_list in /proc/self/status is the affinity mask");

	/* sched_getaffinity's errors, in Linux's order. */
	tap_eq(getaff(0, 0, buf), -EINVAL, "getaffinity len 0: EINVAL");
	tap_eq(getaff(0, 4, buf), -EINVAL, "getaffinity len 4: EINVAL");
	tap_eq(getaff(0, 12, buf), -EINVAL, "getaffinity len 12 (not a multiple of 8): EINVAL");
	tap_eq(getaff(0, 0x20000000, buf), -EINVAL, "getaffinity len 2^29 (len * 8 wraps to 0): EINVAL");
	tap_eq(getaff(0, 8, NULL), -EFAULT, "getaffinity NULL mask: EFAULT");
	tap_eq(getaff(0, 8, KPTR), -EFAULT, "getaffinity kernel mask pointer: EFAULT");
	tap_eq(getaff(NO_PID, 8, buf), -ESRCH, "getaffinity of no such pid: ESRCH");
	tap_eq(getaff(-1, 8, buf), -ESRCH, "getaffinity pid -1: ESRCH");
	tap_eq(getaff(NO_PID, 4, NULL), -EINVAL, "getaffinity bad len, pid and pointer: EINVAL (len first)");
	tap_eq(getaff(NO_PID, 8, NULL), -ESRCH, "getaffinity bad pid and pointer: ESRCH (pid before the copy)");

	/* sched_setaffinity's errors, in Linux's order; none changes the mask. */
	/* The number just above the highest online CPU, and 63. */
	int highest = 63 - __builtin_clzl(online);
	unsigned long none = 0, offline = highest < 63 ? 1UL << (highest + 1) : 0, bit63 = 1UL << 63;
	tap_eq(setaff(0, 8, &none), -EINVAL, "setaffinity empty mask: EINVAL");
	tap_eq(setaff(0, 0, &all), -EINVAL, "setaffinity len 0 (an empty mask): EINVAL");
	if (offline) {
		tap_eq(setaff(0, 8, &offline), -EINVAL, "setaffinity CPU %d only (not online): EINVAL", highest + 1);
		tap_eq(setaff(0, 8, &bit63), -EINVAL, "setaffinity CPU 63 only (not online): EINVAL");
	}
	tap_eq(setaff(0, 8, NULL), -EFAULT, "setaffinity NULL mask: EFAULT");
	tap_eq(setaff(0, 8, KPTR), -EFAULT, "setaffinity kernel mask pointer: EFAULT");
	tap_eq(setaff(NO_PID, 8, &all), -ESRCH, "setaffinity of no such pid: ESRCH");
	tap_eq(setaff(-1, 8, &all), -ESRCH, "setaffinity pid -1: ESRCH");
	tap_eq(setaff(NO_PID, 8, NULL), -EFAULT, "setaffinity bad pid and pointer: EFAULT (the copy before the pid)");
	tap_eq(setaff(NO_PID, 8, &none), -ESRCH, "setaffinity bad pid and empty mask: ESRCH (the pid before the mask)");
	buf[0] = 0;
	getaff(0, 8, buf);
	tap_eq(buf[0], all, "the failed calls left the mask as it was");

	/* Pinned to each CPU in turn, the thread runs there. */
	unsigned long wrong_cpu = 0, wrong_mask = 0, wrong_status = 0, set_failed = 0, pinned = 0;
	for (int c = 0; c < 64; c++) {
		if (!(all >> c & 1))
			continue;
		unsigned long one = 1UL << c;
		long s = setaff(0, 8, &one);
		if (s) {
			if (set_failed++ < 3)
				printf("# sched_setaffinity to CPU %d: %ld\n", c, s);
			continue;
		}
		pinned++;
		sched_yield();
		unsigned cpu = ~0u, node = ~0u;
		long g = sys(syscall(SYS_getcpu, &cpu, &node, NULL));
		int libc = sched_getcpu();
		if (g != 0 || cpu != (unsigned)c || node == ~0u || libc != c) {
			if (wrong_cpu++ < 3)
				printf("# pinned to CPU %d: getcpu %ld (cpu %d, node %d), sched_getcpu %d\n", c, g, (int)cpu, (int)node, libc);
		}
		buf[0] = 0;
		if (getaff(0, 8, buf) != 8 || buf[0] != one)
			wrong_mask++;
		if (status_allowed() != (long)one)
			wrong_status++;
	}
	tap_eq(set_failed, 0, "sched_setaffinity to each online CPU succeeds");
	tap_ok(pinned && !wrong_cpu, "pinned to a CPU, getcpu and sched_getcpu report it after sched_yield (%lu of %lu wrong)", wrong_cpu, pinned);
	tap_ok(pinned && !wrong_mask, "pinned to a CPU, sched_getaffinity names only it (%lu of %lu wrong)", wrong_mask, pinned);
	tap_ok(pinned && !wrong_status, "pinned to a CPU, Cpus_allowed_list names only it (%lu of %lu wrong)", wrong_status, pinned);
	tap_eq(sys(syscall(SYS_getcpu, NULL, NULL, NULL)), 0, "getcpu(NULL, NULL, NULL) is 0");
	tap_eq(sys(syscall(SYS_getcpu, KPTR, NULL, NULL)), -EFAULT, "getcpu to a kernel pointer: EFAULT");

	/* Setting the mask back; CPUs that are not online are dropped. */
	unsigned long more = all | offline;
	tap_eq(setaff(0, 8, &more), 0, "setaffinity online CPUs plus an offline one");
	buf[0] = 0;
	getaff(0, 8, buf);
	snprintf(hex[0], sizeof hex[0], "%#lx", buf[0]);
	snprintf(hex[1], sizeof hex[1], "%#lx", all);
	tap_check(buf[0] == all, hex[0], hex[1], "sched_getaffinity names only the online CPUs of it");
	int first = __builtin_ctzl(all);
	if (first < 8) {
		unsigned char byte = 1u << first;
		tap_eq(setaff(0, 1, &byte), 0, "setaffinity len 1 (the rest of the mask cleared)");
		buf[0] = 0;
		getaff(0, 8, buf);
		tap_eq(buf[0], 1UL << first, "sched_getaffinity names the CPU of that byte only");
	}
	tap_eq(setaff(0, 8, &all), 0, "setaffinity back to every online CPU");
	buf[0] = 0;
	getaff(0, 8, buf);
	tap_eq(buf[0], all, "sched_getaffinity names every online CPU again");
	tap_eq(status_allowed(), (long)all, "and so does Cpus_allowed_list");

	/* Another thread, by its tid. */
	if (!tap_ok(pthread_create(&th, NULL, other, NULL) == 0, "pthread_create"))
		return tap_end();
	while (!__atomic_load_n(&t_tid, __ATOMIC_ACQUIRE))
		sched_yield();
	long tid = t_tid;
	buf[0] = 0;
	tap_eq(getaff(tid, 8, buf), 8, "sched_getaffinity of the other thread's tid");
	tap_eq(buf[0], all, "its mask is every online CPU");
	int last = 63 - __builtin_clzl(all);
	unsigned long one = 1UL << last;
	tap_eq(setaff(tid, 8, &one), 0, "sched_setaffinity of the other thread's tid to CPU %d", last);
	buf[0] = 0;
	getaff(tid, 8, buf);
	tap_eq(buf[0], one, "its mask is CPU %d only", last);
	buf[0] = 0;
	getaff(0, 8, buf);
	tap_eq(buf[0], all, "this thread's mask is unchanged");
	tap_eq(other_cpu(), last, "the other thread runs on CPU %d", last);
	store_release(&req, ~0UL);
	pthread_join(th, NULL);
	return tap_end();
}
