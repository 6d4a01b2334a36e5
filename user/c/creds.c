/* creds: the uid and gid families, supplementary groups, and capabilities
 * with real effect.
 *
 * As Linux's kernel/sys.c, kernel/groups.c, kernel/capability.c and
 * security/commoncap.c: unprivileged set*id calls may only pick among the
 * real, effective and saved ids; the fs ids follow the effective ones;
 * leaving euid 0 clears the effective capabilities and returning to it
 * restores them from the permitted set; once no uid is 0 the permitted
 * set is gone for good. capset may only shrink the permitted set and keep
 * effective within permitted, and dropping CAP_IPC_LOCK from the
 * effective set makes mlock obey RLIMIT_MEMLOCK (what libcap's
 * cap_set_proc is used for). The program starts as root and its caps are
 * read, not assumed (a container may lack some); the irreversible drop to
 * uid 1000 comes last (one process: no fork needed). Every expectation is
 * what Linux 6.x returns; the test runs on both. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096L

#define CAP_V1 0x19980330u
#define CAP_V3 0x20080522u
#define CAP_CHOWN 0
#define CAP_DAC_OVERRIDE 1
#define CAP_SYS_BOOT 22
#define CAP_IPC_LOCK 14
#define CAP_SETUID 7
#define BIT(c) (1ULL << (c))
/* The capabilities an fsuid change moves (commoncap.c CAP_FS_MASK). */
#define CAP_FS_MASK (BIT(0) | BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(9) | BIT(27) | BIT(32))

struct cap_header {
	uint32_t version;
	int pid;
};
struct cap_data {
	uint32_t effective, permitted, inheritable;
};
struct caps {
	uint64_t eff, prm, inh;
};

static long rc(long r)
{
	return r < 0 ? -errno : r;
}

static long capget_v3(int pid, struct caps *c)
{
	struct cap_header h = { CAP_V3, pid };
	struct cap_data d[2];
	memset(d, 0xa5, sizeof d);
	long r = rc(syscall(SYS_capget, &h, d));
	if (r == 0 && c) {
		c->eff = d[0].effective | (uint64_t)d[1].effective << 32;
		c->prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
		c->inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	}
	return r;
}

static long capset_v3(int pid, uint64_t eff, uint64_t prm, uint64_t inh)
{
	struct cap_header h = { CAP_V3, pid };
	struct cap_data d[2] = {
		{ (uint32_t)eff, (uint32_t)prm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32) },
	};
	return rc(syscall(SYS_capset, &h, d));
}

static struct caps now(void)
{
	struct caps c = { 0, 0, 0 };
	capget_v3(0, &c);
	return c;
}

/* The value of `key:` in /proc/self/status, tabs turned into spaces. */
static const char *status_line(const char *key)
{
	static char out[256];
	char line[512];
	size_t n = strlen(key);
	out[0] = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return out;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			char *v = line + n + 1;
			while (*v == '\t' || *v == ' ')
				v++;
			v[strcspn(v, "\n")] = 0;
			for (char *p = v; *p; p++)
				if (*p == '\t')
					*p = ' ';
			snprintf(out, sizeof out, "%s", v);
			/* Linux ends Groups with a space. */
			size_t l = strlen(out);
			while (l && out[l - 1] == ' ')
				out[--l] = 0;
			break;
		}
	}
	fclose(f);
	return out;
}

static void str_eq(const char *got, const char *exp, const char *what)
{
	tap_check(strcmp(got, exp) == 0, got, exp, "%s", what);
}

/* getresuid (gids 0) or getresgid (gids 1) as "R E S" against r e s. */
static void res_ids_eq(int gids, unsigned r, unsigned e, unsigned s, const char *what)
{
	unsigned a = 9, b = 9, c = 9;
	char got[64], exp[64];
	if (gids)
		getresgid(&a, &b, &c);
	else
		getresuid(&a, &b, &c);
	snprintf(got, sizeof got, "%u %u %u", a, b, c);
	snprintf(exp, sizeof exp, "%u %u %u", r, e, s);
	str_eq(got, exp, what);
}

#define resuid_eq(r, e, s, what) res_ids_eq(0, r, e, s, what)
#define resgid_eq(r, e, s, what) res_ids_eq(1, r, e, s, what)

static void capeff_status_eq(uint64_t eff, const char *what)
{
	char exp[32];
	snprintf(exp, sizeof exp, "%016llx", (unsigned long long)eff);
	str_eq(status_line("CapEff"), exp, what);
}

static char *region;

/* mlock of n pages of the test region, munlocked again on success. */
static long mlock_pages(long n)
{
	long r = rc(mlock(region, n * PG));
	if (r == 0)
		munlock(region, n * PG);
	return r;
}

static void capget_cases(struct caps c0)
{
	tap_ok(c0.prm & BIT(CAP_IPC_LOCK), "root has CAP_IPC_LOCK permitted");
	tap_ok(c0.eff & BIT(CAP_IPC_LOCK), "root has CAP_IPC_LOCK effective");
	tap_eq(c0.eff, c0.prm, "root's effective set is its permitted set");
	tap_eq(c0.inh, 0, "root's inheritable set is empty");
	capeff_status_eq(c0.eff, "/proc/self/status CapEff is the effective set");

	struct cap_header h = { 0, 0 };
	tap_eq(rc(syscall(SYS_capget, &h, NULL)), 0, "capget(version 0, NULL data): 0, a version probe");
	tap_eq(h.version, CAP_V3, "... and the header now holds _LINUX_CAPABILITY_VERSION_3");
	struct cap_data d[2];
	h.version = 0xdead;
	tap_eq(rc(syscall(SYS_capget, &h, d)), -EINVAL, "capget of an unknown version: EINVAL");
	tap_eq(h.version, CAP_V3, "... with the preferred version written back");
	h.version = CAP_V1;
	h.pid = 0;
	memset(d, 0, sizeof d);
	tap_eq(rc(syscall(SYS_capget, &h, d)), 0, "capget version 1: one 32-bit set");
	tap_eq(d[0].effective, (uint32_t)c0.eff, "... holding the low 32 capabilities");
	tap_eq(capget_v3(getpid(), NULL), 0, "capget of my own pid");
	tap_eq(capget_v3(999999, &(struct caps){ 0 }), -ESRCH, "capget of no such pid: ESRCH");
	tap_eq(capget_v3(-1, &(struct caps){ 0 }), -EINVAL, "capget of pid -1: EINVAL");
	tap_eq(rc(syscall(SYS_capget, (void *)8, d)), -EFAULT, "capget with a bad header: EFAULT");
}

static void capset_cases(struct caps c0)
{
	tap_eq(capset_v3(999999, c0.eff, c0.prm, 0), -EPERM, "capset of another pid: EPERM");
	tap_eq(capset_v3(0, c0.eff, c0.prm, 0), 0, "capset to the same sets");
	tap_eq(capset_v3(getpid(), c0.eff, c0.prm, 0), 0, "capset naming my own pid");

	/* CAP_IPC_LOCK out of the effective set: RLIMIT_MEMLOCK applies. */
	struct rlimit old;
	getrlimit(RLIMIT_MEMLOCK, &old);
	struct rlimit one = { PG, old.rlim_max };
	tap_eq(rc(setrlimit(RLIMIT_MEMLOCK, &one)), 0, "RLIMIT_MEMLOCK soft limit one page");
	tap_eq(mlock_pages(2), 0, "with CAP_IPC_LOCK effective two pages mlock past the limit");
	uint64_t no_ipc = c0.eff & ~BIT(CAP_IPC_LOCK);
	tap_eq(capset_v3(0, no_ipc, c0.prm, 0), 0, "capset: CAP_IPC_LOCK dropped from effective");
	tap_eq(now().eff, no_ipc, "capget shows it gone");
	tap_eq(now().prm, c0.prm, "... and still permitted");
	capeff_status_eq(no_ipc, "/proc/self/status CapEff follows");
	tap_eq(mlock_pages(2), -ENOMEM, "without it, two pages over a one-page limit: ENOMEM");
	tap_eq(mlock_pages(1), 0, "one page within the limit still locks");
	tap_eq(capset_v3(0, c0.eff, c0.prm, 0), 0, "capset: CAP_IPC_LOCK raised again from permitted");
	tap_eq(mlock_pages(2), 0, "... and the limit no longer applies");
	setrlimit(RLIMIT_MEMLOCK, &old);

	/* Shrinking permitted is for good. */
	uint64_t no_boot = c0.prm & ~BIT(CAP_SYS_BOOT);
	tap_eq(capset_v3(0, c0.eff & no_boot, c0.prm, 0), 0, "capset: CAP_SYS_BOOT dropped from effective");
	tap_eq(capset_v3(0, c0.eff, no_boot, 0), -EPERM, "effective beyond permitted: EPERM");
	tap_eq(capset_v3(0, c0.eff & no_boot, no_boot, 0), 0, "capset: CAP_SYS_BOOT dropped from permitted");
	tap_eq(now().prm, no_boot, "capget shows the smaller permitted set");
	tap_eq(capset_v3(0, c0.eff & no_boot, c0.prm, 0), -EPERM, "permitted cannot grow back: EPERM");
	tap_eq(capset_v3(0, c0.eff & no_boot, no_boot, BIT(CAP_IPC_LOCK)), 0, "inheritable within permitted");
	tap_eq(now().inh, BIT(CAP_IPC_LOCK), "capget shows the inheritable set");
	tap_eq(capset_v3(0, c0.eff & no_boot, no_boot, 0), 0, "inheritable cleared");
}

static void gid_cases(void)
{
	resgid_eq(0, 0, 0, "getresgid of root: 0 0 0");
	tap_eq(rc(setresgid(-1, 100, -1)), 0, "setresgid(-1, 100, -1)");
	resgid_eq(0, 100, 0, "getresgid: only the effective gid moved");
	str_eq(status_line("Gid"), "0 100 0 100", "/proc/self/status Gid: real, effective, saved, fs");
	tap_eq(getegid(), 100, "getegid");
	tap_eq(getgid(), 0, "getgid");
	tap_eq(setfsgid(123), 100, "setfsgid returns the old fsgid");
	tap_eq(setfsgid(-1), 123, "setfsgid(-1) changes nothing and returns the fsgid");
	str_eq(status_line("Gid"), "0 100 0 123", "/proc/self/status shows the fsgid");
	tap_eq(rc(setresgid(0, 0, 0)), 0, "setresgid(0, 0, 0)");
	str_eq(status_line("Gid"), "0 0 0 0", "the fsgid follows the effective gid");
	tap_eq(rc(setregid(-1, 50)), 0, "setregid(-1, 50)");
	resgid_eq(0, 50, 50, "setregid: a new effective gid other than the real one sets the saved gid");
	tap_eq(rc(setgid(0)), 0, "setgid(0) as root sets all three");
	resgid_eq(0, 0, 0, "getresgid after setgid");

	gid_t set[2] = { 7, 5 }, got[4] = { 0 };
	tap_eq(rc(setgroups(2, set)), 0, "setgroups(2)");
	tap_eq(getgroups(0, NULL), 2, "getgroups(0, NULL) counts");
	tap_eq(rc(getgroups(1, got)), -EINVAL, "getgroups with too small a list: EINVAL");
	tap_eq(getgroups(4, got), 2, "getgroups(4)");
	tap_ok(got[0] == 5 && got[1] == 7, "groups come back sorted (got %u %u)", got[0], got[1]);
	str_eq(status_line("Groups"), "5 7", "/proc/self/status Groups");
	tap_eq(rc(syscall(SYS_setgroups, 65537, set)), -EINVAL, "setgroups past NGROUPS_MAX: EINVAL");
	tap_eq(rc(syscall(SYS_setgroups, 1, (void *)8)), -EFAULT, "setgroups from a bad address: EFAULT");
	tap_eq(rc(syscall(SYS_getgroups, 2, (void *)8)), -EFAULT, "getgroups to a bad address: EFAULT");
	tap_eq(rc(setgroups(0, NULL)), 0, "setgroups(0) clears");
	tap_eq(getgroups(0, NULL), 0, "no groups left");
}

static void uid_cases(struct caps c0)
{
	uint64_t c0_eff = now().eff, c0_prm = now().prm;
	(void)c0;
	resuid_eq(0, 0, 0, "getresuid of root: 0 0 0");
	tap_eq(rc(syscall(SYS_getresuid, (void *)8, (void *)8, (void *)8)), -EFAULT, "getresuid to a bad address: EFAULT");

	/* A temporary drop: the effective uid leaves 0 and comes back. */
	tap_eq(rc(setresuid(-1, 1000, -1)), 0, "setresuid(-1, 1000, -1)");
	resuid_eq(0, 1000, 0, "only the effective uid moved");
	str_eq(status_line("Uid"), "0 1000 0 1000", "/proc/self/status Uid: real, effective, saved, fs");
	tap_eq(now().eff, 0, "leaving euid 0 clears the effective capabilities");
	tap_eq(now().prm, c0_prm, "... but not the permitted ones (the real uid is 0)");
	struct rlimit old, one;
	getrlimit(RLIMIT_MEMLOCK, &old);
	one = (struct rlimit){ PG, old.rlim_max };
	setrlimit(RLIMIT_MEMLOCK, &one);
	tap_eq(mlock_pages(2), -ENOMEM, "euid 1000 without CAP_IPC_LOCK: mlock obeys RLIMIT_MEMLOCK");
	tap_eq(rc(setresuid(-1, 0, -1)), 0, "setresuid(-1, 0, -1): 0 is the real uid");
	tap_eq(now().eff, c0_prm, "returning to euid 0 makes the permitted set effective");
	tap_eq(mlock_pages(2), 0, "mlock past the limit again");
	setrlimit(RLIMIT_MEMLOCK, &old);
	tap_eq(capset_v3(0, c0_eff, c0_prm, 0), 0, "effective set restored");

	/* fsuid moves only the file-system capabilities. */
	tap_eq(setfsuid(1000), 0, "setfsuid(1000) returns the old fsuid 0");
	tap_eq(now().eff, c0_eff & ~CAP_FS_MASK, "fsuid 1000 drops exactly the file-system capabilities");
	tap_eq(setfsuid(0), 1000, "setfsuid(0) returns 1000");
	tap_eq(now().eff, c0_eff, "fsuid 0 gives them back");

	/* setreuid's saved-uid rule. */
	tap_eq(rc(setreuid(-1, 1000)), 0, "setreuid(-1, 1000)");
	resuid_eq(0, 1000, 1000, "a new euid other than the real uid becomes the saved uid");
	tap_eq(rc(setreuid(-1, 0)), 0, "setreuid(-1, 0): the real uid");
	resuid_eq(0, 0, 1000, "... leaves the saved uid where it was");
	tap_eq(rc(setresuid(0, 0, 0)), 0, "setresuid(0, 0, 0)");
	tap_eq(rc(setuid(-1)), -EINVAL, "setuid(-1): EINVAL");
}

static void nobody_cases(void)
{
	gid_t g = 0;
	tap_eq(rc(setresgid(1000, 1000, 1000)), 0, "setresgid(1000, 1000, 1000)");
	tap_eq(rc(setresuid(1000, 1000, 1000)), 0, "setresuid(1000, 1000, 1000)");
	resuid_eq(1000, 1000, 1000, "all uids 1000");
	str_eq(status_line("Uid"), "1000 1000 1000 1000", "/proc/self/status Uid");
	tap_eq(now().prm, 0, "no uid is 0: the permitted set is gone");
	tap_eq(now().eff, 0, "... and the effective set");
	str_eq(status_line("CapPrm"), "0000000000000000", "/proc/self/status CapPrm");
	tap_eq(rc(setuid(0)), -EPERM, "setuid(0): EPERM");
	tap_eq(rc(setresuid(-1, 0, -1)), -EPERM, "setresuid(-1, 0, -1): EPERM");
	tap_eq(rc(setreuid(2000, -1)), -EPERM, "setreuid to a stranger's uid: EPERM");
	tap_eq(rc(setuid(1000)), 0, "setuid to my own uid");
	tap_eq(rc(setresuid(-1, -1, -1)), 0, "setresuid(-1, -1, -1) changes nothing");
	tap_eq(rc(setgroups(1, &g)), -EPERM, "setgroups without CAP_SETGID: EPERM");
	tap_eq(rc(setresgid(-1, 0, -1)), -EPERM, "setresgid to gid 0: EPERM");
	tap_eq(setfsuid(0), 1000, "setfsuid(0) fails and returns the fsuid");
	str_eq(status_line("Uid"), "1000 1000 1000 1000", "... which did not change");
	tap_eq(capset_v3(0, BIT(CAP_IPC_LOCK), 0, 0), -EPERM, "capset of a capability not permitted: EPERM");
	tap_eq(capset_v3(0, 0, BIT(CAP_SETUID), 0), -EPERM, "permitted cannot grow: EPERM");
	tap_eq(capset_v3(0, 0, 0, 0), 0, "capset to the empty sets");
	struct rlimit r;
	getrlimit(RLIMIT_MEMLOCK, &r);
	struct rlimit up = { r.rlim_cur, r.rlim_max == RLIM_INFINITY ? r.rlim_max : r.rlim_max + PG };
	if (r.rlim_max != RLIM_INFINITY)
		tap_eq(rc(setrlimit(RLIMIT_MEMLOCK, &up)), -EPERM, "raising a hard limit without CAP_SYS_RESOURCE: EPERM");
	struct rlimit one = { PG, r.rlim_max };
	setrlimit(RLIMIT_MEMLOCK, &one);
	tap_eq(mlock_pages(2), -ENOMEM, "mlock past RLIMIT_MEMLOCK: ENOMEM");
	tap_eq(mlock_pages(1), 0, "mlock within it");
}

int main(void)
{
	tap_begin("creds");
	region = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (region == MAP_FAILED || getuid() != 0) {
		printf("needs root and 4 pages\n");
		return 1;
	}
	struct caps c0 = now();
	capget_cases(c0);
	capset_cases(c0);
	gid_cases();
	uid_cases(c0);
	nobody_cases();
	return tap_end();
}
