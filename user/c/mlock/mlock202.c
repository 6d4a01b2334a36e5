/*
 * mlock202 - port of LTP testcases/kernel/syscalls/mlock2/mlock202.c
 *
 * mlock2() error paths:
 *  - flags == -1 (unknown bits)                      -> EINVAL
 *  - range in the middle of an unmapped 8-page hole  -> ENOMEM
 *  - nobody, RLIMIT_MEMLOCK = PAGE_SIZE-1, lock 1 page -> ENOMEM
 *  - nobody, RLIMIT_MEMLOCK = 0                        -> EPERM
 * The nobody cases run last, after setuid(65534) (no fork on Holdfast).
 */
#include "common.h"

int main(void)
{
	need_root();
	char *p = map_anon(PG, PROT_READ | PROT_WRITE, 0);

	expect_ret(sys_mlock2(p, PG, (unsigned)-1), -1, EINVAL, "mlock2(flags=-1) -> EINVAL");

	/* 10-page mapping with pages 1..8 unmapped: an 8-page hole between two
	 * one-page vmas; lock 2 pages in the middle of the hole. */
	char *q = map_anon(10 * PG, PROT_READ | PROT_WRITE, 0);
	if (munmap(q + PG, 8 * PG))
		bail("munmap hole");
	expect_ret(sys_mlock2(q + 4 * PG, 2 * PG, 0), -1, ENOMEM,
		   "mlock2(middle of unmapped 8-page hole) -> ENOMEM");
	expect_ret(sys_mlock2(q + 4 * PG, 2 * PG, MLOCK_ONFAULT), -1, ENOMEM,
		   "mlock2(hole, MLOCK_ONFAULT) -> ENOMEM");
	ok_eq(vmlck_kb(), 0, "nothing locked by the failed calls");

	if (set_memlock(PG - 1, PG - 1))
		bail("setrlimit(MEMLOCK, PG-1)");
	drop_cap_ipc_lock();
	expect_ret(sys_mlock2(p, PG, 0), -1, ENOMEM, "nobody L=P-1: mlock2(1 page) -> ENOMEM");
	expect_ret(sys_mlock2(p, PG, MLOCK_ONFAULT), -1, ENOMEM,
		   "nobody L=P-1: mlock2(1 page, ONFAULT) -> ENOMEM");
	if (set_memlock_cur(0))
		bail("setrlimit(MEMLOCK, 0)");
	expect_ret(sys_mlock2(p, PG, 0), -1, EPERM, "nobody L=0: mlock2(1 page) -> EPERM");
	expect_ret(sys_mlock2(p, PG, (unsigned)-1), -1, EINVAL,
		   "nobody L=0: mlock2(flags=-1) -> EINVAL (flags checked before EPERM)");
	ok_eq(vmlck_kb(), 0, "VmLck still 0");
	return done();
}
