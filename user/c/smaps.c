/* smaps: /proc/<pid>/smaps, /proc/<pid>/smaps_rollup and /proc/meminfo
 * against the mlock and copy-on-write state they report.
 *
 * - Each vma of smaps opens with its /proc/<pid>/maps line, then Linux's
 *   fields in Linux's order, each `%-16s%8lu kB`.
 * - A private writable mapping of 64 pages, 16 of them written: Size
 *   256 kB, Rss/Pss/Private_Dirty/Anonymous 64 kB, Locked 0, VmFlags
 *   `rd wr mr mw me` and no `lo`.
 * - mlock of 8 of the written pages splits it into three vmas; the
 *   middle one has `lo` and Locked 32 kB; after munlock no `lo`, Locked 0.
 *   Pages that mlock populates (never touched) are dirty and referenced.
 * - smaps_rollup: the `[rollup]` range line and the sums of smaps.
 * - After fork (the child touches nothing) the parent's 16 written pages
 *   are shared: Rss 64 kB, Pss 32 kB, Shared_Dirty 64 kB; the child
 *   sees the same Rss and Pss; after the child exits they are private.
 * - /proc/meminfo: Linux's first fields in order; MemFree drops when
 *   4 MiB are written, Mlocked and Unevictable rise by 4 MiB when they
 *   are mlocked, and fall back after munlock.
 * Linux's own counters are per-CPU and folded lazily, so the meminfo
 * checks allow 1 MiB of drift, and Linux serves allocations from per-CPU
 * free lists that MemFree does not count, so the MemFree check takes up
 * to 32 rounds of 4 MiB (Holdfast: exact, one round); everything else is
 * exact. Runs as root on
 * Linux (mlock of 4 MiB). */
#define _GNU_SOURCE
#include "tap.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PG 4096L
#define NPAGES 64
#define TOUCHED 16
#define MAXVMA 512
#define BUFSZ (1 << 20)

static const char *const fields[] = {
	"Size", "KernelPageSize", "MMUPageSize", "Rss", "Pss", "Pss_Dirty",
	"Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty",
	"Referenced", "Anonymous", "KSM", "LazyFree", "AnonHugePages",
	"ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb",
	"Swap", "SwapPss", "Locked", "THPeligible", "VmFlags",
};
#define NFIELDS ((int)(sizeof fields / sizeof fields[0]))
enum { SIZE, KPS, MMUPS, RSS, PSS, PSS_DIRTY, SH_CLEAN, SH_DIRTY, PR_CLEAN, PR_DIRTY,
       REFERENCED, ANON, KSM, LAZYFREE, AHP, SHMEMPMD, FILEPMD, SH_HUGETLB, PR_HUGETLB,
       SWAP, SWAPPSS, LOCKED, THP, VMFLAGS };

struct vma {
	unsigned long start, end;
	char header[256];
	long v[NFIELDS];
	int order_ok, format_ok;
	char vmflags[256];
};

static char buf[BUFSZ], buf2[BUFSZ], buf3[BUFSZ];
static struct vma vmas[MAXVMA];
static int nvma;
static char why[256];

/* The whole file at `path` into `b` (NUL-terminated); its length or -1. */
static long slurp(const char *path, char *b)
{
	int fd = open(path, O_RDONLY);
	long n = 0, r;
	if (fd < 0)
		return -1;
	while ((r = read(fd, b + n, BUFSZ - 1 - n)) > 0)
		n += r;
	close(fd);
	b[n] = 0;
	return r < 0 ? -1 : n;
}

static int field_index(const char *name, int len)
{
	for (int i = 0; i < NFIELDS; i++)
		if ((int)strlen(fields[i]) == len && !strncmp(fields[i], name, len))
			return i;
	return -1;
}

/* Does `line` read exactly `%-16s%8lu kB` with its own name and value? */
static int kb_format_ok(const char *line, int len, int namelen, long val)
{
	char want[64], name[40];
	snprintf(name, sizeof name, "%.*s:", namelen, line);
	int n = snprintf(want, sizeof want, "%-16s%8lu kB", name, (unsigned long)val);
	return n == len && !strncmp(want, line, len);
}

/* Parse smaps text into vmas[]; 0 on success (why[] says what is wrong). */
static int parse_smaps(char *text)
{
	struct vma *cur = NULL;
	int next = 0;
	nvma = 0;
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl) {
			snprintf(why, sizeof why, "unterminated line");
			return -1;
		}
		int len = nl - line;
		unsigned long s, e;
		char *colon = memchr(line, ':', len);
		if (colon && colon - line < 20 && field_index(line, colon - line) >= 0) {
			int i = field_index(line, colon - line);
			if (!cur) {
				snprintf(why, sizeof why, "field before any vma");
				return -1;
			}
			if (i < next) {
				cur->order_ok = 0;
			} else {
				next = i + 1;
			}
			if (i == VMFLAGS) {
				snprintf(cur->vmflags, sizeof cur->vmflags, "%.*s", len, line);
				cur->format_ok &= !strncmp(line, "VmFlags: ", 9) && line[len - 1] == ' ';
			} else if (i == THP) {
				cur->v[i] = strtol(colon + 1, NULL, 10);
			} else {
				cur->v[i] = strtol(colon + 1, NULL, 10);
				cur->format_ok &= kb_format_ok(line, len, colon - line, cur->v[i]);
			}
		} else if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && nvma < MAXVMA) {
			if (cur && next != NFIELDS)
				cur->order_ok = 0;
			cur = &vmas[nvma++];
			memset(cur, 0, sizeof *cur);
			cur->start = s, cur->end = e;
			cur->order_ok = cur->format_ok = 1;
			snprintf(cur->header, sizeof cur->header, "%.*s", len, line);
			next = 0;
		} else if (strncmp(line, "ProtectionKey:", 14)) {
			snprintf(why, sizeof why, "unknown line '%.*s'", len > 60 ? 60 : len, line);
			return -1;
		}
		nl[0] = '\n';
	}
	if (cur && next != NFIELDS)
		cur->order_ok = 0;
	return 0;
}

static struct vma *vma_at(unsigned long addr)
{
	for (int i = 0; i < nvma; i++)
		if (vmas[i].start <= addr && addr < vmas[i].end)
			return &vmas[i];
	return NULL;
}

/* Has the VmFlags line the two-letter code `f`? */
static int has_flag(const struct vma *v, const char *f)
{
	char pat[8];
	snprintf(pat, sizeof pat, " %s ", f);
	return strstr(v->vmflags + 8, pat) != NULL;
}

static int read_smaps(const char *path)
{
	if (slurp(path, buf) < 0) {
		snprintf(why, sizeof why, "cannot read %s", path);
		return -1;
	}
	return parse_smaps(buf);
}

/* Fresh private anonymous rw mapping of `pages`, fenced by PROT_NONE pages
 * so that it never merges with a neighbour. */
static char *isolated_map(long pages)
{
	char *g = mmap(NULL, (pages + 2) * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g == MAP_FAILED)
		return NULL;
	char *p = mmap(g + PG, pages * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void touch(char *p, long pages)
{
	for (long i = 0; i < pages; i++)
		p[i * PG] = (char)(i + 1);
}

static void format_and_maps(void)
{
	int r = read_smaps("/proc/self/smaps");
	tap_ok(r == 0 && nvma > 0, "/proc/self/smaps parses (%d vmas) %s", nvma, why);
	int order = 1, format = 1;
	for (int i = 0; i < nvma; i++)
		order &= vmas[i].order_ok, format &= vmas[i].format_ok;
	tap_ok(order, "every vma has Linux's fields in Linux's order");
	tap_ok(format, "every kB line is `%%-16s%%8lu kB`, VmFlags `VmFlags: xx xx `");
	int kps = 1;
	for (int i = 0; i < nvma; i++)
		kps &= vmas[i].v[KPS] == 4 && vmas[i].v[MMUPS] == 4 &&
		       vmas[i].v[SIZE] == (long)((vmas[i].end - vmas[i].start) >> 10);
	tap_ok(kps, "Size is the vma's size; KernelPageSize and MMUPageSize 4 kB");

	/* The headers are the maps lines (both read before anything changes). */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/smaps", getpid());
	long n1 = slurp(path, buf), n2 = slurp("/proc/self/maps", buf2);
	if (n1 < 0 || n2 < 0 || parse_smaps(buf)) {
		tap_ok(0, "/proc/<pid>/smaps and maps read");
		return;
	}
	char *m = buf2;
	int same = 1;
	for (int i = 0; i < nvma; i++) {
		char *nl = strchr(m, '\n');
		if (!nl || (long)strlen(vmas[i].header) != nl - m || strncmp(vmas[i].header, m, nl - m))
			same = 0;
		m = nl ? nl + 1 : m;
	}
	tap_ok(same && !*m, "/proc/<pid>/smaps opens each vma with its /proc/<pid>/maps line (%d vmas)", nvma);
}

static void private_and_mlock(void)
{
	char *p = isolated_map(NPAGES);
	if (!p) {
		tap_ok(0, "mmap");
		return;
	}
	touch(p, TOUCHED);
	if (read_smaps("/proc/self/smaps")) {
		tap_ok(0, "smaps parses: %s", why);
		return;
	}
	struct vma *v = vma_at((unsigned long)p);
	if (!tap_ok(v && v->start == (unsigned long)p && v->end == (unsigned long)(p + NPAGES * PG),
		    "the mapping is one vma of its own"))
		return;
	tap_eq(v->v[SIZE], NPAGES * 4, "Size");
	tap_eq(v->v[RSS], TOUCHED * 4, "Rss: the written pages");
	tap_eq(v->v[PSS], TOUCHED * 4, "Pss = Rss: nothing shared");
	tap_eq(v->v[PSS_DIRTY], TOUCHED * 4, "Pss_Dirty");
	tap_eq(v->v[PR_DIRTY], TOUCHED * 4, "Private_Dirty");
	tap_eq(v->v[SH_CLEAN] + v->v[SH_DIRTY] + v->v[PR_CLEAN], 0, "no Shared_* or Private_Clean");
	tap_eq(v->v[REFERENCED], TOUCHED * 4, "Referenced");
	tap_eq(v->v[ANON], TOUCHED * 4, "Anonymous");
	tap_eq(v->v[LOCKED], 0, "Locked 0 before mlock");
	tap_eq(v->v[SWAP] + v->v[SWAPPSS] + v->v[LAZYFREE] + v->v[KSM] + v->v[AHP], 0, "no Swap, SwapPss, LazyFree, KSM, AnonHugePages");
	tap_ok(has_flag(v, "rd") && has_flag(v, "wr") && has_flag(v, "mr") && has_flag(v, "mw") && has_flag(v, "me") &&
		       !has_flag(v, "ex") && !has_flag(v, "sh") && !has_flag(v, "lo"),
	       "VmFlags of a private rw mapping: rd wr mr mw me, no ex sh lo ('%s')", v->vmflags);

	tap_eq(mlock(p + 4 * PG, 8 * PG), 0, "mlock 8 of the written pages");
	if (read_smaps("/proc/self/smaps")) {
		tap_ok(0, "smaps parses: %s", why);
		return;
	}
	struct vma *a = vma_at((unsigned long)p), *b = vma_at((unsigned long)(p + 4 * PG)),
		   *c = vma_at((unsigned long)(p + 12 * PG));
	if (!tap_ok(a && b && c && a != b && b != c && a->end == b->start && b->end == c->start &&
			    b->start == (unsigned long)(p + 4 * PG) && c->start == (unsigned long)(p + 12 * PG),
		    "mlock split the mapping into three vmas"))
		return;
	tap_ok(a->v[SIZE] == 16 && a->v[RSS] == 16 && a->v[LOCKED] == 0 && !has_flag(a, "lo"),
	       "before the locked part: 16 kB, Rss 16, Locked 0, no lo (%ld %ld %ld)", a->v[SIZE], a->v[RSS], a->v[LOCKED]);
	tap_ok(b->v[SIZE] == 32 && b->v[RSS] == 32 && b->v[PSS] == 32 && b->v[LOCKED] == 32,
	       "the locked part: Size, Rss, Pss, Locked 32 kB (%ld %ld %ld %ld)", b->v[SIZE], b->v[RSS], b->v[PSS],
	       b->v[LOCKED]);
	tap_ok(has_flag(b, "lo") && has_flag(b, "rd") && has_flag(b, "wr"), "its VmFlags have lo ('%s')", b->vmflags);
	tap_ok(c->v[SIZE] == (NPAGES - 12) * 4 && c->v[RSS] == (TOUCHED - 12) * 4 && c->v[LOCKED] == 0 && !has_flag(c, "lo"),
	       "after it: 208 kB, Rss 16, Locked 0, no lo (%ld %ld %ld)", c->v[SIZE], c->v[RSS], c->v[LOCKED]);

	/* Pages mlock populates are written by the kernel, never by the CPU:
	 * dirty and referenced all the same, as Linux's population leaves them. */
	char *q = isolated_map(8);
	if (q && mlock(q, 8 * PG) == 0 && read_smaps("/proc/self/smaps") == 0 && (v = vma_at((unsigned long)q))) {
		tap_ok(v->v[RSS] == 32 && v->v[PR_DIRTY] == 32 && v->v[REFERENCED] == 32 && v->v[LOCKED] == 32 &&
			       has_flag(v, "lo"),
		       "8 pages mlock populated: Rss, Private_Dirty, Referenced, Locked 32 kB, lo (%ld %ld %ld %ld)",
		       v->v[RSS], v->v[PR_DIRTY], v->v[REFERENCED], v->v[LOCKED]);
		munmap(q - PG, 10 * PG);
	} else {
		tap_ok(0, "mlock of 8 untouched pages");
	}
	tap_eq(munlock(p + 4 * PG, 8 * PG), 0, "munlock");
	if (read_smaps("/proc/self/smaps")) {
		tap_ok(0, "smaps parses: %s", why);
		return;
	}
	v = vma_at((unsigned long)(p + 4 * PG));
	tap_ok(v && !has_flag(v, "lo") && v->v[LOCKED] == 0, "after munlock: no lo, Locked 0");
	v = vma_at((unsigned long)p);
	tap_ok(v && v->start == (unsigned long)p && v->end == (unsigned long)(p + NPAGES * PG) && v->v[RSS] == TOUCHED * 4,
	       "and the three vmas merged back into one with Rss 64 kB");
	munmap(p - PG, (NPAGES + 2) * PG);
}

/* The named kB field of a smaps_rollup / meminfo text, or -1. */
static long kb_of(const char *text, const char *name)
{
	char pat[48];
	snprintf(pat, sizeof pat, "\n%s:", name);
	const char *s = strstr(text, pat);
	if (!s && !strncmp(text, pat + 1, strlen(pat + 1)))
		s = text - 1;
	return s ? strtol(s + strlen(pat), NULL, 10) : -1;
}

static void rollup(void)
{
	/* Locked memory makes Locked non-zero in both. */
	char *p = isolated_map(NPAGES);
	if (!p) {
		tap_ok(0, "mmap");
		return;
	}
	touch(p, TOUCHED);
	mlock(p, 4 * PG);
	static const int summed[] = { RSS, SH_CLEAN, SH_DIRTY, PR_CLEAN, PR_DIRTY, ANON, SWAP };
	static const int pss_like[] = { PSS, PSS_DIRTY, LOCKED };
	int tries, ok = 0;
	long n1 = -1, n2 = -1;
	/* Page faults of this very loop (text, stack) may change the numbers
	 * between the two reads on Linux: the first consistent pair counts. */
	for (tries = 0; tries < 5 && !ok; tries++) {
		memset(buf3, 0, BUFSZ);
		n1 = slurp("/proc/self/smaps", buf);
		n2 = slurp("/proc/self/smaps_rollup", buf3);
		if (n1 < 0 || n2 < 0 || parse_smaps(buf))
			break;
		ok = 1;
		for (unsigned i = 0; i < sizeof summed / sizeof summed[0]; i++) {
			long sum = 0;
			for (int j = 0; j < nvma; j++)
				sum += vmas[j].v[summed[i]];
			if (kb_of(buf3, fields[summed[i]]) != sum) {
				snprintf(why, sizeof why, "%s: rollup %ld, sum %ld", fields[summed[i]], kb_of(buf3, fields[summed[i]]), sum);
				ok = 0;
			}
		}
		/* Pss-like sums: the rollup rounds once, smaps once per vma. */
		for (unsigned i = 0; i < sizeof pss_like / sizeof pss_like[0]; i++) {
			long sum = 0, r = kb_of(buf3, fields[pss_like[i]]);
			for (int j = 0; j < nvma; j++)
				sum += vmas[j].v[pss_like[i]];
			if (r < sum || r > sum + nvma) {
				snprintf(why, sizeof why, "%s: rollup %ld, sum %ld", fields[pss_like[i]], r, sum);
				ok = 0;
			}
		}
	}
	if (!tap_ok(n1 > 0 && n2 > 0, "/proc/self/smaps_rollup reads"))
		return;
	unsigned long s, e;
	char tag[64] = "";
	int hdr = sscanf(buf3, "%lx-%lx ---p 00000000 00:00 0 %63s", &s, &e, tag) == 3;
	char *nl = strchr(buf3, '\n');
	/* The last vma of the mm: Linux's [vsyscall] is not one. */
	int last = nvma - 1;
	while (last > 0 && vmas[last].start >= 0x800000000000UL)
		last--;
	tap_ok(hdr && s == vmas[0].start && e == vmas[last].end && !strcmp(tag, "[rollup]") && nl && nl - buf3 == 81,
	       "rollup range line: first vma start - last vma end, ---p, [rollup] at column 73");
	tap_ok(ok, "smaps_rollup sums the vmas of smaps (%d tries) %s", tries, ok ? "" : why);
	tap_ok(kb_of(buf3, "Locked") >= 16, "rollup Locked counts the 16 kB locked here (%ld)", kb_of(buf3, "Locked"));
	tap_ok(kb_of(buf3, "Pss_Anon") >= 0 && kb_of(buf3, "Pss_File") >= 0 && kb_of(buf3, "Pss_Shmem") >= 0 &&
		       kb_of(buf3, "Size") < 0 && kb_of(buf3, "VmFlags") < 0,
	       "rollup has Pss_Anon, Pss_File, Pss_Shmem and no Size or VmFlags");
	munmap(p - PG, (NPAGES + 2) * PG);
}

static void cow_after_fork(void)
{
	int to_child[2], to_parent[2];
	char ch;
	char *p = isolated_map(NPAGES);
	if (!p || pipe(to_child) || pipe(to_parent)) {
		tap_ok(0, "setup");
		return;
	}
	touch(p, TOUCHED);
	pid_t pid = fork();
	if (pid == 0) {
		/* Touch nothing; wait until the parent is done. */
		close(to_child[1]);
		if (write(to_parent[1], "r", 1) != 1)
			_exit(1);
		_exit(read(to_child[0], &ch, 1) == 1 ? 0 : 2);
	}
	close(to_child[0]);
	tap_eq(read(to_parent[0], &ch, 1), 1, "the child runs");
	if (read_smaps("/proc/self/smaps")) {
		tap_ok(0, "smaps parses: %s", why);
		return;
	}
	struct vma *v = vma_at((unsigned long)p);
	if (!tap_ok(v != NULL, "the parent's vma"))
		return;
	tap_eq(v->v[RSS], TOUCHED * 4, "parent: Rss 64 kB for 16 pages shared with the child");
	tap_eq(v->v[PSS], TOUCHED * 2, "parent: Pss 32 kB (each page counted half)");
	tap_eq(v->v[SH_DIRTY], TOUCHED * 4, "parent: Shared_Dirty 64 kB");
	tap_eq(v->v[PR_DIRTY] + v->v[PR_CLEAN], 0, "parent: nothing private");
	tap_eq(v->v[ANON], TOUCHED * 4, "parent: Anonymous 64 kB");
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/smaps", pid);
	if (read_smaps(path)) {
		tap_ok(0, "child's smaps parses: %s", why);
	} else {
		v = vma_at((unsigned long)p);
		tap_ok(v && v->v[RSS] == TOUCHED * 4 && v->v[PSS] == TOUCHED * 2 && v->v[SH_DIRTY] == TOUCHED * 4,
		       "the child's smaps, read by the parent: Rss 64, Pss 32, Shared_Dirty 64 (its ptes stay dirty)");
	}
	tap_eq(write(to_child[1], "x", 1), 1, "let the child exit");
	close(to_child[1]);
	int st = -1;
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child exits (status %#x)", st);
	if (read_smaps("/proc/self/smaps")) {
		tap_ok(0, "smaps parses: %s", why);
		return;
	}
	v = vma_at((unsigned long)p);
	tap_ok(v && v->v[RSS] == TOUCHED * 4 && v->v[PSS] == TOUCHED * 4 && v->v[PR_DIRTY] == TOUCHED * 4 &&
		       v->v[SH_DIRTY] + v->v[SH_CLEAN] == 0,
	       "after the child's exit: Rss = Pss = Private_Dirty = 64 kB");
	close(to_parent[0]), close(to_parent[1]);
	munmap(p - PG, (NPAGES + 2) * PG);
}

static void meminfo(void)
{
	static const char *const first[] = {
		"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
		"Active(anon)", "Inactive(anon)", "Active(file)", "Inactive(file)", "Unevictable", "Mlocked",
		"SwapTotal", "SwapFree",
	};
	if (!tap_ok(slurp("/proc/meminfo", buf) > 0, "/proc/meminfo reads"))
		return;
	/* Linux's order: the first fields line by line, then the rest. */
	char *line = buf;
	int order = 1, format = 1;
	for (unsigned i = 0; i < sizeof first / sizeof first[0]; i++) {
		int n = strlen(first[i]);
		char *nl = strchr(line, '\n');
		if (!nl || strncmp(line, first[i], n) || line[n] != ':') {
			order = 0;
			break;
		}
		format &= kb_format_ok(line, nl - line, n, strtol(line + n + 1, NULL, 10));
		line = nl + 1;
	}
	tap_ok(order, "meminfo opens with Linux's fields in Linux's order");
	tap_ok(format, "each of them is `%%-16s%%8lu kB`");
	static const char *const later[] = { "Dirty", "Writeback", "AnonPages", "Mapped", "Shmem" };
	int have = 1;
	for (unsigned i = 0; i < sizeof later / sizeof later[0]; i++)
		have &= kb_of(buf, later[i]) >= 0;
	tap_ok(have, "then Dirty, Writeback, AnonPages, Mapped, Shmem");
	long total = kb_of(buf, "MemTotal"), free0 = kb_of(buf, "MemFree"), avail = kb_of(buf, "MemAvailable");
	tap_ok(total > 0 && free0 > 0 && free0 <= total && avail <= total, "0 < MemFree <= MemTotal, MemAvailable <= MemTotal");
	long anon0 = kb_of(buf, "AnonPages"), mlocked0 = kb_of(buf, "Mlocked"), unev0 = kb_of(buf, "Unevictable");

	/* Linux serves the first allocations from per-CPU free lists that
	 * MemFree does not count: up to 32 rounds of 4 MiB, until one shows. */
	long pages = 4 << 20 >> 12, drop = 0, free1;
	char *maps[32];
	int rounds = 0;
	while (rounds < 32 && drop < 4096 - 1024) {
		char *p = isolated_map(pages);
		if (!p)
			break;
		maps[rounds++] = p;
		slurp("/proc/meminfo", buf);
		long before = kb_of(buf, "MemFree");
		touch(p, pages);
		slurp("/proc/meminfo", buf);
		free1 = kb_of(buf, "MemFree");
		drop = before - free1;
	}
	tap_ok(drop >= 4096 - 1024, "MemFree drops by about 4 MiB when 4 MiB are written (%ld kB, round %d)", drop, rounds);
	if (rounds == 0) {
		tap_ok(0, "mmap 4 MiB");
		return;
	}
	long anon1 = kb_of(buf, "AnonPages");
	tap_ok(anon1 - anon0 >= rounds * (4096 - 1024), "AnonPages rises by about 4 MiB a round (%ld kB)", anon1 - anon0);
	char *p = maps[rounds - 1];
	tap_eq(mlock(p, pages * PG), 0, "mlock the last 4 MiB");
	slurp("/proc/meminfo", buf);
	long mlocked1 = kb_of(buf, "Mlocked"), unev1 = kb_of(buf, "Unevictable");
	tap_ok(labs(mlocked1 - mlocked0 - 4096) <= 1024, "Mlocked rises by 4 MiB (%ld kB)", mlocked1 - mlocked0);
	tap_ok(labs(unev1 - unev0 - 4096) <= 1024, "Unevictable rises by 4 MiB (%ld kB)", unev1 - unev0);
	tap_eq(munlock(p, pages * PG), 0, "munlock");
	slurp("/proc/meminfo", buf);
	tap_ok(labs(kb_of(buf, "Mlocked") - mlocked0) <= 1024, "Mlocked falls back (%ld kB from the start)",
	       kb_of(buf, "Mlocked") - mlocked0);
	for (int i = 0; i < rounds; i++)
		munmap(maps[i] - PG, (pages + 2) * PG);

	/* Shared anonymous memory is shmem: Shmem (and Cached) rise by the
	 * pages written, AnonPages does not, and unmapping gives them back. */
	slurp("/proc/meminfo", buf);
	long shmem0 = kb_of(buf, "Shmem"), cached0 = kb_of(buf, "Cached");
	anon0 = kb_of(buf, "AnonPages");
	char *sh = mmap(NULL, pages * PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!tap_ok(sh != MAP_FAILED, "mmap 4 MiB MAP_SHARED|MAP_ANONYMOUS"))
		return;
	touch(sh, pages);
	slurp("/proc/meminfo", buf);
	long shmem1 = kb_of(buf, "Shmem"), cached1 = kb_of(buf, "Cached");
	tap_ok(labs(shmem1 - shmem0 - 4096) <= 1024, "Shmem rises by 4 MiB (%ld kB)", shmem1 - shmem0);
	tap_ok(cached1 - cached0 >= 4096 - 1024, "Cached counts them too (%ld kB)", cached1 - cached0);
	tap_ok(kb_of(buf, "AnonPages") - anon0 < 1024, "AnonPages does not (%ld kB)", kb_of(buf, "AnonPages") - anon0);
	munmap(sh, pages * PG);
	slurp("/proc/meminfo", buf);
	tap_ok(labs(kb_of(buf, "Shmem") - shmem0) <= 1024, "Shmem falls back after munmap (%ld kB from the start)",
	       kb_of(buf, "Shmem") - shmem0);
}

int main(void)
{
	tap_begin("smaps");
	format_and_maps();
	private_and_mlock();
	rollup();
	cow_after_fork();
	meminfo();
	return tap_end();
}
