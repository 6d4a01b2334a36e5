/* swap_fork: copy-on-write pages shared by fork go to swap once and come
 * back to each process as its own data.
 *
 * The parent fills 32 MiB of private memory and forks; the child waits.
 * The parent then writes 1.25 times the machine's memory elsewhere, and
 * reclaim swaps most of the shared region out: each page is one swap
 * slot counted by both processes' page tables, so the swap in use is
 * less than the two processes' VmSwap added up. After the pressure is
 * unmapped, the child reads the pre-fork data back and writes its own;
 * the parent then still reads the pre-fork data, and once the region is
 * unmapped in both no swap is left in use.
 *
 * Sized for a small machine with swap (cargo xtask test boots it with
 * 256 MiB and zram=1G); elsewhere it says so and checks nothing. */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define REGION_PAGES (32L * 256)

/* The child's verdict, as bits of its exit status. */
#define CHILD_DATA_BAD 1
#define CHILD_NO_SWAP_IN 2

static long swap_used_kb(void)
{
	return meminfo_field_kb("SwapTotal") - meminfo_field_kb("SwapFree");
}

static long vmswap_kb(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	return proc_field_kb(path, "VmSwap");
}

static int child(char *a, int go)
{
	char c;
	if (read(go, &c, 1) != 1)
		_exit(100);
	long in0 = vmstat_field("pswpin");
	int verdict = 0;
	if (bad_pages(a, 0, REGION_PAGES, 'p') != 0)
		verdict |= CHILD_DATA_BAD;
	if (vmstat_field("pswpin") == in0)
		verdict |= CHILD_NO_SWAP_IN;
	fill(a, 0, REGION_PAGES, 'c');
	if (bad_pages(a, 0, REGION_PAGES, 'c') != 0)
		verdict |= CHILD_DATA_BAD;
	return verdict;
}

int main(void)
{
	tap_begin("swap_fork");
	long mem_kb = meminfo_field_kb("MemTotal");
	if (meminfo_field_kb("SwapTotal") <= 0 || mem_kb >= 1024 * 1024) {
		printf("# no swap or more than 1 GiB of memory: nothing to check\n");
		return tap_end();
	}
	char *a = mmap(0, REGION_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int go[2];
	if (!tap_ok(a != MAP_FAILED && pipe(go) == 0, "mmap 32 MiB and a pipe"))
		return tap_end();
	fill(a, 0, REGION_PAGES, 'p');
	long used0 = swap_used_kb();
	pid_t pid = fork();
	if (pid == 0)
		_exit(child(a, go[0]));
	if (!tap_ok(pid > 0, "fork"))
		return tap_end();

	long hog_pages = mem_kb / 4 * 5 / 4;
	char *h = mmap(0, hog_pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!tap_ok(h != MAP_FAILED, "mmap %ld MiB of pressure", hog_pages / 256))
		return tap_end();
	fill(h, 0, hog_pages, 'h');
	munmap(h, hog_pages * PG);
	long gone = REGION_PAGES - resident(a, REGION_PAGES);
	tap_ok(gone > REGION_PAGES / 2, "most of the shared region was swapped out (%ld of %ld pages)", gone, REGION_PAGES);
	long vp = vmswap_kb(getpid()), vc = vmswap_kb(pid), used = swap_used_kb() - used0;
	tap_ok(vc >= gone * 4 / 2, "the child's VmSwap counts the shared pages too (%ld kB)", vc);
	tap_ok(used + gone * 4 / 2 <= vp + vc,
	       "one slot per shared page: %ld kB of swap in use, %ld + %ld kB of VmSwap", used, vp, vc);

	tap_eq(write(go[1], "g", 1), 1, "let the child read and write its copy");
	int status = 0;
	tap_eq(waitpid(pid, &status, 0), pid, "waitpid");
	tap_ok(WIFEXITED(status) && !(WEXITSTATUS(status) & CHILD_DATA_BAD),
	       "the child read the pre-fork data back from swap and wrote its own (status %#x)", status);
	tap_ok(WIFEXITED(status) && !(WEXITSTATUS(status) & CHILD_NO_SWAP_IN), "the child's reads swapped pages in");
	tap_eq(bad_pages(a, 0, REGION_PAGES, 'p'), 0, "the parent still reads the pre-fork data");
	munmap(a, REGION_PAGES * PG);
	/* Slack for this process's own stack and heap pages still in swap. */
	tap_ok(swap_used_kb() - used0 <= vmswap_kb(getpid()) + 256, "unmapping in both processes gives the slots back (%ld kB in use)",
	       swap_used_kb() - used0);
	return tap_end();
}
