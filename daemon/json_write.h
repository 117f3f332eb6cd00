/* json_write.h: compact JSON text from jansson values, the same text
 * json_dumps(JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(p))
 * writes, at a fraction of its cost. */
#ifndef JSON_WRITE_H
#define JSON_WRITE_H

#include <stddef.h>
#include <jansson.h>

/* j as text (NUL-terminated, malloc'd: the caller frees it), followed by a
 * newline if newline is set; its length, without the NUL, in *len (if
 * not NULL).  precision: significant digits of reals (1..17).  Never NULL:
 * out of memory is fatal. */
char *jw_dumps(const json_t *j, int precision, int newline, size_t *len);

#endif
