/* kind_exec.c: run a program as a task: spawn it in its own session, capture
 * its output, reap it through a pidfd, and stop its whole process group.
 *
 * The environment of a task is not the daemon's own.  It is this base, with
 * the spec's "env" members added (a member of the same name replaces it):
 *
 *   PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
 *   LANG=C.UTF-8
 *   HOME=<home of the daemon's user in the passwd database, else />
 *   USER=, LOGNAME=<name of the daemon's user; absent if it has none>
 *   JOBD_TASK_ID=<the task's id>
 *
 * Why: the daemon's environment is an accident of how it was started (a
 * shell, systemd, a test harness) and may hold secrets such as
 * CREDENTIALS_DIRECTORY or NOTIFY_SOCKET, so it is never passed on.  PATH is
 * systemd's service default (plus /sbin:/bin for systems without merged
 * /usr), so a task finds the same programs as under systemd-run.  C.UTF-8 is
 * in every glibc since 2.35, is deterministic, and keeps UTF-8 output intact.
 * HOME, USER and LOGNAME are those of the user the task runs as (the
 * daemon's), read from passwd like a login or systemd's User= would: git,
 * ssh, pip and most tools need a HOME.  JOBD_TASK_ID lets a program name its
 * own logs or files after its task.  A name without '/' in argv[0] is looked
 * up in the task's PATH (the base one, or env.PATH), relative entries from
 * cwd.
 *
 * Life of a run: a clone that shares our memory and that we do not wait for
 * (exec_spawn.c; never fork(): fork's cost grows with our heap; a child that
 * fails before its exec says why by its reap), made when the task takes its
 * slot and held before its exec until its "running" (with its pgid) is
 * committed; then its pidfd tells us the leader exited.  Before reaping it
 * we send SIGTERM to its group (a zombie leader keeps the pgid from being
 * reused), reap, and poll kill(-pgid, 0) until the group is empty, with
 * SIGKILL once the grace period is over.  A program that exited by itself
 * is done at once: its pipes are drained and closed and the scheduler told,
 * and what it left in its group is stopped after (exec_end_task).  A stopped
 * one (cancel, deadline) is done only once nothing of its group runs.
 * Limitation: a process that leaves the group itself (setsid(), or
 * setpgid() into another group) is not stopped (only a cgroup would catch it).
 */
#include "config.h"

#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "exec_spawn.h"
#include "exec_util.h"
#include "jobd.h"
#include "json_util.h"
#include "kind.h"
#include "log.h"
#include "loop_prio.h"
#include "task.h"

#define EXEC_POLL_MIN_MS   1     /* first look for group members left behind */
#define EXEC_POLL_MAX_MS   50    /* then back off to this */
#define EXEC_GIVEUP_MS     2000  /* after SIGKILL, members we cannot kill are let go */
#define EXEC_READS         16    /* reads of 64 KiB per callback: fairness */
#define EXEC_DRAIN_READS   1024  /* at the end: bounded if an escapee keeps writing */
#define EXEC_QUIET_MS      2     /* output is watched once a program runs this long */

struct exec_run;

/* The kind's shared state (env->ctx). */
struct exec_ctx {
	struct exec_base         base;
	struct exec_spawner      spawner;
	LIST_HEAD(, exec_run)    runs;    /* live runs, for fini */
	TAILQ_HEAD(, exec_run)   quiet;   /* runs whose output is not watched yet, oldest first */
	struct event            *quiet_ev;
};

/* Our read end of the child's stdout or stderr. */
struct exec_pipe {
	struct exec_run *r;
	struct blob     *b;      /* t->out[i]: what the task keeps */
	size_t           alloc;  /* bytes allocated at b->data */
	int              fd;
	struct event    *ev;
};

/* One running program (t->kstate). */
struct exec_run {
	struct task          *t;            /* NULL once detached: the task is done */
	int64_t               id;           /* the task's, for the logs */
	struct kind_env       env;          /* a copy: the caller's may not live */
	struct exec_ctx      *ctx;
	pid_t                 pid;          /* also the pgid: SETSID */
	int                   pidfd;
	struct event         *pid_ev;
	struct exec_pipe      out[2];
	int                   in_fd;        /* our end of stdin, -1 when done */
	struct event         *in_ev;
	json_t               *in_str;       /* stdin text still to write */
	size_t                in_off;
	struct event         *timer;        /* grace deadline, then group polls */
	int                   reaped;
	int                   how;          /* CLD_EXITED, _KILLED, _DUMPED; 0: unknown */
	int                   status;       /* exit code or signal number */
	int                   term_sent;
	int                   kill_sent;
	int64_t               term_ms;      /* monotonic */
	int64_t               kill_ms;
	int                   poll_ms;
	int                   exec_errno;   /* the child failed before its exec */
	pid_t                 member;       /* a live member left behind, as a hint */
	int64_t               start_ms;     /* monotonic */
	struct exec_slot     *gate;         /* held before its exec until started */
	char                 *why;          /* could not be spawned: why (owned) */
	int                   quiet;        /* on ctx->quiet: pipes not watched yet */
	LIST_ENTRY(exec_run)  entry;
	TAILQ_ENTRY(exec_run) quiet_entry;
};

static void exec_timer_cb(evutil_socket_t, short, void *);
static void exec_read_cb(evutil_socket_t, short, void *);
static struct event *exec_event(struct exec_run *, int, short, event_callback_fn, void *);

static int64_t
exec_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Arm the run's one timer, made on first use: most runs never need it. */
static void
exec_timer_in(struct exec_run *r, int64_t ms)
{
	struct timeval tv;

	if (r->timer == NULL && (r->timer = evtimer_new(r->env.base, exec_timer_cb, r)) == NULL)
		fatal("out of memory");
	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

static int64_t
exec_grace_ms(const struct exec_run *r)
{
	return (int64_t)(r->env.cfg->kill_grace * 1000);
}

/* --- output ----------------------------------------------------------- */

/* Keep what fits under the cap; past it, count the stream truncated. */
static void
exec_keep(struct exec_pipe *p, const unsigned char *buf, size_t n)
{
	struct blob *b = p->b;
	size_t       cap = p->r->env.cfg->max_output, room, want;

	room = cap > b->len ? cap - b->len : 0;
	if (n > room) {
		b->truncated = 1;
		n = room;
	}
	if (n == 0)
		return;
	if (b->len + n > p->alloc) {
		for (want = p->alloc ? p->alloc : 256; want < b->len + n; want *= 2)
			;
		if (want > cap)
			want = cap;
		if ((b->data = realloc(b->data, want)) == NULL)
			fatal("out of memory");
		p->alloc = want;
	}
	memcpy(b->data + b->len, buf, n);
	b->len += n;
}

static void
exec_pipe_close(struct exec_pipe *p)
{
	if (p->ev != NULL)
		event_free(p->ev);
	p->ev = NULL;
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
}

/* Read up to max times; past the cap the bytes are read and dropped, so the
 * child never blocks on a full pipe.  Closes the pipe at EOF or error. */
static void
exec_pipe_read(struct exec_pipe *p, int max)
{
	unsigned char buf[65536];
	ssize_t       n;
	int           i;

	for (i = 0; i < max && p->fd != -1; i++) {
		n = read(p->fd, buf, sizeof buf);
		if (n > 0)
			exec_keep(p, buf, (size_t)n);
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && errno == EAGAIN)
			return;
		else
			exec_pipe_close(p);
	}
}

static void
exec_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_pipe *p = arg;

	exec_pipe_read(p, EXEC_READS);
}

/* Output is watched only once a program has run EXEC_QUIET_MS, or outlives
 * its leader.  Why: most tasks are short, and a short one's output is all in
 * its pipes when it exits (exec_finish reads it then).  Watching the pipes
 * from the start cost two epoll_ctl at each end of each run, and woke the
 * loop once more per exit (the pipes' hang-up comes before the pidfd).  A
 * program that fills a pipe (64 KiB) sooner waits for us at most this long,
 * once. */
static void
exec_watch_output(struct exec_run *r)
{
	int i;

	if (!r->quiet)
		return;
	TAILQ_REMOVE(&r->ctx->quiet, r, quiet_entry);
	r->quiet = 0;
	for (i = 0; i < 2; i++)
		if (r->out[i].fd != -1)
			r->out[i].ev = exec_event(r, r->out[i].fd, EV_READ | EV_PERSIST, exec_read_cb,
			    &r->out[i]);
}

static void
exec_quiet_arm(struct exec_ctx *ctx, int64_t now)
{
	struct exec_run *r = TAILQ_FIRST(&ctx->quiet);
	int64_t          ms;

	if (r == NULL || evtimer_pending(ctx->quiet_ev, NULL))
		return;
	ms = r->start_ms + EXEC_QUIET_MS - now;
	evtimer_add(ctx->quiet_ev, (&(struct timeval){ 0, (ms > 0 ? ms : 0) * 1000 }));
}

static void
exec_quiet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_ctx *ctx = arg;
	struct exec_run *r;
	int64_t          now = exec_mono_ms();

	while ((r = TAILQ_FIRST(&ctx->quiet)) != NULL && r->start_ms + EXEC_QUIET_MS <= now)
		exec_watch_output(r);
	exec_quiet_arm(ctx, now);
}

static void
exec_quiet_add(struct exec_run *r)
{
	r->start_ms = exec_mono_ms();
	r->quiet = 1;
	TAILQ_INSERT_TAIL(&r->ctx->quiet, r, quiet_entry);
	exec_quiet_arm(r->ctx, r->start_ms);
}

/* --- stdin ------------------------------------------------------------ */

static void
exec_stdin_close(struct exec_run *r)
{
	if (r->in_ev != NULL)
		event_free(r->in_ev);
	r->in_ev = NULL;
	if (r->in_fd != -1)
		close(r->in_fd);
	r->in_fd = -1;
	json_decref(r->in_str);
	r->in_str = NULL;
}

/* Write what the pipe takes now: 1 when all is written or the reader is gone
 * (EPIPE: SIGPIPE is ignored by the daemon), 0 to wait for room. */
static int
exec_stdin_write(struct exec_run *r)
{
	const char *data = json_string_value(r->in_str);
	size_t      len = json_string_length(r->in_str);
	ssize_t     n;

	while (r->in_off < len) {
		n = write(r->in_fd, data + r->in_off, len - r->in_off);
		if (n > 0)
			r->in_off += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && errno == EAGAIN)
			return 0;
		else
			return 1;
	}
	return 1;
}

static void
exec_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *r = arg;

	if (exec_stdin_write(r))
		exec_stdin_close(r);
}

/* --- the end ---------------------------------------------------------- */

static json_t *
exec_output_json(const struct blob *b)
{
	return ju_string_lossy(b->data != NULL ? b->data : (const unsigned char *)"", b->len);
}

/* The members shared by result and error; signal only for errors. */
static json_t *
exec_outcome_json(const struct exec_run *r, int with_signal)
{
	const struct task *t = r->t;
	json_t            *o = json_object();
	char               name[32];
	int                exited = r->how == CLD_EXITED;

	json_object_set_new(o, "exit_code", exited ? json_integer(r->status) : json_null());
	if (with_signal) {
		exec_signame(r->status, name, sizeof name);
		json_object_set_new(o, "signal", r->how == CLD_KILLED || r->how == CLD_DUMPED ?
		    json_string(name) : json_null());
	}
	json_object_set_new(o, "stdout", exec_output_json(&t->out[0]));
	json_object_set_new(o, "stderr", exec_output_json(&t->out[1]));
	json_object_set_new(o, "stdout_truncated", json_boolean(t->out[0].truncated));
	json_object_set_new(o, "stderr_truncated", json_boolean(t->out[1].truncated));
	return o;
}

static json_t *
exec_error_json(const char *type, const char *msg, json_t *members)
{
	json_t *e = ju_error(type, msg);

	if (members != NULL)
		json_object_update(e, members);
	json_decref(members);
	return e;
}

/* Done with the program's pipes (and with watching them). */
static void
exec_run_close_io(struct exec_run *r)
{
	int i;

	for (i = 0; i < 2; i++)
		exec_pipe_close(&r->out[i]);
	exec_stdin_close(r);
	if (r->quiet)
		TAILQ_REMOVE(&r->ctx->quiet, r, quiet_entry);
	r->quiet = 0;
}

static void
exec_run_free(struct exec_run *r)
{
	exec_run_close_io(r);
	if (r->pid_ev != NULL)
		event_free(r->pid_ev);
	if (r->pidfd != -1)
		close(r->pidfd);
	if (r->timer != NULL)
		event_free(r->timer);
	exec_spawn_forget(&r->ctx->spawner, &r->exec_errno);
	LIST_REMOVE(r, entry);
	free(r->why);
	free(r);
}

/* The task's outcome, from the output its pipes hold now: 1 with *result,
 * or 0 with *error. */
static int
exec_outcome(struct exec_run *r, json_t **result, json_t **error)
{
	struct task *t = r->t;
	char         msg[320], name[32];
	int          i, ok;

	*result = *error = NULL;
	for (i = 0; i < 2; i++)
		exec_pipe_read(&r->out[i], EXEC_DRAIN_READS);
	ok = r->how == CLD_EXITED && r->status == 0;
	/* A stopped task always reports through error: the scheduler replaces
	 * its type and keeps the output members. */
	if (r->exec_errno != 0) {
		exec_cannot_run(t->spec, r->exec_errno, msg, sizeof msg);
		*error = exec_error_json("spawn_failed", msg, NULL);
		ok = 0;
	} else if (ok && t->stop == TASK_STOP_NONE)
		*result = exec_outcome_json(r, 0);
	else {
		if (r->how == CLD_EXITED)
			snprintf(msg, sizeof msg, "exited with status %d", r->status);
		else if (r->how != CLD_KILLED && r->how != CLD_DUMPED)
			snprintf(msg, sizeof msg, "ended with an unknown status");
		else {
			exec_signame(r->status, name, sizeof name);
			snprintf(msg, sizeof msg, "killed by signal %s%s", name,
			    r->how == CLD_DUMPED ? " (core dumped)" : "");
		}
		*error = exec_error_json("exit_status", msg, exec_outcome_json(r, 1));
		ok = 0;
	}
	log_debug("task %lld: pid %d %s", (long long)t->id, (int)r->pid, ok ? "exited 0" : msg);
	return ok;
}

/* The task ends, with the output its pipes hold now.  With detach, the
 * program has exited by itself and left processes in its group: the task
 * is done all the same (the contract: done when its main process exits),
 * and the run stays, detached from the task, only to stop the rest of the
 * group.  The task's row carries its leftover mark until then, so that a
 * start after a crash finds the group and kills it.  The pipes are closed:
 * what the leftovers write is no longer the task's, and a write to them
 * now ends the writer (SIGPIPE) all the sooner. */
static void
exec_end_task(struct exec_run *r, int detach)
{
	struct task     *t = r->t;
	struct kind_env  env = r->env;
	json_t          *result, *error;
	int              ok;

	ok = exec_outcome(r, &result, &error);
	if (detach) {
		exec_run_close_io(r);
		r->t = NULL;
		t->leftover = 1;
		log_debug("task %lld: done; stopping what it left in group %d", (long long)r->id,
		    (int)r->pid);
	} else
		exec_run_free(r);
	t->kstate = NULL;
	env.done(env.arg, t, ok, result, error);
}

/* Nothing of the group is left: free our state and tell the scheduler (of
 * the task's end, or, if it ended before, that its leftovers are gone). */
static void
exec_finish(struct exec_run *r)
{
	struct kind_env env = r->env;
	int64_t         id = r->id;

	if (r->t != NULL) {
		exec_end_task(r, 0);
		return;
	}
	exec_run_free(r);
	env.leftover_gone(env.arg, id);
}

/* Signal the whole group.  SIGCONT after SIGTERM, as systemd does, so a
 * stopped process gets to act on it rather than wait for SIGKILL. */
static void
exec_signal_group(struct exec_run *r, int sig)
{
	if (kill(-r->pid, sig) == -1 && errno != ESRCH)
		log_warn("task %lld: kill(-%d, %d): %s", (long long)r->id, (int)r->pid,
		    sig, strerror(errno));
	if (sig == SIGTERM) {
		kill(-r->pid, SIGCONT);
		r->term_sent = 1;
		r->term_ms = exec_mono_ms();
	} else if (sig == SIGKILL) {
		r->kill_sent = 1;
		r->kill_ms = exec_mono_ms();
	}
}

/* After the leader is reaped: finish when the group is empty, else SIGKILL
 * at the grace deadline and look again soon. */
static void
exec_check_group(struct exec_run *r)
{
	int64_t now, next;

	/* kill(-pgid, 0) is cheap and usually ESRCH; only when it is not do we
	 * look for members that are more than zombies waiting for init. */
	if ((kill(-r->pid, 0) == -1 && errno == ESRCH) || !exec_group_has_live(r->pid, &r->member)) {
		exec_finish(r);
		return;
	}
	/* Ended by itself: done.  Stopped (cancel, deadline): the answer
	 * says "cancelled" or "timeout" only once nothing of it runs. */
	if (r->t != NULL && r->t->stop == TASK_STOP_NONE)
		exec_end_task(r, 1);
	else
		exec_watch_output(r);   /* what is left of the group may still write */
	now = exec_mono_ms();
	if (!r->kill_sent && now >= r->term_ms + exec_grace_ms(r))
		exec_signal_group(r, SIGKILL);
	if (r->kill_sent && now >= r->kill_ms + EXEC_GIVEUP_MS) {
		log_warn("task %lld: process group %d survives SIGKILL; letting it go",
		    (long long)r->id, (int)r->pid);
		exec_finish(r);
		return;
	}
	r->poll_ms = r->poll_ms == 0 ? EXEC_POLL_MIN_MS : r->poll_ms * 2;
	if (r->poll_ms > EXEC_POLL_MAX_MS)
		r->poll_ms = EXEC_POLL_MAX_MS;
	next = r->poll_ms;
	if (!r->kill_sent && r->term_ms + exec_grace_ms(r) - now < next)
		next = r->term_ms + exec_grace_ms(r) - now;
	exec_timer_in(r, next);
}

static void
exec_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *r = arg;

	if (r->reaped)
		exec_check_group(r);
	else if (!r->kill_sent)
		exec_signal_group(r, SIGKILL);   /* grace is over; the pidfd does the rest */
}

static void
exec_pid_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exec_run *r = arg;
	siginfo_t        si;

	/* Whatever the leader left in its group is stopped like a cancel, and
	 * signalled before the reap, while its pgid cannot be reused. */
	if (!r->term_sent)
		exec_signal_group(r, SIGTERM);
	memset(&si, 0, sizeof si);
	if (waitid(P_PIDFD, (id_t)r->pidfd, &si, WEXITED | WNOHANG) == -1) {
		if (errno == EINTR)
			return;   /* EV_PERSIST: we come back */
		/* ECHILD: reaped behind our back (SIGCHLD set to SIG_IGN?).
		 * The status is lost; the task must still end. */
		log_err("task %lld: waitid(pid %d): %s", (long long)r->t->id, (int)r->pid,
		    strerror(errno));
		si.si_code = 0;
	} else if (si.si_pid == 0)
		return;
	r->reaped = 1;
	/* Dead, so off its spawn stack: whether it exec'd is known now. */
	exec_spawn_collect(&r->ctx->spawner);
	r->how = si.si_code;
	r->status = si.si_status;
	event_free(r->pid_ev);
	r->pid_ev = NULL;
	close(r->pidfd);
	r->pidfd = -1;
	exec_check_group(r);
}

static struct event *
exec_event(struct exec_run *r, int fd, short what, event_callback_fn cb, void *arg)
{
	struct event *ev;

	if ((ev = event_new(r->env.base, fd, what, cb, arg)) == NULL || event_add(ev, NULL) == -1)
		fatal("task %lld: cannot watch fd %d", (long long)r->t->id, fd);
	return ev;
}

/* t's run, its program spawned (held before its exec, or not), or with
 * r->why set if it could not be. */
static struct exec_run *
exec_run_new(struct task *t, const struct kind_env *env, int held)
{
	struct exec_run   *r;
	struct exec_child  c;
	char               why[512];
	int                i;

	if (env->ctx == NULL)
		fatal("the exec kind was not initialised");
	if ((r = calloc(1, sizeof *r)) == NULL)
		fatal("out of memory");
	r->t = t;
	r->id = t->id;
	r->env = *env;
	r->ctx = env->ctx;
	r->pidfd = r->in_fd = -1;
	for (i = 0; i < 2; i++) {
		free(t->out[i].data);
		memset(&t->out[i], 0, sizeof t->out[i]);
		r->out[i] = (struct exec_pipe){ .r = r, .b = &t->out[i], .fd = -1 };
	}
	LIST_INSERT_HEAD(&r->ctx->runs, r, entry);
	t->kstate = r;
	if (exec_child_start(t->spec, &r->ctx->base, &r->ctx->spawner, t->id, held,
	    &r->exec_errno, &c, why, sizeof why) == -1) {
		if ((r->why = strdup(why)) == NULL)
			fatal("out of memory");
		return r;
	}
	r->pid = c.pid;
	r->pidfd = c.pidfd;
	r->gate = c.gate;
	r->out[0].fd = c.out;
	r->out[1].fd = c.err;
	if ((r->in_fd = c.in) != -1)
		r->in_str = json_incref(json_object_get(t->spec, "stdin"));
	t->pgid = r->pid;
	return r;
}

/* Spawned before its start is committed, so that its process group is in
 * the same row as "running" (a restart finds and kills it, whenever jobd
 * died), and so that the child sets itself up while we commit.  It waits
 * before its exec for kind_exec_start: nothing runs that a crash could
 * forget. */
static void
kind_exec_prepare(struct task *t, const struct kind_env *env)
{
	/* Without a hold the program would run at once: start spawns it. */
	if (exec_spawn_can_hold())
		exec_run_new(t, env, 1);
}

static void
kind_exec_start(struct task *t, const struct kind_env *env)
{
	struct exec_run *r = t->kstate != NULL ? t->kstate : exec_run_new(t, env, 0);
	char            *why = r->why;

	if (why != NULL) {
		log_info("task %lld: %s", (long long)t->id, why);
		r->why = NULL;
		exec_run_free(r);
		t->kstate = NULL;
		env->done(env->arg, t, 0, NULL, exec_error_json("spawn_failed", why, NULL));
		free(why);
		return;
	}
	if (r->gate != NULL)
		exec_spawn_release(r->gate, r->pid);
	r->gate = NULL;
	r->pid_ev = exec_event(r, r->pidfd, EV_READ | EV_PERSIST, exec_pid_cb, r);
	/* Its exit frees the slot the next program waits for: before HTTP
	 * work (B3 while creates arrive: from the exit to the next program's
	 * release 300 -> 210 us on average). */
	event_priority_set(r->pid_ev, LOOP_PRIO_FIRST);
	exec_quiet_add(r);
	if (r->in_fd != -1) {
		if (exec_stdin_write(r))
			exec_stdin_close(r);
		else
			r->in_ev = exec_event(r, r->in_fd, EV_WRITE | EV_PERSIST, exec_stdin_cb, r);
	}
	log_debug("task %lld: started pid %d", (long long)t->id, (int)r->pid);
}

/* SIGTERM to the group now, SIGKILL when the grace is over; the pidfd and
 * the group polls finish the task once nothing of it is left. */
static void
kind_exec_cancel(struct task *t)
{
	struct exec_run *r = t->kstate;

	if (r == NULL || r->term_sent)
		return;   /* already on its way out */
	exec_signal_group(r, SIGTERM);
	exec_timer_in(r, exec_grace_ms(r));
}

/* After a restart: kill what an earlier run left of t's group, if it is
 * still there and still t's. */
static void
kind_exec_leftover(const struct task *t)
{
	pid_t pgid = (pid_t)t->pgid;

	if (t->pgid <= 0 || t->pgid_stale || !exec_group_is_ours(pgid, t->started_at))
		return;
	if (kill(-pgid, SIGKILL) == 0)
		log_info("task %lld: killed process group %d left by the previous run",
		    (long long)t->id, (int)pgid);
}

/* A run cannot be taken over after a restart (we are not its parent and its
 * pipes are gone): kill what is left of it and let it end "interrupted". */
static int
kind_exec_resume(struct task *t, const struct kind_env *env)
{
	kind_exec_leftover(t);
	return -1;
}

/* What the program's outcome would have carried, as far as it is known:
 * no exit status, and the output captured before jobd stopped. */
static json_t *
kind_exec_lost_members(const struct task *t)
{
	return json_pack("{s:n, s:n, s:o, s:o, s:b, s:b}", "exit_code", "signal",
	    "stdout", exec_output_json(&t->out[0]), "stderr", exec_output_json(&t->out[1]),
	    "stdout_truncated", t->out[0].truncated, "stderr_truncated", t->out[1].truncated);
}

static int
kind_exec_slots(const struct jobd_config *cfg)
{
	return cfg->max_exec;
}

static int
kind_exec_parse(const json_t *in, json_t **out, struct err *e)
{
	if (exec_spec_check(in, e) == -1)
		return -1;
	if ((*out = json_deep_copy(in)) == NULL)
		fatal("out of memory");
	return 0;
}

static int
kind_exec_init(struct kind_env *env)
{
	struct exec_ctx *ctx;

	if ((ctx = calloc(1, sizeof *ctx)) == NULL)
		fatal("out of memory");
	exec_base_init(&ctx->base);
	if (exec_spawner_init(&ctx->spawner, env->cfg->nofile_soft) == -1) {
		log_err("exec: cannot set up spawning: %s", strerror(errno));
		exec_base_clear(&ctx->base);
		free(ctx);
		return -1;
	}
	LIST_INIT(&ctx->runs);
	TAILQ_INIT(&ctx->quiet);
	if ((ctx->quiet_ev = evtimer_new(env->base, exec_quiet_cb, ctx)) == NULL)
		fatal("out of memory");
	env->ctx = ctx;
	return 0;
}

/* Shutdown with a program still running: nothing of ours may outlive us
 * unwatched, so its group is killed and its leader reaped (briefly: a
 * process stuck in the kernel is left to init).  The task stays "running"
 * in the database and ends "interrupted" at the next start.  Also a held
 * child's end, when its task stops before it starts. */
static void
exec_run_abort(struct exec_run *r)
{
	struct pollfd pfd = { .fd = r->pidfd, .events = POLLIN };
	siginfo_t     si;

	if (r->pid <= 0) {   /* never spawned */
		exec_run_free(r);
		return;
	}
	log_info("killing process group %d", (int)r->pid);
	kill(-r->pid, SIGKILL);
	/* And the leader itself: a child stopped before it ran may not have
	 * made its group yet (setsid is its first call), and then waits at its
	 * gate for good.  Unreaped, its pid is still ours to signal. */
	if (!r->reaped)
		kill(r->pid, SIGKILL);
	if (!r->reaped && r->pidfd != -1 && poll(&pfd, 1, 1000) == 1)
		waitid(P_PIDFD, (id_t)r->pidfd, &si, WEXITED | WNOHANG);
	exec_run_free(r);
}

static void
kind_exec_release(struct task *t)
{
	struct exec_run *r = t->kstate;

	if (r == NULL)
		return;
	exec_run_abort(r);
	t->kstate = NULL;
}

static void
kind_exec_fini(struct kind_env *env)
{
	struct exec_ctx *ctx = env->ctx;
	struct exec_run *r;

	if (ctx == NULL)
		return;
	while ((r = LIST_FIRST(&ctx->runs)) != NULL)
		exec_run_abort(r);   /* only if the scheduler did not release it */
	exec_base_clear(&ctx->base);
	exec_spawner_clear(&ctx->spawner);
	event_free(ctx->quiet_ev);
	free(ctx);
	env->ctx = NULL;
}

const struct kind_ops kind_exec_ops = {
	.name = "exec",
	.init = kind_exec_init,
	.fini = kind_exec_fini,
	.parse = kind_exec_parse,
	.prepare = kind_exec_prepare,
	.start = kind_exec_start,
	.cancel = kind_exec_cancel,
	.resume = kind_exec_resume,
	.leftover = kind_exec_leftover,
	.lost_members = kind_exec_lost_members,
	.release = kind_exec_release,
	.slots = kind_exec_slots,
};
