/* mem_touch MIB: map MIB MiB of private anonymous memory, write a value
 * naming each page at both of its ends, then read every page back.
 * Exits 0 when every page still holds its own values, 1 otherwise.
 *
 * On a machine with less than MIB MiB of memory below 4 GiB some of these
 * pages must lie above it; two pages sharing a frame (a physical address
 * cut to 32 bits, say) would show as a page holding another's value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#define PAGE 4096UL

static uint64_t mark(uint64_t page)
{
	return (page + 1) * 0x9e3779b97f4a7c15ULL;
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	unsigned long len = mib << 20, pages = len / PAGE, bad = 0;
	setvbuf(stdout, NULL, _IONBF, 0);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mem_touch: mmap");
		return 2;
	}
	for (unsigned long i = 0; i < pages; i++) {
		uint64_t *page = (uint64_t *)(p + i * PAGE);
		page[0] = mark(i);
		page[PAGE / 8 - 1] = ~mark(i);
		if (i % (512UL << 20 >> 12) == 0)
			printf("mem_touch: %lu MiB written\n", i * PAGE >> 20);
	}
	for (unsigned long i = 0; i < pages; i++) {
		uint64_t *page = (uint64_t *)(p + i * PAGE);
		if (page[0] != mark(i) || page[PAGE / 8 - 1] != ~mark(i)) {
			if (bad++ < 8)
				printf("mem_touch: page %lu holds %#llx/%#llx\n", i, (unsigned long long)page[0],
				       (unsigned long long)page[PAGE / 8 - 1]);
		}
	}
	if (bad) {
		printf("mem_touch: %lu of %lu pages hold the wrong values\n", bad, pages);
		return 1;
	}
	printf("mem_touch: %lu MiB written and read back\n", mib);
	return 0;
}
