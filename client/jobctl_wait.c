/* jobctl_wait.c: the verbs that block: result, wait, gather. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jobctl.h"

#define JC_POLL_GAP	0.25	/* seconds between progress polls, at least */

enum {
	OPT_NO_CANCEL = JC_OPT_VERB,
	OPT_RETURN_WHEN,
	OPT_RETURN_EXCEPTIONS
};

/* When a progress loop may stop before every task is done. */
enum jc_until {
	JC_UNTIL_ALL,		/* every task done */
	JC_UNTIL_FIRST,		/* one task done */
	JC_UNTIL_FAILED,	/* one task failed (FIRST_EXCEPTION) */
	JC_UNTIL_NOT_OK		/* one task failed or was cancelled (gather) */
};

static const struct {
	const char	*name;
	const char	*api;
	enum jc_until	 until;
} jc_return_when[] = {
	{ "all", "ALL_COMPLETED", JC_UNTIL_ALL },
	{ "first", "FIRST_COMPLETED", JC_UNTIL_FIRST },
	{ "exception", "FIRST_EXCEPTION", JC_UNTIL_FAILED },
};

/* The ids of a wait or gather: as given, and sorted without duplicates. */
struct jc_idset {
	long long	*given;
	size_t		 n;
	long long	*uniq;
	size_t		 nuniq;
	const char	**state;	/* per uniq entry, once known; borrowed */
	json_t		*tasks;		/* owns what state points into */
};

struct jc_wait_opts {
	struct jc_dur	 timeout;
	int		 rw;		/* index in jc_return_when */
	int		 return_exceptions;
	int		 no_cancel;
};

static double
jc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
jc_cmp_id(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static size_t
jc_idset_find(const struct jc_idset *s, long long id)
{
	long long *p = bsearch(&id, s->uniq, s->nuniq, sizeof id, jc_cmp_id);

	return p != NULL ? (size_t)(p - s->uniq) : s->nuniq;
}

static int
jc_idset_parse(struct jobctl *jc, int argc, char **argv, struct jc_idset *s)
{
	size_t i;

	memset(s, 0, sizeof *s);
	if (optind == argc)
		return jc_usage_error(jc, "no task id given");
	s->n = (size_t)(argc - optind);
	if ((s->given = calloc(s->n, sizeof *s->given)) == NULL ||
	    (s->uniq = calloc(s->n, sizeof *s->uniq)) == NULL ||
	    (s->state = calloc(s->n, sizeof *s->state)) == NULL ||
	    (s->tasks = json_array()) == NULL)
		abort();
	for (i = 0; i < s->n; i++)
		if (jc_parse_id(jc, argv[optind + (int)i], &s->given[i]) == -1)
			return JC_EXIT_USAGE;
	memcpy(s->uniq, s->given, s->n * sizeof *s->given);
	qsort(s->uniq, s->n, sizeof *s->uniq, jc_cmp_id);
	for (i = 0; i < s->n; i++)
		if (s->nuniq == 0 || s->uniq[s->nuniq - 1] != s->uniq[i])
			s->uniq[s->nuniq++] = s->uniq[i];
	return JC_CONTINUE;
}

static void
jc_idset_free(struct jc_idset *s)
{
	free(s->given);
	free(s->uniq);
	free(s->state);
	json_decref(s->tasks);
}

static json_t *
jc_id_array(const long long *ids, size_t n)
{
	json_t	*a = json_array();
	size_t	 i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	return a;
}

/* Learn the state of task id (GET); NULL if jobd would not say. */
static const char *
jc_idset_state(struct jobctl *jc, struct jc_idset *s, long long id)
{
	struct jc_resp	 r;
	size_t		 i = jc_idset_find(s, id);
	char		 path[64];

	if (i == s->nuniq)
		return NULL;
	if (s->state[i] != NULL)
		return s->state[i];
	snprintf(path, sizeof path, "/v1/tasks/%lld", id);
	if (jc_request(jc, "GET", path, NULL, &r) != JC_REQ_OK)
		return NULL;
	if (r.status == 200 && json_is_string(json_object_get(r.json, "state"))) {
		json_array_append(s->tasks, r.json);
		s->state[i] = json_string_value(json_object_get(r.json, "state"));
	}
	jc_resp_free(&r);
	return s->state[i];
}

/* Does this state end a progress loop early? */
static int
jc_until_met(enum jc_until until, const char *state)
{
	if (state == NULL || until == JC_UNTIL_ALL)
		return 0;
	if (until == JC_UNTIL_FIRST)
		return 1;
	return strcmp(state, "failed") == 0 ||
	    (until == JC_UNTIL_NOT_OK && strcmp(state, "cancelled") == 0);
}

static void
jc_pause(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/*
 * Show "3/10 done" on a terminal while waiting: /v1/wait FIRST_COMPLETED
 * on the tasks not yet done, until all are done, until's condition holds,
 * or the deadline (0: none) passes. The caller then makes the real call,
 * which answers at once. Any trouble ends the loop: the real call reports.
 */
static void
jc_progress(struct jobctl *jc, struct jc_idset *s, enum jc_until until,
    double deadline)
{
	struct jc_resp	 r;
	json_t		*pending = jc_id_array(s->uniq, s->nuniq), *body, *v;
	double		 last = 0, rem = 0;
	size_t		 i;
	int		 met = 0;

	while (!met && json_array_size(pending) > 0) {
		jc_out_progress(jc, s->nuniq - json_array_size(pending), s->nuniq);
		/* Let finishes pile up a little: one call per gap, not per task. */
		jc_pause(last + JC_POLL_GAP - jc_now());
		if (deadline > 0 && (rem = deadline - jc_now()) <= 0)
			break;
		body = json_pack("{s:O,s:s}", "ids", pending, "return_when",
		    "FIRST_COMPLETED");
		if (deadline > 0)
			json_object_set_new(body, "timeout", json_real(rem));
		last = jc_now();
		if (jc_request(jc, "POST", "/v1/wait", body, &r) != JC_REQ_OK) {
			json_decref(body);
			break;
		}
		json_decref(body);
		if (r.status != 200 ||
		    !json_is_array(json_object_get(r.json, "pending"))) {
			jc_resp_free(&r);
			break;
		}
		json_array_foreach(json_object_get(r.json, "done"), i, v)
			if (until != JC_UNTIL_ALL && jc_until_met(until,
			    jc_idset_state(jc, s, json_integer_value(v))))
				met = 1;
		json_decref(pending);
		pending = json_incref(json_object_get(r.json, "pending"));
		jc_resp_free(&r);
	}
	if (!met)
		jc_out_progress(jc, s->nuniq - json_array_size(pending), s->nuniq);
	jc_out_progress_end(jc);
	json_decref(pending);
}

/* The "timeout" member of the real call: what is left of --timeout. */
static void
jc_set_timeout(json_t *body, const struct jc_wait_opts *o, double deadline,
    int progressed)
{
	double rem;

	if (o->timeout.text == NULL)
		return;
	if (!progressed) {
		json_object_set_new(body, "timeout", jc_dur_json(&o->timeout));
		return;
	}
	rem = deadline - jc_now();
	json_object_set_new(body, "timeout", json_real(rem > 0 ? rem : 0));
}

static int
jc_wait_opts(struct jobctl *jc, int argc, char **argv, struct jc_wait_opts *o)
{
	static const struct option opts[] = {
		JC_COMMON_OPTIONS,
		{ "timeout", required_argument, NULL, JC_OPT_TIMEOUT },
		{ "no-cancel", no_argument, NULL, OPT_NO_CANCEL },
		{ "return-when", required_argument, NULL, OPT_RETURN_WHEN },
		{ "return-exceptions", no_argument, NULL, OPT_RETURN_EXCEPTIONS },
		{ 0 }
	};
	/* Which of the options above each verb takes. */
	const int	 is_wait = strcmp(jc->verb->name, "wait") == 0;
	const int	 is_gather = strcmp(jc->verb->name, "gather") == 0;
	size_t		 i;
	int		 c, rc;

	memset(o, 0, sizeof *o);
	while ((c = jc_getopt(jc, argc, argv, ":h", opts, &rc)) != -1) {
		if (c == JC_OPT_TIMEOUT) {
			if (jc_parse_dur(jc, "--timeout", optarg, &o->timeout) == -1)
				return JC_EXIT_USAGE;
		} else if (c == OPT_NO_CANCEL && !is_wait)
			o->no_cancel = 1;
		else if (c == OPT_RETURN_EXCEPTIONS && is_gather)
			o->return_exceptions = 1;
		else if (c == OPT_RETURN_WHEN && is_wait) {
			for (i = 0; i < 3; i++)
				if (strcasecmp(optarg, jc_return_when[i].name) == 0 ||
				    strcasecmp(optarg, jc_return_when[i].api) == 0)
					break;
			if (i == 3)
				return jc_usage_error(jc, "--return-when: '%s' is "
				    "not first, exception or all", optarg);
			o->rw = (int)i;
		} else
			return jc_usage_error(jc, "unknown option '%s'",
			    argv[optind - 1]);
	}
	return rc;
}

static void
jc_result_timeout(struct jobctl *jc, long long id, const struct jc_resp *r,
    const struct jc_wait_opts *o)
{
	const char *state = json_string_value(json_object_get(
	    json_object_get(r->json, "task"), "state"));

	if (jc->json)
		jc_out_raw(r);
	if (state != NULL && strcmp(state, "cancelled") == 0)
		jc_warn("task %lld: not done after %s s, cancelled", id,
		    o->timeout.text);
	else
		jc_warn("task %lld: not done after %s s (still %s)", id,
		    o->timeout.text, state != NULL ? state : "running");
}

/* The answer of GET .../result: the task, done, whatever its state. */
static int
jc_result_done(struct jobctl *jc, long long id, const struct jc_resp *r)
{
	const char *state = json_string_value(json_object_get(r->json, "state"));

	if (jc->json)
		jc_out_raw(r);
	if (state != NULL && strcmp(state, "succeeded") == 0) {
		if (!jc->json)
			jc_out_value(jc, json_object_get(r->json, "result"));
		return JC_EXIT_OK;
	}
	jc_out_error_line(NULL, id, r->json);
	return JC_EXIT_TASK;
}

int
jc_cmd_result(struct jobctl *jc, int argc, char **argv)
{
	struct jc_wait_opts	o;
	struct jc_resp		r;
	long long		id;
	char			path[128], what[48];
	int			rc;

	if ((rc = jc_wait_opts(jc, argc, argv, &o)) != JC_CONTINUE)
		return rc;
	if (argc - optind != 1)
		return jc_usage_error(jc, optind == argc ? "no task id given" :
		    "one task id only");
	if (jc_parse_id(jc, argv[optind], &id) == -1)
		return JC_EXIT_USAGE;
	snprintf(path, sizeof path, "/v1/tasks/%lld/result%s%s%s", id,
	    o.timeout.text != NULL ? "?timeout=" : "",
	    o.timeout.text != NULL ? o.timeout.text : "",
	    !o.no_cancel ? "" : o.timeout.text != NULL ? "&cancel=false" :
	    "?cancel=false");
	snprintf(what, sizeof what, "task %lld", id);
	if ((rc = jc_request(jc, "GET", path, NULL, &r)) != JC_REQ_OK)
		return rc;
	if (r.status == 200 && json_is_object(r.json))
		rc = jc_result_done(jc, id, &r);
	else if (r.status == 504 && json_is_object(json_object_get(r.json, "task"))) {
		jc_result_timeout(jc, id, &r, &o);
		rc = JC_EXIT_TIMEOUT;
	} else
		rc = jc_fail(jc, what, &r);
	jc_resp_free(&r);
	return rc;
}

/* After /v1/wait: did the condition hold, and did a done task fail? */
static int
jc_wait_outcome(struct jobctl *jc, struct jc_idset *s, const json_t *ans,
    int rw)
{
	const json_t	*done = json_object_get(ans, "done"), *v;
	const char	*state;
	size_t		 i;
	size_t		 bad = 0;
	int		 failed = 0;

	json_array_foreach(done, i, v) {
		state = jc_idset_state(jc, s, json_integer_value(v));
		if (state == NULL || strcmp(state, "succeeded") != 0)
			bad++;
		if (state != NULL && strcmp(state, "failed") == 0)
			failed = 1;
	}
	if (json_array_size(json_object_get(ans, "pending")) > 0 &&
	    (jc_return_when[rw].until == JC_UNTIL_ALL ||
	    (jc_return_when[rw].until == JC_UNTIL_FIRST &&
	    json_array_size(done) == 0) ||
	    (jc_return_when[rw].until == JC_UNTIL_FAILED && !failed))) {
		jc_warn("wait timed out: %zu of %zu tasks not done",
		    json_array_size(json_object_get(ans, "pending")), s->nuniq);
		return JC_EXIT_TIMEOUT;
	}
	if (bad == 0)
		return JC_EXIT_OK;
	jc_warn("%zu of %zu tasks failed or were cancelled", bad, s->nuniq);
	return JC_EXIT_TASK;
}

/* ID STATE, each task once, in the order given. */
static void
jc_wait_print(struct jobctl *jc, struct jc_idset *s)
{
	struct jc_table	*t = jc_table_new(2, "ID", "STATE");
	unsigned char	*shown = calloc(s->nuniq, 1);
	char		 id[32];
	size_t		 i, k;

	if (shown == NULL)
		abort();
	for (i = 0; i < s->n; i++) {
		k = jc_idset_find(s, s->given[i]);
		if (shown[k]++)
			continue;
		snprintf(id, sizeof id, "%lld", s->given[i]);
		jc_table_add(t, id, jc_idset_state(jc, s, s->given[i]));
	}
	jc_table_print(t, 0);
	jc_table_free(t);
	free(shown);
}

int
jc_cmd_wait(struct jobctl *jc, int argc, char **argv)
{
	struct jc_wait_opts	 o;
	struct jc_idset		 s;
	struct jc_resp		 r;
	json_t			*body = NULL;
	double			 deadline = 0;
	int			 rc;

	memset(&s, 0, sizeof s);
	if ((rc = jc_wait_opts(jc, argc, argv, &o)) != JC_CONTINUE ||
	    (rc = jc_idset_parse(jc, argc, argv, &s)) != JC_CONTINUE)
		goto out;
	if (o.timeout.text != NULL)
		deadline = jc_now() + o.timeout.value;
	if (jc->err_tty)
		jc_progress(jc, &s, jc_return_when[o.rw].until, deadline);
	body = json_pack("{s:o,s:s}", "ids", jc_id_array(s.given, s.n),
	    "return_when", jc_return_when[o.rw].api);
	jc_set_timeout(body, &o, deadline, jc->err_tty);
	if ((rc = jc_request(jc, "POST", "/v1/wait", body, &r)) != JC_REQ_OK)
		goto out;
	if (r.status != 200 || !json_is_array(json_object_get(r.json, "done"))) {
		rc = jc_fail(jc, NULL, &r);
		jc_resp_free(&r);
		goto out;
	}
	if (jc->json)
		jc_out_raw(&r);
	rc = jc_wait_outcome(jc, &s, r.json, o.rw);
	if (!jc->json)
		jc_wait_print(jc, &s);
	jc_resp_free(&r);
out:
	json_decref(body);
	jc_idset_free(&s);
	return rc;
}

/* ID STATE RESULT for each position of a gather. */
static void
jc_gather_print(struct jobctl *jc, const struct jc_idset *s, const json_t *ans)
{
	struct jc_table	*t = jc_table_new(3, "ID", "STATE", "RESULT");
	const json_t	*states = json_object_get(ans, "states");
	char		 id[32], *brief;
	size_t		 i;

	for (i = 0; i < s->n; i++) {
		snprintf(id, sizeof id, "%lld", s->given[i]);
		brief = jc_out_brief(json_array_get(json_object_get(ans,
		    "results"), i), 0);
		jc_table_add(t, id, json_string_value(json_array_get(states, i)),
		    brief);
		free(brief);
	}
	jc_table_print(t, jc->out_tty);
	jc_table_free(t);
}

static int
jc_gather_answer(struct jobctl *jc, const struct jc_idset *s,
    const struct jc_resp *r, const struct jc_wait_opts *o)
{
	const json_t	*task = json_object_get(r->json, "task"), *v;
	size_t		 i, bad = 0;

	if (r->status == 200 && json_is_array(json_object_get(r->json, "states"))) {
		json_array_foreach(json_object_get(r->json, "states"), i, v)
			if (!json_is_string(v) ||
			    strcmp(json_string_value(v), "succeeded") != 0)
				bad++;
		if (jc->json)
			jc_out_raw(r);
		else
			jc_gather_print(jc, s, r->json);
		if (bad == 0)
			return JC_EXIT_OK;
		jc_warn("%zu of %zu tasks failed or were cancelled", bad, s->n);
		return JC_EXIT_TASK;
	}
	if (r->status == 424 && json_is_object(task)) {
		if (jc->json)
			jc_out_raw(r);
		jc_out_error_line(NULL, json_integer_value(json_object_get(task,
		    "id")), task);
		return JC_EXIT_TASK;
	}
	if (r->status == 504 && json_is_array(json_object_get(r->json, "tasks"))) {
		if (jc->json)
			jc_out_raw(r);
		jc_warn("gather: not done after %s s%s", o->timeout.text,
		    o->no_cancel ? "" : ", unfinished tasks cancelled");
		return JC_EXIT_TIMEOUT;
	}
	return jc_fail(jc, NULL, r);
}

int
jc_cmd_gather(struct jobctl *jc, int argc, char **argv)
{
	struct jc_wait_opts	 o;
	struct jc_idset		 s;
	struct jc_resp		 r;
	json_t			*body = NULL;
	double			 deadline = 0;
	int			 rc;

	memset(&s, 0, sizeof s);
	if ((rc = jc_wait_opts(jc, argc, argv, &o)) != JC_CONTINUE ||
	    (rc = jc_idset_parse(jc, argc, argv, &s)) != JC_CONTINUE)
		goto out;
	if (o.timeout.text != NULL)
		deadline = jc_now() + o.timeout.value;
	if (jc->err_tty)
		jc_progress(jc, &s, o.return_exceptions ? JC_UNTIL_ALL :
		    JC_UNTIL_NOT_OK, deadline);
	body = json_pack("{s:o,s:b,s:b}", "ids", jc_id_array(s.given, s.n),
	    "return_exceptions", o.return_exceptions, "cancel", !o.no_cancel);
	jc_set_timeout(body, &o, deadline, jc->err_tty);
	if ((rc = jc_request(jc, "POST", "/v1/gather", body, &r)) != JC_REQ_OK)
		goto out;
	rc = jc_gather_answer(jc, &s, &r, &o);
	jc_resp_free(&r);
out:
	json_decref(body);
	jc_idset_free(&s);
	return rc;
}
