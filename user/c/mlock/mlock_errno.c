/*
 * mlock_errno - every mlock-family error path and side effect from
 * /work/shared/reference/linux-mlock.md section D that the LTP/selftest
 * ports do not already cover.  Each block names the kernel path it checks.
 *
 * Root part (CAP_IPC_LOCK) first, then setuid(65534) and the unprivileged
 * part (RLIMIT_MEMLOCK hard limit 16 pages, set while still root).
 */
#include "common.h"

#define NOBODY_HARD (16 * PG)

static long brk_now(void) { return syscall(SYS_brk, 0); }
static long brk_set(long v) { return syscall(SYS_brk, v); }

/* Address of the [vdso] vma (a VM_SPECIAL mapping), or NULL. */
static char *find_vdso(size_t *len)
{
	static char buf[65536];
	if (read_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return NULL;
	for (char *l = buf; l && *l; ) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = 0;
		if (strstr(l, "[vdso]")) {
			char *dash;
			unsigned long s = strtoul(l, &dash, 16);
			unsigned long e = strtoul(dash + 1, NULL, 16);
			*len = e - s;
			return (char *)s;
		}
		l = nl ? nl + 1 : NULL;
	}
	return NULL;
}

static void mlock2_flags(void)
{
	/* sys_mlock2: flags & ~MLOCK_ONFAULT -> EINVAL, before anything else */
	char *p = map_anon(PG, PROT_READ | PROT_WRITE, 0);
	static const unsigned bad[] = { 2, 4, 0x80000000u, ~1u, ~0u };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_ret(sys_mlock2(p, PG, bad[i]), -1, EINVAL, "mlock2(flags=%#x) -> EINVAL", bad[i]);
	expect_ret(sys_mlock2(p, 0, 2), -1, EINVAL, "mlock2(len 0, flags=2) -> EINVAL (flags first)");
	expect_ret(sys_mlock2(NULL, PG, 2), -1, EINVAL, "mlock2(NULL, flags=2) -> EINVAL (not ENOMEM)");
	expect_ret(sys_mlock2(p, 0, MLOCK_ONFAULT), 0, 0, "mlock2(len 0, MLOCK_ONFAULT) -> 0");
	ok_eq(vmlck_kb(), 0, "nothing locked");
	munmap(p, PG);
}

static void rounding_and_wrap(void)
{
	char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE, 0);

	/* do_mlock: len = PAGE_ALIGN(len + offset_in_page(start)); start &= PAGE_MASK */
	expect_ret(mlock(p, 0), 0, 0, "mlock(p, 0) -> 0");
	ok_eq(vmlck_kb(), 0, "mlock(p, 0) locks nothing");
	expect_ret(mlock(p + 1, 0), 0, 0, "mlock(p+1, 0) -> 0");
	ok_eq(vmlck_kb(), 4, "mlock(p+1, 0) locks one page (len rounds up to P)");
	ok_eq(resident_pages(p, 2 * PG), 1, "... and populates it");
	expect_ret(munlock(p + 1, 0), 0, 0, "munlock(p+1, 0) -> 0");
	ok_eq(vmlck_kb(), 0, "munlock(p+1, 0) unlocks that page");

	/* apply_vma_lock_flags: end < start -> EINVAL (with CAP the limit check
	 * is skipped, so the wrap is what fails) */
	size_t wrap = (size_t)0 - (uintptr_t)p + PG;      /* p + wrap == PG */
	expect_ret(mlock(p, wrap), -1, EINVAL, "root: mlock(p, len wrapping past 2^64) -> EINVAL");
	expect_ret(sys_mlock2(p, wrap, 0), -1, EINVAL, "root: mlock2(p, wrapping len) -> EINVAL");
	expect_ret(munlock(p, wrap), -1, EINVAL, "munlock(p, wrapping len) -> EINVAL");
	ok_eq(vmlck_kb(), 0, "nothing locked by the wrapped calls");

	/* Linux quirk: PAGE_ALIGN(SIZE_MAX) overflows to 0, so the range is
	 * empty and the call succeeds without locking anything. */
	expect_ret(mlock(p, SIZE_MAX), 0, 0, "root: mlock(p, SIZE_MAX) -> 0 (PAGE_ALIGN wraps to 0)");
	expect_ret(munlock(p, SIZE_MAX), 0, 0, "munlock(p, SIZE_MAX) -> 0 (same)");
	ok_eq(vmlck_kb(), 0, "SIZE_MAX length locked nothing");
	munmap(p, 2 * PG);
}

static void holes(void)
{
	/* layout [A][hole][C][hole] */
	char *a = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	char *c = a + 2 * PG;
	munmap(a + PG, PG);
	munmap(a + 3 * PG, PG);

	/* apply_vma_lock_flags: gap after A -> ENOMEM, A stays locked (no
	 * rollback) and is NOT populated (populate never runs) */
	expect_ret(mlock(a, 3 * PG), -1, ENOMEM, "mlock([A][hole][C]) -> ENOMEM");
	ok_eq(vmlck_kb(), 4, "A (before the hole) stays locked and counted");
	ok_eq(resident_pages(a, PG), 0, "A is not populated");
	ok_eq(resident_pages(c, PG), 0, "C (after the hole) untouched");
	expect_ret(munlock(a, PG), 0, 0, "munlock(A)");

	/* no vma at start */
	expect_ret(mlock(a + PG, PG), -1, ENOMEM, "mlock(hole) -> ENOMEM");
	expect_ret(mlock(a + PG, 2 * PG), -1, ENOMEM, "mlock(hole + C) -> ENOMEM");
	ok_eq(vmlck_kb(), 0, "range starting in a hole locks nothing (not even C)");

	/* short tail: C locked, then ENOMEM */
	expect_ret(mlock(c, 2 * PG), -1, ENOMEM, "mlock(C + trailing hole) -> ENOMEM");
	ok_eq(vmlck_kb(), 4, "C stays locked after the short-tail ENOMEM");
	expect_ret(munlock(c, PG), 0, 0, "munlock(C)");

	/* same with MLOCK_ONFAULT */
	expect_ret(sys_mlock2(a, 3 * PG, MLOCK_ONFAULT), -1, ENOMEM, "mlock2([A][hole][C], ONFAULT) -> ENOMEM");
	ok_eq(vmlck_kb(), 4, "A stays locked (ONFAULT)");
	expect_ret(munlock(a, PG), 0, 0, "munlock(A)");

	/* munlock holes: same walk, ENOMEM, earlier vmas unlocked */
	if (mlock(a, PG) || mlock(c, PG))
		bail("mlock A, C");
	ok_eq(vmlck_kb(), 8, "A and C locked");
	expect_ret(munlock(a, 3 * PG), -1, ENOMEM, "munlock([A][hole][C]) -> ENOMEM");
	ok_eq(vmlck_kb(), 4, "munlock unlocked A before failing at the hole; C still locked");
	expect_ret(munlock(a + PG, PG), -1, ENOMEM, "munlock(hole) -> ENOMEM");
	expect_ret(munlock(c, PG), 0, 0, "munlock(C)");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
	munmap(a, PG);
	munmap(c, PG);
}

static void prot_none(void)
{
	/* __mm_populate: PROT_NONE vma -> -EFAULT -> mlock returns ENOMEM, but
	 * the vma was already marked VM_LOCKED and counted. */
	char *n = map_anon(2 * PG, PROT_NONE, 0);
	expect_ret(mlock(n, 2 * PG), -1, ENOMEM, "mlock(PROT_NONE) -> ENOMEM");
	ok_eq(vmlck_kb(), 8, "PROT_NONE vma locked and counted anyway");
	ok_eq(resident_pages(n, 2 * PG), 0, "PROT_NONE vma not populated");

	/* mprotect_fixup: a private VM_LOCKED vma that gains write is
	 * populated (COW broken up front) */
	expect_ret(mprotect(n, 2 * PG, PROT_READ | PROT_WRITE), 0, 0, "mprotect(locked PROT_NONE -> RW)");
	ok_eq(vmlck_kb(), 8, "still locked after mprotect");
	ok_eq(resident_pages(n, 2 * PG), 2, "locked private vma gaining write was populated");
	expect_ret(munlock(n, 2 * PG), 0, 0, "munlock");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
	munmap(n, 2 * PG);

	/* MLOCK_ONFAULT on PROT_NONE: populate returns early for
	 * VM_LOCKONFAULT before the accessibility check -> success */
	n = map_anon(2 * PG, PROT_NONE, 0);
	expect_ret(sys_mlock2(n, 2 * PG, MLOCK_ONFAULT), 0, 0, "mlock2(PROT_NONE, ONFAULT) -> 0");
	ok_eq(vmlck_kb(), 8, "PROT_NONE ONFAULT vma counted");
	expect_ret(munlock(n, 2 * PG), 0, 0, "munlock");
	munmap(n, 2 * PG);

	/* [RW][NONE]: first vma populated, then EFAULT on the second */
	char *m = map_anon(2 * PG, PROT_READ | PROT_WRITE, 0);
	if (mprotect(m + PG, PG, PROT_NONE))
		bail("mprotect");
	expect_ret(mlock(m, 2 * PG), -1, ENOMEM, "mlock([RW][PROT_NONE]) -> ENOMEM");
	ok_eq(vmlck_kb(), 8, "both vmas locked");
	ok_eq(resident_pages(m, PG), 1, "the RW vma before the PROT_NONE one was populated");
	expect_ret(munlock(m, 2 * PG), 0, 0, "munlock");
	munmap(m, 2 * PG);
	ok_eq(vmlck_kb(), 0, "VmLck 0");
}

static void mlockall_flags(void)
{
	/* sys_mlockall: !flags || unknown bits || flags == MCL_ONFAULT -> EINVAL */
	static const int bad[] = { 0, MCL_ONFAULT, 8, 0x10, ~7, -1, MCL_ONFAULT | 8 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_ret(mlockall(bad[i]), -1, EINVAL, "mlockall(%#x) -> EINVAL", (unsigned)bad[i]);
	ok_eq(vmlck_kb(), 0, "nothing locked");

	/* MCL_FUTURE|MCL_ONFAULT: new mappings locked but not populated */
	expect_ret(mlockall(MCL_FUTURE | MCL_ONFAULT), 0, 0, "mlockall(MCL_FUTURE|MCL_ONFAULT)");
	char *p = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	ok_eq(vmlck_kb(), 16, "new mapping locked");
	ok_eq(resident_pages(p, 4 * PG), 0, "new mapping not populated (ONFAULT)");
	/* mlock() on an ONFAULT range: clears ONFAULT, populates, no double count */
	expect_ret(mlock(p, 4 * PG), 0, 0, "mlock() the ONFAULT mapping");
	ok_eq(vmlck_kb(), 16, "no double count");
	ok_eq(resident_pages(p, 4 * PG), 4, "now populated");
	munmap(p, 4 * PG);
	ok_eq(vmlck_kb(), 0, "munmap of the locked mapping drops VmLck");

	/* mlockall without MCL_FUTURE clears the future flag */
	expect_ret(mlockall(MCL_FUTURE), 0, 0, "mlockall(MCL_FUTURE)");
	expect_ret(mlockall(MCL_CURRENT), 0, 0, "mlockall(MCL_CURRENT) (no MCL_FUTURE)");
	expect_ret(munlockall(), 0, 0, "munlockall");
	/* munlockall also cleared it, so redo the check in isolation: */
	expect_ret(mlockall(MCL_FUTURE), 0, 0, "mlockall(MCL_FUTURE)");
	expect_ret(mlockall(MCL_CURRENT | MCL_ONFAULT), 0, 0, "mlockall(MCL_CURRENT|MCL_ONFAULT)");
	long before = vmlck_kb();
	p = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	ok_eq(vmlck_kb(), before, "MCL_FUTURE dropped by a later mlockall without it");
	ok_eq(resident_pages(p, 4 * PG), 0, "new mapping not populated");
	expect_ret(munlockall(), 0, 0, "munlockall");
	munmap(p, 4 * PG);
}

static void mmap_flags(void)
{
	void *m;
	/* do_mmap: populate iff VM_LOCKED (not ONFAULT) or MAP_POPULATE without MAP_NONBLOCK */
	if (try_mmap(&m, 16 * PG, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE | MAP_NONBLOCK) == 0) {
		ok_eq(resident_pages(m, 16 * PG), 0, "MAP_POPULATE|MAP_NONBLOCK does not populate");
		munmap(m, 16 * PG);
	} else
		ok(0, "mmap(MAP_POPULATE|MAP_NONBLOCK)");
	if (try_mmap(&m, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE) == 0) {
		ok_eq(resident_pages(m, 16 * PG), 16, "MAP_POPULATE populates");
		ok_eq(vmlck_kb(), 0, "MAP_POPULATE does not lock");
		munmap(m, 16 * PG);
	} else
		ok(0, "mmap(MAP_POPULATE)");
	if (try_mmap(&m, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED) == 0) {
		ok_eq(vmlck_kb(), 64, "MAP_LOCKED: VmLck +64 kB");
		ok_eq(resident_pages(m, 16 * PG), 16, "MAP_LOCKED populates");
		/* munmap of a locked range drops locked_vm, also for a partial unmap */
		expect_ret(munmap((char *)m + 4 * PG, 2 * PG), 0, 0, "munmap 2 pages in the middle of a locked vma");
		ok_eq(vmlck_kb(), 56, "VmLck -8 kB");
		munmap(m, 16 * PG);
		ok_eq(vmlck_kb(), 0, "munmap the rest: VmLck 0");
	} else
		ok(0, "mmap(MAP_LOCKED)");
	if (try_mmap(&m, 16 * PG, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED | MAP_NONBLOCK) == 0) {
		ok_eq(resident_pages(m, 16 * PG), 16, "MAP_LOCKED|MAP_NONBLOCK still populates (VM_LOCKED wins)");
		munmap(m, 16 * PG);
	} else
		ok(0, "mmap(MAP_LOCKED|MAP_NONBLOCK)");
	if (try_mmap(&m, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_LOCKED) == 0) {
		ok_eq(vmlck_kb(), 16, "shared MAP_LOCKED: VmLck +16 kB");
		ok_eq(resident_pages(m, 4 * PG), 4, "shared MAP_LOCKED populates");
		munmap(m, 4 * PG);
	} else
		ok(0, "mmap(MAP_SHARED|MAP_LOCKED)");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
}

static void mprotect_split(void)
{
	/* mprotect_fixup keeps VM_LOCKED on every piece of a split */
	char *p = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	if (mlock(p, 4 * PG))
		bail("mlock");
	expect_ret(mprotect(p + PG, 2 * PG, PROT_READ), 0, 0, "mprotect(middle of locked vma, PROT_READ)");
	ok_eq(count_vmas(p, p + 4 * PG), 3, "split into 3 vmas");
	ok_eq(vmlck_kb(), 16, "all 4 pages still locked");
	expect_ret(mprotect(p + PG, PG, PROT_NONE), 0, 0, "mprotect(one page, PROT_NONE)");
	ok_eq(vmlck_kb(), 16, "PROT_NONE piece still locked");
	ok_eq(resident_pages(p, 4 * PG), 4, "no page lost");
	expect_ret(mprotect(p, 4 * PG, PROT_READ | PROT_WRITE), 0, 0, "mprotect(all, RW)");
	ok_eq(count_vmas(p, p + 4 * PG), 1, "merged back into 1 vma");
	ok_eq(vmlck_kb(), 16, "still 4 pages locked");
	munmap(p, 4 * PG);
	ok_eq(vmlck_kb(), 0, "VmLck 0");
}

static void madvise_locked(void)
{
	/* madvise_dontneed_free_valid_vma: VM_LOCKED -> EINVAL */
	char *p = map_anon(4 * PG, PROT_READ | PROT_WRITE, 0);
	if (mlock(p, 4 * PG))
		bail("mlock");
	expect_ret(madvise(p, 4 * PG, MADV_DONTNEED), -1, EINVAL, "MADV_DONTNEED on locked range -> EINVAL");
	ok_eq(resident_pages(p, 4 * PG), 4, "pages still resident");
	expect_ret(munlock(p, 4 * PG), 0, 0, "munlock");
	expect_ret(madvise(p, 4 * PG, MADV_DONTNEED), 0, 0, "MADV_DONTNEED after munlock -> 0");
	ok_eq(resident_pages(p, 4 * PG), 0, "pages dropped");
	expect_ret(sys_mlock2(p, 4 * PG, MLOCK_ONFAULT), 0, 0, "mlock2(ONFAULT)");
	expect_ret(madvise(p, 4 * PG, MADV_DONTNEED), -1, EINVAL, "MADV_DONTNEED on ONFAULT-locked -> EINVAL");
	munmap(p, 4 * PG);
}

static void brk_future(void)
{
	/* do_brk_flags uses mm->def_flags (VM_LOCKED from MCL_FUTURE); brk then
	 * populates the new range */
	long cur = brk_now();
	long base = (cur + (long)PG - 1) & ~(long)(PG - 1);
	expect_ret(mlockall(MCL_FUTURE), 0, 0, "mlockall(MCL_FUTURE)");
	long r = brk_set(base + 4 * (long)PG);
	ok_eq(r, base + 4 * (long)PG, "brk grew by 4 pages");
	ok_eq(vmlck_kb(), 16, "brk growth under MCL_FUTURE is locked (+16 kB)");
	ok_eq(resident_pages((void *)base, 4 * PG), 4, "and populated");
	expect_ret(munlockall(), 0, 0, "munlockall");
	ok_eq(brk_set(cur), cur, "brk shrunk back");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
}

static void special_vma(void)
{
	/* mlock_fixup: VM_SPECIAL vmas are skipped: success, not locked */
	size_t len = 0;
	char *v = find_vdso(&len);
	if (!v) {
		ok(1, "# SKIP no [vdso] mapping");
		return;
	}
	expect_ret(mlock(v, len), 0, 0, "mlock([vdso]) -> 0");
	ok_eq(vmlck_kb(), 0, "[vdso] (VM_SPECIAL) not counted");
	expect_ret(munlock(v, len), 0, 0, "munlock([vdso]) -> 0");
}

/* ---------------- unprivileged part ---------------- */

static void nobody_eperm(char *p)
{
	/* can_do_mlock() == false: RLIMIT_MEMLOCK 0 and no CAP_IPC_LOCK */
	if (set_memlock_cur(0))
		bail("setrlimit 0");
	void *m;
	expect_ret(mlock(p, PG), -1, EPERM, "L=0: mlock -> EPERM");
	expect_ret(mlock(p, 0), -1, EPERM, "L=0: mlock(len 0) -> EPERM");
	expect_ret(mlock(p + 2 * PG, PG), -1, EPERM, "L=0: mlock(unmapped) -> EPERM (checked first)");
	expect_ret(sys_mlock2(p, 0, 0), -1, EPERM, "L=0: mlock2(len 0) -> EPERM");
	expect_ret(sys_mlock2(p, PG, MLOCK_ONFAULT), -1, EPERM, "L=0: mlock2(ONFAULT) -> EPERM");
	expect_ret(sys_mlock2(p, PG, 2), -1, EINVAL, "L=0: mlock2(bad flags) -> EINVAL (before EPERM)");
	expect_ret(mlockall(MCL_CURRENT), -1, EPERM, "L=0: mlockall(MCL_CURRENT) -> EPERM");
	expect_ret(mlockall(MCL_FUTURE), -1, EPERM, "L=0: mlockall(MCL_FUTURE) -> EPERM");
	expect_ret(mlockall(MCL_ONFAULT), -1, EINVAL, "L=0: mlockall(MCL_ONFAULT) -> EINVAL (before EPERM)");
	expect_ret(try_mmap(&m, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED),
		   -1, EPERM, "L=0: mmap(MAP_LOCKED) -> EPERM");
	expect_ret(try_mmap(&m, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_LOCKED),
		   -1, EPERM, "L=0: mmap(MAP_SHARED|MAP_LOCKED) -> EPERM");
	expect_ret(munlock(p, PG), 0, 0, "L=0: munlock -> 0 (no permission check)");
	expect_ret(munlockall(), 0, 0, "L=0: munlockall -> 0");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
}

static void nobody_limit(char *a)
{
	/* do_mlock: locked = len + locked_vm; over limit -> subtract pages
	 * already locked in the range; still over -> ENOMEM */
	if (set_memlock_cur(4 * PG))
		bail("setrlimit 4 pages");
	expect_ret(mlock(a, 5 * PG), -1, ENOMEM, "L=4P: mlock(5 pages) -> ENOMEM");
	ok_eq(vmlck_kb(), 0, "nothing locked");
	expect_ret(mlock(a, 3 * PG), 0, 0, "L=4P: mlock(3 pages) -> 0");
	expect_ret(mlock(a, 4 * PG), 0, 0, "L=4P: mlock(4 pages incl. the 3 locked) -> 0 (already-locked not recounted)");
	ok_eq(vmlck_kb(), 16, "VmLck 16 kB");
	expect_ret(mlock(a + 4 * PG, PG), -1, ENOMEM, "L=4P: one more page -> ENOMEM");
	expect_ret(sys_mlock2(a + 4 * PG, PG, MLOCK_ONFAULT), -1, ENOMEM, "L=4P: one more ONFAULT page -> ENOMEM");
	expect_ret(mlock(a + PG, 2 * PG), 0, 0, "L=4P at limit: re-lock an already-locked sub-range -> 0");
	size_t wrap = (size_t)0 - (uintptr_t)a + PG;
	expect_ret(mlock(a, wrap), -1, ENOMEM, "nobody: mlock(wrapping len) -> ENOMEM (limit checked before wrap)");
	ok_eq(vmlck_kb(), 16, "VmLck still 16 kB");
	expect_ret(munlock(a, 8 * PG), 0, 0, "munlock");
	expect_ret(sys_mlock2(a, 8 * PG, MLOCK_ONFAULT), -1, ENOMEM, "L=4P: mlock2(8 pages, ONFAULT) -> ENOMEM (ONFAULT counts)");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
}

static void nobody_mmap(void)
{
	/* do_mmap: MAP_LOCKED -> mlock_future_ok() -> EAGAIN over the limit */
	void *m, *m2;
	expect_ret(try_mmap(&m, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED),
		   -1, EAGAIN, "L=4P: mmap(8 pages, MAP_LOCKED) -> EAGAIN");
	if (expect_ret(try_mmap(&m, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED),
		       0, 0, "L=4P: mmap(4 pages, MAP_LOCKED) -> ok") == 0) {
		ok_eq(vmlck_kb(), 16, "VmLck 16 kB");
		expect_ret(try_mmap(&m2, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED),
			   -1, EAGAIN, "L=4P with 4 locked: mmap(1 page, MAP_LOCKED) -> EAGAIN");
		munmap(m, 4 * PG);
	}

	/* MCL_FUTURE makes every new mapping VM_LOCKED -> same limit, EAGAIN */
	expect_ret(mlockall(MCL_FUTURE), 0, 0, "L=4P: mlockall(MCL_FUTURE) -> 0 (no MCL_CURRENT, no total_vm check)");
	expect_ret(try_mmap(&m, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS),
		   -1, EAGAIN, "MCL_FUTURE: mmap(8 pages) -> EAGAIN");
	if (expect_ret(try_mmap(&m, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS),
		       0, 0, "MCL_FUTURE: mmap(2 pages) -> ok") == 0) {
		ok_eq(vmlck_kb(), 8, "inherited lock counted");
		long cur = brk_now();
		long base = (cur + (long)PG - 1) & ~(long)(PG - 1);
		ok_eq(brk_set(base + 8 * (long)PG), cur, "MCL_FUTURE: brk growth over the limit fails (brk unchanged)");
		munmap(m, 2 * PG);
	}
	expect_ret(munlockall(), 0, 0, "munlockall");
	expect_ret(mlockall(MCL_FUTURE | MCL_ONFAULT), 0, 0, "mlockall(MCL_FUTURE|MCL_ONFAULT)");
	expect_ret(try_mmap(&m, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS),
		   -1, EAGAIN, "MCL_FUTURE|MCL_ONFAULT: mmap(8 pages) -> EAGAIN (ONFAULT still counts)");
	expect_ret(munlockall(), 0, 0, "munlockall");
	ok_eq(vmlck_kb(), 0, "VmLck 0");
}

static void nobody_mlockall_current(void)
{
	/* sys_mlockall: MCL_CURRENT and total_vm > limit and !CAP -> ENOMEM */
	if (set_memlock_cur(16 * PG))
		bail("setrlimit 16 pages");
	long vmsize = status_kb("VmSize");
	ok(vmsize / 4 > 16, "precondition: total_vm (%ld pages) > 16-page limit", vmsize / 4);
	expect_ret(mlockall(MCL_CURRENT), -1, ENOMEM, "L=16P: mlockall(MCL_CURRENT) -> ENOMEM");
	expect_ret(mlockall(MCL_CURRENT | MCL_ONFAULT), -1, ENOMEM, "L=16P: mlockall(MCL_CURRENT|MCL_ONFAULT) -> ENOMEM");
	ok_eq(vmlck_kb(), 0, "nothing locked");
}

int main(void)
{
	need_root();
	mlock2_flags();
	rounding_and_wrap();
	holes();
	prot_none();
	mlockall_flags();
	mmap_flags();
	mprotect_split();
	madvise_locked();
	brk_future();
	special_vma();

	char *a = map_anon(8 * PG, PROT_READ | PROT_WRITE, 0);
	munmap(a + 2 * PG, PG);                 /* a hole for the EPERM-first check */
	char *b = map_anon(8 * PG, PROT_READ | PROT_WRITE, 0);
	if (set_memlock(NOBODY_HARD, NOBODY_HARD))
		bail("setrlimit hard");
	drop_cap_ipc_lock();
	nobody_eperm(a);
	nobody_limit(b);
	nobody_mmap();
	nobody_mlockall_current();
	return done();
}
