/* spec.c: request bodies and queries -> validated specs.  Pure: no I/O. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "spec.h"
#include "timeutil.h"

#define SPEC_NAME_MAX 256

static int
spec_parse_kind(const json_t *body, struct task_spec *out, struct err *e)
{
	const struct kind_ops *const *k;
	const json_t *kv = json_object_get(body, "kind");
	const json_t *member;

	if (kv == NULL)
		return err_set(e, 400, "\"kind\" is required");
	if (!json_is_string(kv))
		return err_set(e, 400, "\"kind\" must be a string");
	if ((out->kind = kind_find(json_string_value(kv))) == NULL)
		return err_set(e, 400, "unknown kind \"%s\"", json_string_value(kv));
	/* A member naming another kind is a typo or a confusion: refuse it. */
	for (k = kind_all(); *k != NULL; k++)
		if (*k != out->kind && json_object_get(body, (*k)->name) != NULL)
			return err_set(e, 400, "member \"%s\" does not match kind \"%s\"",
			    (*k)->name, out->kind->name);
	member = json_object_get(body, out->kind->name);
	if (member == NULL)
		return err_set(e, 400, "member \"%s\" is required for kind \"%s\"",
		    out->kind->name, out->kind->name);
	if (!json_is_object(member))
		return err_set(e, 400, "\"%s\" must be an object", out->kind->name);
	return out->kind->parse(member, &out->spec, e);
}

int
spec_parse_task(const json_t *body, struct task_spec *out, struct err *e)
{
	static const char *const allowed[] = { "kind", "name", "timeout", "sleep", "exec", "http", NULL };
	const json_t *name;

	memset(out, 0, sizeof *out);
	out->timeout = -1;
	if (!json_is_object(body))
		return err_set(e, 400, "a task spec must be a JSON object");
	if (ju_only_members(body, allowed, "the task spec", e) < 0)
		return -1;
	name = json_object_get(body, "name");
	if (name != NULL && !json_is_null(name)) {
		if (!json_is_string(name))
			return err_set(e, 400, "\"name\" must be a string");
		if (json_string_length(name) > SPEC_NAME_MAX)
			return err_set(e, 400, "\"name\" is longer than %d bytes", SPEC_NAME_MAX);
		if (memchr(json_string_value(name), '\0', json_string_length(name)) != NULL)
			return err_set(e, 400, "\"name\" must not contain NUL");
	}
	if (ju_opt_duration(body, "timeout", &out->timeout, e) < 0)
		return -1;
	if (spec_parse_kind(body, out, e) < 0)
		return -1;
	if (name != NULL && json_is_string(name))
		out->name = strdup(json_string_value(name));
	return 0;
}

void
spec_task_clear(struct task_spec *s)
{
	free(s->name);
	json_decref(s->spec);
	memset(s, 0, sizeof *s);
	s->timeout = -1;
}

static int
spec_parse_ids(const json_t *v, struct wait_spec *out, struct err *e)
{
	size_t  i;
	json_t *id;

	if (!json_is_array(v))
		return err_set(e, 400, "\"ids\" must be an array of task ids");
	out->nids = json_array_size(v);
	if ((out->ids = calloc(out->nids + 1, sizeof *out->ids)) == NULL)
		return err_set(e, 500, "out of memory");
	json_array_foreach(v, i, id) {
		if (!json_is_integer(id) || json_integer_value(id) <= 0)
			return err_set(e, 400, "\"ids\"[%zu] is not a task id", i);
		out->ids[i] = json_integer_value(id);
	}
	return 0;
}

static int
spec_parse_inline(const json_t *v, struct wait_spec *out, struct err *e)
{
	size_t  i;
	json_t *t;
	struct err sub;

	if (!json_is_array(v))
		return err_set(e, 400, "\"tasks\" must be an array of task specs");
	out->ntasks = json_array_size(v);
	if ((out->tasks = calloc(out->ntasks + 1, sizeof *out->tasks)) == NULL)
		return err_set(e, 500, "out of memory");
	json_array_foreach(v, i, t) {
		if (spec_parse_task(t, &out->tasks[i], &sub) < 0)
			return err_set(e, sub.status, "\"tasks\"[%zu]: %s", i, sub.msg);
	}
	return 0;
}

static int
spec_parse_when(const json_t *v, enum wait_when *out, struct err *e)
{
	static const char *const names[] = {
		[WAIT_ALL_COMPLETED] = "ALL_COMPLETED",
		[WAIT_FIRST_COMPLETED] = "FIRST_COMPLETED",
		[WAIT_FIRST_EXCEPTION] = "FIRST_EXCEPTION",
	};
	size_t i;

	if (v == NULL)
		return 0;
	if (json_is_string(v))
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strcmp(json_string_value(v), names[i]) == 0) {
				*out = (enum wait_when)i;
				return 0;
			}
	return err_set(e, 400, "\"return_when\" must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED");
}

int
spec_parse_wait(const json_t *body, int gather, struct wait_spec *out, struct err *e)
{
	static const char *const wait_allowed[] = { "ids", "tasks", "timeout", "return_when", NULL };
	static const char *const gather_allowed[] = { "ids", "tasks", "timeout", "return_exceptions", "cancel", NULL };
	const json_t *ids, *tasks;

	memset(out, 0, sizeof *out);
	out->timeout = -1;
	out->cancel = 1;
	if (!json_is_object(body))
		return err_set(e, 400, "the body must be a JSON object");
	if (ju_only_members(body, gather ? gather_allowed : wait_allowed, "the body", e) < 0)
		return -1;
	ids = json_object_get(body, "ids");
	tasks = json_object_get(body, "tasks");
	if ((ids == NULL) == (tasks == NULL))
		return err_set(e, 400, "give exactly one of \"ids\" and \"tasks\"");
	if (ids != NULL && spec_parse_ids(ids, out, e) < 0)
		return -1;
	if (tasks != NULL && spec_parse_inline(tasks, out, e) < 0)
		return -1;
	if (!gather && out->nids + out->ntasks == 0)
		return err_set(e, 400, "\"%s\" must not be empty", ids ? "ids" : "tasks");
	if (ju_opt_duration(body, "timeout", &out->timeout, e) < 0 ||
	    spec_parse_when(json_object_get(body, "return_when"), &out->return_when, e) < 0 ||
	    ju_opt_bool(body, "return_exceptions", &out->return_exceptions, e) < 0 ||
	    ju_opt_bool(body, "cancel", &out->cancel, e) < 0)
		return -1;
	return 0;
}

void
spec_wait_clear(struct wait_spec *s)
{
	size_t i;

	for (i = 0; i < s->ntasks; i++)
		spec_task_clear(&s->tasks[i]);
	free(s->tasks);
	free(s->ids);
	memset(s, 0, sizeof *s);
}

int
spec_parse_bool(const char *s, int *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Each known key at most once, every key known. */
static int
spec_query_check(const struct query_arg *q, const char *const *allowed, struct err *e)
{
	const struct query_arg *p, *r;
	size_t i;

	for (p = q; p->key != NULL; p++) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(p->key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return err_set(e, 400, "unknown query parameter \"%s\"", p->key);
		for (r = q; r != p; r++)
			if (strcmp(r->key, p->key) == 0)
				return err_set(e, 400, "query parameter \"%s\" given twice", p->key);
	}
	return 0;
}

int
spec_parse_list(const struct query_arg *q, struct list_spec *out, struct err *e)
{
	static const char *const allowed[] = { "state", "kind", "limit", "after_id", NULL };
	const struct query_arg *p;
	int64_t v;

	memset(out, 0, sizeof *out);
	out->limit = 100;
	if (spec_query_check(q, allowed, e) < 0)
		return -1;
	for (p = q; p->key != NULL; p++) {
		const char *val = p->value ? p->value : "";

		if (strcmp(p->key, "state") == 0) {
			if (task_state_parse(val, &out->state) < 0)
				return err_set(e, 400, "unknown state \"%s\"", val);
			out->has_state = 1;
		} else if (strcmp(p->key, "kind") == 0) {
			const struct kind_ops *k = kind_find(val);

			if (k == NULL)
				return err_set(e, 400, "unknown kind \"%s\"", val);
			out->kind = k->name;
		} else if (strcmp(p->key, "limit") == 0) {
			if (time_parse_uint(val, &v) < 0 || v < 1 || v > 1000)
				return err_set(e, 400, "\"limit\" must be an integer from 1 to 1000");
			out->limit = (int)v;
		} else if (strcmp(p->key, "after_id") == 0) {
			if (time_parse_uint(val, &out->after_id) < 0)
				return err_set(e, 400, "\"after_id\" must be a task id");
		}
	}
	return 0;
}

int
spec_parse_result(const struct query_arg *q, struct result_spec *out, struct err *e)
{
	static const char *const allowed[] = { "timeout", "cancel", NULL };
	const struct query_arg *p;

	out->timeout = -1;
	out->cancel = 1;
	if (spec_query_check(q, allowed, e) < 0)
		return -1;
	for (p = q; p->key != NULL; p++) {
		if (strcmp(p->key, "timeout") == 0) {
			if (p->value == NULL || time_parse_duration(p->value, &out->timeout) < 0)
				return err_set(e, 400, "\"timeout\" must be a number of seconds from 0 to 1e9");
		} else if (spec_parse_bool(p->value, &out->cancel) < 0)
			return err_set(e, 400, "\"cancel\" must be true, false, 1 or 0");
	}
	return 0;
}
