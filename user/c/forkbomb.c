/* forkbomb: a fork bomb bounded by RLIMIT_NPROC.
 *
 * As uid 65534 (root is exempt from RLIMIT_NPROC, as Linux exempts it)
 * with RLIMIT_NPROC = 12, every process forks as fast as it can, its
 * children doing the same, until fork fails with EAGAIN. The processes
 * of the user (the test included) never exceed the limit, every process
 * is reaped, and then fork works again. Needs root to start (setuid). */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT 12

/* Shared with every process of the bomb. */
struct counts {
	volatile int forks;  /* successful forks */
	volatile int eagain; /* processes that saw EAGAIN */
	volatile int other;  /* other errors */
};

/* Fork until EAGAIN; the children do the same; then reap the own
 * children and exit. */
static int bomb(struct counts *c, int depth)
{
	int child = 0;
	for (;;) {
		pid_t pid = fork();
		if (pid == 0) {
			child = 1;
			if (depth < 6) {
				depth++;
				continue;
			}
			_exit(0);
		}
		if (pid > 0) {
			__atomic_fetch_add(&c->forks, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		if (errno == EAGAIN)
			__atomic_fetch_add(&c->eagain, 1, __ATOMIC_SEQ_CST);
		else
			__atomic_fetch_add(&c->other, 1, __ATOMIC_SEQ_CST);
		break;
	}
	int st, bad = 0;
	pid_t w;
	while ((w = wait(&st)) > 0)
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	if (child)
		_exit(bad ? 1 : 0);
	return bad;
}

int main(void)
{
	tap_begin("forkbomb");
	struct counts *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED) {
		tap_ok(0, "mmap");
		return tap_end();
	}
	struct rlimit lim = { LIMIT, LIMIT };
	tap_eq(setrlimit(RLIMIT_NPROC, &lim), 0, "RLIMIT_NPROC = %d", LIMIT);
	tap_eq(setuid(65534), 0, "setuid(65534): root would be exempt");

	/* Children blocked on a pipe: exactly LIMIT - 1 fit next to us. */
	int fd[2];
	pipe(fd);
	int n = 0, err = 0;
	pid_t pids[LIMIT + 4];
	while (n < LIMIT + 4) {
		pid_t pid = fork();
		if (pid == 0) {
			char ch;
			close(fd[1]);
			_exit(read(fd[0], &ch, 1) == 0 ? 0 : 1);
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		pids[n++] = pid;
	}
	tap_eq(n, LIMIT - 1, "forks until the limit (the test itself counts)");
	tap_eq(err, EAGAIN, "then fork fails with EAGAIN");
	close(fd[0]);
	close(fd[1]);
	int reaped = 0;
	for (int i = 0; i < n; i++) {
		int st = -1;
		if (waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			reaped++;
	}
	tap_eq(reaped, n, "every child exits and is reaped");

	/* The bomb: every process forks until EAGAIN. */
	int bad = bomb(c, 0);
	tap_eq(bad, 0, "every process of the bomb exited 0 and was reaped");
	tap_ok(c->forks >= 1, "the bomb made processes (%d; how many depends on when zombies are reaped)", c->forks);
	tap_ok(c->eagain >= 1, "its processes stopped at EAGAIN (%d times)", c->eagain);
	tap_eq(c->other, 0, "no other error");
	errno = 0;
	tap_eq(wait(NULL), -1, "nothing left to wait for");
	tap_eq(errno, ECHILD, "ECHILD");

	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	int st = -1;
	tap_ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st), "fork works again afterwards");
	return tap_end();
}
