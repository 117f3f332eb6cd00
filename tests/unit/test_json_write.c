/* test_json_write.c: jw_dumps writes exactly what json_dumps writes
 * (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(p)): chosen cases
 * first, then many random values compared byte for byte. */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_write.h"
#include "tap.h"
#include "tap_json.h"

/* jw_dumps(v) and json_dumps(v) the same, for both precisions jobd uses. */
static int
same_as_jansson(const json_t *v, const char *name)
{
	int    p, pass = 1;
	size_t len;

	for (p = 15; p <= 17; p += 2) {
		char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(p));
		char *got = jw_dumps(v, p, 0, &len);

		if (want == NULL)
			bail_out("json_dumps failed for %s", name);
		if (strcmp(got, want) != 0 || len != strlen(want)) {
			if (name != NULL)
				is_str(got, want, name);
			pass = 0;
		}
		free(want);
		free(got);
		if (!pass)
			break;
	}
	if (pass && name != NULL)
		ok(1, "%s", name);
	return pass;
}

static void
test_cases(void)
{
	static const char *const texts[] = {
		"null", "true", "false", "0", "-1", "9223372036854775807", "-9223372036854775808",
		"0.1", "0.5", "1.0", "-0.0", "3.0", "1e20", "1e21", "1.5e300", "1e-7", "1e-5",
		"123456789012345678.0", "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308",
		"0.30000000000000004", "100000000000000000000000.0", "''", "'plain'",
		"'quote \\\" backslash \\\\ slash /'", "'\\b\\f\\n\\r\\t'",
		"'\\u0000 \\u0001 \\u001f \\u007f'", "'caf\\u00e9 \\u2603 \\ud83d\\ude00'",
		"[]", "{}", "[[],{},[{}]]", "{'a':1,'b':[1,2.5,'x'],'c':{'d':null}}",
		"{'':'empty key','k\\n':'escaped key','\\u00e9':true}",
		"{'id':17,'kind':'sleep','name':null,'state':'succeeded','spec':{'seconds':0.6,'result':1}}",
	};
	size_t i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		json_t *v = J(texts[i]);

		same_as_jansson(v, texts[i]);
		json_decref(v);
	}
}

static void
test_newline(void)
{
	json_t *v = J("{'a':[1,2]}");
	size_t  len;
	char   *s = jw_dumps(v, 15, 1, &len);

	is_str(s, "{\"a\":[1,2]}\n", "newline appended on request");
	is_int(len, strlen(s), "its length counts the newline");
	free(s);
	json_decref(v);
}

/* --- random values --------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A valid UTF-8 string of up to 12 code points, often control characters
 * and the characters JSON escapes; sometimes with NUL bytes. */
static json_t *
random_string(void)
{
	char     buf[64];
	size_t   n = 0;
	int      k, len = (int)(next() % 13);

	for (k = 0; k < len; k++) {
		uint32_t cp;

		switch (next() % 6) {
		case 0: cp = (uint32_t)(next() % 0x20); break;
		case 1: cp = "\"\\/ aZ~\x7f"[next() % 8]; break;
		case 2: cp = 0x80 + (uint32_t)(next() % 0x780); break;
		case 3: cp = 0x800 + (uint32_t)(next() % 0xf800); break;
		case 4: cp = 0x10000 + (uint32_t)(next() % 0x100000); break;
		default: cp = 0x20 + (uint32_t)(next() % 0x5f); break;
		}
		if (cp >= 0xd800 && cp <= 0xdfff)
			cp = 'x';
		if (cp < 0x80)
			buf[n++] = (char)cp;
		else if (cp < 0x800) {
			buf[n++] = (char)(0xc0 | cp >> 6);
			buf[n++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			buf[n++] = (char)(0xe0 | cp >> 12);
			buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			buf[n++] = (char)(0x80 | (cp & 0x3f));
		} else {
			buf[n++] = (char)(0xf0 | cp >> 18);
			buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
			buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
			buf[n++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	return json_stringn(buf, n);
}

static json_t *
random_real(void)
{
	double d;

	switch (next() % 3) {
	case 0: {		/* any finite double */
		uint64_t bits = next();

		memcpy(&d, &bits, sizeof d);
		if (!isfinite(d))
			d = 1.25;
		break;
	}
	case 1:			/* a short decimal, as clients write them */
		d = (double)(int64_t)(next() % 2000001 - 1000000) / 1000.0;
		break;
	default:		/* an integer held as a real, sometimes huge */
		d = ldexp((double)(next() % 1000), (int)(next() % 90));
	}
	return json_real(d);
}

static json_t *
random_value(int depth)
{
	json_t *v;
	int     k, n;

	switch (next() % (depth > 3 ? 6 : 8)) {
	case 0: return json_null();
	case 1: return json_boolean(next() & 1);
	case 2: return json_integer((json_int_t)next() >> (next() % 64));
	case 3: return random_real();
	case 4:
	case 5: return random_string();
	case 6:
		v = json_array();
		for (k = 0, n = (int)(next() % 5); k < n; k++)
			json_array_append_new(v, random_value(depth + 1));
		return v;
	default:
		v = json_object();
		for (k = 0, n = (int)(next() % 5); k < n; k++) {
			json_t *key = random_string();

			json_object_setn_new(v, json_string_value(key), json_string_length(key),
			    random_value(depth + 1));
			json_decref(key);
		}
		return v;
	}
}

static void
test_random(void)
{
	int i, bad = 0, n = 20000;

	for (i = 0; i < n; i++) {
		json_t *v = random_value(0);
		char    name[64];

		snprintf(name, sizeof name, "random value %d", i);
		/* Quietly, and again by name for the first few that differ. */
		if (!same_as_jansson(v, NULL) && bad++ < 3)
			same_as_jansson(v, name);
		json_decref(v);
	}
	ok(bad == 0, "%d random values written as json_dumps writes them (%d differ)", n, bad);
}

int
main(void)
{
	test_cases();
	test_newline();
	test_random();
	return done_testing();
}
