/*
 * munlock01 - port of LTP testcases/kernel/syscalls/munlock/munlock01.c
 *
 * munlock() of malloc'd and mlock'ed buffers of 1 B, 1 KiB, 1 MiB, 10 MiB
 * returns 0.  Holdfast additions: VmLck returns to the baseline, the pages
 * stay resident (munlock does not evict), and munlock of a never-locked
 * buffer is also 0 (munlock has no permission or limit checks).
 */
#include "common.h"

int main(void)
{
	static const size_t sizes[] = { 1, 1024, 1024 * 1024, 10 * 1024 * 1024 };

	need_root();
	long base = vmlck_kb();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		char *buf = malloc(len);
		if (!buf)
			bail("malloc(%zu)", len);
		uintptr_t s = (uintptr_t)buf & ~(PG - 1);
		uintptr_t e = ((uintptr_t)buf + len + PG - 1) & ~(PG - 1);
		if (mlock(buf, len))
			bail("mlock(%zu)", len);
		expect_ret(munlock(buf, len), 0, 0, "munlock(buf, %zu)", len);
		ok_eq(vmlck_kb(), base, "VmLck back to %ld kB", base);
		ok_eq(resident_pages((void *)s, e - s), (long)((e - s) / PG),
		      "pages stay resident after munlock (%zu bytes)", len);
		expect_ret(munlock(buf, len), 0, 0, "munlock again (not locked) -> 0");
		free(buf);
	}
	return done();
}
