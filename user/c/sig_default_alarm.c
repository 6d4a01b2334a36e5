/* sig_default_alarm: alarm(1) then pause(): SIGALRM's default action
 * terminates the process: killed by signal 14 (status 142).
 * What Linux does; the test runs on both. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("sig_default_alarm: pausing until SIGALRM\n");
	alarm(1);
	pause();
	printf("sig_default_alarm: still alive\n");
	return 1;
}
