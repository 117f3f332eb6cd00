/* store_impl.h: the store's insides, shared by its two files: store.c (the
 * database, its schema and the reads) and store_stage.c (what is staged,
 * written by the writer thread and made durable by the syncer). */
#ifndef STORE_IMPL_H
#define STORE_IMPL_H

#include <sys/queue.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"
#include "store_writer.h"
#include "syncer.h"
#include "task.h"

enum store_stmt {
	ST_GET, ST_RUNNING, ST_COUNT, ST_PENDING, ST_LEFTOVER, ST_DUE, ST_LIST, ST_LIST_STATE, ST_LIST_KIND,
	ST_LIST_BOTH, ST_LIST_RUNNING_KIND, ST_OUTPUT, ST_LAST_ID, ST_N
};

TAILQ_HEAD(store_task_list, task);

struct store {
	sqlite3              *db;           /* writes: the writer thread's once it runs */
	sqlite3              *rdb;          /* reads, on the loop */
	sqlite3_stmt         *st[ST_N];     /* prepared on rdb */
	/* Its file (db_fd holds the flock: one jobd per database) and its
	 * WAL, each open, to tell whether they are still where a restart
	 * will look for them: */
	struct syncer_files   files;
	char                  boot_id[40];
	struct store_hooks    hooks;
	/* Staged, to go into the next batch: */
	struct store_task_list staged;
	size_t                nstaged;      /* tasks on it */
	struct store_idop    *idops;        /* changes by id alone */
	size_t                nidops, capidops;
	struct event         *flush_ev;     /* the end of this turn */
	struct event         *retry_ev;     /* after a full disk */
	struct event         *soon_ev;      /* stage_soon's deadline */
	int                   eager;        /* staged by more than stage_soon */
	/* Written: */
	struct store_writer  *writer;
	struct store_batch    batch;        /* the one in flight, or being built */
	int                   draining;     /* shutdown: no retries, no new batches by themselves */
	/* Durable: batches are numbered; with --sync full the syncer makes
	 * them durable later, without it a commit is as durable as it gets. */
	struct syncer        *syncer;
	struct event         *lazy_ev;      /* syncs what nobody waits for, soon */
	uint64_t              launched;     /* the last batch handed to the writer */
	uint64_t              committed;    /* the last batch committed */
	uint64_t              durable;      /* every commit up to this is on disk */
	uint64_t              synced;       /* the syncer's last word: may pass committed */
	uint64_t              need;         /* the highest batch someone waits for */
	uint64_t              failed;       /* the last batch rolled back */
	int                   lost;         /* a file gone: nothing is durable any more */
	/* The last tasks to finish (store_recent.c): */
	struct task         **recent;
};

/* store.c, for a commit made without the syncer (--sync normal): 0 if the
 * database and its WAL are still at their paths, else -1 and why in e. */
int  store_check_files(struct store *s, struct err *e);

/* store_stage.c, for store.c's open and close. */
int  store_stage_start(struct store *s, struct event_base *base, const char *path,
         int sync_full, struct err *e);
void store_stage_stop(struct store *s);

/* store_recent.c, for store_get and committed deletes. */
struct task *store_recent_get(struct store *s, int64_t id);
void         store_recent_drop(struct store *s, int64_t id);
void         store_recent_clear(struct store *s);

#endif
