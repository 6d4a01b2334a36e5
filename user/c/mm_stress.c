/* mm_stress: four threads change one address space at once; every answer
 * and every byte stays what Linux guarantees under any interleaving.
 *
 *   mm_stress [OPS [SEED [CPUS]]]   (defaults: 1500 operations per thread,
 *                                    seed 1, any CPU count)
 *
 * A 32-page arena; page i belongs to thread i % 4, so every thread's
 * pages lie between the others' and each vma change splits or merges
 * around pages other threads are changing at the same time. Each thread
 * picks OPS random operations:
 *
 * On its own pages (it alone maps, unmaps and writes them, so it knows
 * their state): read its pattern back and write a new one; munmap, and
 * mmap again at the same address (MAP_FIXED_NOREPLACE) or over the page
 * (MAP_FIXED), after which the page reads zero (most munmaps are
 * followed by the mmap at once, to leave fewer holes); mprotect to read-only
 * (the pattern is still there) and back; mlock then mincore (resident);
 * munlock; MADV_DONTNEED (0 and the page reads zero, or EINVAL because
 * another thread's mlock covers it and the pattern is kept); mincore of
 * the page (0 and resident when mapped, ENOMEM when not). Each call must
 * give exactly the answer its state implies.
 *
 * On random ranges of 1-8 pages across everyone's pages: mlock, mlock2
 * (MLOCK_ONFAULT), munlock, mprotect to read-write or read-write-exec
 * (never less than read-write, so no thread's access to its own page is
 * taken away), MADV_WILLNEED and mincore. Another thread may have a page
 * of the range unmapped, so 0 and ENOMEM are the only right answers.
 *
 * At the end (one thread): each page mapped or not as its owner left it,
 * with its owner's last pattern; then every page mapped, read-write and
 * unlocked: VmLck 0 kB in /proc/self/status; the whole arena mlocked:
 * VmLck 128 kB and every page resident; unlocked again: 0 kB, so the
 * locked_vm count survived the concurrent splits and merges. And
 * /proc/self/maps covers the arena with rw-p vmas, nothing else.
 *
 * Run with Holdfast's `mm.check_invariants`, which checks the address
 * space after every mm system call. The threads are not pinned; with
 * several CPUs they run in parallel, and threads moving between CPUs
 * also meet stale TLB entries on their own pages. With CPUS given the
 * online CPU count must be CPUS. */
#define _GNU_SOURCE
#include "tap.h"
#include "cpu.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

#define PAGE 4096UL
#define WORDS (PAGE / sizeof(unsigned long))
#define NT 4
#define PPT 8
#define NPAGES (NT * PPT)
#define MAX_RANGE 8
#define SHOWN 8 /* wrong answers shown in full, over all threads */

enum op {
	OP_TOUCH, OP_REMAP, OP_REPLACE, OP_PROTECT, OP_MLOCK_OWN, OP_MUNLOCK_OWN, OP_DONTNEED, OP_MINCORE_OWN,
	OP_MLOCK, OP_MLOCK2, OP_MUNLOCK, OP_MPROTECT, OP_WILLNEED, OP_MINCORE,
	NOPS
};

static const char *op_name[NOPS] = {
	"read and rewrite own page", "munmap / mmap own page", "MAP_FIXED over own page", "mprotect own page",
	"mlock own page", "munlock own page", "MADV_DONTNEED own page", "mincore own page",
	"mlock range", "mlock2 ONFAULT range", "munlock range", "mprotect range", "MADV_WILLNEED range",
	"mincore range",
};

/* Relative weights of the operations. */
static const int op_weight[NOPS] = { 20, 8, 4, 8, 4, 4, 4, 3, 6, 4, 6, 8, 3, 4 };

static char *arena;
static unsigned long ops_per_thread, seed;
static unsigned long calls[NOPS], wrong[NOPS], shown;
static unsigned long res_enomem[NOPS], res_einval[NOPS];

struct own {
	int mapped, ro;
	unsigned long gen;
};

/* Each thread's view of its own pages, kept for the final check. */
static struct own owned[NT][PPT];

static char *page_addr(int page)
{
	return arena + (unsigned long)page * PAGE;
}

static unsigned long tag(int page, unsigned long gen)
{
	return 0x5157000000000000UL | (unsigned long)page << 32 | gen;
}

static void write_pattern(int page, unsigned long gen)
{
	volatile unsigned long *w = (volatile unsigned long *)page_addr(page);
	w[0] = tag(page, gen);
	w[1 + gen % (WORDS - 1)] = ~tag(page, gen);
}

static int pattern_ok(int page, unsigned long gen)
{
	volatile unsigned long *w = (volatile unsigned long *)page_addr(page);
	return w[0] == tag(page, gen) && w[1 + gen % (WORDS - 1)] == ~tag(page, gen);
}

static int page_zero(int page)
{
	volatile unsigned long *w = (volatile unsigned long *)page_addr(page);
	for (unsigned long i = 0; i < WORDS; i++)
		if (w[i])
			return 0;
	return 1;
}

static long sys_result(long r)
{
	return r < 0 ? -errno : r;
}

/* Count a call of `op` with result `r`; if it is not `ok`, count it
 * wrong and show why (fmt, ...), for the first SHOWN wrong answers. */
static void tally(int op, long r, int ok, int t, const char *fmt, ...)
{
	__atomic_fetch_add(&calls[op], 1, __ATOMIC_RELAXED);
	if (r == -ENOMEM)
		__atomic_fetch_add(&res_enomem[op], 1, __ATOMIC_RELAXED);
	if (r == -EINVAL)
		__atomic_fetch_add(&res_einval[op], 1, __ATOMIC_RELAXED);
	if (ok)
		return;
	__atomic_fetch_add(&wrong[op], 1, __ATOMIC_RELAXED);
	if (__atomic_fetch_add(&shown, 1, __ATOMIC_RELAXED) < SHOWN) {
		char why[160];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, sizeof why, fmt, ap);
		va_end(ap);
		printf("# thread %d, %s: result %ld; %s\n", t, op_name[op], r, why);
	}
}

/* A check inside an operation that is not a call of its own. */
static void expect(int op, int ok, int t, const char *what, int page)
{
	if (ok)
		return;
	__atomic_fetch_add(&wrong[op], 1, __ATOMIC_RELAXED);
	if (__atomic_fetch_add(&shown, 1, __ATOMIC_RELAXED) < SHOWN)
		printf("# thread %d, %s: page %d: %s\n", t, op_name[op], page, what);
}

static unsigned long rnd(unsigned long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Threads started; each waits for all before its first operation. */
static unsigned long ready;

static void *worker(void *arg)
{
	int t = (int)(long)arg;
	__atomic_fetch_add(&ready, 1, __ATOMIC_ACQ_REL);
	while (load_acquire(&ready) < NT)
		sched_yield();
	struct own *mine = owned[t];
	unsigned long s = seed * 0x9e3779b97f4a7c15UL + (unsigned long)t * 0x2545f4914f6cdd1dUL + 1;
	int total = 0;
	for (int i = 0; i < NOPS; i++)
		total += op_weight[i];

	for (unsigned long n = 0; n < ops_per_thread; n++) {
		int pick = rnd(&s) % total, op = 0;
		while (pick >= op_weight[op])
			pick -= op_weight[op++];
		int k = rnd(&s) % PPT, page = k * NT + t;
		struct own *o = &mine[k];
		char *p = page_addr(page);
		long r;
		unsigned char vec[MAX_RANGE];

		switch (op) {
		case OP_TOUCH:
			if (!o->mapped)
				break;
			tally(op, 0, pattern_ok(page, o->gen), t, "page %d, generation %lu: pattern lost", page, o->gen);
			if (!o->ro)
				write_pattern(page, ++o->gen);
			break;
		case OP_REMAP:
			if (o->mapped) {
				r = sys_result(munmap(p, PAGE));
				tally(op, r, r == 0, t, "munmap of page %d", page);
				o->mapped = r != 0;
				/* Mostly mapped again at once: fewer holes for the
				 * range operations to stop at. */
				if (o->mapped || rnd(&s) % 4 == 0)
					break;
			}
			r = (long)mmap(p, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			r = r == -1 ? -errno : r;
			tally(op, r, r == (long)p, t, "mmap MAP_FIXED_NOREPLACE of page %d at %p", page, p);
			if (r != (long)p)
				break;
			expect(op, page_zero(page), t, "a new mapping does not read zero", page);
			*o = (struct own){ .mapped = 1, .ro = 0, .gen = o->gen + 1 };
			write_pattern(page, o->gen);
			break;
		case OP_REPLACE:
			if (!o->mapped)
				break;
			r = (long)mmap(p, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			r = r == -1 ? -errno : r;
			tally(op, r, r == (long)p, t, "mmap MAP_FIXED over page %d at %p", page, p);
			if (r != (long)p) {
				o->mapped = 0; /* MAP_FIXED failing may leave a hole */
				break;
			}
			expect(op, page_zero(page), t, "the replacing page does not read zero", page);
			o->ro = 0;
			write_pattern(page, ++o->gen);
			break;
		case OP_PROTECT:
			r = sys_result(mprotect(p, PAGE, o->ro ? PROT_READ | PROT_WRITE : PROT_READ));
			tally(op, r, r == (o->mapped ? 0 : -ENOMEM), t, "page %d, mapped %d", page, o->mapped);
			if (r == 0) {
				o->ro = !o->ro;
				expect(op, pattern_ok(page, o->gen), t, "pattern lost", page);
			}
			break;
		case OP_MLOCK_OWN:
			r = sys_result(mlock(p, PAGE));
			tally(op, r, r == (o->mapped ? 0 : -ENOMEM), t, "page %d, mapped %d", page, o->mapped);
			if (r == 0) {
				vec[0] = 0;
				expect(op, mincore(p, PAGE, vec) == 0 && (vec[0] & 1), t, "not resident after mlock", page);
				expect(op, pattern_ok(page, o->gen), t, "pattern lost", page);
			}
			break;
		case OP_MUNLOCK_OWN:
			r = sys_result(munlock(p, PAGE));
			tally(op, r, r == (o->mapped ? 0 : -ENOMEM), t, "page %d, mapped %d", page, o->mapped);
			break;
		case OP_DONTNEED:
			if (o->ro)
				break;
			r = sys_result(madvise(p, PAGE, MADV_DONTNEED));
			if (!o->mapped) {
				tally(op, r, r == -ENOMEM, t, "page %d is unmapped", page);
				break;
			}
			/* 0: zapped; EINVAL: another thread's mlock covers the page. */
			tally(op, r, r == 0 || r == -EINVAL, t, "page %d is mapped", page);
			if (r == 0) {
				expect(op, page_zero(page), t, "not zero after MADV_DONTNEED", page);
				write_pattern(page, ++o->gen);
			} else {
				expect(op, pattern_ok(page, o->gen), t, "pattern lost though MADV_DONTNEED failed", page);
			}
			break;
		case OP_MINCORE_OWN:
			vec[0] = 0;
			r = sys_result(mincore(p, PAGE, vec));
			tally(op, r, o->mapped ? r == 0 && (vec[0] & 1) : r == -ENOMEM, t, "page %d, mapped %d, vec %#x", page,
			      o->mapped, vec[0]);
			break;
		default: {
			/* A range across everyone's pages. */
			int first = rnd(&s) % NPAGES, len = 1 + rnd(&s) % MAX_RANGE;
			if (first + len > NPAGES)
				len = NPAGES - first;
			char *a = page_addr(first);
			unsigned long bytes = (unsigned long)len * PAGE;
			switch (op) {
			case OP_MLOCK:
				r = sys_result(mlock(a, bytes));
				break;
			case OP_MLOCK2:
				r = sys_result(syscall(SYS_mlock2, a, bytes, MLOCK_ONFAULT));
				break;
			case OP_MUNLOCK:
				r = sys_result(munlock(a, bytes));
				break;
			case OP_MPROTECT:
				r = sys_result(mprotect(a, bytes, PROT_READ | PROT_WRITE | (rnd(&s) & 1 ? PROT_EXEC : 0)));
				break;
			case OP_WILLNEED:
				r = sys_result(madvise(a, bytes, MADV_WILLNEED));
				break;
			default:
				r = sys_result(mincore(a, bytes, vec));
				/* This thread's own mapped pages are resident. */
				if (r == 0)
					for (int i = 0; i < len; i++)
						if ((first + i) % NT == t && mine[(first + i) / NT].mapped && !(vec[i] & 1))
							expect(op, 0, t, "mapped and written but not resident", first + i);
				break;
			}
			tally(op, r, r == 0 || r == -ENOMEM, t, "pages %d + %d", first, len);
			break;
		}
		}
	}
	return NULL;
}

/* VmLck of /proc/self/status in kB, or -1. */
static long vm_lck_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Do the lines of /proc/self/maps cover the arena, in order and without
 * a gap, with permissions `rw-p`? (The first and last vma may reach
 * beyond it, merged with a neighbour.) */
static int maps_cover_arena(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perms[8];
	unsigned long lo, hi, start = (unsigned long)arena, end = start + NPAGES * PAGE, next = start;
	int ok = 1;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3)
			continue;
		if (hi <= start || lo >= end)
			continue;
		if ((lo > start ? lo : start) != next || strcmp(perms, "rw-p")) {
			printf("# maps: %s", line);
			ok = 0;
		}
		next = hi < end ? hi : end;
	}
	fclose(f);
	return ok && next == end;
}

int main(int argc, char **argv)
{
	ops_per_thread = argc > 1 ? strtoul(argv[1], NULL, 0) : 1500;
	seed = argc > 2 ? strtoul(argv[2], NULL, 0) : 1;
	int want_cpus = argc > 3 ? atoi(argv[3]) : 0;
	int cpus[MAX_CPUS];
	pthread_t th[NT];

	tap_begin("mm_stress");
	int n = cpus_allowed(cpus);
	printf("# %d CPUs, %d threads, %lu operations each, seed %lu\n", n, NT, ops_per_thread, seed);
	if (want_cpus)
		tap_eq(n, want_cpus, "as many CPUs online as asked for");

	arena = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!tap_ok(arena != MAP_FAILED, "mmap the %d-page arena", NPAGES))
		return tap_end();
	for (int t = 0; t < NT; t++)
		for (int k = 0; k < PPT; k++) {
			owned[t][k] = (struct own){ .mapped = 1, .ro = 0, .gen = 1 };
			write_pattern(k * NT + t, 1);
		}
	/* No mapping is made outside the arena while the threads run: a
	 * thread's MAP_FIXED at its own page cannot hit anything else. */
	int started = 0;
	for (long t = 0; t < NT; t++)
		started += pthread_create(&th[t], NULL, worker, (void *)t) == 0;
	if (!tap_ok(started == NT, "%d threads started", started))
		return tap_end();
	for (int t = 0; t < NT; t++)
		pthread_join(th[t], NULL);

	for (int op = 0; op < NOPS; op++)
		tap_ok(wrong[op] == 0, "%s: %lu calls, %lu wrong (ENOMEM %lu, EINVAL %lu)", op_name[op], calls[op], wrong[op],
		       res_enomem[op], res_einval[op]);

	/* Each page as its owner left it. */
	unsigned long bad_state = 0;
	for (int page = 0; page < NPAGES; page++) {
		struct own *o = &owned[page % NT][page / NT];
		unsigned char v = 0;
		long r = sys_result(mincore(page_addr(page), PAGE, &v));
		int ok = o->mapped ? r == 0 && (v & 1) && pattern_ok(page, o->gen) : r == -ENOMEM;
		if (!ok && bad_state++ < SHOWN)
			printf("# page %d: mapped %d, mincore %ld (vec %#x)\n", page, o->mapped, r, v);
	}
	tap_eq(bad_state, 0, "every page is mapped, resident and holds its owner's pattern, or is unmapped, as its owner left it");

	for (int page = 0; page < NPAGES; page++)
		if (!owned[page % NT][page / NT].mapped) {
			void *q = mmap(page_addr(page), PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			bad_state += q != page_addr(page);
		}
	tap_eq(bad_state, 0, "map the unmapped pages again");
	tap_eq(sys_result(mprotect(arena, NPAGES * PAGE, PROT_READ | PROT_WRITE)), 0, "mprotect the arena read-write");
	tap_eq(sys_result(munlock(arena, NPAGES * PAGE)), 0, "munlock the arena");
	tap_eq(vm_lck_kb(), 0, "VmLck 0 kB with nothing locked");
	tap_eq(sys_result(mlock(arena, NPAGES * PAGE)), 0, "mlock the arena");
	tap_eq(vm_lck_kb(), NPAGES * PAGE / 1024, "VmLck counts the whole arena");
	unsigned char vec[NPAGES];
	unsigned long resident = 0;
	if (mincore(arena, NPAGES * PAGE, vec) == 0)
		for (int i = 0; i < NPAGES; i++)
			resident += vec[i] & 1;
	tap_eq(resident, NPAGES, "every page of the mlocked arena is resident");
	tap_eq(sys_result(munlock(arena, NPAGES * PAGE)), 0, "munlock the arena again");
	tap_eq(vm_lck_kb(), 0, "VmLck back to 0 kB");
	tap_ok(maps_cover_arena(), "/proc/self/maps covers the arena with rw-p vmas");
	return tap_end();
}
