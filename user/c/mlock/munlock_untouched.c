/*
 * munlock_untouched - munlock/munlockall of huge never-touched reservations
 * must not fault anything in and must be fast.
 *
 * History (reference doc section A): Hugh Dickins 2009 "munlock use
 * follow_page" - munlock used to fault in every page of the range; and the
 * 2022 mlock rework made mlock_vma_pages_range() a page-table walk
 * (walk_page_range + mlock_pte_range) for both directions, which fixed slow
 * munlockall() over large unpopulated PROT_NONE reservations.  A correct
 * implementation visits only present ptes: mincore stays 0 everywhere and
 * each call returns in far less than a second for 1 GiB.
 *
 * All mappings are MAP_NORESERVE and never written, so the test needs no
 * real memory.  Runs as root: locking 1 GiB is over any RLIMIT_MEMLOCK.
 */
#include "common.h"

#define GIB (1024UL * 1024 * 1024)
#define FAST_NS 1000000000LL   /* "fast": well under 1 s (Linux: microseconds) */

/* Run one call, check its return value and that it took < FAST_NS. */
#define timed(call, want, werr, ...) do {                                  \
	long long t0_ = now_ns();                                            \
	expect_ret(call, want, werr, __VA_ARGS__);                           \
	long long dt_ = now_ns() - t0_;                                      \
	ok(dt_ < FAST_NS, "  (timing of the call above: %lld us, limit 1 s)", dt_ / 1000);           \
} while (0)

int main(void)
{
	need_root();
	const long gib_kb = GIB / 1024;

	/* 1. PROT_NONE reservation, never locked: munlock is a no-op */
	char *none = map_anon(GIB, PROT_NONE, MAP_NORESERVE);
	timed(munlock(none, GIB), 0, 0, "munlock(1 GiB PROT_NONE reservation) -> 0");
	ok_eq(resident_pages(none, GIB), 0, "PROT_NONE reservation: nothing resident");

	/* 2. RW anonymous reservation, never touched */
	char *rw = map_anon(GIB, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	timed(munlock(rw, GIB), 0, 0, "munlock(1 GiB untouched RW) -> 0");
	ok_eq(resident_pages(rw, GIB), 0, "untouched RW: nothing resident");

	/* 3. ONFAULT-lock the RW reservation: counted, nothing faulted; munlock
	 *    must walk only present ptes */
	timed(sys_mlock2(rw, GIB, MLOCK_ONFAULT), 0, 0, "mlock2(1 GiB RW, MLOCK_ONFAULT) -> 0");
	ok_eq(vmlck_kb(), gib_kb, "VmLck == 1 GiB");
	ok_eq(resident_pages(rw, GIB), 0, "ONFAULT: nothing resident");
	timed(munlock(rw, GIB), 0, 0, "munlock(1 GiB ONFAULT-locked, untouched) -> 0");
	ok_eq(resident_pages(rw, GIB), 0, "still nothing resident after munlock");
	ok_eq(vmlck_kb(), 0, "VmLck 0");

	/* 4. sparse: three touched pages far apart; lock/unlock keeps exactly them */
	rw[0] = 1;
	rw[GIB / 2] = 1;
	rw[GIB - PG] = 1;
	timed(sys_mlock2(rw, GIB, MLOCK_ONFAULT), 0, 0, "mlock2(1 GiB with 3 touched pages, ONFAULT) -> 0");
	ok_eq(resident_pages(rw, GIB), 3, "exactly the 3 touched pages resident");
	timed(munlock(rw, GIB), 0, 0, "munlock(sparse 1 GiB) -> 0");
	ok_eq(resident_pages(rw, GIB), 3, "still exactly 3 resident");
	munmap(rw, GIB);

	/* 5. mlock(PROT_NONE 1 GiB): ENOMEM but locked + counted (populate
	 *    fails with EFAULT); munlock must not touch anything */
	timed(mlock(none, GIB), -1, ENOMEM, "mlock(1 GiB PROT_NONE) -> ENOMEM");
	ok_eq(vmlck_kb(), gib_kb, "PROT_NONE reservation locked and counted (1 GiB)");
	ok_eq(resident_pages(none, GIB), 0, "nothing resident");
	timed(munlock(none, GIB), 0, 0, "munlock(locked 1 GiB PROT_NONE) -> 0");
	ok_eq(vmlck_kb(), 0, "VmLck 0");

	/* 6. munlockall over a locked untouched PROT_NONE reservation (the case
	 *    the 2022 rework fixed) */
	timed(mlock(none, GIB), -1, ENOMEM, "mlock(1 GiB PROT_NONE) again -> ENOMEM");
	timed(munlockall(), 0, 0, "munlockall with a locked 1 GiB PROT_NONE vma -> 0");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
	ok_eq(resident_pages(none, GIB), 0, "nothing resident");

	/* 7. mlockall(MCL_CURRENT) with the reservation present: per-vma populate
	 *    errors (EFAULT on PROT_NONE) are ignored -> 0; then munlockall */
	timed(mlockall(MCL_CURRENT), 0, 0, "mlockall(MCL_CURRENT) with a 1 GiB PROT_NONE vma -> 0");
	ok(vmlck_kb() >= gib_kb, "PROT_NONE reservation counted in VmLck (%ld kB)", vmlck_kb());
	ok_eq(resident_pages(none, GIB), 0, "PROT_NONE reservation not populated");
	timed(munlockall(), 0, 0, "munlockall -> 0");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
	ok_eq(resident_pages(none, GIB), 0, "nothing resident");
	munmap(none, GIB);
	return done();
}
