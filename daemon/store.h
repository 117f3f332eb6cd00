/* store.h: the tasks in SQLite (WAL).  The loop stages changes; each turn's
 * become one batch, committed by a writer thread and made durable by a sync
 * thread (group commit); reads are the loop's, on a connection of its own. */
#ifndef STORE_H
#define STORE_H

#include <stdint.h>
#include <jansson.h>

#include "json_util.h"
#include "task.h"

struct event_base;
struct task;
struct list_spec;

struct store_hooks {
	/* After each successful commit: once per task committed in it ... */
	void (*committed)(void *arg, struct task *t);
	/* ... then once for the whole batch of n task rows. */
	void (*batch_done)(void *arg, unsigned n);
	/* Every commit up to seq is on disk: what they made true may be told. */
	void (*durable)(void *arg, uint64_t seq);
	/* A commit failed for lack of space: each task created in the batch is
	 * withdrawn (the rest stays staged and is retried). */
	void (*withdrawn)(void *arg, struct task *t);
	/* Optional: a batch is about to be cut; what this stages goes in it. */
	void (*before_batch)(void *arg);
	/* The database or its WAL is no longer at its path (deleted, renamed):
	 * no commit is durable from now on, nothing more is released, and jobd
	 * must stop.  Without it, jobd stops on the spot. */
	void (*lost)(void *arg, const char *why);
	void  *arg;
};

/* max_bytes: refuse to grow the database past it (0: no cap). */
struct store *store_open(struct event_base *base, const char *path, int sync_full,
                  int64_t max_bytes, struct err *e);
void          store_close(struct store *s);
void          store_set_hooks(struct store *s, const struct store_hooks *h);

/* Stage t's current state to be written at the end of this turn. */
void          store_stage(struct store *s, struct task *t);
void          store_stage_delete(struct store *s, int64_t id);
/* Stage t without a commit of its own: it rides on the next one, which
 * comes within STORE_SOON_MS.  For what no answer reports (an exec task's
 * process group), so that busy loops do not pay a commit for it. */
#define STORE_SOON_MS 2
void          store_stage_soon(struct store *s, struct task *t);
/* The processes task id left in its group are gone: clear its leftover
 * mark, which no answer reports (so soon, not now). */
void          store_stage_leftover_gone(struct store *s, int64_t id);
/* Something is staged and not yet committed. */
int           store_dirty(const struct store *s);
/* An answer given now reports what commit seq makes true: send it once the
 * durable hook says seq (0: nothing to wait for, send it now). */
uint64_t      store_hold_seq(struct store *s);
/* A safe point in the middle of a loop turn: what is staged may go to the
 * writer now, and a batch it finished may come back (its hooks run). */
void          store_pulse(struct store *s);
/* The same for an answer that reports only t: it waits for the commit
 * that holds t's state, not for every change staged meanwhile. */
uint64_t      store_hold_task(struct store *s, const struct task *t);
/* The same for an answer built from the database alone (a list, a task
 * not in memory, a 404): it reports only what is committed, so it waits
 * for no change staged since, which a full disk may hold back for long. */
uint64_t      store_hold_read(struct store *s);
/* Nothing staged, every commit durable. */
int           store_settled(const struct store *s);
/* Flushes of the WAL made so far (0 with --sync normal). */
uint64_t      store_syncs(struct store *s);
/* Commit what is staged now (at shutdown); 0 or -1. */
int           store_flush(struct store *s);

int64_t       store_last_id(struct store *s);

/* The loaders call cb for every task found; the callee owns t. */
typedef void store_task_cb(void *arg, struct task *t);
/* Running tasks needed in memory: those with no wake_at or one before
 * horizon (ms since the epoch), in id order. */
int           store_load_running(struct store *s, int64_t horizon, store_task_cb *cb, void *arg);
/* At most limit pending tasks of kind with ids above after_id, in id order. */
int           store_load_pending(struct store *s, const char *kind, int64_t after_id, int limit,
                  store_task_cb *cb, void *arg);
/* Finished tasks with their leftover mark: a crash came while the
 * processes they left in their groups were being stopped. */
int           store_load_leftover(struct store *s, store_task_cb *cb, void *arg);
/* Running tasks whose wake_at is before before. */
int           store_load_due(struct store *s, int64_t before, store_task_cb *cb, void *arg);
/* Per kind with active tasks: how many are pending, and how many running
 * ones wait on disk (wake_at at or after horizon). */
int           store_count_active(struct store *s, int64_t horizon,
                  void (*cb)(void *arg, const char *kind, int64_t pending, int64_t waiting),
                  void *arg);
/* A committed task read back (caller frees with task_free), or NULL: *found says which. */
struct task  *store_get(struct store *s, int64_t id, int *found);
/* The answer text of a committed task (GET /v1/tasks/{id}), or NULL if
 * there is none; *hold is the commit the answer waits for, *state the
 * task's state. */
char         *store_get_text(struct store *s, int64_t id, enum task_state *state, uint64_t *hold,
                  size_t *len);
/* t is finished and its last row committed: the store keeps it (or frees
 * it), so that the next store_get of it need not read the database. */
void          store_recent_keep(struct store *s, struct task *t);
/* The page of tasks for GET /v1/tasks. */
char         *store_list_text(struct store *s, const struct list_spec *q, size_t *len);
/* The raw bytes of stream 0 (stdout) or 1 (stderr) of a finished task: malloc'd copy. */
int           store_output(struct store *s, int64_t id, int stream, unsigned char **data, size_t *len);

#endif
