/* shm_mlock: one page locked by two processes (Linux 5.18+ mlock_count).
 *
 * A parent maps 8 MiB MAP_SHARED | MAP_ANONYMOUS, writes every page and
 * forks; the child acts on the parent's commands and reports what it
 * sees. Each page is mlocked once however many locked vmas map it, and
 * stays mlocked while any of them is left:
 * - both mlock: meminfo's Mlocked rises by 8 MiB, not 16; each process's
 *   VmLck counts 8 MiB and its smaps Locked: its share (Pss, 4 MiB);
 * - the child munlocks: its VmLck and Locked: drop to 0, Mlocked does
 *   not move, every page stays resident in both;
 * - the parent munlocks too: Mlocked drops by 8 MiB;
 * - the parent maps the pages a second time, unlocked (mremap with
 *   old_len 0), both mlock the first mapping again and the child exits
 *   (its mapping goes): Mlocked stays; the parent's munmap of its locked
 *   mapping, the last locked one, munlocks the pages, which the unlocked
 *   mapping keeps, data and all.
 * Linux folds its meminfo counters per CPU, lazily: 1 MiB of drift is
 * allowed. Runs as root (RLIMIT_MEMLOCK). */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 2048L
#define SIZE_KB (NPAGES * PG / 1024)
#define ABOUT(d, kb) ((d) >= (kb) - 1024 && (d) <= (kb) + 1024)

/* What the child saw after a command. */
struct seen {
	long rc, vmlck, locked, resident, bad;
};

static int to_child[2], to_parent[2];
static char *region;

static void child(void)
{
	char cmd;
	while (read(to_child[0], &cmd, 1) == 1) {
		struct seen s = { 0 };
		if (cmd == 'L')
			s.rc = mlock(region, NPAGES * PG);
		else if (cmd == 'U')
			s.rc = munlock(region, NPAGES * PG);
		else
			_exit(0);
		s.vmlck = vmlck_kb();
		s.locked = smaps_field_kb(region, "Locked");
		s.resident = resident(region, NPAGES);
		s.bad = bad_pages(region, 0, NPAGES, 'm');
		if (write(to_parent[1], &s, sizeof s) != sizeof s)
			_exit(1);
	}
	_exit(0);
}

/* Have the child run `cmd`; what it saw. */
static struct seen ask(char cmd)
{
	struct seen s = { -1, -1, -1, -1, -1 };
	if (write(to_child[1], &cmd, 1) != 1 || read(to_parent[0], &s, sizeof s) != sizeof s)
		tap_ok(0, "the child answers command %c", cmd);
	return s;
}

static long mlocked_kb(void)
{
	return meminfo_field_kb("Mlocked");
}

int main(void)
{
	tap_begin("shm_mlock");
	region = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!tap_ok(region != MAP_FAILED, "mmap 8 MiB shared anonymous"))
		return tap_end();
	fill(region, 0, NPAGES, 'm');
	if (pipe(to_child) || pipe(to_parent))
		return tap_ok(0, "pipes"), tap_end();
	pid_t pid = fork();
	if (pid == 0)
		child();
	long base = mlocked_kb();

	tap_eq(mlock(region, NPAGES * PG), 0, "the parent mlocks");
	long d = mlocked_kb() - base;
	tap_ok(ABOUT(d, SIZE_KB), "Mlocked +%ld kB (want %ld)", d, SIZE_KB);
	struct seen s = ask('L');
	tap_eq(s.rc, 0, "the child mlocks the same pages");
	tap_eq(s.bad, 0, "the child sees the parent's data");
	d = mlocked_kb() - base;
	tap_ok(ABOUT(d, SIZE_KB), "each page is mlocked once: Mlocked +%ld kB (want %ld, not twice that)", d, SIZE_KB);
	tap_eq(s.vmlck, SIZE_KB, "the child's VmLck counts the region");
	tap_eq(vmlck_kb(), SIZE_KB, "the parent's VmLck counts the region");
	tap_eq(s.locked, SIZE_KB / 2, "the child's smaps Locked: is its share (Pss)");
	tap_eq(smaps_field_kb(region, "Locked"), SIZE_KB / 2, "the parent's smaps Locked: is its share (Pss)");

	s = ask('U');
	tap_eq(s.rc, 0, "the child munlocks");
	tap_eq(s.vmlck, 0, "the child's VmLck drops to 0");
	tap_eq(s.locked, 0, "the child's smaps Locked: drops to 0");
	tap_eq(s.resident, NPAGES, "every page stays resident in the child");
	d = mlocked_kb() - base;
	tap_ok(ABOUT(d, SIZE_KB), "the pages stay mlocked while the parent locks them: Mlocked +%ld kB", d);
	tap_eq(smaps_field_kb(region, "Locked"), SIZE_KB / 2, "the parent's smaps Locked: unchanged");
	tap_eq(resident(region, NPAGES), NPAGES, "every page resident in the parent");

	tap_eq(munlock(region, NPAGES * PG), 0, "the parent munlocks too");
	d = mlocked_kb() - base;
	tap_ok(ABOUT(d, 0), "the last munlock munlocks the pages: Mlocked %+ld kB", d);
	tap_eq(smaps_field_kb(region, "Locked"), 0, "the parent's smaps Locked: 0");

	/* A second, unlocked mapping of the same pages keeps them alive
	 * (mremap with old_len 0 duplicates a shared mapping). */
	char *dup = mremap(region, 0, NPAGES * PG, MREMAP_MAYMOVE);
	if (!tap_ok(dup != MAP_FAILED, "mremap(old_len 0) maps the pages a second time, unlocked"))
		return tap_end();
	tap_eq(mlock(region, NPAGES * PG), 0, "the parent mlocks its first mapping again");
	s = ask('L');
	tap_eq(s.rc, 0, "and so does the child");
	char quit = 'Q';
	int st = -1;
	if (write(to_child[1], &quit, 1) != 1 || waitpid(pid, &st, 0) != pid)
		tap_ok(0, "the child exits");
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child exited 0, unmapping its locked mapping");
	d = mlocked_kb() - base;
	tap_ok(ABOUT(d, SIZE_KB), "the parent's locked mapping keeps the pages mlocked: Mlocked +%ld kB", d);
	tap_eq(smaps_field_kb(region, "Locked"), SIZE_KB, "the parent's smaps Locked: is the whole region (the copy has no ptes yet)");
	tap_eq(munmap(region, NPAGES * PG), 0, "the parent unmaps its locked mapping");
	d = mlocked_kb() - base;
	tap_ok(ABOUT(d, 0), "unmapping the last locked mapping munlocks the pages: Mlocked %+ld kB", d);
	tap_eq(resident(dup, NPAGES), NPAGES, "the unlocked mapping still has every page");
	tap_eq(bad_pages(dup, 0, NPAGES, 'm'), 0, "and their data");
	tap_eq(smaps_field_kb(dup, "Locked"), 0, "its smaps Locked: is 0");
	tap_eq(vmlck_kb(), 0, "the parent's VmLck is 0");
	tap_eq(munmap(dup, NPAGES * PG), 0, "munmap the unlocked mapping");
	return tap_end();
}
