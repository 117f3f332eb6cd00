/* waiter.c: a parked request waiting on a set of tasks with a condition and
 * a timer: wait_for (result), a cancel that must finish, asyncio.wait and
 * asyncio.gather.  Waiters refer to tasks by id; a task's watch list links
 * back to the slots waiting on it. */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>

#include <event2/event.h>

#include "httpd.h"
#include "jobd.h"
#include "log.h"
#include "sched.h"
#include "store.h"
#include "task.h"
#include "timeutil.h"
#include "waiter.h"

struct watch {
	TAILQ_ENTRY(watch) entry;
	struct waiter     *w;
	struct task       *task;      /* linked on it while not NULL */
};

/* Once its task is done, a slot keeps only what an answer can still show
 * of it: a big gather must not hold every task's whole object while it
 * waits for the last (20,000 of them took 36 MB).  The task itself may be
 * deleted meanwhile, so nothing is read back at the end. */
struct wslot {
	int64_t          id;
	struct watch     watch;
	int              done;
	enum task_state  state;
	json_t          *outcome;     /* gather: its result, or its error (shared, not copied) */
	struct task     *final;       /* the task as it ended, where an answer may show it whole */
};

struct waiter {
	struct waiters      *ws;
	struct req          *req;
	struct waiter_args   a;
	struct wslot        *slots;
	size_t               n, ndone;
	size_t               nfailed;        /* slots done in state failed */
	ssize_t              first_bad;      /* the failed or cancelled slot done first, or -1 */
	int64_t              first_bad_at;   /* its finished_at */
	struct event        *timer;
	int                  timed_out;
	int                  answered;
	TAILQ_ENTRY(waiter)  entry;
};

TAILQ_HEAD(waiter_list, waiter);

struct waiters {
	struct jobd        *jd;
	struct waiter_list  all;
	size_t              count;
};

static void waiter_check(struct waiter *w);

struct waiters *
waiters_new(struct jobd *jd)
{
	struct waiters *ws;

	if ((ws = calloc(1, sizeof *ws)) == NULL)
		fatal("out of memory");
	ws->jd = jd;
	TAILQ_INIT(&ws->all);
	return ws;
}

void
waiters_free(struct waiters *ws)
{
	free(ws);
}

size_t
waiters_count(const struct waiters *ws)
{
	return ws->count;
}

static void
waiter_unlink(struct watch *wa)
{
	if (wa->task != NULL) {
		TAILQ_REMOVE(&wa->task->watches, wa, entry);
		if (TAILQ_EMPTY(&wa->task->watches))
			sched_unwatched(wa->w->ws->jd->sched, wa->task);
		wa->task = NULL;
	}
}

/* Stop listening: no more wake-ups or timer for w. */
static void
waiter_detach(struct waiter *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		waiter_unlink(&w->slots[i].watch);
	if (w->timer != NULL) {
		event_free(w->timer);
		w->timer = NULL;
	}
}

/* Answered (or gone): nothing in the slots is needed any more, although
 * the answer may take a while to leave. */
static void
waiter_drop_slots(struct waiter *w)
{
	size_t i;

	waiter_detach(w);
	for (i = 0; i < w->n; i++) {
		json_decref(w->slots[i].outcome);
		task_free(w->slots[i].final);
	}
	free(w->slots);
	w->slots = NULL;
	w->n = 0;
}

static void
waiter_free(struct waiter *w)
{
	waiter_drop_slots(w);
	json_decref(w->a.ids);
	free(w);
}

/* httpd: the request ended or its client left. */
static void
waiter_gone_cb(void *arg)
{
	struct waiter *w = arg;

	TAILQ_REMOVE(&w->ws->all, w, entry);
	w->ws->count--;
	waiter_free(w);
}

/* The current object of a task: active ones from memory, others from disk. */
static json_t *
waiter_task_json(struct waiter *w, size_t i)
{
	struct wslot *s = &w->slots[i];
	struct task  *t;
	json_t       *j;
	int           found;

	if (s->final != NULL)
		return task_to_json(s->final);
	if ((t = sched_find(w->ws->jd->sched, s->id)) != NULL)
		return task_to_json(t);
	if ((t = store_get(w->ws->jd->store, s->id, &found)) == NULL)
		return json_null();     /* deleted meanwhile */
	j = task_to_json(t);
	task_free(t);
	return j;
}

static void
waiter_reply(struct waiter *w, unsigned status, json_t *body)
{
	w->answered = 1;
	waiter_drop_slots(w);      /* body holds its own references */
	if (w->a.ids != NULL)
		json_object_set(body, "ids", w->a.ids);
	httpd_reply_json(w->req, status, body);
}

static void
waiter_reply_error(struct waiter *w, unsigned status, const char *code, json_t *extra,
    const char *msg)
{
	w->answered = 1;
	waiter_drop_slots(w);
	if (w->a.ids != NULL)
		json_object_set(extra, "ids", w->a.ids);
	httpd_reply_error(w->req, status, code, extra, "%s", msg);
}

/* A wait_for whose timeout passed answers 504 with the task it cancelled,
 * or, if the task ended by itself meanwhile (in the turn of the timeout),
 * the task, as asyncio.wait_for returns the result of a task that finishes
 * despite its cancel.  A cancel answers the task cancelled; one that finds
 * it ended otherwise was not accepted: 409, as for a task done already. */
static void
waiter_check_one(struct waiter *w)
{
	const struct task *t = w->slots[0].final;
	char               msg[128];

	if (!w->slots[0].done)
		return;
	if (w->a.kind == WAITER_CANCEL && t->state != TASK_CANCELLED) {
		snprintf(msg, sizeof msg, "task %lld %s: it ended by itself before it could be cancelled",
		    (long long)t->id, task_state_name(t->state));
		waiter_reply_error(w, 409, "conflict", json_pack("{s:o}", "task", task_to_json(t)), msg);
	} else if (w->timed_out && t->state == TASK_CANCELLED)
		waiter_reply_error(w, 504, "timeout", json_pack("{s:o}", "task", task_to_json(t)),
		    "the timeout passed before the task finished");
	else
		waiter_reply(w, 200, task_to_json(t));
}

static int
waiter_cmp_pos(const void *a, const void *b, void *arg)
{
	const struct wslot *slots = arg;
	size_t              x = *(const size_t *)a, y = *(const size_t *)b;

	if (slots[x].id != slots[y].id)
		return slots[x].id < slots[y].id ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* first[i]: slot i is the first of its id (sorting, not a pairwise scan:
 * asyncio.wait of 100,000 ids must not cost 10^10 comparisons). */
static unsigned char *
waiter_firsts(const struct waiter *w)
{
	unsigned char *first;
	size_t        *pos, i;

	if ((first = calloc(w->n + 1, 1)) == NULL || (pos = calloc(w->n + 1, sizeof *pos)) == NULL)
		fatal("out of memory");
	for (i = 0; i < w->n; i++)
		pos[i] = i;
	qsort_r(pos, w->n, sizeof *pos, waiter_cmp_pos, w->slots);
	for (i = 0; i < w->n; i++)
		first[pos[i]] = i == 0 || w->slots[pos[i - 1]].id != w->slots[pos[i]].id;
	free(pos);
	return first;
}

static void
waiter_reply_wait(struct waiter *w)
{
	json_t        *done = json_array(), *pending = json_array();
	unsigned char *first = waiter_firsts(w);
	size_t         i;

	for (i = 0; i < w->n; i++)     /* duplicates once, first position */
		if (first[i])
			json_array_append_new(w->slots[i].done ? done : pending,
			    json_integer(w->slots[i].id));
	free(first);
	waiter_reply(w, 200, json_pack("{s:o, s:o}", "done", done, "pending", pending));
}

static void
waiter_check_wait(struct waiter *w)
{
	if (w->timed_out || w->ndone == w->n ||
	    (w->a.return_when == WAIT_FIRST_COMPLETED && w->ndone > 0) ||
	    (w->a.return_when == WAIT_FIRST_EXCEPTION && w->nfailed > 0))
		waiter_reply_wait(w);
}

static void
waiter_reply_gather(struct waiter *w)
{
	json_t *results = json_array(), *states = json_array();
	size_t  i;

	for (i = 0; i < w->n; i++) {
		json_array_append(results, w->slots[i].outcome);
		json_array_append_new(states, json_string(task_state_name(w->slots[i].state)));
	}
	waiter_reply(w, 200, json_pack("{s:o, s:o}", "results", results, "states", states));
}

static void
waiter_check_gather(struct waiter *w)
{
	ssize_t f;
	size_t  i;

	if (w->timed_out) {
		json_t *tasks;

		if (w->a.cancel && w->ndone < w->n)
			return;         /* the cancels must finish first */
		tasks = json_array();
		for (i = 0; i < w->n; i++)
			json_array_append_new(tasks, waiter_task_json(w, i));
		waiter_reply_error(w, 504, "timeout", json_pack("{s:o}", "tasks", tasks),
		    "the timeout passed before every task finished");
		return;
	}
	if (!w->a.return_exceptions && (f = w->first_bad) >= 0) {
		char msg[128];

		snprintf(msg, sizeof msg, "task %lld %s", (long long)w->slots[f].id,
		    w->slots[f].state == TASK_CANCELLED ? "was cancelled" : "failed");
		waiter_reply_error(w, 424, "task_failed",
		    json_pack("{s:o}", "task", task_to_json(w->slots[f].final)), msg);
		return;
	}
	if (w->ndone == w->n)
		waiter_reply_gather(w);
}

static void
waiter_check(struct waiter *w)
{
	if (w->answered)
		return;
	switch (w->a.kind) {
	case WAITER_RESULT:
	case WAITER_CANCEL:
		waiter_check_one(w);
		break;
	case WAITER_WAIT:
		waiter_check_wait(w);
		break;
	case WAITER_GATHER:
		waiter_check_gather(w);
		break;
	}
}

/* Does an answer w may give show slot i's whole task?  wait_for and a
 * cancel do; a gather only in a 504 (every task) or a 424 (the first to
 * fail); asyncio.wait never does. */
static int
waiter_shows_task(const struct waiter *w, size_t i)
{
	switch (w->a.kind) {
	case WAITER_RESULT:
	case WAITER_CANCEL:
		return 1;
	case WAITER_WAIT:
		return 0;
	case WAITER_GATHER:
		return w->a.timeout >= 0 ||
		    (!w->a.return_exceptions && w->first_bad == (ssize_t)i);
	}
	return 1;
}

/* What a 200 gather shows in the task's place: result or error.  The
 * task's own JSON, shared: a finished task's never changes. */
static json_t *
waiter_outcome(const struct task *t)
{
	json_t *j = t->state == TASK_SUCCEEDED ? t->result : t->error;

	return j != NULL ? json_incref(j) : json_null();
}

static void
waiter_slot_done(struct waiter *w, struct wslot *s, const struct task *t)
{
	ssize_t was_bad = w->first_bad;

	s->done = 1;
	s->state = t->state;
	if (s->state == TASK_FAILED)
		w->nfailed++;
	/* Kept as they come, and by finish time for those known at the start. */
	if (s->state != TASK_SUCCEEDED && (w->first_bad < 0 || t->finished_at < w->first_bad_at)) {
		w->first_bad = s - w->slots;
		w->first_bad_at = t->finished_at;
	}
	if (w->a.kind == WAITER_GATHER)
		s->outcome = waiter_outcome(t);
	if (waiter_shows_task(w, s - w->slots))
		s->final = task_copy(t);
	/* No longer the first to fail: its whole task is not needed now. */
	if (was_bad >= 0 && was_bad != w->first_bad && !waiter_shows_task(w, was_bad)) {
		task_free(w->slots[was_bad].final);
		w->slots[was_bad].final = NULL;
	}
	w->ndone++;
}

void
waiters_task_done(void *arg, struct task *t)
{
	struct watch *wa;

	while ((wa = TAILQ_FIRST(&t->watches)) != NULL) {
		struct waiter *w = wa->w;

		waiter_unlink(wa);
		waiter_slot_done(w, (struct wslot *)((char *)wa - offsetof(struct wslot, watch)), t);
		waiter_check(w);
	}
}

void
waiters_task_withdrawn(void *arg, struct task *t)
{
	struct watch *wa;

	while ((wa = TAILQ_FIRST(&t->watches)) != NULL) {
		struct waiter *w = wa->w;

		waiter_unlink(wa);
		json_decref(w->a.ids);     /* those ids were never created */
		w->a.ids = NULL;
		if (!w->answered)
			waiter_reply_error(w, 507, "storage_full", json_object(),
			    "the database is full: the tasks were not created");
	}
}

/* Cancel what is unfinished; the answer comes when the cancels complete. */
static void
waiter_cancel_rest(struct waiter *w)
{
	struct sched *sched = w->ws->jd->sched;
	size_t        i;

	for (i = 0; i < w->n && !w->answered; i++) {
		struct task *t;

		if (w->slots[i].done || (t = sched_find(sched, w->slots[i].id)) == NULL)
			continue;
		sched_cancel(sched, t, TASK_STOP_CANCEL);
	}
}

static void
waiter_timeout(struct waiter *w)
{
	w->timed_out = 1;
	if (w->a.cancel && w->a.kind != WAITER_WAIT)
		waiter_cancel_rest(w);
	if (w->answered)
		return;
	if (w->a.kind == WAITER_RESULT && !w->a.cancel) {
		waiter_reply_error(w, 504, "timeout", json_pack("{s:o}", "task", waiter_task_json(w, 0)),
		    "the timeout passed before the task finished");
		return;
	}
	waiter_check(w);
}

static void
waiter_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	waiter_timeout(w);
}

/* Fill slot i: done already (from memory or disk) or watching its task. */
static int
waiter_fill(struct waiter *w, size_t i, int64_t id, struct err *e)
{
	struct wslot *s = &w->slots[i];
	struct task  *t, *done;

	s->id = id;
	s->watch.w = w;
	if ((t = sched_warm(w->ws->jd->sched, id, &done)) != NULL) {
		if (task_is_done(t->state))
			waiter_slot_done(w, s, t);
		else {
			s->watch.task = t;
			TAILQ_INSERT_TAIL(&t->watches, &s->watch, entry);
		}
		return 0;
	}
	if (done == NULL)
		return err_set(e, 404, "task %lld not found", (long long)id);
	waiter_slot_done(w, s, done);
	task_free(done);
	return 0;
}

/* 503 when req could not be parked now: a request that would have to wait
 * is refused before it changes anything. */
int
waiter_refuse_full(struct req *req, json_t *ids)
{
	json_t *extra;

	if (httpd_can_park(req))
		return 0;
	extra = json_object();
	if (ids != NULL)
		json_object_set(extra, "ids", ids);
	httpd_req_set_hold(req, 0);     /* it reports nothing */
	httpd_reply_error(req, 503, "overloaded", extra,
	    "too many clients are waiting; try again later");
	/* Kept alive, the refused connection would hold one of the slots kept
	 * for the requests that do not wait. */
	httpd_add_header(req, "Connection", "close");
	httpd_add_header(req, "Retry-After", "1");   /* as the connection limit's 503 */
	return 1;
}

int
waiter_start(struct waiters *ws, struct req *req, const struct waiter_args *a,
    const int64_t *ids, size_t n, struct err *e)
{
	struct waiter *w;
	size_t         i;

	if ((w = calloc(1, sizeof *w)) == NULL || (w->slots = calloc(n + 1, sizeof *w->slots)) == NULL)
		fatal("out of memory");
	w->ws = ws;
	w->req = req;
	w->a = *a;
	w->n = n;
	w->first_bad = -1;
	json_incref(w->a.ids);
	for (i = 0; i < n; i++)
		if (waiter_fill(w, i, ids[i], e) < 0) {
			waiter_free(w);
			return -1;
		}
	waiter_check(w);
	/* A timeout of 0 cancels at once, and an exec task's stop may take a
	 * while: not unless the answer can wait for it. */
	if (!w->answered && a->timeout == 0 && a->cancel && a->kind != WAITER_WAIT &&
	    waiter_refuse_full(req, w->a.ids))
		w->answered = 1;
	if (!w->answered && a->timeout == 0)
		waiter_timeout(w);
	if (w->answered || waiter_refuse_full(req, w->a.ids)) {
		waiter_free(w);
		return 0;
	}
	if (httpd_park(req, waiter_gone_cb, w) < 0)
		fatal("a request that could be parked could not");
	if (a->timeout > 0) {
		struct timeval tv = time_tv(a->timeout);

		w->timer = evtimer_new(ws->jd->base, waiter_timer_cb, w);
		evtimer_add(w->timer, &tv);
	}
	TAILQ_INSERT_TAIL(&ws->all, w, entry);
	ws->count++;
	return 0;
}

void
waiters_shutdown(struct waiters *ws)
{
	struct waiter *w;

	TAILQ_FOREACH(w, &ws->all, entry)
		if (!w->answered)
			waiter_reply_error(w, 503, "overloaded", json_object(),
			    "jobd is shutting down");
}
