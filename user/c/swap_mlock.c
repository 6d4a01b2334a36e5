/* swap_mlock: what mlock protects against. Under memory pressure with
 * swap on, mlocked pages never leave RAM while unlocked ones are swapped
 * out and come back intact.
 *
 * Sized for a small machine with swap (cargo xtask test boots it with
 * 256 MiB and zram=1G): LOCKED_MB of private memory is filled and
 * mlocked, then UNLOCKED_MB (twice the machine) is written page by page;
 * the locked pages stay resident all along (mincore after every 32 MiB),
 * Mlocked and VmLck do not move, reclaim wrote pages to swap (pswpout),
 * every unlocked page reads back what was written (pswpin), and a
 * locked page was never swapped in. munlock then lets reclaim take the
 * formerly locked pages too. Every page holds a pattern a compressed
 * swap device can shrink (zram keeps it in RAM). Without swap it says so
 * and checks nothing. Arguments: LOCKED_MB UNLOCKED_MB [ROUNDS], ROUNDS
 * the passes over the unlocked memory after munlock (default 2). */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void fill_page(char *p, uint64_t tag)
{
	uint64_t *w = (uint64_t *)p;
	for (int j = 0; j < PG / 8; j++)
		w[j] = tag << 8 | (uint64_t)(j & 3);
}

static int page_ok(const char *p, uint64_t tag)
{
	const uint64_t *w = (const uint64_t *)p;
	for (int j = 0; j < PG / 8; j++)
		if (w[j] != (tag << 8 | (uint64_t)(j & 3)))
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	long locked_mb = argc > 1 ? atol(argv[1]) : 64, unlocked_mb = argc > 2 ? atol(argv[2]) : 512;
	/* Passes over the unlocked memory after munlock: each swaps it all in
	 * and out once. */
	int rounds = argc > 3 ? atoi(argv[3]) : 2;
	long lpages = locked_mb * 256, upages = unlocked_mb * 256;
	tap_begin("swap_mlock");
	if (meminfo_field_kb("SwapTotal") <= 0) {
		printf("# no swap: nothing to check\n");
		return tap_end();
	}
	char *l = mmap(0, lpages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *u = mmap(0, upages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!tap_ok(l != MAP_FAILED && u != MAP_FAILED, "mmap %ld MiB and %ld MiB", locked_mb, unlocked_mb))
		return tap_end();
	for (long i = 0; i < lpages; i++)
		fill_page(l + i * PG, 0x10000000 + i);
	long ml0 = meminfo_field_kb("Mlocked");
	tap_ok(mlock(l, lpages * PG) == 0, "mlock %ld MiB", locked_mb);
	long ml1 = meminfo_field_kb("Mlocked");
	tap_ok(ml1 - ml0 >= locked_mb * 1024 - 1024, "Mlocked rises by %ld MiB (+%ld kB)", locked_mb, ml1 - ml0);
	long out0 = vmstat_field("pswpout"), in0 = vmstat_field("pswpin");

	long lost = 0;
	double t0 = now_s();
	for (long i = 0; i < upages; i++) {
		fill_page(u + i * PG, i);
		if ((i + 1) % (32 * 256) == 0)
			lost += lpages - resident(l, lpages);
	}
	tap_ok(lost == 0, "the locked pages stayed resident while %ld MiB was written (%ld page-checks missed)", unlocked_mb, lost);
	long out1 = vmstat_field("pswpout");
	double t1 = now_s();
	printf("# writing %ld MiB: %.2f s, %ld pages swapped out (%.0f pages/s)\n", unlocked_mb, t1 - t0, out1 - out0,
	       (out1 - out0) / (t1 - t0));
	tap_ok(out1 - out0 >= upages / 4, "reclaim swapped pages out (pswpout +%ld)", out1 - out0);
	tap_ok(meminfo_field_kb("SwapFree") < meminfo_field_kb("SwapTotal"), "swap is in use (SwapFree %ld of %ld kB)",
	       meminfo_field_kb("SwapFree"), meminfo_field_kb("SwapTotal"));
	tap_ok(resident(u, upages) < upages, "some unlocked pages are not resident (%ld of %ld)", resident(u, upages), upages);
	tap_ok(proc_field_kb("/proc/self/status", "VmSwap") > 0, "VmSwap counts them (%ld kB)",
	       proc_field_kb("/proc/self/status", "VmSwap"));

	long bad = 0;
	double t2 = now_s();
	for (long i = 0; i < upages; i++)
		bad += !page_ok(u + i * PG, i);
	double t3 = now_s();
	printf("# reading it back: %.2f s, %ld pages swapped in (%.0f pages/s)\n", t3 - t2, vmstat_field("pswpin") - in0,
	       (vmstat_field("pswpin") - in0) / (t3 - t2));
	tap_ok(bad == 0, "every unlocked page reads back what was written (%ld bad)", bad);
	tap_ok(vmstat_field("pswpin") - in0 > 0, "reading them swapped pages in (pswpin +%ld)", vmstat_field("pswpin") - in0);
	long lbad = 0;
	for (long i = 0; i < lpages; i++)
		lbad += !page_ok(l + i * PG, 0x10000000 + i);
	tap_ok(lbad == 0 && resident(l, lpages) == lpages, "the locked pages are intact and resident");
	tap_ok(meminfo_field_kb("Mlocked") - ml0 >= locked_mb * 1024 - 1024, "Mlocked did not move (+%ld kB)",
	       meminfo_field_kb("Mlocked") - ml0);
	tap_ok(vmlck_kb() == locked_mb * 1024, "VmLck is %ld MiB", locked_mb);

	/* Unlocked, the same pages are fair game. */
	tap_ok(munlock(l, lpages * PG) == 0, "munlock");
	for (int round = 0; round < rounds; round++)
		for (long i = 0; i < upages; i++)
			u[i * PG + 8] = (char)round;
	tap_ok(resident(l, lpages) < lpages, "after munlock reclaim takes formerly locked pages too (%ld of %ld resident)",
	       resident(l, lpages), lpages);
	lbad = 0;
	for (long i = 0; i < lpages; i++)
		lbad += !page_ok(l + i * PG, 0x10000000 + i);
	tap_ok(lbad == 0, "and they read back intact");
	munmap(l, lpages * PG);
	munmap(u, upages * PG);
	long used = meminfo_field_kb("SwapTotal") - meminfo_field_kb("SwapFree"), mine = proc_field_kb("/proc/self/status", "VmSwap");
	/* kswapd may swap out more of this process's other pages between the
	 * two reads: 4 MiB of slack, against 576 MiB unmapped. (The kernel's
	 * exit leak check counts every slot exactly.) */
	tap_ok(used <= mine + 4096, "unmapping gives its swap slots back (%ld kB in use, %ld kB this process's other pages)", used, mine);
	return tap_end();
}
