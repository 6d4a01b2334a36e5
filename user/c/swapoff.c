/* swapoff: swapoff(2) brings every swapped-out page of every process
 * back into RAM and takes the device away; swapon(2) puts it back.
 *
 * Sized for the QEMU guest (cargo xtask test boots it with 256 MiB and
 * zram=1G, the device named /dev/zram0): a child writes CHILD_MB of its
 * own and waits; SHARED_MB written before the fork is shared by both;
 * KEEP_MB is written, then PUSH_MB more (together more than the machine)
 * so that reclaim swaps the older pages out (pswpout, VmSwap rise);
 * swapoff then cannot bring it all back: ENOMEM, the device stays on and
 * every page reads back. PUSH_MB is unmapped, and swapoff must then bring back the
 * rest: VmSwap 0 in both processes, SwapTotal 0, /proc/swaps only its
 * header, every page reads back its pattern. swapon restores SwapTotal.
 * The errnos: EFAULT, ENOENT, EINVAL (not a swap device, not active, no
 * swap header, unknown flags), EBUSY (already on), EPERM (uid 65534).
 * Arguments: KEEP_MB PUSH_MB [DEVICE] (default /dev/zram0; /dev/vda is
 * the disk of `cargo xtask run --swap-disk` with swapon=/dev/vda).
 * Without swap it says so and checks only the errnos. */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_MB 8
#define SHARED_MB 4

static void fill_page(char *p, uint64_t tag)
{
	uint64_t *w = (uint64_t *)p;
	for (int j = 0; j < PG / 8; j++)
		w[j] = tag << 8 | (uint64_t)(j & 3);
}

static long bad_range(const char *p, long pages, uint64_t tag0)
{
	long bad = 0;
	for (long i = 0; i < pages; i++) {
		const uint64_t *w = (const uint64_t *)(p + i * PG);
		for (int j = 0; j < PG / 8; j++)
			if (w[j] != ((tag0 + i) << 8 | (uint64_t)(j & 3))) {
				bad++;
				break;
			}
	}
	return bad;
}

static void fill_range(char *p, long pages, uint64_t tag0)
{
	for (long i = 0; i < pages; i++)
		fill_page(p + i * PG, tag0 + i);
}

static char *anon(long pages)
{
	char *p = mmap(0, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Lines of /proc/swaps (-1 if it cannot be read). */
static int swaps_lines(void)
{
	char line[256];
	int n = 0;
	FILE *f = fopen("/proc/swaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		n++;
	fclose(f);
	return n;
}

#define ERRNO_IS(call, want, ...)                                                                \
	do {                                                                                     \
		errno = 0;                                                                       \
		long r_ = (call);                                                                \
		int e_ = errno;                                                                  \
		char gs_[48], es_[48];                                                           \
		snprintf(gs_, sizeof gs_, "%ld/%s", r_, strerror(e_));                           \
		snprintf(es_, sizeof es_, "-1/%s", strerror(want));                              \
		tap_check(r_ == -1 && e_ == (want), gs_, es_, __VA_ARGS__);                      \
	} while (0)

static const char *dev = "/dev/zram0";

static void errno_checks(void)
{
	ERRNO_IS(swapoff((const char *)1), EFAULT, "swapoff of a bad pointer: EFAULT");
	ERRNO_IS(swapon((const char *)1, 0), EFAULT, "swapon of a bad pointer: EFAULT");
	ERRNO_IS(swapoff("/no/such/swap"), ENOENT, "swapoff of a missing path: ENOENT");
	ERRNO_IS(swapon("/no/such/swap", 0), ENOENT, "swapon of a missing path: ENOENT");
	ERRNO_IS(swapoff("/dev/null"), EINVAL, "swapoff of /dev/null (not a swap device): EINVAL");
	ERRNO_IS(swapon("/dev/null", 0), EINVAL, "swapon of /dev/null (no swap header): EINVAL");
	ERRNO_IS(swapon(dev, 0x40000000), EINVAL, "swapon with an unknown flag: EINVAL");
	pid_t pid = fork();
	if (pid == 0) {
		if (setresuid(65534, 65534, 65534))
			_exit(10);
		if (swapoff(dev) != -1 || errno != EPERM)
			_exit(11);
		if (swapon(dev, 0) != -1 || errno != EPERM)
			_exit(12);
		_exit(0);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	tap_eq(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + st, 0, "as uid 65534 swapoff and swapon are EPERM");
}

int main(int argc, char **argv)
{
	long keep_mb = argc > 1 ? atol(argv[1]) : 64, push_mb = argc > 2 ? atol(argv[2]) : 224;
	if (argc > 3)
		dev = argv[3];
	long kpages = keep_mb * 256, ppages = push_mb * 256, cpages = CHILD_MB * 256, spages = SHARED_MB * 256;
	tap_begin("swapoff");
	errno_checks();
	long total0 = meminfo_field_kb("SwapTotal");
	if (total0 <= 0) {
		printf("# no swap: only the errnos checked\n");
		return tap_end();
	}
	tap_eq(swaps_lines(), 2, "/proc/swaps: its header and %s", dev);

	char *shared = anon(spages);
	if (!tap_ok(shared != NULL, "mmap %d MiB", SHARED_MB))
		return tap_end();
	fill_range(shared, spages, 0x300000);
	int go[2], done[2];
	if (pipe(go) || pipe(done))
		return tap_end();
	pid_t child = fork();
	if (child == 0) {
		/* Its own memory, swapped out with the parent's, brought back
		 * by the parent's swapoff. Exit status: what went wrong. */
		char *c = anon(cpages), b;
		if (!c)
			_exit(20);
		fill_range(c, cpages, 0x200000);
		if (write(done[1], "w", 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(21);
		if (proc_field_kb("/proc/self/status", "VmSwap") != 0)
			_exit(22);
		if (bad_range(c, cpages, 0x200000) || bad_range(shared, spages, 0x300000))
			_exit(23);
		if (proc_field_kb("/proc/self/status", "VmSwap") != 0)
			_exit(24);
		_exit(0);
	}
	char b;
	tap_ok(read(done[0], &b, 1) == 1, "the child wrote its %d MiB", CHILD_MB);

	long out0 = vmstat_field("pswpout");
	char *keep = anon(kpages), *push = anon(ppages);
	if (!tap_ok(keep && push, "mmap %ld MiB and %ld MiB", keep_mb, push_mb))
		return tap_end();
	fill_range(keep, kpages, 0);
	fill_range(push, ppages, 0x100000);
	long out1 = vmstat_field("pswpout");
	tap_ok(out1 > out0, "writing %ld MiB swapped pages out (pswpout %ld -> %ld)", keep_mb + push_mb, out0, out1);
	ERRNO_IS(swapoff(dev), ENOMEM, "swapoff with more swapped out than fits in RAM: ENOMEM");
	tap_eq(meminfo_field_kb("SwapTotal"), total0, "the device is still on");
	tap_eq(swaps_lines(), 2, "/proc/swaps still lists it");
	tap_eq(bad_range(push, ppages, 0x100000), 0, "every page of the %ld MiB reads back its pattern", push_mb);
	tap_eq(bad_range(keep, kpages, 0), 0, "every page of the %ld MiB reads back its pattern", keep_mb);
	out1 = vmstat_field("pswpout");
	tap_ok(munmap(push, ppages * PG) == 0, "munmap the %ld MiB pushed", push_mb);
	long vmswap = proc_field_kb("/proc/self/status", "VmSwap");
	tap_ok(vmswap > 0, "VmSwap is %ld kB", vmswap);
	long used = total0 - meminfo_field_kb("SwapFree");
	tap_ok(used > 0, "%ld kB of swap in use", used);

	tap_eq(swapoff(dev), 0, "swapoff(\"%s\")", dev);
	tap_eq(proc_field_kb("/proc/self/status", "VmSwap"), 0, "VmSwap is 0");
	tap_eq(meminfo_field_kb("SwapTotal"), 0, "SwapTotal is 0");
	tap_eq(meminfo_field_kb("SwapFree"), 0, "SwapFree is 0");
	tap_eq(swaps_lines(), 1, "/proc/swaps has only its header");
	tap_eq(resident(keep, kpages), kpages, "every page of the %ld MiB is resident", keep_mb);
	tap_eq(bad_range(keep, kpages, 0), 0, "every page of the %ld MiB reads back its pattern", keep_mb);
	tap_eq(bad_range(shared, spages, 0x300000), 0, "every page shared with the child reads back its pattern");
	tap_ok(write(go[1], "g", 1) == 1, "tell the child");
	int st = -1;
	waitpid(child, &st, 0);
	tap_eq(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + st, 0, "the child: VmSwap 0, its pages and the shared ones read back");

	ERRNO_IS(swapoff(dev), EINVAL, "swapoff of a device already off: EINVAL");
	tap_eq(swapon(dev, 0), 0, "swapon(\"%s\") again", dev);
	tap_eq(meminfo_field_kb("SwapTotal"), total0, "SwapTotal is back");
	tap_eq(meminfo_field_kb("SwapFree"), total0, "all of it free");
	tap_eq(swaps_lines(), 2, "/proc/swaps lists it again");
	ERRNO_IS(swapon(dev, 0), EBUSY, "swapon of a device already on: EBUSY");
	/* The device works again: push memory out once more. */
	push = anon(ppages);
	if (tap_ok(push != NULL, "mmap %ld MiB", push_mb)) {
		fill_range(push, ppages, 0x100000);
		tap_ok(vmstat_field("pswpout") > out1, "pages are swapped out to it again");
		tap_eq(bad_range(push, ppages, 0x100000), 0, "and read back");
		tap_eq(bad_range(keep, kpages, 0), 0, "the %ld MiB too", keep_mb);
	}
	return tap_end();
}
