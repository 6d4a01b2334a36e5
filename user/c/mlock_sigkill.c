/*
 * mlock_sigkill: SIGKILL arriving while a thread is inside mlock() of a
 * large region ends population promptly and the process dies cleanly.
 *
 * The main thread maps 512 MiB, says in memory that it is entering mlock,
 * and mlocks the region (a long population). A second thread waits for
 * that word, lets the mlock run for 10 ms and sends SIGKILL to the process.
 * It watches memory, not the kernel: any probe of the address space
 * (mincore, a fault, /proc/self/status on Holdfast) takes mmap_lock for
 * read, which a strategy that populates under the write lock holds until
 * the mlock ends. Expected: the process is killed by signal 9 (shell status
 * 137) long before the mlock could have finished populating the rest
 * (that takes seconds under QEMU and far more than 10 ms natively).
 * Reaching the end of main is a failure (exit 1).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define REGION (512UL << 20)

/* Set by the main thread just before it calls mlock. */
static int entering_mlock;

static void *killer(void *arg)
{
	(void)arg;
	struct timespec poll = { 0, 100 * 1000 }, inside = { 0, 10 * 1000 * 1000 };
	while (!__atomic_load_n(&entering_mlock, __ATOMIC_SEQ_CST))
		nanosleep(&poll, NULL);
	nanosleep(&inside, NULL);
	printf("# mlock has run for 10 ms: sending SIGKILL\n");
	fflush(stdout);
	kill(getpid(), SIGKILL);
	return NULL;
}

int main(void)
{
	char *p = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("not ok 1 - mmap 512 MiB\n");
		return 1;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, killer, NULL) != 0) {
		printf("not ok 1 - pthread_create\n");
		return 1;
	}
	__atomic_store_n(&entering_mlock, 1, __ATOMIC_SEQ_CST);
	int r = mlock(p, REGION);
	/* Only reached if the whole region was locked before the signal. */
	printf("not ok 1 - mlock returned %d before SIGKILL ended the process\n", r);
	return 1;
}
