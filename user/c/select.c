/* select: select(2) and pselect6(2) on pipes, /dev/null, a regular file
 * and the standard output, as Linux's fs/select.c.
 *
 * Raw syscall() throughout: musl's select() copies the timeval (so the
 * remaining time Linux writes back would not be seen) and checks negative
 * values itself. nfds < 0 is EINVAL; nfds beyond the descriptor table is
 * cut to it; a set bit on a descriptor that is not open is EBADF; bits at
 * or above nfds are ignored. A pipe's read end is in the read set once it
 * holds data, its write end in the write set while there is room; nothing
 * is exceptional. select writes the time left back into its timeval
 * (not for a zero timeout), pselect6 into its timespec; pselect6's sixth
 * argument points at {sigset pointer, size}, a mask in force while it
 * sleeps. Every expectation is what Linux 6.x returns; the test runs on
 * both. */
#define _GNU_SOURCE
#include "tap.h"
#include "cpu.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KPTR_ ((long)0xffff800000000000UL)

static long select_(long n, void *r, void *w, void *e, void *tv)
{
	long x = syscall(SYS_select, n, r, w, e, tv);
	return x == -1 ? -errno : x;
}

static long pselect6_(long n, void *r, void *w, void *e, void *ts, void *sig)
{
	long x = syscall(SYS_pselect6, n, r, w, e, ts, sig);
	return x == -1 ? -errno : x;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int usr1_runs;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_runs++;
}

static void readiness(void)
{
	int p[2];
	fd_set r, w, e;
	struct timeval tv0 = { 0, 0 };
	pipe(p);
	int n = (p[0] > p[1] ? p[0] : p[1]) + 1;

	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&e);
	FD_SET(p[0], &r);
	FD_SET(p[0], &e);
	FD_SET(p[1], &e);
	tap_eq(select_(n, &r, NULL, &e, &tv0), 0, "an empty pipe's read end: not ready (timeout 0 returns 0)");
	tap_ok(!FD_ISSET(p[0], &r) && !FD_ISSET(p[0], &e), "its bits cleared");
	tap_eq(tv0.tv_sec + tv0.tv_usec, 0, "a zero timeout stays zero");

	FD_ZERO(&w);
	FD_SET(p[1], &w);
	tap_eq(select_(n, NULL, &w, NULL, &tv0), 1, "the write end is ready for writing");
	tap_ok(FD_ISSET(p[1], &w), "its bit set");

	write(p[1], "x", 1);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&e);
	FD_SET(p[0], &r);
	FD_SET(p[1], &r);
	FD_SET(p[0], &w);
	FD_SET(p[1], &w);
	FD_SET(p[0], &e);
	struct timeval tv = { 5, 0 };
	tap_eq(select_(n, &r, &w, &e, &tv), 2, "after a write: the read end readable, the write end writable");
	tap_ok(FD_ISSET(p[0], &r) && !FD_ISSET(p[1], &r), "read set: only the read end");
	tap_ok(FD_ISSET(p[1], &w) && !FD_ISSET(p[0], &w), "write set: only the write end");
	tap_ok(!FD_ISSET(p[0], &e), "nothing exceptional");
	tap_ok(tv.tv_sec <= 5 && tv.tv_sec >= 4 && tv.tv_usec >= 0 && tv.tv_usec < 1000000,
	       "the time left written back (%ld.%06ld s)", (long)tv.tv_sec, (long)tv.tv_usec);

	/* A bit at nfds or above is not looked at. */
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tap_eq(select_(p[0], &r, NULL, NULL, &tv0), 0, "a ready fd at nfds is not looked at");
	int closed = n + 5;
	FD_SET(closed, &r);
	tap_eq(select_(p[0], &r, NULL, NULL, &tv0), 0, "nor a closed fd above nfds");

	/* nfds far beyond the table is cut to it. */
	static unsigned long big[100000 / 64 + 1];
	memset(big, 0, sizeof big);
	big[p[0] / 64] |= 1UL << (p[0] % 64);
	tap_eq(select_(100000, big, NULL, NULL, &tv0), 1, "nfds of 100000: cut to the table");
	tap_ok(big[p[0] / 64] & (1UL << (p[0] % 64)), "the read end reported");

	/* NULL sets and a timeout: a plain sleep. */
	struct timeval t20 = { 0, 20000 };
	double t0 = now_s();
	tap_eq(select_(0, NULL, NULL, NULL, &t20), 0, "no sets, 20 ms: 0");
	tap_ok(now_s() - t0 >= 0.015, "after its 20 ms (%.3f s)", now_s() - t0);

	/* A timeout that runs out on an empty pipe. */
	char c;
	read(p[0], &c, 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	t20.tv_sec = 0;
	t20.tv_usec = 20000;
	t0 = now_s();
	tap_eq(select_(n, &r, NULL, NULL, &t20), 0, "an empty pipe for 20 ms: 0");
	double dt = now_s() - t0;
	tap_ok(dt >= 0.015 && dt < 5, "after its 20 ms (%.3f s)", dt);
	tap_ok(!FD_ISSET(p[0], &r), "the read bit cleared");
	tap_eq(t20.tv_sec * 1000000 + t20.tv_usec, 0, "no time left written back");

	/* pselect6: the same with a timespec. */
	struct timespec ts = { 0, 20000000 };
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tap_eq(pselect6_(n, &r, NULL, NULL, &ts, NULL), 0, "pselect6 on an empty pipe for 20 ms: 0");
	tap_eq(ts.tv_sec * 1000000000L + ts.tv_nsec, 0, "pselect6: no time left written back");
	write(p[1], "y", 1);
	ts.tv_sec = 3;
	ts.tv_nsec = 0;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tap_eq(pselect6_(n, &r, NULL, NULL, &ts, NULL), 1, "pselect6 on a readable pipe: 1");
	tap_ok(ts.tv_sec >= 2 && ts.tv_sec <= 3, "pselect6: time left written back (%ld s)", (long)ts.tv_sec);
	close(p[0]);
	close(p[1]);
}

static void other_files(void)
{
	fd_set r, w;
	struct timeval tv0 = { 0, 0 };
	int null = open("/dev/null", O_RDWR);
	int reg = open("/tmp/select.tmp", O_RDWR | O_CREAT | O_TRUNC, 0600);
	tap_ok(null >= 0 && reg >= 0, "/dev/null and /tmp/select.tmp open");
	int n = (null > reg ? null : reg) + 1;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(null, &r);
	FD_SET(null, &w);
	FD_SET(reg, &r);
	FD_SET(reg, &w);
	FD_SET(1, &w);
	tap_eq(select_(n, &r, &w, NULL, &tv0), 5, "/dev/null, a regular file and stdout are always ready");
	tap_ok(FD_ISSET(null, &r) && FD_ISSET(reg, &r) && FD_ISSET(null, &w) && FD_ISSET(reg, &w) && FD_ISSET(1, &w),
	       "every bit stays set");
	close(null);
	close(reg);
	unlink("/tmp/select.tmp");
}

static void errors(void)
{
	int p[2];
	fd_set r;
	pipe(p);
	int n = p[1] + 1;
	struct timeval tv0 = { 0, 0 };

	tap_eq(select_(-1, NULL, NULL, NULL, &tv0), -EINVAL, "negative nfds: EINVAL");
	tap_eq(pselect6_(-1, NULL, NULL, NULL, NULL, NULL), -EINVAL, "pselect6, negative nfds: EINVAL");
	struct timeval bad = { 0, -1 };
	tap_eq(select_(n, NULL, NULL, NULL, &bad), -EINVAL, "tv_usec of -1: EINVAL");
	bad.tv_sec = -1;
	bad.tv_usec = 0;
	tap_eq(select_(n, NULL, NULL, NULL, &bad), -EINVAL, "tv_sec of -1: EINVAL");
	struct timeval carry = { 0, 1000001 };
	FD_ZERO(&r);
	FD_SET(p[1], &r);
	tap_eq(select_(n, NULL, &r, NULL, &carry), 1, "tv_usec of 1000001 carries into seconds");
	struct timespec badts = { 0, 1000000000 };
	tap_eq(pselect6_(n, NULL, NULL, NULL, &badts, NULL), -EINVAL, "pselect6, tv_nsec of 1e9: EINVAL");

	int closed = p[1] + 3;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	FD_SET(closed, &r);
	tap_eq(select_(closed + 1, &r, NULL, NULL, &tv0), -EBADF, "a closed fd in the read set: EBADF");
	FD_ZERO(&r);
	FD_SET(closed, &r);
	tap_eq(select_(closed + 1, NULL, NULL, &r, &tv0), -EBADF, "a closed fd in the exception set: EBADF");

	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tap_eq(select_(n, (void *)KPTR_, NULL, NULL, &tv0), -EFAULT, "a kernel address as the read set: EFAULT");
	tap_eq(select_(n, NULL, (void *)1, NULL, &tv0), -EFAULT, "an unmapped write set: EFAULT");
	tap_eq(select_(n, &r, NULL, NULL, (void *)KPTR_), -EFAULT, "a kernel address as the timeval: EFAULT");
	tap_eq(pselect6_(n, &r, NULL, NULL, (void *)1, NULL), -EFAULT, "pselect6, an unmapped timespec: EFAULT");
	tap_eq(pselect6_(n, &r, NULL, NULL, NULL, (void *)KPTR_), -EFAULT, "pselect6, a kernel address as the mask pack: EFAULT");
	sigset_t none;
	sigemptyset(&none);
	struct { void *p; size_t size; } pack = { &none, 7 };
	tap_eq(pselect6_(n, &r, NULL, NULL, NULL, &pack), -EINVAL, "pselect6, a mask of 7 bytes: EINVAL");
	pack.p = (void *)KPTR_;
	pack.size = 8;
	tap_eq(pselect6_(n, &r, NULL, NULL, NULL, &pack), -EFAULT, "pselect6, a kernel address as the mask: EFAULT");
	close(p[0]);
	close(p[1]);
}

static void masks(void)
{
	int p[2];
	fd_set r;
	pipe(p);
	int n = p[1] + 1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	kill(getpid(), SIGUSR1);
	tap_eq(usr1_runs, 0, "SIGUSR1 blocked and pending");

	/* The mask keeps it blocked: the timeout ends the wait. */
	struct { void *p; size_t size; } pack = { &usr1, 8 };
	struct timespec ts = { 0, 20000000 };
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tap_eq(pselect6_(n, &r, NULL, NULL, &ts, &pack), 0, "pselect6 with SIGUSR1 in its mask: times out");
	tap_eq(usr1_runs, 0, "the handler has not run");

	/* A mask without it: EINTR, the handler runs, the old mask is back. */
	sigset_t none;
	sigemptyset(&none);
	pack.p = &none;
	ts.tv_sec = 5;
	ts.tv_nsec = 0;
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tap_eq(pselect6_(n, &r, NULL, NULL, &ts, &pack), -EINTR, "pselect6 with an empty mask: EINTR");
	tap_eq(usr1_runs, 1, "the handler ran once");
	sigset_t now;
	sigprocmask(SIG_BLOCK, NULL, &now);
	tap_ok(sigismember(&now, SIGUSR1), "SIGUSR1 blocked again after pselect6");
	tap_ok(ts.tv_sec >= 4 && ts.tv_sec <= 5, "the time left written back on EINTR (%ld s)", (long)ts.tv_sec);

	/* A plain select interrupted by a handled signal: EINTR. */
	sigprocmask(SIG_SETMASK, &old, NULL);
	struct itimerval it = { { 0, 0 }, { 0, 30000 } };
	signal(SIGALRM, on_usr1);
	setitimer(ITIMER_REAL, &it, NULL);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tap_eq(select_(n, &r, NULL, NULL, NULL), -EINTR, "select without timeout, interrupted by SIGALRM: EINTR");
	tap_eq(usr1_runs, 2, "its handler ran");
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	close(p[0]);
	close(p[1]);
}

static void across_fork(void)
{
	int p[2];
	fd_set r;
	pipe(p);
	int n = p[1] + 1;
	/* Timed from before the fork: on another CPU the child may start its
	 * 50 ms before the parent returns from fork. */
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		sleep_ms(50);
		write(p[1], "z", 1);
		_exit(0);
	}
	close(p[1]);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tap_eq(select_(n, &r, NULL, NULL, NULL), 1, "select wakes when the child writes");
	double dt = now_s() - t0;
	tap_ok(FD_ISSET(p[0], &r), "the read end reported");
	tap_ok(dt >= 0.045, "after the child's 50 ms (%.3f s)", dt);
	int st = -1;
	waitpid(pid, &st, 0);
	tap_eq(st, 0, "the child exited 0");
	char c;
	read(p[0], &c, 1);
	/* The writer gone: end of file is readable. */
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	struct timeval tv = { 1, 0 };
	tap_eq(select_(n, &r, NULL, NULL, &tv), 1, "no writer left: the read end is readable (EOF)");
	close(p[0]);
}

int main(void)
{
	tap_begin("select");
	readiness();
	other_files();
	errors();
	masks();
	across_fork();
	return tap_end();
}
