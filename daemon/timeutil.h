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
struct timeval time_tv(double seconds);

#endif
