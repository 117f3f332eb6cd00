/* waiter.h: a parked request waiting on a set of tasks with a condition and a timer. */
#ifndef WAITER_H
#define WAITER_H

#include <stdint.h>
#include <jansson.h>

#include "json_util.h"
#include "spec.h"

struct jobd;
struct req;
struct task;

enum waiter_kind {
	WAITER_RESULT,   /* one task: 200 when done, 504 on timeout (wait_for) */
	WAITER_CANCEL,   /* one task being cancelled: 200 when it has stopped */
	WAITER_WAIT,     /* asyncio.wait: done/pending, never cancels */
	WAITER_GATHER,   /* asyncio.gather */
};

struct waiter_args {
	enum waiter_kind kind;
	double           timeout;            /* < 0: none */
	int              cancel;             /* cancel unfinished tasks on timeout */
	enum wait_when   return_when;
	int              return_exceptions;
	json_t          *ids;                /* borrowed: "ids" to echo (inline tasks), or NULL */
};

struct waiters *waiters_new(struct jobd *jd);
void            waiters_free(struct waiters *ws);
/* Answer every parked waiter 503: the daemon is stopping. */
void            waiters_shutdown(struct waiters *ws);
size_t          waiters_count(const struct waiters *ws);
/* The scheduler's hook: t has reached a final state. */
void            waiters_task_done(void *arg, struct task *t);
/* The hook for a create the store could not commit: its waiters get 507. */
void            waiters_task_withdrawn(void *arg, struct task *t);

/* If req could not be parked now, answer it 503 (with ids, if any) and
 * return 1: a request that would have to wait changes nothing then. */
int             waiter_refuse_full(struct req *req, json_t *ids);
/* Wait on ids for req.  Answers at once when it can (or -1 with a cause, such
 * as an unknown id, and nothing answered); otherwise parks req until it can. */
int             waiter_start(struct waiters *ws, struct req *req, const struct waiter_args *a,
                    const int64_t *ids, size_t n, struct err *e);

#endif
