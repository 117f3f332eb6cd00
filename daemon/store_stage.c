/* store_stage.c: how a staged change reaches the disk.  Callbacks of one
 * loop turn stage tasks; at the end of the turn they become one batch of
 * rows, which the writer thread commits while the loop goes on (a batch at
 * a time: what is staged meanwhile makes the next, larger one); then the
 * syncer flushes the WAL, and answers held for a batch go out once it is
 * durable.  Group commit, without the loop ever waiting for the disk. */
#include "config.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "json_write.h"
#include "kind.h"
#include "log.h"
#include "loop_prio.h"
#include "store_impl.h"
#include "syncer.h"

/* A commit nobody waits for is synced within this. */
#define STORE_LAZY_MS 10
/* store_pulse launches a batch of at least this many rows mid-turn. */
#define STORE_PULSE_ROWS 16

static void store_launch(struct store *s);

/* --- staging --------------------------------------------------------- */

static void
store_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	store_launch(arg);
}

static void
store_schedule(struct store *s)
{
	/* Same priority as everything else: it runs after the callbacks already
	 * queued in this turn, so one batch covers all of them. */
	if (!evtimer_pending(s->retry_ev, NULL))
		event_active(s->flush_ev, 0, 0);
}

static void
store_link(struct store *s, struct task *t)
{
	if (!t->dirty) {
		t->dirty = 1;
		TAILQ_INSERT_TAIL(&s->staged, t, dirty_entry);
		s->nstaged++;
	}
}

void
store_stage(struct store *s, struct task *t)
{
	store_link(s, t);
	s->eager = 1;
	store_schedule(s);
}

/* Commit within STORE_SOON_MS, if nothing commits sooner. */
static void
store_soon(struct store *s)
{
	if (!evtimer_pending(s->soon_ev, NULL) && !evtimer_pending(s->retry_ev, NULL))
		evtimer_add(s->soon_ev, (&(struct timeval){ 0, STORE_SOON_MS * 1000 }));
}

void
store_stage_soon(struct store *s, struct task *t)
{
	store_link(s, t);
	store_soon(s);
}

static void
store_add_idop(struct store *s, int64_t id, enum store_idop_kind kind)
{
	if (s->nidops == s->capidops) {
		s->capidops = s->capidops ? s->capidops * 2 : 16;
		if ((s->idops = realloc(s->idops, s->capidops * sizeof *s->idops)) == NULL)
			fatal("out of memory");
	}
	s->idops[s->nidops++] = (struct store_idop){ id, kind };
}

void
store_stage_delete(struct store *s, int64_t id)
{
	store_add_idop(s, id, STORE_ID_DELETE);
	s->eager = 1;
	store_schedule(s);
}

/* Nobody waits for it: it rides on the next commit, or one within
 * STORE_SOON_MS. */
void
store_stage_leftover_gone(struct store *s, int64_t id)
{
	store_add_idop(s, id, STORE_ID_LEFTOVER_GONE);
	store_soon(s);
}

int
store_dirty(const struct store *s)
{
	return !TAILQ_EMPTY(&s->staged) || s->nidops > 0;
}

/* --- durability ------------------------------------------------------ */

/* Someone waits for commit seq to be durable: seq, or 0 if it is already.
 * A wait held for a seq already durable would never be released
 * (httpd_durable has been and gone for it). */
static uint64_t
store_hold(struct store *s, uint64_t seq)
{
	if (seq <= s->durable)
		return 0;
	if (seq > s->need)
		s->need = seq;
	if (seq == s->committed && s->syncer != NULL)
		syncer_request(s->syncer, seq);   /* a lazy commit nobody synced yet */
	return seq;
}

uint64_t
store_hold_seq(struct store *s)
{
	if (store_dirty(s))
		return store_hold(s, s->launched + 1);   /* the batch this turn ends with */
	if (store_writer_busy(s->writer))
		return store_hold(s, s->launched);
	if (s->durable < s->committed)
		return store_hold(s, s->committed);
	return 0;
}

/* What the database says now is what is committed, and the batch in
 * flight may be committed already though the loop has not taken it back. */
uint64_t
store_hold_read(struct store *s)
{
	if (store_writer_busy(s->writer))
		return store_hold(s, s->launched);
	if (s->durable < s->committed)
		return store_hold(s, s->committed);
	return 0;
}

uint64_t
store_hold_task(struct store *s, const struct task *t)
{
	if (t->dirty)
		return store_hold(s, s->launched + 1);
	if (t->inflight)
		return store_hold(s, s->launched);
	if (t->commit_seq == 0)
		return store_hold_read(s);   /* read from the database */
	return t->commit_seq > s->durable ? store_hold(s, t->commit_seq) : 0;
}

int
store_settled(const struct store *s)
{
	return !store_dirty(s) && !store_writer_busy(s->writer) &&
	    (s->durable >= s->committed || s->lost);
}

uint64_t
store_syncs(struct store *s)
{
	return s->syncer != NULL ? syncer_count(s->syncer) : 0;
}

/* Every commit up to seq (at most the last one taken back) is on disk:
 * release what waited for it. */
static void
store_made_durable(struct store *s, uint64_t seq)
{
	/* A batch rolled back after the last commit left nothing to retry:
	 * what waited for it waits for nothing now. */
	if (seq >= s->committed && s->failed > seq && !store_dirty(s) &&
	    !store_writer_busy(s->writer))
		seq = s->failed;
	if (seq <= s->durable || s->lost)
		return;
	s->durable = seq;
	if (s->hooks.durable)
		s->hooks.durable(s->hooks.arg, seq);
}

/* The syncer has made commits up to seq durable.  The writer asks for its
 * commit's sync before it hands the batch back, and the sync can finish
 * first: the batch is taken back now, so that what its commit does on the
 * loop (tasks started, counters) comes before any answer it releases.  A
 * batch the writer has not let go of yet is made durable when it comes back
 * (store_commit_made): until then durable never passes committed. */
static void
store_durable_cb(void *arg, uint64_t seq)
{
	struct store *s = arg;

	if (seq > s->synced)
		s->synced = seq;
	if (seq > s->committed)
		store_writer_poll(s->writer);
	store_made_durable(s, seq < s->committed ? seq : s->committed);
}

static void
store_lost_cb(void *arg, const char *why)
{
	struct store *s = arg;

	if (s->lost)
		return;
	s->lost = 1;
	if (s->hooks.lost == NULL)
		fatal("%s; stopping", why);
	s->hooks.lost(s->hooks.arg, why);
}

static void
store_lazy_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	if (s->durable < s->committed)
		syncer_request(s->syncer, s->committed);
}

/* A batch is committed.  Without the syncer it is as durable as it gets,
 * once its files are seen still where a restart will look for them.  With
 * it, a commit someone waits for is synced at once; the others within
 * STORE_LAZY_MS, so a busy loop whose changes nobody is told of (programs
 * starting and ending behind one gather) does not pay a sync for each. */
static void
store_commit_made(struct store *s)
{
	struct err e;

	if (s->syncer == NULL) {
		if (store_check_files(s, &e) < 0)
			store_lost_cb(s, e.msg);
		store_made_durable(s, s->committed);
	} else if (s->synced >= s->committed)
		store_made_durable(s, s->committed);   /* synced before it came back */
	else if (s->need >= s->committed)
		syncer_request(s->syncer, s->committed);
	else if (!evtimer_pending(s->lazy_ev, NULL))
		evtimer_add(s->lazy_ev, (&(struct timeval){ 0, STORE_LAZY_MS * 1000 }));
}

/* --- batches --------------------------------------------------------- */

static char *
store_json_text(const json_t *j)
{
	return j != NULL ? jw_dumps(j, 17, 0, NULL) : NULL;
}

/* t as a row: values the writer may read while the loop goes on.  A
 * finished task's output is frozen (and t lives until the batch is back):
 * borrowed; a running one's still grows: copied. */
static void
store_row_fill(struct store *s, struct store_row *r, struct task *t)
{
	int i;

	memset(r, 0, sizeof *r);
	r->task = t;
	r->id = t->id;
	r->is_new = t->is_new;
	r->kind = t->kind->name;
	r->name = t->name;
	r->state = task_state_name(t->state);
	r->stop = (int)t->stop;
	r->created_at = t->created_at;
	r->started_at = t->started_at;
	r->finished_at = t->finished_at;
	r->timeout = t->timeout;
	if (t->is_new)
		r->spec = store_json_text(t->spec);
	r->result = t->state == TASK_SUCCEEDED ? store_json_text(t->result) : NULL;
	r->error = store_json_text(t->error);
	r->pgid = t->pgid;
	r->leftover = t->leftover;
	r->wake_at = t->wake_at;
	r->boot_id = s->boot_id;
	for (i = 0; i < 2; i++) {
		const struct blob *b = &t->out[i];

		if (b->data == NULL)
			continue;
		r->outlen[i] = b->len;
		if (task_is_done(t->state))
			r->out[i] = b->data;
		else {
			if ((r->own[i] = malloc(b->len + 1)) == NULL)
				fatal("out of memory");
			memcpy(r->own[i], b->data, b->len);
			r->out[i] = r->own[i];
		}
	}
}

static struct store_row *
store_batch_row(struct store_batch *b)
{
	if (b->nrows == b->caprows) {
		b->caprows = b->caprows ? b->caprows * 2 : 64;
		if ((b->rows = realloc(b->rows, b->caprows * sizeof *b->rows)) == NULL)
			fatal("out of memory");
	}
	return &b->rows[b->nrows++];
}

/* What is staged becomes the next batch, if the writer is free. */
static void
store_launch(struct store *s)
{
	struct store_batch *b = &s->batch;
	struct task        *t;

	if (store_writer_busy(s->writer) || !store_dirty(s) || evtimer_pending(s->retry_ev, NULL))
		return;
	if (s->hooks.before_batch)
		s->hooks.before_batch(s->hooks.arg);
	b->nrows = 0;
	s->nstaged = 0;
	while ((t = TAILQ_FIRST(&s->staged)) != NULL) {
		TAILQ_REMOVE(&s->staged, t, dirty_entry);
		t->dirty = 0;
		t->inflight = 1;
		store_row_fill(s, store_batch_row(b), t);
	}
	if (s->nidops > b->capidops) {
		b->capidops = s->nidops;
		if ((b->idops = realloc(b->idops, b->capidops * sizeof *b->idops)) == NULL)
			fatal("out of memory");
	}
	if (s->nidops > 0)
		memcpy(b->idops, s->idops, s->nidops * sizeof *s->idops);
	b->nidops = s->nidops;
	s->nidops = 0;
	b->seq = ++s->launched;
	b->urgent = s->need >= b->seq;
	s->eager = 0;
	evtimer_del(s->soon_ev);
	if (!store_writer_write_now(s->writer, b))
		store_writer_submit(s->writer, b);
}

/* A safe point inside a long turn (the loop is between two requests of one
 * MHD_run, which may read a hundred creates): take back a batch the writer
 * has finished, and hand it what is staged now rather than at the turn's end.
 * Without this the load moves as one convoy -- the loop reads every create,
 * then the writer writes them all, then the disk syncs them, each waiting on
 * the other -- and the loop idles a quarter of the time under 64 clients.
 * With it the writer and the syncer work while the loop reads the rest.
 * Batches get smaller (16 rows at least, so a batch still pays its fixed
 * cost over many rows), and each still holds only what was staged before
 * it: a create's answer names the batch it is in before it is launched. */
void
store_pulse(struct store *s)
{
	if (!s->eager || s->draining || s->nstaged < STORE_PULSE_ROWS)
		return;
	store_writer_poll(s->writer);
	store_launch(s);
}

static void
store_batch_ok(struct store *s, struct store_batch *b)
{
	size_t i;

	s->committed = b->seq;
	for (i = 0; i < b->nrows; i++) {
		struct task *t = b->rows[i].task;

		t->inflight = 0;
		t->is_new = 0;
		t->commit_seq = b->seq;
		if (s->hooks.committed)
			s->hooks.committed(s->hooks.arg, t);    /* may free t */
	}
	/* A committed delete leaves the cache of finished tasks, after the
	 * rows: a task deleted before its end was committed (in this batch or
	 * an earlier one) went into the cache through its row's hook. */
	for (i = 0; i < b->nidops; i++)
		if (b->idops[i].kind == STORE_ID_DELETE)
			store_recent_drop(s, b->idops[i].id);
	if (s->hooks.batch_done)
		s->hooks.batch_done(s->hooks.arg, (unsigned)b->nrows);
	store_commit_made(s);
}

/* Rolled back.  A full disk may pass: the creates of the batch are refused,
 * the rest is staged again and retried.  Anything else is fail-stop: pages
 * the kernel failed to write may be gone; the restart recovers from the WAL. */
static void
store_batch_failed(struct store *s, struct store_batch *b)
{
	int    full = (b->rc & 0xff) == SQLITE_FULL;
	size_t i;

	if (!full && (b->rc & 0xff) != SQLITE_BUSY)
		fatal("database commit failed: %s; stopping", sqlite3_errstr(b->rc));
	log_err("database commit failed: %s; new tasks refused, changes retried in 1 s",
	    sqlite3_errstr(b->rc));
	s->failed = b->seq;
	for (i = 0; i < b->nrows; i++) {
		struct task *t = b->rows[i].task;

		t->inflight = 0;
		if (full && t->is_new) {
			if (t->dirty) {
				TAILQ_REMOVE(&s->staged, t, dirty_entry);
				t->dirty = 0;
				s->nstaged--;
			}
			if (s->hooks.withdrawn)
				s->hooks.withdrawn(s->hooks.arg, t);   /* frees t */
		} else if (!t->dirty) {
			t->dirty = 1;
			TAILQ_INSERT_HEAD(&s->staged, t, dirty_entry);
			s->nstaged++;
		}
	}
	for (i = 0; i < b->nidops; i++)
		store_add_idop(s, b->idops[i].id, b->idops[i].kind);
	if (store_dirty(s)) {
		if (!s->draining)
			evtimer_add(s->retry_ev, (&(struct timeval){ 1, 0 }));
	} else if (s->durable >= s->committed)
		store_made_durable(s, s->committed);
}

static void
store_batch_done(void *arg, struct store_batch *b)
{
	struct store *s = arg;
	size_t        i;

	if (b->rc == SQLITE_OK)
		store_batch_ok(s, b);
	else
		store_batch_failed(s, b);
	for (i = 0; i < b->nrows; i++)
		store_row_clear(&b->rows[i]);
	b->nrows = b->nidops = 0;
	/* What was staged while it was written is the next batch, at the end
	 * of this turn (not from here: an inline write would recurse) -- unless
	 * it is only what stage_soon let wait for a later commit, which its
	 * timer launches (again, if it fired while this batch was out). */
	if (!s->draining && store_dirty(s)) {
		if (s->eager)
			store_schedule(s);
		else
			store_soon(s);
	}
}

int
store_flush(struct store *s)
{
	s->draining = 1;
	evtimer_del(s->retry_ev);
	for (;;) {
		if (store_writer_busy(s->writer))
			store_writer_drain(s->writer);
		else if (store_dirty(s))
			store_launch(s);
		else
			return 0;
		/* A full disk at shutdown: what is left stays unwritten. */
		if (s->failed != 0 && s->failed == s->batch.seq && !store_writer_busy(s->writer))
			return -1;
	}
}

/* --- start and stop -------------------------------------------------- */

static int
store_start_syncer(struct store *s, struct event_base *base, const char *path, struct err *e)
{
	char *copy;
	int   rc = 0;

	if ((copy = strdup(path)) == NULL)
		fatal("out of memory");
	if ((s->syncer = syncer_new(base, &s->files, dirname(copy), store_durable_cb,
	    store_lost_cb, s, e)) == NULL)
		rc = -1;
	free(copy);
	return rc;
}

int
store_stage_start(struct store *s, struct event_base *base, const char *path, int sync_full,
    struct err *e)
{
	TAILQ_INIT(&s->staged);
	s->flush_ev = event_new(base, -1, 0, store_flush_cb, s);
	/* First: a program's exit stages the next one's start, whose child is
	 * held until its commit; HTTP work queued in the same turn waits. */
	event_priority_set(s->flush_ev, LOOP_PRIO_FIRST);
	s->retry_ev = evtimer_new(base, store_flush_cb, s);
	s->soon_ev = evtimer_new(base, store_flush_cb, s);
	s->lazy_ev = evtimer_new(base, store_lazy_cb, s);
	if (sync_full && store_start_syncer(s, base, path, e) < 0)
		return -1;
	if ((s->writer = store_writer_new(base, s->db, s->syncer, store_batch_done, s, e)) == NULL)
		return -1;
	return 0;
}

void
store_stage_stop(struct store *s)
{
	if (s->writer != NULL) {
		store_writer_free(s->writer);   /* drains what is in flight */
		s->writer = NULL;
	}
	/* The last commits reach the disk before SQLite closes the WAL. */
	if (s->syncer != NULL) {
		syncer_request(s->syncer, s->committed);
		syncer_free(s->syncer);
		s->syncer = NULL;
	}
	if (s->flush_ev)
		event_free(s->flush_ev);
	if (s->retry_ev)
		event_free(s->retry_ev);
	if (s->soon_ev)
		event_free(s->soon_ev);
	if (s->lazy_ev)
		event_free(s->lazy_ev);
	free(s->batch.rows);
	free(s->batch.idops);
	free(s->idops);
}
