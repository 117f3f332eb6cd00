/* timeutil.c: wall-clock milliseconds, RFC 3339, and strict number parsing. */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

int64_t
time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
time_rfc3339(int64_t ms, char *buf, size_t len)
{
	time_t    secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* Accepts digits[.digits][e[+-]digits] or .digits...: what a person types.
 * strtod alone would also take "inf", "nan", hex and leading blanks. */
int
time_parse_duration(const char *s, double *out)
{
	const char *p = s;
	int         digits = 0;
	char       *end;
	double      v;

	while (isdigit((unsigned char)*p)) { p++; digits++; }
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			digits++;
	if (digits == 0)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p != '\0')
		return -1;
	/* ERANGE on underflow ("1e-400") is a 0, as JSON gives it; an
	 * overflow is infinite and refused below. */
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v) || v < 0 || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

int
time_parse_uint(const char *s, int64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
		if (v > (UINT64_C(9223372036854775807) - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = (int64_t)v;
	return 0;
}

int
time_parse_id(const char *s, int64_t *out)
{
	int64_t v;

	if (time_parse_uint(s, &v) < 0 || v == 0)
		return -1;
	*out = v;
	return 0;
}

/* Counted in microseconds: a whole-millisecond "now" would make every
 * timer up to a millisecond late. */
struct timeval
time_until(int64_t at_ms)
{
	struct timespec ts;
	int64_t         d;

	clock_gettime(CLOCK_REALTIME, &ts);
	d = at_ms * 1000 - ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	if (d < 0)
		d = 0;
	return (struct timeval){ .tv_sec = d / 1000000, .tv_usec = d % 1000000 };
}

struct timeval
time_tv(double seconds)
{
	struct timeval tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6 + 0.5);
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec++;
		tv.tv_usec -= 1000000;
	}
	return tv;
}
