/* sysrq_crash: the kernel's panic path with every CPU busy.
 *
 *   sysrq_crash        (as root; it crashes the machine on purpose)
 *
 * One thread per online CPU, each pinned to its CPU, prints heartbeat
 * lines (`beat CPU N`) as fast as the console takes them. Once every CPU
 * has printed one, the threads on the first two CPUs write the key `c` to
 * /proc/sysrq-trigger at the same moment, which panics the kernel twice
 * at once ("sysrq triggered crash", as on Linux). The run is judged from
 * the console by the harness: exactly one panic message, whole, and no
 * heartbeat after it (the first CPU to panic stops the others before it
 * prints; the second one to panic only stops). On one CPU the single
 * thread crashes alone.
 *
 * Returning from the write is a failure (exit 1): the kernel did not
 * crash. Linux behaves the same way, and crashes too. */
#define _GNU_SOURCE
#include "cpu.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>

static int ncpus;
static int cpu_of[MAX_CPUS];
/* Threads that have printed a heartbeat; all of them may crash from 2. */
static int beating;
/* Crashers ready, their file open: they write when both are. */
static int ready;

static void beat(int cpu, long n)
{
	char line[48];
	int len = snprintf(line, sizeof line, "beat %d %ld\n", cpu, n);
	if (write(1, line, len) < 0)
		_exit(1);
}

static void *run(void *arg)
{
	int i = (int)(long)arg, cpu = cpu_of[i];
	if (pin_self(cpu) != 0) {
		printf("not ok - cannot pin to CPU %d\n", cpu);
		_exit(1);
	}
	beat(cpu, 0);
	__atomic_add_fetch(&beating, 1, __ATOMIC_SEQ_CST);
	int crasher = i < 2;
	int crashers = ncpus < 2 ? ncpus : 2;
	int fd = -1;
	if (crasher) {
		fd = open("/proc/sysrq-trigger", O_WRONLY);
		if (fd < 0) {
			printf("not ok - open /proc/sysrq-trigger: errno %d\n", errno);
			_exit(1);
		}
		while (__atomic_load_n(&beating, __ATOMIC_SEQ_CST) < ncpus)
			beat(cpu, 1);
		__atomic_add_fetch(&ready, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < crashers)
			;
		ssize_t r = write(fd, "c", 1);
		printf("not ok - the kernel did not crash (write returned %zd)\n", r);
		_exit(1);
	}
	for (long n = 1;; n++)
		beat(cpu, n);
}

int main(void)
{
	ncpus = cpus_allowed(cpu_of);
	if (ncpus <= 0) {
		printf("not ok - sched_getaffinity: %d\n", ncpus);
		return 1;
	}
	printf("# %d CPUs: crashing with every one of them printing\n", ncpus);
	fflush(stdout);
	pthread_t t[MAX_CPUS];
	for (int i = 1; i < ncpus; i++)
		if (pthread_create(&t[i], NULL, run, (void *)(long)i) != 0) {
			printf("not ok - pthread_create\n");
			return 1;
		}
	run((void *)0L);
	return 1;
}
