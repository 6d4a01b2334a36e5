/* sig_segv_in_handler: a SIGSEGV handler (without SA_NODEFER) faults
 * itself: SIGSEGV is blocked while it runs, so the second fault kills the
 * process with SIGSEGV (status 139) instead of running the handler again.
 * What Linux does; the test runs on both. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile int entered;
static int *volatile bad = (int *)8;

static void on_segv(int sig)
{
	(void)sig;
	entered++;
	if (entered > 1) {
		printf("sig_segv_in_handler: the handler ran twice\n");
		_exit(1);
	}
	printf("sig_segv_in_handler: in the handler, faulting again\n");
	*bad = 2;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_segv;
	sigaction(SIGSEGV, &sa, NULL);
	*bad = 1;
	printf("sig_segv_in_handler: still alive\n");
	return 1;
}
