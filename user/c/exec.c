/* exec: execve and execveat, without fork: the program executes itself in
 * stages and checks in each new image what Linux's exec promises.
 *
 *   start     errors that leave the caller running (ENOENT, ENOTDIR,
 *             EACCES, ENOEXEC, EFAULT, ENAMETOOLONG, E2BIG, ELOOP, EINVAL);
 *             then, with threads running, an mlocked region, MCL_FUTURE,
 *             descriptors with and without close-on-exec and a SIGUSR1
 *             handler, execve of itself with many, long and empty
 *             arguments and environment strings.
 *   image2    argv/envp arrived intact, AT_EXECFN is the path; same pid,
 *             one thread, nothing mlocked and MCL_FUTURE gone, the old
 *             mapping gone, close-on-exec descriptors closed and the others
 *             open at their offsets, the handler reset and SIG_IGN kept,
 *             the name is the file's; then execveat with AT_EMPTY_PATH.
 *   image3    execveat's image; executes the #! script exec_script.sh,
 *             whose interpreter exec_echo executes this program again:
 *   from-echo the argv binfmt_script built (interpreter, its argument,
 *             the script's path, the original argv[1..]); then a script
 *             whose interpreter is that script; then, from a thread other
 *             than the main one, execve into
 *   final     one thread, the same pid; the summary.
 *
 * The files come from the directory of argv[0] (the initrd's root on
 * Holdfast, the build directory on Linux), which becomes the working
 * directory: exec_echo, exec_script.sh (#!./exec_echo  one  two ),
 * exec_nested.sh (#!./exec_script.sh), exec_loop.sh (#! itself),
 * exec_garbage (executable, neither ELF nor #!) and exec_noexec.txt (not
 * executable). The TAP counters travel in EXEC_TAP. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PG 4096L
#define MAX_ARG_STRLEN (32 * PG)
#define NARGS 1000
#define LONG_ARG 100000
#define LONG_ENV 50000
#define KPTR_ ((long)0xffff800000000000UL)

extern char **environ;

static const char *SELF = "./exec";
/* Where the old image maps its mlocked region: an address nothing else
 * uses, so that the new image's own mappings cannot land there. */
#define LOCKED_AT 0x5a5a00000000UL

static long sys(long nr, long a, long b, long c, long d, long e)
{
	long r = syscall(nr, a, b, c, d, e);
	return r == -1 ? -errno : r;
}

static long execve_(const char *path, char *const argv[], char *const envp[])
{
	return sys(SYS_execve, (long)path, (long)argv, (long)envp, 0, 0);
}

static long execveat_(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
	return sys(SYS_execveat, dirfd, (long)path, (long)argv, (long)envp, flags);
}

/* ------------------------------------------------------------ environment */

/* The environment for the next image: EXEC_TAP with the counters, then
 * `extra`, then the inherited strings that are neither of those (nor the
 * empty and long test strings, which only image2 gets). */
static int same_key(const char *a, const char *b)
{
	const char *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) + 1 : strlen(a) + 1;
	return strncmp(a, b, n) == 0;
}

static char **next_env(char *const extra[])
{
	static char tap[64];
	size_t n = 0, e = 0;
	while (environ[n])
		n++;
	while (extra && extra[e])
		e++;
	char **env = calloc(n + e + 2, sizeof *env);
	size_t k = 0;
	snprintf(tap, sizeof tap, "EXEC_TAP=%d:%d", tap_n, tap_failed);
	env[k++] = tap;
	for (size_t i = 0; i < e; i++)
		env[k++] = extra[i];
	for (size_t i = 0; i < n; i++) {
		const char *s = environ[i];
		int skip = s[0] == '\0' || same_key(s, "EXEC_TAP=") || same_key(s, "EMPTY=") || same_key(s, "EXEC_LONG=");
		for (size_t j = 0; j < e && !skip; j++)
			skip = extra[j][0] != '\0' && same_key(s, extra[j]);
		if (!skip)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	return env;
}

static int has_env(const char *s)
{
	for (char **e = environ; *e; e++)
		if (strcmp(*e, s) == 0)
			return 1;
	return 0;
}

static long env_long(const char *name)
{
	const char *v = getenv(name);
	return v ? strtol(v, NULL, 0) : -1;
}

/* ------------------------------------------------------------ /proc */

/* The number after "key:" in /proc/self/status, or -1. */
static long status_field(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof line, f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

static int status_name_is(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	char line[256], want[256];
	snprintf(want, sizeof want, "Name:\t%s\n", name);
	int ok = 0;
	while (fgets(line, sizeof line, f))
		if (strcmp(line, want) == 0)
			ok = 1;
	fclose(f);
	return ok;
}

/* Does /proc/self/maps list a mapping starting at `addr`? */
static int maps_has(unsigned long addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (strtoul(line, NULL, 16) == addr)
			found = 1;
	fclose(f);
	return found;
}

static int maps_has_stack(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, "[stack]"))
			found = 1;
	fclose(f);
	return found;
}

/* ------------------------------------------------------------ threads */

static int pipe_fds[2];

static void *spinner(void *arg)
{
	(void)arg;
	for (volatile unsigned long i = 0;; i++)
		;
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	char c;
	for (;;)
		if (read(pipe_fds[0], &c, 1) < 0)
			return NULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void start_threads(int n)
{
	void *(*kinds[])(void *) = {spinner, reader, sleeper};
	for (int i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, kinds[i % 3], NULL) != 0)
			tap_ok(0, "pthread_create %d", i);
	}
}

static void wait_threads(int n)
{
	for (int i = 0; i < 1000 && status_field("Threads") != n; i++)
		usleep(1000);
}

/* ------------------------------------------------------------ stages */

static void on_usr1(int sig) { (void)sig; }

/* The argv of the image2 stage: renamed argv[0], the stage, empty
 * strings, a string with spaces, NARGS short ones, a long one. */
static char **image2_argv(void)
{
	static char **argv;
	if (argv)
		return argv;
	argv = calloc(NARGS + 16, sizeof *argv);
	int k = 0;
	argv[k++] = "renamed-argv0";
	argv[k++] = "image2";
	argv[k++] = "";
	argv[k++] = "a b\tc";
	argv[k++] = "";
	for (int i = 0; i < NARGS; i++) {
		char *s = malloc(16);
		snprintf(s, 16, "arg%d", i);
		argv[k++] = s;
	}
	char *big = malloc(LONG_ARG + 1);
	for (int i = 0; i < LONG_ARG; i++)
		big[i] = 'a' + i % 26;
	big[LONG_ARG] = 0;
	argv[k++] = big;
	argv[k++] = "last";
	argv[k] = NULL;
	return argv;
}

static char *long_env(void)
{
	static char *s;
	if (!s) {
		s = malloc(LONG_ENV + 16);
		strcpy(s, "EXEC_LONG=");
		size_t l = strlen(s);
		for (int i = 0; i < LONG_ENV; i++)
			s[l + i] = 'A' + i % 26;
		s[l + LONG_ENV] = 0;
	}
	return s;
}

static void errors(void)
{
	char *argv[] = {"x", NULL};
	char **env = next_env(NULL);
	tap_eq(execve_("./exec_missing", argv, env), -ENOENT, "execve of a missing file: ENOENT");
	tap_eq(execve_("./exec_garbage/x", argv, env), -ENOTDIR, "a file as a directory in the path: ENOTDIR");
	tap_eq(execve_("./exec_noexec.txt", argv, env), -EACCES, "a file without execute permission: EACCES");
	tap_eq(execve_(".", argv, env), -EACCES, "a directory: EACCES");
	tap_eq(execve_("./exec_garbage", argv, env), -ENOEXEC, "neither ELF nor #!: ENOEXEC");
	tap_eq(execve_("./exec_loop.sh", argv, env), -ELOOP, "a #! script that names itself: ELOOP");
	tap_eq(execve_("", argv, env), -ENOENT, "an empty path: ENOENT");
	tap_eq(execve_((char *)8, argv, env), -EFAULT, "a path at an unmapped address: EFAULT");
	tap_eq(execve_((char *)KPTR_, argv, env), -EFAULT, "a path in the kernel: EFAULT");
	tap_eq(sys(SYS_execve, (long)SELF, 8, (long)env, 0, 0), -EFAULT, "an argv array at an unmapped address: EFAULT");
	char *bad_argv[] = {"x", (char *)8, NULL};
	tap_eq(execve_(SELF, bad_argv, env), -EFAULT, "an argv string at an unmapped address: EFAULT");
	char *bad_env[] = {"A=1", (char *)KPTR_, NULL};
	tap_eq(execve_(SELF, argv, bad_env), -EFAULT, "an envp string in the kernel: EFAULT");
	tap_eq(execve_(SELF, argv, (char **)KPTR_), -EFAULT, "an envp array in the kernel: EFAULT");
	tap_eq(sys(SYS_execve, (long)"./exec_missing", 8, (long)env, 0, 0), -ENOENT, "the file is looked up before argv is read");

	char *longpath = malloc(PATH_MAX + 8);
	memset(longpath, 'x', PATH_MAX + 7);
	longpath[PATH_MAX + 7] = 0;
	tap_eq(execve_(longpath, argv, env), -ENAMETOOLONG, "a path longer than PATH_MAX: ENAMETOOLONG");
	memcpy(longpath, "./", 2);
	longpath[NAME_MAX + 3] = 0;
	tap_eq(execve_(longpath, argv, env), -ENAMETOOLONG, "a component longer than NAME_MAX: ENAMETOOLONG");
	free(longpath);

	/* The strings are copied before the file's format is looked at, so an
	 * exec of exec_garbage tells E2BIG (too much) from ENOEXEC (fine)
	 * without risking a successful exec. RLIMIT_STACK 8 MiB: 2 MiB for
	 * argv and envp. */
	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	rl.rlim_cur = 8 << 20;
	tap_eq(setrlimit(RLIMIT_STACK, &rl), 0, "RLIMIT_STACK 8 MiB");
	char *huge = malloc(MAX_ARG_STRLEN + 1);
	memset(huge, 'h', MAX_ARG_STRLEN);
	huge[MAX_ARG_STRLEN] = 0;
	char *one_huge[] = {"x", huge, NULL};
	tap_eq(execve_("./exec_garbage", one_huge, env), -E2BIG, "one string of MAX_ARG_STRLEN bytes plus its NUL: E2BIG");
	huge[MAX_ARG_STRLEN - 1] = 0;
	tap_eq(execve_("./exec_garbage", one_huge, env), -ENOEXEC, "one of MAX_ARG_STRLEN - 1 bytes passes the limits");
	char *many[24];
	for (int i = 0; i < 23; i++)
		many[i] = huge;
	many[23] = NULL;
	tap_eq(execve_("./exec_garbage", many, env), -E2BIG, "23 strings of 128 KiB (more than RLIMIT_STACK / 4): E2BIG");
	many[8] = NULL;
	tap_eq(execve_("./exec_garbage", many, env), -ENOEXEC, "8 strings of 128 KiB are within RLIMIT_STACK / 4");
	char *huge_env[] = {huge, NULL};
	for (int i = 0; i < 16; i++)
		many[i] = huge;
	many[16] = NULL;
	tap_eq(execve_("./exec_garbage", many, huge_env), -E2BIG, "argv and envp count together: E2BIG");
	free(huge);
	tap_eq(execve_("./exec_garbage", NULL, NULL), -ENOEXEC, "NULL argv and envp are accepted");
	free(env);
}

static void stage_start(int nthreads)
{
	errors();

	/* Descriptors: plain (with an offset), O_CLOEXEC, FD_CLOEXEC set by
	 * fcntl, and a dup of the O_CLOEXEC one with the flag cleared. */
	int keep = open("./exec_noexec.txt", O_RDONLY);
	int cloexec = open("./exec_noexec.txt", O_RDONLY | O_CLOEXEC);
	int setfd = open("./exec_noexec.txt", O_RDONLY);
	tap_ok(keep >= 0 && cloexec >= 0 && setfd >= 0, "three descriptors open");
	tap_eq(lseek(keep, 5, SEEK_SET), 5, "the plain descriptor at offset 5");
	tap_eq(fcntl(setfd, F_SETFD, FD_CLOEXEC), 0, "FD_CLOEXEC set with fcntl");
	int dup_keep = fcntl(cloexec, F_DUPFD_CLOEXEC, 20);
	tap_eq(fcntl(dup_keep, F_SETFD, 0), 0, "a dup of the O_CLOEXEC descriptor, its flag cleared");
	tap_eq(fcntl(cloexec, F_GETFD), FD_CLOEXEC, "the failed execs left the O_CLOEXEC descriptor open");

	/* Memory: an mlocked region, then MCL_FUTURE. */
	char *locked = mmap((void *)LOCKED_AT, 16 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	tap_ok(locked == (char *)LOCKED_AT, "a region at %#lx", LOCKED_AT);
	tap_eq(mlock(locked, 16 * PG), 0, "mlock 16 pages");
	tap_eq(mlockall(MCL_CURRENT | MCL_FUTURE), 0, "mlockall(MCL_CURRENT | MCL_FUTURE)");
	tap_ok(status_field("VmLck") >= 64, "VmLck counts them before the exec (%ld kB)", status_field("VmLck"));

	/* Signals: a handler for SIGUSR1, SIGUSR2 ignored. */
	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	tap_eq(sigaction(SIGUSR1, &sa, NULL), 0, "a SIGUSR1 handler");
	sa.sa_handler = SIG_IGN;
	tap_eq(sigaction(SIGUSR2, &sa, NULL), 0, "SIGUSR2 ignored");

	/* Threads: spinning, blocked reading a pipe, sleeping. */
	tap_eq(pipe(pipe_fds), 0, "a pipe for the readers");
	start_threads(nthreads);
	wait_threads(nthreads + 1);
	tap_eq(status_field("Threads"), nthreads + 1, "%d threads before the exec", nthreads + 1);

	static char pid[32], fds[64], addr[64];
	snprintf(pid, sizeof pid, "EXEC_PID=%d", getpid());
	snprintf(fds, sizeof fds, "EXEC_FDS=%d,%d,%d,%d", keep, cloexec, setfd, dup_keep);
	snprintf(addr, sizeof addr, "EXEC_ADDR=%#lx", (unsigned long)locked);
	char *extra[] = {pid, fds, addr, "", "EMPTY=", long_env(), "EXEC_LAST=1", NULL};
	char **env = next_env(extra);
	long r = execve_(SELF, image2_argv(), env);
	tap_eq(r, 0, "execve of itself returned");
}

static void stage_image2(int argc, char **argv)
{
	char **want = image2_argv();
	int n = 0;
	while (want[n])
		n++;
	tap_eq(argc, n, "argc arrived");
	int same = argc == n;
	for (int i = 0; same && i < n; i++)
		if (strcmp(argv[i], want[i]) != 0) {
			same = 0;
			printf("# argv[%d] differs\n", i);
		}
	tap_ok(same, "every argv string arrived intact (empty, with spaces, %d short, one of %d bytes)", NARGS, LONG_ARG);
	tap_ok(argv[argc] == NULL, "argv ends with NULL");
	tap_ok(has_env(""), "an empty environment string arrived");
	tap_ok(has_env("EMPTY="), "EMPTY= arrived");
	tap_ok(has_env(long_env()), "an environment string of %d bytes arrived", LONG_ENV);
	tap_ok(has_env("EXEC_LAST=1"), "the last extra environment string arrived");
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	tap_ok(execfn && strcmp(execfn, SELF) == 0, "AT_EXECFN is the path executed (%s), not argv[0]", execfn ? execfn : "(null)");

	tap_eq(getpid(), env_long("EXEC_PID"), "the same pid");
	tap_eq(status_field("Threads"), 1, "one thread (Threads: 1)");
	tap_ok(status_name_is("exec"), "the name is the file's base name, not argv[0]'s");
	tap_eq(status_field("VmLck"), 0, "nothing mlocked (VmLck: 0)");
	char *fresh = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fresh[0] = 1;
	tap_eq(status_field("VmLck"), 0, "MCL_FUTURE gone: a new mapping is not locked");
	munmap(fresh, 8 * PG);
	unsigned long old = (unsigned long)env_long("EXEC_ADDR");
	unsigned char vec[16];
	tap_eq(sys(SYS_mincore, (long)old, 16 * PG, (long)vec, 0, 0), -ENOMEM, "the old image's mlocked region is not mapped");
	tap_eq(maps_has(old), 0, "/proc/self/maps does not list it");
	tap_ok(maps_has_stack(), "/proc/self/maps lists the new [stack]");

	int keep, cloexec, setfd, dup_keep;
	if (sscanf(getenv("EXEC_FDS") ? getenv("EXEC_FDS") : "", "%d,%d,%d,%d", &keep, &cloexec, &setfd, &dup_keep) != 4) {
		tap_ok(0, "EXEC_FDS arrived");
		return;
	}
	tap_eq(fcntl(keep, F_GETFD), 0, "the plain descriptor is open, without FD_CLOEXEC");
	tap_eq(lseek(keep, 0, SEEK_CUR), 5, "at its offset");
	tap_eq(sys(SYS_fcntl, cloexec, F_GETFD, 0, 0, 0), -EBADF, "the O_CLOEXEC descriptor is closed");
	tap_eq(sys(SYS_fcntl, setfd, F_GETFD, 0, 0, 0), -EBADF, "the FD_CLOEXEC descriptor is closed");
	tap_eq(fcntl(dup_keep, F_GETFD), 0, "its dup without the flag is open");
	close(keep);
	close(dup_keep);

	struct sigaction sa;
	tap_eq(sigaction(SIGUSR1, NULL, &sa), 0, "sigaction(SIGUSR1)");
	tap_ok(sa.sa_handler == SIG_DFL, "the SIGUSR1 handler is reset to SIG_DFL");
	tap_eq(sigaction(SIGUSR2, NULL, &sa), 0, "sigaction(SIGUSR2)");
	tap_ok(sa.sa_handler == SIG_IGN, "SIGUSR2 stays ignored");

	/* execveat: errors, then AT_EMPTY_PATH on a descriptor of itself. */
	char *argv3[] = {"exec", "image3", NULL};
	char **env = next_env(NULL);
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	int self = open(SELF, O_RDONLY);
	tap_ok(dir >= 0 && self >= 0, "a directory and itself open");
	tap_eq(execveat_(self, "", argv3, env, 0), -ENOENT, "execveat with an empty path, no AT_EMPTY_PATH: ENOENT");
	tap_eq(execveat_(self, "", argv3, env, 0x1), -ENOENT, "an empty path is ENOENT before an unknown flag is looked at");
	tap_eq(execveat_(AT_FDCWD, "./exec_garbage", argv3, env, 0x1), -EINVAL, "execveat with an unknown flag: EINVAL");
	tap_eq(execveat_(self, "exec", argv3, env, 0), -ENOTDIR, "a relative path from a file descriptor: ENOTDIR");
	tap_eq(execveat_(99, "exec", argv3, env, 0), -EBADF, "a relative path from a closed descriptor: EBADF");
	tap_eq(execveat_(dir, "", argv3, env, AT_EMPTY_PATH), -EACCES, "AT_EMPTY_PATH on a directory: EACCES");
	tap_eq(execveat_(dir, "exec_garbage", argv3, env, AT_SYMLINK_NOFOLLOW), -ENOEXEC,
	       "a path relative to a directory descriptor is found (ENOEXEC)");
	free(env);
	tap_eq(execveat_(self, "", argv3, next_env(NULL), AT_EMPTY_PATH), 0, "execveat(AT_EMPTY_PATH) returned");
}

static void stage_image3(int argc, char **argv)
{
	tap_ok(argc == 2 && strcmp(argv[0], "exec") == 0, "execveat's image has its argv");
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	tap_ok(execfn && strncmp(execfn, "/dev/fd/", 8) == 0, "AT_EXECFN is /dev/fd/N (%s)", execfn ? execfn : "(null)");
	tap_eq(status_field("Threads"), 1, "one thread");

	char *sargv[] = {"SCRIPT0", "x1", "", "x 3", NULL};
	char *extra[] = {"EXEC_RETURN=./exec", "EXEC_NEXT=script", NULL};
	long r = execve_("./exec_script.sh", sargv, next_env(extra));
	tap_eq(r, 0, "execve of the #! script returned");
}

static int argv_is(int argc, char **argv, const char *const want[])
{
	int n = 0;
	while (want[n])
		n++;
	if (argc != n) {
		printf("# argc %d, expected %d\n", argc, n);
		return 0;
	}
	for (int i = 0; i < n; i++)
		if (strcmp(argv[i], want[i]) != 0) {
			printf("# argv[%d] = \"%s\", expected \"%s\"\n", i, argv[i], want[i]);
			return 0;
		}
	return 1;
}

static void *exec_final(void *arg)
{
	(void)arg;
	char *fargv[] = {"exec", "final", NULL};
	long r = execve_(SELF, fargv, next_env(NULL));
	tap_eq(r, 0, "execve from a second thread returned");
	exit(tap_end());
}

static void stage_from_echo(int argc, char **argv, int nthreads)
{
	const char *next = getenv("EXEC_NEXT");
	if (next && strcmp(next, "script") == 0) {
		static const char *const want[] = {"./exec_echo", "one  two", "./exec_script.sh", "x1", "", "x 3", NULL};
		tap_ok(argv_is(argc - 2, argv + 2, want), "#! script: interpreter, its one argument, the script, argv[1..]");
		char *nargv[] = {"N0", "n1", NULL};
		char *extra[] = {"EXEC_RETURN=./exec", "EXEC_NEXT=nested", NULL};
		long r = execve_("./exec_nested.sh", nargv, next_env(extra));
		tap_eq(r, 0, "execve of the nested #! script returned");
		return;
	}
	static const char *const want[] = {"./exec_echo", "one  two", "./exec_script.sh", "./exec_nested.sh", "n1", NULL};
	tap_ok(argv_is(argc - 2, argv + 2, want), "a script as interpreter: each level rewrites argv");
	tap_eq(pipe(pipe_fds), 0, "a pipe for the readers");
	start_threads(nthreads);
	wait_threads(nthreads + 1);
	/* The thread's exec ends this image at any moment: nothing is
	 * reported here after it starts. */
	pthread_t t;
	if (pthread_create(&t, NULL, exec_final, NULL) != 0) {
		tap_ok(0, "a thread that executes the last stage");
		return;
	}
	pthread_join(t, NULL);
}

static void stage_final(void)
{
	tap_eq(getpid(), env_long("EXEC_PID"), "the same pid after an exec from a second thread");
	tap_eq(syscall(SYS_gettid), getpid(), "the thread that executed has the pid as its tid");
	tap_eq(status_field("Threads"), 1, "one thread (Threads: 1)");
}

int main(int argc, char **argv)
{
	tap_begin("exec");
	const char *tap = getenv("EXEC_TAP");
	if (tap)
		sscanf(tap, "%d:%d", &tap_n, &tap_failed);
	const char *stage = argc > 1 && tap ? argv[1] : "start";
	int nthreads = 3;
	const char *nt = getenv("EXEC_THREADS");
	if (nt)
		nthreads = atoi(nt);
	printf("# stage %s\n", stage);

	if (strcmp(stage, "start") == 0) {
		if (argc > 1)
			nthreads = atoi(argv[1]);
		/* Work from argv[0]'s directory. */
		const char *slash = strrchr(argv[0], '/');
		if (slash && slash != argv[0]) {
			char dir[PATH_MAX];
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - argv[0]), argv[0]);
			if (chdir(dir) != 0)
				tap_ok(0, "chdir %s", dir);
		}
		static char nts[32];
		snprintf(nts, sizeof nts, "EXEC_THREADS=%d", nthreads);
		putenv(nts);
		stage_start(nthreads);
	} else if (strcmp(stage, "image2") == 0) {
		stage_image2(argc, argv);
	} else if (strcmp(stage, "image3") == 0) {
		stage_image3(argc, argv);
	} else if (strcmp(stage, "from-echo") == 0) {
		stage_from_echo(argc, argv, nthreads);
	} else if (strcmp(stage, "final") == 0) {
		stage_final();
	} else {
		tap_ok(0, "unknown stage %s", stage);
	}
	return tap_end();
}
