/* wait: wait4 and waitid, exit statuses, zombies, orphans, process
 * groups and sessions, prctl(PR_SET_NAME).
 *
 * - Statuses as Linux encodes them: exit code << 8 (WIFEXITED,
 *   WEXITSTATUS), the signal number for a child killed by SIGKILL or by
 *   its own SIGSEGV (WIFSIGNALED, WTERMSIG).
 * - WNOHANG with a running child, ECHILD with none, EINVAL for unknown
 *   options and id types; a child exited with a clone exit signal other
 *   than SIGCHLD is seen only with __WALL.
 * - waitid: P_PID, P_PGID, P_ALL; WNOWAIT leaves the zombie to be
 *   reaped again; siginfo fields si_signo, si_code, si_pid, si_uid,
 *   si_status; WNOHANG with nothing to report zeroes si_pid.
 * - An orphan is re-parented: the test makes itself a child subreaper
 *   (so that Linux and Holdfast agree on who adopts it) and sees it
 *   through the orphan's getppid, then reaps it.
 * - setpgid/getpgid/getpgrp, setsid/getsid, kill(-pgid) and kill(0).
 * - prctl(PR_SET_NAME/PR_GET_NAME), inherited by the child. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* A child that blocks reading `fd` until the parent closes the other end
 * (or kills it). */
static pid_t blocked_child(int fd[2])
{
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(fd[1]);
		_exit(read(fd[0], &c, 1) == 0 ? 3 : 4);
	}
	return pid;
}

static void statuses(void)
{
	int st = -1;
	pid_t pid = fork();
	if (pid == 0)
		_exit(42);
	tap_eq(waitpid(pid, &st, 0), pid, "waitpid returns the child's pid");
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 42 && !WIFSIGNALED(st), "exit(42): WIFEXITED, WEXITSTATUS 42");
	tap_eq(st, 42 << 8, "the raw status is the code << 8");

	int fd[2];
	pipe(fd);
	pid = blocked_child(fd);
	close(fd[0]);
	sleep_ms(20);
	tap_eq(waitpid(pid, &st, WNOHANG), 0, "WNOHANG with the child still running returns 0");
	tap_eq(kill(pid, SIGKILL), 0, "kill(child, SIGKILL)");
	tap_eq(waitpid(pid, &st, 0), pid, "reaped");
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && !WIFEXITED(st), "killed: WIFSIGNALED, WTERMSIG 9");
	tap_eq(st, SIGKILL, "the raw status is the signal number");
	close(fd[1]);

	pid = fork();
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		volatile int *volatile bad = (int *)8;
		*bad = 1;
		_exit(0);
	}
	tap_eq(wait4(pid, &st, 0, NULL), pid, "wait4 reaps the faulting child");
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "its own bad access: WTERMSIG SIGSEGV (%#x)", st);

	struct rusage ru;
	memset(&ru, 0xff, sizeof ru);
	pid = fork();
	if (pid == 0)
		_exit(0);
	tap_eq(wait4(-1, &st, 0, &ru), pid, "wait4(-1) reaps any child");
	tap_ok(ru.ru_utime.tv_sec >= 0 && ru.ru_stime.tv_sec >= 0 && ru.ru_maxrss >= 0, "and fills in its rusage");

	errno = 0;
	tap_eq(waitpid(-1, &st, 0), -1, "no children left: waitpid(-1)");
	tap_eq(errno, ECHILD, "fails with ECHILD");
	errno = 0;
	tap_eq(waitpid(-1, &st, WNOHANG), -1, "ECHILD also with WNOHANG");
	errno = 0;
	tap_eq(waitpid(getpid(), &st, 0), -1, "waiting for a process that is not a child");
	tap_eq(errno, ECHILD, "is ECHILD");
	errno = 0;
	tap_eq(syscall(SYS_wait4, -1, &st, 0x100, 0), -1, "wait4 with an unknown option bit");
	tap_eq(errno, EINVAL, "is EINVAL");
	pid = fork();
	if (pid == 0)
		_exit(0);
	errno = 0;
	tap_eq(syscall(SYS_wait4, pid, (void *)8, 0, 0), -1, "wait4 with a bad status pointer");
	tap_eq(errno, EFAULT, "is EFAULT");
	tap_eq(waitpid(pid, NULL, 0), -1, "and the child was reaped meanwhile");
}

static void wall(void)
{
	int st = -1;
	/* Exit signal 0: a "clone" child in wait's terms. */
	long pid = syscall(SYS_clone, 0, 0, 0, 0, 0);
	if (pid == 0)
		syscall(SYS_exit_group, 5);
	sleep_ms(20);
	errno = 0;
	tap_eq(waitpid(pid, &st, WNOHANG), -1, "a child with exit signal 0 is not waited for without __WALL");
	tap_eq(errno, ECHILD, "ECHILD");
	tap_eq(waitpid(pid, &st, __WALL), pid, "with __WALL it is");
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 5, "its status");
}

static void waitid_cases(void)
{
	siginfo_t si;
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	memset(&si, 0xff, sizeof si);
	tap_eq(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0, "waitid(P_PID, WEXITED|WNOWAIT)");
	tap_eq(si.si_pid, pid, "si_pid");
	tap_eq(si.si_signo, SIGCHLD, "si_signo SIGCHLD");
	tap_eq(si.si_code, CLD_EXITED, "si_code CLD_EXITED");
	tap_eq(si.si_status, 7, "si_status is the exit code");
	tap_eq(si.si_uid, getuid(), "si_uid");
	memset(&si, 0, sizeof si);
	tap_eq(waitid(P_ALL, 0, &si, WEXITED), 0, "WNOWAIT left the zombie: waitid(P_ALL) reaps it");
	tap_eq(si.si_pid, pid, "the same child");
	errno = 0;
	tap_eq(waitid(P_PID, pid, &si, WEXITED), -1, "then it is gone");
	tap_eq(errno, ECHILD, "ECHILD");

	int fd[2];
	pipe(fd);
	pid = blocked_child(fd);
	close(fd[0]);
	memset(&si, 0xff, sizeof si);
	tap_eq(waitid(P_PID, pid, &si, WEXITED | WNOHANG), 0, "WNOHANG with the child running");
	tap_eq(si.si_pid, 0, "zeroes si_pid");
	tap_eq(si.si_signo, 0, "and si_signo");
	kill(pid, SIGKILL);
	tap_eq(waitid(P_PID, pid, &si, WEXITED), 0, "waitid for the killed child");
	tap_eq(si.si_code, CLD_KILLED, "si_code CLD_KILLED");
	tap_eq(si.si_status, SIGKILL, "si_status SIGKILL");
	close(fd[1]);

	errno = 0;
	tap_eq(waitid(P_ALL, 0, &si, WNOHANG), -1, "waitid without WEXITED/WSTOPPED/WCONTINUED");
	tap_eq(errno, EINVAL, "EINVAL");
	errno = 0;
	tap_eq(waitid(P_PID, 0, &si, WEXITED), -1, "waitid(P_PID, 0)");
	tap_eq(errno, EINVAL, "EINVAL");
	errno = 0;
	tap_eq(syscall(SYS_waitid, 42, 0, &si, WEXITED, 0), -1, "an unknown id type");
	tap_eq(errno, EINVAL, "EINVAL");
	errno = 0;
	tap_eq(waitid(P_ALL, 0, &si, WEXITED), -1, "waitid with no children");
	tap_eq(errno, ECHILD, "ECHILD");

	/* P_PGID: a child in a group of its own. */
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		sleep_ms(10);
		_exit(9);
	}
	setpgid(pid, pid);
	tap_eq(getpgid(pid), pid, "setpgid(child, child) made a new group");
	memset(&si, 0, sizeof si);
	tap_eq(waitid(P_PGID, pid, &si, WEXITED), 0, "waitid(P_PGID, its group)");
	tap_ok(si.si_pid == pid && si.si_status == 9, "reaps it");
}

static void orphans(void)
{
	int fd[2];
	pipe(fd);
	tap_eq(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0, "become a child subreaper");
	pid_t me = getpid();
	pid_t mid = fork();
	if (mid == 0) {
		pid_t g = fork();
		if (g == 0) {
			/* Wait until the middle process has exited. */
			pid_t parent = getppid();
			for (int i = 0; i < 500 && getppid() == parent; i++)
				sleep_ms(2);
			pid_t now = getppid();
			write(fd[1], &now, sizeof now);
			_exit(11);
		}
		_exit(g > 0 ? 0 : 1);
	}
	int st = -1;
	tap_eq(waitpid(mid, &st, 0), mid, "the middle process exits");
	pid_t adopted = 0;
	tap_eq(read(fd[0], &adopted, sizeof adopted), sizeof adopted, "the orphan reports");
	tap_eq(adopted, me, "the orphan's getppid is now the subreaper");
	siginfo_t si;
	memset(&si, 0, sizeof si);
	tap_eq(waitid(P_ALL, 0, &si, WEXITED), 0, "the subreaper can wait for the orphan");
	tap_ok(si.si_status == 11 && si.si_pid != mid, "and reaps it (status %d)", si.si_status);
	close(fd[0]);
	close(fd[1]);
}

static void groups_and_sessions(void)
{
	int st = -1;
	pid_t me = getpid();
	tap_eq(getpgid(0), getpgrp(), "getpgid(0) == getpgrp()");
	tap_eq(getsid(0), getsid(me), "getsid(0) == getsid(getpid())");
	errno = 0;
	tap_eq(getpgid(0x3fffff00), -1, "getpgid of no process");
	tap_eq(errno, ESRCH, "ESRCH");
	errno = 0;
	tap_eq(setpgid(0, -1), -1, "setpgid with a negative pgid");
	tap_eq(errno, EINVAL, "EINVAL");

	int fd[2];
	pipe(fd);
	pid_t pid = fork();
	if (pid == 0) {
		int fails = 0;
		pid_t self = getpid();
		fails += setsid() != self;
		fails += getsid(0) != self;
		fails += getpgrp() != self;
		errno = 0;
		fails += setsid() != -1 || errno != EPERM; /* now a group leader */
		char c;
		close(fd[1]);
		read(fd[0], &c, 1);
		_exit(fails);
	}
	sleep_ms(30);
	tap_eq(getsid(pid), pid, "the child's setsid made a new session");
	errno = 0;
	tap_eq(setpgid(pid, getpgrp()), -1, "setpgid of a child in another session");
	tap_eq(errno, EPERM, "EPERM");
	close(fd[0]);
	close(fd[1]);
	tap_eq(waitpid(pid, &st, 0), pid, "reaped");
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "setsid, getsid, getpgrp and EPERM for a group leader in the child (%#x)", st);

	/* kill(-pgid): three children in one new group. */
	pipe(fd);
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = blocked_child(fd);
		setpgid(kids[i], kids[0]);
	}
	close(fd[0]);
	tap_eq(getpgid(kids[2]), kids[0], "the three children share a group");
	tap_eq(kill(-kids[0], SIGKILL), 0, "kill(-pgid, SIGKILL)");
	int killed = 0;
	for (int i = 0; i < 3; i++)
		if (waitpid(kids[i], &st, 0) == kids[i] && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
	tap_eq(killed, 3, "kills every member");
	close(fd[1]);
	errno = 0;
	tap_eq(kill(-kids[0], 0), -1, "kill of an empty group");
	tap_eq(errno, ESRCH, "ESRCH");

	/* kill(0): a child in its own group kills it, its child included. */
	pipe(fd);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		blocked_child(fd);
		sleep_ms(10);
		kill(0, SIGKILL);
		_exit(1);
	}
	setpgid(pid, pid);
	close(fd[0]);
	tap_eq(waitpid(pid, &st, 0), pid, "kill(0, SIGKILL) in the child");
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed itself");
	siginfo_t si;
	memset(&si, 0, sizeof si);
	tap_eq(waitid(P_ALL, 0, &si, WEXITED), 0, "its child (adopted by the subreaper)");
	tap_ok(si.si_code == CLD_KILLED && si.si_status == SIGKILL, "was killed too");
	close(fd[1]);
	tap_eq(kill(0, 0), 0, "kill(0, 0) on the own group");
}

static void names(void)
{
	char name[32] = { 0 };
	tap_eq(prctl(PR_SET_NAME, "wait-test-with-a-long-name", 0, 0, 0), 0, "PR_SET_NAME");
	tap_eq(prctl(PR_GET_NAME, name, 0, 0, 0), 0, "PR_GET_NAME");
	tap_ok(strcmp(name, "wait-test-with-") == 0, "the name, cut to 15 bytes (%s)", name);
	pid_t pid = fork();
	if (pid == 0) {
		char c[32] = { 0 };
		prctl(PR_GET_NAME, c, 0, 0, 0);
		_exit(strcmp(c, "wait-test-with-") != 0);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child has the same name");
}

int main(void)
{
	tap_begin("wait");
	statuses();
	wall();
	waitid_cases();
	orphans();
	groups_and_sessions();
	names();
	return tap_end();
}
