/* kind_http.c: make one HTTP(S) request as a task, with libcurl's multi-socket
 * interface driven by the daemon's libevent loop (curl's multi-event.c pattern). */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "jobd.h"
#include "json_util.h"
#include "http_spec.h"
#include "kind.h"
#include "log.h"
#include "task.h"

#define HTTP_MAX_REDIRS        10

struct http_xfer;
TAILQ_HEAD(http_xfer_list, http_xfer);

/* A response header's value, repeats joined with ", ", grown in place: a
 * server may repeat a header 60,000 times within curl's 300 KB of headers,
 * and joining into a new string each time held the loop for 9 s. */
struct http_field {
	char   *name;     /* lower-cased */
	char   *val;      /* not NUL-terminated; made a JSON string at the end */
	size_t  len, cap;
};

/* Where the header callback is in a response: its status line comes
 * next, then its fields, then (after the blank line) its body and, if it is
 * chunked, its trailers, or else the next response's status line. */
enum http_hstate { HDR_STATUS, HDR_FIELDS, HDR_DONE };

#define HTTP_NO_FIELD ((size_t)-1)

/* The kind's shared state (env->ctx): one multi handle per daemon. */
struct http_ctx {
	CURLM                 *multi;
	struct event_base     *base;
	struct event          *timer;     /* curl's one timeout */
	struct http_xfer_list  xfers;     /* running transfers, for fini */
};

/* One running request (t->kstate). */
struct http_xfer {
	struct task            *t;
	struct kind_env         env;      /* a copy: cancel gets only t */
	struct http_ctx        *ctx;
	CURL                   *easy;
	struct curl_slist      *req_headers, *req_last;
	int                     fail_on_status;
	/* The current response's headers (and trailers), in order of first
	 * appearance, and by name: index + 1 in fields. */
	struct http_field      *fields;
	size_t                  nfields, capfields;
	json_t                 *field_ix;
	size_t                  last;     /* the field an obsolete folded line continues */
	enum http_hstate        hstate;
	/* What curl had sent when the current response began: a line after
	 * its header block is a new response's status line only if curl has
	 * sent a request since (a redirect, a retry), else it is a trailer. */
	long                    redirects, reqsize;
	unsigned char          *body;
	size_t                  body_len, body_size, cap;
	int                     truncated;
	/* A method curl sends only as a string (CUSTOMREQUEST): it keeps it
	 * through every redirect, so a 303 (answered by a GET, RFC 9110) is
	 * not followed but answered: stop_303 is set when its headers end. */
	int                     custom_follow;
	long                    status;   /* the current response's */
	int                     stop_303; /* its body then goes unread */
	char                    errbuf[CURL_ERROR_SIZE];
	TAILQ_ENTRY(http_xfer)  entry;
};

/* --- response collection -------------------------------------------------- */

static size_t
http_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	size_t            len = size * n, take, nsize;
	unsigned char    *nb;

	/* Past the cap, keep draining (the request runs to its end like an exec
	 * task whose output is capped) but keep nothing. */
	take = x->cap - x->body_len < len ? x->cap - x->body_len : len;
	if (take < len)
		x->truncated = 1;
	if (take == 0)
		return len;
	if (x->body_len + take > x->body_size) {
		nsize = x->body_size ? x->body_size : 4096;
		while (nsize < x->body_len + take)
			nsize *= 2;
		if (nsize > x->cap)
			nsize = x->cap;
		if ((nb = realloc(x->body, nsize)) == NULL)
			fatal("out of memory");
		x->body = nb;
		x->body_size = nsize;
	}
	memcpy(x->body + x->body_len, p, take);
	x->body_len += take;
	return len;
}

static void
http_fields_clear(struct http_xfer *x)
{
	size_t i;

	for (i = 0; i < x->nfields; i++) {
		free(x->fields[i].name);
		free(x->fields[i].val);
	}
	x->nfields = 0;
	x->last = HTTP_NO_FIELD;
	json_object_clear(x->field_ix);
}

/* A new status line starts a new response (a redirect, a 1xx): forget the
 * headers and the body seen so far, only the final response counts. */
static void
http_new_response(struct http_xfer *x)
{
	http_fields_clear(x);
	x->body_len = 0;
	x->truncated = 0;
	curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &x->redirects);
	curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &x->reqsize);
}

/* After a header block: has curl sent another request since? */
static int
http_new_request(struct http_xfer *x)
{
	long redirects = 0, reqsize = 0;

	curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects);
	curl_easy_getinfo(x->easy, CURLINFO_REQUEST_SIZE, &reqsize);
	return redirects != x->redirects || reqsize != x->reqsize;
}

static void
http_field_append(struct http_field *f, const char *sep, const char *val, size_t vlen)
{
	size_t slen = strlen(sep), want;

	if (slen + vlen == 0)
		return;    /* an empty first value: nothing to hold yet */
	if (f->len + slen + vlen > f->cap) {
		for (want = f->cap ? f->cap : 64; want < f->len + slen + vlen; want *= 2)
			;
		if ((f->val = realloc(f->val, want)) == NULL)
			fatal("out of memory");
		f->cap = want;
	}
	memcpy(f->val + f->len, sep, slen);
	memcpy(f->val + f->len + slen, val, vlen);
	f->len += slen + vlen;
}

/* Add val to the field name (lower-cased, taken over), or start it. */
static void
http_add_header(struct http_xfer *x, char *name, const char *val, size_t vlen)
{
	json_t            *ix = json_object_get(x->field_ix, name);
	struct http_field *f, *more;

	if (ix != NULL) {
		x->last = (size_t)json_integer_value(ix) - 1;
		free(name);
		http_field_append(&x->fields[x->last], ", ", val, vlen);
		return;
	}
	if (x->nfields == x->capfields) {
		x->capfields = x->capfields ? 2 * x->capfields : 16;
		if ((more = realloc(x->fields, x->capfields * sizeof *more)) == NULL)
			fatal("out of memory");
		x->fields = more;
	}
	f = &x->fields[x->nfields];
	*f = (struct http_field){ .name = name };
	x->last = x->nfields++;
	json_object_set_new(x->field_ix, name, json_integer((json_int_t)x->nfields));
	/* The first value, even an empty one, is the value: no separator. */
	http_field_append(f, "", val, vlen);
}

/* The response's header object: names lower-cased, values as JSON text. */
static json_t *
http_headers_json(const struct http_xfer *x)
{
	json_t *o;
	size_t  i;

	if ((o = json_object()) == NULL)
		fatal("out of memory");
	for (i = 0; i < x->nfields; i++)
		json_object_set_new(o, x->fields[i].name,
		    ju_string_lossy((const unsigned char *)(x->fields[i].val != NULL ?
		    x->fields[i].val : ""), x->fields[i].len));
	return o;
}

/* The blank line that ends a header block. */
static size_t
http_header_end(struct http_xfer *x, size_t len)
{
	if (x->hstate != HDR_FIELDS)
		return len;    /* the end of the trailers */
	if (x->status >= 100 && x->status < 200) {
		x->hstate = HDR_STATUS;    /* the real answer follows */
		return len;
	}
	x->hstate = HDR_DONE;
	if (x->custom_follow && x->status == 303) {
		x->stop_303 = 1;
		return 0;    /* before curl follows it: the 303 is the answer */
	}
	return len;
}

/* Called once per header line, CRLF included: status lines, fields, the
 * blank lines that end header blocks and chunked trailers. */
static size_t
http_header_cb(char *p, size_t size, size_t n, void *arg)
{
	struct http_xfer *x = arg;
	size_t            len = size * n, i, nlen;
	char             *name;

	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	/* Not by its first bytes: a trailer or a field may begin "HTTP/" too,
	 * and taken for a status line it emptied the response. */
	if (x->hstate == HDR_DONE && len > 0 && http_new_request(x))
		x->hstate = HDR_STATUS;
	if (x->hstate == HDR_STATUS && len > 0) {
		const char *sp = memchr(p, ' ', len);

		http_new_response(x);
		x->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
		x->hstate = HDR_FIELDS;
		return size * n;
	}
	if (len == 0)
		return http_header_end(x, size * n);
	if ((p[0] == ' ' || p[0] == '\t') && x->last != HTTP_NO_FIELD) {
		for (i = 0; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
			;
		http_field_append(&x->fields[x->last], " ", p + i, len - i);
		return size * n;
	}
	/* Not a header line, or a name no JSON member can hold: ignore it. */
	if ((name = memchr(p, ':', len)) == NULL || name == p)
		return size * n;
	nlen = (size_t)(name - p);
	if (memchr(p, '\0', nlen) != NULL || !ju_is_utf8((unsigned char *)p, nlen))
		return size * n;
	if ((name = strndup(p, nlen)) == NULL)
		fatal("out of memory");
	for (i = 0; i < nlen; i++)
		if (name[i] >= 'A' && name[i] <= 'Z')
			name[i] = (char)(name[i] - 'A' + 'a');
	for (i = nlen + 1; i < len && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	while (len > i && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	http_add_header(x, name, p + i, len - i);
	return size * n;
}

/* --- results -------------------------------------------------------------- */

static json_t *
http_base64(const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char     *buf, *o;
	size_t    i;
	uint32_t  v;
	json_t   *s;

	if ((buf = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		fatal("out of memory");
	for (i = 0, o = buf; i < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		    (i + 2 < n ? p[i + 2] : 0);
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	s = json_stringn(buf, (size_t)(o - buf));
	free(buf);
	return s;
}

/* A text cut at the cap may end inside a character: where that character
 * begins (the text before it may be whole), else n.  The body is then still
 * text, the character's first bytes made U+FFFD, as an exec task's output
 * is, not base64 for the sake of its last bytes. */
static size_t
http_text_end(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 1; i <= 3 && i <= n; i++)
		if ((p[n - i] & 0xc0) != 0x80)
			return n - i;
	return n;
}

/* A 303 answered rather than followed ends at its headers: its body, if
 * it said it had one, is not there to keep. */
static int
http_body_unread(struct http_xfer *x)
{
	curl_off_t cl = -1;

	if (!x->stop_303)
		return 0;
	curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	return cl != 0;
}

/* The response members shared by a result and a fail_on_status error. */
static void
http_set_response(json_t *o, struct http_xfer *x, long status)
{
	json_object_set_new(o, "status", json_integer(status));
	json_object_set_new(o, "headers", http_headers_json(x));
	if (x->body_len == 0)
		json_object_set_new(o, "body", json_string(""));
	else if (ju_is_utf8(x->body, x->body_len))
		json_object_set_new(o, "body", json_stringn((char *)x->body, x->body_len));
	else if (x->truncated && ju_is_utf8(x->body, http_text_end(x->body, x->body_len)))
		json_object_set_new(o, "body", ju_string_lossy(x->body, x->body_len));
	else
		json_object_set_new(o, "body_base64", http_base64(x->body, x->body_len));
	json_object_set_new(o, "body_truncated", json_boolean(x->truncated || http_body_unread(x)));
}

static json_t *
http_error_new(const char *type, const char *msg)
{
	return ju_error(type, msg);   /* curl's text may quote a host, cut anywhere */
}

/* Detach from the loop and free everything but the task. */
static void
http_xfer_free(struct http_xfer *x)
{
	if (x->easy != NULL) {
		curl_multi_remove_handle(x->ctx->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	TAILQ_REMOVE(&x->ctx->xfers, x, entry);
	curl_slist_free_all(x->req_headers);
	http_fields_clear(x);
	free(x->fields);
	json_decref(x->field_ix);
	free(x->body);
	free(x);
}

/* Hand the outcome to the scheduler; x is gone afterwards. */
static void
http_finish(struct http_xfer *x, int ok, json_t *result, json_t *error)
{
	struct task    *t = x->t;
	struct kind_env env = x->env;

	t->kstate = NULL;
	http_xfer_free(x);
	env.done(env.arg, t, ok, result, error);
}

static void
http_complete(struct http_xfer *x, CURLcode code)
{
	json_t *o;
	long    status = 0;
	char    msg[CURL_ERROR_SIZE + 128];

	if (code == CURLE_WRITE_ERROR && x->stop_303)
		code = CURLE_OK;
	if (code != CURLE_OK) {
		/* curl's detail (host, port, TLS cause) often repeats the generic text. */
		if (x->errbuf[0] == '\0' || strstr(x->errbuf, curl_easy_strerror(code)) != NULL)
			snprintf(msg, sizeof msg, "%s", x->errbuf[0] != '\0' ? x->errbuf :
			    curl_easy_strerror(code));
		else
			snprintf(msg, sizeof msg, "%s: %s", curl_easy_strerror(code), x->errbuf);
		log_info("task %lld: http: %s", (long long)x->t->id, msg);
		o = http_error_new("http_error", msg);
		json_object_set_new(o, "curl_code", json_integer(code));
		http_finish(x, 0, NULL, o);
		return;
	}
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (x->fail_on_status && status >= 400) {
		snprintf(msg, sizeof msg, "the server answered with status %ld", status);
		o = http_error_new("http_error", msg);
		http_set_response(o, x, status);
		http_finish(x, 0, NULL, o);
		return;
	}
	if ((o = json_object()) == NULL)
		fatal("out of memory");
	http_set_response(o, x, status);
	http_finish(x, 1, o, NULL);
}

/* --- the loop glue -------------------------------------------------------- */

static void
http_check_info(struct http_ctx *ctx)
{
	CURLMsg  *m;
	CURLcode  code;
	char     *x;
	int       left;

	/* http_complete removes the handle, which is allowed between reads. */
	while ((m = curl_multi_info_read(ctx->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		code = m->data.result;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &x);
		http_complete((struct http_xfer *)x, code);
	}
}

static void
http_socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_ctx *ctx = arg;
	int              flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (curl_multi_socket_action(ctx->multi, fd, flags, &running) != CURLM_OK)
		log_warn("http: curl_multi_socket_action failed on fd %d", (int)fd);
	http_check_info(ctx);
}

static void
http_timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_ctx *ctx = arg;
	int              running;

	curl_multi_socket_action(ctx->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_info(ctx);
}

/* CURLMOPT_TIMERFUNCTION: only (re)arm; curl must not be re-entered here. */
static int
http_timer_cb(CURLM *multi, long ms, void *arg)
{
	struct http_ctx *ctx = arg;
	struct timeval   tv;

	if (ms < 0) {
		evtimer_del(ctx->timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(ctx->timer, &tv);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: one persistent event per socket, kept with curl. */
static int
http_socket_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct http_ctx *ctx = arg;
	struct event    *ev = sockp;
	short            kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL)
			event_free(ev);
		curl_multi_assign(ctx->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ev != NULL) {
		event_del(ev);
		event_assign(ev, ctx->base, s, kind, http_socket_event_cb, ctx);
	} else {
		if ((ev = event_new(ctx->base, s, kind, http_socket_event_cb, ctx)) == NULL)
			fatal("out of memory");
		curl_multi_assign(ctx->multi, s, ev);
	}
	event_add(ev, NULL);
	return 0;
}

/* libcurl's sockets are not close-on-exec: exec tasks must not inherit them. */
static curl_socket_t
http_opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* --- the kind ------------------------------------------------------------- */

static int
kind_http_init(struct kind_env *env)
{
	struct http_ctx *ctx;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("http: curl_global_init failed");
		return -1;
	}
	if ((ctx = calloc(1, sizeof *ctx)) == NULL)
		fatal("out of memory");
	TAILQ_INIT(&ctx->xfers);
	ctx->base = env->base;
	if ((ctx->multi = curl_multi_init()) == NULL ||
	    (ctx->timer = evtimer_new(env->base, http_timer_event_cb, ctx)) == NULL) {
		log_err("http: cannot make the transfer loop");
		goto fail;
	}
	curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(ctx->multi, CURLMOPT_SOCKETDATA, ctx);
	curl_multi_setopt(ctx->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(ctx->multi, CURLMOPT_TIMERDATA, ctx);
	/* Idle keep-alive connections kept for reuse: as many as may run at once
	 * (curl's default, 4x the handles added, could hold thousands of fds). */
	if (env->cfg->max_http > 0)
		curl_multi_setopt(ctx->multi, CURLMOPT_MAXCONNECTS, (long)env->cfg->max_http);
	env->ctx = ctx;
	return 0;
fail:
	if (ctx->multi != NULL)
		curl_multi_cleanup(ctx->multi);
	free(ctx);
	curl_global_cleanup();
	return -1;
}

/* At shutdown, after release: drop any transfer left (never its task). */
static void
kind_http_fini(struct kind_env *env)
{
	struct http_ctx *ctx = env->ctx;

	if (ctx == NULL)
		return;
	while (!TAILQ_EMPTY(&ctx->xfers))
		http_xfer_free(TAILQ_FIRST(&ctx->xfers));
	curl_multi_cleanup(ctx->multi);
	event_free(ctx->timer);
	free(ctx);
	env->ctx = NULL;
	curl_global_cleanup();
}

static void
http_append_header(struct http_xfer *x, const char *line)
{
	struct curl_slist *l;

	/* Appended at the last node: curl_slist_append walks the list it is
	 * given to its end, and from the head 80,000 headers (a 1 MiB spec)
	 * took the loop 9 s. */
	if ((l = curl_slist_append(x->req_last, line)) == NULL)
		fatal("out of memory");
	if (x->req_headers == NULL)
		x->req_headers = l;
	x->req_last = x->req_last == NULL ? l : x->req_last->next;
}

/* Request headers as curl wants them, plus defaults a user may override. */
static void
http_request_headers(struct http_xfer *x, const json_t *h, const char *method, int has_body)
{
	const char *k;
	json_t     *v;
	char       *line;
	int         ctype = 0, expect = 0;

	json_object_foreach((json_t *)h, k, v) {
		/* "K;" is curl's way to send an empty value ("K:" would drop K). */
		if (*json_string_value(v) == '\0' ? asprintf(&line, "%s;", k) == -1 :
		    asprintf(&line, "%s: %s", k, json_string_value(v)) == -1)
			fatal("out of memory");
		http_append_header(x, line);
		free(line);
		ctype |= strcasecmp(k, "content-type") == 0;
		expect |= strcasecmp(k, "expect") == 0;
	}
	/* Not curl's form type: the body is text given as a JSON string. */
	if (has_body && !ctype)
		http_append_header(x, "Content-Type: text/plain; charset=utf-8");
	else if (!ctype && strcmp(method, "POST") == 0)
		http_append_header(x, "Content-Type:");
	/* No 100-continue round trip (HTTP/1.0 servers would stall it a second). */
	if (!expect)
		http_append_header(x, "Expect:");
}

/* POST and GET are curl's own; other methods are strings it sends through
 * every redirect.  With a body, keep the body too on a 301 or 302 (curl's
 * POST rules would drop it and send the method bare: a PUT that empties
 * what it redirects to); a 303 is answered, not followed (header cb). */
static CURLcode
http_set_method(struct http_xfer *x, const char *method, const json_t *body, long follow)
{
	CURL    *c = x->easy;
	CURLcode rc;

	if (body != NULL &&
	    ((rc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)json_string_length(body))) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_string_value(body))) != CURLE_OK))
		return rc;
	if (strcmp(method, "HEAD") == 0)
		return curl_easy_setopt(c, CURLOPT_NOBODY, 1L);    /* no body will follow */
	if (strcmp(method, "POST") == 0 && body == NULL) {
		if ((rc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L)) != CURLE_OK)
			return rc;
		return curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	if (strcmp(method, body != NULL ? "POST" : "GET") == 0)
		return CURLE_OK;
	x->custom_follow = follow != 0;
	if (body != NULL && (rc = curl_easy_setopt(c, CURLOPT_POSTREDIR, CURL_REDIR_POST_ALL)) != CURLE_OK)
		return rc;
	return curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

/* Where the response goes, and the loop's needs (no signals, CLOEXEC). */
static CURLcode
http_setup_io(struct http_xfer *x)
{
	CURL    *c = x->easy;
	CURLcode rc;

	if ((rc = curl_easy_setopt(c, CURLOPT_PRIVATE, x)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, http_opensocket_cb)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_header_cb)) != CURLE_OK ||
	    /* A proxy's answer to CONNECT is not the response. */
	    (rc = curl_easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_HEADERDATA, x)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_write_cb)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, x)) != CURLE_OK)
		return rc;
	/* A transfer stopped while its host name is being looked up (a cancel,
	 * the task's deadline) would make curl_multi_remove_handle wait on the
	 * loop for the resolver thread: as long as a DNS server that does not
	 * answer takes, 20 s and more, with every client stalled.  With this
	 * curl leaves the thread to finish and free itself instead (in 7.88
	 * the option does that and nothing else). */
	return curl_easy_setopt(c, CURLOPT_QUICK_EXIT, 1L);
}

/* The request as the spec says.  No transfer timeout: the task's deadline
 * cancels it. */
static CURLcode
http_setup_request(struct http_xfer *x, const json_t *spec)
{
	CURL         *c = x->easy;
	const json_t *body = json_object_get(spec, "body"), *v;
	const char   *method = json_string_value(json_object_get(spec, "method"));
	double        ct = HTTP_CONNECT_TIMEOUT;
	long          ms, follow, verify;
	CURLcode      rc;

	if ((v = json_object_get(spec, "connect_timeout")) != NULL)
		ct = json_number_value(v);
	ms = ct * 1000 >= 1 ? (long)(ct * 1000) : 1L;
	follow = !json_is_false(json_object_get(spec, "follow_redirects"));
	verify = !json_is_true(json_object_get(spec, "insecure"));
	http_request_headers(x, json_object_get(spec, "headers"), method, body != NULL);
	if ((rc = curl_easy_setopt(c, CURLOPT_URL,
	    json_string_value(json_object_get(spec, "url")))) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRS)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, ms)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_USERAGENT,
	    PACKAGE_NAME "/" PACKAGE_VERSION)) != CURLE_OK ||
	    (rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->req_headers)) != CURLE_OK)
		return rc;
	return http_set_method(x, method, body, follow);
}

static void
kind_http_start(struct task *t, const struct kind_env *env)
{
	struct http_ctx  *ctx = env->ctx;
	struct http_xfer *x;
	CURLcode          rc;
	CURLMcode         mrc;
	json_t           *e;

	if ((x = calloc(1, sizeof *x)) == NULL)
		fatal("out of memory");
	x->t = t;
	x->env = *env;
	x->ctx = ctx;
	x->cap = env->cfg->max_output;
	x->fail_on_status = json_is_true(json_object_get(t->spec, "fail_on_status"));
	x->last = HTTP_NO_FIELD;
	if ((x->field_ix = json_object()) == NULL || (x->easy = curl_easy_init()) == NULL)
		fatal("out of memory");
	TAILQ_INSERT_TAIL(&ctx->xfers, x, entry);
	t->kstate = x;
	if ((rc = http_setup_io(x)) != CURLE_OK || (rc = http_setup_request(x, t->spec)) != CURLE_OK) {
		e = http_error_new("http_error", curl_easy_strerror(rc));
		json_object_set_new(e, "curl_code", json_integer(rc));
		http_finish(x, 0, NULL, e);
		return;
	}
	/* Adding arms curl's timer at 0: the transfer begins on a later turn. */
	if ((mrc = curl_multi_add_handle(ctx->multi, x->easy)) != CURLM_OK) {
		curl_easy_cleanup(x->easy);
		x->easy = NULL;
		http_finish(x, 0, NULL, http_error_new("http_error", curl_multi_strerror(mrc)));
	}
}

/* Abort at once: removing the handle closes its connection. */
static void
kind_http_cancel(struct task *t)
{
	struct http_xfer *x = t->kstate;

	if (x == NULL)
		return;
	http_finish(x, 0, NULL, http_error_new("cancelled", "the request was aborted"));
}

/* Shutdown: drop the transfer; the task stays running in the database and
 * ends "interrupted" at the next start. */
static void
kind_http_release(struct task *t)
{
	struct http_xfer *x = t->kstate;

	if (x == NULL)
		return;
	t->kstate = NULL;
	http_xfer_free(x);
}

/* A request cannot be picked up again: it ends "interrupted". */
static int
kind_http_resume(struct task *t, const struct kind_env *env)
{
	return -1;
}

static int
kind_http_slots(const struct jobd_config *cfg)
{
	return cfg->max_http;
}

const struct kind_ops kind_http_ops = {
	.name = "http",
	.init = kind_http_init,
	.fini = kind_http_fini,
	.parse = http_spec_parse,
	.start = kind_http_start,
	.cancel = kind_http_cancel,
	.resume = kind_http_resume,
	.release = kind_http_release,
	.slots = kind_http_slots,
};
