/* tap.h: a tiny TAP producer for the unit tests, in one header.
 *
 * Each test prints "ok N - name" or "not ok N - name" on stdout, with
 * "# got/expected" diagnostics after a failure; done_testing() prints the
 * plan "1..N" last and returns the exit status for main().  Between
 * todo_start() and todo_end(), failures are marked "# TODO" (a known bug
 * reported elsewhere): automake's driver counts them as XFAIL, not FAIL. */
#ifndef TAP_H
#define TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The only state: one per test program, since each includes this once. */
static struct {
	int         run;
	int         failed;
	const char *todo;    /* non-NULL: failures are expected */
} tap_state;

static inline void
tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Diagnostics go to stdout as comments so they stay next to their test. */
static inline void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}

/* A name stays on its line: control characters are written escaped. */
static inline void
tap_put_name(const char *fmt, va_list ap)
{
	char        buf[512];
	const char *p;

	vsnprintf(buf, sizeof buf, fmt, ap);
	for (p = buf; *p != '\0'; p++) {
		if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			printf("\\x%02x", (unsigned char)*p);
		else
			putchar(*p);
	}
}

static inline int
tap_vok(int pass, const char *file, int line, const char *fmt, va_list ap)
{
	tap_state.run++;
	printf("%sok %d - ", pass ? "" : "not ", tap_state.run);
	tap_put_name(fmt, ap);
	if (tap_state.todo != NULL)
		printf(" # TODO %s", tap_state.todo);
	fputc('\n', stdout);
	if (!pass) {
		tap_diag("  failed at %s:%d", file, line);
		if (tap_state.todo == NULL)
			tap_state.failed++;
	}
	fflush(stdout);
	return pass;
}

static inline int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int     r;

	va_start(ap, fmt);
	r = tap_vok(pass, file, line, fmt, ap);
	va_end(ap);
	return r;
}

static inline int
tap_is_int(intmax_t got, intmax_t want, const char *file, int line, const char *name)
{
	if (tap_ok(got == want, file, line, "%s", name))
		return 1;
	tap_diag("       got: %jd", got);
	tap_diag("  expected: %jd", want);
	return 0;
}

static inline int
tap_is_str(const char *got, const char *want, const char *file, int line, const char *name)
{
	int pass;

	if (got == NULL || want == NULL)
		pass = got == want;
	else
		pass = strcmp(got, want) == 0;
	if (tap_ok(pass, file, line, "%s", name))
		return 1;
	tap_diag("       got: %s%s%s", got ? "\"" : "", got ? got : "NULL", got ? "\"" : "");
	tap_diag("  expected: %s%s%s", want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
	return 0;
}

static inline int
tap_contains(const char *got, const char *needle, const char *file, int line, const char *name)
{
	int pass = got != NULL && strstr(got, needle) != NULL;

	if (tap_ok(pass, file, line, "%s", name))
		return 1;
	tap_diag("       got: %s%s%s", got ? "\"" : "", got ? got : "NULL", got ? "\"" : "");
	tap_diag("  expected: a string containing \"%s\"", needle);
	return 0;
}

static inline void
tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static inline void
tap_bail(const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(1);
}

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_state.run);
	if (tap_state.failed > 0)
		tap_diag("failed %d of %d tests", tap_state.failed, tap_state.run);
	fflush(stdout);
	return tap_state.failed > 0 || tap_state.run == 0;
}

/* ok(cond, fmt, ...): passes when cond is true; the rest names the test. */
#define ok(cond, ...)	tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(a, b, name) \
	tap_is_int((intmax_t)(a), (intmax_t)(b), __FILE__, __LINE__, (name))
#define is_str(a, b, name)	tap_is_str((a), (b), __FILE__, __LINE__, (name))
/* The string a contains b (error messages must name their culprit). */
#define contains(a, b, name)	tap_contains((a), (b), __FILE__, __LINE__, (name))
#define diag(...)		tap_diag(__VA_ARGS__)
/* The test program cannot go on (its own setup failed). */
#define bail_out(...)		tap_bail(__VA_ARGS__)
#define todo_start(why)		(tap_state.todo = (why))
#define todo_end()		(tap_state.todo = NULL)
#define done_testing()		tap_done()

#endif
