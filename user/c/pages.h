/* pages.h: page-level helpers shared by the fork and shared-memory test
 * programs: a per-page pattern to write and check, the pages mincore
 * reports resident, a field of /proc/self/status (VmLck), of
 * /proc/meminfo and of a vma's smaps entry. */
#ifndef HOLDFAST_PAGES_H
#define HOLDFAST_PAGES_H

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define PG 4096L

/* The kB value of the line "key: N kB" of a /proc file such as
 * /proc/self/status or /proc/meminfo (-1 if not found). */
static __attribute__((unused)) long proc_field_kb(const char *path, const char *key)
{
	char line[256];
	FILE *f = fopen(path, "r");
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
			sscanf(line + strlen(key) + 1, "%ld", &v);
			break;
		}
	fclose(f);
	return v;
}

/* VmLck of this process in kB (-1 if not found). */
static __attribute__((unused)) long vmlck_kb(void)
{
	return proc_field_kb("/proc/self/status", "VmLck");
}

/* Pages of [p, p + pages) that mincore reports resident (-1 on error). */
static __attribute__((unused)) long resident(void *p, long pages)
{
	unsigned char vec[pages];
	long n = 0;
	if (mincore(p, pages * PG, vec))
		return -1;
	for (long i = 0; i < pages; i++)
		n += vec[i] & 1;
	return n;
}

/* The kB value of field `key` (e.g. "Locked") of the smaps entry that
 * starts at p (-1 if not found). */
static __attribute__((unused)) long smaps_field_kb(const void *p, const char *key)
{
	char line[512], start[32];
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;
	long v = -1;
	if (!f)
		return -1;
	snprintf(start, sizeof start, "%08lx-", (unsigned long)p);
	while (fgets(line, sizeof line, f)) {
		char *dash = strchr(line, '-'), *space = strchr(line, ' ');
		if (dash && space && dash < space)
			in = strncmp(line, start, strlen(start)) == 0;
		else if (in && strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
			sscanf(line + strlen(key) + 1, "%ld", &v);
			break;
		}
	}
	fclose(f);
	return v;
}

/* The kB value of /proc/meminfo's field `key` (-1 if not found). */
static __attribute__((unused)) long meminfo_field_kb(const char *key)
{
	return proc_field_kb("/proc/meminfo", key);
}

/* The value of /proc/vmstat's counter `name` (-1 if not found). */
static __attribute__((unused)) long vmstat_field(const char *name)
{
	char line[256];
	FILE *f = fopen("/proc/vmstat", "r");
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ' ') {
			sscanf(line + strlen(name) + 1, "%ld", &v);
			break;
		}
	fclose(f);
	return v;
}

/* Fill pages [first, first + pages) of p, page i with tag + i. */
static __attribute__((unused)) void fill(char *p, long first, long pages, char tag)
{
	for (long i = first; i < first + pages; i++)
		memset(p + i * PG, tag + (char)i, PG);
}

/* How many of pages [first, first + pages) lost what fill() wrote. */
static __attribute__((unused)) long bad_pages(const char *p, long first, long pages, char tag)
{
	long bad = 0;
	for (long i = first; i < first + pages; i++)
		for (long j = 0; j < PG; j += 512)
			if (p[i * PG + j] != (char)(tag + (char)i)) {
				bad++;
				break;
			}
	return bad;
}

#endif
