/* httpd.c: libmicrohttpd in external-epoll mode on the libevent loop.
 *
 * Three traps shape this file (notes/platform.md §1-2): a response queued in
 * the first handler call closes the connection, so we answer only in the
 * final call; nothing wakes MHD after a resume unless we run it; and parked
 * (suspended) connections neither time out nor see their clients leave. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "httpd.h"
#include "log.h"

#define HTTPD_RESUME_BATCH 1000   /* bounds one MHD_run slice to ~20 ms */

enum req_state {
	REQ_NEW,       /* headers seen, body arriving */
	REQ_PARKED,    /* suspended, waiting for an answer */
	REQ_HELD,      /* suspended, answered, waiting for its commit to be durable */
	REQ_RESUMING,  /* answered, in the resume queue */
	REQ_READY,     /* resumed, its answer queued on the next call */
	REQ_ABORTED,   /* the client left while parked */
	REQ_DONE,
};

TAILQ_HEAD(req_list, req);

struct req {
	struct httpd          *h;
	struct MHD_Connection *conn;
	const char            *method;
	const char            *url;
	char                  *body;
	size_t                 len, cap;
	size_t                 seen;        /* body bytes received, kept or not */
	int                    wants_body;  /* else its body is dropped unread */
	struct query_arg      *query;
	size_t                 nquery, capquery;
	void                  *data;        /* the handler's */
	struct timespec        t0;          /* headers seen */
	unsigned               sent;        /* the status queued, 0 if none */
	int64_t                tag;         /* a task it created, or 0 */
	uint64_t               seq;         /* held: the commit to be durable first */
	enum req_state         state;
	struct MHD_Response   *resp;
	unsigned               status;
	void                 (*gone)(void *arg);
	void                  *gone_arg;
	struct event          *closed_ev;
	TAILQ_ENTRY(req)       entry;       /* parked, held or resume list */
};

/* One MHD daemon per listening socket (TCP, unix, or each from systemd). */
struct httpd_listener {
	struct httpd          *h;
	struct MHD_Daemon     *d;
	struct event          *mhd_ev;
	struct event          *mhd_timer;
};

struct httpd {
	struct httpd_config    cfg;
	struct httpd_listener *ls;
	size_t                 nls;
	struct event          *resume_ev;
	struct req_list        parked;
	struct req_list        held;
	struct req_list        resuming;
	size_t                 nparked;
	size_t                 max_parked;
	int                    stopping;
};

static void
httpd_pump(struct httpd_listener *l)
{
	MHD_UNSIGNED_LONG_LONG to;

	MHD_run(l->d);
	if (MHD_get_timeout(l->d, &to) == MHD_YES) {
		struct timeval tv = { (time_t)(to / 1000), (suseconds_t)((to % 1000) * 1000) };

		evtimer_add(l->mhd_timer, &tv);
	} else
		evtimer_del(l->mhd_timer);
}

static void
httpd_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	httpd_pump(arg);
}

/* Never run MHD from inside its own callbacks: ask the loop to.  A resume
 * wakes nothing in external mode, so every resume ends here. */
static void
httpd_kick(struct httpd *h)
{
	size_t i;

	for (i = 0; i < h->nls; i++)
		event_active(h->ls[i].mhd_ev, EV_READ, 0);
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
	}
	httpd_kick(h);
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

static void
httpd_log(void *arg, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("http: %s", line);
}

/* ---- answers ------------------------------------------------------------ */

static void
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

void
httpd_reply_bytes(struct req *r, unsigned status, const char *ctype, void *data, size_t len)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL)
		fatal("out of memory");
	if (ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	httpd_set_response(r, status, resp);
}

void
httpd_reply_json(struct req *r, unsigned status, json_t *body)
{
	/* 15 digits: 0.1 reads back as 0.1, not 0.10000000000000001. */
	char  *txt = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	size_t len;

	json_decref(body);
	if (txt == NULL)
		fatal("out of memory");
	len = strlen(txt);
	/* A trailing newline makes curl output readable in a terminal. */
	if ((txt = realloc(txt, len + 2)) == NULL)
		fatal("out of memory");
	txt[len++] = '\n';
	txt[len] = '\0';
	httpd_reply_bytes(r, status, "application/json", txt, len);
}

void
httpd_reply_error(struct req *r, unsigned status, const char *code, json_t *extra,
    const char *fmt, ...)
{
	char    msg[512];
	va_list ap;
	json_t *body;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	body = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
	if (extra != NULL) {
		json_object_update_missing(body, extra);
		json_decref(extra);
	}
	httpd_reply_json(r, status, body);
	if (status == MHD_HTTP_UNAUTHORIZED && r->resp)
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
}

void
httpd_add_header(struct req *r, const char *name, const char *value)
{
	if (r->resp != NULL)
		MHD_add_response_header(r->resp, name, value);
}

int
httpd_park(struct req *r, void (*gone)(void *arg), void *arg)
{
	struct httpd *h = r->h;

	if (h->nparked >= h->max_parked || h->stopping)
		return -1;
	r->gone = gone;
	r->gone_arg = arg;
	r->state = REQ_PARKED;
	return 0;
}

/* ---- requests ----------------------------------------------------------- */

const char *httpd_req_method(const struct req *r) { return r->method; }
const char *httpd_req_path(const struct req *r) { return r->url; }
void httpd_req_set_data(struct req *r, void *data) { r->data = data; }
void *httpd_req_data(const struct req *r) { return r->data; }

const char *
httpd_req_header(const struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int
httpd_req_is_unix(const struct req *r)
{
	const union MHD_ConnectionInfo *ci;

	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	return ci != NULL && ci->client_addr != NULL && ci->client_addr->sa_family == AF_UNIX;
}

int
httpd_req_local_addr(const struct req *r, int family, void *addr)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;

	ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    ss.ss_family != family)
		return -1;
	if (family == AF_INET)
		memcpy(addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	return 0;
}

const char *
httpd_req_body(const struct req *r, size_t *len)
{
	*len = r->len;
	return r->body ? r->body : "";
}

static enum MHD_Result
httpd_query_cb(void *arg, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct req *r = arg;

	if (r->nquery + 1 >= r->capquery) {
		r->capquery = r->capquery ? r->capquery * 2 : 8;
		if ((r->query = realloc(r->query, r->capquery * sizeof *r->query)) == NULL)
			fatal("out of memory");
	}
	r->query[r->nquery++] = (struct query_arg){ key, value };
	r->query[r->nquery] = (struct query_arg){ NULL, NULL };
	return MHD_YES;
}

const struct query_arg *
httpd_req_query(const struct req *r)
{
	static const struct query_arg none = { NULL, NULL };

	return r->query ? r->query : &none;
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

	ret = MHD_queue_response(r->conn, r->status, r->resp);
	r->sent = r->status;
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	r->state = REQ_DONE;
	return ret;
}

static enum MHD_Result
httpd_first_call(struct httpd *h, struct MHD_Connection *c, const char *url,
    const char *method, void **con_cls)
{
	struct req *r;
	const char *cl;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return MHD_NO;
	r->h = h;
	r->conn = c;
	r->url = url;
	r->method = method;
	clock_gettime(CLOCK_MONOTONIC, &r->t0);
	*con_cls = r;
	r->wants_body = h->cfg.wants_body(h->cfg.arg, method, url);
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (r->wants_body && cl != NULL && strtoull(cl, NULL, 10) > h->cfg.max_body) {
		/* Early: MHD closes the connection and never reads the body. */
		httpd_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", NULL,
		    "the request body is larger than %zu bytes", h->cfg.max_body);
		return httpd_queue(r);
	}
	return MHD_YES;
}

/* The final call: route, answer now, hold for the commit, or park. */
static enum MHD_Result
httpd_dispatch(struct httpd *h, struct req *r)
{
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, httpd_query_cb, r);
	if (r->wants_body && r->seen > h->cfg.max_body)
		httpd_reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "payload_too_large", NULL,
		    "the request body is larger than %zu bytes", h->cfg.max_body);
	else
		h->cfg.dispatch(h->cfg.arg, r);
	if (r->resp != NULL) {
		if ((r->seq = h->cfg.hold_seq(h->cfg.arg)) == 0)
			return httpd_queue(r);
		r->state = REQ_HELD;
		TAILQ_INSERT_TAIL(&h->held, r, entry);
		MHD_suspend_connection(r->conn);
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
	struct httpd *h = cls;
	struct req   *r = *con_cls;

	if (r == NULL)
		return httpd_first_call(h, c, url, method, con_cls);
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
	struct httpd *h = cls;
	struct req   *r = *con_cls;

	if (r == NULL)
		return;
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
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- the daemon --------------------------------------------------------- */

static int
httpd_listener_start(struct httpd *h, struct httpd_listener *l, int fd, struct err *e)
{
	const struct httpd_config  *cfg = &h->cfg;
	const union MHD_DaemonInfo *info;
	unsigned                    flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (cfg->tls_cert != NULL)
		flags |= MHD_USE_TLS;
	l->h = h;
	l->d = MHD_start_daemon(flags, 0, NULL, NULL, httpd_access_cb, h,
	    MHD_OPTION_EXTERNAL_LOGGER, httpd_log, h,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_NOTIFY_COMPLETED, httpd_completed_cb, h,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_conns,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60u,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
	    cfg->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cfg->tls_cert,
	    MHD_OPTION_HTTPS_MEM_KEY, cfg->tls_key,
	    MHD_OPTION_END);
	if (l->d == NULL)
		return err_set(e, 500, "libmicrohttpd failed to start%s",
		    cfg->tls_cert ? " (check the TLS certificate and key)" : "");
	info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
	l->mhd_ev = event_new(cfg->base, info->epoll_fd, EV_READ | EV_PERSIST, httpd_pump_cb, l);
	l->mhd_timer = evtimer_new(cfg->base, httpd_pump_cb, l);
	event_add(l->mhd_ev, NULL);
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
	/* Parked requests count against the connection limit: keep 5% free so
	 * the request that finishes their task can still get in. */
	h->max_parked = cfg->max_conns - cfg->max_conns / 20;
	h->resume_ev = event_new(cfg->base, -1, 0, httpd_resume_cb, h);
	for (i = 0; i < cfg->nfds; i++, h->nls++)
		if (httpd_listener_start(h, &h->ls[i], cfg->fds[i], e) < 0) {
			httpd_free(h);
			return NULL;
		}
	httpd_kick(h);
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
	for (i = 0; i < h->nls; i++) {
		MHD_run(h->ls[i].d);
		MHD_stop_daemon(h->ls[i].d);
		event_free(h->ls[i].mhd_ev);
		event_free(h->ls[i].mhd_timer);
	}
	event_free(h->resume_ev);
	free(h->ls);
	free(h);
}

void
httpd_quiesce(struct httpd *h)
{
	size_t i;

	for (i = 0; i < h->nls; i++)
		MHD_quiesce_daemon(h->ls[i].d);   /* the sockets are main's to close */
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
httpd_req_set_tag(struct req *r, int64_t id)
{
	if (r->tag == 0)
		r->tag = id;
}

void
httpd_withdraw(struct httpd *h, int64_t id)
{
	struct req *r;

	TAILQ_FOREACH(r, &h->held, entry) {
		if (r->tag != id)
			continue;
		MHD_destroy_response(r->resp);
		r->resp = NULL;
		r->state = REQ_NEW;          /* answerable once more, then held again */
		TAILQ_REMOVE(&h->held, r, entry);
		httpd_reply_error(r, 507, "storage_full", NULL,
		    "the database is full: the task was not created");
		r->state = REQ_RESUMING;
		httpd_enqueue_resume(h, r);
		return;
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
