/* jobctl_tasks.c: verbs on existing tasks: get, ls, cancel, rm, stdout, stderr. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobctl.h"

#define JC_PAGE_MAX	1000	/* the most GET /v1/tasks returns at once */

enum {
	OPT_STATE = JC_OPT_VERB,
	OPT_KIND,
	OPT_LIMIT,
	OPT_AFTER
};

/* The IDs after the options (common ones only): all valid, at least one. */
static int
jc_ids(struct jobctl *jc, int argc, char **argv, long long **ids, size_t *n,
    int one)
{
	int c, rc, i;

	*ids = NULL;
	*n = 0;
	c = jc_getopt(jc, argc, argv, ":h", NULL, &rc);
	if (c != -1 || rc != JC_CONTINUE)
		return rc;
	if (optind == argc)
		return jc_usage_error(jc, "no task id given");
	if (one && argc - optind > 1)
		return jc_usage_error(jc, "one task id only");
	if ((*ids = calloc((size_t)(argc - optind), sizeof **ids)) == NULL)
		abort();
	for (i = optind; i < argc; i++)
		if (jc_parse_id(jc, argv[i], &(*ids)[(*n)++]) == -1)
			return JC_EXIT_USAGE;
	return JC_CONTINUE;
}

int
jc_cmd_get(struct jobctl *jc, int argc, char **argv)
{
	struct jc_resp	 r;
	long long	*id;
	size_t		 n;
	char		 path[64], what[48];
	int		 rc;

	if ((rc = jc_ids(jc, argc, argv, &id, &n, 1)) != JC_CONTINUE)
		goto out;
	snprintf(path, sizeof path, "/v1/tasks/%lld", id[0]);
	snprintf(what, sizeof what, "task %lld", id[0]);
	if ((rc = jc_request(jc, "GET", path, NULL, &r)) != JC_REQ_OK)
		goto out;
	if (r.status != 200 || r.json == NULL)
		rc = jc_fail(jc, what, &r);
	else if (jc->json)
		jc_out_raw(&r);
	else
		jc_out_task(r.json);
	jc_resp_free(&r);
out:
	free(id);
	return rc;
}

struct jc_ls {
	const char	*state;
	const char	*kind;
	long long	 limit;		/* 0: all */
	long long	 after;		/* 0: from the start */
};

/* --limit N: a positive count (any size: ls pages through). */
static int
jc_ls_limit(struct jobctl *jc, const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0 || *out < 1) {
		jc_usage_error(jc, "--limit: '%s' is not a positive number", s);
		return -1;
	}
	return 0;
}

static int
jc_ls_opts(struct jobctl *jc, int argc, char **argv, struct jc_ls *ls)
{
	static const struct option opts[] = {
		JC_COMMON_OPTIONS,
		{ "state", required_argument, NULL, OPT_STATE },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "after", required_argument, NULL, OPT_AFTER },
		{ 0 }
	};
	int c, rc;

	while ((c = jc_getopt(jc, argc, argv, ":h", opts, &rc)) != -1) {
		if (c == OPT_STATE)
			ls->state = optarg;
		else if (c == OPT_KIND)
			ls->kind = optarg;
		else if (c == OPT_LIMIT && jc_ls_limit(jc, optarg, &ls->limit) == -1)
			return JC_EXIT_USAGE;
		else if (c == OPT_AFTER && strcmp(optarg, "0") == 0)
			ls->after = 0;		/* from the first task */
		else if (c == OPT_AFTER && jc_parse_id(jc, optarg, &ls->after) == -1)
			return JC_EXIT_USAGE;
	}
	if (rc == JC_CONTINUE && optind < argc)
		return jc_usage_error(jc, "unexpected argument '%s'", argv[optind]);
	return rc;
}

/* The path of one page of GET /v1/tasks; the caller frees it. */
static char *
jc_ls_path(const struct jc_ls *ls, long long page, long long after)
{
	char	*s = NULL, *v;
	size_t	 len;
	FILE	*f;

	if ((f = open_memstream(&s, &len)) == NULL)
		abort();
	fprintf(f, "/v1/tasks?limit=%lld", page);
	if (after > 0)
		fprintf(f, "&after_id=%lld", after);
	if (ls->state != NULL && (v = jc_escape(ls->state)) != NULL) {
		fprintf(f, "&state=%s", v);
		free(v);
	}
	if (ls->kind != NULL && (v = jc_escape(ls->kind)) != NULL) {
		fprintf(f, "&kind=%s", v);
		free(v);
	}
	fclose(f);
	return s;
}

static void
jc_ls_print(struct jobctl *jc, const json_t *tasks)
{
	struct jc_table	*t;
	const json_t	*task;
	size_t		 i;
	char		 id[32], *what;

	t = jc_table_new(6, "ID", "STATE", "KIND", "CREATED", "NAME", "WHAT");
	json_array_foreach(tasks, i, task) {
		snprintf(id, sizeof id, "%lld",
		    (long long)json_integer_value(json_object_get(task, "id")));
		what = jc_out_what(task);
		jc_table_add(t, id,
		    json_string_value(json_object_get(task, "state")),
		    json_string_value(json_object_get(task, "kind")),
		    json_string_value(json_object_get(task, "created_at")),
		    json_string_value(json_object_get(task, "name")), what);
		free(what);
	}
	jc_table_print(t, jc->out_tty);
	jc_table_free(t);
}

/* Every matching task (or --limit of them), page by page. */
int
jc_cmd_ls(struct jobctl *jc, int argc, char **argv)
{
	struct jc_ls	 ls = { NULL, NULL, 0, 0 };
	struct jc_resp	 r;
	json_t		*all = json_array(), *next = json_null(), *out;
	long long	 page, after;
	char		*path;
	int		 rc, pages = 0;

	if ((rc = jc_ls_opts(jc, argc, argv, &ls)) != JC_CONTINUE)
		goto out;
	for (after = ls.after;; pages++) {
		page = JC_PAGE_MAX;
		if (ls.limit > 0 && ls.limit - (long long)json_array_size(all) < page)
			page = ls.limit - (long long)json_array_size(all);
		path = jc_ls_path(&ls, page, after);
		rc = jc_request(jc, "GET", path, NULL, &r);
		free(path);
		if (rc != JC_REQ_OK)
			goto out;
		if (r.status != 200 ||
		    !json_is_array(json_object_get(r.json, "tasks"))) {
			rc = jc_fail(jc, NULL, &r);
			jc_resp_free(&r);
			goto out;
		}
		json_array_extend(all, json_object_get(r.json, "tasks"));
		json_decref(next);
		next = json_incref(json_object_get(r.json, "next_after_id"));
		if (!json_is_integer(next) || (ls.limit > 0 &&
		    (long long)json_array_size(all) >= ls.limit))
			break;
		after = json_integer_value(next);
		jc_resp_free(&r);
	}
	rc = JC_EXIT_OK;
	if (jc->json && pages == 0)
		jc_out_raw(&r);		/* one page: as jobd sent it */
	else if (jc->json) {
		out = json_pack("{s:O,s:O}", "tasks", all, "next_after_id",
		    next != NULL ? next : json_null());
		jc_out_value(jc, out);
		json_decref(out);
	} else
		jc_ls_print(jc, all);
	jc_resp_free(&r);
out:
	json_decref(all);
	json_decref(next);
	return rc;
}

/* Cancel one task: 0 when it ended cancelled, else the exit code. */
static int
jc_cancel_one(struct jobctl *jc, long long id)
{
	struct jc_resp	 r;
	char		 path[64], what[48];
	const json_t	*task;
	int		 rc;

	snprintf(path, sizeof path, "/v1/tasks/%lld/cancel", id);
	snprintf(what, sizeof what, "task %lld", id);
	if ((rc = jc_request(jc, "POST", path, NULL, &r)) != JC_REQ_OK)
		return rc;
	task = json_object_get(r.json, "task");
	if (r.status == 200 && jc->json)
		jc_out_raw(&r);
	else if (r.status == 200)
		printf("%lld cancelled\n", id);
	else if (r.status == 409 && json_is_object(task)) {
		jc_warn("task %lld: already %s, not cancelled", id,
		    json_string_value(json_object_get(task, "state")));
		rc = JC_EXIT_TASK;
	} else
		rc = jc_fail(jc, what, &r);
	jc_resp_free(&r);
	return rc;
}

/* Run fn on every id; the exit code is the worst one. */
static int
jc_each(struct jobctl *jc, int argc, char **argv,
    int (*fn)(struct jobctl *, long long))
{
	long long	*ids;
	size_t		 n, i;
	int		 rc, worst = JC_EXIT_OK;

	if ((rc = jc_ids(jc, argc, argv, &ids, &n, 0)) != JC_CONTINUE)
		goto out;
	for (i = 0; i < n; i++) {
		rc = fn(jc, ids[i]);
		if (rc > worst)
			worst = rc;
		fflush(stdout);
	}
	rc = worst;
out:
	free(ids);
	return rc;
}

int
jc_cmd_cancel(struct jobctl *jc, int argc, char **argv)
{
	return jc_each(jc, argc, argv, jc_cancel_one);
}

static int
jc_rm_one(struct jobctl *jc, long long id)
{
	struct jc_resp	 r;
	char		 path[64], what[48];
	const json_t	*task;
	int		 rc;

	snprintf(path, sizeof path, "/v1/tasks/%lld", id);
	snprintf(what, sizeof what, "task %lld", id);
	if ((rc = jc_request(jc, "DELETE", path, NULL, &r)) != JC_REQ_OK)
		return rc;
	task = json_object_get(r.json, "task");
	if (r.status == 409 && json_is_object(task)) {
		jc_warn("task %lld: still %s, not removed (cancel it first)", id,
		    json_string_value(json_object_get(task, "state")));
		rc = JC_EXIT_TASK;
	} else if (r.status != 204 && r.status != 200)
		rc = jc_fail(jc, what, &r);
	jc_resp_free(&r);
	return rc;
}

int
jc_cmd_rm(struct jobctl *jc, int argc, char **argv)
{
	return jc_each(jc, argc, argv, jc_rm_one);
}

/* Write what an exec task captured on one stream, byte for byte. */
static int
jc_output(struct jobctl *jc, int argc, char **argv, const char *stream)
{
	struct jc_resp	 r;
	long long	*id;
	size_t		 n;
	char		 path[80], what[48];
	int		 rc;

	if ((rc = jc_ids(jc, argc, argv, &id, &n, 1)) != JC_CONTINUE)
		goto out;
	snprintf(path, sizeof path, "/v1/tasks/%lld/%s", id[0], stream);
	snprintf(what, sizeof what, "task %lld", id[0]);
	if ((rc = jc_request(jc, "GET", path, NULL, &r)) != JC_REQ_OK)
		goto out;
	if (r.status == 200)
		fwrite(r.body, 1, r.len, stdout);
	else
		rc = jc_fail(jc, what, &r);
	jc_resp_free(&r);
out:
	free(id);
	return rc;
}

int
jc_cmd_stdout(struct jobctl *jc, int argc, char **argv)
{
	return jc_output(jc, argc, argv, "stdout");
}

int
jc_cmd_stderr(struct jobctl *jc, int argc, char **argv)
{
	return jc_output(jc, argc, argv, "stderr");
}
