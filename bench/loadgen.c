/* loadgen.c: closed-loop HTTP/1.1 load generator for jobd's benchmarks.
 *
 * One libevent loop, raw nonblocking sockets, hand-written keep-alive framing
 * (responses must carry Content-Length, as jobd's and MHD's do).  Each
 * connection has exactly one request in flight.  Modes:
 *
 *   create  POST sleep tasks for --duration seconds on --conns connections;
 *           prints the 201s per second (after --warmup).  --kill PID sends
 *           SIGKILL to jobd at the end with requests in flight and --ids FILE
 *           lists every id answered 201, so the caller can check they were
 *           all committed.
 *   e2e     create a `sleep 0` task, then GET its result on the same
 *           connection; --total pairs; prints pairs per second.
 *   park    create --total sleep tasks whose ends spread evenly over --spread
 *           seconds, starting --margin seconds from now; then park one
 *           connection per task on GET .../result and measure, per task,
 *           receive time minus scheduled end (started_at, read from the
 *           answer, + seconds), and
 *           jobd's RSS (--pid) once /metrics says all are waiting.
 *
 * Output is one line of key=value pairs on stdout; errors go to stderr and
 * make the exit status non-zero.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

enum lg_mode { MODE_CREATE, MODE_E2E, MODE_PARK };
enum lg_role { ROLE_LOAD, ROLE_PARK, ROLE_METRICS };

struct lg_opts {
	enum lg_mode mode;
	int          port;
	int          conns;
	double       duration;
	double       warmup;
	double       seconds;	/* create: the sleep spec */
	long         total;	/* e2e: pairs; park: tasks */
	double       spread;	/* park: ends spread over this many seconds */
	double       margin;	/* park: first end this long after start */
	long         pid;	/* jobd: RSS, or SIGKILL at the end */
	int          kill_end;
	const char  *ids_path;
	const char  *dump_path;	/* park: per task, its id, end and latency */
};

struct lg;

struct conn {
	struct lg    *lg;
	enum lg_role  role;
	int           fd;
	long          slot;	/* park: the task index this connection waits for */
	int           phase;	/* e2e: 0 awaiting 201, 1 awaiting the result */
	int64_t       task;
	struct event *rev;
	struct event *wev;
	char          out[512];
	size_t        outlen, outoff;
	char         *in;
	size_t        inlen, incap;
};

struct lg {
	struct lg_opts      o;
	struct event_base  *base;
	struct event       *warm_ev, *end_ev, *guard_ev, *poll_ev, *connect_ev;
	int                 open;	/* connections not yet closed */
	int                 stopping;
	int                 failed;
	double              t_start, t_warm, t_end;
	long                ok, ok_warm, ok_end;	/* create: 201s; e2e: pairs */
	long                issued;
	int64_t            *ids;
	size_t              nids, capids;
	/* park */
	int64_t            *task_id;
	int64_t            *plan_ms;	/* planned end, ms since the epoch */
	int64_t            *secs_ms;	/* the sleep asked for, ms */
	double             *lat;	/* ms, per task; NAN until answered */
	double             *recv_mono;	/* ms, CLOCK_MONOTONIC at each answer (--dump) */
	long                created, next_park, parked_sent, answered, errors, early;
	long                rss_kb, waiting;
	double              base_ms, parked_at_ms;
	struct conn        *metrics;
};

static void lg_response(struct conn *c, int status, const char *body, size_t len);
static void conn_ready(struct conn *c);

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* For --dump: times a profile (perf record -k CLOCK_MONOTONIC) can match. */
static double
now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* jobd stamps wall-clock milliseconds, so park compares against this. */
static double
now_rt_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct timeval
tv_of(double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

static long
read_rss_kb(long pid)
{
	char  path[64], line[256];
	FILE *f;
	long  kb = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* --- HTTP framing ------------------------------------------------------ */

/* 1 and the sizes when buf holds a whole response, 0 if more is needed, -1 if
 * it cannot be framed. */
static int
http_frame(const char *buf, size_t len, int *status, size_t *hdrlen, size_t *bodylen)
{
	const char *end, *p, *eol;
	long        cl = -1;

	if ((end = memmem(buf, len, "\r\n\r\n", 4)) == NULL)
		return len > 16384 ? -1 : 0;
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
		return -1;
	*status = atoi(buf + 9);
	for (p = memchr(buf, '\n', (size_t)(end - buf)) + 1; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			cl = strtol(p + 15, NULL, 10);
	}
	if (cl < 0)
		return -1;
	*hdrlen = (size_t)(end + 4 - buf);
	*bodylen = (size_t)cl;
	return len >= *hdrlen + *bodylen;
}

/* --- connections ------------------------------------------------------- */

static void
conn_close(struct conn *c)
{
	struct lg *lg = c->lg;

	if (c->fd < 0)
		return;
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	c->fd = -1;
	free(c->in);
	c->in = NULL;
	if (lg->metrics == c)
		lg->metrics = NULL;
	free(c);
	if (--lg->open == 0 && lg->stopping)
		event_base_loopexit(lg->base, NULL);
}

static void
conn_flush(struct conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			event_add(c->wev, NULL);
			return;
		}
		if (n < 0)
			die("send: %s", strerror(errno));
		c->outoff += (size_t)n;
	}
}

static void
conn_send(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(c->out, sizeof c->out, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof c->out)
		die("request too long");
	c->outlen = (size_t)n;
	c->outoff = 0;
	conn_flush(c);
}

static void
conn_post_sleep(struct conn *c, const char *seconds)
{
	char body[128];
	int  n;

	n = snprintf(body, sizeof body, "{\"kind\":\"sleep\",\"sleep\":{\"seconds\":%s}}", seconds);
	conn_send(c, "POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
	    c->lg->o.port, n, body);
}

static void
conn_get(struct conn *c, const char *path)
{
	conn_send(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, c->lg->o.port);
}

static void
conn_get_result(struct conn *c, int64_t id)
{
	char path[64];

	snprintf(path, sizeof path, "/v1/tasks/%" PRId64 "/result", id);
	conn_get(c, path);
}

/* The peer closed or reset: expected only once we stop or killed jobd. */
static void
conn_lost(struct conn *c, const char *why)
{
	struct lg *lg = c->lg;

	if (!lg->stopping)
		die("connection lost (%s) before the end of the run", why);
	conn_close(c);
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	size_t       hdr, body;
	ssize_t      n;
	char        *copy;
	int          status, r;

	(void)fd;
	(void)what;
	if (c->incap - c->inlen < 4096) {
		c->incap = c->incap ? c->incap * 2 : 8192;
		if ((c->in = realloc(c->in, c->incap)) == NULL)
			die("out of memory");
	}
	n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_lost(c, n == 0 ? "EOF" : strerror(errno));
		return;
	}
	c->inlen += (size_t)n;
	if ((r = http_frame(c->in, c->inlen, &status, &hdr, &body)) < 0)
		die("cannot frame a response (no Content-Length?)");
	if (r == 0)
		return;
	/* One request in flight: nothing may follow the answer. */
	if (hdr + body != c->inlen)
		die("%zu unexpected bytes after a response", c->inlen - hdr - body);
	c->inlen = 0;
	/* Handling may reuse c's buffer or free c. */
	if ((copy = malloc(body + 1)) == NULL)
		die("out of memory");
	memcpy(copy, c->in + hdr, body);
	copy[body] = '\0';
	lg_response(c, status, copy, body);
	free(copy);
}

static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	socklen_t    len = sizeof(int);
	int          err = 0;

	(void)what;
	if (c->rev != NULL && event_pending(c->rev, EV_READ, NULL)) {
		conn_flush(c);
		return;
	}
	/* First writability: the connect finished. */
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0)
		die("connect to 127.0.0.1:%d: %s", c->lg->o.port, strerror(err ? err : errno));
	event_add(c->rev, NULL);
	conn_ready(c);
}

static struct conn *
conn_open(struct lg *lg, enum lg_role role, long slot)
{
	struct sockaddr_in sin;
	struct conn       *c;
	int                one = 1;

	if ((c = calloc(1, sizeof *c)) == NULL)
		die("out of memory");
	c->lg = lg;
	c->role = role;
	c->slot = slot;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		die("socket: %s (raise the open-file limit)", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)lg->o.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof sin) < 0 && errno != EINPROGRESS)
		die("connect to 127.0.0.1:%d: %s", lg->o.port, strerror(errno));
	c->rev = event_new(lg->base, c->fd, EV_READ | EV_PERSIST, conn_read_cb, c);
	c->wev = event_new(lg->base, c->fd, EV_WRITE, conn_write_cb, c);
	if (c->rev == NULL || c->wev == NULL)
		die("event_new failed");
	event_add(c->wev, NULL);
	lg->open++;
	return c;
}

/* --- create / e2e ------------------------------------------------------ */

static int64_t
json_int_member(const char *body, const char *key)
{
	const char *p = strstr(body, key);

	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* "started_at":"2026-11-24T22:45:00.123Z" as ms since the epoch, or -1. */
static int64_t
json_time_member(const char *body, const char *key)
{
	const char *p = strstr(body, key);
	struct tm   tm;
	int         ms;

	if (p == NULL)
		return -1;
	memset(&tm, 0, sizeof tm);
	if (sscanf(p + strlen(key), "\"%d-%d-%dT%d:%d:%d.%dZ\"", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

static void
lg_keep_id(struct lg *lg, int64_t id)
{
	if (lg->o.ids_path == NULL)
		return;
	if (lg->nids == lg->capids) {
		lg->capids = lg->capids ? lg->capids * 2 : 65536;
		if ((lg->ids = realloc(lg->ids, lg->capids * sizeof *lg->ids)) == NULL)
			die("out of memory");
	}
	lg->ids[lg->nids++] = id;
}

static void
lg_bad(const char *what, int status, const char *body)
{
	die("%s: unexpected HTTP %d: %.300s", what, status, body);
}

static void
create_next(struct conn *c)
{
	char secs[32];

	if (c->lg->stopping) {
		conn_close(c);
		return;
	}
	snprintf(secs, sizeof secs, "%g", c->lg->o.seconds);
	conn_post_sleep(c, secs);
}

static void
create_response(struct conn *c, int status, const char *body)
{
	struct lg *lg = c->lg;

	if (status != 201)
		lg_bad("create", status, body);
	lg->ok++;
	lg_keep_id(lg, json_int_member(body, "\"id\":"));
	create_next(c);
}

static void
e2e_next(struct conn *c)
{
	struct lg *lg = c->lg;

	if (lg->issued >= lg->o.total) {
		conn_close(c);
		return;
	}
	lg->issued++;
	c->phase = 0;
	conn_post_sleep(c, "0");
}

static void
e2e_response(struct conn *c, int status, const char *body)
{
	struct lg *lg = c->lg;

	if (c->phase == 0) {
		if (status != 201 || (c->task = json_int_member(body, "\"id\":")) <= 0)
			lg_bad("create", status, body);
		c->phase = 1;
		conn_get_result(c, c->task);
		return;
	}
	if (status != 200 || strstr(body, "\"state\":\"succeeded\"") == NULL)
		lg_bad("result", status, body);
	if (++lg->ok == lg->o.total) {
		lg->t_end = now_mono();
		lg->stopping = 1;
	}
	e2e_next(c);
}

/* --- park -------------------------------------------------------------- */

static void
park_open_more(struct lg *lg)
{
	/* A few hundred connects in flight at a time: a burst of 10,000 SYNs
	 * would overflow jobd's accept queue and cost 1 s retransmits. */
	while (lg->next_park < lg->o.total && lg->next_park - lg->parked_sent < 256)
		conn_open(lg, ROLE_PARK, lg->next_park++);
}

static void
park_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	park_open_more(arg);
}

static void
park_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;

	(void)fd;
	(void)what;
	if (lg->stopping)
		return;
	if (lg->metrics == NULL)
		lg->metrics = conn_open(lg, ROLE_METRICS, -1);
	else
		conn_get(lg->metrics, "/metrics");
}

static void
park_create_next(struct conn *c)
{
	struct lg *lg = c->lg;
	int64_t    target, ms;
	long       i;
	char       secs[32];

	if (lg->issued >= lg->o.total) {
		conn_close(c);
		return;
	}
	i = lg->issued++;
	c->slot = i;
	target = (int64_t)(lg->base_ms + lg->o.margin * 1e3 + (double)i * lg->o.spread * 1e3 /
	    (double)lg->o.total);
	if ((ms = target - (int64_t)now_rt_ms()) < 0)
		ms = 0;
	lg->plan_ms[i] = target;
	lg->secs_ms[i] = ms;
	snprintf(secs, sizeof secs, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
	conn_post_sleep(c, secs);
}

static void
park_created(struct conn *c, int status, const char *body)
{
	struct lg *lg = c->lg;

	if (status != 201)
		lg_bad("create", status, body);
	lg->task_id[c->slot] = json_int_member(body, "\"id\":");
	if (++lg->created == lg->o.total) {
		lg->next_park = 0;
		park_open_more(lg);
	}
	park_create_next(c);
}

static void
park_answered(struct conn *c, int status, const char *body)
{
	struct lg *lg = c->lg;
	double     t = now_rt_ms();
	int64_t    started;

	/* A task starts once its creation is committed, so the 201 may not
	 * know started_at yet: the answer does. */
	if (status == 200 && (started = json_time_member(body, "\"started_at\":")) < 0)
		die("result: no started_at in %.300s", body);
	if (status == 200)
		lg->lat[c->slot] = t - (double)(started + lg->secs_ms[c->slot]);
	if (status == 200 && lg->recv_mono != NULL)
		lg->recv_mono[c->slot] = now_mono_ms();
	else if (lg->errors++ == 0)
		fprintf(stderr, "loadgen: result: HTTP %d: %.300s\n", status, body);
	if (lg->parked_at_ms == 0)
		lg->early++;	/* answered before all were seen parked */
	if (++lg->answered == lg->o.total) {
		lg->stopping = 1;
		event_del(lg->poll_ev);
		if (lg->metrics != NULL)
			conn_close(lg->metrics);
	}
	conn_close(c);
}

static void
park_metrics(struct conn *c, int status, const char *body)
{
	struct lg  *lg = c->lg;
	const char *p;

	if (status != 200 || (p = strstr(body, "\njobd_waiting_clients ")) == NULL)
		lg_bad("metrics", status, body);
	lg->waiting = strtol(p + 22, NULL, 10);
	if (lg->waiting >= lg->o.total - lg->answered && lg->parked_sent == lg->o.total) {
		lg->parked_at_ms = now_rt_ms();
		lg->rss_kb = read_rss_kb(lg->o.pid);
		conn_close(c);
		return;
	}
	event_add(lg->poll_ev, (&(struct timeval){ 0, 20000 }));
}

/* --- dispatch ---------------------------------------------------------- */

static void
conn_ready(struct conn *c)
{
	struct lg *lg = c->lg;

	switch (c->role) {
	case ROLE_METRICS:
		conn_get(c, "/metrics");
		break;
	case ROLE_PARK:
		conn_get_result(c, lg->task_id[c->slot]);
		if (++lg->parked_sent == lg->o.total)
			event_add(lg->poll_ev, (&(struct timeval){ 0, 20000 }));
		else
			event_active(lg->connect_ev, 0, 0);
		break;
	case ROLE_LOAD:
		if (lg->o.mode == MODE_CREATE)
			create_next(c);
		else if (lg->o.mode == MODE_E2E)
			e2e_next(c);
		else
			park_create_next(c);
		break;
	}
}

static void
lg_response(struct conn *c, int status, const char *body, size_t len)
{
	(void)len;
	switch (c->role) {
	case ROLE_METRICS:
		park_metrics(c, status, body);
		break;
	case ROLE_PARK:
		park_answered(c, status, body);
		break;
	case ROLE_LOAD:
		if (c->lg->o.mode == MODE_CREATE)
			create_response(c, status, body);
		else if (c->lg->o.mode == MODE_E2E)
			e2e_response(c, status, body);
		else
			park_created(c, status, body);
		break;
	}
}

/* --- timers and the run ------------------------------------------------ */

static void
lg_warm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;

	(void)fd;
	(void)what;
	lg->t_warm = now_mono();
	lg->ok_warm = lg->ok;
}

static void
lg_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;

	(void)fd;
	(void)what;
	lg->t_end = now_mono();
	lg->ok_end = lg->ok;
	lg->stopping = 1;
	/* Crash jobd with requests in flight: every 201 seen must be on disk. */
	if (lg->o.kill_end && kill((pid_t)lg->o.pid, SIGKILL) < 0)
		die("kill %ld: %s", lg->o.pid, strerror(errno));
	event_add(lg->guard_ev, (&(struct timeval){ 30, 0 }));
}

static void
lg_guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	die("connections still open 30 s after the end");
}

static void
raise_nofile(long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < need + 32)
		die("open-file limit %ld is below the %ld connections asked for",
		    (long)rl.rlim_cur, need);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest rank. */
static double
pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)n + 0.999999);

	if (n == 0)
		return 0;
	return v[k == 0 ? 0 : (k > n ? n - 1 : k - 1)];
}

/* One line per answered task: its id, its end on CLOCK_MONOTONIC (ms) and
 * its latency (ms), to set beside a profile of the same seconds. */
static void
park_dump(struct lg *lg)
{
	FILE *f;
	long  i;

	if ((f = fopen(lg->o.dump_path, "w")) == NULL)
		die("%s: %s", lg->o.dump_path, strerror(errno));
	for (i = 0; i < lg->o.total; i++)
		if (!isnan(lg->lat[i]))
			fprintf(f, "%" PRId64 " %.3f %.3f\n", lg->task_id[i],
			    lg->recv_mono[i] - lg->lat[i], lg->lat[i]);
	if (fclose(f) != 0)
		die("%s: write failed", lg->o.dump_path);
}

static void
report_park(struct lg *lg)
{
	double *v;
	size_t  n = 0;
	long    i;

	if ((v = malloc(sizeof *v * (size_t)lg->o.total)) == NULL)
		die("out of memory");
	for (i = 0; i < lg->o.total; i++)
		if (!isnan(lg->lat[i]))
			v[n++] = lg->lat[i];
	qsort(v, n, sizeof *v, cmp_double);
	printf("tasks=%ld answered=%zu errors=%ld p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
	    "min_ms=%.3f rss_kb=%ld parked_before_first_end=%s answered_before_all_parked=%ld "
	    "resolution_ms=1\n", lg->o.total, n, lg->errors, pct(v, n, 0.5), pct(v, n, 0.99),
	    n ? v[n - 1] : 0.0, n ? v[0] : 0.0, lg->rss_kb,
	    lg->parked_at_ms > 0 && lg->parked_at_ms < (double)lg->plan_ms[0] ? "yes" : "no",
	    lg->early);
	free(v);
	if (lg->errors > 0 || lg->parked_at_ms == 0)
		lg->failed = 1;
	if (lg->o.dump_path != NULL)
		park_dump(lg);
}

static void
report(struct lg *lg)
{
	FILE  *f;
	size_t i;

	switch (lg->o.mode) {
	case MODE_CREATE:
		printf("rate=%.1f creates=%ld elapsed=%.3f total_201=%ld conns=%d\n",
		    (double)(lg->ok_end - lg->ok_warm) / (lg->t_end - lg->t_warm),
		    lg->ok_end - lg->ok_warm, lg->t_end - lg->t_warm, lg->ok, lg->o.conns);
		break;
	case MODE_E2E:
		printf("rate=%.1f pairs=%ld elapsed=%.3f conns=%d\n",
		    (double)lg->ok / (lg->t_end - lg->t_start), lg->ok, lg->t_end - lg->t_start,
		    lg->o.conns);
		break;
	case MODE_PARK:
		report_park(lg);
		break;
	}
	if (lg->o.ids_path == NULL)
		return;
	if ((f = fopen(lg->o.ids_path, "w")) == NULL)
		die("%s: %s", lg->o.ids_path, strerror(errno));
	for (i = 0; i < lg->nids; i++)
		fprintf(f, "%" PRId64 "\n", lg->ids[i]);
	if (fclose(f) != 0)
		die("%s: write failed", lg->o.ids_path);
}

static void
usage(void)
{
	fputs("usage: loadgen create|e2e|park --port P [--conns N] [--duration S] [--warmup S]\n"
	    "         [--seconds S] [--total N] [--spread S] [--margin S] [--pid PID]\n"
	    "         [--kill] [--ids FILE] [--dump FILE]\n"
	    "  create: POST sleep tasks (--seconds) for --duration s; rate = 201s/s after --warmup;\n"
	    "          --kill SIGKILLs --pid at the end, --ids FILE lists every id answered 201\n"
	    "  e2e:    create `sleep 0` then GET its result, --total pairs; rate = pairs/s\n"
	    "  park:   --total tasks ending evenly over --spread s from --margin s on, one parked\n"
	    "          GET .../result each; latency = receive - (started_at + seconds), and\n"
	    "          VmRSS of --pid once all are waiting; --dump FILE writes, per task, its id,\n"
	    "          its end on CLOCK_MONOTONIC (ms) and its latency (ms), for a profile\n", stderr);
	exit(2);
}

static void
parse_opts(struct lg_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", required_argument, NULL, 'p' }, { "conns", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' }, { "warmup", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 's' }, { "total", required_argument, NULL, 'n' },
		{ "spread", required_argument, NULL, 'S' }, { "margin", required_argument, NULL, 'm' },
		{ "pid", required_argument, NULL, 'P' }, { "kill", no_argument, NULL, 'k' },
		{ "ids", required_argument, NULL, 'i' }, { "help", no_argument, NULL, 'h' },
		{ "dump", required_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*o = (struct lg_opts){ .conns = 64, .duration = 5, .warmup = 0.5, .seconds = 600,
	    .total = 100000, .spread = 10, .margin = 6, .pid = -1 };
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "create") == 0)
		o->mode = MODE_CREATE;
	else if (strcmp(argv[1], "e2e") == 0)
		o->mode = MODE_E2E;
	else if (strcmp(argv[1], "park") == 0)
		o->mode = MODE_PARK;
	else
		usage();
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': o->port = atoi(optarg); break;
		case 'c': o->conns = atoi(optarg); break;
		case 'd': o->duration = atof(optarg); break;
		case 'w': o->warmup = atof(optarg); break;
		case 's': o->seconds = atof(optarg); break;
		case 'n': o->total = atol(optarg); break;
		case 'S': o->spread = atof(optarg); break;
		case 'm': o->margin = atof(optarg); break;
		case 'P': o->pid = atol(optarg); break;
		case 'k': o->kill_end = 1; break;
		case 'i': o->ids_path = optarg; break;
		case 'D': o->dump_path = optarg; break;
		default: usage();
		}
	}
	if (o->port <= 0 || o->conns <= 0 || o->total <= 0 || (o->kill_end && o->pid <= 0) ||
	    (o->mode == MODE_PARK && o->pid <= 0))
		usage();
}

static void
park_setup(struct lg *lg)
{
	long i;

	lg->task_id = calloc((size_t)lg->o.total, sizeof *lg->task_id);
	lg->plan_ms = calloc((size_t)lg->o.total, sizeof *lg->plan_ms);
	lg->secs_ms = calloc((size_t)lg->o.total, sizeof *lg->secs_ms);
	lg->lat = malloc((size_t)lg->o.total * sizeof *lg->lat);
	if (lg->o.dump_path != NULL &&
	    (lg->recv_mono = calloc((size_t)lg->o.total, sizeof *lg->recv_mono)) == NULL)
		die("out of memory");
	if (lg->task_id == NULL || lg->plan_ms == NULL || lg->secs_ms == NULL || lg->lat == NULL)
		die("out of memory");
	for (i = 0; i < lg->o.total; i++)
		lg->lat[i] = (double)NAN;
	lg->base_ms = now_rt_ms();
	lg->poll_ev = evtimer_new(lg->base, park_poll_cb, lg);
	lg->connect_ev = event_new(lg->base, -1, 0, park_connect_cb, lg);
	/* Results come 10 s after the creates; if nothing is parked by then,
	 * something is stuck. */
	event_add(lg->guard_ev, (&(struct timeval){ (time_t)(lg->o.margin + lg->o.spread) + 60, 0 }));
}

int
main(int argc, char **argv)
{
	struct event_config *cfg;
	struct lg            lg;
	struct timeval       tv;
	int                  i;

	memset(&lg, 0, sizeof lg);
	parse_opts(&lg.o, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(lg.o.mode == MODE_PARK ? lg.o.total + lg.o.conns : lg.o.conns);
	if ((cfg = event_config_new()) == NULL)
		die("event_config_new failed");
	lg.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (lg.base == NULL)
		die("event_base_new failed");
	lg.guard_ev = evtimer_new(lg.base, lg_guard_cb, &lg);
	lg.t_start = now_mono();
	if (lg.o.mode == MODE_CREATE) {
		lg.warm_ev = evtimer_new(lg.base, lg_warm_cb, &lg);
		lg.end_ev = evtimer_new(lg.base, lg_end_cb, &lg);
		tv = tv_of(lg.o.warmup);
		evtimer_add(lg.warm_ev, &tv);
		tv = tv_of(lg.o.warmup + lg.o.duration);
		evtimer_add(lg.end_ev, &tv);
	} else if (lg.o.mode == MODE_PARK)
		park_setup(&lg);
	if (lg.o.mode == MODE_PARK && lg.o.conns > lg.o.total)
		lg.o.conns = (int)lg.o.total;
	for (i = 0; i < lg.o.conns; i++)
		conn_open(&lg, ROLE_LOAD, -1);
	event_base_dispatch(lg.base);
	report(&lg);
	return lg.failed;
}
