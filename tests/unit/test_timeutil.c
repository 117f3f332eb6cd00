/* test_timeutil.c: strict number parsing, RFC 3339 and timevals. */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "tap.h"
#include "timeutil.h"

/* Sentinels that no accepted input produces, to see a parser write *out. */
#define NOT_WRITTEN_D	-12345.0
#define NOT_WRITTEN_I	INT64_C(-12345)

static void
duration_ok(const char *s, double want)
{
	double v = NOT_WRITTEN_D;
	int    r = time_parse_duration(s, &v);

	if (!ok(r == 0 && v == want, "time_parse_duration(\"%s\") = %g", s, want))
		diag("returned %d, value %.17g", r, v);
}

static void
duration_bad(const char *s, const char *why)
{
	double v = NOT_WRITTEN_D;

	ok(time_parse_duration(s, &v) == -1, "time_parse_duration refuses \"%s\" (%s)", s, why);
}

static void
test_duration(void)
{
	duration_ok("0", 0);
	duration_ok("1", 1);
	duration_ok("0.5", 0.5);
	duration_ok(".5", 0.5);
	duration_ok("1.", 1);
	duration_ok("2e3", 2000);
	duration_ok("2E3", 2000);
	duration_ok("1e9", 1e9);
	duration_ok("1000000000", 1e9);
	duration_ok("1e+2", 100);
	duration_ok("25e-2", 0.25);
	duration_ok("1.e1", 10);
	duration_ok("0e0", 0);
	duration_ok("00.25", 0.25);
	duration_ok("0.000", 0);
	duration_ok("123.456", 123.456);

	duration_bad("", "empty");
	duration_bad(" 1", "leading blank");
	duration_bad("\t1", "leading tab");
	duration_bad("1 ", "trailing blank");
	duration_bad("1\n", "trailing newline");
	duration_bad("-1", "negative");
	duration_bad("-0", "sign");
	duration_bad("+1", "plus sign");
	duration_bad("inf", "infinity");
	duration_bad("INF", "infinity");
	duration_bad("infinity", "infinity");
	duration_bad("nan", "not a number");
	duration_bad("NaN", "not a number");
	duration_bad("0x10", "hex");
	duration_bad("0x1p3", "hex float");
	duration_bad("1e10", "over 1e9");
	duration_bad("1000000001", "over 1e9");
	duration_bad("1000000000.5", "over 1e9");
	duration_bad("1e400", "overflows a double");
	duration_bad("1e", "exponent without digits");
	duration_bad("1e+", "exponent without digits");
	duration_bad("1e-", "exponent without digits");
	duration_bad("e5", "no mantissa");
	duration_bad(".", "lone dot");
	duration_bad(".e1", "dot without digits");
	duration_bad("abc", "letters");
	duration_bad("1,5", "decimal comma");
	duration_bad("1..5", "two dots");
	duration_bad("1.5.", "trailing dot after fraction");
	duration_bad("1e5x", "trailing garbage");
	duration_bad("1s", "unit suffix");

	/* Finite, >= 0 and <= 1e9 as API.md asks, though it rounds to 0:
	 * strtod reports the underflow with ERANGE, and jansson takes the same
	 * number in a body ({"timeout": 1e-400} is 0). */
	duration_ok("1e-400", 0);

	{
		double v = NOT_WRITTEN_D;

		time_parse_duration("abc", &v);
		ok(v == NOT_WRITTEN_D, "time_parse_duration leaves *out alone on failure");
	}
}

static void
id_ok(const char *s, int64_t want)
{
	int64_t v = NOT_WRITTEN_I;
	int     r = time_parse_id(s, &v);

	if (!ok(r == 0 && v == want, "time_parse_id(\"%s\") = %" PRId64, s, want))
		diag("returned %d, value %" PRId64, r, v);
}

static void
id_bad(const char *s, const char *why)
{
	int64_t v = NOT_WRITTEN_I;

	ok(time_parse_id(s, &v) == -1, "time_parse_id refuses \"%s\" (%s)", s, why);
}

static void
test_id(void)
{
	id_ok("1", 1);
	id_ok("9", 9);
	id_ok("10", 10);
	id_ok("42", 42);
	id_ok("1000000", 1000000);
	id_ok("9223372036854775807", INT64_MAX);
	id_ok("9223372036854775806", INT64_MAX - 1);

	id_bad("0", "zero is not an id");
	id_bad("00", "zero with a leading zero");
	id_bad("01", "leading zero");
	id_bad("007", "leading zeros");
	id_bad("-1", "negative");
	id_bad("+1", "plus sign");
	id_bad("1.0", "decimal point");
	id_bad("1e3", "exponent");
	id_bad("", "empty");
	id_bad(" 1", "leading blank");
	id_bad("1 ", "trailing blank");
	id_bad("9223372036854775808", "2^63");
	id_bad("9223372036854775810", "over 2^63-1 by 3");
	id_bad("18446744073709551615", "2^64-1");
	id_bad("18446744073709551616", "2^64 (would wrap to 0)");
	id_bad("18446744073709551617", "2^64+1 (would wrap to 1)");
	id_bad("99999999999999999999", "20 digits");
	id_bad("92233720368547758070", "2^63-1 times ten");
	id_bad("1a", "trailing letter");
	id_bad("a1", "leading letter");
	id_bad("0x1", "hex");
}

static void
uint_ok(const char *s, int64_t want)
{
	int64_t v = NOT_WRITTEN_I;
	int     r = time_parse_uint(s, &v);

	if (!ok(r == 0 && v == want, "time_parse_uint(\"%s\") = %" PRId64, s, want))
		diag("returned %d, value %" PRId64, r, v);
}

static void
uint_bad(const char *s, const char *why)
{
	int64_t v = NOT_WRITTEN_I;

	ok(time_parse_uint(s, &v) == -1, "time_parse_uint refuses \"%s\" (%s)", s, why);
}

static void
test_uint(void)
{
	uint_ok("0", 0);
	uint_ok("1", 1);
	uint_ok("100", 100);
	uint_ok("1000", 1000);
	uint_ok("9223372036854775807", INT64_MAX);

	uint_bad("", "empty");
	uint_bad("00", "two zeros");
	uint_bad("01", "leading zero");
	uint_bad("-0", "sign");
	uint_bad("+0", "sign");
	uint_bad("-1", "negative");
	uint_bad("1.5", "fraction");
	uint_bad("1e2", "exponent");
	uint_bad(" 0", "leading blank");
	uint_bad("0 ", "trailing blank");
	uint_bad("9223372036854775808", "2^63");
	uint_bad("18446744073709551616", "2^64");
	uint_bad("x", "letter");
}

static void
rfc_is(int64_t ms, const char *want)
{
	char buf[32];
	char name[80];

	memset(buf, 'X', sizeof buf);
	time_rfc3339(ms, buf, sizeof buf);
	snprintf(name, sizeof name, "time_rfc3339(%" PRId64 ")", ms);
	is_str(buf, want, name);
}

/* The hand-made date arithmetic against gmtime_r, a day and a bit apart
 * from 1970 to 2200, and at every month's edges of a leap century. */
static void
rfc_sweep(void)
{
	char    got[32], want[96];
	int64_t ms;
	int     bad = 0, n = 0;

	for (ms = 0; ms < INT64_C(7258118400000); ms += INT64_C(86400000) * 13 / 10 + 7777) {
		time_t    t = (time_t)(ms / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
		time_rfc3339(ms, got, sizeof got);
		n++;
		if (strcmp(got, want) != 0 && bad++ == 0)
			diag("time_rfc3339(%" PRId64 ") = %s, gmtime_r says %s", ms, got, want);
	}
	ok(bad == 0 && n > 50000, "time_rfc3339 agrees with gmtime_r on %d dates from 1970 to 2200", n);
}

static void
test_rfc3339(void)
{
	char buf[32];

	rfc_is(0, "1970-01-01T00:00:00.000Z");
	rfc_is(1, "1970-01-01T00:00:00.001Z");
	rfc_is(999, "1970-01-01T00:00:00.999Z");
	rfc_is(1000, "1970-01-01T00:00:01.000Z");
	rfc_is(86399999, "1970-01-01T23:59:59.999Z");
	rfc_is(68169600000, "1972-02-29T00:00:00.000Z");
	rfc_is(951782400000, "2000-02-29T00:00:00.000Z");
	rfc_is(1709210096789, "2024-02-29T12:34:56.789Z");
	rfc_is(1795819500123, "2026-11-27T22:45:00.123Z");
	rfc_is(4102444800000, "2100-01-01T00:00:00.000Z");
	rfc_is(253402300799999, "9999-12-31T23:59:59.999Z");
	rfc_sweep();

	/* Exactly the 24 characters and the NUL fit in 25 bytes. */
	memset(buf, 'X', sizeof buf);
	time_rfc3339(1795819500123, buf, 25);
	is_str(buf, "2026-11-27T22:45:00.123Z", "time_rfc3339 fits a 25-byte buffer");
	ok(buf[25] == 'X', "time_rfc3339 writes nothing past the given length");
	memset(buf, 'X', sizeof buf);
	time_rfc3339(1795819500123, buf, 11);
	is_str(buf, "2026-11-27", "time_rfc3339 truncates to a short buffer, NUL-terminated");
	ok(buf[11] == 'X', "time_rfc3339 truncation stays inside the buffer");
}

static void
tv_is(double s, long sec, long usec)
{
	struct timeval tv = time_tv(s);

	if (!ok(tv.tv_sec == sec && tv.tv_usec == usec, "time_tv(%.9g) = {%ld, %ld}", s, sec, usec))
		diag("got {%ld, %ld}", (long)tv.tv_sec, (long)tv.tv_usec);
}

/* Decimal fractions are not exact in binary: allow the last microsecond. */
static void
tv_near(double s, long sec, long usec)
{
	struct timeval tv = time_tv(s);
	long           d = ((long)tv.tv_sec - sec) * 1000000 + (long)tv.tv_usec - usec;

	if (!ok(d >= -1 && d <= 1 && tv.tv_usec >= 0 && tv.tv_usec < 1000000,
	    "time_tv(%.9g) = {%ld, %ld} to 1 us", s, sec, usec))
		diag("got {%ld, %ld}", (long)tv.tv_sec, (long)tv.tv_usec);
}

static void
test_tv(void)
{
	int64_t        now;
	struct timeval tv;

	tv_is(0, 0, 0);
	tv_is(1, 1, 0);
	tv_is(0.5, 0, 500000);
	tv_is(1.25, 1, 250000);
	tv_is(2.75, 2, 750000);
	tv_is(0.000001, 0, 1);
	tv_is(60, 60, 0);
	tv_is(1e9, 1000000000, 0);
	tv_is(999999999.5, 999999999, 500000);
	tv_near(0.1, 0, 100000);
	tv_near(0.3, 0, 300000);
	tv_near(1.001, 1, 1000);
	tv_near(2.999999, 2, 999999);
	tv_near(0.9999999, 0, 999999);   /* rounds down or carries: both within 1 us */

	tv = time_until(0);
	ok(tv.tv_sec == 0 && tv.tv_usec == 0, "time_until(a past instant) is zero");
	tv = time_until(time_now_ms() - 5000);
	ok(tv.tv_sec == 0 && tv.tv_usec == 0, "time_until(5 s ago) is zero");
	/* Coarse: the clock may move by much less than the 10 s of slack. */
	tv = time_until(time_now_ms() + 864000000);
	ok(tv.tv_sec > 863990 && tv.tv_sec <= 864000 && tv.tv_usec >= 0 && tv.tv_usec < 1000000,
	    "time_until(now + 10 days) is about 10 days");

	now = time_now_ms();
	ok(now > INT64_C(1700000000000), "time_now_ms is after 2023 (milliseconds, not seconds)");
}

int
main(void)
{
	test_duration();
	test_id();
	test_uint();
	test_rfc3339();
	test_tv();
	return done_testing();
}
