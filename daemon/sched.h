/* sched.h: owns the active (pending and running) tasks: queues, slots per
 * kind, start, finish, cancel, deadlines; keeps in memory those with
 * something to do soon (sched_mem.c), the rest wait on disk. */
#ifndef SCHED_H
#define SCHED_H

#include <stdint.h>

#include "task.h"

struct jobd;
struct task_spec;


struct sched *sched_new(struct jobd *jd);
void          sched_free(struct sched *s);
/* The one hook to the waiters: called on every final transition. */
void          sched_set_done_hook(struct sched *s, void (*fn)(void *arg, struct task *t), void *arg);
/* After a restart: count the active tasks, load the running ones that need
 * memory and the first pending ones, and resume them. */
int           sched_recover(struct sched *s);
/* A new pending task from a validated spec (whose contents it takes). */
struct task  *sched_create(struct sched *s, struct task_spec *spec);
/* The active task with this id if it is in memory, or NULL (finished ones
 * live in the store, and so may active ones with nothing to do soon). */
struct task  *sched_find(struct sched *s, int64_t id);
/* The active task with this id, brought into memory if it waited on disk
 * (to be cancelled or waited on); else NULL, and *done is the finished task
 * read from disk (the caller's to task_free) or NULL if there is none. */
struct task  *sched_warm(struct sched *s, int64_t id, struct task **done);
/* Begin stopping t; -1 if it is already done, or ended by itself and only
 * finishing off (it then ends as it ended, not stopped). */
int           sched_cancel(struct sched *s, struct task *t, enum task_stop why);
/* The store committed t: forget it if it is finished. */
void          sched_committed(struct sched *s, struct task *t);
/* Nobody waits on t any more: it may go to disk if it can. */
void          sched_unwatched(struct sched *s, struct task *t);
/* The batch is committed: start what its creates made eligible. */
void          sched_batch_committed(struct sched *s);
/* A batch is about to be cut: what the kinds can finish now goes in it. */
void          sched_settle(struct sched *s);
/* The store could not commit t's creation: forget it, tell its waiters. */
void          sched_withdraw(struct sched *s, struct task *t);
/* The hook to the waiters when a create is withdrawn. */
void          sched_set_withdraw_hook(struct sched *s, void (*fn)(void *arg, struct task *t));
/* How many active tasks are in memory (the others wait on disk). */
int64_t       sched_in_memory(const struct sched *s);
/* How many tasks of kind k are pending (or running) now. */
int64_t       sched_count(const struct sched *s, const struct kind_ops *k, enum task_state st);

#endif
