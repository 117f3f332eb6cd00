/* json_write.h: compact JSON text, written straight into one growing
 * buffer: from jansson values (the same text json_dumps(JSON_COMPACT |
 * JSON_ENCODE_ANY | JSON_REAL_PRECISION(p)) writes, at a fraction of its
 * cost) or piece by piece, for objects the daemon answers with often. */
#ifndef JSON_WRITE_H
#define JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* A text being written; the buffer is the writer's until jw_finish. */
struct jw {
	char  *p;
	size_t len, cap;
	int    precision;     /* significant digits of reals (1..17) */
};

void  jw_init(struct jw *w, int precision);
void  jw_raw(struct jw *w, const char *s, size_t n);     /* as it is: punctuation, keys */
void  jw_string(struct jw *w, const char *s, size_t n);  /* a JSON string of valid UTF-8 */
void  jw_integer(struct jw *w, int64_t v);
void  jw_value(struct jw *w, const json_t *j);
/* The text (NUL-terminated, malloc'd: the caller frees it), with a newline
 * if asked; its length without the NUL in *len (if not NULL). */
char *jw_finish(struct jw *w, int newline, size_t *len);

/* j as text, in one call.  Never NULL: out of memory is fatal. */
char *jw_dumps(const json_t *j, int precision, int newline, size_t *len);

#endif
