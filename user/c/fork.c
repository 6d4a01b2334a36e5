/* fork: fork, vfork and clone without CLONE_VM make processes with
 * copy-on-write address spaces.
 *
 * - 256 pages filled by the parent are seen by the child; after the fork
 *   each side writes its own pattern over every page (and over heap and
 *   stack data), and neither sees the other's writes, while both are
 *   alive (synchronised through pipes) and after the child has exited.
 * - A private read-only mapping and a MAP_SHARED anonymous one: the shared
 *   one stays shared (a child's write is seen by the parent).
 * - fork from a process with a second thread running: the child has one
 *   thread, sees memory as it was, and the parent's thread goes on.
 * - vfork: the parent sleeps until the child _exits (the child's write
 *   to memory, shared with CLONE_VM, is seen by the parent).
 * - clone(SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID) as a raw
 *   system call: the tid words in parent and child.
 * - a pipe between parent and child, with end of file once the child's
 *   write end is closed by its exit.
 * - the child inherits the x87/SSE state (the rounding mode).
 * - a shared futex in MAP_SHARED memory works between the two processes.
 * Every expectation is what Linux 6.x does; the test runs on both. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PG 4096L
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define NPAGES 256

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Fill every word of every page with tag ^ page ^ word. */
static void fill(char *p, long pages, uint64_t tag)
{
	for (long i = 0; i < pages; i++) {
		uint64_t *w = (uint64_t *)(p + i * PG);
		for (long j = 0; j < PG / 8; j += 61)
			w[j] = tag ^ ((uint64_t)i << 20) ^ (uint64_t)j;
	}
}

/* Number of pages whose words do not carry `tag`. */
static long bad_pages(const char *p, long pages, uint64_t tag)
{
	long bad = 0;
	for (long i = 0; i < pages; i++) {
		const uint64_t *w = (const uint64_t *)(p + i * PG);
		for (long j = 0; j < PG / 8; j += 61)
			if (w[j] != (tag ^ ((uint64_t)i << 20) ^ (uint64_t)j)) {
				bad++;
				break;
			}
	}
	return bad;
}

static int wait_status(pid_t pid)
{
	int st = -1;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static void cow_isolation(void)
{
	char *a = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *heap = malloc(64 * PG);
	volatile uint64_t stack_word = 0x5555;
	int to_child[2], to_parent[2];
	char c;
	if (a == MAP_FAILED || !heap || pipe(to_child) || pipe(to_parent)) {
		tap_ok(0, "setup");
		return;
	}
	fill(a, NPAGES, 0xA);
	fill(heap, 64, 0xB);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		int fails = 0;
		fails += getppid() != parent;
		fails += getpid() == parent;
		fails += bad_pages(a, NPAGES, 0xA) != 0;
		fails += bad_pages(heap, 64, 0xB) != 0;
		fails += stack_word != 0x5555;
		/* The child writes first, then lets the parent write. */
		fill(a, NPAGES, 0xC);
		fill(heap, 64, 0xC);
		stack_word = 0xC;
		fails += bad_pages(a, NPAGES, 0xC) != 0;
		if (write(to_parent[1], "w", 1) != 1 || read(to_child[0], &c, 1) != 1)
			fails += 10;
		/* The parent has written its pattern meanwhile. */
		fails += bad_pages(a, NPAGES, 0xC) != 0;
		fails += bad_pages(heap, 64, 0xC) != 0;
		fails += stack_word != 0xC;
		_exit(fails);
	}
	tap_ok(pid > 0, "fork returns the child's pid in the parent");
	if (pid < 0)
		return;
	tap_eq(read(to_parent[0], &c, 1), 1, "the child wrote its pages");
	tap_eq(bad_pages(a, NPAGES, 0xA), 0, "the parent does not see the child's writes (%d pages)", NPAGES);
	tap_eq(bad_pages(heap, 64, 0xB), 0, "nor its writes to the heap");
	tap_eq(stack_word, 0x5555, "nor to the stack");
	fill(a, NPAGES, 0xD);
	fill(heap, 64, 0xD);
	tap_eq(bad_pages(a, NPAGES, 0xD), 0, "the parent writes its own pattern");
	tap_eq(write(to_child[1], "p", 1), 1, "let the child check");
	int st = wait_status(pid);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child saw the parent's data, then only its own (status %#x)", st);
	tap_eq(bad_pages(a, NPAGES, 0xD), 0, "after the child's exit the parent's pages are intact");
	/* A second fork of the same (now unshared) pages. */
	pid = fork();
	if (pid == 0)
		_exit(bad_pages(a, NPAGES, 0xD) != 0);
	st = wait_status(pid);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a second child sees the parent's current data");
	munmap(a, NPAGES * PG);
	free(heap);
	close(to_child[0]), close(to_child[1]), close(to_parent[0]), close(to_parent[1]);
}

static void shared_and_readonly(void)
{
	char *sh = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *ro = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || ro == MAP_FAILED) {
		tap_ok(0, "setup");
		return;
	}
	fill(sh, 4, 1);
	fill(ro, 4, 2);
	mprotect(ro, 4 * PG, PROT_READ);
	pid_t pid = fork();
	if (pid == 0) {
		int fails = bad_pages(ro, 4, 2) != 0;
		fails += bad_pages(sh, 4, 1) != 0;
		fill(sh, 4, 3);
		/* Made writable in the child only: its writes stay its own. */
		if (mprotect(ro, 4 * PG, PROT_READ | PROT_WRITE))
			fails++;
		fill(ro, 4, 4);
		_exit(fails);
	}
	int st = wait_status(pid);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child sees shared and read-only private memory");
	tap_eq(bad_pages(sh, 4, 3), 0, "MAP_SHARED anonymous memory stays shared across fork");
	tap_eq(bad_pages(ro, 4, 2), 0, "a private page made writable in the child is still copied");
	/* The parent makes its copy writable again: its data is its own. */
	tap_eq(mprotect(ro, 4 * PG, PROT_READ | PROT_WRITE), 0, "mprotect back to read-write");
	fill(ro, 4, 5);
	tap_eq(bad_pages(ro, 4, 5), 0, "and writes it");
	munmap(sh, 4 * PG);
	munmap(ro, 4 * PG);
}

static volatile int thread_stop;
static volatile long thread_count;

static void *spinner(void *arg)
{
	(void)arg;
	while (!thread_stop) {
		thread_count++;
		sched_yield();
	}
	return NULL;
}

static void fork_with_threads(void)
{
	pthread_t t;
	static long data[1024];
	for (int i = 0; i < 1024; i++)
		data[i] = i * 3;
	if (pthread_create(&t, NULL, spinner, NULL)) {
		tap_ok(0, "pthread_create");
		return;
	}
	while (thread_count < 10)
		sched_yield();
	pid_t pid = fork();
	if (pid == 0) {
		int fails = 0;
		for (int i = 0; i < 1024; i++)
			fails += data[i] != i * 3;
		/* Only the forking thread exists in the child. */
		long before = thread_count;
		usleep(20000);
		fails += thread_count != before;
		_exit(fails ? 1 : 0);
	}
	int st = wait_status(pid);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork with a second thread running: the child has one thread and the data (status %#x)", st);
	long before = thread_count;
	usleep(20000);
	tap_ok(thread_count != before, "the parent's thread still runs");
	thread_stop = 1;
	pthread_join(t, NULL);
}

static void vfork_waits(void)
{
	static volatile int set_by_child;
	set_by_child = 0;
	uint64_t t0 = now_ns();
	pid_t pid = vfork();
	if (pid == 0) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		set_by_child = 42;
		_exit(7);
	}
	uint64_t waited = now_ns() - t0;
	tap_ok(pid > 0, "vfork returns the child's pid");
	tap_eq(set_by_child, 42, "the parent resumes after the child's _exit (memory is shared)");
	tap_ok(waited >= 90 * 1000 * 1000ull, "the parent was suspended while the child slept (%llu ms)", (unsigned long long)(waited / 1000000));
	int st = wait_status(pid);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 7, "the vfork child's status (%#x)", st);
}

static void raw_clone(void)
{
	pid_t ptid = 0, ctid = 0;
	long r = syscall(SYS_clone, SIGCHLD | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID, 0, &ptid, &ctid, 0);
	if (r == 0) {
		/* The raw child: musl's cached state is stale, use raw calls. */
		long me = syscall(SYS_getpid);
		syscall(SYS_exit_group, ctid == me && ptid == 0 ? 0 : 1);
	}
	tap_ok(r > 0, "clone(SIGCHLD) makes a process");
	tap_eq(ptid, r, "CLONE_PARENT_SETTID wrote the child's tid in the parent");
	tap_eq(ctid, 0, "CLONE_CHILD_SETTID wrote only the child's memory");
	int st = wait_status(r);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "in the child: its tid at ctid, ptid untouched (status %#x)", st);
	tap_eq(syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0), -1, "CLONE_SIGHAND without CLONE_VM");
	tap_eq(errno, EINVAL, "is EINVAL");
}

static void pipe_between(void)
{
	int fd[2];
	char buf[64] = { 0 };
	if (pipe(fd)) {
		tap_ok(0, "pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		const char msg[] = "hello from the child";
		_exit(write(fd[1], msg, sizeof msg) != sizeof msg);
	}
	close(fd[1]);
	ssize_t n = read(fd[0], buf, sizeof buf);
	tap_ok(n == 21 && strcmp(buf, "hello from the child") == 0, "the parent reads what the child wrote (%zd bytes)", n);
	tap_eq(read(fd[0], buf, sizeof buf), 0, "end of file once the child's write end is closed");
	int st = wait_status(pid);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer exited 0");
	close(fd[0]);
}

static long futex(volatile int *addr, int op, int val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, 0, 0);
}

/* A shared futex in MAP_SHARED memory: a wake in the parent reaches the
 * child's waiter (Linux keys it by the page, not the address space). */
static void shared_futex(void)
{
	volatile int *word = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (word == MAP_FAILED) {
		tap_ok(0, "mmap");
		return;
	}
	*word = 0;
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec ts = { 5, 0 };
		while (*word == 0)
			if (futex(word, FUTEX_WAIT, 0, &ts) == -1 && errno == ETIMEDOUT)
				_exit(1);
		_exit(0);
	}
	long woken = 0;
	for (int i = 0; i < 5000 && woken == 0; i++) {
		woken = futex(word, FUTEX_WAKE, 1, NULL);
		if (woken == 0)
			usleep(1000);
	}
	*word = 1;
	futex(word, FUTEX_WAKE, 1, NULL);
	tap_eq(woken, 1, "FUTEX_WAKE in the parent wakes the child's FUTEX_WAIT on MAP_SHARED memory");
	int st = wait_status(pid);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child was woken, not timed out (status %#x)", st);
	munmap((void *)word, PG);
}

static void fpu_state(void)
{
	fesetround(FE_UPWARD);
	pid_t pid = fork();
	if (pid == 0)
		_exit(fegetround() == FE_UPWARD ? 0 : 1);
	fesetround(FE_TONEAREST);
	int st = wait_status(pid);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child inherits the x87/SSE state (rounding mode)");
}

static void many_children(void)
{
	enum { N = 16 };
	pid_t pids[N];
	int ok = 1;
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(i);
		ok &= pids[i] > 0;
	}
	int good = 0;
	for (int i = 0; i < N; i++) {
		int st = wait_status(pids[i]);
		good += WIFEXITED(st) && WEXITSTATUS(st) == i;
	}
	tap_ok(ok && good == N, "%d children at once, each with its own status (%d right)", N, good);
}

int main(void)
{
	tap_begin("fork");
	cow_isolation();
	shared_and_readonly();
	fork_with_threads();
	vfork_waits();
	raw_clone();
	pipe_between();
	fpu_state();
	shared_futex();
	many_children();
	return tap_end();
}
