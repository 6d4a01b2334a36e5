/*
 * mlock01 - port of LTP testcases/kernel/syscalls/mlock/mlock01.c
 *
 * LTP: mlock() of malloc'd buffers of 1 B, 1 KiB, 1 MiB and 10 MiB succeeds
 * (root, so CAP_IPC_LOCK bypasses RLIMIT_MEMLOCK for the 10 MiB case).
 * Holdfast additions: VmLck grows by at least the locked size, every page of
 * the buffer is resident afterwards (mincore), and munlock() brings VmLck
 * back to the starting value.
 */
#include "common.h"

int main(void)
{
	static const size_t sizes[] = { 1, 1024, 1024 * 1024, 10 * 1024 * 1024 };

	need_root();
	long base = vmlck_kb();
	ok(base >= 0, "VmLck readable from /proc/self/status (%ld kB)", base);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		char *buf = malloc(len);
		if (!buf)
			bail("malloc(%zu)", len);
		/* range the kernel will lock: page-rounded outwards */
		uintptr_t s = (uintptr_t)buf & ~(PG - 1);
		uintptr_t e = ((uintptr_t)buf + len + PG - 1) & ~(PG - 1);
		long pages = (long)((e - s) / PG);

		expect_ret(mlock(buf, len), 0, 0, "mlock(malloc(%zu), %zu)", len, len);
		ok_eq(vmlck_kb() - base, pages * 4,
		      "VmLck grew by the %ld page(s) covering the %zu byte buffer", pages, len);
		ok_eq(resident_pages((void *)s, e - s), pages,
		      "all %ld page(s) resident after mlock", pages);
		expect_ret(munlock(buf, len), 0, 0, "munlock(buf, %zu)", len);
		ok_eq(vmlck_kb(), base, "VmLck back to %ld kB after munlock", base);
		free(buf);
	}
	return done();
}
