/* json_util.h: strict JSON member checks and the error cause type. */
#ifndef JSON_UTIL_H
#define JSON_UTIL_H

#include <stdint.h>
#include <jansson.h>

/* A cause for bad input, turned into a 400 (or other status) by the caller. */
struct err {
	int  status;
	char msg[256];
};

int  err_set(struct err *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* -1 and a cause naming the first member of obj not in the NULL-terminated list. */
int  ju_only_members(const json_t *obj, const char *const *allowed, const char *where, struct err *e);
/* Duration: a finite number 0..1e9.  Returns -1 with a cause. */
int  ju_duration(const json_t *v, const char *name, double *out, struct err *e);
/* Optional duration: absent or null leaves *out = -1. */
int  ju_opt_duration(const json_t *obj, const char *name, double *out, struct err *e);
int  ju_opt_bool(const json_t *obj, const char *name, int *out, struct err *e);
/* A JSON string with valid UTF-8 made from arbitrary bytes (bad bytes -> U+FFFD). */
json_t *ju_string_lossy(const unsigned char *p, size_t n);
int  ju_is_utf8(const unsigned char *p, size_t n);
/* {"type": type, "message": msg}, msg made valid UTF-8 (it may quote what a
 * client sent, or be cut inside a character): never NULL. */
json_t *ju_error(const char *type, const char *msg);
/* Takes about the memory j holds (its strings and keys, 16 bytes a value)
 * from *budget: 0, or -1 as soon as the budget is spent.  NULL costs 0. */
int  ju_cost(const json_t *j, size_t *budget);

#endif
