/* swap_prio: swap device priorities as Linux keeps them.
 *
 * A device swapped on without SWAP_FLAG_PREFER gets the next default
 * priority: -2 for the first, one less for each further one; when one of
 * those goes off, the defaults below it move up one. SWAP_FLAG_PREFER | N
 * gives priority N. Reclaim takes slots from the devices of the highest
 * priority first, and devices of equal priority take turns.
 *
 * Sized for the QEMU guest (cargo xtask test boots it with 160 MiB,
 * zram=128M swapped on at boot as /dev/zram0, and a 256 MiB swap disk,
 * /dev/vda, off): priorities are read from /proc/swaps' Priority column,
 * where each device's Used column also shows which one reclaim wrote to
 * while PUSH_MB (more than the machine) is written and read back. Needs
 * both devices: anywhere else it says so and exits. */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <unistd.h>

#define ZRAM "/dev/zram0"
#define DISK "/dev/vda"
#define PUSH_MB 192

struct swapdev {
	int found;
	long size_kb, used_kb;
	int prio;
};

/* The /proc/swaps line of `name`. */
static struct swapdev swapdev(const char *name)
{
	struct swapdev d = { 0 };
	char line[256], fname[128], type[32];
	FILE *f = fopen("/proc/swaps", "r");
	if (!f)
		return d;
	while (fgets(line, sizeof line, f)) {
		long size, used;
		int prio;
		if (sscanf(line, "%127s %31s %ld %ld %d", fname, type, &size, &used, &prio) == 5 && !strcmp(fname, name)) {
			d = (struct swapdev){ 1, size, used, prio };
			break;
		}
	}
	fclose(f);
	return d;
}

static void prio_is(const char *name, int want, const char *when)
{
	struct swapdev d = swapdev(name);
	tap_ok(d.found && d.prio == want, "%s: %s has priority %d (found %d, priority %d)", when, name, want, d.found, d.prio);
}

static struct swapdev z, d;

/* Write PUSH_MB of distinct pages and read them back; note what each
 * device holds then (in z and d), and unmap. Returns how many pages read
 * back wrong (-1: no memory). */
static long push(void)
{
	long pages = (long)PUSH_MB << 8;
	uint64_t *p = mmap(0, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	for (long i = 0; i < pages; i++)
		p[i * (PG / 8)] = 0x5eed0000u + i;
	long bad = 0;
	for (long i = 0; i < pages; i++)
		bad += p[i * (PG / 8)] != 0x5eed0000u + i;
	z = swapdev(ZRAM);
	d = swapdev(DISK);
	munmap(p, pages * PG);
	return bad;
}

static void off_on(const char *name, int flags)
{
	int off = swapoff(name), on = swapon(name, flags);
	tap_ok(off == 0 && on == 0, "swapoff(%s) then swapon(%s, %#x) (got %d, %d, errno %d)", name, name, flags, off, on, errno);
}

int main(void)
{
	tap_begin("swap_prio");
	if (!swapdev(ZRAM).found || swapon(DISK, 0) != 0) {
		printf("# needs %s swapped on and a swap disk %s (the QEMU guest's): skipped\n", ZRAM, DISK);
		return tap_end();
	}
	tap_ok(1, "swapon(%s, 0)", DISK);
	prio_is(ZRAM, -2, "first default");
	prio_is(DISK, -3, "second default");
	/* The default below the one that went off moves up. */
	tap_eq(swapoff(ZRAM), 0, "swapoff(%s)", ZRAM);
	prio_is(DISK, -2, "after swapoff(" ZRAM ")");
	tap_eq(swapon(ZRAM, 0), 0, "swapon(%s, 0)", ZRAM);
	prio_is(ZRAM, -3, "default again");

	/* The disk preferred: reclaim writes only to it. */
	off_on(DISK, SWAP_FLAG_PREFER | (5 << SWAP_FLAG_PRIO_SHIFT));
	prio_is(DISK, 5, "SWAP_FLAG_PREFER | 5");
	prio_is(ZRAM, -2, "the default below the disk's old one moved up");
	tap_eq(push(), 0L, "%d MiB read back intact", PUSH_MB);
	tap_ok(d.used_kb > 4096 && z.used_kb == 0, "only the preferred disk was used (disk %ld kB, zram %ld kB)", d.used_kb,
	       z.used_kb);

	/* Equal priorities: both are used. */
	off_on(DISK, SWAP_FLAG_PREFER | (7 << SWAP_FLAG_PRIO_SHIFT));
	off_on(ZRAM, SWAP_FLAG_PREFER | (7 << SWAP_FLAG_PRIO_SHIFT));
	prio_is(ZRAM, 7, "SWAP_FLAG_PREFER | 7");
	prio_is(DISK, 7, "SWAP_FLAG_PREFER | 7");
	tap_eq(push(), 0L, "%d MiB read back intact", PUSH_MB);
	tap_ok(z.used_kb > 2048 && d.used_kb > 2048, "both devices of priority 7 were used (disk %ld kB, zram %ld kB)",
	       d.used_kb, z.used_kb);
	tap_eq(swapoff(DISK), 0, "swapoff(%s)", DISK);
	return tap_end();
}
