/* sig_badframe: a handler corrupts its signal frame (the fpstate pointer
 * of uc_mcontext points at an unmapped page) and returns: rt_sigreturn
 * cannot restore it, and the process is killed by SIGSEGV (status 139),
 * never the kernel. What Linux does; the test runs on both. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static void corrupt(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	uc->uc_mcontext.fpregs = (void *)8;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = corrupt;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	printf("sig_badframe: returning from a handler through a corrupted frame\n");
	raise(SIGUSR1);
	printf("sig_badframe: still alive after rt_sigreturn\n");
	return 1;
}
