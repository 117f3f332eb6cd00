/* syncer.c: make commits durable off the loop: one thread runs fdatasync on
 * the WAL while the loop goes on serving, spawning and committing.
 *
 * Why a thread: an fsync blocks its caller for the disk's flush (0.2 ms on
 * the VMs we measured, 1-10 ms on real disks), and on the loop that stalled
 * everything else: exec slots waited for it before they could start the next
 * program, and every other client waited for it too.  The thread touches no
 * SQLite and no libevent state: it syncs a file descriptor (the store's) and
 * publishes a number under a mutex; the loop reads it when an eventfd says so.
 *
 * Why this is as safe as synchronous=FULL: in WAL mode SQLite appends each
 * commit to the WAL, and with NORMAL it syncs the WAL before each checkpoint
 * and the database after it, but not at commit.  fdatasync(2) of the WAL
 * after a commit makes that commit and all before it durable (fsync is per
 * file, not per descriptor), and jobd reports nothing a commit made true
 * until the sync that covers it has returned.  A crash before that loses
 * only commits nobody was told about; the WAL's checksums make SQLite ignore
 * a torn tail.
 *
 * A sync is only as good as the file's name: after each one the thread
 * checks that the WAL and the database are still where a restart will look
 * for them (a WAL deleted under jobd is still written and synced, but into a
 * file nobody will read again), and a file gone fails the sync. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "json_util.h"
#include "log.h"
#include "syncer.h"
#include "thread_util.h"

struct syncer {
	pthread_t        thread;
	int              started;
	pthread_mutex_t  mu;
	pthread_cond_t   cv;
	/* Under mu: */
	uint64_t         want;       /* sync every commit up to this (loop and writer set it) */
	uint64_t         have;       /* every commit up to this is durable (the thread) */
	uint64_t         nsyncs;
	int              err;        /* errno of a failed sync, or -1: a file gone
	                              * (why in lost); the loop stops on it */
	int              stop;
	/* The thread's own: */
	struct syncer_files files;   /* borrowed */
	char            *dir;
	int              dir_synced;
	struct err       lost;
	/* The loop's: */
	int              evfd;
	struct event    *ev;
	uint64_t         told;       /* the last seq given to done */
	void           (*done)(void *arg, uint64_t seq);
	void           (*lost_cb)(void *arg, const char *why);
	int              lost_told;
	void            *arg;
};

#define SYNCER_LOST "while jobd ran: what jobd commits now would be lost at a restart"

/* 0 if fd is still the file named path; else -1 and why in e. */
static int
syncer_file_check(int fd, const char *path, struct err *e)
{
	struct stat held, named;

	if (fstat(fd, &held) == -1)
		return err_set(e, 500, "cannot check %s: %s", path, strerror(errno));
	if (held.st_nlink == 0)
		return err_set(e, 500, "%s was deleted " SYNCER_LOST, path);
	if (stat(path, &named) == -1) {
		if (errno != ENOENT && errno != ENOTDIR)
			return err_set(e, 500, "cannot check %s: %s", path, strerror(errno));
	} else if (named.st_dev == held.st_dev && named.st_ino == held.st_ino)
		return 0;
	return err_set(e, 500, "%s was renamed or replaced " SYNCER_LOST, path);
}

int
syncer_files_check(const struct syncer_files *f, struct err *e)
{
	return syncer_file_check(f->wal_fd, f->wal, e) < 0 ||
	    syncer_file_check(f->db_fd, f->db, e) < 0 ? -1 : 0;
}

/* One sync of everything written so far: 0, an errno, or -1 (a file gone). */
static int
syncer_sync(struct syncer *s)
{
	int dfd;

	if (fdatasync(s->files.wal_fd) == -1)
		return errno;
	/* After the sync: a file gone before it returned is seen now; one gone
	 * later held what this sync covered under its name until then. */
	if (syncer_files_check(&s->files, &s->lost) < 0)
		return -1;
	/* Once: the WAL's directory entry, so a new WAL survives a power loss. */
	if (!s->dir_synced) {
		if ((dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			return errno;
		if (fsync(dfd) == -1 && errno != EINVAL) {
			int rc = errno;

			close(dfd);
			return rc;
		}
		close(dfd);
		s->dir_synced = 1;
	}
	return 0;
}

static void *
syncer_main(void *arg)
{
	struct syncer *s = arg;
	uint64_t       w;
	int            rc;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (s->want <= s->have && !s->stop && s->err == 0)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop || s->err != 0)
			break;
		w = s->want;
		pthread_mutex_unlock(&s->mu);
		rc = syncer_sync(s);
		pthread_mutex_lock(&s->mu);
		s->nsyncs++;
		if (rc != 0)
			s->err = rc;
		else
			s->have = w;
		thread_wake(s->evfd);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* On the loop: the thread has synced (or failed). */
static void
syncer_ready_cb(evutil_socket_t fd, short what, void *arg)
{
	struct syncer *s = arg;
	uint64_t       have;
	int            err;

	thread_woken(s->evfd);
	pthread_mutex_lock(&s->mu);
	have = s->have;
	err = s->err;
	pthread_mutex_unlock(&s->mu);
	/* A file gone: nothing more becomes durable, and jobd stops (cleanly:
	 * SQLite's last close still saves the WAL it holds open). */
	if (err == -1) {
		if (!s->lost_told)
			s->lost_cb(s->arg, s->lost.msg);
		s->lost_told = 1;
		return;
	}
	/* The kernel may have dropped the pages it failed to write: stop, and
	 * let the restart recover from what is really on disk. */
	if (err != 0)
		fatal("database sync failed: %s; stopping", strerror(err));
	if (have > s->told) {
		s->told = have;
		s->done(s->arg, have);
	}
}

struct syncer *
syncer_new(struct event_base *base, const struct syncer_files *f, const char *dir,
    void (*done)(void *arg, uint64_t seq), void (*lost)(void *arg, const char *why), void *arg,
    struct err *e)
{
	struct syncer *s;
	int            rc;

	if ((s = calloc(1, sizeof *s)) == NULL || (s->dir = strdup(dir)) == NULL)
		fatal("out of memory");
	s->files = *f;
	s->evfd = -1;
	s->done = done;
	s->lost_cb = lost;
	s->arg = arg;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((s->ev = thread_waker(base, &s->evfd, syncer_ready_cb, s, e)) == NULL)
		goto fail;
	if ((rc = thread_start(&s->thread, syncer_main, s)) != 0) {
		err_set(e, 500, "cannot start the sync thread: %s", strerror(rc));
		goto fail;
	}
	s->started = 1;
	return s;
fail:
	syncer_free(s);
	return NULL;
}

void
syncer_request(struct syncer *s, uint64_t seq)
{
	pthread_mutex_lock(&s->mu);
	if (seq > s->want) {
		s->want = seq;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
}

uint64_t
syncer_count(struct syncer *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nsyncs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

int
syncer_free(struct syncer *s)
{
	int rc = 0;

	if (s == NULL)
		return 0;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	/* The thread is gone: what it left undone is ours to do. */
	if (s->err == 0 && s->want > s->have && (s->err = syncer_sync(s)) == 0)
		s->have = s->want;
	if (s->err == -1) {
		log_err("%s", s->lost.msg);
		rc = -1;
	} else if (s->err != 0) {
		log_err("database sync failed: %s", strerror(s->err));
		rc = -1;
	}
	if (s->ev != NULL)
		event_free(s->ev);
	if (s->evfd != -1)
		close(s->evfd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->dir);
	free(s);
	return rc;
}
