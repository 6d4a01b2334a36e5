/* tap.h: TAP-like reporting shared by the C test programs.
 *
 * `ok N - what` / `not ok N - what (got X, expected Y)`, then `1..N` and
 * `NAME: P passed, F failed`. Exit status = number of failures (max 100). */
#ifndef HOLDFAST_TAP_H
#define HOLDFAST_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_n, tap_failed;
static const char *tap_name;

static void tap_begin(const char *name)
{
	tap_name = name;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("# %s\n", name);
}

/* Passes when cond holds; on failure prints "(got GOT, expected EXP)". */
static int tap_check(int cond, const char *got, const char *exp, const char *fmt, ...)
{
	va_list ap;
	tap_n++;
	printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!cond) {
		tap_failed++;
		if (got && exp)
			printf(" (got %s, expected %s)", got, exp);
	}
	printf("\n");
	return cond;
}

#define tap_ok(cond, ...) tap_check((cond), NULL, NULL, __VA_ARGS__)

/* Integer equality with values shown on failure. */
#define tap_eq(got, exp, ...)                                                  \
	do {                                                                   \
		long long g_ = (long long)(got), e_ = (long long)(exp);        \
		char gs_[32], es_[32];                                         \
		snprintf(gs_, sizeof gs_, "%lld", g_);                         \
		snprintf(es_, sizeof es_, "%lld", e_);                         \
		tap_check(g_ == e_, gs_, es_, __VA_ARGS__);                    \
	} while (0)

static int tap_end(void)
{
	printf("1..%d\n", tap_n);
	printf("%s: %d passed, %d failed\n", tap_name, tap_n - tap_failed, tap_failed);
	fflush(stdout);
	return tap_failed > 100 ? 100 : tap_failed;
}

#endif
