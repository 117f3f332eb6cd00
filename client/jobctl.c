/* jobctl.c: the command-line client: verb table, global options, dispatch. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobctl.h"

#define JC_DEFAULT_URL	"http://127.0.0.1:8080"

static int	jc_cmd_help(struct jobctl *, int, char **);

/* The verbs, in the order jobctl --help lists them. */
static const struct jc_verb jc_verbs[] = {
	{ "exec", jc_cmd_exec,
	  "[--name N] [--timeout S] [--env K=V]... [--cwd DIR]\n"
	  "                   [--stdin TEXT | --stdin-file FILE] -- PROG [ARG...]",
	  "create a task that runs a program; print its id",
	  "Create an exec task running PROG with ARGs (no shell; PROG without a\n"
	  "slash is looked up in PATH on jobd's side) and print its id.\n\n"
	  "  --name N           a label for the task\n"
	  "  --timeout S        the task's own deadline, counted from its start\n"
	  "  --env K=V          add K=V to the program's environment (repeatable)\n"
	  "  --cwd DIR          working directory (default: jobd's)\n"
	  "  --stdin TEXT       feed TEXT to the program's standard input\n"
	  "  --stdin-file FILE  feed FILE's content (- for jobctl's own stdin)\n" },
	{ "http", jc_cmd_http,
	  "[-X METHOD] [-H 'K: V']... [-d BODY] [--fail-on-status] URL",
	  "create a task that makes one HTTP request; print its id",
	  "Create an http task: jobd makes one request to URL (http or https).\n\n"
	  "  -X, --request METHOD  the method (default GET, or POST with -d)\n"
	  "  -H, --header 'K: V'   add a request header (repeatable)\n"
	  "  -d, --data BODY       send BODY\n"
	  "  --fail-on-status      make a status >= 400 fail the task\n"
	  "  --name N              a label for the task\n"
	  "  --timeout S           the task's own deadline\n" },
	{ "sleep", jc_cmd_sleep,
	  "SECONDS [--result JSON] [--name N] [--timeout S]",
	  "create a task that sleeps, then succeeds; print its id",
	  "Create a sleep task that waits SECONDS, then succeeds with JSON\n"
	  "(default null) as its result.\n\n"
	  "  --result JSON  the result, any JSON value (e.g. 42 or '\"done\"')\n"
	  "  --name N       a label for the task\n"
	  "  --timeout S    the task's own deadline\n" },
	{ "get", jc_cmd_get, "ID",
	  "show a task",
	  "Show task ID: its state, times, spec, and result or error.\n" },
	{ "ls", jc_cmd_ls, "[--state S] [--kind K] [--limit N] [--after ID]",
	  "list tasks",
	  "List tasks in ascending id order, one line each.\n\n"
	  "  --state S   only tasks in state S (pending, running, succeeded,\n"
	  "              failed, cancelled)\n"
	  "  --kind K    only tasks of kind K (exec, http, sleep)\n"
	  "  --limit N   at most N tasks (default: all)\n"
	  "  --after ID  only tasks with an id above ID\n" },
	{ "result", jc_cmd_result, "ID [--timeout S] [--no-cancel]",
	  "wait for a task and print its result",
	  "Wait until task ID is done (asyncio.wait_for). Print its result and\n"
	  "exit 0 if it succeeded; report its error and exit 1 if it failed or\n"
	  "was cancelled. If S seconds pass first, the task is cancelled and\n"
	  "jobctl exits 124. Interrupting jobctl leaves the task alone.\n\n"
	  "  --timeout S  give up after S seconds\n"
	  "  --no-cancel  on timeout, leave the task running (asyncio.shield)\n" },
	{ "wait", jc_cmd_wait, "ID... [--timeout S] [--return-when first|exception|all]",
	  "wait for several tasks",
	  "Wait for tasks (asyncio.wait; never cancels anything) and print the\n"
	  "state of each. Exit 0 when the condition held and no finished task\n"
	  "failed, 1 when one failed or was cancelled, 124 when S seconds passed\n"
	  "first. On a terminal, progress is shown on stderr.\n\n"
	  "  --timeout S       stop waiting after S seconds\n"
	  "  --return-when W   first: one task done; exception: one task failed\n"
	  "                    (or all done); all: every task done (default)\n" },
	{ "gather", jc_cmd_gather, "ID... [--return-exceptions] [--timeout S] [--no-cancel]",
	  "wait for several tasks and print their results",
	  "Wait for every task and print their results in order\n"
	  "(asyncio.gather). Without --return-exceptions, stop at the first task\n"
	  "that fails and exit 1 (the others go on running). If S seconds pass\n"
	  "first, unfinished tasks are cancelled and jobctl exits 124.\n\n"
	  "  --return-exceptions  wait for all; report failures in place, exit 1\n"
	  "  --timeout S          give up after S seconds\n"
	  "  --no-cancel          on timeout, leave unfinished tasks running\n" },
	{ "cancel", jc_cmd_cancel, "ID...",
	  "cancel tasks",
	  "Cancel each task and wait until it has really stopped.\n"
	  "Exit 1 if one was already done or does not exist.\n" },
	{ "rm", jc_cmd_rm, "ID...",
	  "delete finished tasks",
	  "Delete each finished task. Exit 1 if one is not done or not found.\n" },
	{ "stdout", jc_cmd_stdout, "ID",
	  "print an exec task's standard output, byte for byte",
	  "Write the standard output task ID captured (so far) to stdout.\n" },
	{ "stderr", jc_cmd_stderr, "ID",
	  "print an exec task's standard error, byte for byte",
	  "Write the standard error task ID captured (so far) to stdout.\n" },
	{ "run", jc_cmd_run,
	  "[--timeout S] [--name N] [--env K=V]... [--cwd DIR]\n"
	  "                  [--stdin TEXT | --stdin-file FILE] -- PROG [ARG...]",
	  "run a program through jobd, as if it ran here",
	  "Create an exec task, wait for it, copy its stdout and stderr to\n"
	  "jobctl's own, and exit with its exit status (128+N if it was killed\n"
	  "by signal N, 124 if its --timeout passed, 127 if it could not be\n"
	  "started). Ctrl-C (SIGINT), SIGTERM or SIGHUP cancel the task, print\n"
	  "what it wrote so far and exit 128+signal. With --json, print the\n"
	  "final task instead of its output. jobctl's own failures (a bad\n"
	  "command line, jobd unreachable or refusing) exit 255, so that they\n"
	  "cannot pass for the program's status.\n\n"
	  "  --timeout S        the task's own deadline\n"
	  "  --name N           a label for the task\n"
	  "  --env K=V          add K=V to the program's environment (repeatable)\n"
	  "  --cwd DIR          working directory (default: jobd's)\n"
	  "  --stdin TEXT       feed TEXT to the program's standard input\n"
	  "  --stdin-file FILE  feed FILE's content (- for jobctl's own stdin)\n" },
	{ "help", jc_cmd_help, "[VERB]",
	  "show help for jobctl or a verb",
	  "Show help for VERB, or the list of verbs.\n" },
};

#define JC_NVERBS (sizeof jc_verbs / sizeof jc_verbs[0])

/* The options every verb takes; -V only before the verb (jc_main_usage). */
static const char jc_options_help[] =
    "Options (accepted before or after the verb):\n"
    "  --url URL          jobd's address: http://HOST[:PORT], https://HOST[:PORT],\n"
    "                     or unix:/PATH for HTTP over a unix socket (default\n"
    "                     $JOBD_URL, else " JC_DEFAULT_URL ")\n"
    "  --token-file FILE  read the bearer token from FILE (default $JOBD_TOKEN,\n"
    "                     else ./jobd.token, else /var/lib/jobd/jobd.token)\n"
    "  --cacert FILE      trust the certificates in FILE (PEM) for https://, e.g.\n"
    "                     jobd's own --tls-cert (default $JOBD_CACERT, else the\n"
    "                     system's CAs)\n"
    "  --json             print the API's JSON as is, for scripts and jq\n"
    "  -h, --help         show help\n";

static const char jc_exit_help[] =
    "Exit status:\n"
    "  0    success\n"
    "  1    a task failed or was cancelled, or was not found or not in a state\n"
    "       that allows the operation\n"
    "  2    usage error, or jobd refused the input as invalid (400, 413, 415)\n"
    "  3    jobd unreachable, the token refused, or an unexpected answer;\n"
    "       or the output could not be written\n"
    "  124  a wait timed out\n"
    "  run exits with the program's own status (128+N if killed by signal N),\n"
    "  and 255 for a failure of its own (any of 2 and 3 above), as ssh does.\n";

static const struct jc_verb *
jc_find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < JC_NVERBS; i++)
		if (strcmp(jc_verbs[i].name, name) == 0)
			return &jc_verbs[i];
	return NULL;
}

static void
jc_main_usage(FILE *f)
{
	size_t i;

	fputs("usage: jobctl [--url URL] [--token-file FILE] [--cacert FILE] [--json] VERB [ARG...]\n\n"
	    "Create, inspect, wait for and cancel jobd tasks.\n\nVerbs:\n", f);
	for (i = 0; i < JC_NVERBS; i++)
		fprintf(f, "  %-8s %s\n", jc_verbs[i].name, jc_verbs[i].summary);
	fprintf(f, "\n%s  -V, --version      show jobctl's version (before the verb)\n"
	    "\n%s\nSee jobctl VERB --help and jobctl(1).\n",
	    jc_options_help, jc_exit_help);
}

static void
jc_verb_help(const struct jc_verb *v)
{
	printf("usage: jobctl %s %s\n\n%s\n%s", v->name, v->usage, v->help,
	    jc_options_help);
}

static int
jc_cmd_help(struct jobctl *jc, int argc, char **argv)
{
	const struct jc_verb	*v;
	int			 c, rc = JC_EXIT_USAGE;

	/* Only the common options: jc_getopt() returns nothing else. */
	c = jc_getopt(jc, argc, argv, ":h", NULL, &rc);
	if (c != -1 || rc != JC_CONTINUE)
		return rc;
	if (argc - optind > 1)
		return jc_usage_error(jc, "too many arguments");
	if (optind == argc) {
		jc_main_usage(stdout);
		return JC_EXIT_OK;
	}
	if ((v = jc_find_verb(argv[optind])) == NULL)
		return jc_usage_error(jc, "unknown verb '%s'", argv[optind]);
	jc_verb_help(v);
	return JC_EXIT_OK;
}

void
jc_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("jobctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
jc_usage_error(struct jobctl *jc, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "jobctl: %s%s", jc->verb ? jc->verb->name : "",
	    jc->verb ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (jc->verb != NULL)
		fprintf(stderr, "\nusage: jobctl %s %s\n", jc->verb->name,
		    jc->verb->usage);
	else
		fputs("\nTry 'jobctl --help'.\n", stderr);
	return JC_EXIT_USAGE;
}

/* Report what getopt_long refused (c is '?' or ':'). */
static int
jc_bad_opt(struct jobctl *jc, int c, char **argv)
{
	if (c == ':')
		return jc_usage_error(jc, "missing argument for '%s'",
		    argv[optind - 1]);
	/* An unknown short option may sit inside a cluster such as -xv. */
	if (optopt > 0 && optopt < 256)
		return jc_usage_error(jc, "unknown option '-%c'", optopt);
	return jc_usage_error(jc, "unknown option '%s'", argv[optind - 1]);
}

/* The options every verb (and the command line before the verb) accepts. */
static int
jc_common_opt(struct jobctl *jc, int c, const char *arg)
{
	switch (c) {
	case JC_OPT_JSON:
		jc->json = 1;
		return 0;
	case JC_OPT_URL:
		jc->url = arg;
		jc->url_from = "--url";
		return 0;
	case JC_OPT_TOKEN_FILE:
		jc->token_file = arg;
		return 0;
	case JC_OPT_CACERT:
		jc->cacert = arg;
		return 0;
	}
	return -1;
}

/*
 * getopt_long over a verb's arguments, handling the common options, --help
 * and errors. Returns the next verb option, or -1 with *rc = JC_CONTINUE at
 * the end or *rc = the exit code when the verb must stop (help, bad option).
 * shortopts must start with ":" (or "+:") so a missing argument shows.
 */
int
jc_getopt(struct jobctl *jc, int argc, char **argv, const char *shortopts,
    const struct option *longopts, int *rc)
{
	static const struct option common[] = { JC_COMMON_OPTIONS, { 0 } };
	int c;

	opterr = 0;
	for (;;) {
		c = getopt_long(argc, argv, shortopts,
		    longopts != NULL ? longopts : common, NULL);
		if (c == -1) {
			*rc = JC_CONTINUE;
			return -1;
		}
		if (c == 'h') {
			jc_verb_help(jc->verb);
			*rc = JC_EXIT_OK;
			return -1;
		}
		if (c == ':' || c == '?') {
			*rc = jc_bad_opt(jc, c, argv);
			return -1;
		}
		if (jc_common_opt(jc, c, optarg) == -1)
			return c;
	}
}

/* A task id: a plain decimal number, as API.md accepts in a path. */
int
jc_parse_id(struct jobctl *jc, const char *s, long long *out)
{
	char		*end;
	long long	 v;

	if (!isdigit((unsigned char)s[0]) || s[0] == '0')
		goto bad;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		goto bad;
	*out = v;
	return 0;
bad:
	jc_usage_error(jc, "invalid task id '%s'", s);
	return -1;
}

/*
 * A duration in seconds, a plain decimal such as 5 or 0.25: it goes into a
 * query as typed, so exponents and hex (which strtod takes) are refused.
 */
int
jc_parse_dur(struct jobctl *jc, const char *opt, const char *s, struct jc_dur *d)
{
	const char	*p;
	int		 digits = 0, dots = 0;
	char		*end;

	for (p = s; *p != '\0'; p++) {
		if (isdigit((unsigned char)*p))
			digits++;
		else if (*p == '.' && dots++ == 0)
			continue;
		else
			goto bad;
	}
	if (digits == 0)
		goto bad;
	d->value = strtod(s, &end);
	if (*end != '\0' || !isfinite(d->value) || d->value > 1e9)
		goto bad;
	d->text = s;
	return 0;
bad:
	jc_usage_error(jc, "%s: '%s' is not a number of seconds from 0 to 1e9",
	    opt, s);
	return -1;
}

/* The duration as a JSON number: an integer when typed as one. */
json_t *
jc_dur_json(const struct jc_dur *d)
{
	if (strchr(d->text, '.') == NULL)
		return json_integer((json_int_t)d->value);
	return json_real(d->value);
}

static int
jc_main_opts(struct jobctl *jc, int argc, char **argv)
{
	static const struct option opts[] = {
		JC_COMMON_OPTIONS,
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		if (jc_common_opt(jc, c, optarg) == 0)
			continue;
		switch (c) {
		case 'h':
			jc_main_usage(stdout);
			return JC_EXIT_OK;
		case 'V':
			printf("jobctl %s\n", PACKAGE_VERSION);
			return JC_EXIT_OK;
		default:
			return jc_bad_opt(jc, c, argv);
		}
	}
	return JC_CONTINUE;
}

int
main(int argc, char **argv)
{
	struct jobctl	jc;
	int		rc;

	memset(&jc, 0, sizeof jc);
	jc.url = getenv("JOBD_URL");
	jc.url_from = "JOBD_URL";
	if (jc.url == NULL || *jc.url == '\0')
		jc.url = JC_DEFAULT_URL;
	if ((jc.cacert = getenv("JOBD_CACERT")) != NULL && *jc.cacert == '\0')
		jc.cacert = NULL;
	jc.out_tty = isatty(STDOUT_FILENO);
	jc.err_tty = isatty(STDERR_FILENO);

	if ((rc = jc_main_opts(&jc, argc, argv)) != JC_CONTINUE)
		return rc;
	if (optind == argc) {
		jc_main_usage(stderr);
		return JC_EXIT_USAGE;
	}
	if ((jc.verb = jc_find_verb(argv[optind])) == NULL)
		return jc_usage_error(&jc, "unknown verb '%s'", argv[optind]);

	/* The verb parses its own arguments, its name as argv[0]. */
	argc -= optind;
	argv += optind;
	optind = 0;
	rc = jc.verb->handler(&jc, argc, argv);

	jc_http_close(&jc);
	/* ferror too: a verb that flushed as it went (cancel, rm) may have
	 * lost output already, with nothing left for this flush to fail on. */
	errno = 0;
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == JC_EXIT_OK) {
		jc_warn("writing output: %s", errno != 0 ? strerror(errno) :
		    "write error");
		rc = JC_EXIT_SERVER;
	}
	return rc;
}
