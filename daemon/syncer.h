/* syncer.h: make commits durable off the loop.  SQLite commits on the loop
 * without syncing (synchronous=NORMAL, WAL); one thread of our own then
 * fdatasyncs the WAL, and the loop hears, through an eventfd, up to which
 * commit everything is on disk.  Commits made while a sync runs are covered
 * by the next one (group sync). */
#ifndef SYNCER_H
#define SYNCER_H

#include <stdint.h>

struct event_base;
struct err;

/* The database's two files, each open and named by its path.  A sync makes
 * nothing durable once its file is no longer at its path: a restart reads
 * what the path names, so a WAL deleted under jobd takes every commit in it
 * along (SQLite goes on writing into the unlinked file without a word). */
struct syncer_files {
	char *db, *wal;
	int   db_fd, wal_fd;
};
/* 0 if both files are still at their paths; else -1 and why in e. */
int            syncer_files_check(const struct syncer_files *f, struct err *e);

/* f: the files, borrowed until syncer_free: the WAL is the file synced;
 * each sync then checks both.  dir: their directory, synced once so that
 * the WAL's name is durable too.  On the loop: done(arg, seq) says every
 * commit up to seq is durable; lost(arg, why), once, that a file is gone and
 * nothing will be durable again.  A failed sync stops jobd on the spot. */
struct syncer *syncer_new(struct event_base *base, const struct syncer_files *f,
                   const char *dir, void (*done)(void *arg, uint64_t seq),
                   void (*lost)(void *arg, const char *why), void *arg, struct err *e);
/* Make every commit up to seq durable, soon. */
void           syncer_request(struct syncer *s, uint64_t seq);
/* Stop the thread; whatever was requested and not yet synced is synced
 * here, on the caller's thread.  0, or -1 if a sync failed. */
int            syncer_free(struct syncer *s);
/* fdatasync calls made so far. */
uint64_t       syncer_count(struct syncer *s);

#endif
