/* spec.h: request bodies and queries -> validated specs.  Pure: no I/O. */
#ifndef SPEC_H
#define SPEC_H

#include <stdint.h>
#include <jansson.h>

#include "json_util.h"
#include "task.h"

struct kind_ops;

/* A validated POST /v1/tasks body. */
struct task_spec {
	const struct kind_ops *kind;
	char                  *name;      /* owned, may be NULL */
	double                 timeout;   /* < 0: none */
	json_t                *spec;      /* owned: normalised kind spec */
};

enum wait_when { WAIT_ALL_COMPLETED, WAIT_FIRST_COMPLETED, WAIT_FIRST_EXCEPTION };

/* A validated /v1/wait or /v1/gather body. */
struct wait_spec {
	int64_t          *ids;        /* owned; NULL when tasks are given inline */
	size_t            nids;
	struct task_spec *tasks;      /* owned; inline specs to create */
	size_t            ntasks;
	double            timeout;    /* < 0: none */
	enum wait_when    return_when;
	int               return_exceptions;
	int               cancel;
};

/* GET /v1/tasks query. */
struct list_spec {
	int             has_state;
	enum task_state state;
	const char     *kind;         /* static kind name or NULL */
	int64_t         after_id;
	int             limit;
};

/* GET /v1/tasks/{id}/result query. */
struct result_spec {
	double timeout;               /* < 0: none */
	int    cancel;
};

/* A query is a NULL-terminated array of {key, value} pairs. */
struct query_arg {
	const char *key;
	const char *value;            /* NULL when given without '=' */
};

/* Parsers fill *out even when they fail: always clear it afterwards. */
int  spec_parse_task(const json_t *body, struct task_spec *out, struct err *e);
void spec_task_clear(struct task_spec *s);
int  spec_parse_wait(const json_t *body, int gather, struct wait_spec *out, struct err *e);
void spec_wait_clear(struct wait_spec *s);
int  spec_parse_list(const struct query_arg *q, struct list_spec *out, struct err *e);
int  spec_parse_result(const struct query_arg *q, struct result_spec *out, struct err *e);
int  spec_parse_bool(const char *s, int *out);

#endif
