/* pipe_sigpipe: a write to a pipe with no reader left raises SIGPIPE,
 * whose default action ends the process: the expected exit status is
 * "killed by signal 13" (128 + 13 in a shell).
 *
 * Before that write, two other threads sleep in the pipe for good: one
 * reads an empty pipe, one writes a full one. The signal must wake them
 * (their sleeps are killable) for the process to end at all.
 * What Linux does; the test runs on both. */
#define _GNU_SOURCE
#include "cpu.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int empty[2], full[2], nowhere[2];
static unsigned long asleep;

static void *read_forever(void *arg)
{
	(void)arg;
	char c;
	__atomic_add_fetch(&asleep, 1, __ATOMIC_SEQ_CST);
	long r = syscall(SYS_read, empty[0], &c, 1);
	printf("pipe_sigpipe: the reader returned %ld (errno %d)\n", r, errno);
	return NULL;
}

static void *write_forever(void *arg)
{
	(void)arg;
	static char page[4096];
	__atomic_add_fetch(&asleep, 1, __ATOMIC_SEQ_CST);
	for (;;)
		if (syscall(SYS_write, full[1], page, sizeof page) < 0)
			break;
	printf("pipe_sigpipe: the writer returned (errno %d)\n", errno);
	return NULL;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(empty) || pipe(full) || pipe(nowhere)) {
		printf("pipe_sigpipe: pipe failed (errno %d)\n", errno);
		return 1;
	}
	pthread_t t[2];
	pthread_create(&t[0], NULL, read_forever, NULL);
	pthread_create(&t[1], NULL, write_forever, NULL);
	while (__atomic_load_n(&asleep, __ATOMIC_SEQ_CST) < 2)
		sched_yield();
	struct timespec ts = { 0, 100 * 1000000L };
	nanosleep(&ts, NULL);
	close(nowhere[0]);
	printf("pipe_sigpipe: writing to a pipe without a reader\n");
	long r = syscall(SYS_write, nowhere[1], "x", 1);
	printf("pipe_sigpipe: still alive after the write (%ld, errno %d)\n", r, errno);
	return 1;
}
