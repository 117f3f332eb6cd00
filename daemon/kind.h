/* kind.h: a job kind is a table of operations; the scheduler knows no kind by name. */
#ifndef KIND_H
#define KIND_H

#include <stdint.h>
#include <jansson.h>

struct task;
struct event_base;
struct jobd_config;
struct err;

struct kind_env {
	struct event_base        *base;
	const struct jobd_config *cfg;
	/* The only way back to the scheduler, called exactly once per start or
	 * resume.  ok: succeeded with result; else failed with error (an object
	 * with "type" and "message").  Steals both references.  The kind frees
	 * its own state (t->kstate) before calling it and never touches t after. */
	void (*done)(void *arg, struct task *t, int ok, json_t *result, json_t *error);
	/* A task that ended with t->leftover set (processes it left were still
	 * being stopped): they are gone now. */
	void (*leftover_gone)(void *arg, int64_t id);
	void *arg;
	void *ctx;   /* the kind's own shared state, made by its init */
};

struct kind_ops {
	const char *name;
	/* Optional: make the kind's shared state (env->ctx) once at start-up, and
	 * free it at shutdown.  init returns -1 with a logged cause on failure. */
	int  (*init)(struct kind_env *env);
	void (*fini)(struct kind_env *env);
	/* Validate the member named by the kind; *out gets the normalised spec. */
	int  (*parse)(const json_t *in, json_t **out, struct err *e);
	/* Optional: get ready to run, before "running" is committed; what it
	 * records in t (a process group) is committed with it.  Nothing may
	 * run yet that a crash could forget, but a kind with nothing to wait
	 * for (a sleep of 0 s) may end the task from here on through
	 * env->done; it then never starts.  Undone by release if the task
	 * never starts. */
	void (*prepare)(struct task *t, const struct kind_env *env);
	/* Begin running.  A start that fails at once calls env->done itself. */
	void (*start)(struct task *t, const struct kind_env *env);
	/* Begin stopping; finishes later (or at once) through env->done. */
	void (*cancel)(struct task *t);
	/* After a restart, for a task found running: 0 resumed, -1 it cannot be
	 * (clean up what an earlier run left and let it end "interrupted"). */
	int  (*resume)(struct task *t, const struct kind_env *env);
	/* Optional: after a restart, for a finished task whose leftover mark
	 * says jobd stopped while processes it left were being stopped: stop
	 * them, if they are still there and still its. */
	void (*leftover)(const struct task *t);
	/* Optional: the kind's members of the error of a task that ends
	 * without its outcome known (interrupted, or cancelled or timed out
	 * while jobd was down): an exec task's output captured so far. */
	json_t *(*lost_members)(const struct task *t);
	/* Optional: at shutdown, free t->kstate without finishing the task (it
	 * stays running in the database and is resumed or interrupted later);
	 * also a prepared task's, when it is stopped before it starts. */
	void (*release)(struct task *t);
	/* Optional: finish now what is already due (a sleep of 0 s, prepared
	 * with its create).  Called just before a batch is cut, so that such a
	 * task's create and end are one row in one commit: the client that
	 * asks for the result right after the 201 need not wait for another. */
	void (*settle)(const struct kind_env *env);
	/* How many may run at once (0: no limit). */
	int  (*slots)(const struct jobd_config *cfg);
	/* Optional: a running task that has nothing to do until a known moment
	 * (a sleep's end) names it, in ms since the epoch; until near it the
	 * task may wait on disk, released (release) and resumed (resume) later.
	 * Without it a running task of the kind stays in memory. */
	int64_t (*wake_at)(const struct task *t);
};

extern const struct kind_ops kind_sleep_ops;
extern const struct kind_ops kind_exec_ops;
extern const struct kind_ops kind_http_ops;

const struct kind_ops *kind_find(const char *name);
const struct kind_ops *const *kind_all(void);

#endif
