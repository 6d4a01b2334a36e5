/* clock: clock_gettime(CLOCK_MONOTONIC / CLOCK_REALTIME) and nanosleep as
 * seen through musl (which on Linux may use the vDSO; on Holdfast, without a
 * vDSO, the system call). */
#include "tap.h"
#include <errno.h>
#include <time.h>

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

	struct timespec res;
	tap_eq(clock_getres(CLOCK_MONOTONIC, &res), 0, "clock_getres(CLOCK_MONOTONIC)");
	tap_ok(res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000L,
	       "CLOCK_MONOTONIC resolution %ld ns (0 < res <= 10 ms)", (long)res.tv_nsec);
	return tap_end();
}
