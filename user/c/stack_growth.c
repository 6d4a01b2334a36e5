/* stack_growth: a MAP_GROWSDOWN mapping grows down when touched below its
 * start, by the program or by the kernel copying into it; an accessible
 * mapping within the stack guard gap (256 pages) stops it; a locked stack
 * grows locked (VmLck). The same checks pass on Linux. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define P 4096UL
#define A 0x300000000000UL /* the stack's top: free on Linux and Holdfast */

/* Start of the /proc/self/maps line containing addr, or 0. */
static unsigned long vma_start(unsigned long addr)
{
	static char buf[65536];
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n = 0, r;
	while (fd >= 0 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n < 0 ? 0 : n] = 0;
	for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned long s = strtoul(l, NULL, 16), e = strtoul(strchr(l, '-') + 1, NULL, 16);
		if (s <= addr && addr < e)
			return s;
	}
	return 0;
}

static long vmlck_kb(void)
{
	char buf[4096];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = 0;
	char *l = strstr(buf, "VmLck:");
	return l ? strtol(l + 6, NULL, 10) : -1;
}

/* read() 8 bytes of /proc/self/status into addr: a kernel copy. */
static long kernel_write(unsigned long addr)
{
	int fd = open("/proc/self/status", O_RDONLY);
	long r = read(fd, (void *)addr, 8);
	long e = errno;
	close(fd);
	return r < 0 ? -e : r;
}

int main(void)
{
	tap_begin("stack_growth");
	char *s = mmap((void *)(A - 4 * P), 4 * P, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_GROWSDOWN, -1, 0);
	if (!tap_ok(s == (char *)(A - 4 * P), "mmap a 4-page MAP_GROWSDOWN stack below %#lx", A))
		return tap_end();

	tap_eq(kernel_write(A - 6 * P + 100), 8, "read() into 2 pages below the stack succeeds");
	tap_eq(vma_start(A - P), A - 6 * P, "the stack now starts at the page the kernel wrote");

	*(volatile char *)(A - 8 * P) = 1;
	tap_eq(vma_start(A - P), A - 8 * P, "a store 2 pages further down grows it again");

	/* An accessible mapping 20 pages below the stack: inside the guard gap. */
	char *b = mmap((void *)(A - 8 * P - 24 * P), 4 * P, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	tap_ok(b != MAP_FAILED, "map an accessible neighbour 20 pages below");
	tap_eq(kernel_write(A - 9 * P), -EFAULT, "growth into the guard gap of an accessible mapping: EFAULT");
	tap_eq(vma_start(A - P), A - 8 * P, "and the stack did not grow");
	mprotect(b, 4 * P, PROT_NONE);
	tap_eq(kernel_write(A - 9 * P), 8, "with the neighbour PROT_NONE the stack grows");
	tap_eq(vma_start(A - P), A - 9 * P, "down to that page");

	long before = vmlck_kb();
	tap_eq(mlock((void *)(A - 9 * P), 9 * P), 0, "mlock the whole stack");
	tap_eq(vmlck_kb() - before, 9 * 4, "VmLck grew by its 9 pages");
	tap_eq(kernel_write(A - 11 * P), 8, "the locked stack grows by 2 pages");
	tap_eq(vmlck_kb() - before, 11 * 4, "and VmLck with it");
	unsigned char vec[11];
	mincore((void *)(A - 11 * P), 11 * P, vec);
	int resident = 0;
	for (int i = 0; i < 11; i++)
		resident += vec[i] & 1;
	tap_eq(resident, 10, "10 of 11 pages resident: mlock populated 9, the fault 1; growth populates nothing");

	munmap((void *)(A - 11 * P), 11 * P);
	munmap(b, 4 * P);
	return tap_end();
}
