/*
 * mlockall02 - port of LTP testcases/kernel/syscalls/mlockall/mlockall02.c
 * and mlockall03.c (same cases; 03 was the older-kernel variant).
 *
 *  - flags == 0                          -> EINVAL (root and nobody)
 *  - flags == ~(MCL_CURRENT|MCL_FUTURE)  -> EINVAL
 *  - nobody, RLIMIT_MEMLOCK cur 7 / max 10 bytes, MCL_CURRENT -> ENOMEM
 *    (the whole address space, total_vm pages, exceeds 7 >> 12 = 0 pages)
 *  - nobody, RLIMIT_MEMLOCK 0 -> EPERM
 * Holdfast additions: MCL_CURRENT|MCL_FUTURE is also ENOMEM and leaves no
 * future flag behind; MCL_FUTURE alone is NOT subject to the total_vm check
 * and succeeds (then every new mapping fails the limit: EAGAIN).
 * The nobody cases run after setuid(65534) at the end (no fork on Holdfast).
 */
#include "common.h"

int main(void)
{
	need_root();
	expect_ret(mlockall(0), -1, EINVAL, "root: mlockall(0) -> EINVAL");
	expect_ret(mlockall(~(MCL_CURRENT | MCL_FUTURE)), -1, EINVAL,
		   "root: mlockall(~(CURRENT|FUTURE)) -> EINVAL");

	if (set_memlock(7, 10))
		bail("setrlimit(MEMLOCK, 7, 10)");
	drop_cap_ipc_lock();

	expect_ret(mlockall(MCL_CURRENT), -1, ENOMEM, "nobody L=7B: mlockall(MCL_CURRENT) -> ENOMEM");
	expect_ret(mlockall(MCL_CURRENT | MCL_FUTURE), -1, ENOMEM,
		   "nobody L=7B: mlockall(MCL_CURRENT|MCL_FUTURE) -> ENOMEM");
	ok_eq(vmlck_kb(), 0, "nothing locked");
	void *m;
	expect_ret(try_mmap(&m, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 0, 0,
		   "failed mlockall set no MCL_FUTURE: mmap still works");
	if (m != MAP_FAILED)
		munmap(m, PG);

	expect_ret(mlockall(MCL_FUTURE), 0, 0, "nobody L=7B: mlockall(MCL_FUTURE) -> 0 (no total_vm check)");
	expect_ret(try_mmap(&m, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), -1, EAGAIN,
		   "under MCL_FUTURE, mmap(1 page) over a 0-page limit -> EAGAIN");
	expect_ret(munlockall(), 0, 0, "munlockall");
	expect_ret(try_mmap(&m, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS), 0, 0,
		   "after munlockall, mmap works again");
	if (m != MAP_FAILED)
		munmap(m, PG);

	expect_ret(mlockall(0), -1, EINVAL, "nobody: mlockall(0) -> EINVAL");
	expect_ret(mlockall(~(MCL_CURRENT | MCL_FUTURE)), -1, EINVAL,
		   "nobody: mlockall(~(CURRENT|FUTURE)) -> EINVAL");

	if (set_memlock_cur(0))
		bail("setrlimit(MEMLOCK, 0)");
	expect_ret(mlockall(MCL_CURRENT), -1, EPERM, "nobody L=0: mlockall(MCL_CURRENT) -> EPERM");
	expect_ret(mlockall(MCL_FUTURE), -1, EPERM, "nobody L=0: mlockall(MCL_FUTURE) -> EPERM");
	expect_ret(mlockall(MCL_CURRENT | MCL_FUTURE), -1, EPERM,
		   "nobody L=0: mlockall(MCL_CURRENT|MCL_FUTURE) -> EPERM");
	expect_ret(mlockall(0), -1, EINVAL, "nobody L=0: mlockall(0) -> EINVAL (flags checked first)");
	return done();
}
