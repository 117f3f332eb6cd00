/* httpd.h: libmicrohttpd on the libevent loop; requests, answers, parking. */
#ifndef HTTPD_H
#define HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "json_util.h"
#include "spec.h"

struct event_base;
struct req;

struct httpd_config {
	struct event_base *base;
	const int         *fds;             /* listening sockets, one MHD daemon each */
	size_t             nfds;
	const char        *tls_cert;        /* PEM text: serve HTTPS when set */
	const char        *tls_key;
	unsigned           max_conns;
	size_t             max_body;
	unsigned           request_timeout; /* seconds: whole request, and idle connection */
	const char        *token;           /* NULL: no auth */
	/* Answers that report state wait for the commit this names (0: none)
	 * to be durable: httpd_durable() says when. */
	uint64_t         (*hold_seq)(void *arg);
	/* Does this request take a body?  Others' bodies are read and dropped. */
	int              (*wants_body)(void *arg, const char *method, const char *path);
	/* Optional: the checks that need no body (Origin, Host, token), for a
	 * request whose client waits for "100 Continue" before it sends its
	 * body.  An answer given here is sent instead, and the connection
	 * closed, so that the body is never sent for nothing. */
	void             (*early)(void *arg, struct req *r);
	/* Route and answer one request (the API). */
	void             (*dispatch)(void *arg, struct req *r);
	/* Optional: every answered request, its status and seconds taken. */
	void             (*answered)(void *arg, unsigned status, double seconds);
	/* Optional: after each answer held for a commit, inside MHD_run but
	 * outside any MHD call, so as safe as between two loop callbacks (no
	 * MHD function may be called from it). */
	void             (*pulse)(void *arg);
	void              *arg;
};

struct httpd *httpd_new(const struct httpd_config *cfg, struct err *e);
void          httpd_free(struct httpd *h);
/* Stop accepting new connections (shutdown). */
void          httpd_quiesce(struct httpd *h);
/* Nothing parked, held or waiting to be resumed. */
int           httpd_idle(const struct httpd *h);
/* Every commit up to seq is durable: release the answers held for them. */
void          httpd_durable(struct httpd *h, uint64_t seq);
void          httpd_set_stopping(struct httpd *h);

/* The request, as the handlers see it. */
const char   *httpd_req_method(const struct req *r);
const char   *httpd_req_path(const struct req *r);
const char   *httpd_req_header(const struct req *r, const char *name);
/* The query as a NULL-key-terminated array, valid for the request's life. */
const struct query_arg *httpd_req_query(const struct req *r);
/* Did it come over a unix socket (no browser can reach those)? */
int           httpd_req_is_unix(const struct req *r);
/* The local address (4 or 16 bytes for family AF_INET/AF_INET6) the
 * request came in on: 0, or -1 if it is another family. */
int           httpd_req_local_addr(const struct req *r, int family, void *addr);
/* The raw body. */
const char   *httpd_req_body(const struct req *r, size_t *len);
void          httpd_req_set_data(struct req *r, void *data);
void         *httpd_req_data(const struct req *r);

/* Answers; each request gets exactly one.  _json steals body. */
void httpd_reply_json(struct req *r, unsigned status, json_t *body);
void httpd_reply_error(struct req *r, unsigned status, const char *code, json_t *extra,
         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Takes data (malloc'd, may be NULL when len is 0). */
void httpd_reply_bytes(struct req *r, unsigned status, const char *ctype, void *data, size_t len);
void httpd_add_header(struct req *r, const char *name, const char *value);
/* Mark r as the creator of task id: if that create is withdrawn while r's
 * answer waits for the commit, the answer becomes 507 storage_full. */
void httpd_req_set_tag(struct req *r, int64_t id);
/* Mark r's answer as one about task id, not yet committed: if its create is
 * withdrawn while the answer waits, the answer becomes 404, as it would be
 * once the task is known never to have existed. */
void httpd_req_set_reads(struct req *r, int64_t id);
/* The commit the answer the handler gives now waits for, when it knows
 * better than the default (everything staged so far): 0 sends it at once.
 * Answers given later, to a parked request, keep the default. */
void httpd_req_set_hold(struct req *r, uint64_t seq);
/* Did the early hook see r and let it by?  (Its checks need not run again.) */
int  httpd_req_passed_early(const struct req *r);
/* The request comes from a browser origin jobd allows: its answer, whatever
 * it is, says so (CORS), so that the page may read it. */
void httpd_req_allow_origin(struct req *r, const char *origin);
void httpd_withdraw(struct httpd *h, int64_t id);
/* Park r until an answer comes; gone(arg) is called once if the client
 * leaves first or when the request ends unanswered.  -1: too many parked. */
int  httpd_park(struct req *r, void (*gone)(void *arg), void *arg);
/* Would httpd_park(r) succeed now?  For a handler that must not act (cancel,
 * create) unless it can then wait for the outcome. */
int  httpd_can_park(const struct req *r);

#endif
