/* main.c: flags, start-up order, signals, clean shutdown. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "api.h"
#include "httpd.h"
#include "jobd.h"
#include "log.h"
#include "sched.h"
#include "store.h"
#include "timeutil.h"
#include "waiter.h"

#define MAIN_STOP_GRACE_MS 5000

struct main_ctx {
	struct jobd    jd;
	int            listen_fd;
	char           listen_host[256];
	struct event  *sig_ev[2];
	struct event  *stop_ev;
	int64_t        stop_deadline;
	int            idle_ticks;
	char          *db_default;
};

static void
main_usage(FILE *f)
{
	fputs("usage: jobd [options]\n"
	    "Run jobs (programs, HTTP requests, sleeps) as durable asynchronous tasks\n"
	    "behind a REST API.\n\n"
	    "  --listen HOST:PORT     address to serve (default 127.0.0.1:8080; port 0 picks one)\n"
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
	    "  --max-connections N    concurrent HTTP connections (default 10240)\n"
	    "  --sync full|normal     SQLite synchronous mode (default full: survives power loss)\n"
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

	c->listen = "127.0.0.1:8080";
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
	c->max_conns = 10240;
}

static void
main_flags(struct main_ctx *m, int argc, char **argv)
{
	enum { OPT_LISTEN = 256, OPT_DB, OPT_TOKEN, OPT_NOAUTH, OPT_MAXEXEC, OPT_MAXHTTP, OPT_GRACE, OPT_MAXOUT,
	    OPT_MAXBODY, OPT_MAXCONN, OPT_SYNC, OPT_ORIGIN, OPT_HOST, OPT_LOGLEVEL, OPT_HELP, OPT_VERSION };
	static const struct option opts[] = {
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
		{ "sync", required_argument, NULL, OPT_SYNC },
		{ "allow-origin", required_argument, NULL, OPT_ORIGIN },
		{ "allow-host", required_argument, NULL, OPT_HOST },
		{ "log-level", required_argument, NULL, OPT_LOGLEVEL },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct jobd_config *c = &m->jd.cfg;
	enum log_level      lvl;
	int                 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_LISTEN: c->listen = optarg; break;
		case OPT_DB: c->db_path = optarg; break;
		case OPT_TOKEN: c->token_file = optarg; break;
		case OPT_NOAUTH: c->no_auth = 1; break;
		case OPT_MAXEXEC: c->max_exec = (int)main_number("--max-exec", optarg, 1, 65536); break;
		case OPT_MAXHTTP: c->max_http = (int)main_number("--max-http", optarg, 1, 65536); break;
		case OPT_GRACE: c->kill_grace = main_seconds("--kill-grace", optarg); break;
		case OPT_MAXOUT: c->max_output = (size_t)main_number("--max-output", optarg, 0, INT_MAX); break;
		case OPT_MAXBODY: c->max_body = (size_t)main_number("--max-body", optarg, 1, INT_MAX); break;
		case OPT_MAXCONN: c->max_conns = (unsigned)main_number("--max-connections", optarg, 16, 1000000); break;
		case OPT_SYNC:
			if (strcmp(optarg, "full") != 0 && strcmp(optarg, "normal") != 0) {
				fprintf(stderr, "jobd: --sync: expected full or normal, got \"%s\"\n", optarg);
				exit(2);
			}
			c->sync_full = strcmp(optarg, "full") == 0;
			break;
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
				fprintf(stderr, "jobd: unknown or incomplete option \"%s\"\n", argv[optind - 1]);
			fputs("Try 'jobd --help'.\n", stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jobd: unexpected argument \"%s\"\nTry 'jobd --help'.\n", argv[optind]);
		exit(2);
	}
}

/* Split "HOST:PORT" or "[V6]:PORT". */
static int
main_split_listen(const char *s, char *host, size_t hlen, const char **port)
{
	const char *colon;
	size_t      n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		n = (size_t)(end - s - 1);
		s++;
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hlen || colon[1] == '\0')
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

static int
main_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

static void
main_listen(struct main_ctx *m)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	struct sockaddr_storage ss;
	socklen_t   sl = sizeof ss;
	const char *port;
	char        addr[INET6_ADDRSTRLEN];
	int         fd, one = 1, rc;

	if (main_split_listen(m->jd.cfg.listen, m->listen_host, sizeof m->listen_host, &port) < 0)
		fatal("--listen: expected HOST:PORT or [IPV6]:PORT, got \"%s\"", m->jd.cfg.listen);
	if ((rc = getaddrinfo(m->listen_host, port, &hints, &res)) != 0)
		fatal("--listen %s: %s", m->jd.cfg.listen, gai_strerror(rc));
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		fatal("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0)
		fatal("cannot listen on %s: %s", m->jd.cfg.listen, strerror(errno));
	if (m->jd.cfg.no_auth && !main_is_loopback(res->ai_addr))
		fatal("--no-auth is refused for %s: it is not a loopback address", m->jd.cfg.listen);
	freeaddrinfo(res);
	if (listen(fd, 4096) < 0)
		fatal("cannot listen on %s: %s", m->jd.cfg.listen, strerror(errno));
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
		log_info("listening on [%s]:%u", addr, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
		log_info("listening on %s:%u", addr, ntohs(((struct sockaddr_in *)&ss)->sin_port));
	}
	m->listen_fd = fd;
}

static char *
main_read_token(const char *path)
{
	char    buf[512];
	FILE   *f = fopen(path, "re");
	size_t  n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? strdup(buf) : NULL;
}

/* 256 random bits as hex, in a 0600 file made only if none exists. */
static char *
main_make_token(const char *path)
{
	unsigned char raw[32];
	char          hex[65];
	int           fd, i;

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		fatal("getrandom: %s", strerror(errno));
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return errno == EEXIST ? main_read_token(path) : NULL;
	if (write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		fatal("cannot write token file %s: %s", path, strerror(errno));
	close(fd);
	log_info("created a new token in %s", path);
	return strdup(hex);
}

static void
main_token(struct main_ctx *m)
{
	const struct jobd_config *c = &m->jd.cfg;
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char       *path = NULL, *slash;

	if (c->no_auth)
		return;
	if (c->token_file != NULL) {
		if ((m->jd.token = main_read_token(c->token_file)) == NULL)
			fatal("cannot read a token from %s", c->token_file);
		return;
	}
	if (creds != NULL && asprintf(&path, "%s/token", creds) > 0 &&
	    (m->jd.token = main_read_token(path)) != NULL) {
		free(path);
		return;
	}
	free(path);
	slash = strrchr(c->db_path, '/');
	if (asprintf(&path, "%.*sjobd.token", slash ? (int)(slash - c->db_path + 1) : 0,
	    c->db_path) < 0)
		fatal("out of memory");
	if ((m->jd.token = main_make_token(path)) == NULL)
		fatal("cannot create or read the token file %s", path);
	log_info("auth: clients need the bearer token in %s", path);
	free(path);
}

/* Parked requests hold connections: allow as many descriptors as we may. */
static void
main_raise_nofile(struct main_ctx *m)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)m->jd.cfg.max_conns + 256) {
		unsigned n = rl.rlim_cur > 512 ? (unsigned)rl.rlim_cur - 256 : 256;

		log_warn("open-file limit %llu: serving at most %u connections",
		    (unsigned long long)rl.rlim_cur, n);
		m->jd.cfg.max_conns = n;
	}
}

static int
main_must_hold(void *arg)
{
	struct jobd *jd = arg;

	return store_dirty(jd->store);
}

static void
main_committed(void *arg, struct task *t)
{
	struct jobd *jd = arg;

	sched_committed(jd->sched, t);
}

static void
main_batch_done(void *arg)
{
	struct jobd *jd = arg;

	httpd_commit_done(jd->httpd);
}

/* Shutdown: wait until every parked answer is out, or the grace ends. */
static void
main_stop_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_ctx *m = arg;

	if (httpd_idle(m->jd.httpd) && !store_dirty(m->jd.store))
		m->idle_ticks++;
	else
		m->idle_ticks = 0;
	/* A few idle ticks let MHD write what it queued last. */
	if (m->idle_ticks >= 5 || time_now_ms() > m->stop_deadline)
		event_base_loopbreak(m->jd.base);
	else
		evtimer_add(m->stop_ev, (&(struct timeval){ 0, 20000 }));
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_ctx *m = arg;

	if (m->jd.stopping)
		return;
	log_info("signal %d: stopping", (int)sig);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	m->jd.stopping = 1;
	httpd_quiesce(m->jd.httpd);
	close(m->listen_fd);
	m->listen_fd = -1;
	waiters_shutdown(m->jd.waiters);
	m->stop_deadline = time_now_ms() + MAIN_STOP_GRACE_MS;
	m->stop_ev = evtimer_new(m->jd.base, main_stop_tick_cb, m);
	evtimer_add(m->stop_ev, (&(struct timeval){ 0, 0 }));
}

static void
main_start(struct main_ctx *m)
{
	struct jobd       *jd = &m->jd;
	struct err         e;
	struct store_hooks hooks = { main_committed, main_batch_done, jd };
	struct httpd_config hc;
	int                i;
	static const int   sigs[2] = { SIGTERM, SIGINT };

	if ((jd->base = event_base_new()) == NULL)
		fatal("cannot create the event loop");
	if ((jd->store = store_open(jd->base, jd->cfg.db_path, jd->cfg.sync_full, &e)) == NULL)
		fatal("%s", e.msg);
	store_set_hooks(jd->store, &hooks);
	main_token(m);
	if ((jd->sched = sched_new(jd)) == NULL)
		fatal("cannot start the scheduler");
	jd->waiters = waiters_new(jd);
	sched_set_done_hook(jd->sched, waiters_task_done, jd->waiters);
	if (sched_recover(jd->sched) < 0)
		fatal("cannot load active tasks from %s", jd->cfg.db_path);
	main_listen(m);
	hc = (struct httpd_config){ .base = jd->base, .listen_fd = m->listen_fd,
	    .max_conns = jd->cfg.max_conns, .max_body = jd->cfg.max_body, .token = jd->token,
	    .listen_host = m->listen_host, .must_hold = main_must_hold,
	    .dispatch = api_dispatch, .arg = jd };
	if ((jd->httpd = httpd_new(&hc, &e)) == NULL)
		fatal("%s", e.msg);
	for (i = 0; i < 2; i++) {
		m->sig_ev[i] = evsignal_new(jd->base, sigs[i], main_signal_cb, m);
		event_add(m->sig_ev[i], NULL);
	}
}

static void
main_stop(struct main_ctx *m)
{
	struct jobd *jd = &m->jd;
	int          i;

	if (store_flush(jd->store) < 0)
		log_err("the last commit failed; the next start recovers from the log");
	httpd_free(jd->httpd);
	sched_free(jd->sched);
	waiters_free(jd->waiters);
	store_close(jd->store);
	for (i = 0; i < 2; i++)
		if (m->sig_ev[i])
			event_free(m->sig_ev[i]);
	if (m->stop_ev)
		event_free(m->stop_ev);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	event_base_free(jd->base);
	free(jd->token);
	free(m->db_default);
}

int
main(int argc, char **argv)
{
	struct main_ctx m = { .listen_fd = -1 };

	main_defaults(&m);
	main_flags(&m, argc, argv);
	/* Writes to a closed pipe or socket must return EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	main_raise_nofile(&m);
	main_start(&m);
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1\nSTATUS=serving");
#endif
	log_info("jobd %s ready (database %s, %s)", PACKAGE_VERSION, m.jd.cfg.db_path,
	    m.jd.token ? "token auth" : "no auth");
	event_base_dispatch(m.jd.base);
	main_stop(&m);
	log_info("stopped");
	return 0;
}
