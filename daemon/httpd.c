/* httpd.c: libmicrohttpd in external-epoll mode on the libevent loop.
 *
 * Three traps shape this file (notes/platform.md §1-2): a response queued in
 * the first handler call closes the connection, so we answer only in the
 * final call; nothing wakes MHD after a resume unless we run it; and parked
 * (suspended) connections neither time out nor see their clients leave. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "httpd_impl.h"
#include "log.h"

#define HTTPD_RESUME_BATCH 1000   /* bounds one MHD_run slice to ~20 ms */
#define HTTPD_ACCEPTS      64     /* accepts per readiness of a listening socket */
#define HTTPD_SHARD_FILL   512    /* connections on a daemon before the next takes them */

static void
httpd_pump(struct httpd_shard *sh)
{
	MHD_UNSIGNED_LONG_LONG to;

	sh->kicked = 0;
	MHD_run(sh->d);
	if (MHD_get_timeout(sh->d, &to) == MHD_YES) {
		struct timeval tv = { (time_t)(to / 1000), (suseconds_t)((to % 1000) * 1000) };

		evtimer_add(sh->mhd_timer, &tv);
	} else
		evtimer_del(sh->mhd_timer);
}

static void
httpd_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	httpd_pump(arg);
}

/* Never run MHD from inside its own callbacks: ask the loop to.  A resume
 * wakes nothing in external mode, so every resume ends here. */
static void
httpd_kick(struct httpd_shard *sh)
{
	if (!sh->kicked) {
		sh->kicked = 1;
		event_active(sh->mhd_ev, EV_READ, 0);
	}
}

static void
httpd_kick_all(struct httpd *h)
{
	size_t i;

	for (i = 0; i < h->nshards; i++)
		httpd_kick(&h->shards[i]);
}

static void
httpd_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd *h = arg;
	struct req   *r;
	int           n = 0;

	while (n++ < HTTPD_RESUME_BATCH && (r = TAILQ_FIRST(&h->resuming)) != NULL) {
		TAILQ_REMOVE(&h->resuming, r, entry);
		if (r->state == REQ_RESUMING)
			r->state = REQ_READY;
		MHD_resume_connection(r->conn);
		httpd_kick(r->shard);
	}
	if (!TAILQ_EMPTY(&h->resuming))
		event_active(h->resume_ev, 0, 0);
}

static void
httpd_enqueue_resume(struct httpd *h, struct req *r)
{
	TAILQ_INSERT_TAIL(&h->resuming, r, entry);
	event_active(h->resume_ev, 0, 0);
}

static void
httpd_unwatch(struct req *r)
{
	/* Before any resume: MHD may close the fd and reuse its number. */
	if (r->closed_ev != NULL) {
		event_free(r->closed_ev);
		r->closed_ev = NULL;
	}
}

static void
httpd_closed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct req *r = arg;
	struct httpd *h = r->h;

	httpd_unwatch(r);
	if (r->state != REQ_PARKED)
		return;
	TAILQ_REMOVE(&h->parked, r, entry);
	h->nparked--;
	r->state = REQ_ABORTED;
	if (r->gone != NULL) {
		r->gone(r->gone_arg);
		r->gone = NULL;
	}
	httpd_enqueue_resume(h, r);
}

/* MHD 0.9.75 sets TCP_NODELAY and TCP_CORK on every connection it did not
 * accept itself, unix sockets too; after the first refusal it reports each
 * one, three lines a request, though nothing is wrong (a unix socket has no
 * Nagle delay to push past).  Those are debug lines here. */
static int
httpd_log_is_noise(const char *line)
{
	return (strncmp(line, "Setting TCP_", 12) == 0 && strstr(line, "not supported") != NULL) ||
	    strncmp(line, "Failed to push the data from buffers", 36) == 0;
}

static void
httpd_log(void *arg, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	if (httpd_log_is_noise(line))
		log_debug("http: %s", line);
	else
		log_warn("http: %s", line);
}

/* ---- the request deadline ------------------------------------------------ */

/* A request must arrive whole (headers and body) within request_timeout of
 * its connection's opening or of its previous answer.  MHD's own timeout
 * counts from the last byte received, so a client sending a byte every 50 s
 * held its connection slot, and the body it had sent, for good
 * (slowloris): 16,384 such clients shut everyone out.  At the deadline the
 * socket is shut down; MHD sees the end (its epoll wakes), closes the
 * connection and frees its request.  No deadline runs while a request is
 * being answered, parked or held. */
struct httpd_conn {
	struct event *deadline;
	int           fd;
};

static void
httpd_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_conn *hc = arg;

	log_debug("http: connection %d: no whole request in time, closed", hc->fd);
	shutdown(hc->fd, SHUT_RDWR);
}

static void
httpd_deadline(struct httpd *h, struct MHD_Connection *c, int on)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct httpd_conn *hc = ci != NULL ? ci->socket_context : NULL;
	struct timeval     tv = { (time_t)h->cfg.request_timeout, 0 };

	if (hc == NULL)
		return;
	if (on)
		evtimer_add(hc->deadline, &tv);
	else
		evtimer_del(hc->deadline);
}

/* ---- answers and parking ------------------------------------------------ */

void
httpd_set_response(struct req *r, unsigned status, struct MHD_Response *resp)
{
	struct httpd *h = r->h;

	if (r->resp != NULL || r->state == REQ_DONE || r->state == REQ_ABORTED) {
		MHD_destroy_response(resp);
		return;    /* one answer per request; a late one is dropped */
	}
	r->resp = resp;
	r->status = status;
	if (r->state != REQ_PARKED)
		return;     /* answered inside its handler: the handler's caller queues it */
	TAILQ_REMOVE(&h->parked, r, entry);
	h->nparked--;
	httpd_unwatch(r);
	if ((r->seq = h->cfg.hold_seq(h->cfg.arg)) != 0) {
		r->state = REQ_HELD;
		TAILQ_INSERT_TAIL(&h->held, r, entry);
	} else {
		r->state = REQ_RESUMING;
		httpd_enqueue_resume(h, r);
	}
}

int
httpd_can_park(const struct req *r)
{
	return r->h->nparked < r->h->max_parked && !r->h->stopping;
}

int
httpd_park(struct req *r, void (*gone)(void *arg), void *arg)
{
	if (!httpd_can_park(r))
		return -1;
	r->gone = gone;
	r->gone_arg = arg;
	r->state = REQ_PARKED;
	return 0;
}

static int
httpd_append_body(struct req *r, const char *data, size_t n)
{
	r->seen += n;
	/* Drain a little past the cap so the 413 keeps the connection; an
	 * endless body drops the connection. */
	if (r->seen > 2 * r->h->cfg.max_body + 65536)
		return -1;
	if (!r->wants_body)
		return 0;      /* a route without a body ignores it */
	if (r->seen > r->h->cfg.max_body) {
		free(r->body);
		r->body = NULL;
		r->len = 0;
		return 0;
	}
	if (r->len + n + 1 > r->cap) {
		r->cap = (r->len + n + 1) * 2;
		if ((r->body = realloc(r->body, r->cap)) == NULL)
			fatal("out of memory");
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';
	return 0;
}

static enum MHD_Result
httpd_queue(struct req *r)
{
	enum MHD_Result ret;

	httpd_deadline(r->h, r->conn, 0);
	if (r->cors_origin != NULL) {
		MHD_add_response_header(r->resp, "Access-Control-Allow-Origin", r->cors_origin);
		MHD_add_response_header(r->resp, "Access-Control-Expose-Headers",
		    "Location, Retry-After, Allow");
		MHD_add_response_header(r->resp, "Vary", "Origin");
	}
	ret = MHD_queue_response(r->conn, r->status, r->resp);
	r->sent = r->status;
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	r->state = REQ_DONE;
	return ret;
}

struct httpd_framing {
	int         length, encoding, host;
	const char *coding;    /* the last Transfer-Encoding */
};

static enum MHD_Result
httpd_framing_cb(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct httpd_framing *f = arg;

	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		f->length++;
	else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->encoding++;
		f->coding = value;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
		f->host++;
	return MHD_YES;
}

/* Is chunked the last of a list of transfer codings? */
static int
httpd_chunked_last(const char *codings)
{
	const char *last = strrchr(codings, ',');
	size_t      n;

	last = last != NULL ? last + 1 : codings;
	last += strspn(last, " \t");
	n = strcspn(last, " \t;");
	return n == 7 && strncasecmp(last, "chunked", 7) == 0 &&
	    last[n + strspn(last + n, " \t")] == '\0';
}

/* Where a proxy in front might read the request otherwise than MHD does
 * (request smuggling), or its Host is ambiguous: what is wrong, else NULL,
 * and the status.  RFC 9112 3.2 and 6.3 ask for a 400 and a closed
 * connection.  MHD understands one Transfer-Encoding, "chunked" alone (it
 * compares the whole value): any other it takes for a body that lasts until
 * the client closes, and so waited for the timeout.  RFC 9112 6.1 asks for a 501 for a
 * coding not understood, 6.3 for a 400 when chunked is not the last. */
static const char *
httpd_framing_problem(struct MHD_Connection *c, const char *authority, int http11,
    unsigned *status)
{
	struct httpd_framing f = { 0 };

	*status = MHD_HTTP_BAD_REQUEST;
	MHD_get_connection_values(c, MHD_HEADER_KIND, httpd_framing_cb, &f);
	if (f.length > 1)
		return "more than one Content-Length header";
	if (f.length > 0 && f.encoding > 0)
		return "both Content-Length and Transfer-Encoding";
	if (f.host > 1)
		return "more than one Host header";
	if (f.host == 0 && http11)
		return "no Host header (HTTP/1.1 requires one)";
	if (authority != NULL && *authority == '\0')
		return "an absolute URL with no host";
	if (f.encoding > 1 || (f.encoding == 1 && strcasecmp(f.coding, "chunked") != 0)) {
		if (f.encoding > 1 || !httpd_chunked_last(f.coding))
			return "a Transfer-Encoding whose last coding is not chunked";
		*status = MHD_HTTP_NOT_IMPLEMENTED;
		return "a transfer coding other than chunked";
	}
	return NULL;
}

/* An absolute-form target ("GET http://host:port/path", RFC 9112 3.2.2),
 * which a server must accept: its path (its query MHD has split off
 * already), and its authority, which stands for Host.  Else url itself. */
static const char *
httpd_origin_form(struct req *r, const char *url)
{
	const char *auth, *path;
	size_t      n;

	if (strncasecmp(url, "http://", 7) == 0)
		auth = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		auth = url + 8;
	else
		return url;
	n = strcspn(auth, "/");
	if ((r->authority = strndup(auth, n)) == NULL)
		fatal("out of memory");
	path = auth + n;
	return *path != '\0' ? path : "/";
}

static struct req *
httpd_req_new(struct httpd_shard *sh)
{
	struct req *r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		fatal("out of memory");
	r->h = sh->h;
	r->shard = sh;
	return r;
}

/* MHD 0.9.75 keeps each query argument as a record in the connection's
 * memory pool (some 56 bytes, for as little as two bytes of URL), and when
 * the pool runs out it queues its 431 and then loses it: the failure of
 * MHD_parse_arguments_ is ignored, and parse_initial_message_line's caller
 * sets the state to MHD_CONNECTION_URL_RECEIVED over the one the 431 set
 * (connection.c:3036 and 4457-4465), so nothing is sent and the client
 * waits for the timeout.  So jobd keeps the query itself, in r->rawquery:
 * this callback runs after MHD found the '?' and before it parses what
 * follows, in its own writable read buffer (uri points into it); the query
 * is copied out and cut off there, and MHD parses an empty one.  The
 * request starts here (MHD passes the result on as *con_cls). */
static void *
httpd_uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r = httpd_req_new(cls);
	char       *q;

	if (uri != NULL && (q = strchr(uri, '?')) != NULL) {
		if ((r->rawquery = strdup(q + 1)) == NULL)
			fatal("out of memory");
		q[1] = '\0';
	}
	return r;
}

static int
httpd_expects_continue(struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);

	return v != NULL && strcasecmp(v, "100-continue") == 0;
}

static enum MHD_Result
httpd_first_call(struct req *r, struct MHD_Connection *c, const char *url, const char *method,
    const char *version)
{
	struct httpd *h = r->h;
	const char   *cl, *bad;
	unsigned      status;

	r->conn = c;
	r->url = httpd_origin_form(r, url);
	r->method = method;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	r->wants_body = h->cfg.wants_body(h->cfg.arg, method, r->url);
	if ((bad = httpd_framing_problem(c, r->authority,
	    strcmp(version, MHD_HTTP_VERSION_1_1) == 0, &status)) != NULL) {
		httpd_reply_error(r, status, status == MHD_HTTP_NOT_IMPLEMENTED ?
		    "not_implemented" : "bad_request", NULL, "the request has %s", bad);
		httpd_add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
		return httpd_queue(r);
	}
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (r->wants_body && cl != NULL && strtoull(cl, NULL, 10) > h->cfg.max_body) {
		/* Early: MHD closes the connection and never reads the body. */
		httpd_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", NULL,
		    "the request body is larger than %zu bytes", h->cfg.max_body);
		return httpd_queue(r);
	}
	/* MHD sends "100 Continue" once this call returns with no answer
	 * queued (connection.c, MHD_CONNECTION_HEADERS_PROCESSED): a refusal
	 * must come now, or the client sends its body for nothing. */
	/* And a body is kept only for a request the guard (token, Origin,
	 * Host) lets by: else anyone who can connect could make jobd hold
	 * max_body bytes per connection (16384 connections by default).  A
	 * refused body is read and dropped, then answered: closing at once
	 * could reset the connection before the client reads the answer. */
	if (h->cfg.early != NULL && (r->wants_body || httpd_expects_continue(c))) {
		h->cfg.early(h->cfg.arg, r);
		if (r->resp != NULL && httpd_expects_continue(c)) {
			httpd_add_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
			return httpd_queue(r);
		}
		if (r->resp != NULL) {
			r->wants_body = 0;
			r->state = REQ_READY;
		} else
			r->passed_early = 1;
	}
	return MHD_YES;
}

/* The final call: route, answer now, hold for the commit, or park. */
static enum MHD_Result
httpd_dispatch(struct httpd *h, struct req *r)
{
	httpd_deadline(h, r->conn, 0);      /* the request is whole */
	httpd_req_collect_query(r);
	if (r->wants_body && r->seen > h->cfg.max_body)
		httpd_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", NULL,
		    "the request body is larger than %zu bytes", h->cfg.max_body);
	else
		h->cfg.dispatch(h->cfg.arg, r);
	if (r->resp != NULL) {
		if (!r->seq_set)
			r->seq = h->cfg.hold_seq(h->cfg.arg);
		if (r->seq == 0)
			return httpd_queue(r);
		r->state = REQ_HELD;
		TAILQ_INSERT_TAIL(&h->held, r, entry);
		log_debug("http: %s %s: answer %u held for commit %llu", r->method, r->url,
		    r->status, (unsigned long long)r->seq);
		MHD_suspend_connection(r->conn);
		if (h->cfg.pulse != NULL)
			h->cfg.pulse(h->cfg.arg);
		return MHD_YES;
	}
	if (r->state != REQ_PARKED) {
		log_err("http: %s %s: the handler gave no answer", r->method, r->url);
		httpd_reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL,
		    "the server gave no answer");
		return httpd_queue(r);
	}
	TAILQ_INSERT_TAIL(&h->parked, r, entry);
	h->nparked++;
	MHD_suspend_connection(r->conn);
	r->closed_ev = event_new(h->cfg.base,
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd,
	    EV_CLOSED, httpd_closed_cb, r);
	event_add(r->closed_ev, NULL);
	return MHD_YES;
}

static enum MHD_Result
httpd_access_cb(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct httpd_shard *sh = cls;
	struct httpd       *h = sh->h;
	struct req         *r = *con_cls;

	if (r == NULL)       /* MHD called no httpd_uri_cb: it always does */
		r = *con_cls = httpd_req_new(sh);
	if (r->conn == NULL)
		return httpd_first_call(r, c, url, method, version);
	if (*upload_data_size != 0) {
		int rc = httpd_append_body(r, upload_data, *upload_data_size);

		*upload_data_size = 0;
		return rc < 0 ? MHD_NO : MHD_YES;
	}
	switch (r->state) {
	case REQ_NEW:
		return httpd_dispatch(h, r);
	case REQ_READY:
		return httpd_queue(r);
	case REQ_ABORTED:
		return MHD_NO;
	default:
		log_err("http: %s %s: called in state %d", r->method, r->url, (int)r->state);
		return MHD_NO;
	}
}

static void
httpd_completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct httpd_shard *sh = cls;
	struct httpd       *h = sh->h;
	struct req         *r = *con_cls;

	if (r == NULL)
		return;
	httpd_deadline(h, c, 1);            /* the next request's time starts */
	if (r->sent != 0 && h->cfg.answered != NULL) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		h->cfg.answered(h->cfg.arg, r->sent, (double)(now.tv_sec - r->t0.tv_sec) +
		    (double)(now.tv_nsec - r->t0.tv_nsec) / 1e9);
	}
	httpd_unwatch(r);
	if (r->gone != NULL)
		r->gone(r->gone_arg);
	if (r->resp != NULL)
		MHD_destroy_response(r->resp);
	free(r->query);
	free(r->rawquery);
	free(r->authority);
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- the daemons and the listeners --------------------------------------- */

/* Every connection opened and closed, to spread them and keep the limit. */
static void
httpd_conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct httpd_shard *sh = cls;
	struct httpd       *h = sh->h;
	struct httpd_conn  *hc;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		sh->nconns++;
		h->nconns++;
		if ((hc = calloc(1, sizeof *hc)) == NULL)
			fatal("out of memory");
		hc->fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD)->connect_fd;
		hc->deadline = evtimer_new(h->cfg.base, httpd_deadline_cb, hc);
		*socket_context = hc;
		httpd_deadline(h, c, 1);
		return;
	}
	sh->nconns--;
	h->nconns--;
	if ((hc = *socket_context) != NULL) {
		event_free(hc->deadline);
		free(hc);
		*socket_context = NULL;
	}
}

/* Fill one daemon at a time, up to HTTPD_SHARD_FILL connections: a light
 * load stays on one daemon, whose one MHD_run serves every connection of a
 * turn; past that, the least loaded, so that 10,000 parked clients make
 * walks of some 600, not 10,000. */
static struct httpd_shard *
httpd_pick_shard(struct httpd *h)
{
	struct httpd_shard *best = NULL;
	size_t              i;

	for (i = 0; i < h->nshards; i++) {
		struct httpd_shard *sh = &h->shards[i];

		if (sh->nconns < HTTPD_SHARD_FILL)
			return sh;
		if (best == NULL || sh->nconns < best->nconns)
			best = sh;
	}
	return best != NULL && best->nconns < h->cfg.max_conns ? best : NULL;
}

/* Past the connection limit a new connection is told so at once, as the
 * contract has it (503 overloaded), rather than left waiting in the listen
 * backlog for a slot that idle or slow clients may hold for minutes.  The
 * request it may have sent already is read first, so that the close sends
 * a FIN after the answer, not a reset that could lose it.  Over TLS there
 * is nothing plain to say: it is closed. */
#define HTTPD_FULL_BODY \
	"{\"error\":{\"code\":\"overloaded\",\"message\":\"too many connections; try again later\"}}"
#define HTTPD_FULL_ANSWER \
	"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n" \
	"Retry-After: 1\r\nConnection: close\r\n"

static void
httpd_refuse(struct httpd *h, int c)
{
	char    buf[4096];
	int     n;

	if (h->cfg.tls_cert == NULL) {
		while (recv(c, buf, sizeof buf, MSG_DONTWAIT) > 0)
			;
		n = snprintf(buf, sizeof buf, HTTPD_FULL_ANSWER "Content-Length: %zu\r\n\r\n%s",
		    sizeof HTTPD_FULL_BODY - 1, HTTPD_FULL_BODY);
		(void)!send(c, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		shutdown(c, SHUT_WR);
	}
	close(c);
}

static void
httpd_refuse_full(struct httpd *h, int c)
{
	if (!h->full_logged) {
		log_warn("http: %u connections, the limit: new ones are answered 503 until one closes",
		    h->nconns);
		h->full_logged = 1;
	}
	httpd_refuse(h, c);
}

static void httpd_watch_listeners(struct httpd *h, int on);

/* Out of descriptors, accept(2) fails and leaves the connection in the
 * backlog, with no word to its client until one frees.  The spare
 * descriptor, given up for a moment, lets it be accepted, answered 503 as
 * at the connection limit, and closed.  Without a spare (ENFILE: the whole
 * system is out), the listener stays readable and accepting on would spin
 * (and log) at full speed: listen again in a moment.  Said once per
 * shortage. */
#define HTTPD_EMFILE_PAUSE_MS 100

static void
httpd_spare_open(struct httpd *h)
{
	if (h->spare_fd < 0)
		h->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* 0: one connection refused; else why none was: EMFILE (no spare), or
 * accept's errno (EAGAIN: none waits any more). */
static int
httpd_refuse_spare(struct httpd *h, int lfd)
{
	int c, err = 0;

	if (h->spare_fd < 0)
		return EMFILE;
	close(h->spare_fd);
	h->spare_fd = -1;
	if ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0)
		err = errno;
	else {
		if (!h->emfile_logged)
			log_warn("http: out of file descriptors (%u connections): new ones are "
			    "answered 503 until some close", h->nconns);
		h->emfile_logged = 1;
		httpd_refuse(h, c);
	}
	httpd_spare_open(h);
	return err;
}

static void
httpd_resume_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd *h = arg;

	httpd_spare_open(h);
	if (!h->stopping)
		httpd_watch_listeners(h, 1);
}

static void
httpd_accept_pause(struct httpd *h)
{
	if (!h->emfile_logged)
		log_warn("http: out of file descriptors (%u connections): new ones wait", h->nconns);
	h->emfile_logged = 1;
	httpd_watch_listeners(h, 0);
	evtimer_add(h->emfile_ev, (&(struct timeval){ 0, HTTPD_EMFILE_PAUSE_MS * 1000 }));
}

static void
httpd_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_listener  *l = arg;
	struct httpd           *h = l->h;
	struct httpd_shard     *sh;
	struct sockaddr_storage ss;
	socklen_t               sl;
	int                     i, c;

	for (i = 0; i < HTTPD_ACCEPTS; i++) {
		sl = sizeof ss;
		if ((c = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
			int err = errno;

			if (err == EMFILE || err == ENFILE) {
				if ((err = httpd_refuse_spare(h, l->fd)) == 0)
					continue;
				if (err == EMFILE || err == ENFILE)
					httpd_accept_pause(h);
			} else if (err != EAGAIN && err != EINTR && err != ECONNABORTED)
				log_warn("http: accept: %s", strerror(err));
			return;
		}
		if (h->nconns >= h->cfg.max_conns || (sh = httpd_pick_shard(h)) == NULL) {
			httpd_refuse_full(h, c);
			continue;
		}
		h->full_logged = h->emfile_logged = 0;
		/* MHD closes the socket itself if it cannot take it. */
		if (MHD_add_connection(sh->d, c, (struct sockaddr *)&ss, sl) != MHD_YES)
			log_warn("http: a new connection was refused: %s", strerror(errno));
		httpd_kick(sh);
	}
}

static void
httpd_watch_listeners(struct httpd *h, int on)
{
	size_t i;

	for (i = 0; i < h->nls; i++)
		if (on)
			event_add(h->ls[i].ev, NULL);
		else
			event_del(h->ls[i].ev);
	h->accepting = on;
}

/* MHD's unescape callback, for the path (jobd decodes the query itself). */
static size_t
httpd_unescape(void *arg, struct MHD_Connection *c, char *s)
{
	return httpd_unescape_str(s);
}

/* TLS 1.2 and 1.3 only (RFC 8996 deprecates 1.0 and 1.1).  Without it MHD
 * takes GnuTLS's NORMAL where the system sets no policy (Debian 12 ships
 * none), and NORMAL still offers 1.0 and 1.1.  The system's [overrides] in
 * /etc/gnutls/config still apply on top. */
#define HTTPD_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

static int
httpd_shard_start(struct httpd *h, struct httpd_shard *sh, struct err *e)
{
	const struct httpd_config  *cfg = &h->cfg;
	const union MHD_DaemonInfo *info;
	unsigned                    flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
	    MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;

	if (cfg->tls_cert != NULL)
		flags |= MHD_USE_TLS;
	sh->h = h;
	sh->d = MHD_start_daemon(flags, 0, NULL, NULL, httpd_access_cb, sh,
	    MHD_OPTION_EXTERNAL_LOGGER, httpd_log, h,
	    MHD_OPTION_UNESCAPE_CALLBACK, httpd_unescape, NULL,
	    MHD_OPTION_URI_LOG_CALLBACK, httpd_uri_cb, sh,
	    MHD_OPTION_NOTIFY_COMPLETED, httpd_completed_cb, sh,
	    MHD_OPTION_NOTIFY_CONNECTION, httpd_conn_cb, sh,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_conns,
	    MHD_OPTION_CONNECTION_TIMEOUT, cfg->request_timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
	    cfg->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cfg->tls_cert,
	    MHD_OPTION_HTTPS_MEM_KEY, cfg->tls_key,
	    MHD_OPTION_HTTPS_PRIORITIES, HTTPD_TLS_PRIORITIES,
	    MHD_OPTION_END);
	if (sh->d == NULL)
		return err_set(e, 500, "libmicrohttpd failed to start%s",
		    cfg->tls_cert ? " (check the TLS certificate and key)" : "");
	info = MHD_get_daemon_info(sh->d, MHD_DAEMON_INFO_EPOLL_FD);
	sh->mhd_ev = event_new(cfg->base, info->epoll_fd, EV_READ | EV_PERSIST, httpd_pump_cb, sh);
	sh->mhd_timer = evtimer_new(cfg->base, httpd_pump_cb, sh);
	event_add(sh->mhd_ev, NULL);
	return 0;
}

struct httpd *
httpd_new(const struct httpd_config *cfg, struct err *e)
{
	struct httpd *h;
	size_t        i;

	if ((h = calloc(1, sizeof *h)) == NULL ||
	    (h->ls = calloc(cfg->nfds, sizeof *h->ls)) == NULL)
		fatal("out of memory");
	h->cfg = *cfg;
	TAILQ_INIT(&h->parked);
	TAILQ_INIT(&h->held);
	TAILQ_INIT(&h->resuming);
	/* Parked requests count against the connection limit: keep 5% free
	 * (2 at least: 5% of the smallest limit is none) so the request that
	 * finishes their task can get in. */
	h->max_parked = cfg->max_conns - (cfg->max_conns >= 40 ? cfg->max_conns / 20 : 2);
	h->resume_ev = event_new(cfg->base, -1, 0, httpd_resume_cb, h);
	h->emfile_ev = evtimer_new(cfg->base, httpd_resume_accept_cb, h);
	h->spare_fd = -1;
	httpd_spare_open(h);
	for (; h->nshards < HTTPD_SHARDS; h->nshards++)
		if (httpd_shard_start(h, &h->shards[h->nshards], e) < 0) {
			httpd_free(h);
			return NULL;
		}
	for (i = 0; i < cfg->nfds; i++, h->nls++) {
		int fl = fcntl(cfg->fds[i], F_GETFL);

		/* Accepting until EAGAIN must not block (systemd's sockets may). */
		if (fl == -1 || fcntl(cfg->fds[i], F_SETFL, fl | O_NONBLOCK) == -1)
			log_warn("http: cannot make listening socket %d nonblocking: %s",
			    cfg->fds[i], strerror(errno));
		h->ls[i] = (struct httpd_listener){ .h = h, .fd = cfg->fds[i] };
		h->ls[i].ev = event_new(cfg->base, cfg->fds[i], EV_READ | EV_PERSIST,
		    httpd_accept_cb, &h->ls[i]);
	}
	httpd_watch_listeners(h, 1);
	httpd_kick_all(h);
	return h;
}

void
httpd_free(struct httpd *h)
{
	struct req *r;
	size_t      i;

	if (h == NULL)
		return;
	/* Stopping with suspended connections is an API violation: resume them. */
	while ((r = TAILQ_FIRST(&h->parked)) != NULL) {
		TAILQ_REMOVE(&h->parked, r, entry);
		httpd_unwatch(r);
		r->state = REQ_ABORTED;
		MHD_resume_connection(r->conn);
	}
	TAILQ_CONCAT(&h->resuming, &h->held, entry);
	while ((r = TAILQ_FIRST(&h->resuming)) != NULL) {
		TAILQ_REMOVE(&h->resuming, r, entry);
		MHD_resume_connection(r->conn);
	}
	h->stopping = 1;
	for (i = 0; i < h->nls; i++)
		event_free(h->ls[i].ev);      /* the sockets are main's to close */
	h->nls = 0;
	for (i = 0; i < h->nshards; i++) {
		MHD_run(h->shards[i].d);
		MHD_stop_daemon(h->shards[i].d);
		event_free(h->shards[i].mhd_ev);
		event_free(h->shards[i].mhd_timer);
	}
	event_free(h->resume_ev);
	event_free(h->emfile_ev);
	if (h->spare_fd >= 0)
		close(h->spare_fd);
	free(h->ls);
	free(h);
}

void
httpd_quiesce(struct httpd *h)
{
	httpd_watch_listeners(h, 0);
	h->stopping = 1;
}

void
httpd_set_stopping(struct httpd *h)
{
	h->stopping = 1;
}

int
httpd_idle(const struct httpd *h)
{
	return h->nparked == 0 && TAILQ_EMPTY(&h->held) && TAILQ_EMPTY(&h->resuming);
}

void
httpd_withdraw(struct httpd *h, int64_t id)
{
	struct req *r, *next;

	for (r = TAILQ_FIRST(&h->held); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->tag != id && r->reads != id)
			continue;
		MHD_destroy_response(r->resp);
		r->resp = NULL;
		r->state = REQ_NEW;          /* answerable once more, then held again */
		TAILQ_REMOVE(&h->held, r, entry);
		if (r->tag == id)
			httpd_reply_error(r, 507, "storage_full", NULL,
			    "the database is full: the task was not created");
		else
			httpd_reply_error(r, 404, "not_found", NULL, "task %lld not found",
			    (long long)id);
		r->state = REQ_RESUMING;
		httpd_enqueue_resume(h, r);
	}
}

void
httpd_durable(struct httpd *h, uint64_t seq)
{
	struct req *r, *next;
	int         n = 0;

	for (r = TAILQ_FIRST(&h->held); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->seq > seq)
			continue;
		TAILQ_REMOVE(&h->held, r, entry);
		r->state = REQ_RESUMING;
		TAILQ_INSERT_TAIL(&h->resuming, r, entry);
		n++;
	}
	if (n > 0)
		event_active(h->resume_ev, 0, 0);
}
