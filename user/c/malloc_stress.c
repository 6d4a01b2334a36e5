/* malloc_stress: 100 000 random malloc/free/realloc operations on sizes up
 * to 1 MiB, each block filled with a pattern derived from its slot and
 * checked before it is freed or after it is resized. musl's malloc uses brk
 * and mmap/munmap/mremap(maybe) underneath, so this exercises the kernel's
 * heap paths. Seeded xorshift PRNG: the sequence is the same on every run. */
#include "tap.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 512
#define OPS 100000
#define MAX_SIZE (1u << 20)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Mostly small sizes, sometimes large ones. */
static size_t rand_size(void)
{
	uint64_t r = next();
	switch (r % 8) {
	case 0: return r % MAX_SIZE + 1;
	case 1: case 2: return r % 65536 + 1;
	default: return r % 512 + 1;
	}
}

static unsigned char pat(size_t slot, uint32_t gen, size_t i)
{
	return (unsigned char)(slot * 131 + gen * 7 + i * 13);
}

/* Filling/checking every byte of 1 MiB blocks is slow; check a strided
 * sample plus both ends. */
static void fill(unsigned char *p, size_t n, size_t slot, uint32_t gen)
{
	for (size_t i = 0; i < n; i += (n > 4096 ? 61 : 1))
		p[i] = pat(slot, gen, i);
	p[n - 1] = pat(slot, gen, n - 1);
}

static int check(const unsigned char *p, size_t n, size_t slot, uint32_t gen)
{
	for (size_t i = 0; i < n; i += (n > 4096 ? 61 : 1))
		if (p[i] != pat(slot, gen, i))
			return 0;
	return p[n - 1] == pat(slot, gen, n - 1);
}

int main(void)
{
	static unsigned char *ptr[SLOTS];
	static size_t size[SLOTS];
	static uint32_t gen[SLOTS];
	long bad = 0, mallocs = 0, frees = 0, reallocs = 0, nulls = 0;

	tap_begin("malloc_stress");
	for (int op = 0; op < OPS; op++) {
		size_t s = next() % SLOTS;
		uint64_t what = next() % 3;
		if (!ptr[s]) {
			size_t n = rand_size();
			ptr[s] = malloc(n);
			mallocs++;
			if (!ptr[s]) { nulls++; continue; }
			size[s] = n;
			gen[s]++;
			fill(ptr[s], n, s, gen[s]);
		} else if (what == 0) {
			if (!check(ptr[s], size[s], s, gen[s])) bad++;
			free(ptr[s]);
			frees++;
			ptr[s] = NULL;
		} else {
			size_t n = rand_size();
			size_t keep = n < size[s] ? n : size[s];
			/* The common prefix must survive realloc. */
			int ok_before = check(ptr[s], size[s], s, gen[s]);
			unsigned char *q = realloc(ptr[s], n);
			reallocs++;
			if (!q) { nulls++; continue; }
			ptr[s] = q;
			int ok = ok_before;
			/* Only the bytes fill() wrote (its stride for the old size). */
			for (size_t i = 0; ok && i < keep; i += (size[s] > 4096 ? 61 : 1))
				ok = q[i] == pat(s, gen[s], i);
			if (!ok) bad++;
			size[s] = n;
			gen[s]++;
			fill(q, n, s, gen[s]);
		}
	}
	for (size_t s = 0; s < SLOTS; s++) {
		if (ptr[s]) {
			if (!check(ptr[s], size[s], s, gen[s])) bad++;
			free(ptr[s]);
		}
	}
	printf("# %ld mallocs, %ld frees, %ld reallocs\n", mallocs, frees, reallocs);
	tap_eq(mallocs + frees + reallocs, OPS, "%d operations done", OPS);
	tap_eq(nulls, 0, "no allocation returned NULL");
	tap_eq(bad, 0, "every block kept its contents (malloc, realloc, free)");
	void *big = calloc(1, 8u << 20);
	int zero = big != NULL;
	for (size_t i = 0; zero && i < (8u << 20); i += 4096)
		zero = ((unsigned char *)big)[i] == 0;
	tap_ok(zero, "calloc(8 MiB) is zeroed");
	free(big);
	return tap_end();
}
