/* jobctl_run.c: run a program through jobd as if it ran here. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobctl.h"

/*
 * The one mutable global: a signal handler can reach nothing else. It holds
 * the number of the signal that asked run to stop, or 0.
 */
static volatile sig_atomic_t jc_run_signal;

/* The first signal asks for a cancel; a second one, of any of the three
 * kinds, kills jobctl at once (signal() and raise() are async-signal-safe;
 * the raised signal is delivered when the handler returns). */
static void
jc_run_on_signal(int sig)
{
	if (jc_run_signal != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	jc_run_signal = sig;
}

/*
 * Ctrl-C, SIGTERM (systemd stopping a unit) and SIGHUP (terminal gone)
 * cancel the task. No SA_RESTART: the blocking wait must see it.
 */
static void
jc_run_signals(struct jobctl *jc)
{
	static const int	sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction	sa;
	size_t			i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = jc_run_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
	jc->stop = &jc_run_signal;
}

/* A signal's number from its name ("SIGKILL"), 0 if unknown. */
static int
jc_signum(const char *name)
{
	const char	*abbrev;
	int		 i;

	if (name == NULL)
		return 0;
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 1; i < NSIG; i++)
		if ((abbrev = sigabbrev_np(i)) != NULL && strcmp(abbrev, name) == 0)
			return i;
	return 0;
}

/* Copy what the task wrote on one stream to ours, byte for byte; -1 when
 * it could not be written (a full disk, a closed pipe with SIGPIPE ignored). */
static int
jc_run_copy(struct jobctl *jc, long long id, const char *stream, FILE *to,
    const json_t *out)
{
	struct jc_resp	r;
	char		path[80], key[32];
	int		rc = 0;

	snprintf(path, sizeof path, "/v1/tasks/%lld/%s", id, stream);
	if (jc_request(jc, "GET", path, NULL, &r) != JC_REQ_OK)
		return 0;
	if (r.status == 200 && fwrite(r.body, 1, r.len, to) != r.len)
		rc = -1;
	else if (r.status != 200 && r.status != 404)	/* 404: never ran */
		jc_fail(jc, "task output", &r);
	if (fflush(to) != 0 || ferror(to))
		rc = -1;
	if (rc == -1)
		jc_warn("task %lld: writing its %s: %s", id, stream,
		    strerror(errno));
	jc_resp_free(&r);
	snprintf(key, sizeof key, "%s_truncated", stream);
	if (json_is_true(json_object_get(out, key)))
		jc_warn("task %lld: %s was cut at jobd's --max-output", id, stream);
	return rc;
}

/* Print the done task: its output, or with --json the task object. -1 when
 * it could not be written: the status must not then say all went well. */
static int
jc_run_output(struct jobctl *jc, long long id, const json_t *task)
{
	const json_t	*out = json_object_get(task, "result");
	char		*s;
	int		 rc = 0;

	if (jc->json) {
		s = json_dumps(task, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s == NULL || puts(s) == EOF || fflush(stdout) != 0) {
			jc_warn("writing output: %s", strerror(errno));
			rc = -1;
		}
		free(s);
		return rc;
	}
	if (!json_is_object(out))
		out = json_object_get(task, "error");
	if (jc_run_copy(jc, id, "stdout", stdout, out) == -1)
		rc = -1;
	if (jc_run_copy(jc, id, "stderr", stderr, out) == -1)
		rc = -1;
	return rc;
}

/* The exit status a shell would give: the program's own, or 128+signal. */
static int
jc_run_status(long long id, const json_t *task)
{
	const json_t	*error = json_object_get(task, "error");
	const char	*state = json_string_value(json_object_get(task, "state"));
	const char	*type = json_string_value(json_object_get(error, "type"));
	const char	*sig;

	if (state != NULL && strcmp(state, "succeeded") == 0)
		return JC_EXIT_OK;
	if (type != NULL && strcmp(type, "exit_status") == 0) {
		if (json_is_integer(json_object_get(error, "exit_code")))
			return (int)json_integer_value(json_object_get(error,
			    "exit_code")) & 0xff;
		sig = json_string_value(json_object_get(error, "signal"));
		jc_warn("task %lld: killed by %s", id, sig != NULL ? sig : "a signal");
		return 128 + jc_signum(sig);
	}
	jc_out_error_line(NULL, id, task);
	if (type != NULL && strcmp(type, "timeout") == 0)
		return JC_EXIT_TIMEOUT;
	if (type != NULL && strcmp(type, "spawn_failed") == 0)
		return 127;	/* as a shell for a command it cannot run */
	return JC_EXIT_TASK;
}

/* Interrupted: cancel the task, show what it wrote, exit 128+signal. */
static int
jc_run_cancel(struct jobctl *jc, long long id, int *own)
{
	struct jc_resp	 r;
	const json_t	*task;
	char		 path[64], what[48];
	int		 sig = jc_run_signal, rc;

	snprintf(path, sizeof path, "/v1/tasks/%lld/cancel", id);
	snprintf(what, sizeof what, "task %lld", id);
	if ((rc = jc_request(jc, "POST", path, NULL, &r)) != JC_REQ_OK)
		return rc;
	/* 409: it finished first; its output is just as worth showing. */
	task = r.status == 409 ? json_object_get(r.json, "task") : r.json;
	if ((r.status == 200 || r.status == 409) && json_is_object(task)) {
		rc = jc_run_output(jc, id, task) == -1 ? JC_EXIT_SERVER : 128 + sig;
		jc_warn("task %lld: %s", id, r.status == 200 ? "cancelled" :
		    "already done, not cancelled");
		*own = rc == JC_EXIT_SERVER;
	} else
		rc = jc_fail(jc, what, &r);
	jc_resp_free(&r);
	return rc;
}

/* Wait for the task; on a signal, cancel it.  *own is set when the
 * status is jobctl's own failure, not the program's. */
static int
jc_run_wait(struct jobctl *jc, long long id, int *own)
{
	struct jc_resp	r;
	char		path[64], what[48];
	int		rc;

	*own = 1;
	if (jc_run_signal != 0)
		return jc_run_cancel(jc, id, own);
	snprintf(path, sizeof path, "/v1/tasks/%lld/result", id);
	snprintf(what, sizeof what, "task %lld", id);
	jc->interruptible = 1;
	rc = jc_request(jc, "GET", path, NULL, &r);
	jc->interruptible = 0;
	if (rc == JC_REQ_INTR)
		return jc_run_cancel(jc, id, own);
	if (rc != JC_REQ_OK) {
		jc_warn("task %lld may still be running", id);
		return rc;
	}
	if (r.status == 200 && json_is_object(r.json)) {
		if (jc_run_output(jc, id, r.json) == -1)
			rc = JC_EXIT_SERVER;	/* *own: exit 255 */
		else {
			rc = jc_run_status(id, r.json);
			*own = 0;
		}
	} else
		rc = jc_fail(jc, what, &r);
	jc_resp_free(&r);
	return rc;
}

int
jc_cmd_run(struct jobctl *jc, int argc, char **argv)
{
	static const struct option opts[] = {
		JC_COMMON_OPTIONS, JC_EXEC_OPTIONS, { 0 }
	};
	struct jc_exec_opts	o;
	struct jc_resp		r;
	long long		id;
	int			c, rc, own = 1;

	jc_exec_opts_init(&o);
	while ((c = jc_getopt(jc, argc, argv, "+:h", opts, &rc)) != -1)
		if ((rc = jc_exec_opt(jc, &o, c, optarg)) != 0)
			break;
	if (rc != JC_CONTINUE || (rc = jc_exec_argv(jc, &o, argc, argv)) != 0)
		goto out;
	/* Before the create: a Ctrl-C from now on must not lose the task. */
	jc_run_signals(jc);
	if ((rc = jc_create(jc, o.body, &id, &r)) != 0)
		goto out;
	jc_resp_free(&r);
	rc = jc_run_wait(jc, id, &own);
out:
	json_decref(o.body);
	/* The program's status is run's own: jobctl's failures (a bad command
	 * line, jobd unreachable or refusing) must not pass for one, as ssh's
	 * do not. */
	return rc != JC_EXIT_OK && own ? JC_EXIT_RUN : rc;
}
