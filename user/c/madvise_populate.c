/* madvise_populate: MADV_POPULATE_READ / MADV_POPULATE_WRITE errors and
 * their order, and what is populated before an error.
 *
 * Linux (6.10 and later) populates the range page by page from the start:
 * at each vma boundary the next vma is looked up (none: ENOMEM) and checked
 * like GUP's check_vma_flags (VM_IO/VM_PFNMAP, or no VM_WRITE for a write,
 * no VM_READ for a read: EINVAL); the first problem ends the call, and the
 * pages before it stay populated. Raw syscall() shows the kernel's answer.
 *
 * Every expectation is what Linux 6.x returns; the test runs on both. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

#define PG 4096L
#define KPTR ((long)0xffff800000000000UL)

static long madv(void *p, long len, int advice)
{
	long r = syscall(SYS_madvise, (long)p, len, advice);
	return r == -1 ? -errno : r;
}

/* Pages of [p, p + n * PG) that mincore reports resident. */
static int resident(void *p, int n)
{
	unsigned char v[64];
	if (n > 64 || mincore(p, n * PG, v) != 0)
		return -1;
	int c = 0;
	for (int i = 0; i < n; i++)
		c += v[i] & 1;
	return c;
}

static char *map(long pages, int prot, int flags)
{
	void *p = mmap(NULL, pages * PG, prot, flags | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* A fresh window of `pages` pages, all PROT_NONE, to carve vmas into. */
static char *window(long pages)
{
	return map(pages, PROT_NONE, MAP_PRIVATE);
}

static void refix(char *at, long pages, int prot)
{
	mmap(at, pages * PG, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/* Permission and mapping kind, one vma each. */
static void permissions(void)
{
	static const struct {
		int prot;
		const char *name;
		long read, write; /* expected results */
	} cases[] = {
		{ PROT_READ | PROT_WRITE, "PROT_READ|PROT_WRITE", 0, 0 },
		{ PROT_READ, "PROT_READ", 0, -EINVAL },
		{ PROT_WRITE, "PROT_WRITE (no VM_READ)", -EINVAL, 0 },
		{ PROT_EXEC, "PROT_EXEC (no VM_READ)", -EINVAL, -EINVAL },
		{ PROT_READ | PROT_EXEC, "PROT_READ|PROT_EXEC", 0, -EINVAL },
		{ PROT_NONE, "PROT_NONE", -EINVAL, -EINVAL },
	};
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *p = map(4, cases[i].prot, MAP_PRIVATE);
		if (!p) {
			tap_ok(0, "mmap %s", cases[i].name);
			continue;
		}
		tap_eq(madv(p, 4 * PG, MADV_POPULATE_READ), cases[i].read, "MADV_POPULATE_READ on %s", cases[i].name);
		tap_eq(resident(p, 4), cases[i].read == 0 ? 4 : 0, "  ...populates %s", cases[i].read == 0 ? "every page" : "nothing");
		munmap(p, 4 * PG);
		p = map(4, cases[i].prot, MAP_PRIVATE);
		tap_eq(madv(p, 4 * PG, MADV_POPULATE_WRITE), cases[i].write, "MADV_POPULATE_WRITE on %s", cases[i].name);
		tap_eq(resident(p, 4), cases[i].write == 0 ? 4 : 0, "  ...populates %s", cases[i].write == 0 ? "every page" : "nothing");
		munmap(p, 4 * PG);
	}

	char *s = map(4, PROT_READ | PROT_WRITE, MAP_SHARED);
	tap_eq(madv(s, 4 * PG, MADV_POPULATE_WRITE), 0, "MADV_POPULATE_WRITE on shared anonymous memory");
	tap_eq(resident(s, 4), 4, "  ...populates every page");
	tap_eq(s[3 * PG], 0, "  ...with zeroes");
	munmap(s, 4 * PG);

	/* A populated page keeps its contents. */
	char *d = map(2, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	d[5] = 42;
	tap_eq(madv(d, 2 * PG, MADV_POPULATE_WRITE), 0, "MADV_POPULATE_WRITE over a touched page");
	tap_eq(d[5], 42, "  ...keeps what was written");
	munmap(d, 2 * PG);
}

/* Several vmas and holes in one call: the first problem, in address order. */
static void order(void)
{
	char *w = window(8);
	if (!w) {
		tap_ok(0, "mmap window");
		return;
	}
	/* [rw][ro][rw]...: the write fails at page 1, page 0 is populated. */
	refix(w, 1, PROT_READ | PROT_WRITE);
	refix(w + PG, 1, PROT_READ);
	refix(w + 2 * PG, 1, PROT_READ | PROT_WRITE);
	tap_eq(madv(w, 3 * PG, MADV_POPULATE_WRITE), -EINVAL, "[rw][ro][rw] POPULATE_WRITE: EINVAL at the read-only vma");
	tap_eq(resident(w, 3), 1, "  ...the page before it was populated, none after");
	tap_eq(resident(w, 1), 1, "  ...that page is the first");

	/* [rw][hole][ro]: the hole comes first, ENOMEM (not EINVAL). */
	munmap(w, 8 * PG);
	w = window(8);
	refix(w, 1, PROT_READ | PROT_WRITE);
	munmap(w + PG, PG);
	refix(w + 2 * PG, 1, PROT_READ);
	tap_eq(madv(w, 3 * PG, MADV_POPULATE_WRITE), -ENOMEM, "[rw][hole][ro] POPULATE_WRITE: ENOMEM at the hole");
	tap_eq(resident(w, 1), 1, "  ...the page before the hole was populated");

	/* [ro][hole]: the read-only vma comes first, EINVAL. */
	munmap(w + 3 * PG, PG);
	tap_eq(madv(w + 2 * PG, 2 * PG, MADV_POPULATE_WRITE), -EINVAL, "[ro][hole] POPULATE_WRITE: EINVAL at the read-only vma");

	/* [r][none]: a read stops at the PROT_NONE vma. */
	refix(w + 4 * PG, 2, PROT_READ);
	refix(w + 6 * PG, 1, PROT_NONE);
	tap_eq(madv(w + 4 * PG, 3 * PG, MADV_POPULATE_READ), -EINVAL, "[r][r][none] POPULATE_READ: EINVAL at the PROT_NONE vma");
	tap_eq(resident(w + 4 * PG, 3), 2, "  ...the two readable pages were populated");
	munmap(w, 8 * PG);
}

/* Holes, argument checks and locked memory. */
static void ranges(void)
{
	char *w = window(8);
	if (!w) {
		tap_ok(0, "mmap window");
		return;
	}
	refix(w, 8, PROT_READ | PROT_WRITE);
	munmap(w + 2 * PG, 2 * PG);
	tap_eq(madv(w + 2 * PG, PG, MADV_POPULATE_READ), -ENOMEM, "start in a hole: ENOMEM");
	tap_eq(madv(w + 2 * PG, 4 * PG, MADV_POPULATE_WRITE), -ENOMEM, "start in a hole before a mapped vma: ENOMEM");
	tap_eq(resident(w + 4 * PG, 4), 0, "  ...and the vma after the hole is not populated");
	tap_eq(madv(w, 8 * PG, MADV_POPULATE_READ), -ENOMEM, "range with a hole in the middle: ENOMEM");
	tap_eq(resident(w, 2), 2, "  ...the pages before the hole are populated");
	tap_eq(resident(w + 4 * PG, 4), 0, "  ...the pages after it are not");
	tap_eq(madv(w + 2 * PG, 0, MADV_POPULATE_WRITE), 0, "length 0 in a hole: 0");
	tap_eq(madv(w + 1, PG, MADV_POPULATE_WRITE), -EINVAL, "unaligned start: EINVAL");
	tap_eq(madv(w, -PG, MADV_POPULATE_WRITE), -EINVAL, "range wraps: EINVAL");
	tap_eq(madv((void *)KPTR, PG, MADV_POPULATE_READ), -ENOMEM, "kernel address: ENOMEM (no vma)");
	tap_eq(madv(w + 4 * PG, 4 * PG - 100, MADV_POPULATE_WRITE), 0, "length rounded up to whole pages");
	tap_eq(resident(w + 4 * PG, 4), 4, "  ...every page of it populated");
	munmap(w, 8 * PG);

	/* Lock-on-fault memory: populating it faults the pages in (and so
	 * mlocks them); VmLck counts the vma either way. */
	char *l = map(4, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	long r = syscall(SYS_mlock2, (long)l, 4 * PG, MLOCK_ONFAULT);
	tap_eq(r, 0, "mlock2(MLOCK_ONFAULT)");
	tap_eq(resident(l, 4), 0, "  ...populates nothing");
	tap_eq(madv(l, 4 * PG, MADV_POPULATE_WRITE), 0, "MADV_POPULATE_WRITE on lock-on-fault memory");
	tap_eq(resident(l, 4), 4, "  ...faults every page in");
	munlock(l, 4 * PG);
	munmap(l, 4 * PG);
}

/* A VM_IO | VM_PFNMAP vma: Linux's [vvar] (Holdfast maps none, and its
 * host tests cover such vmas instead). */
static void special(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[256];
	unsigned long s = 0, e = 0;
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (strstr(line, "[vvar]") && sscanf(line, "%lx-%lx", &s, &e) == 2) {
			found = 1;
			break;
		}
	}
	if (f)
		fclose(f);
	if (!found) {
		tap_ok(1, "MADV_POPULATE_READ on a VM_PFNMAP vma: no [vvar] mapping here # SKIP");
		return;
	}
	tap_eq(madv((void *)s, PG, MADV_POPULATE_READ), -EINVAL, "MADV_POPULATE_READ on [vvar] (VM_IO|VM_PFNMAP): EINVAL");
}

int main(void)
{
	tap_begin("madvise_populate");
	permissions();
	order();
	ranges();
	special();
	return tap_end();
}
