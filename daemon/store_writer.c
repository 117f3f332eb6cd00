/* store_writer.c: the thread that writes the store's batches into SQLite.
 *
 * Why a thread: writing the rows is most of what a create costs jobd (its
 * B-tree inserts, index updates and WAL frames: about 40% of the loop under
 * the B1 load), and on the loop it serialised with parsing and answering
 * HTTP.  On a thread of its own it overlaps with them, and a checkpoint (the
 * longest stall SQLite has) no longer stops the loop.
 *
 * The thread owns nothing but its connection and the batch in hand: the
 * loop builds each batch from plain values (struct store_row) and does not
 * touch it until the thread hands it back, one batch at a time.
 *
 * A small batch while the thread is idle is written by the loop itself, on
 * the same connection (nobody else uses it then): handing two rows to a
 * thread and back costs more than writing them, and the wait is in the way
 * of what the commit unblocks (the next program's start, a woken client).
 * So that no write on the loop runs into a checkpoint, SQLite's automatic
 * checkpoints are off and the thread runs them itself. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "json_util.h"
#include "log.h"
#include "store_writer.h"
#include "syncer.h"
#include "thread_util.h"

enum writer_stmt { WS_BEGIN, WS_COMMIT, WS_ROLLBACK, WS_INSERT, WS_UPDATE, WS_DELETE, WS_GONE, WS_N };

/* The WAL grows to about this many pages between checkpoints (SQLite's own
 * default), and batches of at most this many rows may be written inline. */
#define WRITER_CKPT_PAGES  1000
#define WRITER_INLINE_ROWS 4

static const char *const writer_sql[WS_N] = {
	[WS_BEGIN] = "BEGIN IMMEDIATE",
	[WS_COMMIT] = "COMMIT",
	[WS_ROLLBACK] = "ROLLBACK",
	[WS_INSERT] = "INSERT INTO tasks (id, kind, name, state, stop, created_at, started_at, "
	    "finished_at, timeout, spec, result, error, pgid, boot_id, stdout, stderr, wake_at) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
	/* Only what a task's life changes: kind, name, spec and times of
	 * creation are written once. */
	[WS_UPDATE] = "UPDATE tasks SET state = ?4, stop = ?5, started_at = ?7, finished_at = ?8, "
	    "result = ?11, error = ?12, pgid = ?13, boot_id = ?14, stdout = ?15, stderr = ?16, "
	    "wake_at = ?17, leftover = ?18 WHERE id = ?1",
	[WS_DELETE] = "DELETE FROM tasks WHERE id = ?1",
	[WS_GONE] = "UPDATE tasks SET leftover = NULL WHERE id = ?1",
};

struct store_writer {
	sqlite3             *db;
	struct syncer       *syncer;      /* NULL: --sync normal */
	sqlite3_stmt        *st[WS_N];
	pthread_t            thread;
	int                  started;
	pthread_mutex_t      mu;
	pthread_cond_t       cv;          /* the thread waits for work, drain for its end */
	/* Under mu: */
	struct store_batch  *todo;        /* handed over, not yet taken */
	struct store_batch  *done_batch;  /* written, not yet given back */
	int                  ckpt_wanted; /* the WAL is long: checkpoint it */
	int                  ckpt_running;
	int                  stop;
	/* Whoever holds the connection: */
	int                  wal_pages;   /* the WAL's length after the last commit */
	/* The loop's: */
	struct store_batch  *inflight;    /* submitted, its done not yet run */
	int                  evfd;
	struct event        *ev;
	void               (*done)(void *arg, struct store_batch *b);
	void                *arg;
};

void
store_row_clear(struct store_row *r)
{
	free(r->spec);
	free(r->result);
	free(r->error);
	free(r->own[0]);
	free(r->own[1]);
	memset(r, 0, sizeof *r);
}

/* --- the thread ------------------------------------------------------ */

/* After each commit, on the thread that made it (this replaces SQLite's
 * automatic checkpoint, which would run there, maybe on the loop). */
static int
writer_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store_writer *w = arg;

	w->wal_pages = pages;
	return SQLITE_OK;
}

static void
writer_checkpoint(struct store_writer *w)
{
	int rc, log, done;

	/* PASSIVE: never waits for the loop's reads; what they still see is
	 * copied at the next one. */
	rc = sqlite3_wal_checkpoint_v2(w->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_err("database checkpoint failed: %s", sqlite3_errstr(rc));
	w->wal_pages = 0;
}

static int
writer_step(struct store_writer *w, enum writer_stmt i)
{
	int rc = sqlite3_step(w->st[i]);

	sqlite3_reset(w->st[i]);
	sqlite3_clear_bindings(w->st[i]);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void
writer_bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

static void
writer_bind_opt(sqlite3_stmt *st, int col, int64_t v)
{
	if (v != 0)
		sqlite3_bind_int64(st, col, v);
}

static int
writer_row(struct store_writer *w, const struct store_row *r)
{
	enum writer_stmt i = r->is_new ? WS_INSERT : WS_UPDATE;
	sqlite3_stmt    *st = w->st[i];
	int              k;

	/* Both statements number their parameters as the columns: the update
	 * simply leaves the create-only ones out. */
	sqlite3_bind_int64(st, 1, r->id);
	if (r->is_new) {
		writer_bind_text(st, 2, r->kind);
		writer_bind_text(st, 3, r->name);
		sqlite3_bind_int64(st, 6, r->created_at);
		if (r->timeout >= 0)
			sqlite3_bind_double(st, 9, r->timeout);
		writer_bind_text(st, 10, r->spec);
	}
	writer_bind_text(st, 4, r->state);
	sqlite3_bind_int(st, 5, r->stop);
	writer_bind_opt(st, 7, r->started_at);
	writer_bind_opt(st, 8, r->finished_at);
	writer_bind_text(st, 11, r->result);
	writer_bind_text(st, 12, r->error);
	writer_bind_opt(st, 13, r->pgid);
	writer_bind_opt(st, 17, r->wake_at);
	if (!r->is_new)
		writer_bind_opt(st, 18, r->leftover);
	if (r->pgid != 0)
		writer_bind_text(st, 14, r->boot_id);
	for (k = 0; k < 2; k++)
		if (r->out[k] != NULL)
			sqlite3_bind_blob(st, 15 + k, r->out[k], (int)r->outlen[k], SQLITE_STATIC);
	return writer_step(w, i);
}

static int
writer_exec(struct store_writer *w, const struct store_batch *b)
{
	size_t i;
	int    rc;

	if ((rc = writer_step(w, WS_BEGIN)) != SQLITE_OK)
		return rc;
	for (i = 0; i < b->nrows; i++)
		if ((rc = writer_row(w, &b->rows[i])) != SQLITE_OK)
			goto fail;
	for (i = 0; i < b->nidops; i++) {
		enum writer_stmt op = b->idops[i].kind == STORE_ID_DELETE ? WS_DELETE : WS_GONE;

		sqlite3_bind_int64(w->st[op], 1, b->idops[i].id);
		if ((rc = writer_step(w, op)) != SQLITE_OK)
			goto fail;
	}
	if ((rc = writer_step(w, WS_COMMIT)) == SQLITE_OK)
		return SQLITE_OK;
fail:
	writer_step(w, WS_ROLLBACK);
	return rc;
}

static void *
writer_main(void *arg)
{
	struct store_writer *w = arg;
	struct store_batch  *b;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->todo == NULL && !w->ckpt_wanted && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if ((b = w->todo) != NULL) {
			w->todo = NULL;
			pthread_mutex_unlock(&w->mu);
			b->rc = writer_exec(w, b);
			/* Its answers wait for the flush: start it now, not once
			 * the loop, maybe deep in a turn, has heard of the commit. */
			if (b->rc == SQLITE_OK && b->urgent && w->syncer != NULL)
				syncer_request(w->syncer, b->seq);
			pthread_mutex_lock(&w->mu);
			if (w->wal_pages >= WRITER_CKPT_PAGES)
				w->ckpt_wanted = 1;
			/* Decided before the batch goes back: the loop must not
			 * write inline while the checkpoint holds the connection. */
			if (w->ckpt_wanted) {
				w->ckpt_wanted = 0;
				w->ckpt_running = 1;
			}
			w->done_batch = b;
			pthread_cond_broadcast(&w->cv);
			thread_wake(w->evfd);
			if (!w->ckpt_running)
				continue;
		} else if (w->ckpt_wanted) {
			w->ckpt_wanted = 0;
			w->ckpt_running = 1;
		} else
			break;
		pthread_mutex_unlock(&w->mu);
		writer_checkpoint(w);
		pthread_mutex_lock(&w->mu);
		w->ckpt_running = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* --- the loop's side ------------------------------------------------- */

/* The batch written: hand it back.  Called with the written batch taken. */
static void
writer_give_back(struct store_writer *w, struct store_batch *b)
{
	w->inflight = NULL;
	w->done(w->arg, b);
}

int
store_writer_poll(struct store_writer *w)
{
	struct store_batch *b;

	if (w == NULL || w->inflight == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	b = w->done_batch;
	w->done_batch = NULL;
	pthread_mutex_unlock(&w->mu);
	if (b == NULL)
		return 0;
	writer_give_back(w, b);
	return 1;
}

static void
writer_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store_writer *w = arg;

	thread_woken(w->evfd);
	store_writer_poll(w);   /* nothing if a pulse took the batch already */
}

struct store_writer *
store_writer_new(struct event_base *base, sqlite3 *db, struct syncer *syncer,
    void (*done)(void *arg, struct store_batch *b), void *arg, struct err *e)
{
	struct store_writer *w;
	int                  i, rc;

	if ((w = calloc(1, sizeof *w)) == NULL)
		fatal("out of memory");
	w->db = db;
	w->syncer = syncer;
	w->done = done;
	w->arg = arg;
	w->evfd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	for (i = 0; i < WS_N; i++)
		if (sqlite3_prepare_v3(db, writer_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &w->st[i], NULL) != SQLITE_OK) {
			err_set(e, 500, "preparing write statement %d: %s", i, sqlite3_errmsg(db));
			goto fail;
		}
	if ((w->ev = thread_waker(base, &w->evfd, writer_ready_cb, w, e)) == NULL)
		goto fail;
	sqlite3_wal_hook(db, writer_wal_hook, w);
	if ((rc = thread_start(&w->thread, writer_main, w)) != 0) {
		err_set(e, 500, "cannot start the database writer thread: %s", strerror(rc));
		goto fail;
	}
	w->started = 1;
	return w;
fail:
	store_writer_free(w);
	return NULL;
}

int
store_writer_busy(const struct store_writer *w)
{
	return w != NULL && w->inflight != NULL;
}

int
store_writer_write_now(struct store_writer *w, struct store_batch *b)
{
	size_t i;
	int    idle;

	if (w->inflight != NULL || b->nrows > WRITER_INLINE_ROWS || b->nidops > WRITER_INLINE_ROWS)
		return 0;
	/* Creates are answered after a flush of the WAL anyway, and under load
	 * they come many to a turn: the thread takes those, the loop goes on. */
	for (i = 0; i < b->nrows; i++)
		if (b->rows[i].is_new)
			return 0;
	/* No batch in flight: only a checkpoint could be using the connection. */
	pthread_mutex_lock(&w->mu);
	idle = !w->ckpt_running && !w->ckpt_wanted;
	pthread_mutex_unlock(&w->mu);
	if (!idle)
		return 0;
	b->rc = writer_exec(w, b);
	if (w->wal_pages >= WRITER_CKPT_PAGES) {
		pthread_mutex_lock(&w->mu);
		w->ckpt_wanted = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	w->done(w->arg, b);
	return 1;
}

void
store_writer_submit(struct store_writer *w, struct store_batch *b)
{
	if (w->inflight != NULL)
		fatal("store writer: a batch is already in flight");
	w->inflight = b;
	pthread_mutex_lock(&w->mu);
	w->todo = b;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
store_writer_drain(struct store_writer *w)
{
	struct store_batch *b;

	if (w == NULL || w->inflight == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	while (w->done_batch == NULL)
		pthread_cond_wait(&w->cv, &w->mu);
	b = w->done_batch;
	w->done_batch = NULL;
	pthread_mutex_unlock(&w->mu);
	writer_give_back(w, b);
}

void
store_writer_free(struct store_writer *w)
{
	int i;

	if (w == NULL)
		return;
	store_writer_drain(w);
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	for (i = 0; i < WS_N; i++)
		sqlite3_finalize(w->st[i]);
	if (w->ev != NULL)
		event_free(w->ev);
	if (w->evfd != -1)
		close(w->evfd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}
