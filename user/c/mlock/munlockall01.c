/*
 * munlockall01 - port of LTP testcases/kernel/syscalls/munlockall/munlockall01.c
 *
 * LTP: munlockall() returns 0.  Checked here as VmLck 0 -> mlockall -> >0 ->
 * munlockall -> 0, plus: munlockall also clears MCL_FUTURE (new mappings are
 * no longer locked), munlockall with nothing locked is 0, and munlockall
 * needs no privilege (nobody with RLIMIT_MEMLOCK 0 -> 0).
 */
#include "common.h"

int main(void)
{
	need_root();
	ok_eq(vmlck_kb(), 0, "VmLck 0 at start");
	expect_ret(mlockall(MCL_CURRENT | MCL_FUTURE), 0, 0, "mlockall(MCL_CURRENT|MCL_FUTURE)");
	long l = vmlck_kb();
	ok(l > 0, "VmLck > 0 after mlockall (%ld kB)", l);
	expect_ret(munlockall(), 0, 0, "munlockall");
	ok_eq(vmlck_kb(), 0, "VmLck 0 after munlockall");

	char *p = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	ok_eq(vmlck_kb(), 0, "munlockall cleared MCL_FUTURE: new mapping not locked");
	ok_eq(resident_pages(p, 4 * PG), 0, "... and not populated");
	munmap(p, 4 * PG);

	expect_ret(munlockall(), 0, 0, "munlockall with nothing locked -> 0");

	/* partially locked: munlockall unlocks mlock()ed ranges too */
	p = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	if (mlock(p + PG, 2 * PG))
		bail("mlock");
	ok_eq(vmlck_kb(), 8, "mlock(2 pages) -> VmLck 8 kB");
	expect_ret(munlockall(), 0, 0, "munlockall");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
	ok_eq(count_vmas(p, p + 4 * PG), 1, "the three split vmas merged back into one");

	if (mlock(p, PG))
		bail("mlock");
	if (set_memlock(0, 0))
		bail("setrlimit(MEMLOCK, 0)");
	drop_cap_ipc_lock();
	expect_ret(munlockall(), 0, 0, "nobody L=0: munlockall -> 0 (no permission check)");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
	return done();
}
