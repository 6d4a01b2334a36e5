/*
 * munlock02 - port of LTP testcases/kernel/syscalls/munlock/munlock02.c
 *
 * munlock() fails with ENOMEM when part of the range is not mapped.  LTP:
 * mlock 8 pages, munmap pages 2..5, munlock(addr + 2P, 8P) -> ENOMEM (the
 * range starts inside the hole and runs past the end of the mapping).
 * Also checks the accounting around it: unmapping 4 locked pages drops VmLck
 * by 4 pages, and the failed munlock unlocks nothing.
 */
#include "common.h"

int main(void)
{
	need_root();
	char *p = map_anon(8 * PG, PROT_READ | PROT_WRITE, 0);
	long base = vmlck_pages();
	expect_ret(mlock(p, 8 * PG), 0, 0, "mlock(8 pages)");
	ok_eq(vmlck_pages() - base, 8, "VmLck +8 pages");
	expect_ret(munmap(p + 2 * PG, 4 * PG), 0, 0, "munmap(pages 2..5) of the locked range");
	ok_eq(vmlck_pages() - base, 4, "VmLck dropped to +4 pages");
	expect_ret(munlock(p + 2 * PG, 8 * PG), -1, ENOMEM, "munlock(addr+2P, 8P) -> ENOMEM");
	ok_eq(vmlck_pages() - base, 4, "failed munlock starting in the hole unlocked nothing");
	expect_ret(munlock(p, 2 * PG), 0, 0, "munlock(first 2 pages)");
	expect_ret(munlock(p + 6 * PG, 2 * PG), 0, 0, "munlock(last 2 pages)");
	ok_eq(vmlck_pages(), base, "VmLck back");
	return done();
}
