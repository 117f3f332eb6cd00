/* store.c: SQLite, WAL, one connection on the loop; staged changes committed
 * together once per loop turn (group commit). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "kind.h"
#include "log.h"
#include "schema_sql.h"
#include "spec.h"
#include "store.h"
#include "syncer.h"
#include "task.h"

enum store_stmt {
	ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_UPSERT, ST_DELETE, ST_GET, ST_ACTIVE,
	ST_LIST, ST_LIST_STATE, ST_LIST_KIND, ST_LIST_BOTH, ST_OUTPUT, ST_LAST_ID, ST_N
};

#define STORE_COLS "id, kind, name, state, stop, created_at, started_at, finished_at, " \
	"timeout, spec, result, error, pgid, boot_id"
#define STORE_LIST(where) "SELECT " STORE_COLS " FROM tasks WHERE " where \
	" id > ?3 ORDER BY id LIMIT ?4"

static const char *const store_sql[ST_N] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_UPSERT] = "INSERT INTO tasks (" STORE_COLS ", stdout, stderr) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) "
	    "ON CONFLICT (id) DO UPDATE SET state = excluded.state, stop = excluded.stop, "
	    "started_at = excluded.started_at, finished_at = excluded.finished_at, "
	    "result = excluded.result, error = excluded.error, pgid = excluded.pgid, "
	    "boot_id = excluded.boot_id, stdout = excluded.stdout, stderr = excluded.stderr",
	[ST_DELETE] = "DELETE FROM tasks WHERE id = ?1",
	[ST_GET] = "SELECT " STORE_COLS " FROM tasks WHERE id = ?1",
	[ST_ACTIVE] = "SELECT " STORE_COLS ", stdout, stderr FROM tasks "
	    "WHERE state IN ('pending', 'running') ORDER BY id",
	[ST_LIST] = STORE_LIST(""),
	[ST_LIST_STATE] = STORE_LIST("state = ?1 AND"),
	[ST_LIST_KIND] = STORE_LIST("kind = ?2 AND"),
	[ST_LIST_BOTH] = STORE_LIST("state = ?1 AND kind = ?2 AND"),
	[ST_OUTPUT] = "SELECT stdout, stderr FROM tasks WHERE id = ?1",
	[ST_LAST_ID] = "SELECT seq FROM sqlite_sequence WHERE name = 'tasks'",
};

TAILQ_HEAD(task_list, task);

struct store {
	sqlite3            *db;
	sqlite3_stmt       *st[ST_N];
	struct event       *flush_ev;
	struct event       *retry_ev;
	struct event       *soon_ev;
	struct task_list    staged;
	int64_t            *deletes;      /* staged deletes */
	size_t              ndeletes, capdeletes;
	struct store_hooks  hooks;
	char                boot_id[40];
	int                 lock_fd;      /* flock: one jobd per database */
	/* Durability: commits are numbered; with --sync full the syncer makes
	 * them durable later, without it a commit is as durable as it gets. */
	struct syncer      *syncer;
	uint64_t            committed;    /* commits made */
	uint64_t            durable;      /* commits known to be on disk */
	uint64_t            need;         /* the highest commit someone waits for */
	struct event       *lazy_ev;      /* syncs what nobody waits for, soon */
};

static void store_flush_cb(evutil_socket_t fd, short what, void *arg);
static void store_durable_cb(void *arg, uint64_t seq);
static void store_lazy_cb(evutil_socket_t fd, short what, void *arg);

/* A commit nobody waits for is synced within this. */
#define STORE_LAZY_MS 10

static int
store_exec(struct store *s, const char *sql, struct err *e)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, 500, "%s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Apply schema/NNN-*.sql past PRAGMA user_version, each in one transaction. */
static int
store_migrate(struct store *s, struct err *e)
{
	const int     n = (int)(sizeof schema_migrations / sizeof schema_migrations[0]);
	sqlite3_stmt *st;
	char          pragma[64];
	int           v = 0, i;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return err_set(e, 500, "%s", sqlite3_errmsg(s->db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v > n)
		return err_set(e, 500, "the database has schema version %d, newer than this jobd (%d)", v, n);
	for (i = v; i < n; i++) {
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", i + 1);
		if (store_exec(s, "BEGIN IMMEDIATE", e) < 0)
			return -1;
		if (store_exec(s, schema_migrations[i], e) < 0 || store_exec(s, pragma, e) < 0) {
			store_exec(s, "ROLLBACK", e);
			return -1;
		}
		if (store_exec(s, "COMMIT", e) < 0)
			return -1;
		log_info("database migrated to schema version %d", i + 1);
	}
	return 0;
}

static void
store_read_boot_id(struct store *s)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	if (f == NULL || fgets(s->boot_id, sizeof s->boot_id, f) == NULL)
		s->boot_id[0] = '\0';
	s->boot_id[strcspn(s->boot_id, "\n")] = '\0';
	if (f != NULL)
		fclose(f);
}

static int
store_configure(struct store *s, int sync_full, int64_t max_bytes, struct err *e)
{
	sqlite3_stmt *st;
	char          pragma[64];
	int           i, page = 4096;

	sqlite3_busy_timeout(s->db, 5000);
	/* jobd is the database's only user (the flock says so): holding
	 * SQLite's locks for good saves its fcntl calls on every commit and
	 * keeps the WAL index in our memory. */
	if (store_exec(s, "PRAGMA locking_mode = EXCLUSIVE", e) < 0 ||
	    store_exec(s, "PRAGMA journal_mode = WAL", e) < 0 ||
	    /* FULL's sync at each commit is the syncer's, off the loop. */
	    store_exec(s, "PRAGMA synchronous = NORMAL", e) < 0 ||
	    store_exec(s, "PRAGMA journal_size_limit = 67108864", e) < 0 ||
	    store_exec(s, "PRAGMA foreign_keys = ON", e) < 0 ||
	    store_migrate(s, e) < 0)
		return -1;
	/* A quota: past it SQLite answers SQLITE_FULL, as a full disk would. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			page = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %lld",
	    max_bytes > 0 ? (long long)(max_bytes / page + 1) : 4294967294LL);
	if (store_exec(s, pragma, e) < 0)
		return -1;
	for (i = 0; i < ST_N; i++)
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &s->st[i], NULL) != SQLITE_OK)
			return err_set(e, 500, "preparing statement %d: %s", i, sqlite3_errmsg(s->db));
	return 0;
}

static int
store_start_syncer(struct store *s, struct event_base *base, const char *path, struct err *e)
{
	char *wal, *copy, *dir;
	int   rc = 0;

	if (asprintf(&wal, "%s-wal", path) < 0 || (copy = strdup(path)) == NULL)
		fatal("out of memory");
	dir = dirname(copy);
	if ((s->syncer = syncer_new(base, wal, dir, store_durable_cb, s, e)) == NULL)
		rc = -1;
	free(wal);
	free(copy);
	return rc;
}

struct store *
store_open(struct event_base *base, const char *path, int sync_full, int64_t max_bytes,
    struct err *e)
{
	struct store *s;

	if ((s = calloc(1, sizeof *s)) == NULL)
		fatal("out of memory");
	TAILQ_INIT(&s->staged);
	s->lock_fd = -1;
	store_read_boot_id(s);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		err_set(e, 500, "cannot open database %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	/* Two daemons on one database would each think they own its running tasks. */
	if ((s->lock_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		err_set(e, 500, "cannot lock database %s: %s", path,
		    errno == EWOULDBLOCK ? "another jobd is using it" : strerror(errno));
		goto fail;
	}
	if (store_configure(s, sync_full, max_bytes, e) < 0) {
		char msg[sizeof e->msg];

		snprintf(msg, sizeof msg, "%s", e->msg);
		err_set(e, 500, "database %s: %s", path, msg);
		goto fail;
	}
	if (sync_full && store_start_syncer(s, base, path, e) < 0)
		goto fail;
	s->flush_ev = event_new(base, -1, 0, store_flush_cb, s);
	s->retry_ev = evtimer_new(base, store_flush_cb, s);
	s->soon_ev = evtimer_new(base, store_flush_cb, s);
	s->lazy_ev = evtimer_new(base, store_lazy_cb, s);
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	int i;

	if (s == NULL)
		return;
	/* The last commits reach the disk before SQLite closes the WAL. */
	if (s->syncer != NULL) {
		syncer_request(s->syncer, s->committed);
		syncer_free(s->syncer);
	}
	for (i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db != NULL)
		sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->flush_ev)
		event_free(s->flush_ev);
	if (s->retry_ev)
		event_free(s->retry_ev);
	if (s->soon_ev)
		event_free(s->soon_ev);
	if (s->lazy_ev)
		event_free(s->lazy_ev);
	free(s->deletes);
	free(s);
}

void
store_set_hooks(struct store *s, const struct store_hooks *h)
{
	s->hooks = *h;
}

static void
store_schedule(struct store *s)
{
	/* Same priority as everything else: it runs after the callbacks already
	 * queued in this turn, so one commit covers all of them. */
	if (!evtimer_pending(s->retry_ev, NULL))
		event_active(s->flush_ev, 0, 0);
}

void
store_stage(struct store *s, struct task *t)
{
	if (!t->dirty) {
		t->dirty = 1;
		TAILQ_INSERT_TAIL(&s->staged, t, dirty_entry);
	}
	store_schedule(s);
}

void
store_stage_soon(struct store *s, struct task *t)
{
	if (!t->dirty) {
		t->dirty = 1;
		TAILQ_INSERT_TAIL(&s->staged, t, dirty_entry);
	}
	if (!evtimer_pending(s->soon_ev, NULL) && !evtimer_pending(s->retry_ev, NULL))
		evtimer_add(s->soon_ev, (&(struct timeval){ 0, STORE_SOON_MS * 1000 }));
}

void
store_stage_delete(struct store *s, int64_t id)
{
	if (s->ndeletes == s->capdeletes) {
		s->capdeletes = s->capdeletes ? s->capdeletes * 2 : 16;
		if ((s->deletes = realloc(s->deletes, s->capdeletes * sizeof *s->deletes)) == NULL)
			fatal("out of memory");
	}
	s->deletes[s->ndeletes++] = id;
	store_schedule(s);
}

int
store_dirty(const struct store *s)
{
	return !TAILQ_EMPTY(&s->staged) || s->ndeletes > 0;
}

uint64_t
store_hold_seq(struct store *s)
{
	uint64_t seq;

	if (store_dirty(s))
		seq = s->committed + 1;         /* the commit this turn ends with */
	else if (s->durable < s->committed)
		seq = s->committed;
	else
		return 0;
	if (seq > s->need)
		s->need = seq;
	if (seq == s->committed && s->syncer != NULL)
		syncer_request(s->syncer, seq);   /* a lazy commit nobody synced yet */
	return seq;
}

int
store_settled(const struct store *s)
{
	return !store_dirty(s) && s->durable == s->committed;
}

uint64_t
store_syncs(struct store *s)
{
	return s->syncer != NULL ? syncer_count(s->syncer) : 0;
}

static void
store_durable_cb(void *arg, uint64_t seq)
{
	struct store *s = arg;

	s->durable = seq;
	if (s->hooks.durable)
		s->hooks.durable(s->hooks.arg, seq);
}

static void
store_lazy_cb(evutil_socket_t fd, short what, void *arg)
{
	struct store *s = arg;

	if (s->durable < s->committed)
		syncer_request(s->syncer, s->committed);
}

/* A commit is made.  Without the syncer it is as durable as it gets.  With
 * it, a commit someone waits for is synced at once; the others within
 * STORE_LAZY_MS, so a busy loop whose changes nobody is told of (programs
 * starting and ending behind one gather) does not pay a sync for each. */
static void
store_commit_made(struct store *s)
{
	s->committed++;
	if (s->syncer == NULL)
		store_durable_cb(s, s->committed);
	else if (s->need >= s->committed)
		syncer_request(s->syncer, s->committed);
	else if (!evtimer_pending(s->lazy_ev, NULL))
		evtimer_add(s->lazy_ev, (&(struct timeval){ 0, STORE_LAZY_MS * 1000 }));
}

static int
store_step(struct store *s, enum store_stmt i)
{
	int rc = sqlite3_step(s->st[i]);

	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void
store_bind_json(sqlite3_stmt *st, int col, const json_t *j)
{
	char *txt;

	if (j == NULL || (txt = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(17))) == NULL)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_text(st, col, txt, -1, free);
}

static void
store_bind_opt(sqlite3_stmt *st, int col, int64_t v)
{
	if (v == 0)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_int64(st, col, v);
}

static int
store_write_task(struct store *s, const struct task *t)
{
	sqlite3_stmt *st = s->st[ST_UPSERT];
	int           i;

	sqlite3_bind_int64(st, 1, t->id);
	sqlite3_bind_text(st, 2, t->kind->name, -1, SQLITE_STATIC);
	if (t->name)
		sqlite3_bind_text(st, 3, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, task_state_name(t->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, (int)t->stop);
	sqlite3_bind_int64(st, 6, t->created_at);
	store_bind_opt(st, 7, t->started_at);
	store_bind_opt(st, 8, t->finished_at);
	if (t->timeout >= 0)
		sqlite3_bind_double(st, 9, t->timeout);
	store_bind_json(st, 10, t->spec);
	store_bind_json(st, 11, t->state == TASK_SUCCEEDED ? t->result : NULL);
	store_bind_json(st, 12, t->error);
	store_bind_opt(st, 13, t->pgid);
	if (t->pgid)
		sqlite3_bind_text(st, 14, s->boot_id, -1, SQLITE_STATIC);
	for (i = 0; i < 2; i++)
		if (t->out[i].data != NULL)
			sqlite3_bind_blob(st, 15 + i, t->out[i].data, (int)t->out[i].len, SQLITE_STATIC);
	return store_step(s, ST_UPSERT);
}

static int
store_write_batch(struct store *s)
{
	struct task *t;
	size_t       i;
	int          rc;

	if ((rc = store_step(s, ST_BEGIN)) != SQLITE_OK)
		return rc;
	TAILQ_FOREACH(t, &s->staged, dirty_entry)
		if ((rc = store_write_task(s, t)) != SQLITE_OK)
			goto fail;
	for (i = 0; i < s->ndeletes; i++) {
		sqlite3_bind_int64(s->st[ST_DELETE], 1, s->deletes[i]);
		if ((rc = store_step(s, ST_DELETE)) != SQLITE_OK)
			goto fail;
	}
	if ((rc = store_step(s, ST_COMMIT)) != SQLITE_OK)
		goto fail;
	return SQLITE_OK;
fail:
	store_step(s, ST_ROLLBACK);
	return rc;
}

/* Creates of a failed batch are refused; what they staged is forgotten. */
static void
store_withdraw_new(struct store *s)
{
	struct task *t, *next;

	for (t = TAILQ_FIRST(&s->staged); t != NULL; t = next) {
		next = TAILQ_NEXT(t, dirty_entry);
		if (!t->is_new)
			continue;
		TAILQ_REMOVE(&s->staged, t, dirty_entry);
		t->dirty = 0;
		if (s->hooks.withdrawn)
			s->hooks.withdrawn(s->hooks.arg, t);
	}
}

int
store_flush(struct store *s)
{
	struct task_list done = TAILQ_HEAD_INITIALIZER(done);
	struct task     *t;
	unsigned         n = 0;
	uint64_t         seq;
	int              rc;

	if (!store_dirty(s))
		return 0;
	rc = store_write_batch(s);
	if (rc != SQLITE_OK) {
		/* Pages the kernel failed to write may be gone: stop, and let the
		 * restart recover from the WAL.  A full disk may pass: retry. */
		if ((rc & 0xff) != SQLITE_FULL && (rc & 0xff) != SQLITE_BUSY)
			fatal("database commit failed: %s; stopping", sqlite3_errstr(rc));
		log_err("database commit failed: %s; new tasks refused, changes retried in 1 s",
		    sqlite3_errstr(rc));
		if ((rc & 0xff) == SQLITE_FULL)
			store_withdraw_new(s);
		if (store_dirty(s))
			evtimer_add(s->retry_ev, (&(struct timeval){ 1, 0 }));
		return -1;
	}
	TAILQ_CONCAT(&done, &s->staged, dirty_entry);
	s->ndeletes = 0;
	evtimer_del(s->soon_ev);
	seq = s->committed + 1;
	while ((t = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, t, dirty_entry);
		t->dirty = 0;
		t->is_new = 0;
		n++;
		if (s->hooks.committed)
			s->hooks.committed(s->hooks.arg, t);
	}
	if (s->hooks.batch_done)
		s->hooks.batch_done(s->hooks.arg, n, seq);
	store_commit_made(s);
	return 0;
}

static void
store_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	store_flush(arg);
}

int64_t
store_last_id(struct store *s)
{
	sqlite3_stmt *st = s->st[ST_LAST_ID];
	int64_t       id = 0;

	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return id;
}

static json_t *
store_col_json(sqlite3_stmt *st, int col)
{
	const char *txt = (const char *)sqlite3_column_text(st, col);

	return txt ? json_loadb(txt, (size_t)sqlite3_column_bytes(st, col),
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL) : NULL;
}

static void
store_col_blob(sqlite3_stmt *st, int col, struct blob *b)
{
	const void *p = sqlite3_column_blob(st, col);
	int         n = sqlite3_column_bytes(st, col);

	if (p == NULL)
		return;
	if ((b->data = malloc((size_t)n + 1)) == NULL)
		fatal("out of memory");
	memcpy(b->data, p, (size_t)n);
	b->len = (size_t)n;
}

/* A task from a row of STORE_COLS; NULL if the row names an unknown kind. */
static struct task *
store_row_task(struct store *s, sqlite3_stmt *st)
{
	const struct kind_ops *k = kind_find((const char *)sqlite3_column_text(st, 1));
	const char            *name = (const char *)sqlite3_column_text(st, 2);
	const char            *boot = (const char *)sqlite3_column_text(st, 13);
	struct task           *t;

	if (k == NULL)
		return NULL;
	t = task_new(sqlite3_column_int64(st, 0), k);
	t->name = name ? strdup(name) : NULL;
	task_state_parse((const char *)sqlite3_column_text(st, 3), &t->state);
	t->stop = (enum task_stop)sqlite3_column_int(st, 4);
	t->created_at = sqlite3_column_int64(st, 5);
	t->started_at = sqlite3_column_int64(st, 6);
	t->finished_at = sqlite3_column_int64(st, 7);
	t->timeout = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 8);
	t->spec = store_col_json(st, 9);
	t->result = store_col_json(st, 10);
	t->error = store_col_json(st, 11);
	t->pgid = sqlite3_column_int64(st, 12);
	t->pgid_stale = boot == NULL || strcmp(boot, s->boot_id) != 0;
	return t;
}

int
store_load_active(struct store *s, void (*cb)(void *arg, struct task *t), void *arg)
{
	sqlite3_stmt *st = s->st[ST_ACTIVE];
	struct task  *t;
	int           rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((t = store_row_task(s, st)) == NULL) {
			log_warn("task %lld: unknown kind \"%s\", left alone",
			    (long long)sqlite3_column_int64(st, 0), sqlite3_column_text(st, 1));
			continue;
		}
		store_col_blob(st, 14, &t->out[0]);
		store_col_blob(st, 15, &t->out[1]);
		cb(arg, t);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

struct task *
store_get(struct store *s, int64_t id, int *found)
{
	sqlite3_stmt *st = s->st[ST_GET];
	struct task  *t = NULL;

	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = store_row_task(s, st);
	sqlite3_reset(st);
	*found = t != NULL;
	return t;
}

int
store_list(struct store *s, const struct list_spec *q, json_t **tasks, int64_t *next_after_id)
{
	enum store_stmt i = q->has_state ? (q->kind ? ST_LIST_BOTH : ST_LIST_STATE) :
	    (q->kind ? ST_LIST_KIND : ST_LIST);
	sqlite3_stmt   *st = s->st[i];
	struct task    *t;
	int             n = 0, rc;

	*tasks = json_array();
	*next_after_id = 0;
	if (q->has_state)
		sqlite3_bind_text(st, 1, task_state_name(q->state), -1, SQLITE_STATIC);
	if (q->kind)
		sqlite3_bind_text(st, 2, q->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, q->after_id);
	sqlite3_bind_int(st, 4, q->limit + 1);   /* one more tells whether a next page exists */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (++n > q->limit) {
			*next_after_id = json_integer_value(json_object_get(
			    json_array_get(*tasks, (size_t)q->limit - 1), "id"));
			break;
		}
		if ((t = store_row_task(s, st)) != NULL) {
			json_array_append_new(*tasks, task_to_json(t));
			task_free(t);
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int
store_output(struct store *s, int64_t id, int stream, unsigned char **data, size_t *len)
{
	sqlite3_stmt *st = s->st[ST_OUTPUT];
	struct blob   b = { 0 };
	int           rc;

	sqlite3_bind_int64(st, 1, id);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		store_col_blob(st, stream, &b);
	sqlite3_reset(st);
	*data = b.data;
	*len = b.len;
	return rc == SQLITE_ROW ? 0 : -1;
}
