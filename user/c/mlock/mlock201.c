/*
 * mlock201 - port of LTP testcases/kernel/syscalls/mlock2/mlock201.c
 *
 * On an 8-page SHARED anonymous mapping, pre-touch N pages, call
 * mlock2(addr, len, flags) and check VmLck (pages) and the number of present
 * pages (LTP counts present pages via mincore too).  Table from LTP:
 *   (pretouch, len, flags)            -> (VmLck pages, present pages)
 *   (0, P,      0)                    -> (1, 1)
 *   (0, 8P,     0)                    -> (8, 8)
 *   (0, 2P+1,   0)                    -> (3, 3)   len rounded up
 *   (0, 2P-1,   0)                    -> (2, 2)
 *   (0, P,      MLOCK_ONFAULT)        -> (1, 0)   nothing faulted in
 *   (4, 8P,     MLOCK_ONFAULT)        -> (8, 4)   pre-touched stay present
 *   (1, 4P+1,   MLOCK_ONFAULT)        -> (5, 1)
 *   (4, 4P-1,   MLOCK_ONFAULT)        -> (4, 4)
 */
#include "common.h"

struct tcase { int pretouch; size_t len; unsigned flags; long lck; long present; };

int main(void)
{
	static const struct tcase tc[] = {
		{ 0, PG,         0,             1, 1 },
		{ 0, 8 * PG,     0,             8, 8 },
		{ 0, 2 * PG + 1, 0,             3, 3 },
		{ 0, 2 * PG - 1, 0,             2, 2 },
		{ 0, PG,         MLOCK_ONFAULT, 1, 0 },
		{ 4, 8 * PG,     MLOCK_ONFAULT, 8, 4 },
		{ 1, 4 * PG + 1, MLOCK_ONFAULT, 5, 1 },
		{ 4, 4 * PG - 1, MLOCK_ONFAULT, 4, 4 },
	};

	need_root();
	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++) {
		const struct tcase *t = &tc[i];
		char *p = map_shared(8 * PG);
		touch(p, t->pretouch);
		long base = vmlck_pages();
		expect_ret(sys_mlock2(p, t->len, t->flags), 0, 0,
			   "case %zu: mlock2(len=%zu, flags=%u) after touching %d page(s)",
			   i, t->len, t->flags, t->pretouch);
		ok_eq(vmlck_pages() - base, t->lck, "case %zu: VmLck pages", i);
		ok_eq(resident_pages(p, 8 * PG), t->present, "case %zu: present pages", i);
		expect_ret(munlock(p, t->len), 0, 0, "case %zu: munlock", i);
		ok_eq(vmlck_pages(), base, "case %zu: VmLck back after munlock", i);
		munmap(p, 8 * PG);
	}
	return done();
}
