/* sysv_shm: System V shared memory (shmget, shmat, shmdt, shmctl) with
 * Linux's semantics.
 *
 * - shmget: key lookup, IPC_PRIVATE, IPC_CREAT | IPC_EXCL (EEXIST), ENOENT,
 *   EINVAL for size 0, beyond SHMMAX or larger than the existing segment.
 * - shmat/shmdt: address rules (EINVAL unaligned without SHM_RND, SHM_RND
 *   rounds down, SHM_REMAP needs an address, an occupied range is EINVAL
 *   without SHM_REMAP), SHM_RDONLY (a write is SIGSEGV, mprotect
 *   PROT_WRITE is EACCES), shmdt of an address nothing is attached at.
 * - Two processes (fork) see each other's writes; shm_nattch counts the
 *   attaching vmas across fork, a split by mprotect, shmdt and exit, with
 *   shm_lpid, shm_atime and shm_dtime as Linux keeps them.
 * - IPC_RMID while attached: SHM_DEST in the mode, key IPC_PRIVATE, the id
 *   stays usable until the last detach, then EINVAL.
 * - SHM_LOCK: SHM_LOCKED (02000) in the mode; pages touched afterwards
 *   count in meminfo's Unevictable, not in Mlocked; SHM_UNLOCK gives
 *   them back.
 * - /proc/sysvipc/shm: Linux's header and the segment's line.
 * - IPC_INFO, SHM_INFO, SHM_STAT.
 * - Four processes attach and detach one segment while it is removed.
 * - As uid 65534: EACCES for shmget/shmat/IPC_STAT without permission,
 *   EPERM for IPC_RMID/IPC_SET/SHM_LOCK by a non-owner and for SHM_LOCK
 *   with RLIMIT_MEMLOCK 0; ENOMEM beyond RLIMIT_MEMLOCK; IPC_SET by the
 *   owner.
 * meminfo counters are per-CPU and folded lazily in Linux: 1 MiB of drift
 * is allowed there. Runs as root. */
#define _GNU_SOURCE
#include "pages.h"
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY 0x5157a11
#define KEY2 0x5157a12
#define LOCK_PAGES 1024 /* 4 MiB */

static long rc(long r)
{
	return r < 0 ? -errno : r;
}

/* shmat's result as a number or -errno. */
static long at(int id, const void *addr, int flg)
{
	void *p = shmat(id, addr, flg);
	return p == (void *)-1 ? -errno : (long)p;
}

static struct shmid_ds stat_of(int id)
{
	struct shmid_ds ds;
	memset(&ds, 0xff, sizeof ds);
	if (shmctl(id, IPC_STAT, &ds) < 0)
		memset(&ds, 0, sizeof ds);
	return ds;
}

static long nattch(int id)
{
	struct shmid_ds ds;
	return shmctl(id, IPC_STAT, &ds) < 0 ? -errno : (long)ds.shm_nattch;
}

static char buf[1 << 16];

static long slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return (long)n;
}

static long meminfo_kb(const char *name)
{
	char pat[48];
	if (slurp("/proc/meminfo") <= 0)
		return -1;
	snprintf(pat, sizeof pat, "\n%s:", name);
	char *s = strstr(buf, pat);
	return s ? strtol(s + strlen(pat), NULL, 10) : -1;
}

static void get_errors(void)
{
	tap_eq(rc(shmget(IPC_PRIVATE, 0, 0600)), -EINVAL, "shmget size 0: EINVAL (below SHMMIN)");
	tap_eq(rc(shmget(IPC_PRIVATE, (size_t)-1, 0600)), -EINVAL, "shmget size beyond SHMMAX: EINVAL");
	tap_eq(rc(shmget(KEY, 4096, 0600)), -ENOENT, "shmget of a missing key without IPC_CREAT: ENOENT");
	int id = shmget(KEY, 4096, IPC_CREAT | 0600);
	tap_ok(id >= 0, "shmget(KEY, IPC_CREAT) creates");
	tap_eq(rc(shmget(KEY, 4096, IPC_CREAT | IPC_EXCL | 0600)), -EEXIST, "IPC_CREAT | IPC_EXCL of an existing key: EEXIST");
	tap_eq(rc(shmget(KEY, 4096, IPC_CREAT | 0600)), id, "IPC_CREAT of an existing key finds it");
	tap_eq(rc(shmget(KEY, 0, 0)), id, "size 0 finds an existing key");
	tap_eq(rc(shmget(KEY, 100, 0)), id, "a smaller size finds it");
	tap_eq(rc(shmget(KEY, 8192, 0)), -EINVAL, "a larger size than the segment's: EINVAL");
	int p1 = shmget(IPC_PRIVATE, 4096, 0600), p2 = shmget(IPC_PRIVATE, 4096, 0600);
	tap_ok(p1 >= 0 && p2 >= 0 && p1 != p2 && p1 != id, "IPC_PRIVATE makes a new segment each time");
	tap_ok(p1 % 32768 != p2 % 32768, "ids of live segments have distinct indexes");
	struct shmid_ds ds = stat_of(id);
	tap_eq(ds.shm_segsz, 4096, "IPC_STAT: shm_segsz");
	tap_eq(ds.shm_perm.__key, KEY, "IPC_STAT: key");
	tap_eq(ds.shm_perm.mode, 0600, "IPC_STAT: mode");
	tap_eq(ds.shm_perm.uid + ds.shm_perm.cuid + ds.shm_perm.gid + ds.shm_perm.cgid, 0, "IPC_STAT: uid, gid, cuid, cgid 0");
	tap_eq(ds.shm_cpid, getpid(), "IPC_STAT: shm_cpid is the creator");
	tap_eq(ds.shm_lpid, 0, "IPC_STAT: shm_lpid 0 before any attach");
	tap_eq(ds.shm_nattch, 0, "IPC_STAT: nattch 0");
	tap_ok(ds.shm_atime == 0 && ds.shm_dtime == 0 && ds.shm_ctime >= time(NULL) - 5, "IPC_STAT: atime, dtime 0, ctime now");
	tap_eq(rc(shmctl(id, 12345, &ds)), -EINVAL, "shmctl unknown command: EINVAL");
	tap_eq(rc(shmctl(-1, IPC_STAT, &ds)), -EINVAL, "shmctl negative id: EINVAL");
	tap_eq(rc(shmctl(id + 32768, IPC_STAT, &ds)), -EINVAL, "shmctl id of a wrong sequence: EINVAL");
	tap_eq(rc(shmctl(id, IPC_STAT, (void *)8)), -EFAULT, "IPC_STAT to a bad buffer: EFAULT");

	/* IPC_INFO, SHM_INFO, SHM_STAT. */
	struct shminfo info;
	long maxidx = rc(shmctl(0, IPC_INFO, (struct shmid_ds *)&info));
	tap_ok(maxidx >= id % 32768 && maxidx >= p2 % 32768, "IPC_INFO returns the highest index in use");
	tap_ok(info.shmmin == 1 && info.shmmni == 4096 && info.shmseg == 4096 && info.shmmax == ~0UL - (1UL << 24),
	       "IPC_INFO: shmmin 1, shmmni 4096, shmseg 4096, shmmax ULONG_MAX - 2^24");
	struct shm_info sinfo;
	tap_eq(rc(shmctl(0, SHM_INFO, (struct shmid_ds *)&sinfo)), maxidx, "SHM_INFO returns the highest index too");
	tap_ok(sinfo.__used_ids >= 3 && sinfo.shm_tot >= 3, "SHM_INFO: used_ids and shm_tot count our 3 segments");
	tap_eq(rc(shmctl(id % 32768, SHM_STAT, &ds)), id, "SHM_STAT(index) returns the id");
	tap_eq(ds.shm_segsz, 4096, "SHM_STAT fills the shmid_ds");
	tap_eq(rc(shmctl(id + 2 * 32768, SHM_STAT, &ds)), id, "SHM_STAT takes only the index of what it is given");
	tap_eq(rc(shmctl(4095, SHM_STAT, &ds)), -EINVAL, "SHM_STAT of an unused index: EINVAL");

	/* IPC_RMID without attachments: gone at once. */
	tap_eq(rc(shmctl(p1, IPC_RMID, NULL)), 0, "IPC_RMID of an unattached segment");
	tap_eq(rc(shmctl(p1, IPC_STAT, &ds)), -EINVAL, "then its id is EINVAL");
	tap_eq(rc(shmctl(p1, IPC_RMID, NULL)), -EINVAL, "IPC_RMID again: EINVAL");
	shmctl(p2, IPC_RMID, NULL);
	shmctl(id, IPC_RMID, NULL);
	tap_eq(rc(shmget(KEY, 4096, 0600)), -ENOENT, "the removed key is not found");
}

static void attach_rules(void)
{
	int id = shmget(IPC_PRIVATE, 3 * PG, 0600);
	tap_eq(at(-1, NULL, 0), -EINVAL, "shmat id -1: EINVAL");
	tap_eq(at(id + 32768, NULL, 0), -EINVAL, "shmat wrong sequence: EINVAL");
	tap_eq(at(id, NULL, SHM_REMAP), -EINVAL, "SHM_REMAP without an address: EINVAL");
	/* A free, aligned region to attach at. */
	char *hole = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, 8 * PG);
	tap_eq(at(id, hole + 5, 0), -EINVAL, "an unaligned address without SHM_RND: EINVAL");
	tap_eq(at(id, (void *)(PG - 1), SHM_RND | SHM_REMAP), -EINVAL, "SHM_RND rounding down to 0 with SHM_REMAP: EINVAL");
	long a = at(id, hole + 5, SHM_RND);
	tap_eq(a, (long)hole, "SHM_RND rounds the address down");
	tap_eq(at(id, hole + 2 * PG, 0), -EINVAL, "an address overlapping a mapping: EINVAL");
	tap_eq(nattch(id), 1, "a failed shmat leaves nattch alone");
	char *m = mmap(hole + 4 * PG, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	m[0] = 7;
	tap_eq(at(id, hole + 4 * PG, SHM_REMAP), (long)(hole + 4 * PG), "SHM_REMAP replaces a mapping");
	tap_eq(hole[4 * PG], 0, "and shows the segment there");
	tap_eq(nattch(id), 2, "two attaches: nattch 2");
	hole[0] = 42;
	tap_eq(hole[4 * PG], 42, "both attaches map the same pages");
	tap_eq(rc(shmdt(hole + 1)), -EINVAL, "shmdt unaligned: EINVAL");
	tap_eq(rc(shmdt(hole + 3 * PG)), -EINVAL, "shmdt where no segment starts: EINVAL");
	tap_eq(rc(shmdt(hole + PG)), -EINVAL, "shmdt inside an attach, not at its start: EINVAL");
	/* A split by mprotect: each vma counts, as in Linux. */
	tap_eq(rc(mprotect(hole, PG, PROT_READ)), 0, "mprotect the first page of an attach");
	tap_eq(nattch(id), 3, "the split attach counts twice");
	tap_eq(rc(mprotect(hole, PG, PROT_READ | PROT_WRITE)), 0, "mprotect it back");
	tap_eq(nattch(id), 3, "a segment's vmas do not merge again (Linux)");
	tap_eq(rc(shmdt(hole)), 0, "shmdt of the split attach");
	tap_eq(nattch(id), 1, "removes both of its vmas");
	tap_eq(resident(hole, 3), -1, "its range is unmapped");
	tap_eq(rc(shmdt(hole + 4 * PG)), 0, "shmdt of the other");
	tap_eq(nattch(id), 0, "nattch 0");
	tap_eq(rc(shmdt(hole + 4 * PG)), -EINVAL, "shmdt again: EINVAL");
	int small = shmget(0x5eed, 100, IPC_CREAT | 0600);
	long s = at(small, NULL, 0);
	tap_ok(s > 0, "attach a 100-byte segment");
	tap_eq(resident((void *)s, 1), 0, "it maps one page");
	/* maps names the segment's file: /SYSV<key> (deleted), inode = id. */
	char want[128], line[256];
	int found = 0;
	snprintf(want, sizeof want, "%08lx-%08lx rw-s 00000000 00:01 %d", (unsigned long)s, (unsigned long)s + PG, small);
	FILE *f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, want, strlen(want)) == 0 && strstr(line, " /SYSV00005eed (deleted)\n"))
			found = 1;
	if (f)
		fclose(f);
	tap_ok(found, "maps: %s /SYSV00005eed (deleted)", want);
	shmdt((void *)s);
	shmctl(small, IPC_RMID, NULL);
	shmctl(id, IPC_RMID, NULL);
}

static void read_only(void)
{
	int id = shmget(IPC_PRIVATE, PG, 0600);
	char *w = shmat(id, NULL, 0);
	w[10] = 'x';
	char *r = shmat(id, NULL, SHM_RDONLY);
	tap_ok(r != (void *)-1 && r[10] == 'x', "SHM_RDONLY attach reads the segment");
	tap_eq(rc(mprotect(r, PG, PROT_READ | PROT_WRITE)), -EACCES, "mprotect PROT_WRITE of a SHM_RDONLY attach: EACCES");
	pid_t pid = fork();
	if (pid == 0) {
		r[10] = 'y';
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "a write through SHM_RDONLY: SIGSEGV (status %#x)", st);
	tap_eq(w[10], 'x', "and changed nothing");
	shmdt(w);
	shmdt(r);
	shmctl(id, IPC_RMID, NULL);
}

static void across_fork(void)
{
	int id = shmget(IPC_PRIVATE, 4 * PG, 0600);
	int go[2], back[2];
	pipe(go);
	pipe(back);
	time_t t0 = time(NULL);
	char *p = shmat(id, NULL, 0);
	struct shmid_ds ds = stat_of(id);
	tap_ok(ds.shm_nattch == 1 && ds.shm_lpid == getpid() && ds.shm_atime >= t0, "after shmat: nattch 1, lpid, atime");
	fill(p, 0, 2, 'a');
	pid_t pid = fork();
	if (pid == 0) {
		int bits = 0;
		char c;
		if (bad_pages(p, 0, 2, 'a'))
			bits |= 1;
		if (nattch(id) != 2)
			bits |= 2;
		fill(p, 2, 2, 'k');
		if (write(back[1], "1", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(100);
		if (bad_pages(p, 0, 2, 'p'))
			bits |= 4;
		_exit(bits);
	}
	char c;
	tap_ok(read(back[0], &c, 1) == 1, "the child ran");
	tap_eq(bad_pages(p, 2, 2, 'k'), 0, "the parent sees the child's writes");
	ds = stat_of(id);
	tap_eq(ds.shm_nattch, 2, "nattch 2 with the child");
	tap_eq(ds.shm_lpid, getpid(), "fork's attach is the parent's (lpid)");
	fill(p, 0, 2, 'p');
	write(go[1], "1", 1);
	int st;
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st), "the child exited");
	tap_eq(WEXITSTATUS(st) & 1, 0, "the child saw the parent's writes before the fork");
	tap_eq(WEXITSTATUS(st) & 2, 0, "the child saw nattch 2");
	tap_eq(WEXITSTATUS(st) & 4, 0, "the child saw the parent's writes after the fork");
	ds = stat_of(id);
	tap_eq(ds.shm_nattch, 1, "the child's exit detached it");
	tap_eq(ds.shm_lpid, pid, "lpid is the exiting child");
	tap_ok(ds.shm_dtime >= t0, "dtime set by the exit");

	/* IPC_RMID while attached. */
	tap_eq(rc(shmctl(id, IPC_RMID, NULL)), 0, "IPC_RMID while attached");
	ds = stat_of(id);
	tap_eq(ds.shm_perm.mode, 01600, "the mode has SHM_DEST");
	tap_eq(ds.shm_perm.__key, IPC_PRIVATE, "the key is IPC_PRIVATE");
	tap_eq(bad_pages(p, 0, 2, 'p'), 0, "the attach still works");
	long q = at(id, NULL, 0);
	tap_ok(q > 0, "a removed segment can still be attached by id (Linux)");
	tap_eq(nattch(id), 2, "nattch 2");
	shmdt((void *)q);
	pid = fork();
	if (pid == 0)
		_exit(shmdt(p) == 0 && nattch(id) == 1 ? 0 : 1);
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child's shmdt drops its own count");
	tap_eq(rc(shmdt(p)), 0, "the last shmdt");
	tap_eq(nattch(id), -EINVAL, "the removed segment is gone with its last attach");
}

/* /proc/sysvipc/shm: the header and the line for id, from IPC_STAT. */
static void proc_line(int id, long rss_pages)
{
	static const char header[] = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n";
	struct shmid_ds ds = stat_of(id);
	char want[256];
	snprintf(want, sizeof want, "%10d %10d  %4o %21lu %5u %5u  %5lu %5u %5u %5u %5u %10llu %10llu %10llu %21lu %21lu\n",
		 ds.shm_perm.__key, id, ds.shm_perm.mode, (unsigned long)ds.shm_segsz, ds.shm_cpid, ds.shm_lpid,
		 (unsigned long)ds.shm_nattch, ds.shm_perm.uid, ds.shm_perm.gid, ds.shm_perm.cuid, ds.shm_perm.cgid,
		 (unsigned long long)ds.shm_atime, (unsigned long long)ds.shm_dtime, (unsigned long long)ds.shm_ctime,
		 rss_pages * PG, 0UL);
	tap_ok(slurp("/proc/sysvipc/shm") > 0, "/proc/sysvipc/shm reads");
	tap_ok(!strncmp(buf, header, strlen(header)), "its header is Linux's");
	char *line = strstr(buf, want);
	tap_ok(line && line[-1] == '\n', "the segment's line: %.*s", (int)strlen(want) - 1, want);
	if (!line)
		printf("# got:\n%s", buf);
}

/* Other processes on a Linux host move the system-wide meminfo counters
 * too: each delta is measured in a short window, and an experiment whose
 * deltas are off is run again, up to 5 times (Holdfast: exact, once). */
#define ABOUT(d, kb) ((d) >= (kb) - 1024 && (d) <= (kb) + 1024)

static void locking(void)
{
	int id = -1, round, populated = 0, culled = 0, not_mlocked = 0;
	long d_lock = 0, d_unev = 0, d_mlocked = 0, lock_rc = 0, unlock_rc = 0;
	char *p = NULL;
	for (round = 0; round < 5; round++) {
		id = shmget(KEY2, LOCK_PAGES * PG, IPC_CREAT | 0640);
		long unev0 = meminfo_kb("Unevictable");
		lock_rc = rc(shmctl(id, SHM_LOCK, NULL));
		d_lock = meminfo_kb("Unevictable") - unev0;
		p = shmat(id, NULL, 0);
		unev0 = meminfo_kb("Unevictable");
		long mlocked0 = meminfo_kb("Mlocked");
		fill(p, 0, LOCK_PAGES, 's');
		d_unev = meminfo_kb("Unevictable") - unev0;
		d_mlocked = meminfo_kb("Mlocked") - mlocked0;
		populated = labs(d_lock) < 1024, culled = ABOUT(d_unev, 4096), not_mlocked = labs(d_mlocked) < 1024;
		if (populated && culled && not_mlocked)
			break;
		shmdt(p);
		shmctl(id, IPC_RMID, NULL);
	}
	tap_eq(lock_rc, 0, "SHM_LOCK");
	tap_ok(populated, "SHM_LOCK populates nothing (%+ld kB, round %d)", d_lock, round);
	tap_ok(culled, "pages touched afterwards are Unevictable (%+ld kB)", d_unev);
	tap_ok(not_mlocked, "but not Mlocked (%+ld kB)", d_mlocked);
	tap_eq(rc(shmctl(id, SHM_LOCK, NULL)), 0, "SHM_LOCK again");
	tap_eq(stat_of(id).shm_perm.mode, 02640, "the mode has SHM_LOCKED");
	proc_line(id, LOCK_PAGES);
	long d = 0;
	for (round = 0; round < 5; round++) {
		long unev0 = meminfo_kb("Unevictable");
		unlock_rc = rc(shmctl(id, SHM_UNLOCK, NULL));
		d = meminfo_kb("Unevictable") - unev0;
		if (ABOUT(d, -4096))
			break;
		/* Off: lock again and move the pages back with mlock/munlock. */
		shmctl(id, SHM_LOCK, NULL);
		mlock(p, LOCK_PAGES * PG);
		munlock(p, LOCK_PAGES * PG);
	}
	tap_eq(unlock_rc, 0, "SHM_UNLOCK");
	tap_ok(ABOUT(d, -4096), "SHM_UNLOCK makes them evictable (%+ld kB)", d);
	tap_eq(stat_of(id).shm_perm.mode, 0640, "the mode loses SHM_LOCKED");
	tap_eq(rc(shmctl(id, SHM_UNLOCK, NULL)), 0, "SHM_UNLOCK of an unlocked segment");
	tap_eq(bad_pages(p, 0, LOCK_PAGES, 's'), 0, "the data stayed");
	/* SHM_LOCK leaves pages already on the evictable list there (Linux
	 * leaves them to reclaim); mlock and munlock of them then keep them
	 * unevictable. */
	long d_relock = 0, d_munlock = 0, d_unlock = 0;
	for (round = 0; round < 5; round++) {
		long unev0 = meminfo_kb("Unevictable");
		shmctl(id, SHM_LOCK, NULL);
		d_relock = meminfo_kb("Unevictable") - unev0;
		unev0 = meminfo_kb("Unevictable");
		mlock(p, LOCK_PAGES * PG);
		munlock(p, LOCK_PAGES * PG);
		d_munlock = meminfo_kb("Unevictable") - unev0;
		unev0 = meminfo_kb("Unevictable");
		shmctl(id, SHM_UNLOCK, NULL);
		d_unlock = meminfo_kb("Unevictable") - unev0;
		if (labs(d_relock) < 1024 && ABOUT(d_munlock, 4096) && ABOUT(d_unlock, -4096))
			break;
	}
	tap_ok(labs(d_relock) < 1024, "SHM_LOCK leaves evictable pages evictable (%+ld kB)", d_relock);
	tap_ok(ABOUT(d_munlock, 4096), "mlock and munlock leave a SHM_LOCKed segment's pages unevictable (%+ld kB)", d_munlock);
	tap_ok(ABOUT(d_unlock, -4096), "SHM_UNLOCK gives them back (%+ld kB)", d_unlock);
	shmdt(p);
	shmctl(id, IPC_RMID, NULL);
}

/* As uid 65534 in a child: permission errors on root's 0600 segment;
 * the child's own segment's id comes back through a pipe. */
static void unprivileged(void)
{
	int id = shmget(KEY, PG, IPC_CREAT | 0600);
	int fds[2];
	pipe(fds);
	pid_t pid = fork();
	if (pid == 0) {
		int bits = 0;
		struct shmid_ds ds;
		struct rlimit hard = { 1 << 20, 1 << 20 };
		if (setrlimit(RLIMIT_MEMLOCK, &hard) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		if (rc(shmget(KEY, 0, 0600)) != -EACCES)
			bits |= 1;
		if (rc(shmget(KEY, 0, 0)) != id)
			bits |= 2;
		if (at(id, NULL, SHM_RDONLY) != -EACCES)
			bits |= 4;
		if (rc(shmctl(id, IPC_STAT, &ds)) != -EACCES)
			bits |= 8;
		if (rc(shmctl(id, IPC_RMID, NULL)) != -EPERM)
			bits |= 16;
		memset(&ds, 0, sizeof ds);
		ds.shm_perm.mode = 0666;
		if (rc(shmctl(id, IPC_SET, &ds)) != -EPERM)
			bits |= 32;
		if (rc(shmctl(id, SHM_LOCK, NULL)) != -EPERM)
			bits |= 64;
		/* Its own segment. */
		int mine = shmget(IPC_PRIVATE, 32 * PG, 0600);
		struct rlimit rl = { 0, 1 << 20 };
		setrlimit(RLIMIT_MEMLOCK, &rl);
		if (rc(shmctl(mine, SHM_LOCK, NULL)) != -EPERM)
			bits |= 128;
		/* The parent checks what these did (the mode, the owner). */
		rl.rlim_cur = 32 * PG;
		setrlimit(RLIMIT_MEMLOCK, &rl);
		shmctl(mine, SHM_LOCK, NULL);
		shmctl(mine, IPC_STAT, &ds);
		ds.shm_perm.mode = 0644;
		shmctl(mine, IPC_SET, &ds);
		write(fds[1], &mine, sizeof mine);
		_exit(bits);
	}
	int st, mine = -1;
	waitpid(pid, &st, 0);
	read(fds[0], &mine, sizeof mine);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) != 100, "the child became uid 65534");
	int bits = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	tap_eq(bits & 1, 0, "shmget asking for more than the mode grants: EACCES");
	tap_eq(bits & 2, 0, "shmget asking for nothing finds it");
	tap_eq(bits & 4, 0, "shmat without read permission: EACCES");
	tap_eq(bits & 8, 0, "IPC_STAT without read permission: EACCES");
	tap_eq(bits & 16, 0, "IPC_RMID by a non-owner: EPERM");
	tap_eq(bits & 32, 0, "IPC_SET by a non-owner: EPERM");
	tap_eq(bits & 64, 0, "SHM_LOCK by a non-owner: EPERM");
	tap_eq(bits & 128, 0, "SHM_LOCK with RLIMIT_MEMLOCK 0: EPERM");
	struct shmid_ds ds = stat_of(mine);
	tap_eq(ds.shm_perm.uid, 65534, "the child's segment belongs to 65534");
	tap_eq(ds.shm_perm.mode, 02644, "SHM_LOCK within RLIMIT_MEMLOCK and IPC_SET by the owner worked");
	tap_ok(ds.shm_ctime >= time(NULL) - 5, "IPC_SET set ctime");
	ds.shm_perm.uid = 0;
	tap_eq(rc(shmctl(mine, IPC_SET, &ds)), 0, "root may IPC_SET any segment");
	tap_eq(stat_of(mine).shm_perm.uid, 0, "and give it away");
	tap_eq(stat_of(mine).shm_perm.cuid, 65534, "cuid stays");
	tap_eq(rc(shmctl(mine, IPC_RMID, NULL)), 0, "root removes it");
	shmctl(id, IPC_RMID, NULL);
}

/* As uid 65534: SHM_LOCK against RLIMIT_MEMLOCK, summed over the
 * user's locked segments (Linux's user_shm_lock). */
static void unprivileged_limits(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		int bits = 0;
		struct rlimit hard = { 1 << 20, 1 << 20 };
		if (setrlimit(RLIMIT_MEMLOCK, &hard) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(100);
		int mine = shmget(IPC_PRIVATE, 32 * PG, 0600);
		struct rlimit rl = { 16 * PG, 1 << 20 };
		setrlimit(RLIMIT_MEMLOCK, &rl);
		if (rc(shmctl(mine, SHM_LOCK, NULL)) != -ENOMEM)
			bits |= 1;
		rl.rlim_cur = 32 * PG;
		setrlimit(RLIMIT_MEMLOCK, &rl);
		if (rc(shmctl(mine, SHM_LOCK, NULL)) != 0)
			bits |= 2;
		int other = shmget(IPC_PRIVATE, PG, 0600);
		if (rc(shmctl(other, SHM_LOCK, NULL)) != -ENOMEM)
			bits |= 4;
		if (rc(shmctl(mine, SHM_UNLOCK, NULL)) != 0 || rc(shmctl(other, SHM_LOCK, NULL)) != 0)
			bits |= 8;
		shmctl(other, SHM_UNLOCK, NULL);
		shmctl(mine, IPC_RMID, NULL);
		shmctl(other, IPC_RMID, NULL);
		_exit(bits);
	}
	int st;
	waitpid(pid, &st, 0);
	int bits = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	tap_eq(bits & 1, 0, "SHM_LOCK beyond RLIMIT_MEMLOCK: ENOMEM");
	tap_eq(bits & 2, 0, "SHM_LOCK within RLIMIT_MEMLOCK: 0");
	tap_eq(bits & 4, 0, "the user's locked segments add up against the limit: ENOMEM");
	tap_eq(bits & 8, 0, "SHM_UNLOCK gives the user's allowance back");
}

/* Four processes attach, write and detach one segment in a loop while
 * the parent removes it: every shmat either works or fails once the
 * segment is gone, with EINVAL (the id is no longer found) or, in Linux,
 * EIDRM (shmat found the segment just before the last detach destroyed
 * it: do_shmat's ipc_valid_object check), nothing else; at the end the
 * segment is gone and its memory with it (meminfo's Shmem). */
static void racing(void)
{
	enum { KIDS = 4, ROUNDS = 300, PAGES = LOCK_PAGES };
	long shmem0 = meminfo_kb("Shmem");
	int id = shmget(IPC_PRIVATE, PAGES * PG, 0600);
	char *p = shmat(id, NULL, 0);
	fill(p, 0, PAGES, 'r');
	long grown = meminfo_kb("Shmem") - shmem0;
	shmdt(p);
	pid_t kids[KIDS];
	for (int k = 0; k < KIDS; k++) {
		kids[k] = fork();
		if (kids[k] == 0) {
			for (int r = 0; r < ROUNDS; r++) {
				char *q = shmat(id, NULL, 0);
				if (q == (void *)-1)
					_exit(errno == EINVAL || errno == EIDRM ? 0 : errno);
				q[(r % PAGES) * PG] = (char)k;
				if (shmdt(q) != 0)
					_exit(255);
			}
			_exit(0);
		}
	}
	usleep(2000);
	tap_eq(rc(shmctl(id, IPC_RMID, NULL)), 0, "IPC_RMID while four processes attach and detach");
	int bad = 0;
	for (int k = 0; k < KIDS; k++) {
		int st;
		waitpid(kids[k], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
	}
	tap_eq(bad, 0, "every shmat worked or failed with EINVAL or EIDRM, every shmdt worked (else errno, 255 shmdt, 1000+signal)");
	tap_eq(nattch(id), -EINVAL, "the segment is gone after the last detach");
	long d = meminfo_kb("Shmem") - shmem0;
	tap_ok(ABOUT(grown, 4096) && labs(d) < 1024, "its 4 MiB (Shmem %+ld kB) went with it (%+ld kB)", grown, d);
}

int main(void)
{
	tap_begin("sysv_shm");
	get_errors();
	attach_rules();
	read_only();
	across_fork();
	locking();
	unprivileged();
	unprivileged_limits();
	racing();
	return tap_end();
}
