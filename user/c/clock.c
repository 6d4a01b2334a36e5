/* clock: clock_gettime(CLOCK_MONOTONIC / CLOCK_REALTIME) and nanosleep as
 * seen through musl (which on Linux may use the vDSO; on Holdfast, without a
 * vDSO, the system call). */
#include "tap.h"
#include <errno.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(void)
{
	struct timespec a, b, r;

	tap_begin("clock");
	tap_eq(clock_gettime(CLOCK_MONOTONIC, &a), 0, "clock_gettime(CLOCK_MONOTONIC)");
	long long prev = ns(a), backwards = 0, spins = 0;
	do {
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (ns(b) < prev)
			backwards++;
		prev = ns(b);
	} while (ns(b) == ns(a) && ++spins < 10000000);
	tap_ok(ns(b) > ns(a) && backwards == 0, "CLOCK_MONOTONIC advances and never goes backwards");

	tap_eq(clock_gettime(CLOCK_REALTIME, &r), 0, "clock_gettime(CLOCK_REALTIME)");
	tap_ok(r.tv_sec > 1577836800LL && r.tv_sec < 4102444800LL, "CLOCK_REALTIME plausible: %lld s since 1970",
	       (long long)r.tv_sec);
	tap_ok(r.tv_nsec >= 0 && r.tv_nsec < 1000000000L, "tv_nsec in range");

	struct timespec req = {0, 10 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &a);
	int rc = nanosleep(&req, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	tap_eq(rc, 0, "nanosleep(10 ms) returns 0");
	tap_ok(ns(b) - ns(a) >= 10000000LL, "nanosleep(10 ms) took %lld ns (>= 10 ms)", ns(b) - ns(a));

	req.tv_sec = 0;
	req.tv_nsec = 1000000000L; /* invalid */
	errno = 0;
	rc = nanosleep(&req, NULL);
	tap_ok(rc == -1 && errno == EINVAL, "nanosleep with tv_nsec = 1e9 -> EINVAL");

	/* time(2) as a system call (musl's time() takes the vDSO or
	 * clock_gettime): the realtime seconds, also stored through tloc. */
	time_t t1 = 0;
	clock_gettime(CLOCK_REALTIME, &r);
	long t0 = syscall(SYS_time, &t1);
	tap_ok(t0 >= r.tv_sec && t0 <= r.tv_sec + 1 && t1 == t0, "time(&t) = %ld, stored %lld, clock %lld", t0,
	       (long long)t1, (long long)r.tv_sec);
	tap_eq(syscall(SYS_time, NULL) >= t0, 1, "time(NULL) returns the seconds too");
	tap_eq(syscall(SYS_time, (void *)8), -1, "time(bad pointer) fails");
	tap_eq(errno, EFAULT, "with EFAULT");

	struct timeval tv;
	struct timezone tz = {12345, 12345};
	clock_gettime(CLOCK_REALTIME, &r);
	tap_eq(syscall(SYS_gettimeofday, &tv, &tz), 0, "gettimeofday");
	tap_ok(tv.tv_sec >= r.tv_sec && tv.tv_sec <= r.tv_sec + 1 && tv.tv_usec >= 0 && tv.tv_usec < 1000000,
	       "gettimeofday: %lld s %ld us", (long long)tv.tv_sec, (long)tv.tv_usec);
	tap_eq(tz.tz_minuteswest != 12345 && tz.tz_dsttime != 12345, 1, "the timezone is written too");
	tap_eq(syscall(SYS_gettimeofday, NULL, NULL), 0, "gettimeofday(NULL, NULL)");
	tap_eq(syscall(SYS_gettimeofday, (void *)8, NULL), -1, "gettimeofday(bad pointer) fails");
	tap_eq(errno, EFAULT, "with EFAULT");

	struct timespec res;
	tap_eq(clock_getres(CLOCK_MONOTONIC, &res), 0, "clock_getres(CLOCK_MONOTONIC)");
	tap_ok(res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000L,
	       "CLOCK_MONOTONIC resolution %ld ns (0 < res <= 10 ms)", (long)res.tv_nsec);
	return tap_end();
}
