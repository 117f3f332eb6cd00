/* dbtool.c: databases for the benchmarks, built and checked outside jobd.
 *
 *   dbtool build --db NEW_PATH --schema SCHEMA.sql [--user-version V]
 *                [--finished N] [--pending M]
 *       B5's database: N succeeded sleep tasks, then M pending ones with a very
 *       long sleep (they all start when jobd starts and keep running), at
 *       schema version V (SCHEMA.sql: that many schema/NNN-*.sql files, in
 *       order; default 1), in WAL mode, as jobd would have left them.
 *   dbtool verify --db PATH --ids FILE
 *       B1's durability check: every id in FILE (one per line; the ids jobd
 *       answered 201 before it was killed) must be a row.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define DB_INSERT "INSERT INTO tasks (id, kind, name, state, stop, created_at, started_at, " \
	"finished_at, timeout, spec, result, error) VALUES (?1, 'sleep', ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9, NULL)"

struct dbopts {
	const char *db, *schema, *ids;
	long        finished, pending, user_version;
};

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
db_fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "dbtool: %s: %s\n", what, db ? sqlite3_errmsg(db) : "cannot open");
	return 1;
}

static void
db_bind_text(sqlite3_stmt *st, int col, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_text(st, col, s, -1, SQLITE_TRANSIENT);
}

/* One row; finished ones look like a half-second sleep with a small result,
 * every tenth one named, as a real history would. */
static int
db_row(sqlite3_stmt *st, int64_t id, int finished, int64_t t)
{
	char spec[96], result[48], name[32];

	sqlite3_bind_int64(st, 1, id);
	snprintf(name, sizeof name, "batch-%" PRId64, id / 10);
	db_bind_text(st, 2, id % 10 == 0 ? name : NULL);
	db_bind_text(st, 3, finished ? "succeeded" : "pending");
	sqlite3_bind_int64(st, 4, t);
	if (finished) {
		snprintf(result, sizeof result, "{\"n\":%" PRId64 ",\"ok\":true}", id);
		snprintf(spec, sizeof spec, "{\"seconds\":0.5,\"result\":%s}", result);
		sqlite3_bind_int64(st, 5, t + 1);
		sqlite3_bind_int64(st, 6, t + 501);
		db_bind_text(st, 9, result);
	} else {
		snprintf(spec, sizeof spec, "{\"seconds\":1000000,\"result\":null}");
		sqlite3_bind_null(st, 5);
		sqlite3_bind_null(st, 6);
		sqlite3_bind_null(st, 9);
	}
	if (finished && id % 7 == 0)	/* a pending one would time out mid-run */
		sqlite3_bind_double(st, 7, 60);
	else
		sqlite3_bind_null(st, 7);
	db_bind_text(st, 8, spec);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -1;
	sqlite3_reset(st);
	return 0;
}

static int
db_build(const struct dbopts *o)
{
	sqlite3      *db = NULL;
	sqlite3_stmt *st = NULL;
	char         *schema, pragma[96];
	int64_t       id, t = (int64_t)time(NULL) * 1000 - 86400000;
	int           rc = 1;

	if (access(o->db, F_OK) == 0) {
		fprintf(stderr, "dbtool: %s exists; give a new path\n", o->db);
		return 1;
	}
	if ((schema = slurp(o->schema)) == NULL) {
		fprintf(stderr, "dbtool: %s: %s\n", o->schema, strerror(errno));
		return 1;
	}
	if (sqlite3_open(o->db, &db) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA synchronous = OFF; PRAGMA journal_mode = OFF", NULL, NULL, NULL) ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) || sqlite3_exec(db, schema, NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(db, DB_INSERT, -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(db, o->db);
		goto out;
	}
	for (id = 1; id <= o->finished + o->pending; id++, t += 50)
		if (db_row(st, id, id <= o->finished, t) < 0) {
			rc = db_fail(db, "insert");
			goto out;
		}
	/* AUTOINCREMENT kept sqlite_sequence; jobd reads its next id there. */
	snprintf(pragma, sizeof pragma, "PRAGMA user_version = %ld; COMMIT; PRAGMA journal_mode = WAL",
	    o->user_version);
	if (sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(db, "commit");
		goto out;
	}
	printf("finished=%ld pending=%ld\n", o->finished, o->pending);
	rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(schema);
	return rc;
}

static int
db_verify(const struct dbopts *o)
{
	sqlite3      *db = NULL;
	sqlite3_stmt *st = NULL;
	FILE         *f;
	char          line[64];
	long          n = 0, missing = 0;
	int           rc = 1;

	if ((f = fopen(o->ids, "r")) == NULL) {
		fprintf(stderr, "dbtool: %s: %s\n", o->ids, strerror(errno));
		return 1;
	}
	if (sqlite3_open_v2(o->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT 1 FROM tasks WHERE id = ?1", -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(db, o->db);
		goto out;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		sqlite3_bind_int64(st, 1, strtoll(line, NULL, 10));
		if (sqlite3_step(st) != SQLITE_ROW && missing++ < 5)
			fprintf(stderr, "dbtool: id %s answered 201 but is not in the database\n",
			    strtok(line, "\n"));
		sqlite3_reset(st);
		n++;
	}
	printf("ids=%ld missing=%ld\n", n, missing);
	rc = n == 0 || missing > 0;
out:
	fclose(f);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "db", required_argument, NULL, 'd' }, { "schema", required_argument, NULL, 's' },
		{ "ids", required_argument, NULL, 'i' }, { "finished", required_argument, NULL, 'f' },
		{ "pending", required_argument, NULL, 'p' },
		{ "user-version", required_argument, NULL, 'u' }, { NULL, 0, NULL, 0 }
	};
	struct dbopts o = { .finished = 1000000, .pending = 100000, .user_version = 1 };
	int           ch;

	if (argc < 2)
		goto usage;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'd': o.db = optarg; break;
		case 's': o.schema = optarg; break;
		case 'i': o.ids = optarg; break;
		case 'f': o.finished = atol(optarg); break;
		case 'p': o.pending = atol(optarg); break;
		case 'u': o.user_version = atol(optarg); break;
		default: goto usage;
		}
	}
	if (strcmp(argv[1], "build") == 0 && o.db != NULL && o.schema != NULL)
		return db_build(&o);
	if (strcmp(argv[1], "verify") == 0 && o.db != NULL && o.ids != NULL)
		return db_verify(&o);
usage:
	fputs("usage: dbtool build --db NEW_PATH --schema SCHEMA.sql [--user-version V]\n"
	    "                    [--finished N] [--pending M]\n"
	    "       dbtool verify --db PATH --ids FILE\n", stderr);
	return 2;
}
