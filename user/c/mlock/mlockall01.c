/*
 * mlockall01 - port of LTP testcases/kernel/syscalls/mlockall/mlockall01.c
 *
 * LTP: mlockall(MCL_CURRENT), mlockall(MCL_FUTURE) and
 * mlockall(MCL_CURRENT|MCL_FUTURE) all return 0 for root.
 * Holdfast additions (the observable effect of each flag):
 *  - MCL_CURRENT populates and locks an existing untouched mapping, and
 *    VmLck equals the size of every non-special vma (total_vm);
 *  - MCL_FUTURE locks and populates a mapping created afterwards, but does not
 *    lock the existing one;
 *  - munlockall() after each brings VmLck back to 0.
 */
#include "common.h"

int main(void)
{
	need_root();
	long base = vmlck_kb();
	ok_eq(base, 0, "VmLck starts at 0");

	/* MCL_CURRENT */
	char *a = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	expect_ret(mlockall(MCL_CURRENT), 0, 0, "mlockall(MCL_CURRENT)");
	ok_eq(resident_pages(a, 4 * PG), 4, "MCL_CURRENT populated the existing mapping");
	ok_eq(vmlck_kb(), lockable_kb(), "VmLck == size of all lockable vmas");
	char *b = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	ok_eq(resident_pages(b, 4 * PG), 0, "MCL_CURRENT alone: a later mapping is not populated");
	ok_eq(vmlck_kb(), lockable_kb() - 16, "MCL_CURRENT alone: a later mapping is not locked");
	expect_ret(munlockall(), 0, 0, "munlockall");
	ok_eq(vmlck_kb(), 0, "VmLck 0 after munlockall");
	munmap(a, 4 * PG);
	munmap(b, 4 * PG);

	/* MCL_FUTURE */
	a = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	expect_ret(mlockall(MCL_FUTURE), 0, 0, "mlockall(MCL_FUTURE)");
	ok_eq(vmlck_kb(), 0, "MCL_FUTURE alone locks nothing existing");
	ok_eq(resident_pages(a, 4 * PG), 0, "MCL_FUTURE alone does not populate existing mappings");
	b = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	ok_eq(vmlck_kb(), 16, "MCL_FUTURE: new 4-page mapping locked (VmLck 16 kB)");
	ok_eq(resident_pages(b, 4 * PG), 4, "MCL_FUTURE: new mapping populated by mmap");
	expect_ret(munlockall(), 0, 0, "munlockall");
	ok_eq(vmlck_kb(), 0, "VmLck 0 after munlockall");
	munmap(a, 4 * PG);
	munmap(b, 4 * PG);

	/* MCL_CURRENT | MCL_FUTURE */
	a = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	expect_ret(mlockall(MCL_CURRENT | MCL_FUTURE), 0, 0, "mlockall(MCL_CURRENT|MCL_FUTURE)");
	ok_eq(resident_pages(a, 4 * PG), 4, "existing mapping populated");
	b = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	ok_eq(resident_pages(b, 4 * PG), 4, "new mapping populated");
	ok_eq(vmlck_kb(), lockable_kb(), "VmLck == size of all lockable vmas");
	expect_ret(munlockall(), 0, 0, "munlockall");
	ok_eq(vmlck_kb(), 0, "VmLck 0 after munlockall");
	return done();
}
