/* pipes: pipe/pipe2, dup/dup2/dup3 and fcntl's descriptor commands,
 * /dev/null and /dev/zero, poll/ppoll on pipes.
 *
 * Pipes as Linux's fs/pipe.c: 16 page-sized buffers (64 KiB), a write's
 * head that is not a whole page joins the last buffer if it fits, writes
 * of at most PIPE_BUF bytes are never split, a read returns what is there
 * (0 at end of file, once no writer is left), EAGAIN with O_NONBLOCK,
 * EPIPE with no reader (SIGPIPE ignored here; pipe_sigpipe checks the
 * default action). The blocking cases run a reader and a writer thread,
 * pinned to different CPUs when there are two. Raw syscall() shows the
 * kernel's answer. Every expectation is what Linux 6.x returns; the test
 * runs on both. */
#define _GNU_SOURCE
#include "tap.h"
#include "cpu.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#define PG 4096L
#define PIPE_SIZE (16 * PG)
#define KPTR_ ((long)0xffff800000000000UL)

static long sys(long nr, long a, long b, long c)
{
	long r = syscall(nr, a, b, c);
	return r == -1 ? -errno : r;
}

static long rd(int fd, void *buf, long n) { return sys(SYS_read, fd, (long)buf, n); }
static long wr(int fd, const void *buf, long n) { return sys(SYS_write, fd, (long)buf, n); }
static long pipe2_(int fds[2], int flags) { return sys(SYS_pipe2, (long)fds, flags, 0); }

static int cpus[MAX_CPUS], ncpus;

static void pin(int i)
{
	if (ncpus > 1)
		pin_self(cpus[i % ncpus]);
}

/* The lowest free descriptor (what the next open would get). */
static int lowest_free(void)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY);
	close(fd);
	return fd;
}

static void basics(void)
{
	int p[2];
	tap_eq(pipe2_(p, O_WRONLY), -EINVAL, "pipe2 with O_WRONLY: EINVAL");
	tap_eq(pipe2_(p, O_APPEND), -EINVAL, "pipe2 with O_APPEND: EINVAL");
	int before = lowest_free();
	tap_eq(sys(SYS_pipe2, 8, 0, 0), -EFAULT, "pipe2 with a bad fds pointer: EFAULT");
	tap_eq(lowest_free(), before, "no descriptor left behind by the EFAULT");
	tap_eq(sys(SYS_pipe, (long)KPTR_, 0, 0), -EFAULT, "pipe with a kernel pointer: EFAULT");

	tap_eq(sys(SYS_pipe, (long)p, 0, 0), 0, "pipe");
	tap_eq(p[0], before, "read end at the lowest free descriptor");
	tap_eq(p[1], before + 1, "write end next");
	tap_eq(wr(p[1], "hello", 5), 5, "write 5 bytes");
	int n = -1;
	tap_eq(ioctl(p[0], FIONREAD, &n), 0, "FIONREAD");
	tap_eq(n, 5, "FIONREAD counts 5 unread bytes");
	char buf[100] = {0};
	tap_eq(rd(p[0], buf, sizeof buf), 5, "read returns what is there");
	tap_ok(memcmp(buf, "hello", 5) == 0, "the bytes written");
	tap_eq(rd(p[0], buf, 0), 0, "read of 0 bytes on an empty pipe: 0");
	tap_eq(wr(p[1], buf, 0), 0, "write of 0 bytes: 0");
	tap_eq(rd(p[1], buf, 1), -EBADF, "read from the write end: EBADF");
	tap_eq(wr(p[0], buf, 1), -EBADF, "write to the read end: EBADF");

	struct stat st;
	tap_eq(fstat(p[0], &st), 0, "fstat of the read end");
	tap_ok(S_ISFIFO(st.st_mode), "read end is S_IFIFO (mode %o)", st.st_mode);
	tap_eq(st.st_mode & 07777, 0600, "pipe mode 0600");
	tap_eq(fstat(p[1], &st), 0, "fstat of the write end");
	tap_ok(S_ISFIFO(st.st_mode), "write end is S_IFIFO");
	tap_eq(sys(SYS_lseek, p[0], 0, SEEK_SET), -ESPIPE, "lseek on a pipe: ESPIPE");
	tap_eq(sys(SYS_lseek, p[1], 0, SEEK_CUR), -ESPIPE, "lseek on the write end: ESPIPE");
	tap_eq(sys(SYS_lseek, p[0], 0, 7), -EINVAL, "lseek with a bad whence: EINVAL first");
	tap_eq(fcntl(p[0], F_GETFL), O_RDONLY, "F_GETFL of the read end: O_RDONLY");
	tap_eq(fcntl(p[1], F_GETFL), O_WRONLY, "F_GETFL of the write end: O_WRONLY");
	tap_eq(fcntl(p[0], F_GETFD), 0, "no close-on-exec without O_CLOEXEC");

	/* A bad buffer: EFAULT, and the data stays. */
	tap_eq(wr(p[1], (void *)8, 10), -EFAULT, "write from a bad buffer: EFAULT");
	tap_eq(wr(p[1], "0123456789", 10), 10, "write 10 bytes");
	tap_eq(rd(p[0], (void *)8, 10), -EFAULT, "read into a bad buffer: EFAULT");
	char *two = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(two + PG, PG, PROT_NONE);
	tap_eq(rd(p[0], two + PG - 5, 10), -EFAULT, "read of a buffer running into PROT_NONE: EFAULT");
	n = -1;
	ioctl(p[0], FIONREAD, &n);
	tap_eq(n, 10, "the faulted reads consumed nothing");
	tap_eq(rd(p[0], two + PG - 5, 5), 5, "read of what fits before PROT_NONE");
	tap_ok(memcmp(two + PG - 5, "01234", 5) == 0, "the first 5 bytes, in order");
	munmap(two, 2 * PG);

	/* End of file once every write end is closed. */
	close(p[1]);
	tap_eq(rd(p[0], buf, sizeof buf), 5, "data written before the close is still read");
	tap_ok(memcmp(buf, "56789", 5) == 0, "the last 5 bytes");
	tap_eq(rd(p[0], buf, sizeof buf), 0, "then end of file: 0");
	close(p[0]);

	/* With no reader: EPIPE (SIGPIPE ignored). */
	tap_eq(pipe2_(p, O_CLOEXEC), 0, "pipe2(O_CLOEXEC)");
	tap_eq(fcntl(p[0], F_GETFD), FD_CLOEXEC, "read end close-on-exec");
	tap_eq(fcntl(p[1], F_GETFD), FD_CLOEXEC, "write end close-on-exec");
	close(p[0]);
	tap_eq(wr(p[1], "x", 1), -EPIPE, "write with no reader: EPIPE");
	close(p[1]);
}

static void nonblocking(void)
{
	int p[2];
	tap_eq(pipe2_(p, O_NONBLOCK), 0, "pipe2(O_NONBLOCK)");
	tap_eq(fcntl(p[0], F_GETFL), O_RDONLY | O_NONBLOCK, "F_GETFL shows O_NONBLOCK");
	char buf[PG];
	tap_eq(rd(p[0], buf, 1), -EAGAIN, "read of an empty pipe: EAGAIN");
	char *big = malloc(PIPE_SIZE + PG);
	memset(big, 'a', PIPE_SIZE + PG);
	tap_eq(wr(p[1], big, PIPE_SIZE + PG), PIPE_SIZE, "a write of 68 KiB fills the 64 KiB pipe");
	tap_eq(wr(p[1], big, 1), -EAGAIN, "write to a full pipe: EAGAIN");
	tap_eq(rd(p[0], buf, 1), 1, "read 1 byte");
	tap_eq(wr(p[1], big, 1), -EAGAIN, "still 16 buffers in use: a 1-byte write gets EAGAIN");
	tap_eq(rd(p[0], buf, PG), PG, "a read goes on into the next buffer");
	tap_eq(wr(p[1], big, PG + 1), PG, "with one buffer free a 4097-byte write takes a page (its 1-byte head fits nowhere)");
	int n = -1;
	ioctl(p[0], FIONREAD, &n);
	tap_eq(n, PIPE_SIZE - 1, "FIONREAD: 64 KiB less the 1 byte read first");
	long total = 0, r;
	while ((r = rd(p[0], big, PIPE_SIZE + PG)) > 0)
		total += r;
	tap_eq(total, PIPE_SIZE - 1, "everything read back");
	tap_eq(r, -EAGAIN, "then EAGAIN again");

	/* The head of a write that is not a whole page joins the last buffer. */
	for (int i = 0; i < 16; i++)
		wr(p[1], big, 100);
	n = -1;
	ioctl(p[0], FIONREAD, &n);
	tap_eq(n, 1600, "16 writes of 100 bytes");
	tap_eq(wr(p[1], big, PIPE_SIZE), PIPE_SIZE - PG, "they share one buffer: 15 pages left");
	total = 0;
	while ((r = rd(p[0], big, PIPE_SIZE)) > 0)
		total += r;
	tap_eq(total, 1600 + PIPE_SIZE - PG, "all of it read back");

	tap_eq(fcntl(p[0], F_SETFL, 0), 0, "F_SETFL clears O_NONBLOCK");
	tap_eq(fcntl(p[0], F_GETFL), O_RDONLY, "F_GETFL without O_NONBLOCK");
	close(p[0]);
	close(p[1]);
	free(big);
}

/* ---- Blocking, with threads ---- */

struct xfer {
	int fd;
	long bytes;     /* to move */
	long done;      /* moved */
	long err;       /* first error */
	int cpu;
	unsigned seed;
	unsigned long started;
};

static unsigned char pattern(long i) { return (unsigned char)(i * 7 + (i >> 12)); }

/* Writes `bytes` of the pattern in pieces of varying size. */
static void *writer(void *arg)
{
	struct xfer *x = arg;
	pin(x->cpu);
	static unsigned char buf[3 * PG + 17];
	store_seq_cst(&x->started, 1);
	while (x->done < x->bytes) {
		long n = 1 + rand_r(&x->seed) % sizeof buf;
		if (n > x->bytes - x->done)
			n = x->bytes - x->done;
		for (long i = 0; i < n; i++)
			buf[i] = pattern(x->done + i);
		long r = wr(x->fd, buf, n);
		if (r <= 0) {
			x->err = r;
			break;
		}
		x->done += r;
	}
	return NULL;
}

/* Reads until end of file, checking the pattern. */
static void *reader(void *arg)
{
	struct xfer *x = arg;
	pin(x->cpu);
	static unsigned char buf[2 * PG + 5];
	store_seq_cst(&x->started, 1);
	for (;;) {
		long n = 1 + rand_r(&x->seed) % sizeof buf;
		long r = rd(x->fd, buf, n);
		if (r <= 0) {
			x->err = r;
			break;
		}
		for (long i = 0; i < r; i++)
			if (buf[i] != pattern(x->done + i)) {
				x->err = -1000;
				return NULL;
			}
		x->done += r;
	}
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static void blocking(void)
{
	int p[2];
	pipe2_(p, 0);
	/* A reader blocked on an empty pipe is woken by a write. */
	struct xfer r = { .fd = p[0], .cpu = 1, .seed = 1 };
	pthread_t t;
	pthread_create(&t, NULL, reader, &r);
	while (!load_acquire(&r.started))
		sched_yield();
	sleep_ms(50);
	tap_eq(r.done, 0, "the reader waits on the empty pipe");
	struct xfer w = { .fd = p[1], .bytes = 4 << 20, .cpu = 0, .seed = 2 };
	pin(0);
	double t0 = now_s();
	writer(&w);
	tap_eq(w.err, 0, "4 MiB written in random pieces through a 64 KiB pipe");
	close(p[1]);
	pthread_join(t, NULL);
	double dt = now_s() - t0;
	tap_eq(r.done, 4 << 20, "the reader got all of it");
	tap_eq(r.err, 0, "in order, then end of file (reader and writer on different CPUs: %d)", ncpus > 1);
	printf("# 4 MiB through the pipe in %.3f s\n", dt);
	close(p[0]);

	/* A writer blocked on a full pipe is woken by a read. */
	pipe2_(p, 0);
	char *big = calloc(1, PIPE_SIZE);
	wr(p[1], big, PIPE_SIZE);
	struct xfer w2 = { .fd = p[1], .bytes = 3 * PG, .cpu = 1, .seed = 3 };
	pthread_create(&t, NULL, writer, &w2);
	while (!load_acquire(&w2.started))
		sched_yield();
	sleep_ms(50);
	tap_eq(w2.done, 0, "the writer waits on the full pipe");
	long got = 0;
	while (got < PIPE_SIZE) {
		long n = rd(p[0], big, PIPE_SIZE - got);
		if (n <= 0)
			break;
		got += n;
	}
	pthread_join(t, NULL);
	tap_eq(w2.done, 3 * PG, "after the reader drained it the writer finished");
	close(p[0]);
	close(p[1]);

	/* A reader blocked on an empty pipe sees end of file when the last
	 * writer goes; a writer blocked on a full pipe gets EPIPE when the
	 * last reader goes. */
	pipe2_(p, 0);
	struct xfer r3 = { .fd = p[0], .cpu = 1, .seed = 4 };
	pthread_create(&t, NULL, reader, &r3);
	while (!load_acquire(&r3.started))
		sched_yield();
	sleep_ms(30);
	close(p[1]);
	pthread_join(t, NULL);
	tap_eq(r3.err, 0, "closing the last write end wakes the reader with end of file");
	close(p[0]);

	pipe2_(p, 0);
	wr(p[1], big, PIPE_SIZE);
	struct xfer w4 = { .fd = p[1], .bytes = PG, .cpu = 1, .seed = 5 };
	pthread_create(&t, NULL, writer, &w4);
	while (!load_acquire(&w4.started))
		sched_yield();
	sleep_ms(30);
	close(p[0]);
	pthread_join(t, NULL);
	tap_eq(w4.err, -EPIPE, "closing the last read end wakes the writer with EPIPE");
	close(p[1]);
	free(big);
}

/* Writes of PIPE_BUF bytes from two threads are never interleaved. */
#define MSGS 400
struct atomw {
	int fd;
	int id;
	unsigned long started;
	int vec; /* writev of three pieces adding up to PIPE_BUF */
};

static void *atomic_writer(void *arg)
{
	struct atomw *a = arg;
	pin(a->id);
	char msg[PG];
	memset(msg, 'A' + a->id, sizeof msg);
	store_seq_cst(&a->started, 1);
	struct iovec iov[3] = { { msg, 1000 }, { msg + 1000, 2000 }, { msg + 3000, PG - 3000 } };
	for (int i = 0; i < MSGS; i++) {
		long r = a->vec ? sys(SYS_writev, a->fd, (long)iov, 3) : wr(a->fd, msg, sizeof msg);
		if (r != sizeof msg)
			break;
	}
	return NULL;
}

static void atomicity(int vec)
{
	const char *how = vec ? "writev" : "write";
	int p[2];
	pipe2_(p, 0);
	struct atomw a[2] = { { p[1], 0, 0, vec }, { p[1], 1, 0, vec } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, atomic_writer, &a[i]);
	char *all = malloc(2 * MSGS * PG);
	long got = 0;
	while (got < 2 * MSGS * PG) {
		long n = rd(p[0], all + got, 2 * MSGS * PG - got);
		if (n <= 0)
			break;
		got += n;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	tap_eq(got, 2 * MSGS * PG, "%s: two writers' %d messages of PIPE_BUF bytes each arrived", how, MSGS);
	int mixed = 0, counts[2] = { 0, 0 };
	for (long m = 0; m < got / PG; m++) {
		char c = all[m * PG];
		if (c == 'A' || c == 'B')
			counts[c - 'A']++;
		for (long i = 1; i < PG; i++)
			if (all[m * PG + i] != c) {
				mixed++;
				break;
			}
	}
	tap_eq(mixed, 0, "%s: no message interleaved with another", how);
	tap_ok(counts[0] == MSGS && counts[1] == MSGS, "%s: each writer's messages all there (%d, %d)", how, counts[0], counts[1]);
	free(all);
	close(p[0]);
	close(p[1]);
}

/* A readv takes what the pipe holds across its iovecs, in one call. */
static void readv_spans(void)
{
	int p[2];
	pipe2_(p, 0);
	wr(p[1], "abcdefghij", 10);
	char a[4], b[20];
	struct iovec iov[2] = { { a, 4 }, { b, 20 } };
	tap_eq(sys(SYS_readv, p[0], (long)iov, 2), 10, "readv gets all 10 bytes over two iovecs");
	tap_ok(!memcmp(a, "abcd", 4) && !memcmp(b, "efghij", 6), "in order");
	iov[1].iov_base = (void *)8;
	wr(p[1], "0123456789", 10);
	tap_eq(sys(SYS_readv, p[0], (long)iov, 2), -EFAULT, "readv with a bad second iovec: EFAULT");
	int n = -1;
	ioctl(p[0], FIONREAD, &n);
	tap_eq(n, 10, "and nothing consumed");
	close(p[0]);
	close(p[1]);
}

static void dups(void)
{
	int p[2];
	pipe2_(p, 0);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	long nofile = rl.rlim_cur;
	int low = lowest_free();
	tap_eq(sys(SYS_dup, 1000, 0, 0), -EBADF, "dup of a closed descriptor: EBADF");
	tap_eq(sys(SYS_dup, -1, 0, 0), -EBADF, "dup(-1): EBADF");
	int d = sys(SYS_dup, p[1], 0, 0);
	tap_eq(d, low, "dup takes the lowest free descriptor");
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	int d2 = sys(SYS_dup, p[1], 0, 0);
	tap_eq(fcntl(d2, F_GETFD), 0, "dup of a close-on-exec descriptor is not close-on-exec");
	close(d2);
	tap_eq(wr(d, "abc", 3), 3, "write through the duplicate");
	char buf[8];
	tap_eq(rd(p[0], buf, 8), 3, "read what the duplicate wrote");
	close(p[1]);
	tap_eq(wr(d, "d", 1), 1, "the pipe stays open through the duplicate");
	tap_eq(rd(p[0], buf, 8), 1, "and is read");
	p[1] = d;

	tap_eq(sys(SYS_dup2, p[0], p[0], 0), p[0], "dup2(fd, fd) returns fd");
	tap_eq(sys(SYS_dup2, 1000, 1000, 0), -EBADF, "dup2(fd, fd) of a closed fd: EBADF");
	tap_eq(sys(SYS_dup3, p[0], p[0], 0), -EINVAL, "dup3(fd, fd): EINVAL");
	tap_eq(sys(SYS_dup3, p[0], 200, O_NONBLOCK), -EINVAL, "dup3 with O_NONBLOCK: EINVAL");
	tap_eq(sys(SYS_dup3, 1000, 200, 0), -EBADF, "dup3 of a closed fd: EBADF");
	tap_eq(sys(SYS_dup2, p[0], nofile, 0), -EBADF, "dup2 to RLIMIT_NOFILE: EBADF");
	tap_eq(sys(SYS_dup2, 1000, nofile, 0), -EBADF, "dup2 of a closed fd past the limit: EBADF");
	tap_eq(sys(SYS_dup3, 1000, p[0], 1 << 20), -EINVAL, "dup3 checks the flags before the descriptors");
	tap_eq(sys(SYS_dup2, p[1], nofile - 1, 0), nofile - 1, "dup2 to RLIMIT_NOFILE - 1");
	tap_eq(wr(nofile - 1, "e", 1), 1, "which writes to the pipe");
	close(nofile - 1);
	tap_eq(sys(SYS_dup3, p[1], 200, O_CLOEXEC), 200, "dup3 with O_CLOEXEC");
	tap_eq(fcntl(200, F_GETFD), FD_CLOEXEC, "sets close-on-exec on the new descriptor");
	tap_eq(sys(SYS_dup2, p[1], 200, 0), 200, "dup2 over an open descriptor");
	tap_eq(fcntl(200, F_GETFD), 0, "clears close-on-exec");
	/* newfd replaced: the read end dup2'ed over 200 (a write end). */
	tap_eq(sys(SYS_dup2, p[0], 200, 0), 200, "dup2 the read end over the write end");
	tap_eq(rd(200, buf, 8), 1, "200 is now the read end");
	close(p[1]);
	tap_eq(rd(200, buf, 8), 0, "and the write end's last descriptor is gone: end of file");
	close(200);

	/* fcntl F_DUPFD / F_DUPFD_CLOEXEC. */
	tap_eq(fcntl(p[0], F_DUPFD, 100), 100, "F_DUPFD from 100");
	tap_eq(fcntl(p[0], F_DUPFD, 100), 101, "F_DUPFD from 100 again: 101");
	tap_eq(fcntl(p[0], F_DUPFD_CLOEXEC, 100), 102, "F_DUPFD_CLOEXEC");
	tap_eq(fcntl(102, F_GETFD), FD_CLOEXEC, "with close-on-exec");
	tap_eq(fcntl(100, F_GETFD), 0, "F_DUPFD without");
	tap_eq(sys(SYS_fcntl, p[0], F_DUPFD, nofile), -EINVAL, "F_DUPFD from RLIMIT_NOFILE: EINVAL");
	close(100);
	close(101);
	close(102);

	/* EMFILE past RLIMIT_NOFILE, for every call that makes descriptors. */
	struct rlimit small = { 64, rl.rlim_max };
	tap_eq(setrlimit(RLIMIT_NOFILE, &small), 0, "RLIMIT_NOFILE lowered to 64");
	int held[64], nheld = 0;
	for (;;) {
		int fd = sys(SYS_dup, p[0], 0, 0);
		if (fd < 0) {
			tap_eq(fd, -EMFILE, "dup past the limit: EMFILE");
			break;
		}
		held[nheld++] = fd;
	}
	tap_eq(held[nheld - 1], 63, "the last descriptor given is 63");
	int q[2];
	tap_eq(pipe2_(q, 0), -EMFILE, "pipe2 with no descriptor free: EMFILE");
	tap_eq(sys(SYS_fcntl, p[0], F_DUPFD, 0), -EMFILE, "F_DUPFD: EMFILE");
	tap_eq(sys(SYS_open, (long)"/", O_RDONLY, 0), -EMFILE, "open: EMFILE");
	tap_eq(sys(SYS_open, (long)"/nonexistent", O_RDONLY, 0), -EMFILE, "open of a missing file: EMFILE first");
	tap_eq(sys(SYS_open, (long)8, O_RDONLY, 0), -EFAULT, "open of a bad path: EFAULT before EMFILE");
	close(held[--nheld]);
	int before = lowest_free();
	tap_eq(pipe2_(q, 0), -EMFILE, "pipe2 with one descriptor free: EMFILE");
	tap_eq(lowest_free(), before, "and the one free descriptor stays free");
	while (nheld > 0)
		close(held[--nheld]);
	setrlimit(RLIMIT_NOFILE, &rl);
	close(p[0]);
}

static void devices(void)
{
	struct stat st;
	int fd = sys(SYS_open, (long)"/dev/null", O_RDWR, 0);
	tap_ok(fd >= 0, "open /dev/null read-write (%d)", fd);
	char *buf = malloc(64);
	memset(buf, 'x', 64);
	tap_eq(rd(fd, buf, 64), 0, "/dev/null reads end of file");
	tap_eq(buf[0], 'x', "and writes nothing to the buffer");
	tap_eq(wr(fd, buf, 64), 64, "/dev/null takes every byte written");
	tap_eq(wr(fd, buf, 1 << 20), 1 << 20, "even 1 MiB from a 64-byte buffer (nothing is read)");
	tap_eq(fstat(fd, &st), 0, "fstat /dev/null");
	tap_ok(S_ISCHR(st.st_mode), "/dev/null is a character device");
	tap_eq(st.st_mode & 0777, 0666, "mode 0666");
	tap_ok(major(st.st_rdev) == 1 && minor(st.st_rdev) == 3, "rdev (1, 3) (got %u, %u)", major(st.st_rdev), minor(st.st_rdev));
	tap_eq(sys(SYS_lseek, fd, 100, SEEK_SET), 0, "lseek on /dev/null lands at 0");
	close(fd);
	free(buf);

	fd = sys(SYS_open, (long)"/dev/zero", O_RDWR, 0);
	tap_ok(fd >= 0, "open /dev/zero read-write (%d)", fd);
	char *b = malloc(3 * PG);
	memset(b, 'x', 3 * PG);
	tap_eq(rd(fd, b + 1, 3 * PG - 2), 3 * PG - 2, "/dev/zero fills a read");
	int zeros = 0;
	for (long i = 1; i < 3 * PG - 1; i++)
		zeros += b[i] == 0;
	tap_eq(zeros, 3 * PG - 2, "with zeros");
	tap_ok(b[0] == 'x' && b[3 * PG - 1] == 'x', "and only where asked");
	tap_eq(wr(fd, b, 3 * PG), 3 * PG, "/dev/zero takes what is written");
	tap_eq(rd(fd, (void *)8, 10), -EFAULT, "a read into a bad buffer: EFAULT");
	char *two = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(two + PG, PG, PROT_NONE);
	tap_eq(rd(fd, two + PG - 100, 200), 100, "a read running into PROT_NONE: the bytes before it");
	munmap(two, 2 * PG);
	tap_eq(fstat(fd, &st), 0, "fstat /dev/zero");
	tap_ok(S_ISCHR(st.st_mode), "/dev/zero is a character device");
	tap_ok(major(st.st_rdev) == 1 && minor(st.st_rdev) == 5, "rdev (1, 5) (got %u, %u)", major(st.st_rdev), minor(st.st_rdev));
	close(fd);
	free(b);

	tap_eq(stat("/dev/null", &st), 0, "stat /dev/null");
	tap_ok(S_ISCHR(st.st_mode) && minor(st.st_rdev) == 3, "stat sees the same device");
	tap_eq(stat("/dev", &st), 0, "stat /dev");
	tap_ok(S_ISDIR(st.st_mode), "/dev is a directory");
	tap_eq(sys(SYS_open, (long)"/dev/nonexistent", O_RDONLY, 0), -ENOENT, "/dev/nonexistent: ENOENT");
	tap_eq(sys(SYS_open, (long)"/dev/null/", O_RDONLY, 0), -ENOTDIR, "/dev/null/: ENOTDIR");
	fd = sys(SYS_open, (long)"/dev/null", O_WRONLY | O_TRUNC, 0);
	tap_ok(fd >= 0, "open /dev/null with O_TRUNC (%d)", fd);
	close(fd);
}

static long poll_(struct pollfd *f, long n, int ms) { return sys(SYS_poll, (long)f, n, ms); }

static long ppoll_(struct pollfd *f, long n, struct timespec *ts)
{
	long r = syscall(SYS_ppoll, f, n, ts, NULL, 8);
	return r == -1 ? -errno : r;
}

struct late_write {
	int fd;
	int ms;
};

static void *write_later(void *arg)
{
	struct late_write *l = arg;
	pin(1);
	sleep_ms(l->ms);
	wr(l->fd, "!", 1);
	return NULL;
}

static void polls(void)
{
	int p[2];
	pipe2_(p, 0);
	struct pollfd f[2] = { { p[0], POLLIN | POLLOUT, -1 }, { p[1], POLLIN | POLLOUT, -1 } };
	tap_eq(poll_(f, 2, 0), 1, "poll of a new pipe: one entry ready");
	tap_eq(f[0].revents, 0, "the read end: nothing to read");
	tap_eq(f[1].revents, POLLOUT, "the write end: POLLOUT");
	wr(p[1], "a", 1);
	tap_eq(poll_(f, 2, 0), 2, "after a write both ends are ready");
	tap_eq(f[0].revents, POLLIN, "the read end: POLLIN");
	f[0].events = POLLRDNORM;
	poll_(f, 1, 0);
	tap_eq(f[0].revents, POLLRDNORM, "POLLRDNORM when asked");
	f[0].events = POLLOUT;
	tap_eq(poll_(f, 1, 0), 0, "POLLIN not asked: the read end is not reported");

	/* A full pipe is not writable; the timeout runs out. */
	char *big = calloc(1, PIPE_SIZE);
	sys(SYS_fcntl, p[1], F_SETFL, O_NONBLOCK);
	while (wr(p[1], big, PIPE_SIZE) > 0)
		;
	f[1].events = POLLOUT;
	double t0 = now_s();
	tap_eq(poll_(&f[1], 1, 60), 0, "poll of a full pipe's write end times out: 0");
	double dt = now_s() - t0;
	tap_ok(dt >= 0.05 && dt < 5, "after its 60 ms (%.3f s)", dt);
	tap_eq(f[1].revents, 0, "with no events");
	struct timespec ts = { 0, 30 * 1000000L };
	tap_eq(ppoll_(&f[1], 1, &ts), 0, "ppoll with a 30 ms timeout: 0");
	ts.tv_nsec = 1000000000;
	tap_eq(ppoll_(&f[1], 1, &ts), -EINVAL, "ppoll with tv_nsec of 1e9: EINVAL");
	unsigned long mask = 0;
	long r7 = syscall(SYS_ppoll, &f[1], 1, NULL, &mask, 7);
	tap_eq(r7 == -1 ? -errno : r7, -EINVAL, "ppoll with a signal mask of 7 bytes: EINVAL");
	while (rd(p[0], big, PIPE_SIZE) == PIPE_SIZE)
		;
	close(p[0]);
	close(p[1]);

	/* A reader thread's poll sleeps until a write on another CPU. */
	pipe2_(p, 0);
	struct late_write l = { p[1], 50 };
	pthread_t t;
	pin(0);
	struct pollfd r = { p[0], POLLIN, 0 };
	pthread_create(&t, NULL, write_later, &l);
	t0 = now_s();
	tap_eq(poll_(&r, 1, -1), 1, "poll without timeout sleeps until the write");
	dt = now_s() - t0;
	tap_eq(r.revents, POLLIN, "POLLIN");
	tap_ok(dt >= 0.03, "after the writer's 50 ms (%.3f s)", dt);
	pthread_join(t, NULL);

	/* Hang-up and error. */
	close(p[1]);
	r.events = POLLIN;
	tap_eq(poll_(&r, 1, 0), 1, "read end after the last writer went");
	tap_eq(r.revents, POLLIN | POLLHUP, "POLLIN (data left) and POLLHUP");
	rd(p[0], big, 10);
	r.events = 0;
	poll_(&r, 1, 0);
	tap_eq(r.revents, POLLHUP, "POLLHUP even when not asked");
	close(p[0]);
	pipe2_(p, 0);
	close(p[0]);
	struct pollfd w = { p[1], 0, 0 };
	tap_eq(poll_(&w, 1, 0), 1, "write end after the last reader went");
	tap_eq(w.revents, POLLERR, "POLLERR even when not asked");
	w.events = POLLOUT;
	poll_(&w, 1, 0);
	tap_eq(w.revents, POLLOUT | POLLERR, "POLLOUT and POLLERR");
	close(p[1]);

	/* Descriptors that are not pipes, or not open. */
	struct pollfd o[3] = { { -1, POLLIN, 5 }, { 1000, POLLIN, 0 }, { 0, POLLIN | POLLOUT, 0 } };
	tap_eq(poll_(o, 3, 0), 2, "poll of a negative, a closed and an open descriptor");
	tap_eq(o[0].revents, 0, "a negative fd is skipped (revents 0)");
	tap_eq(o[1].revents, POLLNVAL, "a closed fd: POLLNVAL");
	tap_eq(poll_((struct pollfd *)8, 1, 0), -EFAULT, "poll of a bad array: EFAULT");
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	tap_eq(poll_(o, rl.rlim_cur + 1, 0), -EINVAL, "more entries than RLIMIT_NOFILE: EINVAL");
	free(big);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	tap_begin("pipes");
	ncpus = cpus_allowed(cpus);
	if (ncpus > 2)
		ncpus = 2;
	signal(SIGPIPE, SIG_IGN);
	if (!only || !strcmp(only, "pipe")) {
		basics();
		nonblocking();
		blocking();
		atomicity(0);
		atomicity(1);
		readv_spans();
	}
	if (!only || !strcmp(only, "dup"))
		dups();
	if (!only || !strcmp(only, "dev"))
		devices();
	if (!only || !strcmp(only, "poll"))
		polls();
	return tap_end();
}
