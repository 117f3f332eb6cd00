/* test_store_vfs.c: jobd's VFS writes what SQLite's unix VFS writes, in
 * fewer calls, and nothing committed waits in its buffer.
 *
 * A writer on the VFS and a reader on plain "unix" share a database; after
 * every transaction (large ones that spill and outgrow the buffer, small
 * ones, rolled-back ones, checkpoints between) the reader must see exactly
 * what was committed.  A process that commits and dies without closing
 * must leave every commit in the file.  And a commit of several pages must
 * be one write call, where the unix VFS makes two per page. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_vfs.h"
#include "tap.h"

static char dir[] = "/tmp/test_store_vfs.XXXXXX";

static sqlite3 *
open_db(const char *name, const char *vfs)
{
	char     path[256];
	sqlite3 *db;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK)
		bail_out("open %s: %s", path, sqlite3_errmsg(db));
	return db;
}

static void
exec_sql(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		bail_out("%s: %s", sql, msg);
}

static sqlite3 *
open_writer(const char *name, const char *vfs)
{
	sqlite3 *db = open_db(name, vfs);

	/* A small cache makes big transactions spill frames into the WAL
	 * before their commit, as a big batch would in jobd. */
	exec_sql(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
	    "PRAGMA cache_size = 16; PRAGMA wal_autocheckpoint = 0; "
	    "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v INTEGER, pad BLOB)");
	return db;
}

static int64_t
query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t       v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		bail_out("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
insert_rows(sqlite3 *db, int64_t *next_id, int n, int64_t *sum)
{
	sqlite3_stmt *st;
	int           i;

	if (sqlite3_prepare_v2(db, "INSERT INTO t (id, v, pad) VALUES (?1, ?2, randomblob(?3))",
	    -1, &st, NULL) != SQLITE_OK)
		bail_out("prepare: %s", sqlite3_errmsg(db));
	for (i = 0; i < n; i++) {
		int64_t id = (*next_id)++;

		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, id * 7);
		sqlite3_bind_int(st, 3, 100 + (int)(id % 700));
		if (sqlite3_step(st) != SQLITE_DONE)
			bail_out("insert: %s", sqlite3_errmsg(db));
		sqlite3_reset(st);
		*sum += id * 7;
	}
	sqlite3_finalize(st);
}

/* Write calls this process has made so far (/proc/self/io). */
static long
write_calls(void)
{
	FILE *f = fopen("/proc/self/io", "re");
	char  line[128];
	long  n = -1;

	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "syscw: %ld", &n) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return n;
}

static void
test_reader_sees_each_commit(void)
{
	sqlite3 *w = open_writer("a.db", STORE_VFS_NAME), *r = open_db("a.db", "unix");
	int64_t  next_id = 1, sum = 0, rows = 0, saved_id, saved_sum;
	int      i, n, bad = 0, rollbacks = 0, big = 0;

	srand(7);
	for (i = 0; i < 300; i++) {
		/* Mostly small; one in eight spills well past the 120 KiB buffer. */
		n = i % 8 == 3 ? 300 + rand() % 400 : 1 + rand() % 6;
		saved_id = next_id;
		saved_sum = sum;
		exec_sql(w, "BEGIN IMMEDIATE");
		insert_rows(w, &next_id, n, &sum);
		if (i % 10 == 5) {
			exec_sql(w, "ROLLBACK");
			next_id = saved_id;
			sum = saved_sum;
			rollbacks++;
		} else {
			exec_sql(w, "COMMIT");
			rows += n;
			big += n >= 300;
		}
		if (i % 50 == 49)
			exec_sql(w, "PRAGMA wal_checkpoint(TRUNCATE)");
		if (query_int(r, "SELECT count(*) FROM t") != rows ||
		    query_int(r, "SELECT total(v) FROM t") != sum) {
			if (bad++ == 0)
				diag("after transaction %d the reader sees %lld rows, not %lld", i,
				    (long long)query_int(r, "SELECT count(*) FROM t"), (long long)rows);
		}
	}
	ok(bad == 0, "a reader on the unix VFS sees every commit at once (%d transactions, "
	    "%d big, %d rolled back)", i, big, rollbacks);
	ok(query_int(r, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'") == 1,
	    "integrity_check is ok");
	sqlite3_close(r);
	sqlite3_close(w);
	r = open_db("a.db", "unix");
	is_int(query_int(r, "SELECT count(*) FROM t"), rows, "all rows are there after a reopen");
	sqlite3_close(r);
}

/* The child commits and dies without closing: what its commits wrote must
 * be in the file, not in a buffer that died with it. */
static void
test_commit_survives_death(void)
{
	pid_t   pid;
	int     status;
	sqlite3 *db;

	fflush(stdout);
	if ((pid = fork()) == -1)
		bail_out("fork");
	if (pid == 0) {
		int64_t next_id = 1, sum = 0;
		int     i;

		db = open_writer("b.db", STORE_VFS_NAME);
		for (i = 0; i < 40; i++) {
			exec_sql(db, "BEGIN IMMEDIATE");
			insert_rows(db, &next_id, 1 + i % 5, &sum);
			exec_sql(db, "COMMIT");
		}
		_exit(0);
	}
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer process ran");
	db = open_db("b.db", "unix");
	is_int(query_int(db, "SELECT count(*) FROM t"), 40 * 3, "every commit of a writer that died "
	    "without closing is in the database");
	sqlite3_close(db);
}

/* Write calls for five commits of about eight pages each. */
static long
commit_writes(const char *name, const char *vfs)
{
	sqlite3 *db = open_writer(name, vfs);
	int64_t  next_id = 1, sum = 0;
	long     before;
	int      i;

	exec_sql(db, "BEGIN IMMEDIATE");
	insert_rows(db, &next_id, 10, &sum);
	exec_sql(db, "COMMIT");
	before = write_calls();
	for (i = 0; i < 5; i++) {
		exec_sql(db, "BEGIN IMMEDIATE");
		insert_rows(db, &next_id, 50, &sum);
		exec_sql(db, "COMMIT");
	}
	before = write_calls() - before;
	sqlite3_close(db);
	return before;
}

static void
test_one_write_per_commit(void)
{
	long plain = commit_writes("c.db", "unix"), ours = commit_writes("d.db", STORE_VFS_NAME);

	diag("write calls for 5 commits: unix VFS %ld, jobd's %ld", plain, ours);
	ok(plain >= 5 * 2 * 4, "the unix VFS makes two write calls per WAL frame");
	ok(ours == 5, "jobd's VFS makes one per commit");
}

int
main(void)
{
	char cmd[64];

	if (mkdtemp(dir) == NULL)
		bail_out("mkdtemp");
	if (store_vfs_register() != SQLITE_OK)
		bail_out("store_vfs_register");
	ok(sqlite3_vfs_find(STORE_VFS_NAME) != NULL, "the VFS is registered");
	is_int(store_vfs_register(), SQLITE_OK, "registering twice is harmless");
	ok(sqlite3_vfs_find(NULL) != sqlite3_vfs_find(STORE_VFS_NAME), "it is not the default");
	test_reader_sees_each_commit();
	test_commit_survives_death();
	test_one_write_per_commit();
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
