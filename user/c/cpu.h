/* cpu.h: the CPUs a test may run on, pinning a thread to one, and the
 * small spin-wait helpers the SMP tests share.
 *
 * Raw system calls throughout, so that a test sees the kernel's answer
 * (`-errno`) rather than libc's. Include after <sched.h>-using headers
 * with _GNU_SOURCE defined. */
#ifndef HOLDFAST_CPU_H
#define HOLDFAST_CPU_H

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CPUS 64

/* The calling thread's allowed CPUs (sched_getaffinity, one 64-bit word):
 * fills list[] in increasing order and returns how many, or -errno. */
static inline int cpus_allowed(int list[MAX_CPUS])
{
	unsigned long mask[16];
	memset(mask, 0, sizeof mask);
	long r = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
	if (r < 0)
		return -errno;
	int n = 0;
	for (int c = 0; c < MAX_CPUS; c++)
		if (mask[0] >> c & 1)
			list[n++] = c;
	return n;
}

/* Allow the calling thread only `cpu`; 0 or -errno. */
static inline int pin_self(int cpu)
{
	unsigned long mask[16];
	memset(mask, 0, sizeof mask);
	mask[cpu / 64] = 1UL << (cpu % 64);
	return syscall(SYS_sched_setaffinity, 0, sizeof mask, mask) < 0 ? -errno : 0;
}

/* The CPU the caller runs on (the getcpu system call), or -errno. */
static inline int current_cpu(void)
{
	unsigned cpu = ~0u, node = ~0u;
	return syscall(SYS_getcpu, &cpu, &node, NULL) < 0 ? -errno : (int)cpu;
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline unsigned long load_acquire(const unsigned long *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_release(unsigned long *p, unsigned long v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* A store no later load of this thread can pass (xchg on x86): what the
 * other CPU sees before this thread goes on, e.g. into a system call. */
static inline void store_seq_cst(unsigned long *p, unsigned long v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

#endif
