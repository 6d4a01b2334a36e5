/* shm_anon: MAP_SHARED | MAP_ANONYMOUS memory is one shmem object shared
 * across fork.
 *
 * - The parent maps 16 pages and touches none, then forks.
 * - Pages first written by the child after the fork are seen by the
 *   parent, and mincore in the parent reports exactly those resident
 *   (the object has them) before it touches them itself.
 * - The parent's writes are seen by the child.
 * - Both mlock the region: each one's VmLck counts 64 kB; the child
 *   munlocks: its VmLck drops, the parent's does not, and every page stays
 *   resident in both.
 * - MADV_DONTNEED in the child zaps its ptes only: the data stays (a later
 *   read sees it), mincore still reports the pages, and a write after it
 *   is seen by the parent.
 * - mremap with old_len 0 maps the same pages a second time.
 * The processes take turns through two pipes (no sleeps). The child
 * reports its findings as bits of its exit status.
 * Runs as root on Linux (RLIMIT_MEMLOCK). */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 16

static int to_child[2], to_parent[2];

static void say(int fd)
{
	char c = 1;
	if (write(fd, &c, 1) != 1)
		_exit(120);
}

static int hear(int fd)
{
	char c;
	return read(fd, &c, 1) == 1;
}

static long nonzero_pages(const char *p, long first, long pages)
{
	long bad = 0;
	for (long i = first; i < first + pages; i++)
		for (long j = 0; j < PG; j += 512)
			if (p[i * PG + j]) {
				bad++;
				break;
			}
	return bad;
}

/* The child's part; returns its failure bits. */
static int child(char *a)
{
	int bits = 0;
	long base = vmlck_kb();
	/* 1: write the first half, touched by nobody yet. */
	fill(a, 0, NPAGES / 2, 'c');
	say(to_parent[1]);
	/* 2: the parent wrote every page. */
	if (!hear(to_child[0]))
		return 0x80;
	if (bad_pages(a, 0, NPAGES, 'p'))
		bits |= 1;
	/* 3: the parent has locked the region; lock it here too. */
	if (mlock(a, NPAGES * PG) || vmlck_kb() != base + NPAGES * 4)
		bits |= 2;
	if (resident(a, NPAGES) != NPAGES)
		bits |= 4;
	if (munlock(a, NPAGES * PG) || vmlck_kb() != base)
		bits |= 8;
	if (resident(a, NPAGES) != NPAGES)
		bits |= 4;
	say(to_parent[1]);
	/* 4: MADV_DONTNEED keeps the data of a shared mapping. */
	if (!hear(to_child[0]))
		return bits | 0x80;
	if (madvise(a, NPAGES * PG, MADV_DONTNEED))
		bits |= 0x10;
	if (resident(a, NPAGES) != NPAGES)
		bits |= 0x20;
	if (bad_pages(a, 0, NPAGES, 'p'))
		bits |= 0x40;
	fill(a, 3, 1, 'z');
	say(to_parent[1]);
	return bits;
}

/* The /proc/self/maps line of the vma starting at p, in line (empty if none). */
static void maps_line(const void *p, char *line, size_t cap)
{
	char want[32];
	snprintf(want, sizeof want, "%lx-", (unsigned long)p);
	line[0] = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return;
	while (fgets(line, cap, f))
		if (!strncmp(line, want, strlen(want)))
			break;
		else
			line[0] = 0;
	fclose(f);
}

/* How /proc/self/maps shows shared anonymous memory: Linux's unlinked
 * shmem file, one inode for the object, offsets into it after a split. */
static void maps_of_shared_memory(void)
{
	char *m = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char line[256], perms[8], dev[16], name[64];
	unsigned long off = 1, ino = 0, ino2 = 1;
	maps_line(m, line, sizeof line);
	int n = sscanf(line, "%*x-%*x %7s %lx %15s %lu %63[^\n]", perms, &off, dev, &ino, name);
	tap_ok(n == 5 && !strcmp(perms, "rw-s") && off == 0 && ino != 0 && !strcmp(name, "/dev/zero (deleted)"),
	       "maps: shared anonymous memory is /dev/zero (deleted), rw-s, offset 0, an inode: %s", line);
	mprotect(m + 2 * PG, 2 * PG, PROT_READ);
	maps_line(m + 2 * PG, line, sizeof line);
	n = sscanf(line, "%*x-%*x %7s %lx %15s %lu", perms, &off, dev, &ino2);
	tap_ok(n == 4 && !strcmp(perms, "r--s") && off == 2 * PG && ino2 == ino,
	       "after mprotect splits it, the second part starts 2 pages into the same object: %s", line);
	munmap(m, 4 * PG);
}

int main(void)
{
	tap_begin("shm_anon");
	maps_of_shared_memory();
	char *a = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || pipe(to_child) || pipe(to_parent)) {
		tap_ok(0, "setup");
		return tap_end();
	}
	tap_eq(resident(a, NPAGES), 0, "a new shared mapping has no page resident");
	long base = vmlck_kb();
	pid_t pid = fork();
	if (pid < 0) {
		tap_ok(0, "fork");
		return tap_end();
	}
	if (pid == 0)
		_exit(child(a));

	tap_ok(hear(to_parent[0]), "the child wrote the first half");
	tap_eq(resident(a, NPAGES), NPAGES / 2, "mincore here: the pages the child wrote are resident, no other");
	tap_eq(bad_pages(a, 0, NPAGES / 2, 'c'), 0, "the parent sees the child's writes to pages first touched after fork");
	tap_eq(nonzero_pages(a, NPAGES / 2, NPAGES / 2), 0, "untouched pages read as zero");
	fill(a, 0, NPAGES, 'p');
	tap_eq(mlock(a, NPAGES * PG), 0, "mlock in the parent");
	tap_eq(vmlck_kb(), base + NPAGES * 4, "the parent's VmLck counts the region");
	say(to_child[1]);

	tap_ok(hear(to_parent[0]), "the child locked and unlocked the region");
	tap_eq(vmlck_kb(), base + NPAGES * 4, "the child's munlock leaves the parent's VmLck");
	tap_eq(resident(a, NPAGES), NPAGES, "every page still resident in the parent");
	tap_eq(munlock(a, NPAGES * PG), 0, "munlock in the parent");
	tap_eq(vmlck_kb(), base, "the parent's VmLck back where it was");
	say(to_child[1]);

	tap_ok(hear(to_parent[0]), "the child dropped its ptes and wrote page 3");
	tap_eq(bad_pages(a, 3, 1, 'z'), 0, "the parent sees the child's write after its MADV_DONTNEED");
	tap_eq(bad_pages(a, 4, NPAGES - 4, 'p'), 0, "and its own data in the other pages");
	int st = 0;
	tap_eq(waitpid(pid, &st, 0), pid, "waitpid");
	int bits = WIFEXITED(st) ? WEXITSTATUS(st) : 0xff;
	tap_ok(!(bits & 1), "the child sees the parent's writes");
	tap_ok(!(bits & 2), "mlock in the child: its VmLck counts 64 kB");
	tap_ok(!(bits & 4), "mincore in the child: every page resident while locked and after munlock");
	tap_ok(!(bits & 8), "munlock in the child: its VmLck drops back");
	tap_ok(!(bits & 0x10), "MADV_DONTNEED on the shared mapping succeeds");
	tap_ok(!(bits & 0x20), "mincore after MADV_DONTNEED: the pages are still resident");
	tap_ok(!(bits & 0x40), "a read after MADV_DONTNEED sees the old contents");
	tap_ok(!(bits & 0x80) && WIFEXITED(st), "the child ran to the end (status %#x)", st);
	char *d = mremap(a + 2 * PG, 0, 4 * PG, MREMAP_MAYMOVE);
	tap_ok(d != MAP_FAILED, "mremap with old_len 0 duplicates the shared mapping");
	if (d != MAP_FAILED) {
		tap_eq(bad_pages(d - 2 * PG, 4, 2, 'p'), 0, "the duplicate maps the same pages from the offset on");
		d[3 * PG] = 'd';
		tap_eq(a[5 * PG], 'd', "a write through the duplicate is seen through the original");
		tap_eq(munmap(d, 4 * PG), 0, "munmap the duplicate");
	}
	tap_eq(munmap(a, NPAGES * PG), 0, "munmap");
	return tap_end();
}
