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

static void file_round(const char *who)
{
	char *p = map_file(who);
	long base = vmlck_kb();
	expect_ret(mlock(p, LEN), 0, 0, "%s: mlock(shared file, 40960)", who);
	ok_eq(vmlck_kb() - base, LEN / 1024, "%s: VmLck +40 kB (file)", who);
	ok_eq(resident_pages(p, LEN), LEN / PG, "%s: all 10 file pages resident", who);
	expect_ret(munlock(p, LEN), 0, 0, "%s: munlock(shared file, 40960)", who);
	ok_eq(vmlck_kb(), base, "%s: VmLck back to %ld kB (file)", who, base);
	int same = 1;
	for (unsigned long i = 0; i < LEN / PG; i++)
		same &= p[i * PG] == (char)('a' + i);
	ok_eq(same, 1, "%s: after mlock and munlock the mapping shows what pwrite wrote", who);
	munmap(p, LEN);
}

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
	file_round("root");
	one_round("root");
	drop_cap_ipc_lock();
	file_round("nobody L=40960");
	one_round("nobody L=40960");
	return done();
}
