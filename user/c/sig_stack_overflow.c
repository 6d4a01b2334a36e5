/* sig_stack_overflow: the stack overflows (RLIMIT_STACK) while a SIGSEGV
 * handler is installed without an alternate stack: the signal frame
 * cannot be written below the stack, so the process is killed by SIGSEGV
 * (status 139) without the handler ever running (Linux force_sigsegv).
 * What Linux does; the test runs on both. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void on_segv(int sig)
{
	(void)sig;
	printf("sig_stack_overflow: the handler ran\n");
	_exit(1);
}

static volatile int limit = 1 << 30;

static int recurse(volatile char *prev, int depth)
{
	volatile char page[4096];
	page[0] = (char)depth;
	page[4095] = prev ? prev[0] : 0;
	if (depth >= limit)
		return 0;
	return recurse(page, depth + 1) + page[100];
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	printf("sig_stack_overflow: recursing until the stack overflows\n");
	return recurse(NULL, 0);
}
