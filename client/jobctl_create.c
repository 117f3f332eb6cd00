/* jobctl_create.c: the verbs that create a task: exec, http, sleep. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobctl.h"

enum {
	OPT_FAIL_ON_STATUS = JC_OPT_VERB,
	OPT_RESULT
};

/* A new POST /v1/tasks body {"kind": kind, kind: {}}; *spec borrows. */
static json_t *
jc_task_body(const char *kind, json_t **spec)
{
	json_t *body;

	if ((body = json_object()) == NULL || (*spec = json_object()) == NULL ||
	    json_object_set_new(body, "kind", json_string(kind)) == -1 ||
	    json_object_set_new(body, kind, *spec) == -1)
		abort();
	return body;
}

/* obj[key] = s; both must be UTF-8, as JSON strings are. */
static int
jc_set_str(struct jobctl *jc, json_t *obj, const char *key, const char *s,
    const char *opt)
{
	json_t *v;

	/* jansson refuses a key or value that is not UTF-8. */
	if ((v = json_string(s)) == NULL || json_object_set_new(obj, key, v) == -1)
		return jc_usage_error(jc, "%s: not UTF-8 text", opt);
	return 0;
}

/* --name and --timeout, shared by every creating verb. */
static int
jc_task_opt(struct jobctl *jc, json_t *body, int c, const char *arg)
{
	struct jc_dur d;

	switch (c) {
	case JC_OPT_NAME:
		if (strlen(arg) > 256)
			return jc_usage_error(jc, "--name: at most 256 bytes");
		return jc_set_str(jc, body, "name", arg, "--name");
	case JC_OPT_TIMEOUT:
		if (jc_parse_dur(jc, "--timeout", arg, &d) == -1)
			return JC_EXIT_USAGE;
		json_object_set_new(body, "timeout", jc_dur_json(&d));
		return 0;
	}
	return JC_CONTINUE;
}

/* The content of path ("-": standard input) as a JSON string. */
static json_t *
jc_file_string(struct jobctl *jc, const char *path)
{
	FILE	*f, *m;
	char	*data = NULL, buf[8192];
	size_t	 len = 0, n;
	json_t	*s = NULL;
	int	 bad;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		jc_usage_error(jc, "--stdin-file: %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((m = open_memstream(&data, &len)) == NULL)
		abort();
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, m);
	bad = ferror(f);
	if (f != stdin)
		fclose(f);
	if (fclose(m) != 0)
		abort();
	if (bad)
		jc_usage_error(jc, "--stdin-file: %s: read error", path);
	else if ((s = json_stringn(data, len)) == NULL)
		jc_usage_error(jc, "--stdin-file: %s: not UTF-8 text", path);
	free(data);
	return s;
}

static int
jc_env_opt(struct jobctl *jc, json_t *spec, const char *arg)
{
	const char	*eq = strchr(arg, '=');
	json_t		*env = json_object_get(spec, "env");
	char		*key;
	int		 rc;

	if (eq == NULL || eq == arg)
		return jc_usage_error(jc, "--env: '%s' is not K=V", arg);
	if (env == NULL) {
		env = json_object();
		json_object_set_new(spec, "env", env);
	}
	if ((key = strndup(arg, (size_t)(eq - arg))) == NULL)
		abort();
	rc = jc_set_str(jc, env, key, eq + 1, "--env");
	free(key);
	return rc;
}

void
jc_exec_opts_init(struct jc_exec_opts *o)
{
	o->body = jc_task_body("exec", &o->spec);
}

/* The options of exec and run: 0 taken, JC_CONTINUE not ours, or exit code. */
int
jc_exec_opt(struct jobctl *jc, struct jc_exec_opts *o, int c, const char *arg)
{
	json_t *s;

	if ((c == JC_OPT_STDIN || c == JC_OPT_STDIN_FILE) &&
	    json_object_get(o->spec, "stdin") != NULL)
		return jc_usage_error(jc, "give --stdin or --stdin-file once");
	switch (c) {
	case JC_OPT_ENV:
		return jc_env_opt(jc, o->spec, arg);
	case JC_OPT_CWD:
		return jc_set_str(jc, o->spec, "cwd", arg, "--cwd");
	case JC_OPT_STDIN:
		return jc_set_str(jc, o->spec, "stdin", arg, "--stdin");
	case JC_OPT_STDIN_FILE:
		if ((s = jc_file_string(jc, arg)) == NULL)
			return JC_EXIT_USAGE;
		json_object_set_new(o->spec, "stdin", s);
		return 0;
	}
	return jc_task_opt(jc, o->body, c, arg);
}

/* The program and its arguments, what is left after the options. */
int
jc_exec_argv(struct jobctl *jc, struct jc_exec_opts *o, int argc, char **argv)
{
	json_t	*a;
	int	 i;

	if (optind >= argc)
		return jc_usage_error(jc, "no program given");
	if ((a = json_array()) == NULL)
		abort();
	for (i = optind; i < argc; i++)
		json_array_append_new(a, json_string(argv[i]));
	if (json_array_size(a) != (size_t)(argc - optind)) {
		json_decref(a);
		return jc_usage_error(jc, "arguments must be UTF-8 text");
	}
	json_object_set_new(o->spec, "argv", a);
	return 0;
}

/* POST the task; on 201, *id and *r (the caller frees); else the exit code. */
int
jc_create(struct jobctl *jc, json_t *body, long long *id, struct jc_resp *r)
{
	int rc;

	if ((rc = jc_request(jc, "POST", "/v1/tasks", body, r)) != JC_REQ_OK)
		return rc;
	if (r->status != 201 ||
	    !json_is_integer(json_object_get(r->json, "id"))) {
		rc = jc_fail(jc, NULL, r);
		jc_resp_free(r);
		return rc;
	}
	*id = json_integer_value(json_object_get(r->json, "id"));
	return 0;
}

/* Create the task and print its id, or with --json the task as jobd sent it. */
static int
jc_create_print(struct jobctl *jc, json_t *body)
{
	struct jc_resp	r;
	long long	id;
	int		rc;

	if ((rc = jc_create(jc, body, &id, &r)) != 0)
		return rc;
	if (jc->json)
		jc_out_raw(&r);
	else
		printf("%lld\n", id);
	jc_resp_free(&r);
	return JC_EXIT_OK;
}

int
jc_cmd_exec(struct jobctl *jc, int argc, char **argv)
{
	static const struct option opts[] = {
		JC_COMMON_OPTIONS, JC_EXEC_OPTIONS, { 0 }
	};
	struct jc_exec_opts	o;
	int			c, rc;

	jc_exec_opts_init(&o);
	/* "+": the first word that is not an option starts the program. */
	while ((c = jc_getopt(jc, argc, argv, "+:h", opts, &rc)) != -1)
		if ((rc = jc_exec_opt(jc, &o, c, optarg)) != 0)
			break;
	if (rc == JC_CONTINUE && (rc = jc_exec_argv(jc, &o, argc, argv)) == 0)
		rc = jc_create_print(jc, o.body);
	json_decref(o.body);
	return rc;
}

/* -H 'Name: value' into spec's "headers". */
static int
jc_header_opt(struct jobctl *jc, json_t *spec, const char *arg)
{
	const char	*colon = strchr(arg, ':'), *v, *k;
	json_t		*h = json_object_get(spec, "headers"), *old;
	char		*name;
	int		 rc;

	if (colon == NULL || colon == arg)
		return jc_usage_error(jc, "-H: '%s' is not 'Name: value'", arg);
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (h == NULL) {
		h = json_object();
		json_object_set_new(spec, "headers", h);
	}
	if ((name = strndup(arg, (size_t)(colon - arg))) == NULL)
		abort();
	json_object_foreach(h, k, old) {
		if (strcasecmp(k, name) == 0) {
			free(name);
			return jc_usage_error(jc, "-H: header '%.*s' given twice",
			    (int)(colon - arg), arg);
		}
	}
	rc = jc_set_str(jc, h, name, v, "-H");
	free(name);
	return rc;
}

static int
jc_http_opt(struct jobctl *jc, json_t *body, json_t *spec, int c,
    const char *arg)
{
	switch (c) {
	case 'X':
		return jc_set_str(jc, spec, "method", arg, "-X");
	case 'H':
		return jc_header_opt(jc, spec, arg);
	case 'd':
		return jc_set_str(jc, spec, "body", arg, "-d");
	case OPT_FAIL_ON_STATUS:
		json_object_set_new(spec, "fail_on_status", json_true());
		return 0;
	}
	return jc_task_opt(jc, body, c, arg);
}

int
jc_cmd_http(struct jobctl *jc, int argc, char **argv)
{
	static const struct option opts[] = {
		JC_COMMON_OPTIONS,
		{ "request", required_argument, NULL, 'X' },
		{ "header", required_argument, NULL, 'H' },
		{ "data", required_argument, NULL, 'd' },
		{ "fail-on-status", no_argument, NULL, OPT_FAIL_ON_STATUS },
		{ "name", required_argument, NULL, JC_OPT_NAME },
		{ "timeout", required_argument, NULL, JC_OPT_TIMEOUT },
		{ 0 }
	};
	json_t	*spec, *body = jc_task_body("http", &spec);
	int	 c, rc;

	while ((c = jc_getopt(jc, argc, argv, ":hX:H:d:", opts, &rc)) != -1)
		if ((rc = jc_http_opt(jc, body, spec, c, optarg)) != 0)
			break;
	if (rc != JC_CONTINUE)
		goto out;
	if (argc - optind != 1) {
		rc = jc_usage_error(jc, argc == optind ? "no URL given" :
		    "one URL only");
		goto out;
	}
	if ((rc = jc_set_str(jc, spec, "url", argv[optind], "URL")) != 0)
		goto out;
	/* As curl: a body without -X means POST. */
	if (json_object_get(spec, "body") != NULL &&
	    json_object_get(spec, "method") == NULL)
		json_object_set_new(spec, "method", json_string("POST"));
	rc = jc_create_print(jc, body);
out:
	json_decref(body);
	return rc;
}

static int
jc_sleep_opt(struct jobctl *jc, json_t *body, json_t *spec, int c,
    const char *arg)
{
	json_error_t	 e;
	json_t		*v;

	if (c != OPT_RESULT)
		return jc_task_opt(jc, body, c, arg);
	if ((v = json_loads(arg, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e)) == NULL)
		return jc_usage_error(jc, "--result: not JSON: %s", e.text);
	json_object_set_new(spec, "result", v);
	return 0;
}

int
jc_cmd_sleep(struct jobctl *jc, int argc, char **argv)
{
	static const struct option opts[] = {
		JC_COMMON_OPTIONS,
		{ "result", required_argument, NULL, OPT_RESULT },
		{ "name", required_argument, NULL, JC_OPT_NAME },
		{ "timeout", required_argument, NULL, JC_OPT_TIMEOUT },
		{ 0 }
	};
	json_t		*spec, *body = jc_task_body("sleep", &spec);
	struct jc_dur	 d;
	int		 c, rc;

	while ((c = jc_getopt(jc, argc, argv, ":h", opts, &rc)) != -1)
		if ((rc = jc_sleep_opt(jc, body, spec, c, optarg)) != 0)
			break;
	if (rc != JC_CONTINUE)
		goto out;
	if (argc - optind != 1) {
		rc = jc_usage_error(jc, argc == optind ? "no SECONDS given" :
		    "too many arguments");
		goto out;
	}
	if (jc_parse_dur(jc, "SECONDS", argv[optind], &d) == -1) {
		rc = JC_EXIT_USAGE;
		goto out;
	}
	json_object_set_new(spec, "seconds", jc_dur_json(&d));
	rc = jc_create_print(jc, body);
out:
	json_decref(body);
	return rc;
}
