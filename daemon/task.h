/* task.h: the task object, its states and legal transitions. */
#ifndef TASK_H
#define TASK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <jansson.h>

struct jw;
struct kind_ops;
struct watch;
struct event;

enum task_state {
	TASK_PENDING,
	TASK_RUNNING,
	TASK_SUCCEEDED,
	TASK_FAILED,
	TASK_CANCELLED,
	TASK_NSTATES
};

/* Why a running task is being stopped. */
enum task_stop {
	TASK_STOP_NONE,
	TASK_STOP_CANCEL,    /* a client asked: ends cancelled */
	TASK_STOP_DEADLINE,  /* its own timeout passed: ends failed/timeout */
};

/* Raw bytes a kind keeps with the task (exec stdout/stderr). */
struct blob {
	unsigned char *data;
	size_t         len;
	int            truncated;
};

TAILQ_HEAD(watch_list, watch);

struct task {
	int64_t                id;
	const struct kind_ops *kind;
	char                  *name;          /* owned, may be NULL */
	enum task_state        state;
	enum task_stop         stop;          /* != NONE: "cancelling" */
	int64_t                created_at;    /* ms since the epoch; 0 = null */
	int64_t                started_at;
	int64_t                finished_at;
	double                 timeout;       /* < 0: none */
	json_t                *spec;          /* owned: the kind's normalised spec */
	json_t                *result;        /* owned, set when succeeded */
	json_t                *error;         /* owned, set when failed/cancelled */
	int64_t                pgid;          /* exec: process group, 0 = none */
	int                    pgid_stale;    /* loaded pgid is from another boot */
	int                    leftover;      /* exec, done: its group is still being stopped */
	struct blob            out[2];        /* exec: raw stdout, stderr */
	void                  *kstate;        /* the kind's private state */
	struct event          *deadline_ev;   /* owned by sched */
	int64_t                deadline_mono; /* its moment, CLOCK_MONOTONIC us (time_mono_at) */
	void                  *owner;         /* sched's per-kind slot */
	struct watch_list      watches;       /* waiters on this task */
	int                    dirty;         /* staged, not yet in a batch */
	int                    inflight;      /* a row of it is being written */
	uint64_t               commit_seq;    /* the commit of its newest row, 0 if none yet */
	int                    is_new;        /* never committed */
	int                    starting;      /* running, kind started after the commit */
	int                    queued;        /* pending, in its kind's queue (not on disk only) */
	int                    rechecked;     /* aside, its id on sched's recheck list */
	int64_t                wake_at;       /* running: when it needs the loop (ms), 0 = always */
	TAILQ_ENTRY(task)      dirty_entry;   /* store's staged list */
	TAILQ_ENTRY(task)      queue_entry;   /* sched's pending queue */
};

struct task *task_new(int64_t id, const struct kind_ops *kind);
void         task_free(struct task *t);
/* A finished task's copy, as a read of its row would give it: no raw
 * output, no kind state, no waiters; its JSON shared (never changed). */
struct task *task_copy(const struct task *t);
int          task_is_done(enum task_state s);
const char  *task_state_name(enum task_state s);
int          task_state_parse(const char *s, enum task_state *out);
int          task_can_transition(enum task_state from, enum task_state to);
json_t      *task_to_json(const struct task *t);
/* The same object as JSON text with a newline (malloc'd; its length in
 * *len): what an answer carrying one task sends, without building it. */
char        *task_to_text(const struct task *t, size_t *len);
/* Spec, result and error as JSON text already (NULL: use the task's). */
struct task_raw {
	const char *text[3];
	size_t      len[3];
};
/* task_to_text, with the members raw has text for written as that text. */
char        *task_to_text_raw(const struct task *t, const struct task_raw *raw, size_t *len);
/* The same object (raw may be NULL) appended to w, without the newline. */
void         task_write(struct jw *w, const struct task *t, const struct task_raw *raw);

#endif
