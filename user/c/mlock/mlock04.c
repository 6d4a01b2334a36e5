/*
 * mlock04 - port of LTP testcases/kernel/syscalls/mlock/mlock04.c
 *
 * LTP maps a 40960-byte FILE with MAP_SHARED, sets RLIMIT_MEMLOCK to that
 * size, and checks mlock()/munlock() of the whole mapping succeed (regression
 * test for mlock accounting of shared mappings).  This port does the same
 * with a file in /tmp (tmpfs on Holdfast: its pages are the file's page
 * cache), checks VmLck, residency and that munlock keeps the file's data,
 * then repeats the round with a SHARED ANONYMOUS mapping of the same size;
 * both again as nobody with RLIMIT_MEMLOCK == 40960 (exactly enough).
 */
#include "common.h"

#define LEN 40960UL

/* A new 40960-byte file in /tmp, mapped MAP_SHARED (unlinked at once:
 * the mapping keeps it); its first byte of every page says which. */
static char *map_file(const char *who)
{
	char path[] = "/tmp/mlock04.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, LEN))
		bail("%s: a %lu-byte file in /tmp", who, LEN);
	unlink(path);
	char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		bail("%s: mmap MAP_SHARED of the file", who);
	for (unsigned long i = 0; i < LEN / PG; i++) {
		char c = (char)('a' + i);
		if (pwrite(fd, &c, 1, i * PG) != 1)
			bail("%s: pwrite", who);
	}
	close(fd);
	return p;
}

/* mlock and munlock the 40960 bytes at p, checking VmLck and residency;
 * munlock does not evict: the pages stay resident. A file's pages still
 * hold what pwrite wrote. */
static void round_of(const char *who, const char *what, char *p, int file)
{
	long base = vmlck_kb();
	expect_ret(mlock(p, LEN), 0, 0, "%s: mlock(%s, 40960)", who, what);
	ok_eq(vmlck_kb() - base, LEN / 1024, "%s: %s: VmLck +40 kB", who, what);
	ok_eq(resident_pages(p, LEN), LEN / PG, "%s: %s: all 10 pages resident", who, what);
	expect_ret(munlock(p, LEN), 0, 0, "%s: munlock(%s, 40960)", who, what);
	ok_eq(vmlck_kb(), base, "%s: %s: VmLck back to %ld kB", who, what, base);
	ok_eq(resident_pages(p, LEN), LEN / PG, "%s: %s: pages stay resident after munlock", who, what);
	if (file) {
		int same = 1;
		for (unsigned long i = 0; i < LEN / PG; i++)
			same &= p[i * PG] == (char)('a' + i);
		ok_eq(same, 1, "%s: after mlock and munlock the file mapping shows what pwrite wrote", who);
	}
	munmap(p, LEN);
}

static void one_round(const char *who)
{
	round_of(who, "shared file", map_file(who), 1);
	round_of(who, "shared anon", map_shared(LEN), 0);
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
