/* timeutil.h: wall-clock milliseconds, RFC 3339, and strict number parsing. */
#ifndef TIMEUTIL_H
#define TIMEUTIL_H

#include <stdint.h>
#include <sys/time.h>

int64_t time_now_ms(void);
/* "2026-11-24T22:45:00.123Z" into buf (at least 32 bytes). */
void    time_rfc3339(int64_t ms, char *buf, size_t len);
/* A duration given as a decimal string ("1", "0.5", "2e3"): 0 or -1. */
int     time_parse_duration(const char *s, double *out);
/* A positive decimal id without sign or leading zero, <= 2^63-1: 0 or -1. */
int     time_parse_id(const char *s, int64_t *out);
/* A non-negative decimal integer (no sign, no leading zeros but "0"): 0 or -1. */
int     time_parse_uint(const char *s, int64_t *out);
/* Milliseconds from now until the wall-clock instant at_ms, as a timeval (>= 0). */
struct timeval time_until(int64_t at_ms);
/* The wall-clock instant at_ms as an instant of CLOCK_MONOTONIC (in us):
 * what is left until it, now, is from then on counted as elapsed time,
 * which a step of the wall clock neither shortens nor lengthens. */
int64_t time_mono_at(int64_t at_ms);
/* Time from now until the monotonic instant mono_us, as a timeval (>= 0). */
struct timeval time_until_mono(int64_t mono_us);
struct timeval time_tv(double seconds);

#endif
