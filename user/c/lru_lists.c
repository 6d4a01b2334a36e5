/* lru_lists: mlock moves pages between the evictable LRU lists and the
 * unevictable one, as /proc/meminfo and /proc/vmstat show.
 *
 * 32 MiB of private anonymous memory, written page by page, lands on the
 * anonymous LRU lists (Active(anon) + Inactive(anon)); mlock moves it to
 * Unevictable (and Mlocked), counting unevictable_pgs_mlocked and
 * unevictable_pgs_culled; munlock moves it back, counting
 * unevictable_pgs_munlocked and unevictable_pgs_rescued; munmap takes it
 * off the lists. Linux folds its counters per CPU and in batches, and
 * other processes allocate meanwhile: each move must be within 4 MiB of
 * the 32 MiB expected. Runs as root (RLIMIT_MEMLOCK). */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <sys/mman.h>
#include <unistd.h>

#define NPAGES 8192L
#define SIZE_KB (NPAGES * PG / 1024)
#define ABOUT(d, kb) ((d) >= (kb) - 4096 && (d) <= (kb) + 4096)

static long anon_lru_kb(void)
{
	return meminfo_field_kb("Active(anon)") + meminfo_field_kb("Inactive(anon)");
}

int main(void)
{
	tap_begin("lru_lists");
	char *p = mmap(0, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	tap_ok(p != MAP_FAILED, "mmap 32 MiB");
	if (p == MAP_FAILED)
		return tap_end();
	madvise(p, NPAGES * PG, MADV_NOHUGEPAGE);

	long lru0 = anon_lru_kb(), unev0 = meminfo_field_kb("Unevictable");
	tap_ok(lru0 >= 0 && unev0 >= 0 && meminfo_field_kb("Active(file)") >= 0 && meminfo_field_kb("Inactive(file)") >= 0,
	   "meminfo has the LRU fields");
	fill(p, 0, NPAGES, 'l');
	long lru1 = anon_lru_kb();
	tap_ok(ABOUT(lru1 - lru0, SIZE_KB), "writing 32 MiB puts it on the anonymous LRU lists (+%ld kB)", lru1 - lru0);

	long mlocked0 = vmstat_field("unevictable_pgs_mlocked"), culled0 = vmstat_field("unevictable_pgs_culled");
	long ml0 = meminfo_field_kb("Mlocked");
	tap_ok(mlock(p, NPAGES * PG) == 0, "mlock");
	long lru2 = anon_lru_kb(), unev2 = meminfo_field_kb("Unevictable");
	tap_ok(ABOUT(lru1 - lru2, SIZE_KB), "mlock takes it off the evictable lists (-%ld kB)", lru1 - lru2);
	tap_ok(ABOUT(unev2 - unev0, SIZE_KB), "and puts it on the unevictable one (+%ld kB)", unev2 - unev0);
	tap_ok(ABOUT(meminfo_field_kb("Mlocked") - ml0, SIZE_KB), "Mlocked rises by 32 MiB");
	tap_ok(vmstat_field("unevictable_pgs_mlocked") - mlocked0 >= NPAGES, "unevictable_pgs_mlocked counts every page (+%ld)",
	   vmstat_field("unevictable_pgs_mlocked") - mlocked0);
	tap_ok(vmstat_field("unevictable_pgs_culled") - culled0 >= NPAGES, "unevictable_pgs_culled counts every page (+%ld)",
	   vmstat_field("unevictable_pgs_culled") - culled0);

	long munlocked0 = vmstat_field("unevictable_pgs_munlocked"), rescued0 = vmstat_field("unevictable_pgs_rescued");
	tap_ok(munlock(p, NPAGES * PG) == 0, "munlock");
	long lru3 = anon_lru_kb(), unev3 = meminfo_field_kb("Unevictable");
	tap_ok(ABOUT(lru3 - lru2, SIZE_KB) && ABOUT(unev2 - unev3, SIZE_KB),
	   "munlock moves it back: evictable +%ld kB, unevictable -%ld kB", lru3 - lru2, unev2 - unev3);
	tap_ok(vmstat_field("unevictable_pgs_munlocked") - munlocked0 >= NPAGES &&
		   vmstat_field("unevictable_pgs_rescued") - rescued0 >= NPAGES,
	   "unevictable_pgs_munlocked and _rescued count every page");
	tap_ok(bad_pages(p, 0, NPAGES, 'l') == 0, "the data is intact");

	tap_ok(munmap(p, NPAGES * PG) == 0, "munmap");
	long lru4 = anon_lru_kb();
	tap_ok(ABOUT(lru3 - lru4, SIZE_KB), "unmapping takes it off the lists (-%ld kB)", lru3 - lru4);
	return tap_end();
}
