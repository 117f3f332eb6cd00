/* api_tasks.c: the /v1/tasks resource: create, list, get, delete, cancel,
 * result (wait_for) and the raw output of exec tasks. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "httpd.h"
#include "jobd.h"
#include "kind.h"
#include "sched.h"
#include "spec.h"
#include "store.h"
#include "task.h"
#include "waiter.h"

static void
api_reply_not_found(struct api_call *c)
{
	httpd_req_set_hold(c->r, store_hold_read(c->jd->store));
	httpd_reply_error(c->r, 404, "not_found", NULL, "task %lld not found", (long long)c->id);
}

/* An answer about t, if its create is not yet committed, waits for that
 * commit, which a full disk may refuse (the answer then becomes 404). */
static void
api_mark_reads(struct api_call *c, const struct task *t)
{
	if (t->is_new)
		httpd_req_set_reads(c->r, t->id);
}

/* A task by id, active or finished; NULL after answering 404.  *owned says
 * whether the caller must task_free it (it was read from disk). */
static struct task *
api_lookup(struct api_call *c, int *owned)
{
	struct task *t;
	int          found;

	*owned = 0;
	if ((t = sched_find(c->jd->sched, c->id)) != NULL) {
		api_mark_reads(c, t);
		return t;
	}
	if ((t = store_get(c->jd->store, c->id, &found)) != NULL) {
		*owned = 1;
		return t;
	}
	api_reply_not_found(c);
	return NULL;
}

static void
api_release(struct task *t, int owned)
{
	if (owned)
		task_free(t);
}

/* An answer that is one task object, held only for the commit that holds
 * the state it reports. */
static void
api_reply_task(struct api_call *c, unsigned status, const struct task *t)
{
	size_t len;
	char  *txt = task_to_text(t, &len);

	httpd_req_set_hold(c->r, store_hold_task(c->jd->store, t));
	httpd_reply_bytes(c->r, status, "application/json", txt, len);
}

static void
api_reply_conflict(struct api_call *c, const struct task *t, const char *what)
{
	httpd_reply_error(c->r, 409, "conflict", json_pack("{s:o}", "task", task_to_json(t)),
	    "task %lld is %s: %s", (long long)t->id, task_state_name(t->state), what);
}

void
api_task_create(struct api_call *c)
{
	struct task_spec spec;
	struct task     *t;
	struct err       e;
	char             loc[64];

	if (spec_parse_task(c->body, &spec, &e) < 0) {
		spec_task_clear(&spec);
		api_reply_invalid(c->r, &e);
		return;
	}
	t = sched_create(c->jd->sched, &spec);
	spec_task_clear(&spec);
	/* Built now, sent after the commit that makes it true (httpd holds it). */
	httpd_req_set_tag(c->r, t->id);
	api_reply_task(c, 201, t);
	snprintf(loc, sizeof loc, "/v1/tasks/%lld", (long long)t->id);
	httpd_add_header(c->r, "Location", loc);
}

void
api_task_list(struct api_call *c)
{
	struct list_spec q;
	struct err       e;
	size_t           len;
	char            *txt;

	if (spec_parse_list(httpd_req_query(c->r), &q, &e) < 0) {
		api_reply_invalid(c->r, &e);
		return;
	}
	if ((txt = store_list_text(c->jd->store, &q, &len)) == NULL) {
		httpd_reply_error(c->r, 500, "storage_error", NULL, "the task list could not be read");
		return;
	}
	httpd_req_set_hold(c->r, store_hold_read(c->jd->store));
	httpd_reply_bytes(c->r, 200, "application/json", txt, len);
}

/* A task not in memory, answered from its row: 1 once answered (with
 * only_done, only if it is done), else 0. */
static int
api_reply_stored(struct api_call *c, int only_done)
{
	enum task_state state;
	uint64_t        hold;
	size_t          len;
	char           *txt;

	if ((txt = store_get_text(c->jd->store, c->id, &state, &hold, &len)) == NULL) {
		api_reply_not_found(c);
		return 1;
	}
	if (only_done && !task_is_done(state)) {
		free(txt);
		return 0;
	}
	httpd_req_set_hold(c->r, hold);
	httpd_reply_bytes(c->r, 200, "application/json", txt, len);
	return 1;
}

void
api_task_get(struct api_call *c)
{
	struct task *t;

	if ((t = sched_find(c->jd->sched, c->id)) != NULL) {
		api_mark_reads(c, t);
		api_reply_task(c, 200, t);
	} else
		(void)api_reply_stored(c, 0);
}

void
api_task_delete(struct api_call *c)
{
	struct task *t;
	int          owned;

	if ((t = api_lookup(c, &owned)) == NULL)
		return;
	if (!task_is_done(t->state))
		api_reply_conflict(c, t, "only finished tasks can be deleted");
	else {
		store_stage_delete(c->jd->store, t->id);
		httpd_reply_bytes(c->r, 204, NULL, NULL, 0);
	}
	api_release(t, owned);
}

static void
api_wait_one(struct api_call *c, const struct waiter_args *a)
{
	struct err e;

	if (waiter_start(c->jd->waiters, c->r, a, &c->id, 1, &e) < 0)
		api_reply_err(c->r, &e);
}

void
api_task_cancel(struct api_call *c)
{
	const struct waiter_args a = { .kind = WAITER_CANCEL, .timeout = -1 };
	struct task *t, *done;

	/* An active task may wait on disk: bring it back to stop it. */
	if ((t = sched_warm(c->jd->sched, c->id, &done)) == NULL) {
		if (done == NULL)
			api_reply_not_found(c);
		else
			api_reply_conflict(c, done, "it cannot be cancelled");
		task_free(done);
		return;
	}
	if (task_is_done(t->state)) {
		api_reply_conflict(c, t, "it cannot be cancelled");
		return;
	}
	/* Stopping a running task may take a while: a 503 must mean that
	 * nothing was done, so refuse before, not after, the cancel. */
	if (t->state == TASK_RUNNING && waiter_refuse_full(c->r, NULL))
		return;
	sched_cancel(c->jd->sched, t, TASK_STOP_CANCEL);
	api_wait_one(c, &a);
}

/* A task done already is answered as it is, without a waiter (the common
 * case of a client that asks once its task has ended).  1 if answered. */
static int
api_result_done(struct api_call *c)
{
	struct task *t, *done;

	/* Done and on disk: answered from the row, its JSON unparsed. */
	if (sched_find(c->jd->sched, c->id) == NULL && api_reply_stored(c, 1))
		return 1;
	if ((t = sched_warm(c->jd->sched, c->id, &done)) == NULL) {
		if (done == NULL) {
			api_reply_not_found(c);
			return 1;
		}
		api_reply_task(c, 200, done);
		task_free(done);
		return 1;
	}
	if (!task_is_done(t->state))
		return 0;
	api_mark_reads(c, t);
	api_reply_task(c, 200, t);
	return 1;
}

void
api_task_result(struct api_call *c)
{
	struct waiter_args a = { .kind = WAITER_RESULT };
	struct result_spec q;
	struct err         e;

	if (spec_parse_result(httpd_req_query(c->r), &q, &e) < 0) {
		api_reply_invalid(c->r, &e);
		return;
	}
	a.timeout = q.timeout;
	a.cancel = q.cancel;
	if (api_result_done(c))
		return;
	api_wait_one(c, &a);
}

/* The raw bytes of one stream: captured so far while running, else stored. */
static void
api_task_output(struct api_call *c, int stream)
{
	struct task   *t;
	int            owned;
	unsigned char *data = NULL;
	size_t         len = 0;

	if ((t = api_lookup(c, &owned)) == NULL)
		return;
	if (t->kind != &kind_exec_ops)
		httpd_reply_error(c->r, 404, "not_found", NULL, "task %lld is not an exec task",
		    (long long)t->id);
	else if (!owned) {
		if (t->out[stream].len > 0 && (data = malloc(t->out[stream].len)) != NULL)
			memcpy(data, t->out[stream].data, len = t->out[stream].len);
		httpd_reply_bytes(c->r, 200, "application/octet-stream", data, len);
	} else if (store_output(c->jd->store, t->id, stream, &data, &len) < 0)
		httpd_reply_error(c->r, 500, "storage_error", NULL, "the output could not be read");
	else
		httpd_reply_bytes(c->r, 200, "application/octet-stream", data, len);
	api_release(t, owned);
}

void
api_task_stdout(struct api_call *c)
{
	api_task_output(c, 0);
}

void
api_task_stderr(struct api_call *c)
{
	api_task_output(c, 1);
}
