/* main.c: flags, start-up order, signals, clean shutdown. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "api.h"
#include "auth.h"
#include "httpd.h"
#include "listen.h"
#include "jobd.h"
#include "log.h"
#include "loop_prio.h"
#include "metrics.h"
#include "sched.h"
#include "store.h"
#include "timeutil.h"
#include "waiter.h"

#define MAIN_STOP_GRACE_MS 5000
#define MAIN_NSIGS         5      /* the signals jobd handles */

struct main_ctx {
	struct jobd       jd;
	struct listeners  ls;
	char             *tls_cert, *tls_key;   /* PEM text */
	char            **argv;                 /* config file lines + real flags */
	int               nconfig;              /* how many of argv came from the file */
	int               cli_listen;           /* a --listen on the command line seen */
	int               sig_fd;               /* signalfd of the signals jobd handles */
	struct event     *sig_ev;
	struct event     *watchdog_ev;
	struct event  *stop_ev;
	int64_t        stop_deadline;
	int            idle_ticks;
	int            status;        /* the exit status */
	char          *db_default;
};
/* main_lost finds the context from the store hooks' &m->jd. */
_Static_assert(offsetof(struct main_ctx, jd) == 0, "jd first in main_ctx");

static void
main_usage(FILE *f)
{
	fputs("usage: jobd [options]\n"
	    "Run jobs (programs, HTTP requests, sleeps) as durable asynchronous tasks\n"
	    "behind a REST API.\n\n"
	    "  --config FILE          read flags from FILE (key = value lines); flags win\n"
	    "  --listen ADDR          HOST:PORT, [IPV6]:PORT or unix:PATH; repeatable\n"
	    "                         (default 127.0.0.1:8080; port 0 picks a free one)\n"
	    "  --tls-cert FILE        serve HTTPS with this PEM certificate ...\n"
	    "  --tls-key FILE         ... and this PEM private key\n"
	    "  --db PATH              SQLite database (default ./jobd.db, or\n"
	    "                         $STATE_DIRECTORY/jobd.db under systemd)\n"
	    "  --token-file FILE      bearer token file (default: $CREDENTIALS_DIRECTORY/token,\n"
	    "                         else jobd.token beside the database, created at first start)\n"
	    "  --no-auth              serve without a token (loopback listeners only)\n"
	    "  --max-exec N           exec tasks running at once (default: number of CPUs)\n"
	    "  --max-http N           http tasks running at once (default 256)\n"
	    "  --kill-grace SECONDS   SIGTERM to SIGKILL grace for exec tasks (default 5)\n"
	    "  --max-output BYTES     output kept per stream of a task (default 1048576)\n"
	    "  --max-body BYTES       largest request body (default 1048576)\n"
	    "  --max-connections N    concurrent HTTP connections (default 16384)\n"
	    "  --request-timeout SECONDS  a request must arrive whole within this time of\n"
	    "                         its connection's opening or previous answer, and an\n"
	    "                         idle connection is closed after it (default 60)\n"
	    "  --queue-window N       pending tasks of a kind kept in memory; the rest of the\n"
	    "                         queue waits on disk (default 1024)\n"
	    "  --memory-horizon SECONDS  a running task with nothing to do for longer (a long\n"
	    "                         sleep) waits on disk until then (default 60)\n"
	    "  --sync full|normal     full (default): nothing is told before it is on disk;\n"
	    "                         normal: faster, the last commits may be lost on power loss\n"
	    "  --max-db-size BYTES    refuse new tasks (507) once the database is this big\n"
	    "  --allow-origin LIST    comma-separated browser origins allowed to call jobd\n"
	    "  --allow-host LIST      comma-separated extra names accepted in the Host header\n"
	    "  --log-level LEVEL      error, warning, info (default) or debug\n"
	    "  --help                 show this help and exit\n"
	    "  --version              show the version and exit\n", f);
}

static long long
main_number(const char *flag, const char *s, long long min, long long max)
{
	int64_t v;

	if (time_parse_uint(s, &v) < 0 || v < min || v > max) {
		fprintf(stderr, "jobd: %s: expected a whole number from %lld to %lld, got \"%s\"\n",
		    flag, min, max, s);
		exit(2);
	}
	return v;
}

static double
main_seconds(const char *flag, const char *s)
{
	double v;

	if (time_parse_duration(s, &v) < 0) {
		fprintf(stderr, "jobd: %s: expected seconds from 0 to 1e9, got \"%s\"\n", flag, s);
		exit(2);
	}
	return v;
}

static void
main_defaults(struct main_ctx *m)
{
	struct jobd_config *c = &m->jd.cfg;
	const char         *state = getenv("STATE_DIRECTORY");
	long                ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	m->sig_fd = -1;
	if (state != NULL && *state != '\0' && strchr(state, ':') == NULL &&
	    asprintf(&m->db_default, "%s/jobd.db", state) > 0)
		c->db_path = m->db_default;
	else
		c->db_path = "./jobd.db";
	c->sync_full = 1;
	c->max_exec = ncpu > 0 ? (int)ncpu : 1;
	c->max_http = 256;
	c->kill_grace = 5;
	c->max_output = 1 << 20;
	c->max_body = 1 << 20;
	c->max_conns = 16384;
	c->request_timeout = 60;
	c->queue_window = 1024;
	c->memory_horizon = 60;
}

/* The flags, for getopt and for the config file's check of each line. */
enum { OPT_CONFIG = 256, OPT_TLSCERT, OPT_TLSKEY, OPT_LISTEN, OPT_DB, OPT_TOKEN, OPT_NOAUTH,
    OPT_MAXEXEC, OPT_MAXHTTP, OPT_GRACE, OPT_MAXOUT, OPT_MAXBODY, OPT_MAXCONN, OPT_REQTIMEOUT, OPT_WINDOW,
    OPT_HORIZON, OPT_SYNC, OPT_MAXDB, OPT_ORIGIN, OPT_HOST, OPT_LOGLEVEL, OPT_HELP, OPT_VERSION };
static const struct option main_opts[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "tls-cert", required_argument, NULL, OPT_TLSCERT },
	{ "tls-key", required_argument, NULL, OPT_TLSKEY },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "db", required_argument, NULL, OPT_DB },
	{ "token-file", required_argument, NULL, OPT_TOKEN },
	{ "no-auth", no_argument, NULL, OPT_NOAUTH },
	{ "max-exec", required_argument, NULL, OPT_MAXEXEC },
	{ "max-http", required_argument, NULL, OPT_MAXHTTP },
	{ "kill-grace", required_argument, NULL, OPT_GRACE },
	{ "max-output", required_argument, NULL, OPT_MAXOUT },
	{ "max-body", required_argument, NULL, OPT_MAXBODY },
	{ "max-connections", required_argument, NULL, OPT_MAXCONN },
	{ "request-timeout", required_argument, NULL, OPT_REQTIMEOUT },
	{ "queue-window", required_argument, NULL, OPT_WINDOW },
	{ "memory-horizon", required_argument, NULL, OPT_HORIZON },
	{ "sync", required_argument, NULL, OPT_SYNC },
	{ "max-db-size", required_argument, NULL, OPT_MAXDB },
	{ "allow-origin", required_argument, NULL, OPT_ORIGIN },
	{ "allow-host", required_argument, NULL, OPT_HOST },
	{ "log-level", required_argument, NULL, OPT_LOGLEVEL },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void
main_flags(struct main_ctx *m, int argc, char **argv)
{
	struct jobd_config *c = &m->jd.cfg;
	enum log_level      lvl;
	int                 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", main_opts, NULL)) != -1) {
		switch (ch) {
		case OPT_CONFIG: break;     /* read before, by main_config */
		case OPT_TLSCERT: c->tls_cert = optarg; break;
		case OPT_TLSKEY: c->tls_key = optarg; break;
		case OPT_LISTEN:
			/* The command line's listeners replace the file's. */
			if (optind - 1 > m->nconfig && !m->cli_listen) {
				m->cli_listen = 1;
				c->nlisten = 0;
			}
			if (c->nlisten == sizeof c->listen / sizeof c->listen[0]) {
				fprintf(stderr, "jobd: --listen: at most %zu listeners\n", c->nlisten);
				exit(2);
			}
			c->listen[c->nlisten++] = optarg;
			break;
		case OPT_DB: c->db_path = optarg; break;
		case OPT_TOKEN: c->token_file = optarg; break;
		case OPT_NOAUTH: c->no_auth = 1; break;
		case OPT_MAXEXEC: c->max_exec = (int)main_number("--max-exec", optarg, 1, 65536); break;
		case OPT_MAXHTTP: c->max_http = (int)main_number("--max-http", optarg, 1, 65536); break;
		case OPT_GRACE: c->kill_grace = main_seconds("--kill-grace", optarg); break;
		case OPT_MAXOUT: c->max_output = (size_t)main_number("--max-output", optarg, 0, INT_MAX); break;
		case OPT_MAXBODY: c->max_body = (size_t)main_number("--max-body", optarg, 1, INT_MAX); break;
		case OPT_MAXCONN: c->max_conns = (unsigned)main_number("--max-connections", optarg, 16, 1000000); break;
		case OPT_REQTIMEOUT:
			c->request_timeout = (unsigned)main_number("--request-timeout", optarg, 1, 86400);
			break;
		case OPT_WINDOW: c->queue_window = (int)main_number("--queue-window", optarg, 2, 1 << 20); break;
		case OPT_HORIZON: c->memory_horizon = main_seconds("--memory-horizon", optarg); break;
		case OPT_SYNC:
			if (strcmp(optarg, "full") != 0 && strcmp(optarg, "normal") != 0) {
				fprintf(stderr, "jobd: --sync: expected full or normal, got \"%s\"\n", optarg);
				exit(2);
			}
			c->sync_full = strcmp(optarg, "full") == 0;
			break;
		case OPT_MAXDB: c->max_db_size = main_number("--max-db-size", optarg, 65536, INT64_MAX); break;
		case OPT_ORIGIN: c->allow_origin = optarg; break;
		case OPT_HOST: c->allow_host = optarg; break;
		case OPT_LOGLEVEL:
			if (log_parse_level(optarg, &lvl) < 0) {
				fprintf(stderr, "jobd: --log-level: expected error, warning, info or debug\n");
				exit(2);
			}
			log_set_level(lvl);
			break;
		case OPT_HELP: main_usage(stdout); exit(0);
		case OPT_VERSION: printf("jobd %s\n", PACKAGE_VERSION); exit(0);
		default:
			if (optopt != 0 && optopt < 256)
				fprintf(stderr, "jobd: unknown option -%c\n", optopt);
			else
				fprintf(stderr, "jobd: unknown or incomplete option \"%s\"%s\n",
				    argv[optind - 1], optind - 1 <= m->nconfig ? " in the --config file" : "");
			fputs("Try 'jobd --help'.\n", stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jobd: unexpected argument \"%s\"\nTry 'jobd --help'.\n", argv[optind]);
		exit(2);
	}
	if (c->nlisten == 0)
		c->listen[c->nlisten++] = "127.0.0.1:8080";
	if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
		fprintf(stderr, "jobd: --tls-cert and --tls-key go together\n");
		exit(2);
	}
}

enum { NO_ARG, WITH_ARG };

/* One "key = value" line of the config file, where v is NULL for a bare
 * key: a flag's value is always its line's own (a bare "db" must not take
 * the next flag for its value), a switch is true or false, and a file does
 * not name another.  Unknown keys are left to getopt, which names them. */
static int
main_config_check(const char *path, int lineno, const char *k, const char *v)
{
	const struct option *o;

	for (o = main_opts; o->name != NULL && strcmp(o->name, k) != 0; o++)
		;
	if (o->name != NULL && o->val == OPT_CONFIG) {
		fprintf(stderr, "jobd: %s:%d: a config file cannot name another (config)\n", path, lineno);
		exit(2);
	}
	if (o->name != NULL && o->has_arg == no_argument) {
		if (v != NULL && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
			fprintf(stderr, "jobd: %s:%d: %s: expected true or false, got \"%s\"\n",
			    path, lineno, k, v);
			exit(2);
		}
		return NO_ARG;
	}
	if (v == NULL) {
		fprintf(stderr, "jobd: %s:%d: %s: expected \"%s = VALUE\"\n", path, lineno, k, k);
		exit(2);
	}
	return WITH_ARG;
}

/* The config file's "key = value" lines become "--key=value" flags placed
 * before the command line's, so that the command line wins. */
static char **
main_config(int argc, char **argv, int *newargc)
{
	const char *path = NULL;
	char      **out, line[4096];
	FILE       *f;
	int         i, n = 0, lineno = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	if ((out = calloc((size_t)argc + 1, sizeof *out)) == NULL)
		fatal("out of memory");
	out[n++] = argv[0];
	if (path != NULL) {
		if ((f = fopen(path, "re")) == NULL) {
			fprintf(stderr, "jobd: --config %s: %s\n", path, strerror(errno));
			exit(2);
		}
		while (fgets(line, sizeof line, f) != NULL) {
			char *k = line, *v, *end;

			lineno++;
			k += strspn(k, " \t");
			k[strcspn(k, "#\r\n")] = '\0';
			for (end = k + strlen(k); end > k && (end[-1] == ' ' || end[-1] == '\t'); )
				*--end = '\0';
			if (*k == '\0')
				continue;
			if ((v = strchr(k, '=')) != NULL) {
				for (end = v; end > k && (end[-1] == ' ' || end[-1] == '\t'); end--)
					;
				*end = '\0';
				v++;
				v += strspn(v, " \t");
			}
			if ((out = realloc(out, ((size_t)argc + (size_t)n + 2) * sizeof *out)) == NULL)
				fatal("out of memory");
			if (main_config_check(path, lineno, k, v) == NO_ARG) {
				/* "no-auth = true" or a bare "no-auth" is the flag; "= false" drops it. */
				if (v == NULL || strcmp(v, "true") == 0) {
					if (asprintf(&out[n++], "--%s", k) < 0)
						fatal("out of memory");
				}
			} else if (asprintf(&out[n++], "--%s=%s", k, v) < 0)
				fatal("out of memory");
		}
		fclose(f);
	}
	for (i = 1; i < argc; i++)
		out[n++] = argv[i];
	out[n] = NULL;
	*newargc = n;
	return out;
}

/* Parked requests hold connections: allow as many descriptors as we may. */
static void
main_raise_nofile(struct main_ctx *m)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	m->jd.cfg.nofile_soft = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)m->jd.cfg.max_conns + 256) {
		/* 256 descriptors for the rest (the database, pipes, pidfds);
		 * under a tiny limit, half of it. */
		unsigned n = rl.rlim_cur > 512 ? (unsigned)rl.rlim_cur - 256 : (unsigned)rl.rlim_cur / 2;

		log_warn("open-file limit %llu: serving at most %u connections",
		    (unsigned long long)rl.rlim_cur, n);
		m->jd.cfg.max_conns = n;
	}
}

static uint64_t
main_hold_seq(void *arg)
{
	struct jobd *jd = arg;

	return store_hold_seq(jd->store);
}

static void
main_pulse(void *arg)
{
	struct jobd *jd = arg;

	store_pulse(jd->store);
}

static void
main_committed(void *arg, struct task *t)
{
	struct jobd *jd = arg;

	sched_committed(jd->sched, t);
}

static void
main_answered(void *arg, unsigned status, double seconds)
{
	struct jobd *jd = arg;

	metrics_request(jd->metrics, status, seconds);
}

static void
main_batch_done(void *arg, unsigned n)
{
	struct jobd *jd = arg;

	metrics_commit(jd->metrics, n);
	sched_batch_committed(jd->sched);
}

static void
main_before_batch(void *arg)
{
	struct jobd *jd = arg;

	if (jd->sched != NULL)
		sched_settle(jd->sched);
}

static void
main_durable(void *arg, uint64_t seq)
{
	struct jobd *jd = arg;

	if (jd->httpd != NULL)
		httpd_durable(jd->httpd, seq);
}

static void
main_withdrawn(void *arg, struct task *t)
{
	struct jobd *jd = arg;
	int64_t      id = t->id;

	sched_withdraw(jd->sched, t);
	httpd_withdraw(jd->httpd, id);
}

/* Shutdown: wait until every parked answer is out, or the grace ends. */
static void
main_stop_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx *m = arg;

	if (httpd_idle(m->jd.httpd) && store_settled(m->jd.store))
		m->idle_ticks++;
	else
		m->idle_ticks = 0;
	/* A few idle ticks let MHD write what it queued last. */
	if (m->idle_ticks >= 5 || time_now_ms() > m->stop_deadline)
		event_base_loopbreak(m->jd.base);
	else
		evtimer_add(m->stop_ev, (&(struct timeval){ 0, 20000 }));
}

static void main_begin_stop(struct main_ctx *m);

static void
main_on_signal(struct main_ctx *m, int sig)
{
	if (sig == SIGUSR1 || sig == SIGUSR2) {
		log_info("signal %d: ignored (jobd has no use for it)", (int)sig);
		return;
	}
	if (m->jd.stopping)
		return;
	log_info("signal %d: stopping", (int)sig);
	main_begin_stop(m);
}

static void
main_signal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
		main_on_signal(arg, (int)si.ssi_signo);
}

/* jobd's signals are reads of a signalfd on the loop, blocked in every
 * thread: no handler of ours ever runs, neither in jobd (a sanitizer's
 * handler could hold a signal back, or lose it, until the next one) nor
 * in a child between its clone and its exec, where it would run on our
 * memory (exec_spawn.c).  Blocked before anything starts a program or a
 * thread; a child unblocks everything before its exec.  Caught during
 * start-up, they act once the loop runs.
 * SIGHUP too: a closed terminal must not kill jobd on the spot, leaving
 * its programs to the next start (it has nothing to reload).  SIGUSR1
 * and SIGUSR2 would kill it outright too: a stray one (a log rotation
 * script's "reopen your logs") is noted and ignored. */
static void
main_signals(struct main_ctx *m)
{
	static const int sigs[MAIN_NSIGS] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
	sigset_t         set;
	int              i;

	sigemptyset(&set);
	for (i = 0; i < MAIN_NSIGS; i++)
		sigaddset(&set, sigs[i]);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (m->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("cannot watch signals: %s", strerror(errno));
	m->sig_ev = event_new(m->jd.base, m->sig_fd, EV_READ | EV_PERSIST, main_signal_cb, m);
	if (m->sig_ev == NULL || event_add(m->sig_ev, NULL) == -1)
		fatal("cannot watch signals");
}

/* The store's files are gone from under it: nothing is durable any more.
 * Stop as on SIGTERM, but exit 1: the clean close lets SQLite save into
 * the database what the WAL it still holds open has (a WAL deleted under
 * jobd), which stopping on the spot would lose. */
static void
main_lost(void *arg, const char *why)
{
	/* The store's hooks get &m->jd, main_ctx's first member. */
	struct main_ctx *m = (struct main_ctx *)arg;

	log_err("%s; stopping", why);
	m->status = 1;
	if (!m->jd.stopping)
		main_begin_stop(m);
}

static void
main_begin_stop(struct main_ctx *m)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	m->jd.stopping = 1;
	httpd_quiesce(m->jd.httpd);
	listen_close(&m->ls);
	waiters_shutdown(m->jd.waiters);
	m->stop_deadline = time_now_ms() + MAIN_STOP_GRACE_MS;
	m->stop_ev = evtimer_new(m->jd.base, main_stop_tick_cb, m);
	evtimer_add(m->stop_ev, (&(struct timeval){ 0, 0 }));
}

static char *
main_slurp(const char *flag, const char *path)
{
	char   *buf = NULL;
	size_t  len = 0;
	FILE   *f = fopen(path, "re"), *mem;
	int     c;

	if (f == NULL)
		fatal("%s %s: %s", flag, path, strerror(errno));
	if ((mem = open_memstream(&buf, &len)) == NULL)
		fatal("out of memory");
	while ((c = getc(f)) != EOF)
		putc(c, mem);
	fclose(f);
	fclose(mem);
	return buf;
}

static void
main_tls(struct main_ctx *m)
{
	if (m->jd.cfg.tls_cert == NULL)
		return;
	m->tls_cert = main_slurp("--tls-cert", m->jd.cfg.tls_cert);
	m->tls_key = main_slurp("--tls-key", m->jd.cfg.tls_key);
}

static void
main_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, "WATCHDOG=1");
#endif
}

/* Tell systemd we serve, and keep its watchdog fed from the loop: if the
 * loop stalls, the pings stop and systemd restarts us. */
static void
main_watchdog(struct main_ctx *m)
{
#ifdef HAVE_SYSTEMD
	uint64_t usec;

	sd_notify(0, "READY=1\nSTATUS=serving");
	if (sd_watchdog_enabled(0, &usec) > 0) {
		struct timeval tv = { (time_t)(usec / 2000000), (suseconds_t)(usec / 2 % 1000000) };

		m->watchdog_ev = event_new(m->jd.base, -1, EV_PERSIST, main_watchdog_cb, m);
		event_add(m->watchdog_ev, &tv);
		sd_notify(0, "WATCHDOG=1");
	}
#endif
}

/* A start refused after the listeners are open: the socket files made
 * for unix: listeners go too (a later start would find them stale anyway,
 * but nothing should be left behind). */
static void __attribute__((noreturn))
main_refuse(struct main_ctx *m, const struct err *e)
{
	log_err("%s", e->msg);
	listen_close(&m->ls);
	exit(e->status == 2 ? 2 : 1);
}

static void
main_start(struct main_ctx *m)
{
	struct jobd       *jd = &m->jd;
	struct err         e;
	struct store_hooks hooks = { .committed = main_committed, .batch_done = main_batch_done,
	    .durable = main_durable, .withdrawn = main_withdrawn,
	    .before_batch = main_before_batch, .lost = main_lost, .arg = jd };
	struct httpd_config hc;

	struct event_config *ecfg = event_config_new();

	/* epoll_wait counts in whole milliseconds: a timerfd lets a task's end
	 * wake its waiters within microseconds, not up to a millisecond late. */
	event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	/* Two priorities (below, loop_prio.h): what frees a stage of the
	 * commit pipeline or a program's slot runs before HTTP work.  The
	 * loop does not poll again after every callback to look for them
	 * (max_dispatch_interval 1, as it did): each such poll is an
	 * epoll_wait and, with the precise timer, a timerfd_settime, 7% of the
	 * loop's CPU per exec task (batch mode, 3 of 3 alternating runs) for
	 * no gain B1, B2 or B4 showed. */
	jd->base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	/* Before any event is made: events take their priority when made. */
	if (jd->base == NULL || event_base_priority_init(jd->base, LOOP_PRIO_N) != 0)
		fatal("cannot create the event loop");
	main_signals(m);
	jd->metrics = metrics_new();
	/* Everything that can be refused comes before anything runs. */
	main_tls(m);
	if (listen_open(&m->ls, jd->cfg.listen, jd->cfg.nlisten, jd->cfg.no_auth, &e) < 0)
		main_refuse(m, &e);
	if ((jd->store = store_open(jd->base, jd->cfg.db_path, jd->cfg.sync_full,
	    jd->cfg.max_db_size, &e)) == NULL)
		main_refuse(m, &e);
	store_set_hooks(jd->store, &hooks);
	if (auth_load(&jd->cfg, &jd->token, &e) < 0)
		main_refuse(m, &e);
	if ((jd->sched = sched_new(jd)) == NULL)
		fatal("cannot start the scheduler");
	jd->waiters = waiters_new(jd);
	sched_set_done_hook(jd->sched, waiters_task_done, jd->waiters);
	sched_set_withdraw_hook(jd->sched, waiters_task_withdrawn);
	if (sched_recover(jd->sched) < 0)
		fatal("cannot load active tasks from %s", jd->cfg.db_path);
	hc = (struct httpd_config){ .base = jd->base, .fds = m->ls.fds, .nfds = m->ls.n,
	    .tls_cert = m->tls_cert, .tls_key = m->tls_key,
	    .max_conns = jd->cfg.max_conns, .max_body = jd->cfg.max_body, .token = jd->token,
	    .request_timeout = jd->cfg.request_timeout,
	    .hold_seq = main_hold_seq,
	    .wants_body = api_wants_body, .early = api_guard, .dispatch = api_dispatch,
	    .answered = main_answered, .pulse = main_pulse, .arg = jd };
	if ((jd->httpd = httpd_new(&hc, &e)) == NULL)
		main_refuse(m, &e);
	listen_announce(&m->ls);
}

static void
main_stop(struct main_ctx *m)
{
	struct jobd *jd = &m->jd;

	if (store_flush(jd->store) < 0)
		log_err("the last commit failed; the next start recovers from the log");
	httpd_free(jd->httpd);
	sched_free(jd->sched);
	waiters_free(jd->waiters);
	metrics_free(jd->metrics);
	store_close(jd->store);
	if (m->sig_ev)
		event_free(m->sig_ev);
	close(m->sig_fd);
	if (m->stop_ev)
		event_free(m->stop_ev);
	if (m->watchdog_ev)
		event_free(m->watchdog_ev);
	listen_close(&m->ls);
	free(m->tls_cert);
	free(m->tls_key);
	event_base_free(jd->base);
	free(jd->token);
	free(m->db_default);
}

int
main(int argc, char **argv)
{
	struct main_ctx m = { 0 };
	int             nargc, i;

	main_defaults(&m);
	m.argv = main_config(argc, argv, &nargc);
	m.nconfig = nargc - argc;
	main_flags(&m, nargc, m.argv);
	/* Writes to a closed pipe or socket must return EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	main_raise_nofile(&m);
	main_start(&m);
	main_watchdog(&m);
	log_info("jobd %s ready (database %s, %s)", PACKAGE_VERSION, m.jd.cfg.db_path,
	    m.jd.token ? "token auth" : "no auth");
	event_base_dispatch(m.jd.base);
	main_stop(&m);
	log_info("stopped");
	for (i = 1; i <= m.nconfig; i++)
		free(m.argv[i]);      /* the config file's flags */
	free(m.argv);
	return m.status;
}
