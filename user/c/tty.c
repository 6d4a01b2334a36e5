/* tty: the terminal's line discipline, settings and ioctls.
 *
 * Canonical mode (line editing with erase, word erase and kill, a line
 * readable once complete, VEOF ending a line and an empty line reading as
 * end of file), raw mode with VMIN/VTIME, echo, poll, O_NONBLOCK, the
 * termios and window-size ioctls, TIOCSPGRP's checks, the suspend
 * character stopping the foreground group, SIGTTIN and SIGTTOU for a
 * background group, and the interrupt character killing the
 * foreground process group with SIGINT (the program ends that way:
 * status 130).
 *
 * Where the input comes from: on Linux, a pseudo-terminal this program
 * opens itself (it becomes a session leader and the pty its controlling
 * terminal, then writes the "typed" bytes to the master side); where there
 * is no pty (Holdfast), the console, fd 0: the program prints
 * `tty: send HEX` and the test harness types those bytes into the serial
 * line. The checks are the same. Every expectation is what Linux 6.x's
 * n_tty gives. */
#define _GNU_SOURCE
#include "tap.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static int tty = -1;    /* where the program reads */
static int master = -1; /* the pty's master side, or -1 on the console */

/* "Type" bytes: into the pty master, or ask the harness to. */
static void type(const char *s, size_t n)
{
	if (master >= 0) {
		if (write(master, s, n) != (ssize_t)n)
			printf("# write to the pty master failed\n");
		return;
	}
	printf("tty: send ");
	for (size_t i = 0; i < n; i++)
		printf("%02x", (unsigned char)s[i]);
	printf("\n");
}

/* Type a string literal (without its terminating NUL). */
#define TYPE(lit) type(lit, sizeof(lit) - 1)

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read once, waiting at most 10 s for input (poll first). */
static ssize_t read_some(char *buf, size_t n)
{
	struct pollfd p = { tty, POLLIN, 0 };
	if (poll(&p, 1, 10000) != 1)
		return -2;
	return read(tty, buf, n);
}

static void str_is(const char *got, size_t n, const char *exp, const char *what)
{
	char g[256];
	snprintf(g, sizeof g, "\"%.*s\"", (int)n, got);
	char e[256];
	snprintf(e, sizeof e, "\"%s\"", exp);
	tap_check(n == strlen(exp) && memcmp(got, exp, n) == 0, g, e, "%s", what);
}

static void open_terminal(void)
{
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0) {
		setsid(); /* leave the harness's session: the pty becomes ours */
		tty = open(ptsname(master), O_RDWR);
		if (tty >= 0 && ioctl(tty, TIOCSCTTY, 0) == 0)
			return;
	}
	if (master >= 0)
		close(master);
	master = -1;
	tty = 0;
}

static void settings(void)
{
	struct termios t;
	tap_eq(isatty(tty), 1, "isatty");
	tap_eq(tcgetattr(tty, &t), 0, "tcgetattr");
	tap_ok((t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN)) == (ICANON | ECHO | ISIG | IEXTEN), "canonical mode with echo and signals (lflag %#o)", t.c_lflag);
	tap_ok(t.c_iflag & ICRNL, "ICRNL: return reads as newline");
	tap_ok((t.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR), "OPOST|ONLCR");
	tap_eq(t.c_cc[VINTR], 3, "VINTR is ^C");
	tap_eq(t.c_cc[VERASE], 0x7f, "VERASE is DEL");
	tap_eq(t.c_cc[VKILL], 0x15, "VKILL is ^U");
	tap_eq(t.c_cc[VEOF], 4, "VEOF is ^D");
	tap_eq(t.c_cc[VMIN], 1, "VMIN 1");
	struct winsize ws = { 0 };
	tap_eq(ioctl(tty, TIOCGWINSZ, &ws), 0, "TIOCGWINSZ");
	struct winsize set = { 30, 100, 0, 0 };
	tap_eq(ioctl(tty, TIOCSWINSZ, &set), 0, "TIOCSWINSZ");
	tap_eq(ioctl(tty, TIOCGWINSZ, &ws), 0, "TIOCGWINSZ again");
	tap_ok(ws.ws_row == 30 && ws.ws_col == 100, "the window size set is read back (%dx%d)", ws.ws_row, ws.ws_col);
	pid_t pg = -1;
	tap_eq(ioctl(tty, TIOCGPGRP, &pg), 0, "TIOCGPGRP");
	tap_eq(pg, getpgrp(), "the foreground group is mine");
	tap_eq(ioctl(tty, TIOCSPGRP, &pg), 0, "TIOCSPGRP to my own group");
	pid_t bad = 999999;
	errno = 0;
	int r = ioctl(tty, TIOCSPGRP, &bad), e = errno;
	tap_ok(r == -1 && e == ESRCH, "TIOCSPGRP to no such group: ESRCH (errno %d)", e);
	pid_t neg = -1;
	errno = 0;
	r = ioctl(tty, TIOCSPGRP, &neg), e = errno;
	tap_ok(r == -1 && e == EINVAL, "TIOCSPGRP to a negative group: EINVAL (errno %d)", e);
	int n = -1;
	tap_eq(ioctl(tty, FIONREAD, &n), 0, "FIONREAD");
	tap_eq(n, 0, "nothing typed yet");
	errno = 0;
	tap_ok(ioctl(tty, 0x54ff, &n) == -1 && errno == ENOTTY, "an unknown terminal request: ENOTTY");
	/* /dev/tty is the controlling terminal, whatever its name. */
	int ctty = open("/dev/tty", O_RDWR);
	tap_ok(ctty >= 0, "open /dev/tty (errno %d)", ctty < 0 ? errno : 0);
	tap_eq(isatty(ctty), 1, "/dev/tty is a terminal");
	struct winsize via = { 0 };
	tap_eq(ioctl(ctty, TIOCGWINSZ, &via), 0, "TIOCGWINSZ through /dev/tty");
	tap_ok(via.ws_row == 30 && via.ws_col == 100, "... the same terminal's size (%dx%d)", via.ws_row, via.ws_col);
	close(ctty);
}

/* TIOCSPGRP as Linux's tty_jobctrl.c: only from the terminal's session,
 * only to a group of that session; from the background with SIGTTOU
 * ignored. */
static void foreground(void)
{
	int up[2], down[2];
	if (pipe(up) || pipe(down))
		return;
	signal(SIGTTOU, SIG_IGN);
	pid_t c = fork();
	if (c == 0) {
		setsid();
		pid_t me = getpid(), pg = 0;
		int res[4];
		errno = 0;
		res[0] = ioctl(tty, TIOCSPGRP, &me);
		res[1] = errno;
		errno = 0;
		res[2] = ioctl(tty, TIOCGPGRP, &pg);
		res[3] = errno;
		char x;
		if (write(up[1], res, sizeof res) != sizeof res || read(down[0], &x, 1) != 1)
			_exit(1);
		_exit(0);
	}
	int res[4] = { 0 };
	if (read(up[0], res, sizeof res) != sizeof res)
		printf("# the child's results did not come\n");
	tap_ok(res[0] == -1 && res[1] == ENOTTY, "TIOCSPGRP from another session: ENOTTY (errno %d)", res[1]);
	tap_ok(res[2] == -1 && res[3] == ENOTTY, "TIOCGPGRP from another session: ENOTTY (errno %d)", res[3]);
	errno = 0;
	int r = ioctl(tty, TIOCSPGRP, &c), e = errno;
	tap_ok(r == -1 && e == EPERM, "TIOCSPGRP to the group of another session: EPERM (errno %d)", e);
	int st = -1;
	if (write(down[1], "x", 1) != 1 || waitpid(c, &st, 0) != c || st != 0)
		printf("# the session child ended with %#x\n", st);

	/* Another group of this session becomes the foreground. */
	pid_t g = fork();
	if (g == 0) {
		setpgid(0, 0);
		char x;
		_exit(read(down[0], &x, 1) == 1 ? 0 : 1);
	}
	setpgid(g, g);
	tap_eq(ioctl(tty, TIOCSPGRP, &g), 0, "TIOCSPGRP to another group of my session");
	pid_t pg = -1;
	ioctl(tty, TIOCGPGRP, &pg);
	tap_eq(pg, g, "it is the foreground group");
	pid_t mine = getpgrp();
	tap_eq(ioctl(tty, TIOCSPGRP, &mine), 0, "TIOCSPGRP back to mine from the background (SIGTTOU ignored)");
	ioctl(tty, TIOCGPGRP, &pg);
	tap_eq(pg, mine, "mine is the foreground group again");
	if (write(down[1], "x", 1) != 1 || waitpid(g, &st, 0) != g || st != 0)
		printf("# the group child ended with %#x\n", st);
	signal(SIGTTOU, SIG_DFL);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}

/* The suspend character: SIGTSTP for the foreground group, which stops
 * it. A child runs this (reporting by its exit status), so that the
 * group it stops has a parent outside it in the session: not orphaned
 * even where this program is the first process. */
static void suspend(void)
{
	fflush(stdout);
	pid_t runner = fork();
	if (runner == 0) {
		signal(SIGTTOU, SIG_IGN);
		pid_t b = fork();
		if (b == 0) {
			setpgid(0, 0);
			for (;;)
				pause();
		}
		setpgid(b, b);
		int bits = 0, st = 0;
		if (ioctl(tty, TIOCSPGRP, &b) != 0)
			bits |= 1;
		alarm(10);
		TYPE("\x1a");
		fflush(stdout);
		if (waitpid(b, &st, WUNTRACED) != b)
			bits |= 2;
		else if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGTSTP)
			bits |= 4;
		pid_t mine = getpgrp();
		if (ioctl(tty, TIOCSPGRP, &mine) != 0)
			bits |= 8;
		kill(b, SIGKILL);
		waitpid(b, &st, 0);
		_exit(bits);
	}
	int st = -1;
	waitpid(runner, &st, 0);
	tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "^Z stops the foreground group with SIGTSTP (status %#x)", st);
	pid_t pg = -1;
	ioctl(tty, TIOCGPGRP, &pg);
	tap_eq(pg, getpgrp(), "my group is the foreground again");
}

/* What a process of a background group of the session meets
 * (tty_check_change, n_tty's job_control): reading gets SIGTTIN, changing
 * the settings or the foreground group gets SIGTTOU, which stop it by
 * default; with SIGTTIN ignored the read is EIO, with SIGTTOU ignored the
 * change is made. Each case is a child in its own group, under a runner
 * (see suspend). Returns the runner's bits of failed cases. */
enum { BG_READ, BG_READ_IGN, BG_TCSETS, BG_TCSETS_IGN, BG_SPGRP };

static int bg_case(int which)
{
	pid_t b = fork();
	if (b == 0) {
		setpgid(0, 0);
		struct termios t;
		char c;
		tcgetattr(tty, &t);
		switch (which) {
		case BG_READ:
			read(tty, &c, 1);
			_exit(1);
		case BG_READ_IGN:
			signal(SIGTTIN, SIG_IGN);
			_exit(read(tty, &c, 1) == -1 && errno == EIO ? 0 : 1);
		case BG_TCSETS:
			tcsetattr(tty, TCSANOW, &t);
			_exit(1);
		case BG_TCSETS_IGN:
			signal(SIGTTOU, SIG_IGN);
			_exit(tcsetattr(tty, TCSANOW, &t) == 0 ? 0 : 1);
		default: {
			pid_t me = getpid();
			ioctl(tty, TIOCSPGRP, &me);
			_exit(1);
		}
		}
	}
	setpgid(b, b);
	int st = 0;
	if (waitpid(b, &st, WUNTRACED) != b)
		return 0;
	int stop = which == BG_READ ? SIGTTIN : SIGTTOU;
	int ok = which == BG_READ_IGN || which == BG_TCSETS_IGN ? WIFEXITED(st) && WEXITSTATUS(st) == 0
								: WIFSTOPPED(st) && WSTOPSIG(st) == stop;
	kill(b, SIGKILL);
	waitpid(b, &st, 0);
	return ok;
}

static void background(void)
{
	static const char *what[] = {
		[BG_READ] = "a background read stops its group with SIGTTIN",
		[BG_READ_IGN] = "... with SIGTTIN ignored: EIO",
		[BG_TCSETS] = "a background tcsetattr stops its group with SIGTTOU",
		[BG_TCSETS_IGN] = "... with SIGTTOU ignored: it is made",
		[BG_SPGRP] = "a background TIOCSPGRP stops its group with SIGTTOU",
	};
	fflush(stdout);
	pid_t runner = fork();
	if (runner == 0) {
		int bits = 0;
		alarm(20);
		for (int i = BG_READ; i <= BG_SPGRP; i++)
			if (!bg_case(i))
				bits |= 1 << i;
		_exit(bits);
	}
	int st = -1;
	waitpid(runner, &st, 0);
	tap_ok(WIFEXITED(st), "the background cases ran (status %#x)", st);
	for (int i = BG_READ; i <= BG_SPGRP; i++)
		tap_ok(WIFEXITED(st) && !(WEXITSTATUS(st) & 1 << i), "%s", what[i]);
}

static void canonical(void)
{
	char buf[256];
	ssize_t n;
	TYPE("helo\x7flo wor\x17world\r");
	n = read_some(buf, sizeof buf);
	str_is(buf, n > 0 ? n : 0, "hello world\n", "erase and word erase edit the line; return is newline");
	TYPE("first\x15second\n");
	n = read_some(buf, sizeof buf);
	str_is(buf, n > 0 ? n : 0, "second\n", "kill erases the whole line");
	TYPE("one\ntwo\n");
	n = read_some(buf, 2);
	str_is(buf, n > 0 ? n : 0, "on", "a short read takes part of a line");
	n = read_some(buf, sizeof buf);
	str_is(buf, n > 0 ? n : 0, "e\n", "... and the next one the rest of that line only");
	n = read_some(buf, sizeof buf);
	str_is(buf, n > 0 ? n : 0, "two\n", "then the next line");
	TYPE("ab\x04\x04");
	n = read_some(buf, sizeof buf);
	str_is(buf, n > 0 ? n : 0, "ab", "VEOF ends a line without a newline");
	n = read_some(buf, sizeof buf);
	tap_eq(n, 0, "VEOF on an empty line reads as end of file");
	TYPE("partial");
	usleep(300000);
	int avail = -1;
	ioctl(tty, FIONREAD, &avail);
	tap_eq(avail, 0, "an unfinished line is not readable (FIONREAD)");
	int fl = fcntl(tty, F_GETFL);
	fcntl(tty, F_SETFL, fl | O_NONBLOCK);
	errno = 0;
	n = read(tty, buf, sizeof buf);
	tap_ok(n == -1 && errno == EAGAIN, "O_NONBLOCK read of an unfinished line: EAGAIN");
	fcntl(tty, F_SETFL, fl);
	struct pollfd p = { tty, POLLIN, 0 };
	tap_eq(poll(&p, 1, 0), 0, "poll: not readable yet");
	TYPE("\n");
	tap_eq(poll(&p, 1, 10000), 1, "poll: readable once the line is complete");
	tap_eq(p.revents & POLLIN, POLLIN, "POLLIN");
	ioctl(tty, FIONREAD, &avail);
	tap_eq(avail, 8, "FIONREAD counts the line");
	n = read_some(buf, sizeof buf);
	str_is(buf, n > 0 ? n : 0, "partial\n", "the completed line");
}

static void raw(void)
{
	struct termios t, saved;
	char buf[64];
	ssize_t n;
	tcgetattr(tty, &saved);
	t = saved;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_iflag &= ~ICRNL;
	t.c_cc[VMIN] = 3;
	t.c_cc[VTIME] = 0;
	tap_eq(tcsetattr(tty, TCSANOW, &t), 0, "raw mode, VMIN 3");
	struct termios back;
	tcgetattr(tty, &back);
	tap_ok(!(back.c_lflag & ICANON) && back.c_cc[VMIN] == 3, "tcgetattr reads the new settings back");
	TYPE("xyz\r");
	n = read(tty, buf, sizeof buf);
	str_is(buf, n > 0 ? n : 0, "xyz\r", "raw: every byte, return not translated");
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	tcsetattr(tty, TCSANOW, &t);
	tap_eq(read(tty, buf, sizeof buf), 0, "VMIN 0, VTIME 0: nothing there returns 0 at once");
	t.c_cc[VTIME] = 3;
	tcsetattr(tty, TCSANOW, &t);
	long t0 = now_ms();
	n = read(tty, buf, sizeof buf);
	long waited = now_ms() - t0;
	tap_eq(n, 0, "VMIN 0, VTIME 3: 0 when nothing comes");
	tap_ok(waited >= 250 && waited < 3000, "... after about 0.3 s (waited %ld ms)", waited);
	TYPE("q");
	n = read(tty, buf, sizeof buf);
	str_is(buf, n > 0 ? n : 0, "q", "VMIN 0, VTIME 3: a byte that comes is returned");
	tap_eq(tcsetattr(tty, TCSAFLUSH, &saved), 0, "canonical mode again");
}

int main(void)
{
	tap_begin("tty");
	open_terminal();
	printf("# input through %s\n", master >= 0 ? "a pseudo-terminal" : "the console");
	settings();
	foreground();
	suspend();
	background();
	canonical();
	raw();
	/* The interrupt character: SIGINT for the foreground group (this
	 * process), which its default action ends. */
	tap_end();
	char c;
	TYPE("junk\x03");
	for (int i = 0; i < 100; i++)
		if (read_some(&c, 1) < 0 && errno != EINTR)
			break;
	printf("tty: still alive after ^C\n");
	return 1;
}
