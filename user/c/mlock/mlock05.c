/*
 * mlock05 - port of LTP testcases/kernel/syscalls/mlock/mlock05.c
 *
 * LTP: mmap 1 MiB, mlock it, and check /proc/self/smaps shows Rss == Locked
 * == 1024 kB for the mapping; the same facts through VmLck (== 1024 kB) and
 * mincore (256 resident pages) too.
 */
#include "common.h"

#define LEN (1024UL * 1024)

int main(void)
{
	need_root();
	char *p = map_anon(LEN, PROT_READ | PROT_WRITE, 0);
	ok_eq(resident_pages(p, LEN), 0, "fresh 1 MiB mapping has no resident page");
	long base = vmlck_kb();
	expect_ret(mlock(p, LEN), 0, 0, "mlock(1 MiB)");
	ok_eq(vmlck_kb() - base, 1024, "VmLck +1024 kB (smaps Locked: 1024 kB)");
	ok_eq(resident_pages(p, LEN), LEN / PG, "256 pages resident (smaps Rss: 1024 kB)");
	ok_eq(smaps_kb(p, "Rss"), 1024, "smaps Rss: 1024 kB");
	ok_eq(smaps_kb(p, "Locked"), 1024, "smaps Locked: 1024 kB");
	ok_eq(smaps_flag(p, "lo"), 1, "smaps VmFlags: lo");
	expect_ret(munlock(p, LEN), 0, 0, "munlock(1 MiB)");
	ok_eq(vmlck_kb(), base, "VmLck back to %ld kB", base);
	ok_eq(smaps_flag(p, "lo"), 0, "smaps VmFlags: no lo after munlock");
	ok_eq(smaps_kb(p, "Locked"), 0, "smaps Locked: 0 kB after munlock");
	expect_ret(munmap(p, LEN), 0, 0, "munmap");
	return done();
}
