/* oom_fork MIB: the OOM killer among several processes. The parent (which
 * touches 16 MiB itself) starts two small children that wait on a pipe
 * and one child that touches MIB MiB, more than the machine has. The
 * OOM killer must pick the memory hog: it dies by SIGKILL, while the
 * parent and the two bystanders live on, and the bystanders exit 0 once
 * released. Sized for the QEMU guest: not run natively (the hog would
 * not be killed on a host with more memory). */
#include "tap.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void touch(unsigned long mib)
{
	unsigned long len = mib << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		_exit(2);
	for (unsigned long off = 0; off < len; off += 4096)
		p[off] = 1;
}

int main(int argc, char **argv)
{
	unsigned long mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
	int fd[2];
	pid_t bystander[2];
	tap_begin("oom_fork");
	touch(16);
	if (pipe(fd))
		return 1;
	for (int i = 0; i < 2; i++) {
		bystander[i] = fork();
		if (bystander[i] == 0) {
			char c;
			close(fd[1]);
			touch(4);
			_exit(read(fd[0], &c, 1) == 0 ? 0 : 3);
		}
	}
	pid_t hog = fork();
	if (hog == 0) {
		touch(mib);
		_exit(1); /* not killed */
	}
	int st = -1;
	tap_eq(waitpid(hog, &st, 0), hog, "the memory hog ended");
	tap_ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "killed by SIGKILL (status %#x)", st);
	close(fd[0]);
	close(fd[1]);
	for (int i = 0; i < 2; i++) {
		st = -1;
		tap_eq(waitpid(bystander[i], &st, 0), bystander[i], "bystander %d reaped", i);
		tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "bystander %d lived and exited 0 (status %#x)", i, st);
	}
	touch(16);
	tap_ok(1, "the parent lived on and still gets memory");
	return tap_end();
}
