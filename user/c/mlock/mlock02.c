/*
 * mlock02 - port of LTP testcases/kernel/syscalls/mlock/mlock02.c
 *
 * LTP cases:
 *  1) mlock() of an address range that is not mapped -> ENOMEM
 *  2) non-zero RLIMIT_MEMLOCK smaller than the request, no CAP_IPC_LOCK
 *     (LTP: RLIMIT_MEMLOCK = PAGE_SIZE-1 as nobody, mlock one page) -> ENOMEM
 *  3) RLIMIT_MEMLOCK == 0 and no CAP_IPC_LOCK -> EPERM
 * LTP runs 2) and 3) in a child after setreuid(nobody); Holdfast may lack
 * fork, so they run at the end of this program after setuid(65534).
 */
#include "common.h"

int main(void)
{
	need_root();

	/* 1) unmapped page: map one page and unmap it again so the address is
	 *    known to be a hole. */
	char *hole = map_anon(PG, PROT_READ | PROT_WRITE, 0);
	munmap(hole, PG);
	expect_ret(mlock(hole, PG), -1, ENOMEM, "root: mlock(unmapped page) -> ENOMEM");

	char *buf = map_anon(PG, PROT_READ | PROT_WRITE, 0);

	/* Unprivileged part.  Hard limit first: nobody can only lower it. */
	if (set_memlock(PG - 1, PG - 1))
		bail("setrlimit(MEMLOCK, PG-1)");
	drop_cap_ipc_lock();

	/* 1) again without CAP: the hole is still ENOMEM (here it is the limit
	 *    check that fires first: 1 page > 0 pages allowed). */
	expect_ret(mlock(hole, PG), -1, ENOMEM, "nobody L=P-1: mlock(unmapped page) -> ENOMEM");

	/* 2) L = PAGE_SIZE-1 bytes = 0 whole pages: locking one page is over limit */
	expect_ret(mlock(buf, PG), -1, ENOMEM, "nobody L=P-1: mlock(1 page) -> ENOMEM");
	ok_eq(vmlck_kb(), 0, "VmLck still 0 after the failed mlock");

	/* 3) L = 0 -> EPERM (can_do_mlock() fails before anything else) */
	if (set_memlock_cur(0))
		bail("setrlimit(MEMLOCK, 0)");
	expect_ret(mlock(buf, PG), -1, EPERM, "nobody L=0: mlock(1 page) -> EPERM");
	expect_ret(mlock(hole, PG), -1, EPERM, "nobody L=0: mlock(unmapped) -> EPERM (checked first)");
	return done();
}
