/*
 * open_posix_mlock - port of LTP testcases/open_posix_testsuite/conformance/
 * interfaces/{mlock,munlock,mlockall,munlockall}/ cases.
 *
 *  mlock/5-1      mlock() returns 0 on success
 *  mlock/8-1      mlock((LONG_MAX rounded down to a page), 8) -> ENOMEM
 *                 (an address range that is not mapped)
 *  mlock/10-1     mlock(unaligned addr, P-1): POSIX allows 0 or EINVAL;
 *                 Linux rounds and returns 0 - checked as exactly 0
 *  mlock/12-1     unprivileged, RLIMIT_MEMLOCK 0 -> EPERM
 *  munlock/...    same three shapes for munlock (returns 0; ENOMEM for the
 *                 unmapped LONG_MAX page; unaligned -> 0)
 *  mlockall/3-6   MCL_CURRENT locks the existing shared memory pages
 *  mlockall/3-7   MCL_FUTURE locks shared memory mapped afterwards
 *                 (both use shm_open + msync(MS_INVALIDATE) == EBUSY as the
 *                 "is locked" probe; Holdfast has no files and no msync, so
 *                 this port uses shared anonymous memory and VmLck/mincore)
 *  mlockall/8-1   mlockall(MCL_CURRENT) returns 0
 *  mlockall/13-1  flags == 0 -> EINVAL
 *  mlockall/13-2  flags with unknown bits -> EINVAL
 *  mlockall/15-1  unprivileged -> EPERM (with RLIMIT_MEMLOCK 0: the only
 *                 way Linux gives EPERM)
 *  munlockall/... munlockall() returns 0
 * The unprivileged cases run last, after setuid(65534).
 */
#include "common.h"

#define BUFSIZE 8

int main(void)
{
	need_root();
	char *hi = (char *)(LONG_MAX - (LONG_MAX % (long)PG));

	/* mlock/5-1, munlock success */
	char *buf = map_anon(PG, PROT_READ | PROT_WRITE, 0);
	expect_ret(mlock(buf, BUFSIZE), 0, 0, "mlock/5-1: mlock(buf, 8) -> 0");
	expect_ret(munlock(buf, BUFSIZE), 0, 0, "munlock: munlock(buf, 8) -> 0");

	/* mlock/8-1 */
	expect_ret(mlock(hi, BUFSIZE), -1, ENOMEM, "mlock/8-1: mlock(%p, 8) -> ENOMEM", (void *)hi);
	expect_ret(munlock(hi, BUFSIZE), -1, ENOMEM, "munlock: munlock(%p, 8) -> ENOMEM", (void *)hi);

	/* mlock/10-1: unaligned start, P-1 bytes: spans two pages */
	char *two = map_anon(2 * PG, PROT_READ | PROT_WRITE, 0);
	expect_ret(mlock(two + 1, PG - 1), 0, 0, "mlock/10-1: mlock(addr+1, P-1) -> 0 (Linux rounds)");
	ok_eq(vmlck_kb(), 4, "mlock/10-1: exactly the one page [addr, addr+P) is locked");
	expect_ret(munlock(two + 1, PG - 1), 0, 0, "munlock/11-1: munlock(addr+1, P-1) -> 0");
	ok_eq(vmlck_kb(), 0, "munlock/11-1: unlocked");
	expect_ret(mlock(two + PG - 1, 2), 0, 0, "mlock(last byte of page 0, 2) -> 0");
	ok_eq(vmlck_kb(), 8, "a 2-byte range straddling a page boundary locks both pages");
	expect_ret(munlock(two, 2 * PG), 0, 0, "munlock both pages");

	/* mlockall/3-6: MCL_CURRENT and existing shared memory */
	char *shm = map_shared(PG);
	expect_ret(mlockall(MCL_CURRENT), 0, 0, "mlockall/8-1: mlockall(MCL_CURRENT) -> 0");
	ok_eq(resident_pages(shm, PG), 1, "mlockall/3-6: existing shared page populated");
	ok_eq(vmlck_kb(), lockable_kb(), "mlockall/3-6: existing shared page locked (VmLck == all vmas)");
	expect_ret(munlockall(), 0, 0, "munlockall -> 0");
	ok_eq(vmlck_kb(), 0, "munlockall: VmLck 0");

	/* mlockall/3-7: MCL_FUTURE and shared memory mapped later */
	expect_ret(mlockall(MCL_FUTURE), 0, 0, "mlockall(MCL_FUTURE) -> 0");
	char *shm2 = map_shared(PG);
	ok_eq(vmlck_kb(), 4, "mlockall/3-7: shared page mapped later is locked");
	ok_eq(resident_pages(shm2, PG), 1, "mlockall/3-7: and populated");
	expect_ret(munlockall(), 0, 0, "munlockall -> 0");

	/* mlockall/13-1, 13-2 */
	expect_ret(mlockall(0), -1, EINVAL, "mlockall/13-1: mlockall(0) -> EINVAL");
	expect_ret(mlockall(~(MCL_CURRENT | MCL_FUTURE)), -1, EINVAL,
		   "mlockall/13-2: mlockall(~(MCL_CURRENT|MCL_FUTURE)) -> EINVAL");

	/* mlock/12-1, mlockall/15-1: unprivileged with RLIMIT_MEMLOCK 0 */
	if (set_memlock(0, 0))
		bail("setrlimit(MEMLOCK, 0)");
	drop_cap_ipc_lock();
	expect_ret(mlock(buf, BUFSIZE), -1, EPERM, "mlock/12-1: nobody L=0 mlock(buf, 8) -> EPERM");
	expect_ret(mlockall(MCL_CURRENT), -1, EPERM, "mlockall/15-1: nobody L=0 mlockall(MCL_CURRENT) -> EPERM");
	expect_ret(munlock(buf, BUFSIZE), 0, 0, "nobody: munlock(buf, 8) -> 0 (no privilege needed)");
	expect_ret(munlockall(), 0, 0, "nobody: munlockall() -> 0");
	return done();
}
