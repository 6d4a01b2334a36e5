/* memfd_seals: file seals on memfd and tmpfs files (fcntl F_ADD_SEALS,
 * F_GET_SEALS), as Linux's mm/memfd.c and mm/shmem.c enforce them.
 *
 * - Initial seals: a memfd without MFD_ALLOW_SEALING and a /dev/shm file
 *   have F_SEAL_SEAL; with it, none; MFD_NOEXEC_SEAL gives F_SEAL_EXEC
 *   (and mode 0666).
 * - Errnos: F_GET_SEALS/F_ADD_SEALS of a pipe, a /proc file, a directory
 *   is EINVAL (F_ADD_SEALS on a descriptor not open for writing is EPERM
 *   first); unknown seal bits EINVAL; a read-only descriptor EPERM;
 *   F_SEAL_SEAL makes every later F_ADD_SEALS EPERM.
 * - F_SEAL_WRITE is EBUSY while a shared writable mapping exists: after an
 *   mprotect/munmap split, an mremap move, two mappings merged, in a
 *   forked child; it succeeds once they are gone. After it: write/pwrite
 *   EPERM, MAP_SHARED|PROT_WRITE EPERM, a read-only shared mapping cannot
 *   be mprotect'ed writable (EACCES), MAP_PRIVATE still maps writable;
 *   data written before reads back.
 * - F_SEAL_FUTURE_WRITE: an existing shared mapping keeps writing, write()
 *   and new writable shared mappings are EPERM.
 * - F_SEAL_SHRINK / F_SEAL_GROW: ftruncate and writes past the end (a
 *   write across the end writes up to it).
 * - F_SEAL_EXEC: chmod changing exec bits EPERM; on a file with exec bits
 *   it also adds the write, shrink and grow seals. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif
#define SEAL_SEAL 0x1
#define SEAL_SHRINK 0x2
#define SEAL_GROW 0x4
#define SEAL_WRITE 0x8
#define SEAL_FUTURE_WRITE 0x10
#define SEAL_EXEC 0x20
#define MFD_CLOEXEC_ 0x1
#define MFD_ALLOW_SEALING_ 0x2
#define MFD_NOEXEC_SEAL_ 0x8
#define MFD_EXEC_ 0x10

#define PG 4096L

static int mfd(const char *name, unsigned flags)
{
	return (int)syscall(SYS_memfd_create, name, flags);
}

/* -errno of a failed call, or its result. */
static long e(long r)
{
	return r < 0 ? -errno : r;
}

static long add(int fd, int seals)
{
	return e(fcntl(fd, F_ADD_SEALS, seals));
}

static long get(int fd)
{
	return e(fcntl(fd, F_GET_SEALS));
}

/* A sealable memfd of n pages, page i filled with 'a' + i. */
static int sealable(int n)
{
	int fd = mfd("seals", MFD_ALLOW_SEALING_ | MFD_EXEC_);
	char buf[PG];
	for (int i = 0; i < n; i++) {
		memset(buf, 'a' + i, PG);
		if (write(fd, buf, PG) != PG)
			return -1;
	}
	return fd;
}

static void *map(int fd, long len, int prot, int flags)
{
	return mmap(NULL, len, prot, flags, fd, 0);
}

static void initial_seals(void)
{
	int fd = mfd("plain", MFD_EXEC_);
	tap_eq(get(fd), SEAL_SEAL, "memfd without MFD_ALLOW_SEALING has F_SEAL_SEAL");
	tap_eq(add(fd, SEAL_WRITE), -EPERM, "...and F_ADD_SEALS is EPERM");
	close(fd);
	fd = mfd("sealable", MFD_ALLOW_SEALING_ | MFD_EXEC_);
	tap_eq(get(fd), 0, "memfd with MFD_ALLOW_SEALING has no seals");
	tap_eq(add(fd, 0), 0, "F_ADD_SEALS of no seal succeeds");
	tap_eq(add(fd, 0x40), -EINVAL, "unknown seal bit: EINVAL");
	tap_eq(add(fd, SEAL_SHRINK | 0x100), -EINVAL, "known and unknown bits: EINVAL");
	tap_eq(get(fd), 0, "...and nothing was added");
	close(fd);

	fd = mfd("noexec", MFD_NOEXEC_SEAL_);
	struct stat st;
	fstat(fd, &st);
	tap_eq(get(fd), SEAL_EXEC, "MFD_NOEXEC_SEAL: F_SEAL_EXEC, sealing allowed");
	tap_eq(st.st_mode & 0777, 0666, "MFD_NOEXEC_SEAL: mode 0666");
	tap_eq(e(fchmod(fd, 0766)), -EPERM, "F_SEAL_EXEC: chmod adding an exec bit is EPERM");
	tap_eq(e(fchmod(fd, 0644)), 0, "F_SEAL_EXEC: chmod keeping the exec bits succeeds");
	tap_eq(add(fd, SEAL_GROW), 0, "MFD_NOEXEC_SEAL file takes more seals");
	tap_eq(get(fd), SEAL_EXEC | SEAL_GROW, "...F_SEAL_EXEC | F_SEAL_GROW");
	close(fd);

	fd = mfd("exec", MFD_ALLOW_SEALING_ | MFD_EXEC_);
	tap_eq(add(fd, SEAL_EXEC), 0, "F_SEAL_EXEC on a 0777 memfd");
	tap_eq(get(fd), SEAL_EXEC | SEAL_SHRINK | SEAL_GROW | SEAL_WRITE | SEAL_FUTURE_WRITE,
	       "...implies the write, shrink and grow seals");
	tap_eq(e(fchmod(fd, 0677)), -EPERM, "F_SEAL_EXEC: chmod dropping u+x is EPERM");
	tap_eq(e(fchmod(fd, 0755)), 0, "F_SEAL_EXEC: chmod keeping the exec bits succeeds");
	tap_eq(e(write(fd, "x", 1)), -EPERM, "...and write is EPERM");
	close(fd);

	mkdir("/dev/shm", 01777);
	fd = open("/dev/shm/memfd_seals.tmp", O_RDWR | O_CREAT | O_TRUNC, 0600);
	tap_ok(fd >= 0, "a file in /dev/shm");
	tap_eq(get(fd), SEAL_SEAL, "a tmpfs file has F_SEAL_SEAL");
	tap_eq(add(fd, SEAL_GROW), -EPERM, "...and F_ADD_SEALS is EPERM");
	close(fd);
	unlink("/dev/shm/memfd_seals.tmp");
}

static void not_shmem(void)
{
	int p[2];
	pipe(p);
	tap_eq(get(p[0]), -EINVAL, "F_GET_SEALS of a pipe: EINVAL");
	tap_eq(add(p[1], SEAL_WRITE), -EINVAL, "F_ADD_SEALS of a pipe's write end: EINVAL");
	tap_eq(add(p[0], SEAL_WRITE), -EPERM, "F_ADD_SEALS of a pipe's read end (not writable): EPERM");
	close(p[0]);
	close(p[1]);
	int fd = open("/proc/self/status", O_RDONLY);
	tap_eq(get(fd), -EINVAL, "F_GET_SEALS of a /proc file: EINVAL");
	close(fd);
	fd = open("/", O_RDONLY | O_DIRECTORY);
	tap_eq(get(fd), -EINVAL, "F_GET_SEALS of a directory: EINVAL");
	close(fd);
	tap_eq(get(-1), -EBADF, "F_GET_SEALS of a bad descriptor: EBADF");

	mkdir("/dev/shm", 01777);
	fd = open("/dev/shm/memfd_seals.ro", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ro = open("/dev/shm/memfd_seals.ro", O_RDONLY);
	tap_eq(add(ro, 0), -EPERM, "F_ADD_SEALS through a read-only descriptor: EPERM");
	tap_eq(get(ro), SEAL_SEAL, "F_GET_SEALS through it works");
	close(ro);
	close(fd);
	unlink("/dev/shm/memfd_seals.ro");
}

static void seal_write(void)
{
	int fd = sealable(4);
	char *m = map(fd, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	m[0] = 'Z';
	tap_eq(add(fd, SEAL_WRITE | SEAL_SHRINK), -EBUSY, "F_SEAL_WRITE with a shared writable mapping: EBUSY");
	tap_eq(get(fd), 0, "...and no seal of the call was added");
	/* mprotect splits it in three; munmap of the first piece leaves two. */
	tap_eq(e(mprotect(m + PG, PG, PROT_READ)), 0, "mprotect splits the mapping");
	tap_eq(e(munmap(m, PG)), 0, "munmap of its first page");
	tap_eq(add(fd, SEAL_WRITE), -EBUSY, "the pieces still count: EBUSY");
	tap_eq(e(munmap(m + PG, PG)), 0, "munmap of the read-only piece (was writable at mmap)");
	tap_eq(add(fd, SEAL_WRITE), -EBUSY, "the last piece still counts: EBUSY");
	tap_eq(e(munmap(m + 2 * PG, 2 * PG)), 0, "munmap of the last piece");
	tap_eq(add(fd, SEAL_WRITE), 0, "then F_SEAL_WRITE succeeds");
	tap_eq(get(fd), SEAL_WRITE, "F_GET_SEALS shows it");

	char buf[PG];
	tap_eq(e(pread(fd, buf, 2, 0)), 2, "data written before the seal reads back");
	tap_ok(buf[0] == 'Z' && buf[1] == 'a', "...store through the mapping, then write()");
	tap_eq(e(pread(fd, buf, 1, 3 * PG)), 1, "the last page reads back");
	tap_eq(buf[0], 'd', "...its write() data");
	tap_eq(e(write(fd, "x", 1)), -EPERM, "write after F_SEAL_WRITE: EPERM");
	tap_eq(e(pwrite(fd, "x", 1, 0)), -EPERM, "pwrite after F_SEAL_WRITE: EPERM");
	tap_eq(e(ftruncate(fd, 8 * PG)), 0, "ftruncate is not a write: it grows");
	void *w = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	tap_ok(w == MAP_FAILED && errno == EPERM, "MAP_SHARED with PROT_WRITE: EPERM");
	char *r = map(fd, PG, PROT_READ, MAP_SHARED);
	tap_ok(r != MAP_FAILED && r[0] == 'Z', "MAP_SHARED read-only maps and reads the data");
	tap_eq(e(mprotect(r, PG, PROT_READ | PROT_WRITE)), -EACCES, "...mprotect(PROT_WRITE) of it: EACCES");
	char *pv = map(fd, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	tap_ok(pv != MAP_FAILED, "MAP_PRIVATE with PROT_WRITE maps");
	if (pv != MAP_FAILED) {
		pv[0] = 'P';
		tap_ok(pv[0] == 'P' && r[0] == 'Z', "...a store there stays private");
		munmap(pv, PG);
	}
	munmap(r, PG);
	tap_eq(add(fd, SEAL_WRITE), 0, "adding F_SEAL_WRITE again succeeds");
	close(fd);
}

static void seal_write_mremap_merge(void)
{
	int fd = sealable(2);
	char *m = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	char *to = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *n = mremap(m, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, to + PG);
	tap_ok(n == to + PG && n[0] == 'a', "mremap moves the shared mapping");
	tap_eq(add(fd, SEAL_WRITE), -EBUSY, "the moved mapping still counts: EBUSY");
	munmap(to + 2 * PG, PG);
	n = mremap(n, PG, 2 * PG, 0);
	tap_ok(n == to + PG && n[PG] == 'b', "mremap grows it in place");
	tap_eq(add(fd, SEAL_WRITE), -EBUSY, "the grown mapping still counts: EBUSY");
	munmap(to, 4 * PG);
	tap_eq(add(fd, SEAL_WRITE | SEAL_FUTURE_WRITE), 0, "after munmap F_SEAL_WRITE succeeds");
	close(fd);

	/* Two mappings of consecutive offsets, side by side, merge. */
	fd = sealable(2);
	char *a = map(fd, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	munmap(a + PG, PG);
	char *b = mmap(a + PG, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, PG);
	tap_ok(b == a + PG && b[0] == 'b', "a second mapping next to the first, at the next offset");
	tap_eq(e(munmap(a, PG)), 0, "munmap of the first page");
	tap_eq(add(fd, SEAL_WRITE), -EBUSY, "the second still counts: EBUSY");
	tap_eq(e(munmap(b, PG)), 0, "munmap of the second");
	tap_eq(add(fd, SEAL_WRITE), 0, "then F_SEAL_WRITE succeeds");
	close(fd);
}

static void seal_write_fork(void)
{
	int fd = sealable(1);
	char *m = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	int go[2], done[2];
	pipe(go);
	pipe(done);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		read(go[0], &c, 1);
		m[1] = 'C';
		munmap(m, PG);
		write(done[1], "x", 1);
		read(go[0], &c, 1);
		_exit(0);
	}
	munmap(m, PG);
	tap_eq(add(fd, SEAL_WRITE), -EBUSY, "a forked child's shared writable mapping: EBUSY");
	write(go[1], "x", 1);
	char c;
	read(done[0], &c, 1);
	char buf[2];
	pread(fd, buf, 2, 0);
	tap_eq(buf[1], 'C', "the child's store reached the file");
	tap_eq(add(fd, SEAL_WRITE), 0, "after the child's munmap F_SEAL_WRITE succeeds");
	write(go[1], "x", 1);
	int st;
	waitpid(pid, &st, 0);
	close(fd);

	/* The child keeps it until exit. */
	fd = sealable(1);
	m = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	pid = fork();
	if (pid == 0) {
		char c2;
		read(go[0], &c2, 1);
		_exit(0);
	}
	munmap(m, PG);
	tap_eq(add(fd, SEAL_WRITE), -EBUSY, "EBUSY while the child lives");
	write(go[1], "x", 1);
	waitpid(pid, &st, 0);
	tap_eq(add(fd, SEAL_WRITE), 0, "after the child's exit F_SEAL_WRITE succeeds");
	close(fd);
}

static void seal_future_write(void)
{
	int fd = sealable(2);
	char *m = map(fd, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	char *ro = map(fd, PG, PROT_READ, MAP_SHARED);
	tap_eq(add(fd, SEAL_FUTURE_WRITE), 0, "F_SEAL_FUTURE_WRITE with a shared writable mapping succeeds");
	m[0] = 'F';
	char c = 0;
	pread(fd, &c, 1, 0);
	tap_eq(c, 'F', "the existing mapping keeps writing");
	tap_eq(e(write(fd, "x", 1)), -EPERM, "write after F_SEAL_FUTURE_WRITE: EPERM");
	tap_eq(e(pwrite(fd, "x", 1, PG)), -EPERM, "pwrite: EPERM");
	void *w = map(fd, PG, PROT_READ | PROT_WRITE, MAP_SHARED);
	tap_ok(w == MAP_FAILED && errno == EPERM, "a new MAP_SHARED with PROT_WRITE: EPERM");
	char *r = map(fd, PG, PROT_READ, MAP_SHARED);
	tap_ok(r != MAP_FAILED && r[0] == 'F', "a new read-only shared mapping maps");
	tap_eq(e(mprotect(r, PG, PROT_READ | PROT_WRITE)), -EACCES, "...mprotect(PROT_WRITE) of it: EACCES");
	tap_eq(e(mprotect(ro, PG, PROT_READ | PROT_WRITE)), 0, "one mapped read-only before the seal may become writable");
	char *pv = map(fd, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	tap_ok(pv != MAP_FAILED, "MAP_PRIVATE with PROT_WRITE maps");
	tap_eq(add(fd, SEAL_WRITE), -EBUSY, "F_SEAL_WRITE still EBUSY while the mapping lives");
	munmap(m, 2 * PG);
	munmap(ro, PG);
	tap_eq(add(fd, SEAL_WRITE), 0, "and succeeds once it is gone (private and read-only ones do not count)");
	munmap(r, PG);
	munmap(pv, PG);
	close(fd);
}

static void seal_size(void)
{
	int fd = sealable(2);
	tap_eq(add(fd, SEAL_SHRINK), 0, "F_SEAL_SHRINK");
	tap_eq(e(ftruncate(fd, PG)), -EPERM, "ftruncate smaller: EPERM");
	tap_eq(e(ftruncate(fd, 2 * PG)), 0, "ftruncate to the same size succeeds");
	tap_eq(e(ftruncate(fd, 3 * PG)), 0, "ftruncate larger succeeds");
	tap_eq(e(pwrite(fd, "x", 1, 4 * PG)), 1, "write past the end succeeds");
	close(fd);

	fd = sealable(2);
	tap_eq(add(fd, SEAL_GROW), 0, "F_SEAL_GROW");
	tap_eq(e(ftruncate(fd, 3 * PG)), -EPERM, "ftruncate larger: EPERM");
	tap_eq(e(pwrite(fd, "xy", 2, 2 * PG - 2)), 2, "a write within the size succeeds");
	tap_eq(e(pwrite(fd, "xyz", 3, 2 * PG - 2)), 2, "a write across the end stops at the end");
	tap_eq(e(pwrite(fd, "x", 1, 2 * PG)), -EPERM, "a write at the end: EPERM");
	tap_eq(e(ftruncate(fd, PG)), 0, "ftruncate smaller succeeds");
	struct stat st;
	fstat(fd, &st);
	tap_eq(st.st_size, PG, "...the size is one page");
	tap_eq(add(fd, SEAL_SEAL), 0, "F_SEAL_SEAL");
	tap_eq(add(fd, SEAL_SHRINK), -EPERM, "any F_ADD_SEALS after it: EPERM");
	tap_eq(add(fd, 0), -EPERM, "...even of nothing");
	tap_eq(get(fd), SEAL_GROW | SEAL_SEAL, "F_GET_SEALS: F_SEAL_GROW | F_SEAL_SEAL");
	close(fd);
}

int main(void)
{
	tap_begin("memfd_seals");
	initial_seals();
	not_shmem();
	seal_write();
	seal_write_mremap_merge();
	seal_write_fork();
	seal_future_write();
	seal_size();
	return tap_end();
}
