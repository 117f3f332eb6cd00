/* sched_impl.h: the scheduler's insides, shared by sched.c (the state
 * machine: start, finish, cancel, deadlines) and sched_mem.c (which active
 * tasks live in memory and which wait on disk). */
#ifndef SCHED_IMPL_H
#define SCHED_IMPL_H

#include <stdint.h>
#include <sys/queue.h>

#include "kind.h"
#include "sched.h"
#include "task.h"

TAILQ_HEAD(task_queue, task);

/* One per kind: its environment, its slots and its pending tasks.
 *
 * Pending tasks are kept in id order (first come, first served), but only
 * the first queue_window of them in memory: every pending task with an id
 * up to loaded_to is in the queue, the `cold` ones above it wait on disk
 * (or, a few, in memory on the `aside` list: new ones not yet committed,
 * and ones a client is waiting on) until a refill loads them in order. */
struct sched_kind {
	struct sched          *sched;
	const struct kind_ops *ops;
	struct kind_env        env;
	int                    limit;      /* slots; 0: no limit */
	int                    running;    /* running in memory */
	int64_t                waiting;    /* running, on disk until their wake_at */
	int                    nstarting;  /* running, kind starts after the commit */
	int64_t                npending;   /* every pending task, in memory or not */
	int                    qlen;       /* pending in the queue */
	int64_t                cold;       /* pending with ids above loaded_to */
	int64_t                loaded_to;
	int                    pumping;    /* guards start -> done -> pump recursion */
	struct task_queue      queue;      /* t->queued */
	struct task_queue      aside;      /* pending in memory, not queued */
};

struct sched {
	struct jobd        *jd;
	struct sched_kind  *kinds;
	size_t              nkinds;
	void               *byid;          /* tsearch tree of the active tasks in memory */
	int64_t             nmem;          /* how many */
	int64_t             last_id;
	int                 window;        /* queue_window */
	int64_t             horizon_ms;    /* memory_horizon */
	struct event       *sweep_ev;      /* brings waiting tasks back before they wake */
	void              (*on_done)(void *arg, struct task *t);
	void              (*on_withdraw)(void *arg, struct task *t);
	struct task_queue   starting;      /* running, started after the commit */
	void               *on_done_arg;
	int64_t            *recheck;       /* ids of aside tasks that may go to disk now */
	size_t              nrecheck, caprecheck;
};

/* sched.c */
void sched_adopt(struct sched *s, struct task *t);
void sched_forget(struct sched *s, struct task *t);
void sched_pump(struct sched_kind *sk);
void sched_resume(struct sched *s, struct task *t);

/* sched_mem.c */
void sched_mem_init(struct sched *s);
void sched_mem_free(struct sched *s);
/* A new pending task joins the queue, or waits aside behind the cold ones. */
void sched_mem_add(struct sched_kind *sk, struct task *t);
/* t leaves the pending state (it starts, is cancelled or withdrawn). */
void sched_mem_unpend(struct sched_kind *sk, struct task *t);
/* Load the next pending tasks from disk if the queue runs short: how many. */
int  sched_mem_refill(struct sched_kind *sk);
/* A running task just started (or was committed): to disk if it may wait there. */
void sched_mem_maybe_cool(struct sched *s, struct task *t);
/* t, if it waits aside, may be free to go to disk after the next commit. */
void sched_mem_recheck(struct sched *s, struct task *t);
/* After each commit: trim long queues, refill short ones, free what was
 * named aside. */
void sched_mem_committed(struct sched *s);

#endif
