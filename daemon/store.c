/* store.c: the database: open, lock, migrate, and read back what the loop
 * needs (a task, a page of tasks, an exec task's output, the active tasks at
 * start-up) on a connection of its own.  Writing is store_stage.c's. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "json_write.h"
#include "kind.h"
#include "log.h"
#include "schema_sql.h"
#include "spec.h"
#include "store_impl.h"
#include "store_vfs.h"

/* jobd's mark in a database's header (PRAGMA application_id): "jobd" in
 * ASCII.  schema/003-appid.sql writes it. */
#define STORE_APP_ID 0x6a6f6264
#define STORE_LOCK_WAIT_MS 1000

/* The columns of schema version 1's tasks table: what a database stamped
 * by no application must have for jobd to take it for one of its own. */
#define STORE_V1_COLS "id, kind, name, state, stop, created_at, started_at, finished_at, " \
	"timeout, spec, result, error, pgid, boot_id, stdout, stderr"

/* The stored JSON (spec, result, error) one page of a list may carry, the
 * first task always: each byte is parsed and written again on the loop,
 * and 200 tasks echoing a 1 MiB result made a 420 MB answer that held the
 * loop 10 s.  A page cut short says where to go on (next_after_id). */
#define STORE_LIST_BUDGET (4 << 20)

/* Each connection's page cache, in KiB. */
#define STORE_CACHE_KB "512"

#define STORE_COLS "id, kind, name, state, stop, created_at, started_at, finished_at, " \
	"timeout, spec, result, error, pgid, boot_id, wake_at"
#define STORE_FULL "SELECT " STORE_COLS ", stdout, stderr FROM tasks "
#define STORE_LIST(where) "SELECT " STORE_COLS " FROM tasks WHERE " where \
	" id > ?3 ORDER BY id LIMIT ?4"

static const char *const store_sql[ST_N] = {
	[ST_GET] = "SELECT " STORE_COLS " FROM tasks WHERE id = ?1",
	[ST_RUNNING] = STORE_FULL "WHERE state = 'running' AND (wake_at IS NULL OR wake_at < ?1) "
	    "ORDER BY id",
	[ST_COUNT] = "SELECT kind, sum(state = 'pending'), sum(state = 'running' AND wake_at >= ?1) "
	    "FROM tasks WHERE state IN ('pending', 'running') GROUP BY kind",
	[ST_PENDING] = STORE_FULL "WHERE state = 'pending' AND kind = ?1 AND id > ?2 "
	    "ORDER BY id LIMIT ?3",
	[ST_LEFTOVER] = STORE_FULL "WHERE leftover IS NOT NULL ORDER BY id",
	[ST_DUE] = STORE_FULL "WHERE wake_at IS NOT NULL AND wake_at < ?1 AND state = 'running' "
	    "ORDER BY wake_at",
	[ST_LIST] = STORE_LIST(""),
	[ST_LIST_STATE] = STORE_LIST("state = ?1 AND"),
	[ST_LIST_KIND] = STORE_LIST("kind = ?2 AND"),
	[ST_LIST_BOTH] = STORE_LIST("state = ?1 AND kind = ?2 AND"),
	/* Running tasks are few beside the finished ones: walk them by state
	 * and check the kind ("+" keeps SQLite, which has no statistics, from
	 * walking every task of the kind instead: 280 ms of the loop for an
	 * empty page of B5's database, against 0.1). */
	[ST_LIST_RUNNING_KIND] = STORE_LIST("state = ?1 AND +kind = ?2 AND"),
	[ST_OUTPUT] = "SELECT stdout, stderr FROM tasks WHERE id = ?1",
	[ST_LAST_ID] = "SELECT seq FROM sqlite_sequence WHERE name = 'tasks'",
};

static int
store_exec_on(sqlite3 *db, const char *sql, struct err *e)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, 500, "%s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
store_exec(struct store *s, const char *sql, struct err *e)
{
	return store_exec_on(s->db, sql, e);
}

/* The integer in the first row sql gives (a PRAGMA's value, a count). */
static int
store_query_int(sqlite3 *db, const char *sql, int *v, struct err *e)
{
	sqlite3_stmt *st;
	int           rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return err_set(e, 500, "%s", sqlite3_errmsg(db));
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	else if (rc != SQLITE_DONE)
		err_set(e, 500, "%s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* A tasks table with schema version 1's columns?  If not, sqlite3_errmsg
 * says what is missing. */
static int
store_has_tasks(sqlite3 *db)
{
	sqlite3_stmt *st;
	int           rc;

	rc = sqlite3_prepare_v2(db, "SELECT " STORE_V1_COLS " FROM tasks", -1, &st, NULL);
	sqlite3_finalize(st);
	return rc == SQLITE_OK;
}

/* Whose database is it?  jobd's if new (no schema at all: a new or 0-byte
 * file), stamped with jobd's application_id, or made by a jobd from before
 * the stamp (no application_id, a schema version, and jobd's tasks table).
 * Any other is refused before anything is written to it (even WAL mode
 * rewrites the header): migrating it would add jobd's tables to another
 * application's.  *v: its schema version. */
static int
store_check_owner(struct store *s, int *v, struct err *e)
{
	int app = 0, objects = 0;

	*v = 0;
	if (store_query_int(s->db, "PRAGMA user_version", v, e) < 0 ||
	    store_query_int(s->db, "PRAGMA application_id", &app, e) < 0 ||
	    store_query_int(s->db, "SELECT count(*) FROM sqlite_master", &objects, e) < 0)
		return -1;
	if (app != 0 && app != STORE_APP_ID)
		return err_set(e, 500, "not a jobd database: it belongs to another application "
		    "(application_id %#010x); refusing it", (unsigned)app);
	if (*v < 0)
		return err_set(e, 500, "not a jobd database (or a damaged one): schema version %d; "
		    "refusing it", *v);
	if (*v == 0 && objects > 0)
		return err_set(e, 500, "not a jobd database: it holds another application's tables "
		    "and no jobd schema version; refusing it");
	if (*v > 0 && app == 0 && !store_has_tasks(s->db))
		return err_set(e, 500, "not a jobd database: schema version %d but no jobd tasks "
		    "table (%s); refusing it", *v, sqlite3_errmsg(s->db));
	return 0;
}

/* Apply schema/NNN-*.sql past schema version v, each in one transaction. */
static int
store_migrate(struct store *s, int v, struct err *e)
{
	const int n = (int)(sizeof schema_migrations / sizeof schema_migrations[0]);
	char      pragma[64];
	int       i;

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
	if (s->boot_id[0] == '\0')
		log_warn("cannot read the boot id from /proc/sys/kernel/random/boot_id: a process "
		    "group left by an exec task will not be killed at the next start");
}

static int
store_configure(struct store *s, int64_t max_bytes, struct err *e)
{
	char pragma[64];
	int  page = 4096, v;

	sqlite3_busy_timeout(s->db, 5000);
	if (store_check_owner(s, &v, e) < 0 ||
	    store_exec(s, "PRAGMA journal_mode = WAL", e) < 0 ||
	    /* FULL's sync at each commit is the syncer's, off the loop. */
	    store_exec(s, "PRAGMA synchronous = NORMAL", e) < 0 ||
	    store_exec(s, "PRAGMA journal_size_limit = 67108864", e) < 0 ||
	    /* Writes touch the right edge of each B-tree and rows just
	     * written: a small cache holds those (SQLite's default is 2 MB
	     * per connection, which a big database fills for nothing). */
	    store_exec(s, "PRAGMA cache_size = -" STORE_CACHE_KB, e) < 0 ||
	    store_exec(s, "PRAGMA foreign_keys = ON", e) < 0 ||
	    /* The schema's CHECK on state guards the file against other
	     * writers; ours come from task_state_name alone.  SQLite builds an
	     * ephemeral table for that IN list on every INSERT and UPDATE
	     * that checks it: a quarter of an insert's cost. */
	    store_exec(s, "PRAGMA ignore_check_constraints = ON", e) < 0 ||
	    store_migrate(s, v, e) < 0 ||
	    store_query_int(s->db, "PRAGMA page_size", &page, e) < 0)
		return -1;
	/* A quota: past it SQLite answers SQLITE_FULL, as a full disk would. */
	snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %lld",
	    max_bytes > 0 ? (long long)(max_bytes / page + 1) : 4294967294LL);
	return store_exec(s, pragma, e);
}

/* The loop's own connection, for reads while the writer writes (WAL lets
 * readers and the writer go on together). */
static int
store_open_reader(struct store *s, const char *path, struct err *e)
{
	int i;

	if (sqlite3_open_v2(path, &s->rdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK)
		return err_set(e, 500, "%s", s->rdb ? sqlite3_errmsg(s->rdb) : "out of memory");
	sqlite3_busy_timeout(s->rdb, 5000);
	/* Reads of finished tasks are served well enough by the kernel's cache. */
	if (store_exec_on(s->rdb, "PRAGMA query_only = 1", e) < 0 ||
	    store_exec_on(s->rdb, "PRAGMA cache_size = -" STORE_CACHE_KB, e) < 0)
		return -1;
	for (i = 0; i < ST_N; i++)
		if (sqlite3_prepare_v3(s->rdb, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		    &s->st[i], NULL) != SQLITE_OK)
			return err_set(e, 500, "preparing statement %d: %s", i, sqlite3_errmsg(s->rdb));
	return 0;
}

/* The WAL, opened once SQLite has made it (a read in WAL mode does), to
 * sync it and to see it is still there. */
static int
store_open_wal(struct store *s, struct err *e)
{
	if ((s->files.wal_fd = open(s->files.wal, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, 500, "cannot open its WAL %s: %s", s->files.wal, strerror(errno));
	return 0;
}

int
store_check_files(struct store *s, struct err *e)
{
	return syncer_files_check(&s->files, e);
}

/* flock the database, waiting up to STORE_LOCK_WAIT_MS for it: a jobd
 * killed a moment ago may hold it a little longer than it lives.  A program
 * it was starting is a copy of it, lock included, from the clone until the
 * child closes what it inherited, just before its exec (exec_spawn.c); that
 * child outlives the kill by a few ms on a busy machine, and a restart right
 * after a kill -9 was refused ("another jobd is using it"). */
static int
store_lock(int fd)
{
	struct timespec tick = { 0, 10 * 1000000L };
	int             waited;

	for (waited = 0;; waited += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK || waited >= STORE_LOCK_WAIT_MS)
			return -1;
		nanosleep(&tick, NULL);
	}
}

/* A new database is made readable by its owner alone, whatever the umask:
 * it holds programs' environments and output, and http tasks' headers and
 * bodies (credentials, often).  SQLite gives its WAL and shared-memory
 * files the database's mode.  An existing file keeps the mode it has. */
static void
store_create_private(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

struct store *
store_open(struct event_base *base, const char *path, int sync_full, int64_t max_bytes,
    struct err *e)
{
	struct store *s;

	if ((s = calloc(1, sizeof *s)) == NULL || (s->files.db = strdup(path)) == NULL ||
	    asprintf(&s->files.wal, "%s-wal", path) < 0)
		fatal("out of memory");
	s->files.db_fd = s->files.wal_fd = -1;
	store_read_boot_id(s);
	store_create_private(path);
	/* The writing connection writes each commit's WAL frames in one go. */
	if (store_vfs_register() != SQLITE_OK ||
	    sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX, STORE_VFS_NAME) != SQLITE_OK) {
		err_set(e, 500, "cannot open database %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	/* A file we may not write is opened read-only, silently: refuse it now,
	 * not at the first create. */
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		err_set(e, 500, "cannot write the database %s (check its permissions and owner)", path);
		goto fail;
	}
	/* Two daemons on one database would each think they own its running tasks. */
	if ((s->files.db_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    store_lock(s->files.db_fd) < 0) {
		err_set(e, 500, "cannot lock database %s: %s", path,
		    errno == EWOULDBLOCK ? "another jobd is using it" : strerror(errno));
		goto fail;
	}
	if (store_configure(s, max_bytes, e) < 0 || store_open_reader(s, path, e) < 0 ||
	    store_open_wal(s, e) < 0 || store_stage_start(s, base, path, sync_full, e) < 0) {
		char msg[sizeof e->msg];

		snprintf(msg, sizeof msg, "%s", e->msg);
		err_set(e, 500, "database %s: %s", path, msg);
		goto fail;
	}
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
	store_stage_stop(s);
	store_recent_clear(s);
	for (i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	/* The reader first: the last connection to close checkpoints the WAL. */
	if (s->rdb != NULL)
		sqlite3_close(s->rdb);
	if (s->db != NULL)
		sqlite3_close(s->db);
	if (s->files.wal_fd >= 0)
		close(s->files.wal_fd);
	if (s->files.db_fd >= 0)
		close(s->files.db_fd);
	free(s->files.db);
	free(s->files.wal);
	free(s);
}

void
store_set_hooks(struct store *s, const struct store_hooks *h)
{
	s->hooks = *h;
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

/* Does stored JSON text hold a real number?  Stored text is written as
 * answers are (json_write.c), but with 17 digits for reals where answers
 * have 15: only text without reals reads as its answer would.  Outside
 * strings a '.' is a real's, and so is an 'e' after a digit (the e of true
 * and false follows a letter). */
static int
store_text_has_real(const char *p, size_t n)
{
	const char *start = p, *end = p + n;
	int         in_str = 0;

	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = 0;
		} else if (*p == '"')
			in_str = 1;
		else if (*p == '.' || ((*p == 'e' || *p == 'E') && p > start &&
		    p[-1] >= '0' && p[-1] <= '9'))
			return 1;
	}
	return 0;
}

static struct task *store_row_task_as(struct store *s, sqlite3_stmt *st, struct task_raw *raw);

static struct task *
store_row_task(struct store *s, sqlite3_stmt *st)
{
	return store_row_task_as(s, st, NULL);
}

/* A task from a row of STORE_COLS; NULL if the row names an unknown kind.
 * With raw, the JSON members that need no parsing to be
 * answered (no reals) are left as their text in raw (valid until the
 * statement moves on) instead. */
static struct task *
store_row_task_as(struct store *s, sqlite3_stmt *st, struct task_raw *raw)
{
	const struct kind_ops *k = kind_find((const char *)sqlite3_column_text(st, 1));
	const char            *name = (const char *)sqlite3_column_text(st, 2);
	const char            *boot = (const char *)sqlite3_column_text(st, 13);
	struct task           *t;
	int                    i;

	if (k == NULL)
		return NULL;
	t = task_new(sqlite3_column_int64(st, 0), k);
	/* Read back, so committed; by which commit we cannot tell, and the
	 * writer may have made one the loop has not heard of: the newest. */
	t->commit_seq = store_writer_busy(s->writer) ? s->launched : s->committed;
	t->name = name ? strdup(name) : NULL;
	task_state_parse((const char *)sqlite3_column_text(st, 3), &t->state);
	t->stop = (enum task_stop)sqlite3_column_int(st, 4);
	t->created_at = sqlite3_column_int64(st, 5);
	t->started_at = sqlite3_column_int64(st, 6);
	t->finished_at = sqlite3_column_int64(st, 7);
	t->timeout = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_double(st, 8);
	for (i = 0; i < 3; i++) {
		const char *txt = (const char *)sqlite3_column_text(st, 9 + i);
		size_t      n = (size_t)sqlite3_column_bytes(st, 9 + i);
		json_t    **j = i == 0 ? &t->spec : i == 1 ? &t->result : &t->error;

		if (raw != NULL && txt != NULL && !store_text_has_real(txt, n)) {
			raw->text[i] = txt;
			raw->len[i] = n;
		} else
			*j = store_col_json(st, 9 + i);
	}
	t->pgid = sqlite3_column_int64(st, 12);
	/* A pgid of another boot names someone else's processes, if any; so
	 * may one whose boot is unknown (either side's id unread): only
	 * signalled when surely of this boot. */
	t->pgid_stale = boot == NULL || boot[0] == '\0' || s->boot_id[0] == '\0' ||
	    strcmp(boot, s->boot_id) != 0;
	t->wake_at = sqlite3_column_int64(st, 14);
	return t;
}

/* Every row of a bound STORE_FULL statement to cb, which owns the task. */
static int
store_load_rows(struct store *s, sqlite3_stmt *st, store_task_cb *cb, void *arg)
{
	struct task *t;
	int          rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((t = store_row_task(s, st)) == NULL) {
			log_warn("task %lld: unknown kind \"%s\", left alone",
			    (long long)sqlite3_column_int64(st, 0), sqlite3_column_text(st, 1));
			continue;
		}
		store_col_blob(st, 15, &t->out[0]);
		store_col_blob(st, 16, &t->out[1]);
		cb(arg, t);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_load_running(struct store *s, int64_t horizon, store_task_cb *cb, void *arg)
{
	sqlite3_bind_int64(s->st[ST_RUNNING], 1, horizon);
	return store_load_rows(s, s->st[ST_RUNNING], cb, arg);
}

int
store_load_pending(struct store *s, const char *kind, int64_t after_id, int limit,
    store_task_cb *cb, void *arg)
{
	sqlite3_stmt *st = s->st[ST_PENDING];

	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after_id);
	sqlite3_bind_int(st, 3, limit);
	return store_load_rows(s, st, cb, arg);
}

int
store_load_leftover(struct store *s, store_task_cb *cb, void *arg)
{
	return store_load_rows(s, s->st[ST_LEFTOVER], cb, arg);
}

int
store_load_due(struct store *s, int64_t before, store_task_cb *cb, void *arg)
{
	sqlite3_bind_int64(s->st[ST_DUE], 1, before);
	return store_load_rows(s, s->st[ST_DUE], cb, arg);
}

int
store_count_active(struct store *s, int64_t horizon,
    void (*cb)(void *arg, const char *kind, int64_t pending, int64_t waiting), void *arg)
{
	sqlite3_stmt *st = s->st[ST_COUNT];
	int           rc;

	sqlite3_bind_int64(st, 1, horizon);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		cb(arg, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1),
		    sqlite3_column_int64(st, 2));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

struct task *
store_get(struct store *s, int64_t id, int *found)
{
	sqlite3_stmt *st = s->st[ST_GET];
	struct task  *t;

	if ((t = store_recent_get(s, id)) != NULL) {
		*found = 1;
		return t;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		t = store_row_task(s, st);   /* NULL: a kind this build does not know */
	sqlite3_reset(st);
	*found = t != NULL;
	return t;
}

/* Like store_get, but the answer text itself: a task read from disk is
 * answered with its JSON members as stored, not parsed and written again
 * (a task with a 1 MiB result took 20 ms of the loop per GET). */
char *
store_get_text(struct store *s, int64_t id, enum task_state *state, uint64_t *hold, size_t *len)
{
	sqlite3_stmt   *st = s->st[ST_GET];
	struct task_raw raw;
	struct task    *t;
	char           *txt = NULL;

	memset(&raw, 0, sizeof raw);
	*hold = 0;
	if ((t = store_recent_get(s, id)) != NULL) {
		*state = t->state;
		*hold = store_hold_task(s, t);
		txt = task_to_text(t, len);
		task_free(t);
		return txt;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW && (t = store_row_task_as(s, st, &raw)) != NULL) {
		*state = t->state;
		*hold = store_hold_task(s, t);
		txt = task_to_text_raw(t, &raw, len);
		task_free(t);
	}
	sqlite3_reset(st);
	return txt;
}

static enum store_stmt
store_list_stmt(const struct list_spec *q)
{
	if (!q->has_state)
		return q->kind ? ST_LIST_KIND : ST_LIST;
	if (!q->kind)
		return ST_LIST_STATE;
	return q->state == TASK_RUNNING ? ST_LIST_RUNNING_KIND : ST_LIST_BOTH;
}

/* The answer to GET /v1/tasks as text, each task's JSON members as stored
 * where they can be (store_get_text).  NULL if the database failed. */
char *
store_list_text(struct store *s, const struct list_spec *q, size_t *len)
{
	enum store_stmt i = store_list_stmt(q);
	sqlite3_stmt   *st = s->st[i];
	struct task_raw raw;
	struct task    *t;
	struct jw       w;
	int64_t         last = 0, next = 0;
	size_t          bytes = 0;
	int             n = 0, written = 0, rc;

	jw_init(&w, 15);
	jw_raw(&w, "{\"tasks\":[", 10);
	if (q->has_state)
		sqlite3_bind_text(st, 1, task_state_name(q->state), -1, SQLITE_STATIC);
	if (q->kind)
		sqlite3_bind_text(st, 2, q->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, q->after_id);
	sqlite3_bind_int(st, 4, q->limit + 1);   /* one more tells whether a next page exists */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t size = (size_t)sqlite3_column_bytes(st, 9) +
		    (size_t)sqlite3_column_bytes(st, 10) + (size_t)sqlite3_column_bytes(st, 11);

		if (n > 0 && (n == q->limit || bytes + size > STORE_LIST_BUDGET)) {
			next = last;
			break;
		}
		n++;
		bytes += size;
		last = sqlite3_column_int64(st, 0);
		memset(&raw, 0, sizeof raw);
		if ((t = store_row_task_as(s, st, &raw)) != NULL) {
			if (written++ > 0)
				jw_raw(&w, ",", 1);
			task_write(&w, t, &raw);
			task_free(t);
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	jw_raw(&w, "],\"next_after_id\":", 18);
	if (next != 0)
		jw_integer(&w, next);
	else
		jw_raw(&w, "null", 4);
	jw_raw(&w, "}", 1);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(jw_finish(&w, 0, len));
		return NULL;
	}
	return jw_finish(&w, 1, len);
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
