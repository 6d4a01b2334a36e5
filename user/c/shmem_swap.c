/* shmem_swap: shared memory (shmem) pages go to swap under memory
 * pressure and come back intact, with Linux's semantics (mm/shmem.c:
 * shmem_writeout moves a page from the page cache to a swap slot,
 * shmem_swapin_folio brings it back and frees the slot).
 *
 * Four shmem objects: 48 MiB MAP_SHARED | MAP_ANONYMOUS, a 16 MiB memfd
 * filled with write() and mapped MAP_SHARED, a 16 MiB System V segment
 * and an 8 MiB one locked with shmctl(SHM_LOCK). Every 8-byte word of
 * every page holds a value made of the region's seed and the page's index
 * (the first word its complement, so a page is neither zero nor
 * same-filled), and every word is checked. A child forked before the
 * pressure keeps them all mapped and acts on the parent's commands. A
 * round of pressure writes 1.25 times the machine's memory of private
 * anonymous memory and unmaps it. With swap on a small machine:
 * - after the first round, shmem is in swap: SwapFree stays lower by at
 *   least half of the 80 MiB of evictable shmem, meminfo's Shmem (page
 *   cache pages only) drops as much, mincore shows non-resident pages in
 *   each evictable region and smaps' Swap: of each of their vmas is above
 *   0 (Linux: shmem_swap_usage for a shared shmem vma), while VmSwap,
 *   which counts swap entries in page tables only, does not count them;
 *   every page of the SHM_LOCKed segment stays resident (unevictable);
 *   shmctl(SHM_INFO)'s shm_swp counts the segments' pages in swap;
 * - every page reads back intact, the memfd's through pread() (the file
 *   read path swaps in), the others' through their mappings; mincore then
 *   shows them resident, Shmem counts them again and their slots are free
 *   (swap-in frees a shmem page's slot);
 * - after a second round the child writes one word into each even page of
 *   the shared anonymous region, swapped out: the parent sees the child's
 *   words and the rest of each page intact; the parent pwrite()s into a
 *   swapped-out memfd page and reads the memfd back through its mapping
 *   (the fault path swaps in);
 * - after a third round, ftruncate of the memfd to 0 frees the slots of
 *   its swapped-out pages; write(2) of 16 MiB into a new memfd succeeds
 *   while the machine's memory is held by private memory; once everything is unmapped, closed and removed
 *   (IPC_RMID) and the child has exited, SwapFree is back where it was
 *   before the pressure (within the slack of slack_kb()).
 * Linux activates a shmem page used twice between two rounds (its
 * mark_accessed by write() or pread() and a young pte), and reclaim then
 * leaves it in memory: so each page is used once between rounds, and the
 * memfd is read through its mapping only after the second round.
 * Without swap or with 1 GiB of memory or more (a Linux host) the pressure
 * is not tried, and the same program checks the rest: the data, pread,
 * pwrite, the sharing with the child, SHM_LOCK, Shmem, truncation.
 *
 * Sized for a small machine with swap (cargo xtask test boots it with
 * 256 MiB and zram=1G). Linux 6.1 (Debian's cloud kernel) with zram swap
 * on 256 MiB, at 1 and 4 CPUs in QEMU, passes every check. */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB_PAGES 256L
#define SA_PAGES (48 * MIB_PAGES) /* shared anonymous */
#define MF_PAGES (16 * MIB_PAGES) /* memfd */
#define SV_PAGES (16 * MIB_PAGES) /* System V */
#define LK_PAGES (8 * MIB_PAGES)  /* System V, SHM_LOCK */
#define EVICTABLE_KB ((SA_PAGES + MF_PAGES + SV_PAGES) * 4)
#define ALL_KB (EVICTABLE_KB + LK_PAGES * 4)
#define WORDS (PG / 8)
/* Pages read back that reclaim may have taken again: with several CPUs,
 * Linux's kswapd can still be busy when the pressure is unmapped. */
#define SLACK_PAGES 256

/* Seeds: one per region, and the words written later. */
#define SA_SEED 0x5a1
#define MF_SEED 0x3f2
#define SV_SEED 0x6b3
#define LK_SEED 0x1c4
#define CHILD_SEED 0x7d5
#define PWRITE_SEED 0x2e6

/* The child writes word CHILD_WORD of every even page of the shared
 * anonymous region; the parent pwrite()s word PWRITE_WORD of one page. */
#define CHILD_WORD 1
#define PWRITE_WORD 2

/* The value of page `page` of the region seeded `seed`. */
static uint64_t pattern(unsigned seed, long page)
{
	return (uint64_t)seed << 40 | (uint64_t)page << 8 | 0x5a;
}

static void fill_page(char *p, unsigned seed, long page)
{
	uint64_t *w = (uint64_t *)p, v = pattern(seed, page);
	w[0] = ~v;
	for (long j = 1; j < WORDS; j++)
		w[j] = v;
}

static void fill_region(char *p, long pages, unsigned seed)
{
	for (long i = 0; i < pages; i++)
		fill_page(p + i * PG, seed, i);
}

/* Whether page `page` (of the region seeded `seed`, at p) is as filled,
 * except word `ov_word` holding pattern(ov_seed, page) if ov_word >= 0. */
static int page_ok(const char *p, unsigned seed, long page, int ov_word, unsigned ov_seed)
{
	const uint64_t *w = (const uint64_t *)p;
	uint64_t v = pattern(seed, page);
	for (long j = 0; j < WORDS; j++) {
		uint64_t want = j == 0 ? ~v : v;
		if (j == ov_word)
			want = pattern(ov_seed, page);
		if (w[j] != want)
			return 0;
	}
	return 1;
}

/* Pages of [first, first + n) of region p that are not as filled; every
 * `stride`-th page (0: none) with word `ov_word` from `ov_seed`. */
static long bad_range(const char *p, long first, long n, unsigned seed, long stride, int ov_word, unsigned ov_seed)
{
	long bad = 0;
	for (long i = first; i < first + n; i++) {
		int ov = stride && i % stride == 0;
		bad += !page_ok(p + i * PG, seed, i, ov ? ov_word : -1, ov_seed);
	}
	return bad;
}

static long bad_pages_of(const char *p, long pages, unsigned seed)
{
	return bad_range(p, 0, pages, seed, 0, -1, 0);
}

/* Pages of [p, p + pages) mincore reports not resident (-1 on error). */
static long out_pages(void *p, long pages)
{
	long r = resident(p, pages);
	return r < 0 ? -1 : pages - r;
}

static long swap_free_kb(void)
{
	return meminfo_field_kb("SwapFree");
}

static long shmem_kb(void)
{
	return meminfo_field_kb("Shmem");
}

/* How far below its starting value SwapFree may stay once what the test
 * swapped out is back or released: this process's own pages in swap
 * (VmSwap), slots held only by the swap cache (SwapCached: Linux frees
 * those lazily) and the swap slots Linux caches per CPU (64 allocated
 * and 64 freed ones) with room to spare. */
static long slack_kb(void)
{
	return proc_field_kb("/proc/self/status", "VmSwap") + meminfo_field_kb("SwapCached") + 2048 +
	       512 * sysconf(_SC_NPROCESSORS_ONLN);
}

static char *sa, *mf, *sv, *lk;
static int memfd;
static int to_child[2], to_parent[2];

/* What the child reports after writing into the shared anonymous region. */
struct child_report {
	long out_even; /* even pages mincore showed non-resident before */
	long bad_even; /* even pages that read back wrong after the write */
};

static void child(void)
{
	char cmd;
	while (read(to_child[0], &cmd, 1) == 1) {
		if (cmd != 'w')
			_exit(0);
		struct child_report r = { 0, 0 };
		unsigned char *vec = malloc(SA_PAGES);
		if (!vec || mincore(sa, SA_PAGES * PG, vec))
			_exit(2);
		for (long i = 0; i < SA_PAGES; i += 2) {
			r.out_even += !(vec[i] & 1);
			((volatile uint64_t *)(sa + i * PG))[CHILD_WORD] = pattern(CHILD_SEED, i);
		}
		for (long i = 0; i < SA_PAGES; i += 2)
			r.bad_even += !page_ok(sa + i * PG, SA_SEED, i, CHILD_WORD, CHILD_SEED);
		free(vec);
		if (write(to_parent[1], &r, sizeof r) != sizeof r)
			_exit(1);
	}
	_exit(0);
}

/* Write `pages` pages of private anonymous memory and unmap them; 0 or
 * -1 if the mapping failed. */
static int pressure(long pages)
{
	char *h = mmap(0, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h == MAP_FAILED)
		return -1;
	fill(h, 0, pages, 'h');
	munmap(h, pages * PG);
	return 0;
}

/* System V segment of `pages` pages, attached; its id in *id. */
static char *segment(long pages, int *id)
{
	*id = shmget(IPC_PRIVATE, pages * PG, IPC_CREAT | 0600);
	if (*id < 0)
		return MAP_FAILED;
	void *p = shmat(*id, NULL, 0);
	return p == (void *)-1 ? MAP_FAILED : p;
}

/* The memfd's pages read with pread() that are not as filled. */
static long bad_pread_pages(void)
{
	static char buf[64 * 1024];
	long bad = 0, per = sizeof buf / PG;
	for (long i = 0; i < MF_PAGES; i += per) {
		if (pread(memfd, buf, sizeof buf, i * PG) != (ssize_t)sizeof buf)
			return MF_PAGES;
		for (long k = 0; k < per; k++)
			bad += !page_ok(buf + k * PG, MF_SEED, i + k, -1, 0);
	}
	return bad;
}

int main(void)
{
	tap_begin("shmem_swap");
	long mem_kb = meminfo_field_kb("MemTotal");
	int swap = meminfo_field_kb("SwapTotal") > 0 && mem_kb < 1024 * 1024;
	long hog_pages = mem_kb / 4 * 5 / 4;
	if (!swap)
		printf("# no swap or more than 1 GiB of memory: the pressure is not tried\n");

	/* Set up the four regions. */
	long shmem0 = shmem_kb();
	int sv_id = -1, lk_id = -1;
	sa = mmap(0, SA_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!tap_ok(sa != MAP_FAILED, "mmap 48 MiB MAP_SHARED | MAP_ANONYMOUS"))
		return tap_end();
	fill_region(sa, SA_PAGES, SA_SEED);

	memfd = memfd_create("shmem_swap", 0);
	if (!tap_ok(memfd >= 0, "memfd_create"))
		return tap_end();
	long written = 0;
	for (long i = 0; i < MF_PAGES; i++) {
		char page[PG];
		fill_page(page, MF_SEED, i);
		written += write(memfd, page, PG) == PG;
	}
	tap_eq(written, MF_PAGES, "write() 16 MiB into the memfd, page by page");
	mf = mmap(0, MF_PAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (!tap_ok(mf != MAP_FAILED, "mmap the memfd MAP_SHARED"))
		return tap_end();

	sv = segment(SV_PAGES, &sv_id);
	if (!tap_ok(sv != MAP_FAILED, "shmget and shmat 16 MiB"))
		return tap_end();
	fill_region(sv, SV_PAGES, SV_SEED);

	lk = segment(LK_PAGES, &lk_id);
	if (!tap_ok(lk != MAP_FAILED, "shmget and shmat 8 MiB"))
		return tap_end();
	int locked = shmctl(lk_id, SHM_LOCK, NULL);
	tap_eq(locked ? -errno : 0, 0, "shmctl(SHM_LOCK) the 8 MiB segment");
	fill_region(lk, LK_PAGES, LK_SEED);

	long shmem1 = shmem_kb();
	tap_ok(shmem1 - shmem0 >= ALL_KB - 4096, "meminfo Shmem counts the 88 MiB written (+%ld kB)", shmem1 - shmem0);
	tap_eq(resident(sa, SA_PAGES) + resident(mf, MF_PAGES) + resident(sv, SV_PAGES) + resident(lk, LK_PAGES),
	       ALL_KB / 4, "mincore: every page of every region resident");

	if (pipe(to_child) || pipe(to_parent))
		return tap_end();
	pid_t pid = fork();
	if (pid == 0)
		child();
	if (!tap_ok(pid > 0, "fork a child that keeps every region mapped"))
		return tap_end();

	/* The pressure, then what is in swap. */
	long free0 = swap_free_kb();
	if (swap) {
		tap_eq(pressure(hog_pages), 0, "write %ld MiB of private anonymous memory, then unmap it", hog_pages / 256);
		long free1 = swap_free_kb(), shmem2 = shmem_kb();
		printf("# SwapFree %ld -> %ld kB, Shmem %ld -> %ld kB\n", free0, free1, shmem1, shmem2);
		tap_ok(free0 - free1 >= EVICTABLE_KB / 2,
		       "shmem pages went to swap: SwapFree is %ld kB lower with the pressure unmapped (expected >= %ld)",
		       free0 - free1, EVICTABLE_KB / 2);
		tap_ok(shmem1 - shmem2 >= EVICTABLE_KB / 2,
		       "meminfo Shmem no longer counts the swapped-out pages (-%ld kB, expected >= %ld)", shmem1 - shmem2,
		       EVICTABLE_KB / 2);
		long o_sa = out_pages(sa, SA_PAGES), o_mf = out_pages(mf, MF_PAGES), o_sv = out_pages(sv, SV_PAGES);
		tap_ok(o_sa > 0, "mincore: %ld of %ld pages of the shared anonymous region not resident", o_sa, SA_PAGES);
		tap_ok(o_mf > 0, "mincore: %ld of %ld pages of the memfd mapping not resident", o_mf, MF_PAGES);
		tap_ok(o_sv > 0, "mincore: %ld of %ld pages of the 16 MiB System V segment not resident", o_sv, SV_PAGES);
		tap_ok(smaps_field_kb(sa, "Swap") > 0, "smaps Swap: of the shared anonymous vma: %ld kB",
		       smaps_field_kb(sa, "Swap"));
		tap_ok(smaps_field_kb(mf, "Swap") > 0, "smaps Swap: of the memfd vma: %ld kB", smaps_field_kb(mf, "Swap"));
		tap_ok(smaps_field_kb(sv, "Swap") > 0, "smaps Swap: of the System V vma: %ld kB", smaps_field_kb(sv, "Swap"));
		long vmswap = proc_field_kb("/proc/self/status", "VmSwap");
		tap_ok(vmswap >= 0 && vmswap < 4096, "VmSwap (%ld kB) counts swap entries in page tables, not swapped shmem",
		       vmswap);
		tap_eq(resident(lk, LK_PAGES), LK_PAGES, "mincore: every page of the SHM_LOCKed segment stayed resident");
		/* Linux shm_get_stat: shm_swp counts the segments' pages in swap. */
		struct shm_info si;
		int got = shmctl(0, SHM_INFO, (struct shmid_ds *)&si);
		tap_ok(got >= 0 && si.shm_swp >= (unsigned long)o_sv,
		       "SHM_INFO shm_swp counts the segment's pages in swap (%lu, %ld not resident)", got >= 0 ? si.shm_swp : 0, o_sv);
	}

	/* Read back: the memfd through pread() (the file read path), the
	 * others through their mappings. Each page is used once before the
	 * next round: Linux activates a page referenced twice (mark_accessed
	 * by pread and a young pte), and an active page would stay in. */
	tap_eq(bad_pread_pages(), 0, "pread() of the memfd reads every page back");
	tap_eq(bad_pages_of(sa, SA_PAGES, SA_SEED), 0, "every page of the shared anonymous region reads back");
	tap_eq(bad_pages_of(sv, SV_PAGES, SV_SEED), 0, "every page of the 16 MiB System V segment reads back");
	tap_eq(bad_pages_of(lk, LK_PAGES, LK_SEED), 0, "every page of the SHM_LOCKed segment reads back");
	if (swap) {
		long o_sa = out_pages(sa, SA_PAGES), o_mf = out_pages(mf, MF_PAGES), o_sv = out_pages(sv, SV_PAGES);
		tap_ok(o_sa + o_mf + o_sv <= SLACK_PAGES,
		       "mincore: every page read is resident again, the memfd's after pread() (not resident: %ld, %ld, %ld)",
		       o_sa, o_mf, o_sv);
		long shmem3 = shmem_kb(), free3 = swap_free_kb();
		tap_ok(shmem3 - shmem0 >= ALL_KB - 4096, "meminfo Shmem counts every page again (+%ld kB)", shmem3 - shmem0);
		tap_ok(free0 - free3 <= slack_kb(), "swap-in frees a shmem page's slot: SwapFree %ld kB below where it was (%ld allowed)",
		       free0 - free3, slack_kb());
	}

	/* Sharing after swap-in: a second round of pressure, then the child
	 * writes into swapped-out pages and the parent into a memfd page. */
	if (swap) {
		tap_eq(pressure(hog_pages), 0, "a second round of pressure");
		printf("# SwapFree %ld kB below where it was\n", free0 - swap_free_kb());
	}
	struct child_report r = { -1, -1 };
	if (write(to_child[1], "w", 1) != 1 || read(to_parent[0], &r, sizeof r) != sizeof r)
		tap_ok(0, "the child answers");
	if (swap)
		tap_ok(r.out_even > 0, "the child's writes went to swapped-out pages (%ld of %ld)", r.out_even, SA_PAGES / 2);
	tap_eq(r.bad_even, 0, "the child reads its word and the rest of each page it wrote");
	tap_eq(bad_range(sa, 0, SA_PAGES, SA_SEED, 2, CHILD_WORD, CHILD_SEED), 0,
	       "the parent sees the child's word in every even page, the rest intact");

	long k = 0;
	unsigned char vec[MF_PAGES] = { 0 };
	if (swap && mincore(mf, MF_PAGES * PG, vec) == 0)
		for (k = MF_PAGES / 2; k < MF_PAGES - 1 && (vec[k] & 1); k++)
			;
	if (swap)
		tap_ok(!(vec[k] & 1), "a swapped-out page of the memfd to pwrite() into (page %ld)", k);
	uint64_t v = pattern(PWRITE_SEED, k);
	tap_eq(pwrite(memfd, &v, sizeof v, k * PG + PWRITE_WORD * 8), sizeof v, "pwrite() one word into page %ld", k);
	tap_eq(bad_range(mf, k, 1, MF_SEED, 1, PWRITE_WORD, PWRITE_SEED), 0,
	       "the memfd mapping reads the word pwrite() wrote, the rest of the page intact");
	tap_eq(bad_range(mf, 0, k, MF_SEED, 0, -1, 0) + bad_range(mf, k + 1, MF_PAGES - k - 1, MF_SEED, 0, -1, 0), 0,
	       "every other page of the memfd mapping reads back");
	if (swap)
		tap_ok(out_pages(mf, MF_PAGES) <= SLACK_PAGES, "mincore: every page of the memfd mapping is resident again (%ld not)",
		       out_pages(mf, MF_PAGES));

	/* Truncation and release free the slots: a third round puts the
	 * memfd, the System V segment and the odd pages of the shared
	 * anonymous region (the even ones are active) back in swap. */
	if (swap) {
		tap_eq(pressure(hog_pages), 0, "a third round of pressure");
		printf("# SwapFree %ld kB below where it was; not resident: %ld, %ld, %ld pages\n", free0 - swap_free_kb(),
		       out_pages(sa, SA_PAGES), out_pages(mf, MF_PAGES), out_pages(sv, SV_PAGES));
	}
	long out_mf = out_pages(mf, MF_PAGES), free4 = swap_free_kb();
	tap_eq(ftruncate(memfd, 0), 0, "ftruncate the memfd to 0");
	long free5 = swap_free_kb();
	if (swap)
		tap_ok(out_mf > 0 && free5 - free4 >= out_mf * 4 / 2,
		       "ftruncate frees the slots of the memfd's %ld swapped-out pages (SwapFree +%ld kB)", out_mf, free5 - free4);
	struct stat st;
	tap_ok(fstat(memfd, &st) == 0 && st.st_size == 0, "the memfd is empty");
	if (swap) {
		/* write(2) into a file while the machine's memory is held: the
		 * pages the write needs come from reclaim (Linux's
		 * shmem_get_folio allocates with direct reclaim). */
		long hold = mem_kb / 4;
		char *h = mmap(0, hold * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		int full = memfd_create("shmem_swap_full", 0);
		long wrote = 0;
		if (h != MAP_FAILED && full >= 0) {
			static char page[PG];
			fill(h, 0, hold, 'h');
			for (long i = 0; i < MF_PAGES; i++, wrote++) {
				memset(page, (int)(i & 0xff), PG);
				if (write(full, page, PG) != PG)
					break;
			}
		}
		tap_eq(wrote, (long)MF_PAGES, "write() 16 MiB into a new memfd while %ld MiB of private memory is held", hold / 256);
		if (h != MAP_FAILED)
			munmap(h, hold * PG);
		if (full >= 0)
			close(full);
	}
	munmap(sa, SA_PAGES * PG);
	munmap(mf, MF_PAGES * PG);
	close(memfd);
	tap_eq(shmdt(sv) | shmdt(lk), 0, "shmdt both segments");
	tap_eq(shmctl(sv_id, IPC_RMID, NULL) | shmctl(lk_id, IPC_RMID, NULL), 0, "shmctl(IPC_RMID) both segments");
	int status = -1;
	if (write(to_child[1], "q", 1) != 1)
		tap_ok(0, "tell the child to exit");
	tap_eq(waitpid(pid, &status, 0), pid, "waitpid");
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child exited 0 (status %#x)", status);
	long free6 = swap_free_kb();
	tap_ok(free0 - free6 <= slack_kb(), "with every region released, SwapFree is back: %ld kB below where it was (%ld allowed)",
	       free0 - free6, slack_kb());
	tap_ok(shmem_kb() - shmem0 <= 4096, "meminfo Shmem is back: %+ld kB", shmem_kb() - shmem0);
	return tap_end();
}
