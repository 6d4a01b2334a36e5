/* file_map: mmap of files through the page cache.
 *
 * - A tmpfs file written with write() and mapped MAP_SHARED: the mapping
 *   reads what write() wrote, write() and pwrite() see stores through the
 *   mapping and the reverse, and a forked child's stores reach the file.
 * - MAP_PRIVATE: reads the file's pages, a store copies the page (the file
 *   is unchanged), a page not yet stored to follows the file.
 * - ftruncate shrinking a mapped file: the pages past the end are gone
 *   (SIGBUS), growing it again gives zeros; a mapping longer than the file
 *   gives SIGBUS past the end (the partial last page reads zeros past it).
 * - Permissions: MAP_SHARED + PROT_WRITE of a file open read-only is
 *   EACCES, mprotect(PROT_WRITE) of such a mapping too, MAP_PRIVATE of it
 *   may write; a file open write-only cannot be mapped; a directory is
 *   ENODEV.
 * - /proc/self/maps names the file and its inode; msync succeeds.
 * - mlock of a writable private mapping breaks copy-on-write (its pages
 *   become anonymous in smaps); mlock of a read-only one does not; a
 *   shared mapping's locked pages show as Locked.
 * - A file of the initial file system (/proc/self/exe's program) maps.
 * - /dev/zero: MAP_SHARED is shared across fork, MAP_PRIVATE is private.
 * - memfd_create: a file without a name in the tree, sized by ftruncate,
 *   shared across fork, named "/memfd:NAME (deleted)" in maps.
 * - Programs are mapped from their files: the text is a private mapping of
 *   the program file, and a second process running the same program (not
 *   a fork: exec'd anew) shares its pages (Pss below Rss).
 * Runs as root on Linux (mlock). */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPAGES 4

static sigjmp_buf jb;
static volatile int last_sig;

static void on_sig(int sig)
{
	last_sig = sig;
	siglongjmp(jb, 1);
}

/* The signal a read of *p raises (0 if none); the byte read in *out. */
static int probe_read(volatile char *p, char *out)
{
	last_sig = 0;
	if (sigsetjmp(jb, 1) == 0)
		*out = *p;
	return last_sig;
}

static int probe_write(volatile char *p, char v)
{
	last_sig = 0;
	if (sigsetjmp(jb, 1) == 0)
		*p = v;
	return last_sig;
}

/* The start of the mapping that contains p (0 if none). */
static unsigned long vma_start_of(const void *p)
{
	char line[512];
	unsigned long lo, hi, found = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= (unsigned long)p && (unsigned long)p < hi) {
			found = lo;
			break;
		}
	fclose(f);
	return found;
}

/* The /proc/self/maps line of the mapping starting at p. */
static int maps_line(void *p, char *out, size_t n)
{
	char want[32];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;
	if (!f)
		return 0;
	snprintf(want, sizeof want, "%08lx-", (unsigned long)p);
	while (fgets(out, n, f))
		if (strncmp(out, want, strlen(want)) == 0) {
			found = 1;
			break;
		}
	fclose(f);
	return found;
}

static void shared_and_private(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	char buf[PG], c;
	tap_ok(fd >= 0, "create %s", path);
	for (int i = 0; i < NPAGES; i++) {
		memset(buf, 'a' + i, PG);
		if (write(fd, buf, PG) != PG)
			break;
	}
	char *s = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_ok(s != MAP_FAILED, "MAP_SHARED of a file");
	if (s == MAP_FAILED)
		return;
	tap_eq(s[0] + 0, 'a', "the mapping reads what write() wrote (page 0)");
	tap_eq(s[3 * PG + 100] + 0, 'd', "... and page 3");
	s[PG + 5] = 'X';
	tap_eq(pread(fd, &c, 1, PG + 5), 1, "pread");
	tap_eq(c, 'X', "read() sees a store through the mapping");
	tap_eq(pwrite(fd, "Y", 1, 2 * PG + 7), 1, "pwrite");
	tap_eq(s[2 * PG + 7], 'Y', "the mapping sees pwrite()");
	tap_eq(msync(s, NPAGES * PG, MS_SYNC), 0, "msync(MS_SYNC)");

	/* A second mapping, from page 1 on, sees the same pages. */
	char *s1 = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, PG);
	tap_ok(s1 != MAP_FAILED && s1[5] == 'X', "a mapping at offset 4096 maps page 1");

	char line[512];
	struct stat st;
	fstat(fd, &st);
	tap_ok(maps_line(s, line, sizeof line) && strstr(line, path) && strstr(line, " rw-s "), "maps names %s: %s", path, line);
	char ino[32];
	snprintf(ino, sizeof ino, " %lu ", (unsigned long)st.st_ino);
	tap_ok(strstr(line, ino) != NULL, "maps shows inode %lu", (unsigned long)st.st_ino);

	/* A child's stores reach the file. */
	pid_t pid = fork();
	if (pid == 0) {
		s[3 * PG] = 'C';
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	tap_eq(pread(fd, &c, 1, 3 * PG), 1, "pread after the child");
	tap_eq(c, 'C', "a forked child's store through MAP_SHARED reaches the file");

	/* MAP_PRIVATE. */
	char *p = mmap(NULL, NPAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	tap_ok(p != MAP_FAILED, "MAP_PRIVATE of a file");
	tap_eq(p[PG + 5], 'X', "a private mapping reads the file");
	p[0] = 'P';
	tap_eq(pread(fd, &c, 1, 0), 1, "pread");
	tap_eq(c, 'a', "a store to a private mapping does not reach the file");
	tap_eq(s[0], 'a', "... nor the shared mapping");
	tap_eq(pwrite(fd, "Z", 1, 2 * PG), 1, "pwrite");
	tap_eq(p[2 * PG], 'Z', "a private page not yet stored to follows the file");
	tap_eq(pwrite(fd, "W", 1, 1), 1, "pwrite");
	tap_eq(p[1], 'a', "a copied private page does not");

	/* mlock: a writable private mapping's pages become private copies. */
	tap_eq(mlock(p, NPAGES * PG), 0, "mlock a writable MAP_PRIVATE file mapping");
	tap_eq(smaps_field_kb(p, "Anonymous"), NPAGES * 4, "mlock broke copy-on-write: every page anonymous");
	tap_eq(smaps_field_kb(p, "Locked"), NPAGES * 4, "... and locked");
	char *r = mmap(NULL, NPAGES * PG, PROT_READ, MAP_PRIVATE, fd, 0);
	tap_eq(mlock(r, NPAGES * PG), 0, "mlock a read-only MAP_PRIVATE file mapping");
	tap_eq(smaps_field_kb(r, "Anonymous"), 0, "... copies nothing");
	tap_eq(smaps_field_kb(r, "Rss"), NPAGES * 4, "... every page resident");
	tap_eq(mlock(s, NPAGES * PG), 0, "mlock the shared mapping");
	/* Locked is the locked vma's Pss: its pages are mapped 2-3 times. */
	tap_ok(smaps_field_kb(s, "Locked") > 0 && smaps_field_kb(s, "Locked") == smaps_field_kb(s, "Pss"), "shared: Locked %ld kB = Pss %ld kB",
	       smaps_field_kb(s, "Locked"), smaps_field_kb(s, "Pss"));
	tap_eq(resident(s, NPAGES), NPAGES, "mincore: resident");
	munlock(s, NPAGES * PG);

	/* ftruncate shrinking the file. */
	tap_eq(ftruncate(fd, PG + 100), 0, "ftruncate to 4196 bytes");
	tap_eq(probe_read(s + 3 * PG, &c), SIGBUS, "a read past the new end is SIGBUS");
	tap_eq(probe_write(s + 2 * PG, 'q'), SIGBUS, "a write past the new end is SIGBUS");
	tap_eq(probe_read(s + PG + 200, &c), 0, "the partial last page stays mapped");
	tap_eq(c, 0, "... reading zeros past the end");
	tap_eq(probe_read(s + PG + 5, &c), 0, "and its data");
	tap_eq(c, 'X', "... kept");
	tap_eq(probe_read(p + 2 * PG, &c), SIGBUS, "a private mapping's copied page past the end is SIGBUS too");
	tap_eq(probe_read(p, &c), 0, "its copied page stays");
	tap_eq(c, 'P', "... with its data");
	tap_eq(ftruncate(fd, NPAGES * PG), 0, "ftruncate back to 4 pages");
	tap_eq(probe_read(s + 3 * PG, &c), 0, "the page is back");
	tap_eq(c, 0, "... reading zeros");

	munmap(s, NPAGES * PG);
	munmap(s1, PG);
	munmap(p, NPAGES * PG);
	munmap(r, NPAGES * PG);

	/* A mapping longer than the file. */
	tap_eq(ftruncate(fd, 10), 0, "ftruncate to 10 bytes");
	char *l = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	tap_ok(l != MAP_FAILED, "map 2 pages of a 10-byte file");
	tap_eq(probe_read(l + 9, &c), 0, "byte 9 reads");
	tap_eq(probe_read(l + PG, &c), SIGBUS, "the page past the end is SIGBUS");
	munmap(l, 2 * PG);
	close(fd);

	/* Permissions. */
	fd = open(path, O_RDONLY);
	errno = 0;
	tap_ok(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES,
	       "MAP_SHARED|PROT_WRITE of a read-only file: EACCES");
	char *ro = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	errno = 0;
	tap_ok(ro != MAP_FAILED && mprotect(ro, PG, PROT_READ | PROT_WRITE) == -1 && errno == EACCES,
	       "mprotect(PROT_WRITE) of that mapping: EACCES");
	char *pw = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	tap_ok(pw != MAP_FAILED && probe_write(pw, 'z') == 0, "MAP_PRIVATE of a read-only file may write");
	close(fd);
	tap_eq(ro[0], 'a', "the mapping outlives the descriptor");
	fd = open(path, O_WRONLY);
	errno = 0;
	tap_ok(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES, "a write-only file: EACCES");
	close(fd);
	fd = open("/tmp", O_RDONLY);
	errno = 0;
	tap_ok(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED && errno == ENODEV, "a directory: ENODEV");
	close(fd);

	/* The file outlives its name while mapped. */
	tap_eq(unlink(path), 0, "unlink the mapped file");
	tap_eq(ro[1], 'W', "its pages stay");
	munmap(ro, PG);
	munmap(pw, PG);
}

static void initial_file(void)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	char *e = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0);
	tap_ok(e != MAP_FAILED && memcmp(e, "\177ELF", 4) == 0, "the program's own file maps (ELF header)");
	close(fd);
	munmap(e, PG);
}

static void dev_zero(void)
{
	int fd = open("/dev/zero", O_RDWR);
	char *z = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *zp = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	tap_ok(z != MAP_FAILED && zp != MAP_FAILED, "map /dev/zero shared and private");
	tap_eq(z[PG], 0, "/dev/zero reads zeros");
	pid_t pid = fork();
	if (pid == 0) {
		z[PG] = 'S';
		zp[PG] = 'S';
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	tap_eq(z[PG], 'S', "MAP_SHARED /dev/zero is shared across fork");
	tap_eq(zp[PG], 0, "MAP_PRIVATE /dev/zero is not");
	munmap(z, 2 * PG);
	munmap(zp, 2 * PG);
}

static void memfd(void)
{
	int fd = syscall(SYS_memfd_create, "hf-test", MFD_CLOEXEC);
	tap_ok(fd >= 0, "memfd_create");
	tap_eq(ftruncate(fd, 3 * PG), 0, "ftruncate the memfd");
	char *m = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_ok(m != MAP_FAILED, "map it");
	tap_eq(fcntl(fd, F_GETFD), FD_CLOEXEC, "MFD_CLOEXEC");
	pid_t pid = fork();
	if (pid == 0) {
		m[2 * PG] = 'M';
		_exit(0);
	}
	int status;
	char c = 0;
	waitpid(pid, &status, 0);
	tap_eq(pread(fd, &c, 1, 2 * PG), 1, "pread the memfd");
	tap_eq(c, 'M', "the child's store reached the memfd");
	char line[512];
	tap_ok(maps_line(m, line, sizeof line) && strstr(line, "/memfd:hf-test (deleted)"), "maps: %s", line);
	errno = 0;
	tap_ok(syscall(SYS_memfd_create, "x", 0x1000) == -1 && errno == EINVAL, "unknown flags: EINVAL");
	munmap(m, 3 * PG);
	close(fd);
}

static void shared_text(void)
{
	int in[2], out[2];
	char c = 0, line[512];
	if (pipe(in) || pipe(out))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/proc/self/exe", "file_map", "wait", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	tap_eq(read(out[0], &c, 1), 1, "a second process runs this program");
	unsigned long text = vma_start_of((void *)shared_text);
	tap_ok(text && maps_line((void *)text, line, sizeof line) && strstr(line, " r-xp ") && strstr(line, "file_map"),
	       "the text is a private mapping of the program file: %s", line);
	/* (Linux 6.18 counts a large folio's pages neither Shared_ nor
	 * Private_Clean: Pss is what both kernels agree on.) */
	long rss = smaps_field_kb((void *)text, "Rss"), pss = smaps_field_kb((void *)text, "Pss");
	tap_ok(rss > 0 && pss < rss, "the other process shares its pages (Pss %ld kB < Rss %ld kB)", pss, rss);
	tap_ok(smaps_field_kb((void *)text, "Anonymous") == 0, "none of them is a copy");
	close(in[1]);
	int status;
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "it exits");
	close(out[0]);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "wait") == 0) {
		/* The second process of shared_text: say it runs, wait for EOF. */
		char c;
		if (write(1, "r", 1) != 1)
			return 1;
		while (read(0, &c, 1) > 0)
			;
		return 0;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	tap_begin("file_map");
	char path[64];
	snprintf(path, sizeof path, "/tmp/file_map.%d", (int)getpid());
	shared_and_private(path);
	initial_file();
	dev_zero();
	memfd();
	shared_text();
	return tap_end();
}
