/* json_util.c: strict JSON member checks, durations, and UTF-8 repair. */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "log.h"

int
err_set(struct err *e, int status, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int
ju_only_members(const json_t *obj, const char *const *allowed, const char *where, struct err *e)
{
	const char *key;
	json_t     *v;
	size_t      i;

	json_object_foreach((json_t *)obj, key, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return err_set(e, 400, "unknown member \"%s\" in %s", key, where);
	}
	return 0;
}

int
ju_duration(const json_t *v, const char *name, double *out, struct err *e)
{
	double d;

	if (!json_is_number(v))
		return err_set(e, 400, "\"%s\" must be a number of seconds", name);
	d = json_number_value(v);
	if (!isfinite(d) || d < 0 || d > 1e9)
		return err_set(e, 400, "\"%s\" must be between 0 and 1e9 seconds", name);
	*out = d;
	return 0;
}

int
ju_opt_duration(const json_t *obj, const char *name, double *out, struct err *e)
{
	const json_t *v = json_object_get(obj, name);

	*out = -1;
	if (v == NULL || json_is_null(v))
		return 0;
	return ju_duration(v, name, out, e);
}

int
ju_opt_bool(const json_t *obj, const char *name, int *out, struct err *e)
{
	const json_t *v = json_object_get(obj, name);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return err_set(e, 400, "\"%s\" must be true or false", name);
	*out = json_is_true(v);
	return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one. */
static size_t
ju_utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t        len, i;
	uint32_t      cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
	else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
	else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static int
ju_spend(size_t *budget, size_t n)
{
	if (n > *budget)
		return -1;
	*budget -= n;
	return 0;
}

int
ju_cost(const json_t *j, size_t *budget)
{
	const char *key;
	json_t     *v;
	size_t      i;

	if (j == NULL)
		return 0;
	if (ju_spend(budget, 16) < 0)
		return -1;
	switch (json_typeof(j)) {
	case JSON_STRING:
		return ju_spend(budget, json_string_length(j));
	case JSON_ARRAY:
		json_array_foreach(j, i, v)
			if (ju_cost(v, budget) < 0)
				return -1;
		return 0;
	case JSON_OBJECT:
		json_object_foreach((json_t *)j, key, v)
			if (ju_spend(budget, strlen(key)) < 0 || ju_cost(v, budget) < 0)
				return -1;
		return 0;
	default:
		return 0;
	}
}

int
ju_is_utf8(const unsigned char *p, size_t n)
{
	size_t i = 0, l;

	while (i < n) {
		if ((l = ju_utf8_len(p + i, n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

json_t *
ju_string_lossy(const unsigned char *p, size_t n)
{
	unsigned char *buf, *o;
	size_t         i = 0, l;
	json_t        *s;

	if (ju_is_utf8(p, n))
		return json_stringn((const char *)p, n);
	if ((buf = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (o = buf; i < n; ) {
		if ((l = ju_utf8_len(p + i, n - i)) == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);  /* U+FFFD */
			o += 3;
			i++;
		} else {
			memcpy(o, p + i, l);
			o += l;
			i += l;
		}
	}
	s = json_stringn((const char *)buf, (size_t)(o - buf));
	free(buf);
	return s;
}

json_t *
ju_error(const char *type, const char *msg)
{
	json_t *e, *m;

	if ((m = ju_string_lossy((const unsigned char *)msg, strlen(msg))) == NULL ||
	    (e = json_pack("{s:s, s:o}", "type", type, "message", m)) == NULL)
		fatal("out of memory");
	return e;
}
