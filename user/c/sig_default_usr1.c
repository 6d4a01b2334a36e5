/* sig_default_usr1: SIGUSR1's default action terminates the process:
 * killed by signal 10 (status 138), no core-dump bit.
 * What Linux does; the test runs on both. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("sig_default_usr1: sending SIGUSR1 to myself\n");
	kill(getpid(), SIGUSR1);
	printf("sig_default_usr1: still alive\n");
	return 1;
}
