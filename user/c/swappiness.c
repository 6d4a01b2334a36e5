/* swappiness: /proc/sys/vm/swappiness reads Linux's default (60) and takes
 * an int from 0 to 200 (anything else is EINVAL and changes nothing).
 * Global reclaim swaps anonymous memory at any swappiness when there are
 * no file pages to take instead (Linux's get_scan_count: swappiness 0
 * only stops a memory cgroup's reclaim from swapping): with swap on a
 * small machine, writing 1.25 times its memory at swappiness 0 still
 * swaps and reads back intact. Needs root for the writes (where /proc/sys
 * is read-only they are skipped, with a note); restores the value it
 * found. The pressure part runs only on a machine under 1 GiB with swap
 * (the QEMU guest: cargo xtask test boots it with 256 MiB and zram). */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SYSCTL "/proc/sys/vm/swappiness"

static long read_value(void)
{
	char buf[32] = { 0 };
	int fd = open(SYSCTL, O_RDONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* 0 or -errno of open/write. */
static int write_value(const char *text)
{
	int fd = open(SYSCTL, O_WRONLY);
	if (fd < 0)
		return -errno;
	int r = write(fd, text, strlen(text)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Write `pages` pages at swappiness 0 and read them back; the number of
 * pages that did not read back. */
static long pressure(long pages)
{
	char *p = mmap(0, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return pages;
	long out0 = vmstat_field("pswpout");
	fill(p, 0, pages, 's');
	tap_ok(vmstat_field("pswpout") > out0, "at swappiness 0, reclaim still swaps (pswpout +%ld)",
	       vmstat_field("pswpout") - out0);
	long bad = bad_pages(p, 0, pages, 's');
	munmap(p, pages * PG);
	return bad;
}

int main(void)
{
	tap_begin("swappiness");
	long found = read_value();
	tap_eq(found, 60, SYSCTL " reads Linux's default");
	int w = write_value("0\n");
	if (w == -EROFS || w == -EACCES || w == -EPERM) {
		printf("# " SYSCTL " is not writable here (%s): writes skipped\n", strerror(-w));
		return tap_end();
	}
	tap_eq(w, 0, "write 0");
	tap_eq(read_value(), 0, "reads back 0");
	tap_eq(write_value("200"), 0, "write 200");
	tap_eq(read_value(), 200, "reads back 200");
	tap_eq(write_value("201"), -EINVAL, "write 201: EINVAL");
	tap_eq(write_value("-1"), -EINVAL, "write -1: EINVAL");
	tap_eq(write_value("often"), -EINVAL, "write a word: EINVAL");
	tap_eq(read_value(), 200, "a refused write changes nothing");

	long mem_kb = meminfo_field_kb("MemTotal");
	if (meminfo_field_kb("SwapTotal") > 0 && mem_kb < 1024 * 1024) {
		tap_eq(write_value("0"), 0, "write 0 again");
		tap_eq(pressure(mem_kb / 4 * 5 / 4), 0, "every page written at swappiness 0 reads back");
	} else {
		printf("# no swap or more than 1 GiB of memory: pressure at swappiness 0 not tried\n");
	}

	char text[32];
	snprintf(text, sizeof text, "%ld\n", found);
	tap_eq(write_value(text), 0, "restore %ld", found);
	tap_eq(read_value(), found, "reads back %ld", found);
	return tap_end();
}
