/*
 * /init of the Linux guest that `cargo xtask run --linux` and
 * `cargo xtask bench --linux` boot: the counterpart of Holdfast's
 * `init=/PROGRAM ARGS...`, so that the same static binaries run on both.
 *
 * The kernel starts it from the initramfs with the words after `--` on its
 * command line as arguments: `/init /PROGRAM ARGS...`. It
 *
 *   1. mounts devtmpfs on /dev and points stdin/stdout/stderr at
 *      /dev/console (the initramfs need not contain device nodes),
 *      then proc on /proc and sysfs on /sys;
 *   2. prints `linux-init: release R` with the kernel's `uname -r`;
 *   3. runs /PROGRAM ARGS... as a child and waits for it, reaping any other
 *      process that ends up with init as parent;
 *   4. prints `linux-init: PROGRAM exited with status N` (N = the exit
 *      code, or 128 + signal number for a process killed by a signal, as a
 *      shell reports it; 127 if it could not be started at all);
 *   5. syncs and powers the machine off.
 *
 * Whatever goes wrong, it ends in the power-off, never in a return from
 * main: init exiting makes the kernel panic.
 *
 * Built by xtask with `musl-gcc -static`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void power_off(void)
{
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	/* Only reached if the power-off failed; init must not exit. */
	for (;;)
		pause();
}

static void mount_one(const char *source, const char *target, const char *type)
{
	mkdir(target, 0755);
	if (mount(source, target, type, 0, NULL) != 0 && errno != EBUSY)
		printf("linux-init: mount %s on %s: %s\n", type, target, strerror(errno));
}

int main(int argc, char **argv)
{
	mount_one("devtmpfs", "/dev", "devtmpfs");
	int fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	mount_one("proc", "/proc", "proc");
	mount_one("sysfs", "/sys", "sysfs");

	struct utsname u;
	if (uname(&u) == 0)
		printf("linux-init: release %s\n", u.release);

	if (argc < 2) {
		printf("linux-init: no program given (kernel command line: ... -- /PROGRAM ARGS)\n");
		printf("linux-init: (none) exited with status 127\n");
		power_off();
	}
	const char *program = argv[1];
	fflush(stdout);
	pid_t child = fork();
	if (child < 0) {
		printf("linux-init: fork: %s\n", strerror(errno));
		printf("linux-init: %s exited with status 127\n", program);
		power_off();
	}
	if (child == 0) {
		char *envp[] = {"PATH=/", "HOME=/", "TERM=linux", NULL};
		execve(program, argv + 1, envp);
		printf("linux-init: cannot start %s: %s\n", program, strerror(errno));
		fflush(stdout);
		_exit(127);
	}
	int status = 0;
	for (;;) {
		pid_t pid = waitpid(-1, &status, 0);
		if (pid == child)
			break;
		if (pid < 0 && errno != EINTR) {
			printf("linux-init: waitpid: %s\n", strerror(errno));
			status = 127 << 8;
			break;
		}
	}
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127;
	printf("linux-init: %s exited with status %d\n", program, code);
	power_off();
	return 0;
}
