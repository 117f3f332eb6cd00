/* json_write.c: compact JSON text from jansson values.
 *
 * Why not json_dumps: for every object and array it prints the value's
 * address with snprintf into a hash table (its guard against cycles), and
 * it passes strings through a callback a code point at a time.  Under the
 * create load that was 13% of the loop, more than parsing the request.
 * This writes the same text into one growing buffer.  What it leaves out
 * is safe to leave out here: the values jobd answers with are trees it
 * built itself (no cycles), and jansson's strings are valid UTF-8 already
 * (json_string checks; jobd makes none with the _nocheck calls), so only
 * the bytes JSON requires escaping need a look. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "log.h"

static void
jw_reserve(struct jw *w, size_t n)
{
	if (w->len + n <= w->cap)
		return;
	while (w->len + n > w->cap)
		w->cap = w->cap ? w->cap * 2 : 256;
	if ((w->p = realloc(w->p, w->cap)) == NULL)
		fatal("out of memory");
}

void
jw_raw(struct jw *w, const char *s, size_t n)
{
	jw_reserve(w, n);
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

void
jw_string(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;

	jw_reserve(w, n + 2);
	w->p[w->len++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char          esc[6];
		size_t        elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		esc[0] = '\\';
		jw_raw(w, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		jw_raw(w, esc, elen);
	}
	jw_raw(w, s + run, n - run);
	jw_raw(w, "\"", 1);
}

void
jw_integer(struct jw *w, int64_t v)
{
	char     buf[24], *e = buf + sizeof buf, *p = e;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	jw_raw(w, p, (size_t)(e - p));
}

/* As jansson prints reals (strconv.c, jsonp_dtostr): %.*g, then ".0" where
 * that reads as an integer, and the exponent without "+" or leading zeros
 * (1e+20 -> 1e20, 1e-07 -> 1e-7). */
static void
jw_real(struct jw *w, double v)
{
	char   buf[64], *start, *end;
	int    n = snprintf(buf, sizeof buf - 3, "%.*g", w->precision, v);
	size_t len;

	if (n < 0 || (size_t)n >= sizeof buf - 3)
		fatal("cannot print the number %g", v);
	len = (size_t)n;
	if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
		memcpy(buf + len, ".0", 3);
		len += 2;
	}
	if ((start = strchr(buf, 'e')) != NULL) {
		end = ++start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - buf) + 1);
			len -= (size_t)(end - start);
		}
	}
	jw_raw(w, buf, len);
}

void
jw_value(struct jw *w, const json_t *j)
{
	const char *key;
	void       *it;
	size_t      i, n;
	int         first = 1;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		jw_raw(w, "{", 1);
		for (it = json_object_iter((json_t *)j); it != NULL;
		    it = json_object_iter_next((json_t *)j, it)) {
			if (!first)
				jw_raw(w, ",", 1);
			first = 0;
			key = json_object_iter_key(it);
			jw_string(w, key, json_object_iter_key_len(it));
			jw_raw(w, ":", 1);
			jw_value(w, json_object_iter_value(it));
		}
		jw_raw(w, "}", 1);
		break;
	case JSON_ARRAY:
		jw_raw(w, "[", 1);
		for (i = 0, n = json_array_size(j); i < n; i++) {
			if (i > 0)
				jw_raw(w, ",", 1);
			jw_value(w, json_array_get(j, i));
		}
		jw_raw(w, "]", 1);
		break;
	case JSON_STRING:
		jw_string(w, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		jw_integer(w, json_integer_value(j));
		break;
	case JSON_REAL:
		jw_real(w, json_real_value(j));
		break;
	case JSON_TRUE:
		jw_raw(w, "true", 4);
		break;
	case JSON_FALSE:
		jw_raw(w, "false", 5);
		break;
	case JSON_NULL:
		jw_raw(w, "null", 4);
		break;
	}
}

void
jw_init(struct jw *w, int precision)
{
	*w = (struct jw){ .precision = precision };
}

char *
jw_finish(struct jw *w, int newline, size_t *len)
{
	char *p;

	if (newline)
		jw_raw(w, "\n", 1);
	jw_raw(w, "", 1);
	if (len != NULL)
		*len = w->len - 1;
	p = w->p;
	w->p = NULL;
	return p;
}

char *
jw_dumps(const json_t *j, int precision, int newline, size_t *len)
{
	struct jw w;

	if (j == NULL)
		fatal("jw_dumps: no value");
	jw_init(&w, precision);
	jw_value(&w, j);
	return jw_finish(&w, newline, len);
}
