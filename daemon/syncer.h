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

/* wal: the file to sync (opened at the first request: SQLite creates it);
 * dir: its directory, synced once so that the file's name is durable too.
 * done(arg, seq) runs on the loop: every commit up to seq is durable. */
struct syncer *syncer_new(struct event_base *base, const char *wal, const char *dir,
                   void (*done)(void *arg, uint64_t seq), void *arg, struct err *e);
/* Make every commit up to seq durable, soon. */
void           syncer_request(struct syncer *s, uint64_t seq);
/* Stop the thread; whatever was requested and not yet synced is synced
 * here, on the caller's thread.  0, or -1 if a sync failed. */
int            syncer_free(struct syncer *s);
/* fdatasync calls made so far. */
uint64_t       syncer_count(struct syncer *s);

#endif
