/*
 * mlock_random - port of tools/testing/selftests/mm/mlock-random-test.c
 *
 * As an unprivileged process with RLIMIT_MEMLOCK = 256 KiB:
 *  within limit: 100 random mlock()/mlock2(MLOCK_ONFAULT) calls on random
 *    sub-ranges of a 128 KiB buffer all succeed, and VmLck never exceeds the
 *    buffer rounded up to pages plus one page (re-locking an already locked
 *    range must not be counted twice, whichever of the two flavours did it);
 *  out of limit: on a 384 KiB buffer, 100 random calls whose length is in
 *    (256 KiB, 384 KiB) all fail with ENOMEM and VmLck stays unchanged.
 * Differences from the selftest: the selftest drops CAP_IPC_LOCK with libcap
 * and uses malloc'd buffers; here setuid(65534) drops it and the buffer is
 * an anonymous mapping used from offset 16 (malloc-like misalignment).  The
 * selftest draws lengths in [256K, 384K); 256K exactly at a page-aligned
 * offset is exactly 64 pages == the limit and would succeed, so the range
 * here starts at 256K+1, which always spans >= 65 pages.  A fixed-seed LCG
 * replaces rand()/time() so runs are reproducible.
 */
#include "common.h"

#define CHUNK (128 * 1024UL)
#define RLIM  (2 * CHUNK)      /* 256 KiB */
#define IN_SZ  CHUNK           /* 128 KiB */
#define OUT_SZ (3 * CHUNK)     /* 384 KiB */
#define LOOPS 100

static uint64_t rng = 0x2545F4914F6CDD1DULL;
static unsigned long rnd(void)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned long)(rng >> 33);
}

int main(void)
{
	need_root();
	/* buffers: allocation size plus one page of slack for the +16 offset */
	char *in_map = map_anon(IN_SZ + PG, PROT_READ | PROT_WRITE, 0);
	char *out_map = map_anon(OUT_SZ + PG, PROT_READ | PROT_WRITE, 0);
	char *in = in_map + 16, *out = out_map + 16;

	if (set_memlock(RLIM, RLIM))
		bail("setrlimit(MEMLOCK, 256K)");
	drop_cap_ipc_lock();
	diag("LCG seed %#llx", (unsigned long long)rng);

	/* test_mlock_within_limit */
	int fails = 0;
	for (int i = 0; i < LOOPS; i++) {
		int is_mlock = rnd() & 1;
		size_t len = rnd() % IN_SZ;
		size_t off = rnd() % (IN_SZ - len);
		int r = is_mlock ? mlock(in + off, len) : sys_mlock2(in + off, len, MLOCK_ONFAULT);
		if (r) {
			fails++;
			diag("%s(%p, %zu) failed errno=%s", is_mlock ? "mlock" : "mlock2",
			     (void *)(in + off), len, errno_name(errno));
		}
	}
	ok_eq(fails, 0, "within limit: %d random mlock/mlock2(ONFAULT) calls all succeed", LOOPS);
	long lck = vmlck_kb();
	ok(lck > 0 && lck * 1024 <= (long)(IN_SZ + PG),
	   "within limit: VmLck %ld kB <= %lu kB", lck, (IN_SZ + PG) / 1024);
	expect_ret(munlock(in_map, IN_SZ + PG), 0, 0, "munlock the whole 128 KiB buffer");
	ok_eq(vmlck_kb(), 0, "VmLck 0 after munlock");

	/* test_mlock_outof_limit */
	long before = vmlck_kb();
	int wrong = 0;
	for (int i = 0; i < LOOPS; i++) {
		int is_mlock = rnd() & 1;
		size_t len = RLIM + 1 + rnd() % (OUT_SZ - RLIM - 1);
		size_t off = rnd() % (OUT_SZ - len);
		errno = 0;
		int r = is_mlock ? mlock(out + off, len) : sys_mlock2(out + off, len, MLOCK_ONFAULT);
		if (r != -1 || errno != ENOMEM) {
			wrong++;
			diag("%s(%p, %zu) returned %d errno=%s, want ENOMEM",
			     is_mlock ? "mlock" : "mlock2", (void *)(out + off), len, r, errno_name(errno));
		}
	}
	ok_eq(wrong, 0, "out of limit: %d random calls > 256 KiB all fail with ENOMEM", LOOPS);
	ok_eq(vmlck_kb(), before, "out of limit: VmLck unchanged");

	/* limit minus already-locked: lock 64 pages (== limit), then re-lock a
	 * sub-range; locking already-locked pages costs nothing. */
	expect_ret(mlock(out_map, RLIM), 0, 0, "mlock exactly the 256 KiB limit");
	expect_ret(sys_mlock2(out_map + PG, 10 * PG, MLOCK_ONFAULT), 0, 0,
		   "re-locking an already locked sub-range does not count against the limit");
	expect_ret(mlock(out_map + RLIM, PG), -1, ENOMEM, "one more page -> ENOMEM");
	ok_eq(vmlck_kb(), (long)(RLIM / 1024), "VmLck == 256 kB");
	return done();
}
