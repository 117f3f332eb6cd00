/* api_wait.c: POST /v1/wait (asyncio.wait) and POST /v1/gather (asyncio.gather). */
#include "config.h"

#include <stdlib.h>

#include "api.h"
#include "httpd.h"
#include "jobd.h"
#include "sched.h"
#include "spec.h"
#include "task.h"
#include "waiter.h"

/* Create the inline tasks (one turn, so one commit) and give their ids. */
static json_t *
api_create_inline(struct api_call *c, struct wait_spec *ws)
{
	json_t *ids = json_array();
	size_t  i;

	if ((ws->ids = calloc(ws->ntasks + 1, sizeof *ws->ids)) == NULL)
		abort();
	for (i = 0; i < ws->ntasks; i++) {
		struct task *t = sched_create(c->jd->sched, &ws->tasks[i]);

		ws->ids[i] = t->id;
		httpd_req_set_tag(c->r, t->id);
		json_array_append_new(ids, json_integer(t->id));
	}
	ws->nids = ws->ntasks;
	return ids;
}

static void
api_wait_common(struct api_call *c, int gather)
{
	struct wait_spec   ws;
	struct waiter_args a = { .kind = gather ? WAITER_GATHER : WAITER_WAIT };
	struct err         e;

	if (spec_parse_wait(c->body, gather, &ws, &e) < 0) {
		spec_wait_clear(&ws);
		api_reply_invalid(c->r, &e);
		return;
	}
	a.timeout = ws.timeout;
	a.cancel = ws.cancel;
	a.return_when = ws.return_when;
	a.return_exceptions = ws.return_exceptions;
	/* Tasks created for a request answered 503 would run unasked for. */
	if (ws.ntasks > 0 && waiter_refuse_full(c->r, NULL)) {
		spec_wait_clear(&ws);
		return;
	}
	if (ws.tasks != NULL)
		a.ids = api_create_inline(c, &ws);
	if (waiter_start(c->jd->waiters, c->r, &a, ws.ids, ws.nids, &e) < 0)
		api_reply_err(c->r, &e);
	json_decref(a.ids);
	spec_wait_clear(&ws);
}

void
api_wait(struct api_call *c)
{
	api_wait_common(c, 0);
}

void
api_gather(struct api_call *c)
{
	api_wait_common(c, 1);
}
