/* thread_util.h: what jobd's helper threads (the writer, the syncer) share:
 * started with every signal blocked, and an eventfd to wake the loop. */
#ifndef THREAD_UTIL_H
#define THREAD_UTIL_H

#include <pthread.h>

#include <event2/event.h>

struct err;

/* pthread_create with every signal blocked in the new thread (signals are
 * the loop's business): 0 or pthread_create's error. */
int           thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
/* An eventfd (*fd) the loop watches: cb runs on the loop after thread_wake,
 * at LOOP_PRIO_FIRST.  NULL with a cause if it cannot be made. */
struct event *thread_waker(struct event_base *base, int *fd, event_callback_fn cb, void *arg,
                  struct err *e);
/* From the thread: wake the loop. */
void          thread_wake(int fd);
/* From cb: take the wake-ups (any number coalesce into one). */
void          thread_woken(int fd);

#endif
