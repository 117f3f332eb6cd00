/* jobctl.h: the command-line client's shared context, verbs and helpers. */
#ifndef JOBCTL_H
#define JOBCTL_H

#include <getopt.h>
#include <signal.h>
#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

/* Exit codes, documented in jobctl(1). */
#define JC_EXIT_OK	0	/* success */
#define JC_EXIT_TASK	1	/* task failed or was cancelled, or refused (not found, state) */
#define JC_EXIT_USAGE	2	/* bad command line, or jobd refused the input (400) */
#define JC_EXIT_SERVER	3	/* jobd unreachable, or an unexpected answer */
#define JC_EXIT_TIMEOUT	124	/* a wait timed out, as coreutils timeout(1) */
#define JC_EXIT_RUN	255	/* run: jobctl's own failure, not the program's (as ssh) */

/* Not an exit code: go on (options parsed, or an option not handled here). */
#define JC_CONTINUE	(-1)

struct jobctl;

struct jc_verb {
	const char	*name;
	int		(*handler)(struct jobctl *, int, char **);
	const char	*usage;		/* arguments after the verb name */
	const char	*summary;	/* one line for jobctl --help */
	const char	*help;		/* option lines for jobctl VERB --help */
};

/* Everything one invocation needs; owned by main(). */
struct jobctl {
	const struct jc_verb	*verb;
	const char		*url;		/* --url, $JOBD_URL or the default */
	const char		*url_from;	/* "--url" or "JOBD_URL", for errors */
	const char		*token_file;	/* --token-file */
	const char		*cacert;	/* --cacert or $JOBD_CACERT: https's CA */
	int			 json;		/* --json: print the API's JSON */
	int			 out_tty;	/* stdout is a terminal */
	int			 err_tty;	/* stderr is a terminal: progress */

	/* Set by run's signal handler to the signal number; see jobctl_run.c. */
	volatile sig_atomic_t	*stop;
	int			 interruptible;	/* a request may end when *stop */

	/* HTTP connection, set up on the first request (jobctl_http.c). */
	CURL			*curl;
	char			*base;		/* URL without a trailing slash */
	char			*unix_path;	/* --url unix:/path */
	char			*auth;		/* "Authorization: Bearer ..." */
	char			 errbuf[CURL_ERROR_SIZE];
};

/* A duration given on the command line: the text as typed, and its value. */
struct jc_dur {
	const char	*text;		/* NULL when not given */
	double		 value;
};

/* One HTTP answer. body is NUL-terminated; json is set when it parsed. */
struct jc_resp {
	long		 status;
	char		*body;
	size_t		 len;
	json_t		*json;
};

/* What jc_request() returns, beside an exit code when no answer came. */
enum {
	JC_REQ_OK = 0,		/* an answer came, whatever its status */
	JC_REQ_INTR = -2	/* interrupted by *stop */
};

/* jobctl.c: option helpers shared by the verbs. */
int	 jc_getopt(struct jobctl *, int, char **, const char *,
	    const struct option *, int *);
int	 jc_usage_error(struct jobctl *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 jc_parse_id(struct jobctl *, const char *, long long *);
int	 jc_parse_dur(struct jobctl *, const char *, const char *, struct jc_dur *);
json_t	*jc_dur_json(const struct jc_dur *);
void	 jc_warn(const char *, ...) __attribute__((format(printf, 1, 2)));

/* jobctl_http.c: requests and error answers. */
int	 jc_request(struct jobctl *, const char *, const char *, json_t *,
	    struct jc_resp *);
void	 jc_resp_free(struct jc_resp *);
void	 jc_http_close(struct jobctl *);
int	 jc_fail(struct jobctl *, const char *, const struct jc_resp *);
char	*jc_escape(const char *);

/* jobctl_out.c: terminal output. */
void	 jc_out_raw(const struct jc_resp *);
void	 jc_out_task(const json_t *);
void	 jc_out_value(struct jobctl *, const json_t *);
void	 jc_out_error_line(const char *, long long, const json_t *);
char	*jc_out_brief(const json_t *, size_t);
char	*jc_out_what(const json_t *);
char	*jc_out_printable(const char *);
void	 jc_out_progress(struct jobctl *, size_t, size_t);
void	 jc_out_progress_end(struct jobctl *);

struct jc_table;
struct jc_table	*jc_table_new(size_t, ...);
void		 jc_table_add(struct jc_table *, ...);
void		 jc_table_print(struct jc_table *, int);
void		 jc_table_free(struct jc_table *);

/* Verb handlers. */
int	 jc_cmd_exec(struct jobctl *, int, char **);
int	 jc_cmd_http(struct jobctl *, int, char **);
int	 jc_cmd_sleep(struct jobctl *, int, char **);
int	 jc_cmd_get(struct jobctl *, int, char **);
int	 jc_cmd_ls(struct jobctl *, int, char **);
int	 jc_cmd_cancel(struct jobctl *, int, char **);
int	 jc_cmd_rm(struct jobctl *, int, char **);
int	 jc_cmd_stdout(struct jobctl *, int, char **);
int	 jc_cmd_stderr(struct jobctl *, int, char **);
int	 jc_cmd_result(struct jobctl *, int, char **);
int	 jc_cmd_wait(struct jobctl *, int, char **);
int	 jc_cmd_gather(struct jobctl *, int, char **);
int	 jc_cmd_run(struct jobctl *, int, char **);

/* jobctl_create.c: the exec spec shared by exec and run. */
struct jc_exec_opts {
	json_t		*body;		/* the POST /v1/tasks body being built */
	json_t		*spec;		/* its "exec" member (borrowed) */
};
void	 jc_exec_opts_init(struct jc_exec_opts *);
int	 jc_exec_opt(struct jobctl *, struct jc_exec_opts *, int, const char *);
int	 jc_exec_argv(struct jobctl *, struct jc_exec_opts *, int, char **);
int	 jc_create(struct jobctl *, json_t *, long long *, struct jc_resp *);

/* Long options of exec and run beside the common ones. */
enum {
	JC_OPT_JSON = 256,
	JC_OPT_URL,
	JC_OPT_TOKEN_FILE,
	JC_OPT_CACERT,
	JC_OPT_NAME,
	JC_OPT_TIMEOUT,
	JC_OPT_ENV,
	JC_OPT_CWD,
	JC_OPT_STDIN,
	JC_OPT_STDIN_FILE,
	JC_OPT_VERB		/* first free code for a verb's own options */
};

#define JC_COMMON_OPTIONS \
	{ "help", no_argument, NULL, 'h' }, \
	{ "json", no_argument, NULL, JC_OPT_JSON }, \
	{ "url", required_argument, NULL, JC_OPT_URL }, \
	{ "token-file", required_argument, NULL, JC_OPT_TOKEN_FILE }, \
	{ "cacert", required_argument, NULL, JC_OPT_CACERT }

#define JC_EXEC_OPTIONS \
	{ "name", required_argument, NULL, JC_OPT_NAME }, \
	{ "timeout", required_argument, NULL, JC_OPT_TIMEOUT }, \
	{ "env", required_argument, NULL, JC_OPT_ENV }, \
	{ "cwd", required_argument, NULL, JC_OPT_CWD }, \
	{ "stdin", required_argument, NULL, JC_OPT_STDIN }, \
	{ "stdin-file", required_argument, NULL, JC_OPT_STDIN_FILE }

#endif /* JOBCTL_H */
