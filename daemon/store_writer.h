/* store_writer.h: the thread that writes the store's batches into SQLite.
 * The loop turns staged tasks into rows (plain values it owns), hands a
 * batch over, and goes on; the writer runs BEGIN, the rows, COMMIT on its
 * own connection and tells the loop, through an eventfd, how it went. */
#ifndef STORE_WRITER_H
#define STORE_WRITER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sqlite3;
struct task;
struct err;

/* One task's row, as it is to be written: nothing in it changes while the
 * writer has it.  Strings marked owned are freed by store_row_clear. */
struct store_row {
	struct task         *task;         /* the loop's: who the row is for */
	int64_t              id;
	int                  is_new;       /* INSERT, else UPDATE of the state columns */
	const char          *kind;         /* static */
	const char          *name;         /* the task's own: it never changes */
	const char          *state;        /* static */
	int                  stop;
	int64_t              created_at, started_at, finished_at;
	double               timeout;      /* < 0: null */
	char                *spec, *result, *error;   /* owned JSON text, or NULL */
	int64_t              pgid;
	int                  leftover;     /* its group is still being stopped */
	int64_t              wake_at;      /* 0: null */
	const char          *boot_id;      /* with a pgid: the kernel boot it belongs to */
	const unsigned char *out[2];       /* stdout, stderr: borrowed or own[i] */
	size_t               outlen[2];
	unsigned char       *own[2];       /* copies, owned */
};

/* A change to a row known by its id alone (no task of it need be in
 * memory): its delete, or the clearing of its leftover mark. */
enum store_idop_kind { STORE_ID_DELETE, STORE_ID_LEFTOVER_GONE };
struct store_idop {
	int64_t              id;
	enum store_idop_kind kind;
};

struct store_batch {
	uint64_t          seq;             /* the loop's number for this commit */
	struct store_row *rows;
	size_t            nrows, caprows;
	struct store_idop *idops;          /* written after the rows */
	size_t            nidops, capidops;
	int               rc;              /* SQLITE_OK, or why it was rolled back */
	int               urgent;          /* someone waits for it: sync it at once */
};

void store_row_clear(struct store_row *r);

struct syncer;

/* db becomes the writer's; done(arg, batch) runs on the loop after each.
 * An urgent batch the thread commits is handed to syncer (if not NULL) by
 * the thread itself, before the loop hears of it. */
struct store_writer *store_writer_new(struct event_base *base, struct sqlite3 *db,
                         struct syncer *syncer,
                         void (*done)(void *arg, struct store_batch *b), void *arg,
                         struct err *e);
/* A batch is being written: submit no other until done has run. */
int   store_writer_busy(const struct store_writer *w);
/* If the thread has finished the batch in flight, run its done now (1), not
 * at the loop's next turn; else 0. */
int   store_writer_poll(struct store_writer *w);
void  store_writer_submit(struct store_writer *w, struct store_batch *b);
/* A small batch, the thread idle: write it here and now, done included
 * (1), or leave it to store_writer_submit (0). */
int   store_writer_write_now(struct store_writer *w, struct store_batch *b);
/* Block until the batch in flight is written and its done has run
 * (shutdown: the loop has nothing better to do). */
void  store_writer_drain(struct store_writer *w);
/* Stops the thread (drain first); the connection is the caller's again. */
void  store_writer_free(struct store_writer *w);

#endif
