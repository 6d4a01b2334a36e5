/* fork_mlock: Linux's mlock rules across fork.
 *
 * - The child does not inherit VM_LOCKED: its VmLck in /proc/self/status
 *   is 0 kB, while the parent's stays what it locked.
 * - The parent's locked pages stay resident (mincore) while they are
 *   shared copy-on-write with the child, in both processes.
 * - Writes after the fork, by the parent (breaking COW inside its locked
 *   vma) and by the child, leave each side's data intact, and the
 *   parent's region still locked and resident.
 * - MCL_FUTURE is not inherited: after mlockall(MCL_FUTURE) in the
 *   parent, a new mapping in the child is not locked (VmLck stays 0),
 *   one in the parent is.
 * Runs as root on Linux (RLIMIT_MEMLOCK is plenty on Holdfast). */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 64

static void locked_region(void)
{
	int to_child[2], to_parent[2];
	char c;
	char *a = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || pipe(to_child) || pipe(to_parent)) {
		tap_ok(0, "setup");
		return;
	}
	long base = vmlck_kb();
	fill(a, 0, NPAGES, 'a');
	tap_eq(mlock(a, NPAGES * PG), 0, "mlock %d pages", NPAGES);
	tap_eq(vmlck_kb(), base + NPAGES * 4, "the parent's VmLck counts them");
	pid_t pid = fork();
	if (pid == 0) {
		int fails = 0;
		fails += vmlck_kb() != 0;                 /* 1 */
		fails += (resident(a, NPAGES) != NPAGES) << 1;
		fails += (bad_pages(a, 0, NPAGES, 'a') != 0) << 2;
		if (write(to_parent[1], "1", 1) != 1 || read(to_child[0], &c, 1) != 1)
			fails |= 64;
		/* The parent has written its copy: ours is unchanged. */
		fails += (bad_pages(a, 0, NPAGES, 'a') != 0) << 3;
		fill(a, 0, NPAGES, 'c');
		fails += (bad_pages(a, 0, NPAGES, 'c') != 0) << 4;
		fails += (vmlck_kb() != 0) << 5;
		if (write(to_parent[1], "2", 1) != 1 || read(to_child[0], &c, 1) != 1)
			fails |= 64;
		_exit(fails);
	}
	tap_eq(read(to_parent[0], &c, 1), 1, "the child checked VmLck, residency and contents");
	tap_eq(vmlck_kb(), base + NPAGES * 4, "the parent's VmLck is unchanged by the fork");
	tap_eq(resident(a, NPAGES), NPAGES, "its locked pages stay resident while shared");
	fill(a, 0, NPAGES, 'p');
	tap_eq(bad_pages(a, 0, NPAGES, 'p'), 0, "the parent writes its locked pages (COW in a locked vma)");
	tap_eq(write(to_child[1], "x", 1), 1, "let the child check and write");
	tap_eq(read(to_parent[0], &c, 1), 1, "the child wrote its copy");
	tap_eq(bad_pages(a, 0, NPAGES, 'p'), 0, "the parent's data is intact after the child's writes");
	tap_eq(vmlck_kb(), base + NPAGES * 4, "the parent's region is still locked");
	tap_eq(resident(a, NPAGES), NPAGES, "and resident");
	tap_eq(write(to_child[1], "x", 1), 1, "let the child exit");
	int st = -1;
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "the child: VmLck 0, pages resident and its own, parent's writes unseen (status %#x)", st);
	tap_eq(bad_pages(a, 0, NPAGES, 'p'), 0, "after the child's exit the parent's data is intact");
	tap_eq(munlock(a, NPAGES * PG), 0, "munlock");
	tap_eq(vmlck_kb(), base, "VmLck back to where it was");
	munmap(a, NPAGES * PG);
	close(to_child[0]), close(to_child[1]), close(to_parent[0]), close(to_parent[1]);
}

static void locked_then_child_locks(void)
{
	/* A region locked in the parent and mlocked again in the child: the
	 * child's mlock breaks COW for its own copy (writable private), each
	 * side has its own locked pages. */
	char *a = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fill(a, 0, 8, 'm');
	mlock(a, 8 * PG);
	pid_t pid = fork();
	if (pid == 0) {
		int fails = mlock(a, 8 * PG) != 0;
		fails += (vmlck_kb() != 32) << 1;
		fails += (resident(a, 8) != 8) << 2;
		fill(a, 0, 8, 'n');
		fails += (bad_pages(a, 0, 8, 'n') != 0) << 3;
		_exit(fails);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child mlocks the inherited region itself: VmLck 32 kB (status %#x)", st);
	tap_eq(bad_pages(a, 0, 8, 'm'), 0, "the parent's locked data is intact");
	munlock(a, 8 * PG);
	munmap(a, 8 * PG);
}

static void mcl_future(void)
{
	long base = vmlck_kb();
	tap_eq(mlockall(MCL_FUTURE), 0, "mlockall(MCL_FUTURE)");
	pid_t pid = fork();
	if (pid == 0) {
		char *b = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED)
			_exit(1);
		memset(b, 1, 16 * PG);
		_exit(vmlck_kb() != 0 ? 2 : 0);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "MCL_FUTURE is not inherited: the child's new mapping is not locked (status %#x)", st);
	char *b = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long now = vmlck_kb();
	tap_ok(now >= base + 64, "the parent's new mapping is locked (VmLck %ld kB, was %ld)", now, base);
	tap_eq(munlockall(), 0, "munlockall");
	munmap(b, 16 * PG);
}

int main(void)
{
	tap_begin("fork_mlock");
	locked_region();
	locked_then_child_locks();
	mcl_future();
	return tap_end();
}
