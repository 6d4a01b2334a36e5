/*
 * mlock04 - port of LTP testcases/kernel/syscalls/mlock/mlock04.c
 *
 * LTP maps a 40960-byte FILE with MAP_SHARED, sets RLIMIT_MEMLOCK to that
 * size, and checks mlock()/munlock() of the whole mapping succeed (regression
 * test for mlock accounting of shared mappings).  Holdfast has no files, so
 * this port uses a SHARED ANONYMOUS mapping of the same size instead (the
 * interesting part - a VM_SHARED vma, populated via the page cache of its
 * shmem backing - is preserved).  It also checks VmLck/residency and repeats
 * the test as nobody with RLIMIT_MEMLOCK == 40960 (exactly enough).
 */
#include "common.h"

#define LEN 40960UL

static void one_round(const char *who)
{
	char *p = map_shared(LEN);
	long base = vmlck_kb();
	expect_ret(mlock(p, LEN), 0, 0, "%s: mlock(shared anon, 40960)", who);
	ok_eq(vmlck_kb() - base, LEN / 1024, "%s: VmLck +40 kB", who);
	ok_eq(resident_pages(p, LEN), LEN / PG, "%s: all 10 pages resident", who);
	expect_ret(munlock(p, LEN), 0, 0, "%s: munlock(shared anon, 40960)", who);
	ok_eq(vmlck_kb(), base, "%s: VmLck back to %ld kB", who, base);
	/* munlock does not evict: the shared pages stay resident */
	ok_eq(resident_pages(p, LEN), LEN / PG, "%s: pages stay resident after munlock", who);
	munmap(p, LEN);
}

int main(void)
{
	need_root();
	if (set_memlock(LEN, LEN))
		bail("setrlimit(MEMLOCK, 40960)");
	one_round("root");
	drop_cap_ipc_lock();
	one_round("nobody L=40960");
	return done();
}
