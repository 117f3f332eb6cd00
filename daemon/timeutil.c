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
	int64_t   days, secs, z, era, doe, yoe, doy, mp, y, m, d;
	char      out[32];
	time_t    t;
	struct tm tm;

	if (ms < 0 || ms >= INT64_C(253402300800000)) {      /* outside 1970..9999 */
		t = (time_t)(ms / 1000);
		gmtime_r(&t, &tm);
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		    (int)((ms % 1000 + 1000) % 1000));
		return;
	}
	/* Every task object carries three of these: no gmtime_r (it takes
	 * glibc's time-zone lock) and no printf.  Days to a civil date as in
	 * H. Hinnant's civil_from_days. */
	days = ms / 86400000;
	secs = ms / 1000 % 86400;
	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = 'T';
	out[11] = (char)('0' + secs / 36000);
	out[12] = (char)('0' + secs / 3600 % 10);
	out[13] = ':';
	out[14] = (char)('0' + secs % 3600 / 600);
	out[15] = (char)('0' + secs % 3600 / 60 % 10);
	out[16] = ':';
	out[17] = (char)('0' + secs % 60 / 10);
	out[18] = (char)('0' + secs % 10);
	out[19] = '.';
	out[20] = (char)('0' + ms % 1000 / 100);
	out[21] = (char)('0' + ms % 100 / 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	if (len == 0)
		return;
	if (len > 25)
		len = 25;
	memcpy(buf, out, len - 1);
	buf[len - 1] = '\0';
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

static int64_t
time_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
time_mono_at(int64_t at_ms)
{
	int64_t left = at_ms * 1000 - time_us(CLOCK_REALTIME);

	return time_us(CLOCK_MONOTONIC) + (left > 0 ? left : 0);
}

struct timeval
time_until_mono(int64_t mono_us)
{
	int64_t d = mono_us - time_us(CLOCK_MONOTONIC);

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
