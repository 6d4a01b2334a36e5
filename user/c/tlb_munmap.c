/* tlb_munmap: once munmap() has returned, no CPU reaches the old page.
 *
 *   tlb_munmap [ROUNDS [CPUS]]     (defaults: 100 rounds, any CPU count)
 *
 * Thread A (the main thread) changes what page X maps while thread B reads
 * X, pinned to another CPU than A when more than one CPU is online. B's
 * CPU keeps X's translation in its TLB; the kernel must remove it there
 * (a TLB shootdown) before munmap returns. A kernel that flushes only the
 * CPU it runs on leaves B reading the freed frame.
 *
 * Holdfast runs no signal handlers (a bad access kills the process with
 * SIGSEGV) and has no fork, so no round can let B fault and live on. The
 * rounds make a stale translation visible as a wrong value instead, and
 * only the last one ends in the fault:
 *
 *  - odd rounds (munmap): B stops reading X, keeping its TLB entry; A
 *    munmaps X, touches fresh "soak" pages, which most likely take the
 *    frame just freed (Linux hands recently freed frames out first,
 *    Holdfast the lowest free frame near its last allocation), maps a new
 *    page at X and writes the round's value into it. B then reads X: the round's value, or through a stale entry the
 *    old frame (the previous value or the soak pattern).
 *  - even rounds (MAP_FIXED): A maps a new page over X, an implicit
 *    munmap, while B keeps reading; B checks each read made while no
 *    change was under way (a sequence count read before and after it)
 *    against the round's value.
 *  - the final round: A munmaps X while B reads it and then publishes that
 *    munmap returned. B's next read must fault: the process dies of
 *    SIGSEGV, status 139, which is the expected outcome. If the read
 *    returns, B reports it and the program exits 1.
 *
 * The summary line `tlb_munmap: N passed, 0 failed` comes before the
 * final round, so a run that is killed earlier lacks it. With CPUS given
 * the online CPU count must be CPUS: a kernel that brought up one CPU
 * would pass trivially. On one CPU the test passes trivially: each
 * context switch happens on the CPU that flushed. */
#define _GNU_SOURCE
#include "tap.h"
#include "cpu.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define PAGE 4096UL
#define SOAK_PAGES 8
#define SOAK_PATTERN 0x50a450a450a450a4UL
/* `seq` once A's final munmap of X has returned. */
#define SEQ_FINAL (~0UL - 1)
#define WAIT_S 30.0 /* the longest A waits for B */
#define SHOWN 5     /* wrong values shown in full */

static volatile unsigned long *X;
/* 2r: round r is complete and X holds value_of(r); odd: X is changing. */
static unsigned long seq;
/* A asks B to stop reading X for round stop_req; B acknowledges. */
static unsigned long stop_req, stop_ack;
/* 1 + the last round in which B made a checked read of X. */
static unsigned long b_seen;
static unsigned long b_survived, b_final_value;
static int share_cpu; /* A and B may share a CPU: yield while waiting */
static int b_cpu = -1, b_pin, b_cpu_seen = -1;
/* B's checked reads and wrong values, per kind of round (0: MAP_FIXED, 1: munmap). */
static unsigned long b_checked[2], b_wrong[2];
static unsigned long b_shown;

static unsigned long value_of(unsigned long r)
{
	return 0x7db1000000000000UL ^ (r * 0x9e3779b97f4a7c15UL >> 8) ^ r;
}

static void *reader(void *arg)
{
	(void)arg;
	if (b_cpu >= 0) {
		b_pin = pin_self(b_cpu);
		sched_yield();
		b_cpu_seen = current_cpu();
	}
	unsigned long spins = 0;
	for (;;) {
		unsigned long s1 = load_acquire(&seq);
		if (s1 == SEQ_FINAL) {
			/* munmap(X) has returned: this read must fault. */
			b_final_value = __atomic_load_n(X, __ATOMIC_ACQUIRE);
			store_release(&b_survived, 1);
			return NULL;
		}
		unsigned long req = load_acquire(&stop_req);
		if (req != stop_ack) {
			store_release(&stop_ack, req);
			while (load_acquire(&seq) < 2 * req)
				if (share_cpu)
					sched_yield();
				else
					cpu_relax();
			continue;
		}
		unsigned long v = __atomic_load_n(X, __ATOMIC_ACQUIRE);
		unsigned long s2 = load_acquire(&seq);
		if (s1 == s2 && !(s1 & 1)) {
			unsigned long r = s1 / 2, kind = r & 1;
			b_checked[kind]++;
			if (v != value_of(r)) {
				b_wrong[kind]++;
				if (b_shown++ < SHOWN)
					printf("# B read %#lx at X in round %lu (%s), expected %#lx%s\n", v, r,
					       kind ? "munmap" : "MAP_FIXED", value_of(r),
					       v == SOAK_PATTERN ? ": the soak pattern" : r && v == value_of(r - 1) ? ": the previous round's value" : "");
			}
			if (b_seen < r + 1)
				store_release(&b_seen, r + 1);
		}
		if (share_cpu && (++spins & 63) == 0)
			sched_yield();
	}
}

/* Wait until *p >= want; 0, or -1 after WAIT_S seconds. */
static int wait_for(unsigned long *p, unsigned long want)
{
	double deadline = now_s() + WAIT_S;
	for (unsigned long i = 0; load_acquire(p) < want; i++) {
		if (share_cpu)
			sched_yield();
		else
			cpu_relax();
		if ((i & 1023) == 0 && now_s() > deadline)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 100;
	int want_cpus = argc > 2 ? atoi(argv[2]) : 0;
	int cpus[MAX_CPUS];
	pthread_t th;

	tap_begin("tlb_munmap");
	if (rounds < 2)
		rounds = 2;
	int n = cpus_allowed(cpus);
	tap_ok(n >= 1, "sched_getaffinity names the CPUs this thread may use (%d)", n);
	if (want_cpus)
		tap_eq(n, want_cpus, "as many CPUs online as asked for");
	if (n >= 2) {
		int a = pin_self(cpus[0]);
		tap_eq(a, 0, "A pinned to CPU %d", cpus[0]);
		sched_yield();
		tap_eq(current_cpu(), cpus[0], "A runs on CPU %d", cpus[0]);
		b_cpu = cpus[1];
		share_cpu = a != 0;
		printf("# %d CPUs: A on CPU %d, B on CPU %d\n", n, cpus[0], cpus[1]);
	} else {
		share_cpu = 1;
		printf("# one CPU: A and B share it\n");
	}

	char *soak = mmap(NULL, (rounds + 1) * SOAK_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	X = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!tap_ok(soak != MAP_FAILED && X != MAP_FAILED, "mmap X and the soak pages"))
		return tap_end();
	X[0] = value_of(0);
	if (!tap_ok(pthread_create(&th, NULL, reader, NULL) == 0, "pthread_create B"))
		return tap_end();

	unsigned long bad_syscalls = 0, not_zero = 0, r;
	for (r = 1; r <= rounds; r++) {
		/* B has read X since the last change: its TLB holds X's entry. */
		if (wait_for(&b_seen, r))
			break;
		int unmap = r & 1;
		if (unmap) {
			store_release(&stop_req, r);
			if (wait_for(&stop_ack, r))
				break;
		}
		store_seq_cst(&seq, 2 * r - 1);
		void *p;
		if (unmap) {
			bad_syscalls += munmap((void *)X, PAGE) != 0;
			for (int i = 0; i < SOAK_PAGES; i++)
				*(volatile unsigned long *)(soak + ((r - 1) * SOAK_PAGES + i) * PAGE) = SOAK_PATTERN;
			p = mmap((void *)X, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		} else {
			p = mmap((void *)X, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			for (int i = 0; i < SOAK_PAGES; i++)
				*(volatile unsigned long *)(soak + ((r - 1) * SOAK_PAGES + i) * PAGE) = SOAK_PATTERN;
		}
		if (p != (void *)X) {
			bad_syscalls++;
			printf("# round %lu: mmap at X gave %p\n", r, p);
			break;
		}
		/* A new anonymous page reads zero. */
		not_zero += X[0] != 0;
		X[0] = value_of(r);
		store_release(&seq, 2 * r);
	}
	int finished = r > rounds && wait_for(&b_seen, rounds + 1) == 0;
	tap_ok(finished, "B made a checked read in each of %lu rounds (reached round %ld)", rounds, (long)load_acquire(&b_seen) - 1);
	tap_eq(bad_syscalls, 0, "munmap and mmap at X succeed in every round");
	tap_eq(not_zero, 0, "the new page at X reads zero before A writes it");
	if (b_cpu >= 0) {
		tap_eq(b_pin, 0, "B pinned to CPU %d", b_cpu);
		tap_eq(b_cpu_seen, b_cpu, "B runs on CPU %d", b_cpu);
	}
	tap_ok(b_checked[1] > 0 && b_wrong[1] == 0, "B never read a stale value after munmap + mmap (%lu of %lu reads wrong)",
	       b_wrong[1], b_checked[1]);
	tap_ok(b_checked[0] > 0 && b_wrong[0] == 0, "B never read a stale value after MAP_FIXED (%lu of %lu reads wrong)",
	       b_wrong[0], b_checked[0]);
	if (tap_failed || !finished)
		return tap_end();

	/* The final round: its only correct end is SIGSEGV in B. */
	tap_end();
	printf("# final round: A munmaps X while B reads it; B's next read must be killed by SIGSEGV (status 139)\n");
	fflush(stdout);
	store_seq_cst(&seq, SEQ_FINAL - 1);
	int um = munmap((void *)X, PAGE);
	store_seq_cst(&seq, SEQ_FINAL);
	if (wait_for(&b_survived, 1) == 0)
		tap_ok(0, "B read X after munmap returned (%d) and got %#lx: a stale TLB entry on B's CPU", um, b_final_value);
	else
		tap_ok(0, "B neither faulted nor read X within %.0f s of munmap returning", WAIT_S);
	return tap_end();
}
