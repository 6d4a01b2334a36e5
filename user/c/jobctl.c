/* jobctl: job-control stops, as Linux's kernel/signal.c.
 *
 * SIGSTOP, SIGTSTP, SIGTTIN and SIGTTOU with the default action stop the
 * whole process; SIGCONT resumes it (and runs its handler if it has one);
 * SIGKILL ends a stopped process. The parent gets SIGCHLD with CLD_STOPPED
 * or CLD_CONTINUED (not with SA_NOCLDSTOP); wait4 reports a stop once with
 * WUNTRACED (status 0x7f | sig << 8) and a continue once with WCONTINUED
 * (0xffff); waitid reports them with WSTOPPED and WCONTINUED. SIGCONT
 * discards a pending stop signal. A stopped child does not run: its
 * counter in a MAP_SHARED page (touched before the fork, so shared) stays
 * still. The SIGTSTP cases run the child in its own process group (a stop
 * from the terminal's signals is ignored in an orphaned group), and every
 * case runs in a child of the program, so that where the program is the
 * first process (Holdfast) those groups are not orphaned either: the
 * children of init do not keep a group from being orphaned. Every
 * expectation is what Linux 6.x does; the test runs on both. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long *shared;
enum { COUNT, CONT_RAN, GO, READY, TSTP_PENDING };

static volatile sig_atomic_t chld_n, chld_code, chld_status, chld_pid;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld_n++;
	chld_code = si->si_code;
	chld_status = si->si_status;
	chld_pid = si->si_pid;
}

static void chld_handler(int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | flags;
	sigaction(SIGCHLD, &sa, NULL);
}

/* Sleep the whole `ms`, whatever signals arrive. */
static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static unsigned long count(void)
{
	return __atomic_load_n(&shared[COUNT], __ATOMIC_SEQ_CST);
}

static void spin(void)
{
	for (;;)
		__atomic_fetch_add(&shared[COUNT], 1, __ATOMIC_SEQ_CST);
}

/* Wait (at most 5 s) for the child's counter to move. */
static int runs(void)
{
	unsigned long c = count();
	for (int i = 0; i < 500; i++) {
		sleep_ms(10);
		if (count() != c)
			return 1;
	}
	return 0;
}

static pid_t spinner(int own_group)
{
	shared[COUNT] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		if (own_group)
			setpgid(0, 0);
		spin();
	}
	if (own_group)
		setpgid(pid, pid);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	int st = 0;
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
}

static void stop_and_continue(void)
{
	chld_handler(0);
	pid_t pid = spinner(0);
	tap_ok(runs(), "the child runs");
	chld_n = 0;
	kill(pid, SIGSTOP);
	int st = 0;
	tap_eq(waitpid(pid, &st, WUNTRACED), pid, "waitpid WUNTRACED reports the stop");
	tap_eq(st, 0x7f | SIGSTOP << 8, "status 0x7f | SIGSTOP << 8");
	tap_ok(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP, "WIFSTOPPED, WSTOPSIG SIGSTOP");
	tap_eq(chld_n, 1, "one SIGCHLD");
	tap_eq(chld_code, CLD_STOPPED, "si_code CLD_STOPPED");
	tap_eq(chld_status, SIGSTOP, "si_status SIGSTOP");
	tap_eq(chld_pid, pid, "si_pid the child");
	tap_eq(waitpid(pid, &st, WUNTRACED | WNOHANG), 0, "the stop is reported once");
	tap_eq(waitpid(pid, &st, WCONTINUED | WNOHANG), 0, "no continue to report yet");
	unsigned long c1 = count();
	sleep_ms(60);
	tap_eq(count(), c1, "a stopped child does not run");

	kill(pid, SIGCONT);
	st = 0;
	tap_eq(waitpid(pid, &st, WCONTINUED), pid, "waitpid WCONTINUED reports the continue");
	tap_eq(st, 0xffff, "status 0xffff");
	tap_ok(WIFCONTINUED(st), "WIFCONTINUED");
	/* Linux sends this SIGCHLD from the continued child, which may not
	 * have run yet. */
	for (int i = 0; i < 500 && chld_n < 2; i++)
		sleep_ms(10);
	tap_eq(chld_n, 2, "a second SIGCHLD");
	tap_eq(chld_code, CLD_CONTINUED, "si_code CLD_CONTINUED");
	tap_eq(chld_status, SIGCONT, "si_status SIGCONT");
	tap_eq(waitpid(pid, &st, WCONTINUED | WNOHANG), 0, "the continue is reported once");
	tap_ok(runs(), "the continued child runs again");

	kill(pid, SIGSTOP);
	waitpid(pid, &st, WUNTRACED);
	kill(pid, SIGKILL);
	st = 0;
	tap_eq(waitpid(pid, &st, 0), pid, "SIGKILL ends a stopped child");
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed by SIGKILL (%#x)", st);
}

static void with_waitid(void)
{
	pid_t pid = spinner(1);
	runs();
	kill(pid, SIGTSTP);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	tap_eq(waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT), 0, "waitid WSTOPPED|WNOWAIT");
	tap_ok(si.si_code == CLD_STOPPED && si.si_status == SIGTSTP && si.si_pid == pid,
	       "CLD_STOPPED by SIGTSTP (code %d status %d)", si.si_code, si.si_status);
	memset(&si, 0, sizeof si);
	tap_eq(waitid(P_PID, pid, &si, WSTOPPED), 0, "waitid WSTOPPED reports it again");
	tap_ok(si.si_code == CLD_STOPPED && si.si_status == SIGTSTP, "CLD_STOPPED again");
	memset(&si, 0, sizeof si);
	tap_eq(waitid(P_PID, pid, &si, WSTOPPED | WNOHANG), 0, "waitid WSTOPPED|WNOHANG");
	tap_eq(si.si_pid, 0, "nothing left to report");
	unsigned long c1 = count();
	sleep_ms(50);
	tap_eq(count(), c1, "stopped by SIGTSTP, the child does not run");
	kill(pid, SIGCONT);
	memset(&si, 0, sizeof si);
	tap_eq(waitid(P_PID, pid, &si, WCONTINUED), 0, "waitid WCONTINUED");
	tap_ok(si.si_code == CLD_CONTINUED && si.si_status == SIGCONT && si.si_pid == pid,
	       "CLD_CONTINUED by SIGCONT (code %d status %d)", si.si_code, si.si_status);
	tap_ok(runs(), "it runs again");
	kill_and_reap(pid);
}

static void on_cont(int sig)
{
	(void)sig;
	shared[CONT_RAN] = 1;
}

static void cont_handler(void)
{
	shared[CONT_RAN] = 0;
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGCONT, on_cont);
		shared[READY] = 1;
		spin();
	}
	while (!shared[READY])
		sleep_ms(1);
	shared[READY] = 0;
	int st;
	kill(pid, SIGSTOP);
	waitpid(pid, &st, WUNTRACED);
	tap_eq(shared[CONT_RAN], 0, "SIGCONT's handler has not run while stopped");
	kill(pid, SIGCONT);
	for (int i = 0; i < 500 && !shared[CONT_RAN]; i++)
		sleep_ms(10);
	tap_eq(shared[CONT_RAN], 1, "SIGCONT's handler runs in the continued child");
	kill_and_reap(pid);
}

static void nocldstop(void)
{
	chld_handler(SA_NOCLDSTOP);
	pid_t pid = spinner(0);
	runs();
	chld_n = 0;
	int st;
	kill(pid, SIGSTOP);
	tap_eq(waitpid(pid, &st, WUNTRACED), pid, "SA_NOCLDSTOP: the stop is still reported by waitpid");
	kill(pid, SIGCONT);
	tap_eq(waitpid(pid, &st, WCONTINUED), pid, "... and the continue");
	sleep_ms(20);
	tap_eq(chld_n, 0, "but no SIGCHLD for either");
	kill_and_reap(pid);
	chld_handler(0);
}

static void cont_discards_stop(void)
{
	shared[GO] = shared[READY] = 0;
	shared[TSTP_PENDING] = 99;
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		sigset_t tstp, pend;
		sigemptyset(&tstp);
		sigaddset(&tstp, SIGTSTP);
		sigprocmask(SIG_BLOCK, &tstp, NULL);
		shared[READY] = 1;
		while (!shared[GO])
			sleep_ms(1);
		sigpending(&pend);
		shared[TSTP_PENDING] = sigismember(&pend, SIGTSTP);
		sigprocmask(SIG_UNBLOCK, &tstp, NULL);
		shared[READY] = 2;
		spin();
	}
	setpgid(pid, pid);
	while (shared[READY] != 1)
		sleep_ms(1);
	kill(pid, SIGTSTP);
	kill(pid, SIGCONT);
	shared[GO] = 1;
	while (shared[READY] != 2)
		sleep_ms(1);
	tap_eq(shared[TSTP_PENDING], 0, "SIGCONT discarded the pending SIGTSTP");
	int st;
	sleep_ms(30);
	tap_eq(waitpid(pid, &st, WUNTRACED | WNOHANG), 0, "the child did not stop");
	tap_ok(runs(), "it runs");
	kill_and_reap(pid);
}

int main(void)
{
	tap_begin("jobctl");
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		return 100;
	shared[COUNT] = 0; /* present before fork: shared with the children */
	fflush(stdout);
	pid_t runner = fork();
	if (runner == 0) {
		stop_and_continue();
		with_waitid();
		cont_handler();
		nocldstop();
		cont_discards_stop();
		_exit(tap_end());
	}
	int st = 0;
	if (waitpid(runner, &st, 0) != runner || !WIFEXITED(st)) {
		printf("# the runner ended with %#x\n", st);
		return 100;
	}
	return WEXITSTATUS(st);
}
