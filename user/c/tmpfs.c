/* tmpfs: the writable in-memory file system, as Linux's mm/shmem.c with
 * the VFS of fs/namei.c and fs/open.c in front of it.
 *
 * Everything runs in a fresh directory made with mkdtemp() under /tmp. On
 * Linux (where this runs as root) a 16 MiB tmpfs is mounted on that
 * directory, because the host's /tmp need not be a tmpfs and st_blocks,
 * ENOSPC and the rest must be tmpfs's. On Holdfast mount() does not exist
 * and the directory is already on the tmpfs mounted at `/`, whose size
 * limit is half of RAM: the ENOSPC case fills the whole file system there
 * and only the 16 MiB one on Linux; both must stop with ENOSPC at a page
 * boundary and work again once the file is gone, which is what is
 * compared. Linux's st_blocks for a tmpfs file counts its pages (8 blocks
 * of 512 bytes each, huge pages off, tmpfs's default).
 *
 * Creating, opening (O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY,
 * O_NOFOLLOW, O_CLOEXEC, access modes), reading and writing (read, write,
 * pread, pwrite, readv, writev, lseek), files of several MiB with holes,
 * truncate, unlink, mkdir, rmdir, rename(2) and renameat2 with
 * RENAME_NOREPLACE, link, symlink and readlink with ELOOP, getdents64
 * (also while deleting), the stat family and statx, chmod, chown, umask,
 * chdir/fchdir/getcwd, access, an unlinked file kept open, EMFILE,
 * /etc/passwd through getpwnam, then the permission checks as uid 65534
 * after setuid (last: there is no way back to root). Raw syscalls show the
 * kernel's answers. Every expectation is what Linux 6.x returns. */
#define _GNU_SOURCE
#include "tap.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define PG 4096L
#define MiB (1024L * 1024)

/* The result of a raw syscall: the value, or -errno. */
static long sys(long nr, long a, long b, long c, long d, long e)
{
	long r = syscall(nr, a, b, c, d, e);
	return r < 0 ? -errno : r;
}
#define S0(nr) sys(nr, 0, 0, 0, 0, 0)
#define S1(nr, a) sys(nr, (long)(a), 0, 0, 0, 0)
#define S2(nr, a, b) sys(nr, (long)(a), (long)(b), 0, 0, 0)
#define S3(nr, a, b, c) sys(nr, (long)(a), (long)(b), (long)(c), 0, 0)
#define S4(nr, a, b, c, d) sys(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0)
#define S5(nr, a, b, c, d, e) sys(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))

static int on_linux;

/* struct statx (include/uapi/linux/stat.h), which musl may not declare. */
struct kstatx_ts {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t pad;
};
struct kstatx {
	uint32_t stx_mask, stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink, stx_uid, stx_gid;
	uint16_t stx_mode, pad1;
	uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
	struct kstatx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint64_t spare[18];
};
#define KSTATX_BASIC_STATS 0x7ffU

static mode_t mode_of(const char *p)
{
	struct stat st;
	if (lstat(p, &st))
		return 0;
	return st.st_mode;
}

static long nlink_of(const char *p)
{
	struct stat st;
	if (lstat(p, &st))
		return -errno;
	return st.st_nlink;
}

static int mkfile(const char *p, const char *data, mode_t mode)
{
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, mode);
	if (fd < 0)
		return -errno;
	if (data && write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		return -EIO;
	close(fd);
	return 0;
}

static long readfile(const char *p, char *buf, size_t n)
{
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	long r = read(fd, buf, n - 1);
	close(fd);
	if (r >= 0)
		buf[r] = 0;
	return r;
}

static void basics(void)
{
	tap_eq(mode_of("/tmp"), S_IFDIR | 01777, "/tmp is a directory of mode 1777");
	tap_eq(S_ISDIR(mode_of("/dev/shm")), 1, "/dev/shm is a directory");
	tap_eq(S_ISDIR(mode_of("/proc/self/")), 1, "/proc still works beneath the root");
	int fd = open("/dev/null", O_WRONLY);
	tap_eq(fd >= 0 && write(fd, "x", 1) == 1, 1, "/dev/null still works");
	close(fd);
	struct passwd *pw = getpwnam("nobody");
	tap_eq(pw ? (long)pw->pw_uid : -1, 65534, "getpwnam(nobody) reads /etc/passwd: uid 65534");
	pw = getpwuid(0);
	tap_ok(pw && !strcmp(pw->pw_name, "root"), "getpwuid(0) is root");
	struct group *gr = getgrgid(65534);
	tap_ok(gr && !strcmp(gr->gr_name, "nogroup"), "group 65534 is nogroup");
	gr = getgrgid(0);
	tap_ok(gr && !strcmp(gr->gr_name, "root"), "group 0 is root");
}

static void open_flags(void)
{
	char buf[64];
	umask(022);
	tap_eq(umask(022), 022, "umask returns the previous mask");
	tap_eq(S3(SYS_open, "f", O_RDONLY, 0), -ENOENT, "open of a missing file: ENOENT");
	int fd = S3(SYS_open, "f", O_CREAT | O_EXCL | O_RDWR, 0666);
	tap_ok(fd >= 0, "O_CREAT|O_EXCL creates");
	tap_eq(mode_of("f"), S_IFREG | 0644, "the new file's mode is 0666 & ~umask");
	tap_eq(S3(SYS_open, "f", O_CREAT | O_EXCL | O_RDWR, 0666), -EEXIST, "O_CREAT|O_EXCL on an existing file: EEXIST");
	tap_eq(write(fd, "hello world", 11), 11, "write");
	tap_eq(S3(SYS_lseek, fd, 0, SEEK_CUR), 11, "the offset moved");
	close(fd);
	fd = open("f", O_RDONLY);
	tap_eq(S3(SYS_write, fd, "x", 1), -EBADF, "write on an O_RDONLY file: EBADF");
	tap_eq(read(fd, buf, sizeof buf), 11, "read returns what was written");
	tap_eq(read(fd, buf, sizeof buf), 0, "then end of file");
	close(fd);
	fd = open("f", O_WRONLY);
	tap_eq(S3(SYS_read, fd, buf, 1), -EBADF, "read on an O_WRONLY file: EBADF");
	close(fd);
	fd = open("f", O_WRONLY | O_APPEND);
	lseek(fd, 0, SEEK_SET);
	tap_eq(write(fd, "!", 1), 1, "O_APPEND write");
	tap_eq(lseek(fd, 0, SEEK_CUR), 12, "O_APPEND writes at the end");
	close(fd);
	tap_eq(readfile("f", buf, sizeof buf), 12, "the file has the appended byte");
	tap_ok(!strcmp(buf, "hello world!"), "contents after append");
	fd = open("f", O_RDWR | O_TRUNC);
	struct stat st;
	fstat(fd, &st);
	tap_eq(st.st_size, 0, "O_TRUNC empties the file");
	close(fd);
	tap_eq(S3(SYS_open, "f", O_RDONLY | O_DIRECTORY, 0), -ENOTDIR, "O_DIRECTORY on a file: ENOTDIR");
	tap_eq(S3(SYS_open, "f/", O_RDONLY, 0), -ENOTDIR, "a file with a trailing slash: ENOTDIR");
	tap_eq(S3(SYS_open, "f/x", O_RDONLY, 0), -ENOTDIR, "a file in the middle of a path: ENOTDIR");
	tap_eq(S3(SYS_open, "new/", O_CREAT | O_RDWR, 0644), -EISDIR, "O_CREAT with a trailing slash: EISDIR");
	tap_eq(S3(SYS_open, "missing/x", O_CREAT | O_RDWR, 0644), -ENOENT, "O_CREAT in a missing directory: ENOENT");
	tap_eq(S3(SYS_open, ".", O_RDWR, 0), -EISDIR, "a directory opened for writing: EISDIR");
	tap_eq(S3(SYS_open, ".", O_CREAT | O_RDONLY, 0644), -EISDIR, "O_CREAT on a directory: EISDIR");
	fd = S3(SYS_open, ".", O_RDONLY | O_DIRECTORY, 0);
	tap_ok(fd >= 0, "O_DIRECTORY on a directory");
	close(fd);
	char name[300];
	memset(name, 'a', 256);
	name[256] = 0;
	tap_eq(S3(SYS_open, name, O_CREAT | O_RDWR, 0644), -ENAMETOOLONG, "a 256-byte name: ENAMETOOLONG");
	name[255] = 0;
	fd = S3(SYS_open, name, O_CREAT | O_RDWR, 0644);
	tap_ok(fd >= 0, "a 255-byte name is fine");
	close(fd);
	tap_eq(unlink(name), 0, "unlink it");
	fd = S3(SYS_open, "f", O_RDONLY | O_CLOEXEC, 0);
	tap_eq(fcntl(fd, F_GETFD), FD_CLOEXEC, "O_CLOEXEC sets close-on-exec");
	close(fd);
	fd = S2(SYS_creat, "c", 0600);
	tap_ok(fd >= 0, "creat");
	tap_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_WRONLY, "creat opens write-only");
	tap_eq(mode_of("c"), S_IFREG | 0600, "creat's mode");
	close(fd);
	tap_eq(unlink("c"), 0, "unlink");
	tap_eq(S1(SYS_unlink, "c"), -ENOENT, "unlink again: ENOENT");
	tap_eq(unlink("f"), 0, "unlink f");
}

static void read_write(void)
{
	char buf[64];
	int fd = open("rw", O_CREAT | O_RDWR, 0644);
	tap_eq(pwrite(fd, "abcdef", 6, 10), 6, "pwrite past the end");
	tap_eq(lseek(fd, 0, SEEK_CUR), 0, "pwrite leaves the offset");
	memset(buf, 'x', sizeof buf);
	tap_eq(pread(fd, buf, 32, 0), 16, "pread to the end");
	static const char want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c', 'd', 'e', 'f' };
	tap_ok(!memcmp(buf, want, 16), "the hole reads as zeros");
	tap_eq(S4(SYS_pread64, fd, buf, 4, -1), -EINVAL, "pread at a negative offset: EINVAL");
	tap_eq(S3(SYS_lseek, fd, 0, SEEK_END), 16, "SEEK_END");
	tap_eq(S3(SYS_lseek, fd, -4, SEEK_END), 12, "SEEK_END backwards");
	tap_eq(S3(SYS_lseek, fd, 2, SEEK_CUR), 14, "SEEK_CUR");
	tap_eq(S3(SYS_lseek, fd, -20, SEEK_CUR), -EINVAL, "before the start: EINVAL");
	tap_eq(S3(SYS_lseek, fd, 0, 7), -EINVAL, "an unknown whence: EINVAL");
	tap_eq(S3(SYS_lseek, fd, 100, SEEK_SET), 100, "SEEK_SET past the end");
	tap_eq(read(fd, buf, 4), 0, "a read past the end: 0");
	struct iovec iov[3] = { { "one", 3 }, { "", 0 }, { "two", 3 } };
	lseek(fd, 0, SEEK_SET);
	tap_eq(writev(fd, iov, 3), 6, "writev");
	char a[2], b[5];
	struct iovec riov[2] = { { a, 2 }, { b, 5 } };
	lseek(fd, 0, SEEK_SET);
	tap_eq(readv(fd, riov, 2), 7, "readv");
	tap_ok(!memcmp(a, "on", 2) && !memcmp(b, "etwo\0", 5), "readv scatters in order");
	tap_eq(S3(SYS_write, fd, (void *)8, 4), -EFAULT, "write from a bad buffer: EFAULT");
	tap_eq(S3(SYS_read, 1000, buf, 4), -EBADF, "read of a closed descriptor: EBADF");
	close(fd);
	unlink("rw");
}

/* A 5 MiB file with holes, read back whole; st_blocks counts pages. */
static void big_file(void)
{
	int fd = open("big", O_CREAT | O_RDWR | O_TRUNC, 0644);
	char *w = malloc(12288), *r = malloc(5 * MiB);
	for (int i = 0; i < 12288; i++)
		w[i] = (char)(i * 7 + 1);
	tap_eq(pwrite(fd, w, 12288, 0), 12288, "three pages at 0");
	tap_eq(pwrite(fd, w, 10000, MiB + 123), 10000, "10000 bytes at 1 MiB + 123");
	tap_eq(pwrite(fd, w, 2, 4 * MiB + 4095), 2, "2 bytes across a page boundary at 4 MiB");
	tap_eq(ftruncate(fd, 5 * MiB), 0, "ftruncate up to 5 MiB");
	struct stat st;
	fstat(fd, &st);
	tap_eq(st.st_size, 5 * MiB, "st_size");
	tap_eq(st.st_blocks, 8 * 8, "st_blocks: 8 pages of data");
	tap_eq(st.st_blksize, 4096, "st_blksize");
	tap_eq(pread(fd, r, 5 * MiB, 0), 5 * MiB, "read all 5 MiB back");
	int bad = 0;
	for (long i = 0; i < 5 * MiB; i++) {
		char want = 0;
		if (i < 12288)
			want = w[i];
		else if (i >= MiB + 123 && i < MiB + 123 + 10000)
			want = w[i - MiB - 123];
		else if (i >= 4 * MiB + 4095 && i < 4 * MiB + 4097)
			want = w[i - 4 * MiB - 4095];
		bad += r[i] != want;
	}
	tap_eq(bad, 0, "data where written, zeros in the holes");
	tap_eq(ftruncate(fd, MiB + 200), 0, "ftruncate down into the data");
	fstat(fd, &st);
	tap_eq(st.st_blocks, 4 * 8, "the pages past the end are freed");
	tap_eq(ftruncate(fd, 2 * MiB), 0, "ftruncate up again");
	memset(r, 'x', PG);
	tap_eq(pread(fd, r, PG, MiB), PG, "read the cut page");
	bad = 0;
	for (long i = 0; i < PG; i++)
		bad += r[i] != (i < 200 ? (i >= 123 ? w[i - 123] : 0) : 0);
	tap_eq(bad, 0, "bytes past the old cut read as zeros");
	tap_eq(S2(SYS_ftruncate, fd, -1), -EINVAL, "ftruncate to a negative length: EINVAL");
	close(fd);
	fd = open("big", O_RDONLY);
	tap_eq(S2(SYS_ftruncate, fd, 0), -EINVAL, "ftruncate of a read-only descriptor: EINVAL");
	close(fd);
	tap_eq(S2(SYS_truncate, "big", 3), 0, "truncate by name");
	tap_eq(stat("big", &st) == 0 ? st.st_size : -1, 3, "truncated");
	tap_eq(S2(SYS_truncate, ".", 0), -EISDIR, "truncate of a directory: EISDIR");
	tap_eq(S2(SYS_truncate, "nope", 0), -ENOENT, "truncate of a missing file: ENOENT");
	unlink("big");
	free(w);
	free(r);
}

static void dirs(void)
{
	tap_eq(S2(SYS_mkdir, "d", 0777), 0, "mkdir");
	tap_eq(mode_of("d"), S_IFDIR | 0755, "its mode is 0777 & ~umask");
	tap_eq(nlink_of("d"), 2, "a new directory has 2 links");
	tap_eq(S2(SYS_mkdir, "d", 0777), -EEXIST, "mkdir of an existing name: EEXIST");
	tap_eq(S2(SYS_mkdir, "x/y", 0777), -ENOENT, "mkdir in a missing directory: ENOENT");
	mkfile("d/file", "z", 0644);
	tap_eq(S2(SYS_mkdir, "d/file/y", 0777), -ENOTDIR, "mkdir under a file: ENOTDIR");
	tap_eq(S3(SYS_mkdirat, AT_FDCWD, "d/sub", 0700), 0, "mkdirat");
	tap_eq(nlink_of("d"), 3, "a subdirectory adds a link to its parent");
	tap_eq(S1(SYS_rmdir, "d"), -ENOTEMPTY, "rmdir of a non-empty directory: ENOTEMPTY");
	tap_eq(S1(SYS_rmdir, "d/file"), -ENOTDIR, "rmdir of a file: ENOTDIR");
	tap_eq(S1(SYS_unlink, "d/sub"), -EISDIR, "unlink of a directory: EISDIR");
	tap_eq(S1(SYS_rmdir, "d/sub/."), -EINVAL, "rmdir of .: EINVAL");
	tap_eq(S1(SYS_rmdir, "d/sub/.."), -ENOTEMPTY, "rmdir of ..: ENOTEMPTY");
	tap_eq(S3(SYS_unlinkat, AT_FDCWD, "d/sub", AT_REMOVEDIR), 0, "unlinkat(AT_REMOVEDIR)");
	tap_eq(nlink_of("d"), 2, "the parent's link count drops");
	tap_eq(S3(SYS_unlinkat, AT_FDCWD, "d/file", 0x1), -EINVAL, "unlinkat with an unknown flag: EINVAL");
	tap_eq(S3(SYS_unlinkat, AT_FDCWD, "d/file", 0), 0, "unlinkat of a file");
	tap_eq(S1(SYS_rmdir, "d"), 0, "rmdir of the emptied directory");
	tap_eq(S1(SYS_rmdir, "d"), -ENOENT, "rmdir again: ENOENT");
}

struct dent {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* Names and types of a directory through getdents64 with a small buffer. */
static int list(const char *dir, char names[][16], unsigned char *types, int max, int unlink_each)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY), n = 0;
	char buf[200];
	long got;
	while ((got = S3(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
		for (long at = 0; at < got;) {
			struct dent *d = (struct dent *)(buf + at);
			if (n < max) {
				snprintf(names[n], 16, "%s", d->name);
				types[n] = d->type;
			}
			n++;
			if (unlink_each && d->name[0] != '.')
				unlinkat(fd, d->name, 0);
			at += d->reclen;
		}
	}
	close(fd);
	return got < 0 ? (int)got : n;
}

static void dents(void)
{
	char names[80][16];
	unsigned char types[80];
	mkdir("ls", 0755);
	mkdir("ls/sub", 0755);
	mkfile("ls/file", "", 0644);
	symlink("file", "ls/link");
	int n = list("ls", names, types, 80, 0);
	tap_eq(n, 5, "getdents64: ., .., and three entries");
	int seen = 0;
	for (int i = 0; i < n && i < 80; i++) {
		if (!strcmp(names[i], ".") && types[i] == DT_DIR)
			seen |= 1;
		if (!strcmp(names[i], "..") && types[i] == DT_DIR)
			seen |= 2;
		if (!strcmp(names[i], "sub") && types[i] == DT_DIR)
			seen |= 4;
		if (!strcmp(names[i], "file") && types[i] == DT_REG)
			seen |= 8;
		if (!strcmp(names[i], "link") && types[i] == DT_LNK)
			seen |= 16;
	}
	tap_eq(seen, 31, "every name with its d_type");
	char buf[8];
	int fd = open("ls", O_RDONLY);
	tap_eq(S3(SYS_getdents64, fd, buf, sizeof buf), -EINVAL, "a buffer too small for one entry: EINVAL");
	tap_eq(S3(SYS_getdents64, fd, 8, 100), -EFAULT, "a bad buffer: EFAULT");
	close(fd);
	fd = open("ls/file", O_RDONLY);
	tap_eq(S3(SYS_getdents64, fd, names, sizeof names), -ENOTDIR, "getdents64 of a file: ENOTDIR");
	close(fd);
	rmdir("ls/sub");
	unlink("ls/file");
	unlink("ls/link");
	for (int i = 0; i < 60; i++) {
		char p[32];
		snprintf(p, sizeof p, "ls/f%02d", i);
		mkfile(p, "", 0644);
	}
	n = list("ls", names, types, 80, 1);
	tap_eq(n, 62, "listing while deleting sees every entry once");
	int dup = 0;
	for (int i = 2; i < n && i < 80; i++)
		for (int j = 0; j < i; j++)
			dup += !strcmp(names[i], names[j]);
	tap_eq(dup, 0, "no entry twice");
	tap_eq(list("ls", names, types, 80, 0), 2, "and the directory is empty after");
	n = list("/proc/sys/vm", names, types, 80, 0);
	int found = 0;
	for (int i = 0; i < n && i < 80; i++)
		found += !strcmp(names[i], "max_map_count") && types[i] == DT_REG;
	tap_eq(found, 1, "getdents64 of /proc/sys/vm lists max_map_count");
	tap_eq(rmdir("ls"), 0, "rmdir it");
}

static void renames(void)
{
	char buf[32];
	struct stat a, b;
	mkfile("r1", "one", 0644);
	mkfile("r2", "two", 0644);
	stat("r1", &a);
	tap_eq(rename("r1", "r3"), 0, "rename to a new name");
	tap_eq(S1(SYS_access, "r1") == -ENOENT || access("r1", F_OK) < 0, 1, "the old name is gone");
	stat("r3", &b);
	tap_eq(b.st_ino, a.st_ino, "the same inode under the new name");
	tap_eq(S5(SYS_renameat2, AT_FDCWD, "r3", AT_FDCWD, "r2", 1), -EEXIST, "RENAME_NOREPLACE onto an existing name: EEXIST");
	tap_eq(S5(SYS_renameat2, AT_FDCWD, "r3", AT_FDCWD, "r2", 8), -EINVAL, "renameat2 with an unknown flag: EINVAL");
	tap_eq(rename("r3", "r2"), 0, "rename over an existing file");
	readfile("r2", buf, sizeof buf);
	tap_ok(!strcmp(buf, "one"), "the target is replaced");
	tap_eq(S2(SYS_rename, "r3", "r4"), -ENOENT, "rename of a missing name: ENOENT");
	link("r2", "r2b");
	tap_eq(rename("r2", "r2b"), 0, "rename between two links of one inode does nothing");
	tap_eq(nlink_of("r2"), 2, "and both names stay");
	unlink("r2b");
	mkdir("D1", 0755);
	mkdir("D2", 0755);
	mkdir("D1/in", 0755);
	mkfile("D2/f", "", 0644);
	tap_eq(S2(SYS_rename, "r2", "D1"), -EISDIR, "a file over a directory: EISDIR");
	tap_eq(S2(SYS_rename, "D1", "r2"), -ENOTDIR, "a directory over a file: ENOTDIR");
	tap_eq(S2(SYS_rename, "D1", "D2"), -ENOTEMPTY, "a directory over a non-empty one: ENOTEMPTY");
	tap_eq(S2(SYS_rename, "D1", "D1/in/x"), -EINVAL, "a directory into itself: EINVAL");
	tap_eq(S2(SYS_rename, "D1", "D1/in"), -EINVAL, "a directory onto its own child: EINVAL");
	unlink("D2/f");
	mkdir("D3", 0755);
	tap_eq(rename("D1/in", "D3/in"), 0, "move a directory to another parent");
	tap_eq(nlink_of("D1"), 2, "the old parent loses a link");
	tap_eq(nlink_of("D3"), 3, "the new parent gains one");
	tap_eq(stat("D3/in/..", &a) == 0 && stat("D3", &b) == 0 && a.st_ino == b.st_ino, 1, "its .. is the new parent");
	tap_eq(rename("D1", "D2"), 0, "a directory over an empty directory");
	tap_eq(S1(SYS_rmdir, "D1"), -ENOENT, "the old name is gone");
	tap_eq(S2(SYS_rename, "D2", "D2/."), -EBUSY, "rename onto .: EBUSY");
	tap_eq(S2(SYS_rename, "r2", "r2/"), -ENOTDIR, "a file renamed to a name with a trailing slash: ENOTDIR");
	rmdir("D3/in");
	rmdir("D3");
	rmdir("D2");
	unlink("r2");
}

static void links(void)
{
	char buf[64];
	struct stat st;
	mkfile("l1", "data", 0644);
	tap_eq(link("l1", "l2"), 0, "link");
	tap_eq(nlink_of("l1"), 2, "two links");
	tap_eq(S2(SYS_link, "l1", "l2"), -EEXIST, "link to an existing name: EEXIST");
	mkdir("ld", 0755);
	tap_eq(S2(SYS_link, "ld", "ld2"), -EPERM, "link of a directory: EPERM");
	tap_eq(S2(SYS_link, "nope", "x"), -ENOENT, "link of a missing file: ENOENT");
	tap_eq(S5(SYS_linkat, AT_FDCWD, "l1", AT_FDCWD, "l3", 0x1), -EINVAL, "linkat with an unknown flag: EINVAL");
	unlink("l1");
	tap_eq(readfile("l2", buf, sizeof buf), 4, "the data stays under the other name");
	tap_eq(nlink_of("l2"), 1, "one link left");

	tap_eq(symlink("l2", "s1"), 0, "symlink");
	tap_eq(S2(SYS_symlink, "x", "s1"), -EEXIST, "symlink onto an existing name: EEXIST");
	tap_eq(S2(SYS_symlink, "", "s0"), -ENOENT, "an empty target: ENOENT");
	tap_eq(lstat("s1", &st) == 0 && S_ISLNK(st.st_mode) && (st.st_mode & 0777) == 0777, 1, "lstat: a link of mode 0777");
	tap_eq(st.st_size, 2, "a link's size is its target's length");
	tap_eq(stat("s1", &st) == 0 && S_ISREG(st.st_mode), 1, "stat follows it");
	memset(buf, 0, sizeof buf);
	tap_eq(S3(SYS_readlink, "s1", buf, sizeof buf), 2, "readlink returns the length");
	tap_ok(!strcmp(buf, "l2"), "readlink gives the target, without a NUL");
	tap_eq(S3(SYS_readlink, "s1", buf, 1), 1, "readlink truncates to the buffer");
	tap_eq(S3(SYS_readlink, "l2", buf, sizeof buf), -EINVAL, "readlink of a file: EINVAL");
	tap_eq(S3(SYS_readlink, "s1", buf, 0), -EINVAL, "readlink with size 0: EINVAL");
	tap_eq(S4(SYS_readlinkat, AT_FDCWD, "s1", buf, sizeof buf), 2, "readlinkat");
	tap_eq(lstat("/proc/self/exe", &st) == 0 && S_ISLNK(st.st_mode) && (st.st_mode & 0777) == 0777, 1,
	       "lstat(/proc/self/exe): a link of mode 0777");
	tap_eq(st.st_size, 0, "a /proc link's size is 0");
	tap_eq(readfile("s1", buf, sizeof buf), 4, "open follows the link");
	tap_eq(S3(SYS_open, "s1", O_RDONLY | O_NOFOLLOW, 0), -ELOOP, "O_NOFOLLOW on a link: ELOOP");
	int fd = S3(SYS_open, "s1", O_PATH | O_NOFOLLOW, 0);
	tap_ok(fd >= 0, "O_PATH|O_NOFOLLOW opens the link itself");
	close(fd);
	symlink("loop2", "loop1");
	symlink("loop1", "loop2");
	tap_eq(S3(SYS_open, "loop1", O_RDONLY, 0), -ELOOP, "a loop of links: ELOOP");
	symlink("nowhere", "dangling");
	tap_eq(S3(SYS_open, "dangling", O_RDONLY, 0), -ENOENT, "a dangling link: ENOENT");
	fd = S3(SYS_open, "dangling", O_CREAT | O_WRONLY, 0644);
	tap_ok(fd >= 0, "O_CREAT through a dangling link creates its target");
	close(fd);
	tap_eq(S_ISREG(mode_of("nowhere")), 1, "the target exists now");
	tap_eq(S3(SYS_open, "dangling", O_CREAT | O_EXCL | O_WRONLY, 0644), -EEXIST, "O_EXCL on a link: EEXIST");
	symlink("ld", "sd");
	tap_eq(mkfile("sd/inner", "i", 0644), 0, "a link to a directory in the middle of a path");
	tap_eq(S_ISREG(mode_of("ld/inner")), 1, "the file is in the directory");
	char p[16], q[16];
	symlink("l2", "c0");
	for (int i = 1; i <= 41; i++) {
		snprintf(p, sizeof p, "c%d", i - 1);
		snprintf(q, sizeof q, "c%d", i);
		symlink(p, q);
	}
	tap_eq(readfile("c39", buf, sizeof buf), 4, "40 links in a row are followed");
	tap_eq(readfile("c40", buf, sizeof buf), -ELOOP, "41 are ELOOP");
	for (int i = 0; i <= 41; i++) {
		snprintf(q, sizeof q, "c%d", i);
		unlink(q);
	}
	symlink("/proc/self", "toproc");
	tap_eq(S_ISDIR(mode_of("toproc/")), 1, "an absolute link into /proc");
	unlink("toproc");
	tap_eq(unlink("s1"), 0, "unlink removes the link, not its target");
	tap_eq(S_ISREG(mode_of("l2")), 1, "the target stays");
	unlink("ld/inner");
	rmdir("ld");
	unlink("sd");
	unlink("loop1");
	unlink("loop2");
	unlink("dangling");
	unlink("nowhere");
	unlink("l2");
}

static void unlinked_open(void)
{
	char buf[16];
	struct stat st;
	int fd = open("gone", O_CREAT | O_RDWR, 0644);
	write(fd, "kept", 4);
	tap_eq(unlink("gone"), 0, "unlink an open file");
	tap_eq(fstat(fd, &st) == 0 ? (long)st.st_nlink : -1, 0, "fstat: no links");
	tap_eq(pwrite(fd, "!", 1, 4), 1, "still writable");
	tap_eq(pread(fd, buf, sizeof buf, 0), 5, "its data stays until the last close");
	tap_ok(!memcmp(buf, "kept!", 5), "the data");
	tap_eq(S3(SYS_open, "gone", O_RDONLY, 0), -ENOENT, "its name is gone");
	close(fd);
}

static void attrs(void)
{
	struct stat st, st2;
	time_t now = time(NULL);
	mkfile("a", "x", 0644);
	stat("a", &st);
	tap_ok(st.st_mtime >= now - 2 && st.st_mtime <= now + 2, "mtime is now");
	tap_eq(st.st_uid, 0, "owned by root");
	tap_eq(st.st_gid, 0, "group root");
	tap_eq(st.st_blocks, 8, "one page: 8 blocks");
	tap_eq(chmod("a", 04751), 0, "chmod");
	tap_eq(mode_of("a"), S_IFREG | 04751, "the new mode");
	int fd = open("a", O_RDONLY);
	tap_eq(fchmod(fd, 0600), 0, "fchmod");
	tap_eq(mode_of("a"), S_IFREG | 0600, "fchmod's mode");
	tap_eq(S4(SYS_fchmodat, AT_FDCWD, "a", 0640, 0), 0, "fchmodat");
	tap_eq(mode_of("a"), S_IFREG | 0640, "fchmodat's mode");
	tap_eq(chown("a", 65534, 65534), 0, "chown");
	stat("a", &st);
	tap_eq(st.st_uid * 100000L + st.st_gid, 65534 * 100000L + 65534, "uid and gid changed");
	tap_eq(fchown(fd, -1, 0), 0, "fchown with -1 keeps the uid");
	fstat(fd, &st);
	tap_eq(st.st_uid * 100000L + st.st_gid, 65534 * 100000L, "only the gid changed");
	symlink("a", "sa");
	tap_eq(lchown("sa", 65534, -1), 0, "lchown");
	lstat("sa", &st2);
	stat("a", &st);
	tap_eq(st2.st_uid * 10 + (st.st_uid == 65534), 65534 * 10 + 1, "lchown changes the link itself");
	tap_eq(S5(SYS_fchownat, AT_FDCWD, "sa", 0, 0, AT_SYMLINK_NOFOLLOW), 0, "fchownat(AT_SYMLINK_NOFOLLOW)");
	tap_eq(S5(SYS_fchownat, AT_FDCWD, "sa", 0, 0, 0), 0, "fchownat through the link");
	stat("a", &st);
	tap_eq(st.st_uid, 0, "the target is root's again");
	tap_eq(S2(SYS_chmod, "nope", 0644), -ENOENT, "chmod of a missing file: ENOENT");
	tap_eq(access("a", R_OK | W_OK), 0, "access as root");
	tap_eq(S2(SYS_access, "a", 8), -EINVAL, "access with a bad mode: EINVAL");
	tap_eq(S2(SYS_access, "nope", F_OK), -ENOENT, "access of a missing file: ENOENT");
	tap_eq(S2(SYS_access, "a", X_OK), -EACCES, "X_OK on a file without x bits, even for root: EACCES");
	tap_eq(S4(SYS_faccessat, AT_FDCWD, "a", R_OK, 0), 0, "faccessat");
	close(fd);

	struct kstatx sx;
	memset(&sx, 0xff, sizeof sx);
	tap_eq(S5(SYS_statx, AT_FDCWD, "a", 0, KSTATX_BASIC_STATS, &sx), 0, "statx");
	tap_eq(sx.stx_mask & KSTATX_BASIC_STATS, KSTATX_BASIC_STATS, "statx reports the basic stats");
	tap_eq(sx.stx_size, 1, "stx_size");
	tap_eq(sx.stx_blksize, 4096, "stx_blksize");
	tap_eq(sx.stx_nlink, 1, "stx_nlink");
	tap_eq(sx.stx_mode, S_IFREG | 0640, "stx_mode");
	tap_eq(sx.stx_mtime.tv_sec, st.st_mtime, "stx_mtime agrees with stat");
	tap_eq(S5(SYS_statx, AT_FDCWD, "sa", AT_SYMLINK_NOFOLLOW, KSTATX_BASIC_STATS, &sx), 0, "statx of a link");
	tap_eq(S_ISLNK(sx.stx_mode), 1, "AT_SYMLINK_NOFOLLOW stats the link");
	tap_eq(S5(SYS_statx, AT_FDCWD, "a", 0x80000000, KSTATX_BASIC_STATS, &sx), -EINVAL, "statx with an unknown flag: EINVAL");
	tap_eq(S5(SYS_statx, AT_FDCWD, "a", 0, 0x80000000, &sx), -EINVAL, "statx with a reserved mask bit: EINVAL");
	stat("a", &st);
	struct timespec pause = { 0, 20000000 };
	nanosleep(&pause, NULL);
	fd = open("a", O_WRONLY);
	write(fd, "y", 1);
	fstat(fd, &st2);
	close(fd);
	tap_ok(st2.st_mtim.tv_sec * 1000000000L + st2.st_mtim.tv_nsec > st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec,
	       "a write moves mtime");
	unlink("sa");
	unlink("a");
}

static void cwd(const char *top)
{
	char buf[PATH_MAX], want[PATH_MAX];
	mkdir("cw", 0755);
	tap_eq(chdir("cw"), 0, "chdir");
	snprintf(want, sizeof want, "%s/cw", top);
	tap_ok(getcwd(buf, sizeof buf) && !strcmp(buf, want), "getcwd follows it");
	tap_eq(S2(SYS_getcwd, buf, 2), -ERANGE, "getcwd with a short buffer: ERANGE");
	mkfile("inside", "", 0644);
	int fd = open("..", O_RDONLY | O_DIRECTORY);
	tap_eq(fchdir(fd), 0, "fchdir");
	close(fd);
	tap_ok(getcwd(buf, sizeof buf) && !strcmp(buf, top), "back at the top");
	tap_eq(S_ISREG(mode_of("cw/inside")), 1, "relative paths start at the cwd");
	tap_eq(S1(SYS_chdir, "cw/inside"), -ENOTDIR, "chdir to a file: ENOTDIR");
	fd = open("cw/inside", O_RDONLY);
	tap_eq(S1(SYS_fchdir, fd), -ENOTDIR, "fchdir to a file: ENOTDIR");
	close(fd);
	unlink("cw/inside");
	chdir("cw");
	tap_eq(rmdir(want), 0, "remove the cwd");
	tap_eq(S2(SYS_getcwd, buf, sizeof buf), -ENOENT, "getcwd of a removed cwd: ENOENT");
	tap_eq(S3(SYS_open, "new", O_CREAT | O_RDWR, 0644), -ENOENT, "no file can be made in it: ENOENT");
	chdir(top);
}

static void emfile(void)
{
	struct rlimit old, rl;
	getrlimit(RLIMIT_NOFILE, &old);
	rl = old;
	rl.rlim_cur = 10;
	setrlimit(RLIMIT_NOFILE, &rl);
	int fds[16], n = 0;
	mkfile("m", "", 0644);
	long r;
	while (n < 16 && (r = S3(SYS_open, "m", O_RDONLY, 0)) >= 0)
		fds[n++] = r;
	tap_eq(r, -EMFILE, "open past RLIMIT_NOFILE: EMFILE");
	tap_eq(n, 7, "up to the limit");
	while (n)
		close(fds[--n]);
	setrlimit(RLIMIT_NOFILE, &old);
	unlink("m");
}

/* Fill the file system: a short write at a page boundary, then ENOSPC;
 * space comes back with the file's removal. */
static void enospc(void)
{
	int fd = open("fill", O_CREAT | O_WRONLY, 0644);
	char *chunk = malloc(MiB);
	memset(chunk, 0x5a, MiB);
	long total = 0, r = 0;
	while (total < (8192 * MiB) && (r = write(fd, chunk, MiB)) == MiB)
		total += r;
	if (r > 0 && r < MiB) {
		total += r;
		r = S3(SYS_write, fd, chunk, MiB);
	} else if (r < 0) {
		r = -errno;
	}
	tap_eq(r, -ENOSPC, "a full file system: ENOSPC");
	tap_eq(total % PG, 0, "the file grew up to a page boundary");
	tap_ok(total >= 8 * MiB, "it took at least 8 MiB before");
	close(fd);
	tap_eq(unlink("fill"), 0, "unlink the filler");
	fd = open("after", O_CREAT | O_WRONLY, 0644);
	tap_eq(write(fd, chunk, MiB), MiB, "its space is free again");
	close(fd);
	unlink("after");
	free(chunk);
}

static void perms(void)
{
	struct stat st;
	char buf[16];
	mkdir("ro", 0755);
	mkfile("ro/secret", "s", 0600);
	mkfile("ro/public", "p", 0644);
	mkdir("locked", 0700);
	mkfile("locked/f", "", 0644);
	mkdir("sticky", 0);
	chmod("sticky", 01777);
	mkfile("sticky/roots", "", 0666);
	tap_eq(setuid(65534), 0, "setuid(65534)");
	tap_eq(S3(SYS_open, "ro/secret", O_RDONLY, 0), -EACCES, "open of another's 0600 file: EACCES");
	tap_eq(S3(SYS_open, "ro/public", O_WRONLY, 0), -EACCES, "open of another's 0644 file for writing: EACCES");
	tap_eq(readfile("ro/public", buf, sizeof buf), 1, "but reading it is fine");
	tap_eq(S2(SYS_truncate, "ro/public", 0), -EACCES, "truncate without write permission: EACCES");
	tap_eq(S3(SYS_open, "locked/f", O_RDONLY, 0), -EACCES, "a path through a 0700 directory: EACCES");
	tap_eq(S2(SYS_stat, "locked/f", &st), -EACCES, "stat through it: EACCES");
	tap_eq(S3(SYS_open, "ro/new", O_CREAT | O_WRONLY, 0644), -EACCES, "create in another's 0755 directory: EACCES");
	tap_eq(S2(SYS_mkdir, "ro/d", 0755), -EACCES, "mkdir there: EACCES");
	tap_eq(S1(SYS_unlink, "ro/public"), -EACCES, "unlink in another's directory: EACCES");
	tap_eq(S2(SYS_rename, "ro/public", "ro/p2"), -EACCES, "rename in another's directory: EACCES");
	tap_eq(S2(SYS_chmod, "ro/public", 0666), -EPERM, "chmod of another's file: EPERM");
	tap_eq(S3(SYS_chown, "ro/public", 65534, -1), -EPERM, "chown of another's file: EPERM");
	tap_eq(S2(SYS_access, "ro/secret", R_OK), -EACCES, "access(R_OK) of another's 0600 file: EACCES");
	tap_eq(S2(SYS_access, "ro/public", R_OK), 0, "access(R_OK) of a 0644 file");
	tap_eq(S2(SYS_access, "ro/public", W_OK), -EACCES, "access(W_OK) of it: EACCES");
	tap_eq(S3(SYS_open, "ro/public", O_RDONLY | O_NOATIME, 0), -EPERM, "O_NOATIME on another's file: EPERM");
	int fd = S3(SYS_open, "sticky/mine", O_CREAT | O_WRONLY, 0644);
	tap_ok(fd >= 0, "create in a 1777 directory");
	fstat(fd, &st);
	tap_eq(st.st_uid * 10 + st.st_gid, 65534 * 10 + 0, "the new file is ours (uid 65534, our gid 0)");
	close(fd);
	tap_eq(S1(SYS_unlink, "sticky/roots"), -EPERM, "unlink of another's file in a sticky directory: EPERM");
	tap_eq(S2(SYS_chmod, "sticky/mine", 0600), 0, "chmod of our own file");
	tap_eq(S3(SYS_chown, "sticky/mine", 0, -1), -EPERM, "giving our file away: EPERM");
	tap_eq(S3(SYS_chown, "sticky/mine", -1, 0), 0, "chown to a group we are in");
	tap_eq(S3(SYS_chown, "sticky/mine", -1, 12345), -EPERM, "chown to a group we are not in: EPERM");
	tap_eq(S1(SYS_unlink, "sticky/mine"), 0, "unlink of our own file");
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	char top[64] = "/tmp/tmpfsXXXXXX";
	tap_begin("tmpfs");
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		return 1;
	}
	on_linux = mount("tmpfs", top, "tmpfs", 0, "size=16m,mode=0777") == 0;
	struct utsname u;
	uname(&u);
	if (!on_linux && !strstr(u.release, "holdfast")) {
		/* Not Holdfast and no tmpfs of our own: the directory may be on
		 * a disk, which the ENOSPC case would fill. */
		tap_ok(0, "mount a tmpfs to run in (needs root): %s", strerror(errno));
		rmdir(top);
		return tap_end();
	}
	printf("# in %s\n", on_linux ? "a 16 MiB tmpfs (Linux)" : "the root tmpfs");
	chmod(top, 0777);
	chdir(top);
	basics();
	open_flags();
	read_write();
	big_file();
	dirs();
	dents();
	renames();
	links();
	unlinked_open();
	attrs();
	cwd(top);
	emfile();
	enospc();
	/* setuid is for good: the permission checks come last. On Linux the
	 * mount is detached first (the cwd keeps it alive until exit) so that
	 * nothing is left behind; on Holdfast the root-owned files they use
	 * stay in the directory for the rest of the boot. */
	if (on_linux) {
		umount2(top, MNT_DETACH);
		rmdir(top);
	}
	perms();
	return tap_end();
}
