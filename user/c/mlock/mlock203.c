/*
 * mlock203 - port of LTP testcases/kernel/syscalls/mlock2/mlock203.c
 *
 * Memory already locked with mlock2(MLOCK_ONFAULT) and then locked again with
 * mlock() or mlock2(0) must be counted once in VmLck (kernel fix b155b4fde5bd
 * "mm: mlock: avoid increase mm->locked_vm on mlock() when already
 * mlock2(,MLOCK_ONFAULT)").  Re-locking without ONFAULT also populates.
 */
#include "common.h"

static void run(const char *name, int use_mlock2)
{
	char *p = map_anon(PG, PROT_READ | PROT_WRITE, 0);
	long base = vmlck_pages();
	expect_ret(sys_mlock2(p, PG, MLOCK_ONFAULT), 0, 0, "%s: mlock2(ONFAULT)", name);
	ok_eq(vmlck_pages() - base, 1, "%s: VmLck +1 page after mlock2(ONFAULT)", name);
	ok_eq(resident_pages(p, PG), 0, "%s: ONFAULT page not populated", name);
	if (use_mlock2)
		expect_ret(sys_mlock2(p, PG, 0), 0, 0, "%s: relock with mlock2(0)", name);
	else
		expect_ret(mlock(p, PG), 0, 0, "%s: relock with mlock()", name);
	ok_eq(vmlck_pages() - base, 1, "%s: VmLck still +1 page (no double count)", name);
	ok_eq(resident_pages(p, PG), 1, "%s: relock without ONFAULT populated the page", name);
	expect_ret(munlock(p, PG), 0, 0, "%s: munlock", name);
	ok_eq(vmlck_pages(), base, "%s: VmLck back", name);
	munmap(p, PG);
}

int main(void)
{
	need_root();
	run("mlock", 0);
	run("mlock2", 1);
	return done();
}
