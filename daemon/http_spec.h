/* http_spec.h: validating the spec of an http task.  Pure: no I/O. */
#ifndef HTTP_SPEC_H
#define HTTP_SPEC_H

#include <jansson.h>

#include "json_util.h"

#define HTTP_CONNECT_TIMEOUT   30.0    /* seconds, API.md */

/* The "http" member of a task spec: strict, unknown members refused; *out
 * gets the normalised spec (the given members, plus the default method). */
int http_spec_parse(const json_t *in, json_t **out, struct err *e);

#endif
