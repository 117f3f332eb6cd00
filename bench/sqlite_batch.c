/* sqlite_batch.c: limit B1b, what SQLite alone does with jobd's rows.
 *
 * Inserts rows shaped like the ones a `sleep` create commits (jobd's own
 * tasks schema and its insert statement), --batch rows per transaction, into a
 * new database configured as jobd configures it (WAL, synchronous=FULL,
 * ignore_check_constraints, prepared statements, and jobd's VFS, which
 * writes a commit's WAL frames in one pwrite: daemon/store_vfs.c), for
 * --duration seconds.
 * Prints rows/s and commits/s.
 *
 * usage: sqlite_batch --db NEW_PATH --schema SCHEMA.sql --batch N [--duration S]
 *        (SCHEMA.sql: schema/[0-9]*.sql, all of them, in order)
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_vfs.h"

/* jobd's statement for a create (daemon/store_writer.c), so SQLite does the
 * same work per row. */
static const char batch_insert[] =
    "INSERT INTO tasks (id, kind, name, state, stop, created_at, started_at, finished_at, "
    "timeout, spec, result, error, pgid, boot_id, stdout, stderr, wake_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

/* What jobd stores for {"kind":"sleep","sleep":{"seconds":600}}. */
static const char batch_spec[] = "{\"seconds\":600,\"result\":null}";

struct batch {
	sqlite3      *db;
	sqlite3_stmt *begin, *commit, *ins;
	int64_t       next_id;
};

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *
slurp(const char *path)
{
	FILE *f;
	char *buf = NULL;
	long  n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else
			buf[n] = '\0';
	}
	fclose(f);
	return buf;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
batch_step(struct batch *b, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "sqlite_batch: %s\n", sqlite3_errmsg(b->db));
		return -1;
	}
	return 0;
}

static int
batch_open(struct batch *b, const char *path, const char *schema_path)
{
	char *schema;
	int   rc;

	if (access(path, F_OK) == 0) {
		fprintf(stderr, "sqlite_batch: %s exists; give a new path\n", path);
		return -1;
	}
	if ((schema = slurp(schema_path)) == NULL) {
		fprintf(stderr, "sqlite_batch: %s: %s\n", schema_path, strerror(errno));
		return -1;
	}
	if (store_vfs_register() != SQLITE_OK ||
	    sqlite3_open_v2(path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
	    STORE_VFS_NAME) != SQLITE_OK)
		goto fail;
	rc = sqlite3_exec(b->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
	    "PRAGMA journal_size_limit = 67108864; PRAGMA foreign_keys = ON; "
	    "PRAGMA ignore_check_constraints = ON", NULL, NULL, NULL);
	if (rc != SQLITE_OK || sqlite3_exec(b->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_prepare_v3(b->db, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &b->begin, NULL) ||
	    sqlite3_prepare_v3(b->db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT, &b->commit, NULL) ||
	    sqlite3_prepare_v3(b->db, batch_insert, -1, SQLITE_PREPARE_PERSISTENT, &b->ins, NULL))
		goto fail;
	free(schema);
	b->next_id = 1;
	return 0;
fail:
	fprintf(stderr, "sqlite_batch: %s: %s\n", path, b->db ? sqlite3_errmsg(b->db) : "cannot open");
	free(schema);
	return -1;
}

static int
batch_row(struct batch *b)
{
	sqlite3_stmt *st = b->ins;
	int64_t       t = now_ms();

	/* As jobd binds them: name, finished_at, timeout and ?11-?16 NULL. */
	sqlite3_clear_bindings(st);
	sqlite3_bind_int64(st, 1, b->next_id++);
	sqlite3_bind_text(st, 2, "sleep", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, "running", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, 0);
	sqlite3_bind_int64(st, 6, t);
	sqlite3_bind_int64(st, 7, t);
	sqlite3_bind_text(st, 10, batch_spec, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 17, t + 600000);   /* the sleep's end */
	return batch_step(b, st);
}

static int
batch_commit_one(struct batch *b, int n)
{
	int i;

	if (batch_step(b, b->begin) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (batch_row(b) < 0)
			return -1;
	return batch_step(b, b->commit);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "db", required_argument, NULL, 'd' }, { "schema", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' }, { "duration", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct batch b;
	const char  *db = NULL, *schema = NULL;
	double       duration = 2, t0, t, c0, *lat = NULL;
	long         commits = 0, cap = 0;
	int          ch, n = 0, rc = 1;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'd': db = optarg; break;
		case 's': schema = optarg; break;
		case 'b': n = atoi(optarg); break;
		case 't': duration = atof(optarg); break;
		default: goto usage;
		}
	}
	if (db == NULL || schema == NULL || n <= 0)
		goto usage;
	memset(&b, 0, sizeof b);
	if (batch_open(&b, db, schema) < 0)
		goto out;
	t0 = t = now_mono();
	do {
		c0 = t;
		if (batch_commit_one(&b, n) < 0)
			goto out;
		t = now_mono();
		if (commits == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((lat = realloc(lat, (size_t)cap * sizeof *lat)) == NULL)
				goto out;
		}
		lat[commits++] = t - c0;
	} while (t - t0 < duration);
	/* Each commit ends with one fsync of the WAL: at batch 1 the
	 * latencies are the disk's flush latency, plus a little. */
	qsort(lat, (size_t)commits, sizeof *lat, cmp_double);
	printf("rate=%.1f commits_per_s=%.1f batch=%d rows=%ld elapsed=%.3f "
	    "commit_p50_ms=%.3f commit_p99_ms=%.3f commit_max_ms=%.3f\n",
	    (double)commits * n / (t - t0), (double)commits / (t - t0), n, commits * n, t - t0,
	    lat[commits / 2] * 1e3, lat[commits * 99 / 100] * 1e3, lat[commits - 1] * 1e3);
	rc = 0;
out:
	free(lat);
	sqlite3_finalize(b.begin);
	sqlite3_finalize(b.commit);
	sqlite3_finalize(b.ins);
	sqlite3_close(b.db);
	return rc;
usage:
	fputs("usage: sqlite_batch --db NEW_PATH --schema SCHEMA.sql --batch N [--duration S]\n", stderr);
	return 2;
}
