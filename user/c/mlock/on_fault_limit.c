/*
 * on_fault_limit - port of tools/testing/selftests/mm/on-fault-limit.c
 *
 * As an unprivileged process: mlockall(MCL_ONFAULT|MCL_FUTURE) succeeds, and
 * then mmap(2 * RLIMIT_MEMLOCK max, MAP_POPULATE) fails (EAGAIN) because the
 * new mapping would be locked (inherited from MCL_FUTURE) and exceed the
 * limit.  The selftest uses whatever limit the user has; here it is set to
 * 1 MiB first (before setuid(65534)) to keep memory small.
 * Holdfast additions: a mapping within the limit succeeds and is counted but,
 * because of MCL_ONFAULT, MAP_POPULATE does NOT populate it (Linux:
 * populate_vma_page_range() returns early for VM_LOCKONFAULT vmas); a second
 * mapping that would push locked_vm over the limit fails with EAGAIN.
 */
#include "common.h"

#define LIM (1024 * 1024UL)

int main(void)
{
	need_root();
	if (set_memlock(LIM, LIM))
		bail("setrlimit(MEMLOCK, 1 MiB)");
	drop_cap_ipc_lock();

	expect_ret(mlockall(MCL_ONFAULT | MCL_FUTURE), 0, 0, "mlockall(MCL_ONFAULT|MCL_FUTURE)");
	void *m;
	int r = expect_ret(try_mmap(&m, 2 * memlock_max(), PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE), -1, EAGAIN,
			   "mmap(2 * rlim_max, MAP_POPULATE) fails respecting the mlock limit");
	if (r == 0)
		munmap(m, 2 * memlock_max());
	ok_eq(vmlck_kb(), 0, "VmLck still 0");

	r = expect_ret(try_mmap(&m, LIM / 2, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE), 0, 0,
		       "mmap(limit/2, MAP_POPULATE) under MCL_FUTURE|MCL_ONFAULT succeeds");
	if (r == 0) {
		ok_eq(vmlck_kb(), (long)(LIM / 2 / 1024), "VmLck == 512 kB");
		ok_eq(resident_pages(m, LIM / 2), 0, "MCL_ONFAULT wins over MAP_POPULATE: nothing populated");
		((char *)m)[0] = 1;
		ok_eq(resident_pages(m, LIM / 2), 1, "touching one page populates one page");
	}
	void *m2;
	expect_ret(try_mmap(&m2, LIM / 2 + PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS),
		   -1, EAGAIN, "second mapping pushing locked_vm over the limit -> EAGAIN");
	expect_ret(munlockall(), 0, 0, "munlockall");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
	return done();
}
