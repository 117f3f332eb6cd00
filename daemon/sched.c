/* sched.c: owns the active (pending and running) tasks: queues, slots per
 * kind, start, finish, cancel, deadlines. */
#include "config.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "jobd.h"
#include "kind.h"
#include "log.h"
#include "metrics.h"
#include "sched_impl.h"
#include "spec.h"
#include "store.h"
#include "timeutil.h"

static void sched_kind_done(void *arg, struct task *t, int ok, json_t *result, json_t *error);
static void sched_kind_leftover_gone(void *arg, int64_t id);

static int
sched_cmp(const void *a, const void *b)
{
	const struct task *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static struct sched_kind *
sched_kind_of(struct sched *s, const struct kind_ops *ops)
{
	size_t i;

	for (i = 0; i < s->nkinds; i++)
		if (s->kinds[i].ops == ops)
			return &s->kinds[i];
	fatal("no scheduler slot for kind %s", ops->name);
}

struct sched *
sched_new(struct jobd *jd)
{
	const struct kind_ops *const *k;
	struct sched *s;
	size_t        n = 0;

	if ((s = calloc(1, sizeof *s)) == NULL)
		fatal("out of memory");
	s->jd = jd;
	TAILQ_INIT(&s->starting);
	sched_mem_init(s);
	for (k = kind_all(); *k != NULL; k++)
		n++;
	if ((s->kinds = calloc(n, sizeof *s->kinds)) == NULL)
		fatal("out of memory");
	for (k = kind_all(); *k != NULL; k++) {
		struct sched_kind *sk = &s->kinds[s->nkinds++];

		sk->sched = s;
		sk->ops = *k;
		sk->limit = (*k)->slots(&jd->cfg);
		sk->env = (struct kind_env){ .base = jd->base, .cfg = &jd->cfg,
		    .done = sched_kind_done, .leftover_gone = sched_kind_leftover_gone, .arg = sk };
		TAILQ_INIT(&sk->queue);
		TAILQ_INIT(&sk->aside);
		if ((*k)->init != NULL && (*k)->init(&sk->env) < 0) {
			s->nkinds--;
			sched_free(s);
			return NULL;
		}
	}
	s->last_id = store_last_id(jd->store);
	return s;
}

static void
sched_disarm(struct task *t)
{
	if (t->deadline_ev == NULL)
		return;
	event_free(t->deadline_ev);
	t->deadline_ev = NULL;
}

static void
sched_free_task(void *p)
{
	struct task *t = p;

	if (t->kstate != NULL && t->kind->release != NULL)
		t->kind->release(t);
	sched_disarm(t);
	task_free(t);
}

void
sched_free(struct sched *s)
{
	size_t i;

	if (s == NULL)
		return;
	tdestroy(s->byid, sched_free_task);
	sched_mem_free(s);
	for (i = 0; i < s->nkinds; i++)
		if (s->kinds[i].ops->fini != NULL)
			s->kinds[i].ops->fini(&s->kinds[i].env);
	free(s->kinds);
	free(s);
}

void
sched_set_done_hook(struct sched *s, void (*fn)(void *arg, struct task *t), void *arg)
{
	s->on_done = fn;
	s->on_done_arg = arg;
}

int64_t
sched_in_memory(const struct sched *s)
{
	return s->nmem;
}

int64_t
sched_count(const struct sched *s, const struct kind_ops *k, enum task_state st)
{
	size_t i;

	for (i = 0; i < s->nkinds; i++)
		if (s->kinds[i].ops == k)
			return st == TASK_PENDING ? s->kinds[i].npending :
			    st == TASK_RUNNING ? s->kinds[i].running + s->kinds[i].waiting : 0;
	return 0;
}

struct task *
sched_find(struct sched *s, int64_t id)
{
	struct task   key = { .id = id };
	struct task **p = tfind(&key, &s->byid, sched_cmp);

	return p ? *p : NULL;
}

/* The moment a running task's own timeout passes (wall-clock ms: it is
 * counted from its start, over restarts too). */
static int64_t
sched_deadline(const struct task *t)
{
	return t->started_at + (int64_t)(t->timeout * 1000 + 0.5);
}

/* When a running task next needs the loop: its kind's moment, or its own
 * deadline if sooner; 0 if its kind needs it in memory all along. */
static int64_t
sched_wake_at(const struct task *t)
{
	int64_t at, deadline;

	if (t->kind->wake_at == NULL || (at = t->kind->wake_at(t)) == 0)
		return 0;
	if (t->timeout >= 0 && (deadline = sched_deadline(t)) < at)
		at = deadline;
	return at;
}

/* Now, in wall-clock ms, but no earlier than the task's previous stamp. */
static int64_t
sched_stamp(int64_t previous)
{
	int64_t now = time_now_ms();

	return now > previous ? now : previous;
}

/* Every state change goes through here: check, stamp, stage, log. */
static void
sched_transition(struct sched *s, struct task *t, enum task_state to)
{
	if (!task_can_transition(t->state, to))
		fatal("task %lld: illegal transition %s -> %s", (long long)t->id,
		    task_state_name(t->state), task_state_name(to));
	log_debug("task %lld: %s -> %s", (long long)t->id, task_state_name(t->state),
	    task_state_name(to));
	t->state = to;
	/* The wall clock may have been set back since the last stamp: a task
	 * never ends before it started.  (Its start stays as the clock says:
	 * its sleep's end and its deadline count from it.) */
	if (to == TASK_RUNNING) {
		t->started_at = time_now_ms();
		t->wake_at = sched_wake_at(t);
	}
	if (task_is_done(to)) {
		t->wake_at = 0;
		t->finished_at = sched_stamp(t->started_at > 0 ? t->started_at : t->created_at);
		metrics_task_finished(s->jd->metrics, t);
	}
	store_stage(s->jd->store, t);
}

static void
sched_finish(struct sched *s, struct task *t, enum task_state to)
{
	sched_disarm(t);
	sched_transition(s, t, to);
	if (to != TASK_SUCCEEDED)
		log_info("task %lld: %s (%s)", (long long)t->id, task_state_name(to),
		    json_string_value(json_object_get(t->error, "type")));
	if (s->on_done != NULL)
		s->on_done(s->on_done_arg, t);
}

static void
sched_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct task       *t = arg;
	struct sched_kind *sk = t->owner;
	struct timeval     tv = time_until_mono(t->deadline_mono);

	/* libevent counts from its cached loop time: never fire early. */
	if (tv.tv_sec != 0 || tv.tv_usec != 0) {
		evtimer_add(t->deadline_ev, &tv);
		return;
	}
	log_info("task %lld: its timeout of %g s passed", (long long)t->id, t->timeout);
	sched_cancel(sk->sched, t, TASK_STOP_DEADLINE);
}

static void
sched_arm_deadline(struct sched *s, struct task *t)
{
	struct timeval tv;

	if (t->timeout < 0)
		return;
	/* Its moment on CLOCK_MONOTONIC: while jobd runs the timeout counts
	 * elapsed time, whatever the wall clock does. */
	t->deadline_mono = time_mono_at(sched_deadline(t));
	t->deadline_ev = evtimer_new(s->jd->base, sched_deadline_cb, t);
	tv = time_until_mono(t->deadline_mono);
	evtimer_add(t->deadline_ev, &tv);
}

/* Take a slot and stage "running"; the kind starts once that is committed,
 * so nothing runs that a crash could forget, and the create, the start and
 * the 201 share one commit. */
static void
sched_start(struct sched_kind *sk, struct task *t)
{
	sk->running++;
	sk->nstarting++;
	sched_transition(sk->sched, t, TASK_RUNNING);
	sched_arm_deadline(sk->sched, t);
	t->starting = 1;
	TAILQ_INSERT_TAIL(&sk->sched->starting, t, queue_entry);
	if (sk->ops->prepare != NULL)
		sk->ops->prepare(t, &sk->env);
}

/* What prepare made for a task that will not start. */
static void
sched_unprepare(struct sched_kind *sk, struct task *t)
{
	if (t->kstate != NULL && sk->ops->release != NULL)
		sk->ops->release(t);
}

/* Stopped before its kind ever started: nothing to stop but the slot. */
static void
sched_stop_unstarted(struct sched_kind *sk, struct task *t)
{
	TAILQ_REMOVE(&sk->sched->starting, t, queue_entry);
	t->starting = 0;
	sk->nstarting--;
	sched_unprepare(sk, t);
	sched_kind_done(sk, t, 0, NULL, NULL);
}

/* Start pending tasks while slots are free, refilling the queue from disk
 * as it runs short.  A start may finish at once (spawn failed) and call
 * back here: the outer loop carries on instead. */
void
sched_pump(struct sched_kind *sk)
{
	struct task *t;

	/* Stopping: what is pending stays so, and runs after the restart (a
	 * program started now would be killed before it could finish). */
	if (sk->pumping || sk->sched->jd->stopping)
		return;
	sk->pumping = 1;
	do {
		while ((sk->limit == 0 || sk->running < sk->limit) &&
		    (t = TAILQ_FIRST(&sk->queue)) != NULL) {
			sched_mem_unpend(sk, t);
			sched_start(sk, t);
		}
	} while (sched_mem_refill(sk) > 0);
	sk->pumping = 0;
}

/* The final error: a stop overrides the kind's outcome but keeps its
 * kind-specific members (an exec task's output, say). */
static json_t *
sched_stop_error(const struct task *t, json_t *kind_error)
{
	json_t *e;

	if (t->stop == TASK_STOP_CANCEL)
		e = json_pack("{s:s, s:s}", "type", "cancelled", "message", "the task was cancelled");
	else {
		char msg[128];

		snprintf(msg, sizeof msg, "the task's timeout of %g s passed", t->timeout);
		e = json_pack("{s:s, s:s}", "type", "timeout", "message", msg);
	}
	if (json_is_object(kind_error))
		json_object_update_missing(e, kind_error);
	json_decref(kind_error);
	return e;
}

static void
sched_kind_done(void *arg, struct task *t, int ok, json_t *result, json_t *error)
{
	struct sched_kind *sk = arg;
	enum task_state    to;

	if (t->state != TASK_RUNNING)
		fatal("task %lld: finished while %s", (long long)t->id, task_state_name(t->state));
	/* Ended by its kind before its start (prepare had nothing to wait
	 * for): it will not start at the commit. */
	if (t->starting) {
		TAILQ_REMOVE(&sk->sched->starting, t, queue_entry);
		t->starting = 0;
		sk->nstarting--;
	}
	sk->running--;
	if (t->stop != TASK_STOP_NONE) {
		json_decref(result);
		t->error = sched_stop_error(t, error);
		to = t->stop == TASK_STOP_CANCEL ? TASK_CANCELLED : TASK_FAILED;
	} else if (ok) {
		json_decref(error);
		t->result = result ? result : json_null();
		to = TASK_SUCCEEDED;
	} else {
		json_decref(result);
		t->error = error;
		to = TASK_FAILED;
	}
	sched_finish(sk->sched, t, to);
	sched_pump(sk);
}

static void
sched_kind_leftover_gone(void *arg, int64_t id)
{
	struct sched_kind *sk = arg;

	store_stage_leftover_gone(sk->sched->jd->store, id);
}

void
sched_adopt(struct sched *s, struct task *t)
{
	t->owner = sched_kind_of(s, t->kind);
	if (tsearch(t, &s->byid, sched_cmp) == NULL)
		fatal("out of memory");
	s->nmem++;
}

static void
sched_unlink(struct sched *s, struct task *t)
{
	sched_disarm(t);
	tdelete(t, &s->byid, sched_cmp);
	s->nmem--;
}

/* t lives on disk only from now on (its kind state released already). */
void
sched_forget(struct sched *s, struct task *t)
{
	sched_unlink(s, t);
	task_free(t);
}

struct task *
sched_create(struct sched *s, struct task_spec *spec)
{
	struct task       *t = task_new(++s->last_id, spec->kind);
	struct sched_kind *sk;

	t->name = spec->name;
	t->timeout = spec->timeout;
	t->spec = spec->spec;
	spec->name = NULL;
	spec->spec = NULL;
	t->state = TASK_PENDING;
	t->created_at = time_now_ms();
	t->is_new = 1;
	sched_adopt(s, t);
	metrics_task_created(s->jd->metrics, t);
	store_stage(s->jd->store, t);
	sk = t->owner;
	sched_mem_add(sk, t);
	sched_pump(sk);
	return t;
}

int
sched_cancel(struct sched *s, struct task *t, enum task_stop why)
{
	struct sched_kind *sk = t->owner;

	if (task_is_done(t->state))
		return -1;
	if (t->state == TASK_PENDING) {
		sched_mem_unpend(sk, t);
		t->error = json_pack("{s:s, s:s}", "type", "cancelled",
		    "message", "the task was cancelled before it started");
		sched_finish(s, t, TASK_CANCELLED);
		return 0;
	}
	if (t->stop != TASK_STOP_NONE) {
		/* Stopping for its deadline: a cancel still wins, as a
		 * task.cancel() does over asyncio.timeout(), since the contract
		 * says an accepted cancel ends the task cancelled.  Its kind is
		 * stopping it already; only the outcome changes. */
		if (why == TASK_STOP_CANCEL && t->stop == TASK_STOP_DEADLINE) {
			t->stop = why;
			store_stage(s->jd->store, t);
		}
		return 0;
	}
	t->stop = why;
	store_stage(s->jd->store, t);
	if (t->starting)
		sched_stop_unstarted(sk, t);
	else
		sk->ops->cancel(t);
	return 0;
}

void
sched_batch_committed(struct sched *s)
{
	struct task_queue  now = TAILQ_HEAD_INITIALIZER(now);
	struct task       *t;
	int64_t            pgid;

	if (s->jd->stopping)
		return;     /* left running in the database: resumed at restart */
	TAILQ_CONCAT(&now, &s->starting, queue_entry);
	while ((t = TAILQ_FIRST(&now)) != NULL) {
		struct sched_kind *sk = t->owner;

		TAILQ_REMOVE(&now, t, queue_entry);
		/* Staged after this batch left (a create or a start made while it
		 * was written): its "running" is in the next batch, which a full
		 * disk may still refuse. */
		if (t->dirty) {
			TAILQ_INSERT_TAIL(&s->starting, t, queue_entry);
			continue;
		}
		t->starting = 0;
		sk->nstarting--;
		pgid = t->pgid;
		sk->ops->start(t, &sk->env);
		/* What the kind recorded at start, not at prepare (a process
		 * group), must reach the disk too, so that a restart can clean
		 * up after it. */
		if (t->state == TASK_RUNNING && !t->dirty && t->pgid != pgid)
			store_stage_soon(s->jd->store, t);
		sched_mem_maybe_cool(s, t);
	}
	sched_mem_committed(s);
}

void
sched_set_withdraw_hook(struct sched *s, void (*fn)(void *arg, struct task *t))
{
	s->on_withdraw = fn;
}

void
sched_withdraw(struct sched *s, struct task *t)
{
	struct sched_kind *sk = t->owner;

	if (t->state == TASK_PENDING) {
		sched_mem_unpend(sk, t);
	} else if (t->starting) {
		TAILQ_REMOVE(&s->starting, t, queue_entry);
		sk->nstarting--;
		sk->running--;
		sched_unprepare(sk, t);
		sched_disarm(t);
		sched_pump(sk);
	}
	log_warn("task %lld: not created: the database is full", (long long)t->id);
	if (s->on_withdraw != NULL)
		s->on_withdraw(s->on_done_arg, t);
	if (!TAILQ_EMPTY(&t->watches))
		fatal("task %lld: withdrawn with waiters", (long long)t->id);
	sched_forget(s, t);
}

void
sched_unwatched(struct sched *s, struct task *t)
{
	sched_mem_recheck(s, t);
}

void
sched_settle(struct sched *s)
{
	size_t i;

	for (i = 0; i < s->nkinds; i++)
		if (s->kinds[i].ops->settle != NULL)
			s->kinds[i].ops->settle(&s->kinds[i].env);
}

void
sched_committed(struct sched *s, struct task *t)
{
	sched_mem_recheck(s, t);      /* pending aside: it may go to disk now */
	/* Finished, and no newer row of it staged: it lives on disk now. */
	if (!task_is_done(t->state) || t->dirty)
		return;
	if (!TAILQ_EMPTY(&t->watches))
		fatal("task %lld: freed with waiters", (long long)t->id);
	sched_unlink(s, t);
	store_recent_keep(s->jd->store, t);
}

/* Found running with its deadline past (jobd was down, or busy, when it
 * passed): it ends as it would have had jobd been there, by its timeout,
 * unless its kind's own end (a sleep's) came first.  Left to the timers,
 * a sleep whose end had passed too would end first and succeed: which of
 * two moments both past is met first is up to the loop. */
static int
sched_overdue(const struct task *t)
{
	int64_t deadline, end;

	if (t->timeout < 0 || (deadline = sched_deadline(t)) > time_now_ms())
		return 0;
	end = t->kind->wake_at != NULL ? t->kind->wake_at(t) : 0;
	return end == 0 || deadline < end;
}

/* A task found running (at start-up, or back from disk): resume it, or end
 * it as a stop or an interruption says. */
void
sched_resume(struct sched *s, struct task *t)
{
	struct sched_kind *sk = t->owner;

	sk->running++;
	if (sk->ops->resume(t, &sk->env) < 0) {
		json_t *e = json_pack("{s:s, s:s}", "type", "interrupted",
		    "message", "jobd stopped while the task ran and it could not be resumed");

		log_info("task %lld: interrupted by a restart", (long long)t->id);
		if (sk->ops->lost_members != NULL) {
			json_t *m = sk->ops->lost_members(t);

			json_object_update_missing(e, m);
			json_decref(m);
		}
		sched_kind_done(sk, t, 0, NULL, e);
		return;
	}
	sched_arm_deadline(s, t);
	if (t->stop != TASK_STOP_NONE)
		sk->ops->cancel(t);
	else if (sched_overdue(t)) {
		log_info("task %lld: its timeout of %g s passed while jobd was down",
		    (long long)t->id, t->timeout);
		sched_cancel(s, t, TASK_STOP_DEADLINE);
	}
}

