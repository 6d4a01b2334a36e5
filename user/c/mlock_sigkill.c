/*
 * mlock_sigkill: SIGKILL arriving while a thread is inside mlock() of a
 * large region ends population promptly and the process dies cleanly.
 *
 * The main thread maps 512 MiB and mlocks it (a long population); a second
 * thread waits until mincore shows the first page resident — population has
 * begun — and sends SIGKILL to the process. Expected: the process is killed
 * by signal 9 (shell status 137) long before the mlock could have finished
 * populating the rest. Reaching the end of main is a failure (exit 1).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define REGION (512UL << 20)

static void *killer(void *arg)
{
	char *p = arg;
	unsigned char vec;
	struct timespec ts = { 0, 100 * 1000 };
	for (;;) {
		if (mincore(p, 4096, &vec) == 0 && (vec & 1))
			break;
		nanosleep(&ts, NULL);
	}
	printf("# population has begun: sending SIGKILL during mlock\n");
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
	if (pthread_create(&t, NULL, killer, p) != 0) {
		printf("not ok 1 - pthread_create\n");
		return 1;
	}
	int r = mlock(p, REGION);
	/* Only reached if the whole region was locked before the signal. */
	printf("not ok 1 - mlock returned %d before SIGKILL ended the process\n", r);
	return 1;
}
