/* kind_sleep.c: wait S seconds, then succeed with a result (asyncio.sleep). */
#include "config.h"

#include <stdlib.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "json_util.h"
#include "kind.h"
#include "task.h"
#include "timeutil.h"

struct sleep_state {
	struct task            *task;
	const struct kind_env  *env;
	struct event           *timer;
	int64_t                 end;      /* CLOCK_MONOTONIC us (time_mono_at) */
	int                     due;      /* on the ctx's due list */
	TAILQ_ENTRY(sleep_state) entry;
};

/* env->ctx: the sleeps that were over when they started (0 s, or past
 * their end after a restart), which settle ends as the next batch is cut
 * (their timers are active too, for a loop that cuts none). */
TAILQ_HEAD(sleep_due, sleep_state);

static int
kind_sleep_init(struct kind_env *env)
{
	struct sleep_due *due;

	if ((due = malloc(sizeof *due)) == NULL)
		abort();
	TAILQ_INIT(due);
	env->ctx = due;
	return 0;
}

static void
kind_sleep_fini(struct kind_env *env)
{
	free(env->ctx);
	env->ctx = NULL;
}

static void
kind_sleep_undue(struct sleep_state *ss)
{
	if (ss->due) {
		TAILQ_REMOVE((struct sleep_due *)ss->env->ctx, ss, entry);
		ss->due = 0;
	}
}

static int
kind_sleep_parse(const json_t *in, json_t **out, struct err *e)
{
	static const char *const allowed[] = { "seconds", "result", NULL };
	const json_t *secs = json_object_get(in, "seconds");
	const json_t *res = json_object_get(in, "result");
	double        s;

	if (ju_only_members(in, allowed, "\"sleep\"", e) < 0)
		return -1;
	if (secs == NULL)
		return err_set(e, 400, "\"sleep\".\"seconds\" is required");
	if (ju_duration(secs, "seconds", &s, e) < 0)
		return -1;
	*out = json_pack("{s:O, s:O}", "seconds", secs, "result", res ? res : json_null());
	return 0;
}

static void
kind_sleep_finish(struct sleep_state *ss, int ok)
{
	struct task           *t = ss->task;
	const struct kind_env *env = ss->env;
	json_t                *result = NULL, *error = NULL;

	kind_sleep_undue(ss);
	event_free(ss->timer);
	free(ss);
	t->kstate = NULL;
	if (ok)
		result = json_incref(json_object_get(t->spec, "result"));
	else
		error = json_pack("{s:s, s:s}", "type", "cancelled", "message", "the sleep was stopped");
	env->done(env->arg, t, ok, result, error);
}

static void
kind_sleep_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sleep_state *ss = arg;
	struct timeval      tv;

	/* libevent counts from its cached loop time, which can be a little
	 * behind: never end before the full duration has passed. */
	tv = time_until_mono(ss->end);
	if (tv.tv_sec != 0 || tv.tv_usec != 0) {
		evtimer_add(ss->timer, &tv);
		return;
	}
	kind_sleep_finish(ss, 1);
}

/* The moment the sleep ends: from started_at, so a restart keeps it. */
static int64_t
kind_sleep_wake_at(const struct task *t)
{
	double secs = json_number_value(json_object_get(t->spec, "seconds"));

	return t->started_at + (int64_t)(secs * 1000 + 0.5);
}

static void
kind_sleep_arm(struct task *t, const struct kind_env *env)
{
	struct sleep_state *ss;
	struct timeval      tv;

	if ((ss = calloc(1, sizeof *ss)) == NULL)
		abort();
	ss->task = t;
	ss->env = env;
	ss->timer = evtimer_new(env->base, kind_sleep_timer_cb, ss);
	t->kstate = ss;
	/* Its end is a wall-clock moment (it must outlast a restart), but
	 * while jobd runs what is left of it is elapsed time: a clock set back
	 * an hour must not add an hour to the sleep. */
	ss->end = time_mono_at(kind_sleep_wake_at(t));
	tv = time_until_mono(ss->end);
	if (tv.tv_sec == 0 && tv.tv_usec == 0) {
		/* Over already: it ends at the next batch's cut, or when the loop
		 * comes to its timer, whichever is first. */
		TAILQ_INSERT_TAIL((struct sleep_due *)env->ctx, ss, entry);
		ss->due = 1;
		event_active(ss->timer, EV_TIMEOUT, 1);
		return;
	}
	evtimer_add(ss->timer, &tv);
}

static void
kind_sleep_settle(const struct kind_env *env)
{
	struct sleep_due   *due = env->ctx;
	struct sleep_state *ss;

	while ((ss = TAILQ_FIRST(due)) != NULL)
		kind_sleep_finish(ss, 1);
}

/* A sleep over when it takes its slot (0 s) has nothing to wait for and
 * nothing a crash could forget: it goes on the due list before its
 * "running" is committed, so that settle ends it in the batch that
 * creates it, not in one after. */
static void
kind_sleep_prepare(struct task *t, const struct kind_env *env)
{
	if (kind_sleep_wake_at(t) <= time_now_ms())
		kind_sleep_arm(t, env);
}

static void
kind_sleep_start(struct task *t, const struct kind_env *env)
{
	if (t->kstate == NULL)      /* else armed by prepare */
		kind_sleep_arm(t, env);
}

static void
kind_sleep_cancel(struct task *t)
{
	if (t->kstate != NULL)
		kind_sleep_finish(t->kstate, 0);
}

/* Shutdown: the task stays running in the database and resumes later. */
static void
kind_sleep_release(struct task *t)
{
	struct sleep_state *ss = t->kstate;

	kind_sleep_undue(ss);
	event_free(ss->timer);
	free(ss);
	t->kstate = NULL;
}

static int
kind_sleep_resume(struct task *t, const struct kind_env *env)
{
	kind_sleep_arm(t, env);
	return 0;
}

static int
kind_sleep_slots(const struct jobd_config *cfg)
{
	return 0;
}

const struct kind_ops kind_sleep_ops = {
	.name = "sleep",
	.init = kind_sleep_init,
	.fini = kind_sleep_fini,
	.parse = kind_sleep_parse,
	.prepare = kind_sleep_prepare,
	.start = kind_sleep_start,
	.cancel = kind_sleep_cancel,
	.resume = kind_sleep_resume,
	.release = kind_sleep_release,
	.settle = kind_sleep_settle,
	.slots = kind_sleep_slots,
	.wake_at = kind_sleep_wake_at,
};
