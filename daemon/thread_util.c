/* thread_util.c: what jobd's helper threads share: started with every
 * signal blocked, and an eventfd to wake the loop. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "json_util.h"
#include "log.h"
#include "loop_prio.h"
#include "thread_util.h"

int
thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int      rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

struct event *
thread_waker(struct event_base *base, int *fd, event_callback_fn cb, void *arg, struct err *e)
{
	struct event *ev;

	if ((*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		err_set(e, 500, "eventfd: %s", strerror(errno));
		return NULL;
	}
	if ((ev = event_new(base, *fd, EV_READ | EV_PERSIST, cb, arg)) == NULL ||
	    event_priority_set(ev, LOOP_PRIO_FIRST) != 0 || event_add(ev, NULL) == -1)
		fatal("cannot watch an eventfd");
	return ev;
}

void
thread_wake(int fd)
{
	uint64_t one = 1;

	while (write(fd, &one, sizeof one) == -1 && errno == EINTR)
		;
}

void
thread_woken(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof n) == -1 && errno != EAGAIN && errno != EINTR)
		fatal("eventfd: %s", strerror(errno));
}
