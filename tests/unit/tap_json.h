/* tap_json.h: JSON helpers for the TAP unit tests (after tap.h). */
#ifndef TAP_JSON_H
#define TAP_JSON_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tap.h"

/* JSON written with single quotes, so the cases stay readable. */
static inline json_t *
J(const char *text)
{
	json_error_t jerr;
	json_t      *v;
	char        *buf, *p;

	if ((buf = strdup(text)) == NULL)
		bail_out("out of memory");
	for (p = buf; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(buf, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (v == NULL)
		bail_out("bad test JSON %s: %s", buf, jerr.text);
	free(buf);
	return v;
}

/* json_equal with the two values shown when they differ. */
static inline void
json_is(const json_t *got, const char *want_text, const char *name)
{
	json_t *want = J(want_text);
	char   *g;

	if (!ok(got != NULL && json_equal(got, want), "%s", name)) {
		g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_SORT_KEYS) : NULL;
		diag("       got: %s", g ? g : "NULL");
		diag("  expected: %s", want_text);
		free(g);
	}
	json_decref(want);
}

#endif
