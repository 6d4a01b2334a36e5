/*
 * mlock2_selftests - port of tools/testing/selftests/mm/mlock2-tests.c
 *
 * The selftest checks the "lo" VmFlag and Rss/Size in /proc/self/smaps and
 * the unevictable bit in /proc/kpageflags.  The "lo" flag is read from
 * smaps as the selftest does; Holdfast has no kpageflags, and the rest is
 * observed through:
 *   locked      -> VmLck in /proc/self/status (delta over the test mapping)
 *   populated   -> mincore() resident page count (Rss == Size)
 *   vma layout  -> number of /proc/self/maps entries over the mapping
 * Tests ported (selftest function names):
 *   test_mlock_lock            mlock2(0): locked + fully populated; munlock
 *                              unlocks and keeps the pages
 *   test_mlock_onfault         mlock2(ONFAULT): locked, nothing populated;
 *                              touching one page populates only that page
 *   test_lock_onfault_of_present  ONFAULT over an already present page
 *   test_munlockall0           mlockall(MCL_CURRENT): populated + locked
 *   test_munlockall1           mlockall(MCL_CURRENT|MCL_ONFAULT): locked,
 *                              unpopulated; munlockall unlocks
 *   test_vma_management        3-page ONFAULT lock, munlock the middle page
 *                              -> 3 vmas; munlock all -> merged into 1
 *   test_mlockall(CURRENT|FUTURE) and (CURRENT|FUTURE|ONFAULT) on a mapping
 *                              created afterwards
 */
#include "common.h"

static char *fresh(size_t pages)
{
	return map_anon(pages * PG, PROT_READ | PROT_WRITE, 0);
}

static void test_mlock_lock(void)
{
	char *m = fresh(2);
	long base = vmlck_pages();
	expect_ret(sys_mlock2(m, 2 * PG, 0), 0, 0, "lock: mlock2(2 pages, 0)");
	ok_eq(vmlck_pages() - base, 2, "lock: VmLck +2 pages (lo)");
	ok_eq(smaps_flag(m, "lo"), 1, "lock: smaps VmFlags lo");
	ok_eq(resident_pages(m, 2 * PG), 2, "lock: Rss == Size");
	ok_eq(count_vmas(m, m + 2 * PG), 1, "lock: one vma");
	expect_ret(munlock(m, 2 * PG), 0, 0, "lock: munlock");
	ok_eq(vmlck_pages(), base, "lock: VmLck back (no lo)");
	ok_eq(smaps_flag(m, "lo"), 0, "lock: smaps VmFlags no lo");
	ok_eq(resident_pages(m, 2 * PG), 2, "lock: pages kept after munlock");
	munmap(m, 2 * PG);
}

static void test_mlock_onfault(void)
{
	char *m = fresh(2);
	long base = vmlck_pages();
	expect_ret(sys_mlock2(m, 2 * PG, MLOCK_ONFAULT), 0, 0, "onfault: mlock2(2 pages, ONFAULT)");
	ok_eq(vmlck_pages() - base, 2, "onfault: VmLck +2 pages (lo)");
	ok_eq(smaps_flag(m, "lo"), 1, "onfault: smaps VmFlags lo");
	ok_eq(resident_pages(m, 2 * PG), 0, "onfault: nothing populated");
	m[0] = 1;
	ok_eq(resident_pages(m, 2 * PG), 1, "onfault: touching page 0 populates only it (Rss < Size)");
	ok_eq(vmlck_pages() - base, 2, "onfault: VmLck unchanged by the fault");
	expect_ret(munlock(m, 2 * PG), 0, 0, "onfault: munlock");
	ok_eq(vmlck_pages(), base, "onfault: VmLck back");
	munmap(m, 2 * PG);
}

static void test_lock_onfault_of_present(void)
{
	char *m = fresh(2);
	m[0] = 1;
	long base = vmlck_pages();
	expect_ret(sys_mlock2(m, 2 * PG, MLOCK_ONFAULT), 0, 0,
		   "onfault-of-present: mlock2(ONFAULT) with page 0 present");
	ok_eq(vmlck_pages() - base, 2, "onfault-of-present: VmLck +2 pages");
	ok_eq(resident_pages(m, 2 * PG), 1, "onfault-of-present: page 0 present, page 1 not");
	expect_ret(munlock(m, 2 * PG), 0, 0, "onfault-of-present: munlock");
	munmap(m, 2 * PG);
}

static void test_munlockall(void)
{
	char *m = fresh(2);
	expect_ret(mlockall(MCL_CURRENT), 0, 0, "munlockall0: mlockall(MCL_CURRENT)");
	ok_eq(resident_pages(m, 2 * PG), 2, "munlockall0: mapping populated");
	ok_eq(vmlck_kb(), lockable_kb(), "munlockall0: VmLck == all lockable vmas");
	expect_ret(munlockall(), 0, 0, "munlockall0: munlockall");
	ok_eq(vmlck_kb(), 0, "munlockall0: VmLck 0");
	munmap(m, 2 * PG);

	m = fresh(2);
	expect_ret(mlockall(MCL_CURRENT | MCL_ONFAULT), 0, 0,
		   "munlockall1: mlockall(MCL_CURRENT|MCL_ONFAULT)");
	ok_eq(resident_pages(m, 2 * PG), 0, "munlockall1: mapping not populated");
	ok_eq(vmlck_kb(), lockable_kb(), "munlockall1: VmLck == all lockable vmas");
	m[PG] = 1;
	ok_eq(resident_pages(m, 2 * PG), 1, "munlockall1: touched page populated");
	expect_ret(munlockall(), 0, 0, "munlockall1: munlockall");
	ok_eq(vmlck_kb(), 0, "munlockall1: VmLck 0");
	munmap(m, 2 * PG);
}

static void test_vma_management(int onfault)
{
	const char *n = onfault ? "vma(onfault)" : "vma(lock)";
	char *m = fresh(3);
	expect_ret(sys_mlock2(m, 3 * PG, onfault ? MLOCK_ONFAULT : 0), 0, 0, "%s: mlock2(3 pages)", n);
	ok_eq(count_vmas(m, m + 3 * PG), 1, "%s: one vma after locking", n);
	expect_ret(munlock(m + PG, PG), 0, 0, "%s: munlock(middle page)", n);
	ok_eq(count_vmas(m, m + 3 * PG), 3, "%s: split into 3 vmas", n);
	ok_eq(vmlck_pages(), 2, "%s: VmLck 2 pages", n);
	expect_ret(munlock(m, 3 * PG), 0, 0, "%s: munlock(all 3 pages)", n);
	ok_eq(count_vmas(m, m + 3 * PG), 1, "%s: merged back into 1 vma", n);
	ok_eq(vmlck_pages(), 0, "%s: VmLck 0", n);
	munmap(m, 3 * PG);
}

static void test_mlockall_future(int onfault)
{
	const char *n = onfault ? "mlockall(CUR|FUT|ONFAULT)" : "mlockall(CUR|FUT)";
	expect_ret(mlockall(MCL_CURRENT | MCL_FUTURE | (onfault ? MCL_ONFAULT : 0)), 0, 0, "%s", n);
	long before = vmlck_kb();
	char *m = fresh(2);
	ok_eq(vmlck_kb() - before, 8, "%s: new mapping locked (+8 kB)", n);
	ok_eq(resident_pages(m, 2 * PG), onfault ? 0 : 2, "%s: new mapping %s", n,
	      onfault ? "not populated" : "populated");
	expect_ret(munlockall(), 0, 0, "%s: munlockall", n);
	ok_eq(vmlck_kb(), 0, "%s: VmLck 0", n);
	munmap(m, 2 * PG);
}

int main(void)
{
	need_root();
	test_mlock_lock();
	test_mlock_onfault();
	test_lock_onfault_of_present();
	test_munlockall();
	test_vma_management(1);
	test_vma_management(0);
	test_mlockall_future(0);
	test_mlockall_future(1);
	return done();
}
