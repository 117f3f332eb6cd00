/* sched_mem.c: which active tasks live in memory and which wait on disk.
 *
 * Memory holds the tasks that have something to do soon; the database holds
 * all of them.  Two kinds of active task wait on disk:
 *   - pending ones past each kind's window: a million queued programs cost
 *     no more memory than --queue-window of them; the queue is refilled from
 *     the database, in id order, as it runs short;
 *   - running ones with nothing to do for longer than --memory-horizon (a
 *     kind that names its wake_at: a long sleep): released after they start
 *     and brought back by a sweep before they wake.
 * A client that names such a task (a cancel, a wait) brings it back at once
 * (sched_warm).  Reads need not: a task waiting on disk is exactly its row. */
#include "config.h"

#include <search.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "jobd.h"
#include "log.h"
#include "sched_impl.h"
#include "store.h"
#include "timeutil.h"

/* --- the pending queue's window ------------------------------------- */

static void
sched_mem_enqueue(struct sched_kind *sk, struct task *t)
{
	TAILQ_INSERT_TAIL(&sk->queue, t, queue_entry);
	t->queued = 1;
	sk->qlen++;
	sk->loaded_to = t->id;
}

void
sched_mem_add(struct sched_kind *sk, struct task *t)
{
	sk->npending++;
	if (sk->cold == 0) {
		sched_mem_enqueue(sk, t);
		return;
	}
	/* Others came first and wait on disk: this one waits behind them. */
	sk->cold++;
	TAILQ_INSERT_TAIL(&sk->aside, t, queue_entry);
}

void
sched_mem_unpend(struct sched_kind *sk, struct task *t)
{
	if (t->queued) {
		TAILQ_REMOVE(&sk->queue, t, queue_entry);
		sk->qlen--;
		t->queued = 0;
	} else {
		TAILQ_REMOVE(&sk->aside, t, queue_entry);
		sk->cold--;
	}
	sk->npending--;
}

/* A row of the next pending tasks, in id order. */
static void
sched_mem_refill_cb(void *arg, struct task *row)
{
	struct sched_kind *sk = arg;
	struct task       *t = sched_find(sk->sched, row->id);

	sk->loaded_to = row->id;
	if (t == NULL) {
		sched_adopt(sk->sched, row);
		sched_mem_enqueue(sk, row);
		sk->cold--;
		return;
	}
	task_free(row);
	/* In memory already: aside (a client waits on it), or no longer
	 * pending (cancelled, not yet committed), which counted itself out. */
	if (t->state == TASK_PENDING && !t->queued) {
		TAILQ_REMOVE(&sk->aside, t, queue_entry);
		sched_mem_enqueue(sk, t);
		sk->cold--;
	}
}

int
sched_mem_refill(struct sched_kind *sk)
{
	struct sched *s = sk->sched;
	int           want = s->window - sk->qlen, before = sk->qlen;

	/* For a kind without slots, what starts stays in memory until its
	 * commit: bound that too, so a backlog drains a window at a time. */
	if (sk->cold <= 0 || sk->qlen > s->window / 2 || sk->nstarting >= s->window)
		return 0;
	if (store_load_pending(s->jd->store, sk->ops->name, sk->loaded_to, want,
	    sched_mem_refill_cb, sk) < 0) {
		log_err("cannot read the pending %s tasks", sk->ops->name);
		return 0;
	}
	/* Fewer than asked and none aside: nothing is left on disk (a count
	 * gone wrong must not cost a query per commit). */
	if (sk->qlen - before < want && TAILQ_EMPTY(&sk->aside))
		sk->cold = 0;
	return sk->qlen - before;
}

static int
sched_mem_freeable(const struct task *t)
{
	return !t->dirty && !t->inflight && !t->is_new && !t->starting &&
	    TAILQ_EMPTY(&t->watches);
}

/* A queue longer than the window (creates while nothing was cold): its
 * tail goes back to disk. */
static void
sched_mem_trim(struct sched_kind *sk)
{
	struct sched *s = sk->sched;
	struct task  *t;

	while (sk->qlen > s->window && (t = TAILQ_LAST(&sk->queue, task_queue)) != NULL) {
		TAILQ_REMOVE(&sk->queue, t, queue_entry);
		t->queued = 0;
		sk->qlen--;
		sk->cold++;
		if (sched_mem_freeable(t))
			sched_forget(s, t);
		else
			TAILQ_INSERT_HEAD(&sk->aside, t, queue_entry);
	}
	if ((t = TAILQ_LAST(&sk->queue, task_queue)) != NULL)
		sk->loaded_to = t->id;
}

/* A task aside can go to disk once it is committed and nobody waits on it:
 * the commit and the last waiter's leaving name it here, and it is looked
 * at after the next commit.  (Walking the whole aside list after every
 * commit cost its length each time: with a gather waiting on thousands of
 * queued tasks, quadratic.) */
void
sched_mem_recheck(struct sched *s, struct task *t)
{
	/* Once on the list is enough: waits that come and go on a task aside
	 * with no commit between must not grow it. */
	if (t->state != TASK_PENDING || t->queued || t->rechecked)
		return;
	t->rechecked = 1;
	if (s->nrecheck == s->caprecheck) {
		s->caprecheck = s->caprecheck ? 2 * s->caprecheck : 64;
		if ((s->recheck = realloc(s->recheck, s->caprecheck * sizeof *s->recheck)) == NULL)
			fatal("out of memory");
	}
	s->recheck[s->nrecheck++] = t->id;
}

/* What was named aside and is on disk now, with nobody waiting on it.  By
 * id: a task named may have started, ended or gone since. */
static void
sched_mem_free_aside(struct sched *s)
{
	size_t i;

	for (i = 0; i < s->nrecheck; i++) {
		struct task *t = sched_find(s, s->recheck[i]);

		if (t == NULL)
			continue;
		t->rechecked = 0;
		if (t->state != TASK_PENDING || t->queued || !sched_mem_freeable(t))
			continue;
		TAILQ_REMOVE(&((struct sched_kind *)t->owner)->aside, t, queue_entry);
		sched_forget(s, t);
	}
	s->nrecheck = 0;
}

void
sched_mem_committed(struct sched *s)
{
	size_t i;

	sched_mem_free_aside(s);
	for (i = 0; i < s->nkinds; i++) {
		struct sched_kind *sk = &s->kinds[i];

		if (sk->qlen > s->window)
			sched_mem_trim(sk);
		if (sk->cold > 0)
			sched_pump(sk);       /* which refills the queue first if short */
	}
}

/* --- running tasks with nothing to do for a while ------------------- */

void
sched_mem_maybe_cool(struct sched *s, struct task *t)
{
	struct sched_kind *sk = t->owner;

	if (s->horizon_ms == 0 || t->state != TASK_RUNNING || sk->ops->wake_at == NULL ||
	    t->wake_at == 0 || t->stop != TASK_STOP_NONE || t->kstate == NULL ||
	    !sched_mem_freeable(t) || t->wake_at - time_now_ms() <= s->horizon_ms)
		return;
	sk->ops->release(t);
	sk->running--;
	sk->waiting++;
	sched_forget(s, t);
}

static void
sched_mem_wake(struct sched *s, struct task *t)
{
	struct sched_kind *sk;

	sched_adopt(s, t);
	sk = t->owner;
	sk->waiting--;
	sched_resume(s, t);
}

static void
sched_mem_due_cb(void *arg, struct task *row)
{
	struct sched *s = arg;

	if (sched_find(s, row->id) != NULL)
		task_free(row);     /* brought back by a client already */
	else
		sched_mem_wake(s, row);
}

static struct timeval
sched_mem_sweep_every(const struct sched *s)
{
	int64_t ms = s->horizon_ms / 4;

	if (ms < 10)
		ms = 10;
	if (ms > 15000)
		ms = 15000;
	return (struct timeval){ (time_t)(ms / 1000), (suseconds_t)(ms % 1000 * 1000) };
}

/* Every quarter horizon: what wakes within the horizon comes back. */
static void
sched_mem_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sched  *s = arg;
	struct timeval tv = sched_mem_sweep_every(s);

	if (store_load_due(s->jd->store, time_now_ms() + s->horizon_ms, sched_mem_due_cb, s) < 0)
		log_err("cannot read the tasks due soon");
	evtimer_add(s->sweep_ev, &tv);
}

struct task *
sched_warm(struct sched *s, int64_t id, struct task **done)
{
	struct task *t;
	int          found;

	*done = NULL;
	if ((t = sched_find(s, id)) != NULL)
		return t;
	if ((t = store_get(s->jd->store, id, &found)) == NULL)
		return NULL;
	if (t->state == TASK_RUNNING) {
		sched_mem_wake(s, t);
		return t;
	}
	if (t->state == TASK_PENDING) {
		struct sched_kind *sk;

		sched_adopt(s, t);
		sk = t->owner;
		TAILQ_INSERT_TAIL(&sk->aside, t, queue_entry);   /* still counted cold */
		sched_mem_recheck(s, t);      /* if nobody comes to wait on it */
		return t;
	}
	*done = t;
	return NULL;
}

/* --- start-up -------------------------------------------------------- */

static void
sched_mem_count_cb(void *arg, const char *kind, int64_t pending, int64_t waiting)
{
	struct sched *s = arg;
	size_t        i;

	for (i = 0; i < s->nkinds; i++)
		if (strcmp(s->kinds[i].ops->name, kind) == 0) {
			s->kinds[i].npending = s->kinds[i].cold = pending;
			s->kinds[i].waiting = waiting;
		}
}

struct sched_mem_load {
	struct sched *s;
	int64_t       loaded;    /* running tasks brought into memory */
};

static void
sched_mem_load_cb(void *arg, struct task *t)
{
	struct sched_mem_load *l = arg;

	l->loaded++;
	sched_adopt(l->s, t);
	sched_resume(l->s, t);
}

/* A finished task whose leftover processes jobd was stopping when it
 * died: stop them now, and clear the mark. */
static void
sched_mem_leftover_cb(void *arg, struct task *t)
{
	struct sched *s = arg;

	if (t->kind->leftover != NULL)
		t->kind->leftover(t);
	store_stage_leftover_gone(s->jd->store, t->id);
	task_free(t);
}

int
sched_recover(struct sched *s)
{
	int64_t               horizon = s->horizon_ms ? time_now_ms() + s->horizon_ms : INT64_MAX;
	int64_t               pending = 0, waiting = 0;
	struct sched_mem_load l = { s, 0 };
	size_t                i;

	if (store_count_active(s->jd->store, horizon, sched_mem_count_cb, s) < 0 ||
	    store_load_leftover(s->jd->store, sched_mem_leftover_cb, s) < 0)
		return -1;
	/* Counted now: a resume that ends a task (an exec one, interrupted)
	 * frees its slot, and a pending task may start before the log. */
	for (i = 0; i < s->nkinds; i++) {
		pending += s->kinds[i].npending;
		waiting += s->kinds[i].waiting;
	}
	if (store_load_running(s->jd->store, horizon, sched_mem_load_cb, &l) < 0)
		return -1;
	log_info("recovered %lld pending and %lld running tasks (%lld of them waiting on disk)",
	    (long long)pending, (long long)(l.loaded + waiting), (long long)waiting);
	for (i = 0; i < s->nkinds; i++)
		sched_pump(&s->kinds[i]);
	if (s->horizon_ms != 0) {
		struct timeval tv = sched_mem_sweep_every(s);

		evtimer_add(s->sweep_ev, &tv);
	}
	return 0;
}

void
sched_mem_init(struct sched *s)
{
	s->window = s->jd->cfg.queue_window > 1 ? s->jd->cfg.queue_window : 1024;
	s->horizon_ms = (int64_t)(s->jd->cfg.memory_horizon * 1000);
	s->sweep_ev = evtimer_new(s->jd->base, sched_mem_sweep_cb, s);
}

void
sched_mem_free(struct sched *s)
{
	if (s->sweep_ev != NULL)
		event_free(s->sweep_ev);
	free(s->recheck);
}
