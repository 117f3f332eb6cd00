/* task.c: the task object, its states, legal transitions, and its JSON form. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "kind.h"
#include "log.h"
#include "task.h"
#include "timeutil.h"

static const char *const task_state_names[TASK_NSTATES] = {
	[TASK_PENDING] = "pending",
	[TASK_RUNNING] = "running",
	[TASK_SUCCEEDED] = "succeeded",
	[TASK_FAILED] = "failed",
	[TASK_CANCELLED] = "cancelled",
};

/* allowed[from][to] */
static const unsigned char task_allowed[TASK_NSTATES][TASK_NSTATES] = {
	[TASK_PENDING] = { [TASK_RUNNING] = 1, [TASK_CANCELLED] = 1, [TASK_FAILED] = 1 },
	[TASK_RUNNING] = { [TASK_SUCCEEDED] = 1, [TASK_FAILED] = 1, [TASK_CANCELLED] = 1 },
};

struct task *
task_new(int64_t id, const struct kind_ops *kind)
{
	struct task *t;

	if ((t = calloc(1, sizeof *t)) == NULL)
		fatal("out of memory");
	t->id = id;
	t->kind = kind;
	t->timeout = -1;
	TAILQ_INIT(&t->watches);
	return t;
}

void
task_free(struct task *t)
{
	if (t == NULL)
		return;
	free(t->name);
	json_decref(t->spec);
	json_decref(t->result);
	json_decref(t->error);
	free(t->out[0].data);
	free(t->out[1].data);
	free(t);
}

struct task *
task_copy(const struct task *t)
{
	struct task *c = task_new(t->id, t->kind);

	if (t->name != NULL && (c->name = strdup(t->name)) == NULL)
		fatal("out of memory");
	c->state = t->state;
	c->stop = t->stop;
	c->created_at = t->created_at;
	c->started_at = t->started_at;
	c->finished_at = t->finished_at;
	c->timeout = t->timeout;
	c->spec = json_incref(t->spec);
	c->result = json_incref(t->result);
	c->error = json_incref(t->error);
	c->pgid = t->pgid;
	c->pgid_stale = t->pgid_stale;
	c->leftover = t->leftover;
	c->wake_at = t->wake_at;
	c->commit_seq = t->commit_seq;
	return c;
}

int
task_is_done(enum task_state s)
{
	return s == TASK_SUCCEEDED || s == TASK_FAILED || s == TASK_CANCELLED;
}

const char *
task_state_name(enum task_state s)
{
	return (unsigned)s < TASK_NSTATES ? task_state_names[s] : "unknown";
}

int
task_state_parse(const char *s, enum task_state *out)
{
	int i;

	for (i = 0; i < TASK_NSTATES; i++)
		if (strcmp(s, task_state_names[i]) == 0) {
			*out = (enum task_state)i;
			return 0;
		}
	return -1;
}

int
task_can_transition(enum task_state from, enum task_state to)
{
	return (unsigned)from < TASK_NSTATES && (unsigned)to < TASK_NSTATES &&
	    task_allowed[from][to];
}

static json_t *
task_time_json(int64_t ms)
{
	char buf[40];

	if (ms == 0)
		return json_null();
	time_rfc3339(ms, buf, sizeof buf);
	return json_string(buf);
}

/* Whole seconds read back as integers, as the client wrote them. */
static json_t *
task_number_json(double v)
{
	if (v < 0)
		return json_null();
	if (v == (double)(json_int_t)v)
		return json_integer((json_int_t)v);
	return json_real(v);
}

json_t *
task_to_json(const struct task *t)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(t->id));
	json_object_set_new(o, "kind", json_string(t->kind->name));
	json_object_set_new(o, "name", t->name ? json_string(t->name) : json_null());
	json_object_set_new(o, "state", json_string(task_state_name(t->state)));
	if (t->stop != TASK_STOP_NONE && !task_is_done(t->state))
		json_object_set_new(o, "cancelling", json_true());
	json_object_set_new(o, "created_at", task_time_json(t->created_at));
	json_object_set_new(o, "started_at", task_time_json(t->started_at));
	json_object_set_new(o, "finished_at", task_time_json(t->finished_at));
	json_object_set_new(o, "timeout", task_number_json(t->timeout));
	json_object_set(o, "spec", t->spec ? t->spec : json_null());
	json_object_set(o, "result", t->result && t->state == TASK_SUCCEEDED ? t->result : json_null());
	json_object_set(o, "error", t->error ? t->error : json_null());
	return o;
}

/* --- the same object as text, for the answers that carry one task --- */

static void
task_text_key(struct jw *w, const char *key)
{
	jw_raw(w, key, strlen(key));
}

static void
task_text_time(struct jw *w, const char *key, int64_t ms)
{
	char buf[40];

	task_text_key(w, key);
	if (ms == 0) {
		jw_raw(w, "null", 4);
		return;
	}
	time_rfc3339(ms, buf, sizeof buf);
	jw_string(w, buf, strlen(buf));
}

/* A JSON member: raw text as stored (when raw is set), else j. */
static void
task_text_json(struct jw *w, const char *key, const json_t *j, const struct task_raw *raw, int i)
{
	task_text_key(w, key);
	if (raw != NULL && raw->text[i] != NULL)
		jw_raw(w, raw->text[i], raw->len[i]);
	else if (j == NULL)
		jw_raw(w, "null", 4);
	else
		jw_value(w, j);
}

/* What jw_dumps(task_to_json(t)) writes, without building the object:
 * the 201 of a create, GET /v1/tasks/{id} and the result of a task done. */
char *
task_to_text(const struct task *t, size_t *len)
{
	return task_to_text_raw(t, NULL, len);
}

char *
task_to_text_raw(const struct task *t, const struct task_raw *raw, size_t *len)
{
	struct jw w;

	jw_init(&w, 15);
	task_write(&w, t, raw);
	return jw_finish(&w, 1, len);
}

void
task_write(struct jw *w, const struct task *t, const struct task_raw *raw)
{
	const char *state = task_state_name(t->state);
	json_t     *timeout = task_number_json(t->timeout);

	task_text_key(w, "{\"id\":");
	jw_integer(w, t->id);
	task_text_key(w, ",\"kind\":");
	jw_string(w, t->kind->name, strlen(t->kind->name));
	task_text_key(w, ",\"name\":");
	if (t->name != NULL)
		jw_string(w, t->name, strlen(t->name));
	else
		jw_raw(w, "null", 4);
	task_text_key(w, ",\"state\":");
	jw_string(w, state, strlen(state));
	if (t->stop != TASK_STOP_NONE && !task_is_done(t->state))
		task_text_key(w, ",\"cancelling\":true");
	task_text_time(w, ",\"created_at\":", t->created_at);
	task_text_time(w, ",\"started_at\":", t->started_at);
	task_text_time(w, ",\"finished_at\":", t->finished_at);
	task_text_json(w, ",\"timeout\":", timeout, NULL, 0);
	task_text_json(w, ",\"spec\":", t->spec, raw, 0);
	task_text_json(w, ",\"result\":", t->state == TASK_SUCCEEDED ? t->result : NULL,
	    t->state == TASK_SUCCEEDED ? raw : NULL, 1);
	task_text_json(w, ",\"error\":", t->error, raw, 2);
	jw_raw(w, "}", 1);
	json_decref(timeout);
}
