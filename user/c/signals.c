/* signals: handlers run, with Linux's semantics.
 *
 * raise/kill/tgkill reach a handler; SA_SIGINFO's siginfo (si_signo,
 * si_code SI_USER/SI_TKILL, si_pid, si_uid) and ucontext (the FPU state
 * pointer, trap number and error code of a fault); SIGSEGV's si_addr and
 * si_code (SEGV_MAPERR, SEGV_ACCERR); SIGILL, SIGFPE and SIGTRAP from ud2,
 * a division by zero and int3; SA_RESTART restarts a pipe read that a
 * signal interrupted while without it the read fails with EINTR, and
 * nanosleep (with the time left) and poll fail with EINTR after a handler;
 * nested signals, SA_NODEFER, SA_RESETHAND; blocked masks, sigpending,
 * sigsuspend, ppoll's mask, sigtimedwait (and its EAGAIN timeout);
 * sigaltstack (the handler's locals lie on the alternate stack; EPERM
 * while on it, ENOMEM below MINSIGSTKSZ); alarm interrupting a blocked
 * read; a periodic setitimer; SSE and MXCSR preserved across a handler
 * that clobbers them (and reset to the initial state inside it); a
 * process-directed signal going to the thread that does not block it;
 * SIGPIPE ignored or handled gives EPIPE; kill/rt_sigaction errors.
 * What Linux does; the test runs on both. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static volatile sig_atomic_t hits, depth, max_depth;
static volatile int last_sig;
static siginfo_t last_info;
static volatile long handler_tid;

static long gettid_(void) { return syscall(SYS_gettid); }

static void on(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void on_info(int sig, void (*h)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = flags | SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void count(int sig)
{
	hits++;
	last_sig = sig;
	handler_tid = gettid_();
}

static void record_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	hits++;
	last_sig = sig;
	last_info = *si;
}

static int blocked(int sig)
{
	sigset_t s;
	sigprocmask(SIG_BLOCK, NULL, &s);
	return sigismember(&s, sig);
}

static void test_basic(void)
{
	hits = 0;
	on(SIGUSR1, count, 0);
	tap_eq(raise(SIGUSR1), 0, "raise(SIGUSR1) succeeds");
	tap_eq(hits, 1, "the handler ran once, before raise returned");
	tap_eq(last_sig, SIGUSR1, "the handler got its signal number");
	tap_eq(blocked(SIGUSR1), 0, "SIGUSR1 is unblocked again after the handler");

	hits = 0;
	on_info(SIGUSR2, record_info, 0);
	tap_eq(kill(getpid(), SIGUSR2), 0, "kill(getpid(), SIGUSR2)");
	tap_eq(hits, 1, "the SA_SIGINFO handler ran");
	tap_eq(last_info.si_signo, SIGUSR2, "si_signo");
	tap_eq(last_info.si_code, SI_USER, "si_code is SI_USER for kill");
	tap_eq(last_info.si_pid, getpid(), "si_pid is the sender");
	tap_eq(last_info.si_uid, getuid(), "si_uid is the sender's uid");

	hits = 0;
	tap_eq(syscall(SYS_tgkill, getpid(), gettid_(), SIGUSR2), 0, "tgkill(self, SIGUSR2)");
	tap_eq(hits, 1, "the handler ran for tgkill");
	tap_eq(last_info.si_code, SI_TKILL, "si_code is SI_TKILL for tgkill");
	tap_eq(last_info.si_pid, getpid(), "tgkill: si_pid");

	/* Ignored by default: SIGCHLD, SIGURG, SIGWINCH, SIGCONT. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGWINCH, SIG_DFL);
	raise(SIGCHLD);
	raise(SIGWINCH);
	raise(SIGURG);
	tap_ok(1, "SIGCHLD, SIGWINCH and SIGURG with SIG_DFL are ignored");
	signal(SIGUSR1, SIG_IGN);
	raise(SIGUSR1);
	tap_ok(1, "SIGUSR1 with SIG_IGN is ignored");
}

static void test_errors(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = count;
	errno = 0;
	tap_eq(sigaction(SIGKILL, &sa, NULL), -1, "sigaction(SIGKILL) fails");
	tap_eq(errno, EINVAL, "... with EINVAL");
	errno = 0;
	tap_eq(sigaction(SIGSTOP, &sa, NULL), -1, "sigaction(SIGSTOP) fails");
	tap_eq(errno, EINVAL, "... with EINVAL");
	tap_eq(syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4), -1, "rt_sigaction with sigsetsize 4 fails");
	tap_eq(errno, EINVAL, "... with EINVAL");
	tap_eq(syscall(SYS_rt_sigaction, 65, NULL, NULL, 8), -1, "rt_sigaction(65) fails");
	tap_eq(errno, EINVAL, "... with EINVAL");
	tap_eq(syscall(SYS_rt_sigaction, 0, NULL, NULL, 8), -1, "rt_sigaction(0) fails");
	tap_eq(errno, EINVAL, "... with EINVAL");
	tap_eq(kill(getpid(), 0), 0, "kill(self, 0) checks existence");
	errno = 0;
	tap_eq(kill(getpid(), 65), -1, "kill(self, 65) fails");
	tap_eq(errno, EINVAL, "... with EINVAL");
	errno = 0;
	tap_eq(kill(999999, 0), -1, "kill(999999, 0) fails");
	tap_eq(errno, ESRCH, "... with ESRCH");
	errno = 0;
	tap_eq(syscall(SYS_tgkill, getpid(), 999999, 0), -1, "tgkill to no such thread fails");
	tap_eq(errno, ESRCH, "... with ESRCH");

	sigset_t all, got;
	sigfillset(&all);
	tap_eq(syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &got, 8), 0, "block every signal");
	sigset_t now;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &got, &now, 8);
	tap_ok(!sigismember(&now, SIGKILL) && !sigismember(&now, SIGSTOP), "SIGKILL and SIGSTOP are never blocked");
	tap_eq(syscall(SYS_rt_sigprocmask, 7, &all, NULL, 8), -1, "rt_sigprocmask with a bad how fails");
	tap_eq(errno, EINVAL, "... with EINVAL");
}

static sigjmp_buf jump;
static volatile uintptr_t fault_addr;
static volatile int fault_code;
static volatile long fault_trapno, fault_cr2;

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	fault_addr = (uintptr_t)si->si_addr;
	fault_code = si->si_code;
	fault_trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
	fault_cr2 = uc->uc_mcontext.gregs[REG_CR2];
	siglongjmp(jump, 1);
}

static void test_segv(void)
{
	on_info(SIGSEGV, on_segv, 0);
	volatile int *bad = (int *)0x18;
	if (!sigsetjmp(jump, 1)) {
		*bad = 1;
		tap_ok(0, "the write to an unmapped address faulted");
	}
	tap_eq(fault_addr, 0x18, "SIGSEGV si_addr is the unmapped address");
	tap_eq(fault_code, SEGV_MAPERR, "si_code is SEGV_MAPERR");
	tap_eq(fault_trapno, 14, "uc_mcontext trapno is 14 (#PF)");
	tap_eq(fault_cr2, 0x18, "uc_mcontext cr2 is the address");
	tap_eq(blocked(SIGSEGV), 0, "siglongjmp restored the mask");

	char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!sigsetjmp(jump, 1)) {
		*(volatile char *)(ro + 100) = 1;
		tap_ok(0, "the write to a read-only page faulted");
	}
	tap_eq(fault_addr, (uintptr_t)ro + 100, "SIGSEGV si_addr in a read-only page");
	tap_eq(fault_code, SEGV_ACCERR, "si_code is SEGV_ACCERR");
	munmap(ro, 4096);
	signal(SIGSEGV, SIG_DFL);
}

static volatile int trap_sig;

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	(void)ucv;
	trap_sig = sig;
	fault_addr = (uintptr_t)si->si_addr;
	fault_code = si->si_code;
	siglongjmp(jump, 1);
}

extern char ud2_at[];

/* Other exceptions of ring 3 reach handlers: SIGILL for ud2 (si_addr the
 * instruction, ILL_ILLOPN), SIGFPE for a division by zero (FPE_INTDIV),
 * SIGTRAP for int3 (SI_KERNEL). */
static void test_traps(void)
{
	on_info(SIGILL, on_trap, 0);
	on_info(SIGFPE, on_trap, 0);
	on_info(SIGTRAP, on_trap, 0);
	trap_sig = 0;
	if (!sigsetjmp(jump, 1))
		__asm__ volatile(".globl ud2_at\nud2_at: ud2");
	tap_eq(trap_sig, SIGILL, "ud2 raises SIGILL");
	tap_eq(fault_addr, (uintptr_t)ud2_at, "... si_addr is the instruction");
	tap_eq(fault_code, ILL_ILLOPN, "... si_code ILL_ILLOPN");
	trap_sig = 0;
	if (!sigsetjmp(jump, 1)) {
		volatile int zero = 0, x = 1;
		x = x / zero;
	}
	tap_eq(trap_sig, SIGFPE, "division by zero raises SIGFPE");
	tap_eq(fault_code, FPE_INTDIV, "... si_code FPE_INTDIV");
	trap_sig = 0;
	if (!sigsetjmp(jump, 1))
		__asm__ volatile("int3");
	tap_eq(trap_sig, SIGTRAP, "int3 raises SIGTRAP");
	tap_eq(fault_code, SI_KERNEL, "... si_code SI_KERNEL");
	signal(SIGILL, SIG_DFL);
	signal(SIGFPE, SIG_DFL);
	signal(SIGTRAP, SIG_DFL);
}

static int rpipe[2];

static void alarm_writes(int sig)
{
	(void)sig;
	hits++;
	char c = 'x';
	if (write(rpipe[1], &c, 1) != 1)
		_exit(99);
}

static void arm_ms(long ms)
{
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
}

static void test_restart(void)
{
	char c;
	if (pipe(rpipe))
		tap_ok(0, "pipe");
	hits = 0;
	on(SIGALRM, alarm_writes, SA_RESTART);
	arm_ms(50);
	errno = 0;
	long r = read(rpipe[0], &c, 1);
	tap_eq(r, 1, "SA_RESTART: the interrupted pipe read restarts and reads the handler's byte");
	tap_eq(hits, 1, "... after the handler ran once");

	hits = 0;
	on(SIGALRM, alarm_writes, 0);
	arm_ms(50);
	errno = 0;
	r = read(rpipe[0], &c, 1);
	tap_eq(r, -1, "without SA_RESTART the interrupted read fails");
	tap_eq(errno, EINTR, "... with EINTR");
	tap_eq(hits, 1, "... after the handler ran once");
	tap_eq(read(rpipe[0], &c, 1), 1, "the handler's byte is there afterwards");

	/* alarm(): seconds, and the previous alarm's rest. */
	tap_eq(alarm(5), 0, "alarm(5) had no alarm before");
	tap_eq(alarm(0), 5, "alarm(0) returns the rest of the previous one");
	hits = 0;
	alarm(1);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = read(rpipe[0], &c, 1);
	int e = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	tap_eq(r, -1, "alarm(1) interrupts a blocked read");
	tap_eq(e, EINTR, "... with EINTR");
	tap_ok(ms >= 900 && ms < 5000, "... after about a second (%ld ms)", ms);
	read(rpipe[0], &c, 1);

	/* A handled signal ends nanosleep with EINTR and the time left. */
	on(SIGALRM, count, SA_RESTART);
	arm_ms(50);
	struct timespec req = { 2, 0 }, rem = { 0, 0 };
	errno = 0;
	r = nanosleep(&req, &rem);
	e = errno;
	tap_eq(r, -1, "nanosleep interrupted by a handled SIGALRM fails even with SA_RESTART");
	tap_eq(e, EINTR, "... with EINTR");
	tap_ok(rem.tv_sec == 1 && rem.tv_nsec > 500000000, "... and the time left (%ld.%09ld s)", (long)rem.tv_sec, rem.tv_nsec);

	/* poll on an empty pipe: EINTR after a handler, whatever SA_RESTART. */
	struct pollfd pfd = { rpipe[0], POLLIN, 0 };
	arm_ms(50);
	errno = 0;
	r = poll(&pfd, 1, 5000);
	e = errno;
	tap_eq(r, -1, "poll interrupted by a handled SIGALRM fails");
	tap_eq(e, EINTR, "... with EINTR");
	signal(SIGALRM, SIG_IGN);
}

static volatile int order[8], norder;

static void nested_usr2(int sig)
{
	(void)sig;
	order[norder++] = 2;
}

static void nested_usr1(int sig)
{
	(void)sig;
	order[norder++] = 1;
	raise(SIGUSR2);
	order[norder++] = 3;
}

static void self_raise(int sig)
{
	depth++;
	hits++;
	if (depth > max_depth)
		max_depth = depth;
	if (hits == 1)
		raise(sig);
	depth--;
}

static void test_nesting(void)
{
	norder = 0;
	on(SIGUSR1, nested_usr1, 0);
	on(SIGUSR2, nested_usr2, 0);
	raise(SIGUSR1);
	tap_eq(norder, 3, "nested: three steps");
	tap_ok(order[0] == 1 && order[1] == 2 && order[2] == 3, "SIGUSR2 ran inside SIGUSR1's handler");

	hits = depth = max_depth = 0;
	on(SIGUSR1, self_raise, 0);
	raise(SIGUSR1);
	tap_eq(hits, 2, "without SA_NODEFER the handler's own signal waits...");
	tap_eq(max_depth, 1, "... until the handler returns");

	hits = depth = max_depth = 0;
	on(SIGUSR1, self_raise, SA_NODEFER);
	raise(SIGUSR1);
	tap_eq(hits, 2, "with SA_NODEFER the handler runs again...");
	tap_eq(max_depth, 2, "... nested inside itself");

	hits = 0;
	on(SIGUSR1, count, SA_RESETHAND);
	raise(SIGUSR1);
	struct sigaction now;
	sigaction(SIGUSR1, NULL, &now);
	tap_eq(hits, 1, "SA_RESETHAND: the handler ran");
	tap_ok(now.sa_handler == SIG_DFL, "... and the action is SIG_DFL again");

	/* sa_mask is blocked while the handler runs. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = nested_usr1;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaction(SIGUSR1, &sa, NULL);
	norder = 0;
	raise(SIGUSR1);
	tap_ok(norder == 3 && order[0] == 1 && order[1] == 3 && order[2] == 2, "sa_mask defers SIGUSR2 until the handler returns");
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
}

static void test_masks(void)
{
	sigset_t s, old, pend;
	hits = 0;
	on(SIGUSR1, count, 0);
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(SIG_BLOCK, &s, &old);
	raise(SIGUSR1);
	tap_eq(hits, 0, "a blocked signal does not run its handler");
	sigpending(&pend);
	tap_ok(sigismember(&pend, SIGUSR1), "sigpending shows it");
	sigprocmask(SIG_SETMASK, &old, NULL);
	tap_eq(hits, 1, "unblocking delivers it");
	sigpending(&pend);
	tap_ok(!sigismember(&pend, SIGUSR1), "and it is no longer pending");

	/* sigsuspend: wait with another mask, get the old one back. */
	hits = 0;
	sigprocmask(SIG_BLOCK, &s, &old);
	raise(SIGUSR1);
	sigset_t none;
	sigemptyset(&none);
	errno = 0;
	int r = sigsuspend(&none);
	tap_eq(r, -1, "sigsuspend returns -1");
	tap_eq(errno, EINTR, "... with EINTR");
	tap_eq(hits, 1, "... after the handler ran");
	tap_eq(blocked(SIGUSR1), 1, "the mask before sigsuspend is back");

	/* ppoll with a mask: the pending signal is handled inside, the old
	 * mask is back after. */
	hits = 0;
	raise(SIGUSR1);
	int pp[2];
	if (pipe(pp))
		tap_ok(0, "pipe");
	struct pollfd pfd = { pp[0], POLLIN, 0 };
	struct timespec pts = { 2, 0 };
	errno = 0;
	r = ppoll(&pfd, 1, &pts, &none);
	tap_eq(r, -1, "ppoll with SIGUSR1 unblocked in its mask fails");
	tap_eq(errno, EINTR, "... with EINTR");
	tap_eq(hits, 1, "... after the handler ran");
	tap_eq(blocked(SIGUSR1), 1, "the mask before ppoll is back");
	close(pp[0]);
	close(pp[1]);

	/* sigtimedwait takes a blocked pending signal without its handler. */
	hits = 0;
	raise(SIGUSR1);
	siginfo_t si;
	struct timespec ts = { 1, 0 };
	r = sigtimedwait(&s, &si, &ts);
	tap_eq(r, SIGUSR1, "sigtimedwait returns the pending signal");
	tap_eq(si.si_signo, SIGUSR1, "... with its siginfo");
	tap_eq(si.si_code, SI_TKILL, "... si_code SI_TKILL (raise)");
	tap_eq(hits, 0, "... and the handler did not run");
	struct timespec short_ts = { 0, 20 * 1000000 };
	errno = 0;
	r = sigtimedwait(&s, &si, &short_ts);
	tap_eq(r, -1, "sigtimedwait with nothing pending times out");
	tap_eq(errno, EAGAIN, "... with EAGAIN");
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_IGN);
}

static char *alt;
#define ALT_SIZE (64 * 1024)
static volatile uintptr_t local_addr;
static volatile int alt_flags, alt_eperm;

static void on_alt(int sig)
{
	(void)sig;
	int local;
	local_addr = (uintptr_t)&local;
	stack_t cur, ns;
	syscall(SYS_sigaltstack, NULL, &cur);
	alt_flags = cur.ss_flags;
	memset(&ns, 0, sizeof ns);
	ns.ss_sp = alt;
	ns.ss_size = ALT_SIZE;
	alt_eperm = syscall(SYS_sigaltstack, &ns, NULL) == -1 ? errno : 0;
}

static void test_altstack(void)
{
	alt = malloc(ALT_SIZE);
	stack_t ss, old;
	memset(&ss, 0, sizeof ss);
	ss.ss_sp = alt;
	ss.ss_size = 1024;
	tap_eq(syscall(SYS_sigaltstack, &ss, NULL), -1, "sigaltstack below MINSIGSTKSZ fails");
	tap_eq(errno, ENOMEM, "... with ENOMEM");
	ss.ss_size = ALT_SIZE;
	ss.ss_flags = 0x1234;
	tap_eq(syscall(SYS_sigaltstack, &ss, NULL), -1, "sigaltstack with bad flags fails");
	tap_eq(errno, EINVAL, "... with EINVAL");
	ss.ss_flags = 0;
	tap_eq(syscall(SYS_sigaltstack, &ss, &old), 0, "sigaltstack set");
	tap_eq(old.ss_flags, SS_DISABLE, "the old one was disabled");
	on(SIGUSR1, on_alt, SA_ONSTACK);
	raise(SIGUSR1);
	tap_ok(local_addr >= (uintptr_t)alt && local_addr < (uintptr_t)alt + ALT_SIZE, "the handler's local lies in the alternate stack");
	tap_eq(alt_flags, SS_ONSTACK, "sigaltstack in the handler reports SS_ONSTACK");
	tap_eq(alt_eperm, EPERM, "changing it while on it fails with EPERM");
	on(SIGUSR1, on_alt, 0);
	raise(SIGUSR1);
	tap_ok(!(local_addr >= (uintptr_t)alt && local_addr < (uintptr_t)alt + ALT_SIZE), "without SA_ONSTACK the handler runs on the normal stack");
	tap_eq(alt_flags, 0, "... where sigaltstack reports 0");
	ss.ss_flags = SS_DISABLE;
	tap_eq(syscall(SYS_sigaltstack, &ss, NULL), 0, "sigaltstack disabled");
	syscall(SYS_sigaltstack, NULL, &old);
	tap_eq(old.ss_flags, SS_DISABLE, "and reported disabled");
	signal(SIGUSR1, SIG_IGN);
}

static void test_itimer(void)
{
	hits = 0;
	on(SIGALRM, count, 0);
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } }, cur;
	tap_eq(setitimer(ITIMER_REAL, &it, NULL), 0, "setitimer(ITIMER_REAL, 20 ms periodic)");
	getitimer(ITIMER_REAL, &cur);
	tap_ok(cur.it_interval.tv_usec == 20000 && cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 20000,
	       "getitimer reports it (interval %ld us, value %ld us)", (long)cur.it_interval.tv_usec, (long)cur.it_value.tv_usec);
	while (hits < 3)
		pause();
	memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, &cur);
	tap_ok(hits >= 3, "three periodic SIGALRMs arrived (%d)", (int)hits);
	tap_eq(cur.it_interval.tv_usec, 20000, "the old value's interval");
	int h = hits;
	struct timespec ts = { 0, 60 * 1000000 };
	nanosleep(&ts, NULL);
	tap_eq(hits, h, "no SIGALRM after the timer was disarmed");
	signal(SIGALRM, SIG_IGN);
}

static unsigned char xin[8][16], xout[8][16];
static volatile unsigned handler_mxcsr, frame_mxcsr;
static volatile int frame_xmm_ok;

static void clobber(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	unsigned mx;
	__asm__ volatile("stmxcsr %0" : "=m"(mx));
	handler_mxcsr = mx;
	frame_mxcsr = uc->uc_mcontext.fpregs ? uc->uc_mcontext.fpregs->mxcsr : 0;
	frame_xmm_ok = uc->uc_mcontext.fpregs && !memcmp(uc->uc_mcontext.fpregs->_xmm[8].element, xin[0], 16) &&
		       !memcmp(uc->uc_mcontext.fpregs->_xmm[15].element, xin[7], 16);
	unsigned newmx = 0x7f80;
	__asm__ volatile("ldmxcsr %0" ::"m"(newmx));
	__asm__ volatile("pxor %%xmm8, %%xmm8\n pxor %%xmm9, %%xmm9\n pxor %%xmm10, %%xmm10\n pxor %%xmm11, %%xmm11\n"
			 "pxor %%xmm12, %%xmm12\n pxor %%xmm13, %%xmm13\n pxor %%xmm14, %%xmm14\n pxor %%xmm15, %%xmm15\n"
			 "fldpi\n fldpi\n" ::
				 : "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st", "st(1)");
}

static void test_fpu(void)
{
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 16; j++)
			xin[i][j] = (unsigned char)(i * 16 + j + 1);
	on_info(SIGUSR1, clobber, 0);
	unsigned mx_in = 0x3f80, mx_out = 0;
	long pid = getpid(), tid = gettid_();
	__asm__ volatile("ldmxcsr %[mx]\n"
			 "movdqu 0(%[in]), %%xmm8\n movdqu 16(%[in]), %%xmm9\n movdqu 32(%[in]), %%xmm10\n"
			 "movdqu 48(%[in]), %%xmm11\n movdqu 64(%[in]), %%xmm12\n movdqu 80(%[in]), %%xmm13\n"
			 "movdqu 96(%[in]), %%xmm14\n movdqu 112(%[in]), %%xmm15\n"
			 "mov $234, %%eax\n syscall\n"
			 "movdqu %%xmm8, 0(%[out])\n movdqu %%xmm9, 16(%[out])\n movdqu %%xmm10, 32(%[out])\n"
			 "movdqu %%xmm11, 48(%[out])\n movdqu %%xmm12, 64(%[out])\n movdqu %%xmm13, 80(%[out])\n"
			 "movdqu %%xmm14, 96(%[out])\n movdqu %%xmm15, 112(%[out])\n"
			 "stmxcsr %[mxo]\n"
			 : [mxo] "=m"(mx_out)
			 : [in] "r"(xin), [out] "r"(xout), [mx] "m"(mx_in), "D"(pid), "S"(tid), "d"(SIGUSR1)
			 : "rax", "rcx", "r11", "memory", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
	unsigned def = 0x1f80;
	__asm__ volatile("ldmxcsr %0" ::"m"(def));
	tap_eq(handler_mxcsr, 0x1f80, "the handler starts with the initial MXCSR");
	tap_eq(frame_mxcsr, 0x3f80, "the signal frame's fpstate holds the interrupted MXCSR");
	tap_ok(frame_xmm_ok, "... and the interrupted xmm8..xmm15");
	tap_ok(!memcmp(xin, xout, sizeof xin), "xmm8..xmm15 are intact after the handler clobbered them");
	tap_eq(mx_out, 0x3f80, "MXCSR is intact after the handler changed it");
	signal(SIGUSR1, SIG_IGN);
}

static volatile int thread_ready;
static volatile long worker_tid;

static void *worker(void *arg)
{
	(void)arg;
	worker_tid = gettid_();
	sigset_t none;
	sigemptyset(&none);
	thread_ready = 1;
	sigsuspend(&none); /* SIGUSR1 unblocked only in here */
	return NULL;
}

static void test_thread_target(void)
{
	sigset_t s, old;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	hits = 0;
	handler_tid = 0;
	on(SIGUSR1, count, 0);
	sigprocmask(SIG_BLOCK, &s, &old);
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	while (!thread_ready)
		sched_yield();
	kill(getpid(), SIGUSR1);
	pthread_join(t, NULL);
	tap_eq(hits, 1, "a process-directed signal reached a handler");
	tap_eq(handler_tid, worker_tid, "... on the thread that does not block it");
	sigpending(&s);
	tap_ok(!sigismember(&s, SIGUSR1), "... and it is not pending for the main thread");
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_IGN);
}

static void test_sigpipe(void)
{
	int p[2];
	if (pipe(p))
		tap_ok(0, "pipe");
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	tap_eq(write(p[1], "x", 1), -1, "SIGPIPE ignored: write to a pipe without a reader fails");
	tap_eq(errno, EPIPE, "... with EPIPE, and the process lives");
	hits = 0;
	on(SIGPIPE, count, 0);
	errno = 0;
	tap_eq(write(p[1], "x", 1), -1, "SIGPIPE handled: the write fails");
	tap_eq(errno, EPIPE, "... with EPIPE");
	tap_eq(hits, 1, "... and the handler ran");
	tap_eq(last_sig, SIGPIPE, "... for SIGPIPE");
	close(p[1]);
	signal(SIGPIPE, SIG_DFL);
}

int main(void)
{
	tap_begin("signals");
	test_basic();
	test_errors();
	test_segv();
	test_traps();
	test_restart();
	test_nesting();
	test_masks();
	test_altstack();
	test_itimer();
	test_fpu();
	test_thread_target();
	test_sigpipe();
	return tap_end();
}
