/* route.c: the route table, and the checks every request passes before its
 * handler: browser defences, auth, method and path, content type, JSON. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "auth.h"
#include "httpd.h"
#include "jobd.h"
#include "json_util.h"
#include "timeutil.h"

#define ROUTE_BODY   0x1     /* takes a JSON object body */
#define ROUTE_NOAUTH 0x2     /* answers without a token */
#define ROUTE_QUERY  0x4     /* its handler validates a query; others take none */
#define ROUTE_NOHOLD 0x8     /* reports no task: its answer waits for no commit */

struct route {
	const char *method;
	const char *pattern;     /* "{id}" matches one task id segment */
	api_fn      fn;
	int         flags;
};

static const struct route route_table[] = {
	{ "POST",   "/v1/tasks",               api_task_create, ROUTE_BODY },
	{ "GET",    "/v1/tasks",               api_task_list,   ROUTE_QUERY },
	{ "GET",    "/v1/tasks/{id}",          api_task_get,    0 },
	{ "DELETE", "/v1/tasks/{id}",          api_task_delete, 0 },
	{ "POST",   "/v1/tasks/{id}/cancel",   api_task_cancel, 0 },
	{ "GET",    "/v1/tasks/{id}/result",   api_task_result, ROUTE_QUERY },
	{ "GET",    "/v1/tasks/{id}/stdout",   api_task_stdout, 0 },
	{ "GET",    "/v1/tasks/{id}/stderr",   api_task_stderr, 0 },
	{ "POST",   "/v1/wait",                api_wait,        ROUTE_BODY },
	{ "POST",   "/v1/gather",              api_gather,      ROUTE_BODY },
	{ "GET",    "/healthz",                api_healthz,     ROUTE_NOAUTH | ROUTE_NOHOLD },
	/* Telemetry: its task counts are not a report of any task's state. */
	{ "GET",    "/metrics",                api_metrics,     ROUTE_NOHOLD },
};

/* Does path match pattern?  Fills *id for an "{id}" segment. */
static int
route_match_path(const char *pattern, const char *path, int64_t *id)
{
	char seg[32];

	while (*pattern && *path) {
		if (strncmp(pattern, "{id}", 4) == 0) {
			size_t n = strcspn(path, "/");

			if (n >= sizeof seg)
				return 0;
			memcpy(seg, path, n);
			seg[n] = '\0';
			if (time_parse_id(seg, id) < 0)
				return 0;
			pattern += 4;
			path += n;
		} else if (*pattern++ != *path++)
			return 0;
	}
	return *pattern == '\0' && *path == '\0';
}

/* The route for method and path; else NULL with allow[] filled (405) or
 * empty (404).  HEAD is every GET's, answered the same without the body
 * (MHD leaves it out), as RFC 9110 asks of a general-purpose server. */
static const struct route *
route_find(const char *method, const char *path, int64_t *id, char *allow, size_t len)
{
	const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
	size_t      i;

	allow[0] = '\0';
	for (i = 0; i < sizeof route_table / sizeof route_table[0]; i++) {
		const struct route *rt = &route_table[i];

		if (!route_match_path(rt->pattern, path, id))
			continue;
		if (strcmp(rt->method, want) == 0)
			return rt;
		if (strstr(allow, rt->method) == NULL)
			snprintf(allow + strlen(allow), len - strlen(allow), "%s%s%s",
			    allow[0] ? ", " : "", rt->method, strcmp(rt->method, "GET") ? "" : ", HEAD");
	}
	return NULL;
}

/* Is name in the comma-separated list? */
static int
route_in_list(const char *list, const char *name, size_t n)
{
	const char *p = list;

	while (p != NULL && *p) {
		size_t l = strcspn(p, ",");

		if (l == n && strncasecmp(p, name, n) == 0)
			return 1;
		p += l;
		p += *p == ',';
	}
	return 0;
}

/* Is the address text the one the request came in on, or loopback? */
static int
route_our_address(const struct req *r, const char *name)
{
	unsigned char   want[sizeof(struct in6_addr)], got[sizeof(struct in6_addr)];
	int             fam = strchr(name, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, name, want) != 1)
		return 0;
	if (fam == AF_INET ? want[0] == 127 :
	    IN6_IS_ADDR_LOOPBACK((struct in6_addr *)want))
		return 1;
	return httpd_req_local_addr(r, fam, got) == 0 &&
	    memcmp(want, got, fam == AF_INET ? 4 : 16) == 0;
}

/* After the name in Host: nothing, or ":" and a port (RFC 9110 7.2: at
 * most 5 digits; empty is allowed). */
static int
route_port_ok(const char *p)
{
	size_t n;

	if (*p == '\0')
		return 1;
	if (*p++ != ':')
		return 0;
	n = strspn(p, "0123456789");
	return n <= 5 && p[n] == '\0';
}

/* DNS rebinding: a browser tricked into calling us sends the attacker's
 * name as Host.  Loopback names and addresses, the address the request came
 * in on, and configured names pass, and only as host[:port]: no trailing
 * text a lax reader might skip ("localhost:80@evil.example"), and brackets
 * only around an IPv6 address. */
static int
route_host_ok(const struct jobd *jd, const struct req *r, const char *host)
{
	char            name[256];
	const char     *end, *rest;
	size_t          n;
	if (host == NULL)
		return 1;          /* HTTP/1.0 */
	if (host[0] == '[') {
		if ((end = strchr(host, ']')) == NULL)
			return 0;
		host++;
		rest = end + 1;
		if (memchr(host, ':', (size_t)(end - host)) == NULL)
			return 0;
	} else {
		if ((end = strchr(host, ':')) == NULL)
			end = host + strlen(host);
		rest = end;
	}
	if (!route_port_ok(rest))
		return 0;
	n = (size_t)(end - host);
	if (n == 0 || n >= sizeof name)
		return 0;
	memcpy(name, host, n);
	name[n] = '\0';
	if (route_our_address(r, name))
		return 1;
	if (strcasecmp(name, "localhost") == 0 ||
	    (n > 10 && strcasecmp(name + n - 10, ".localhost") == 0))
		return 1;
	return route_in_list(jd->cfg.allow_host, name, n);
}

static int
route_is_json(const char *ctype)
{
	size_t n = strlen("application/json");

	if (ctype == NULL || strncasecmp(ctype, "application/json", n) != 0)
		return 0;
	ctype += n;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return *ctype == '\0' || *ctype == ';';
}

static int
route_body(struct api_call *c)
{
	json_error_t jerr;
	size_t       len;
	const char  *body;

	if (!route_is_json(httpd_req_header(c->r, "Content-Type"))) {
		httpd_reply_error(c->r, 415, "unsupported_media_type", NULL,
		    "the body must be JSON sent as Content-Type: application/json");
		return -1;
	}
	body = httpd_req_body(c->r, &len);
	/* Any JSON value parses, so that "5" is told it is not an object
	 * rather than that it is not JSON. */
	c->body = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY,
	    &jerr);
	if (c->body == NULL && json_error_code(&jerr) == json_error_numeric_overflow &&
	    strstr(jerr.text, "integer") != NULL) {
		httpd_reply_error(c->r, 400, "bad_request", NULL, "the body holds an integer beyond "
		    "the 64-bit range (line %d, column %d); jobd keeps integers as 64-bit numbers: "
		    "send a larger one as a string or a float", jerr.line, jerr.column);
		return -1;
	}
	if (c->body == NULL) {
		httpd_reply_error(c->r, 400, "bad_request", NULL, "the body is not valid JSON: %s",
		    jerr.text);
		return -1;
	}
	if (!json_is_object(c->body)) {
		json_decref(c->body);
		c->body = NULL;
		httpd_reply_error(c->r, 400, "bad_request", NULL, "the body must be a JSON object");
		return -1;
	}
	return 0;
}

static int
route_stopping(struct jobd *jd, struct req *r)
{
	if (!jd->stopping)
		return 0;
	httpd_reply_error(r, 503, "overloaded", NULL, "jobd is shutting down");
	return -1;
}

/* No route has the path: answered 404, -1. */
static int
route_not_found(struct req *r)
{
	httpd_reply_error(r, 404, "not_found", NULL, "no such resource: %s", httpd_req_path(r));
	return -1;
}

/* Where the request comes from: a browser page jobd does not allow, or a
 * Host that is not jobd's.  0, or -1 once answered. */
static int
route_guard_site(struct jobd *jd, struct req *r)
{
	const char *origin = httpd_req_header(r, "Origin");
	const char *site = httpd_req_header(r, "Sec-Fetch-Site");

	/* An <img> or a GET form carries no Origin, but browsers say where it
	 * came from: only the user's own navigation ("none") may pass. */
	if (origin == NULL && site != NULL && strcmp(site, "none") != 0 &&
	    strcmp(site, "same-origin") != 0) {
		httpd_reply_error(r, 403, "forbidden", NULL,
		    "requests from web pages (Sec-Fetch-Site: %s) are not allowed", site);
		return -1;
	}
	if (origin != NULL && !route_in_list(jd->cfg.allow_origin, origin, strlen(origin))) {
		httpd_reply_error(r, 403, "forbidden", NULL, "requests from browser origin %s are not allowed",
		    origin);
		return -1;
	}
	if (origin != NULL)
		httpd_req_allow_origin(r, origin);
	if (!httpd_req_is_unix(r) && !route_host_ok(jd, r, httpd_req_header(r, "Host"))) {
		httpd_reply_error(r, 403, "forbidden", NULL, "the Host header names no address of jobd");
		return -1;
	}
	return 0;
}

/* A browser asks whether a page of an allowed origin may send a request
 * (a CORS preflight: OPTIONS with Access-Control-Request-Method).  It
 * carries no token, so it is answered before the token is asked for: 1 if
 * it was one (answered), else 0. */
static int
route_preflight(struct jobd *jd, struct req *r, const char *allow)
{
	if (strcmp(httpd_req_method(r), "OPTIONS") != 0 ||
	    httpd_req_header(r, "Origin") == NULL ||
	    httpd_req_header(r, "Access-Control-Request-Method") == NULL)
		return 0;
	if (route_guard_site(jd, r) < 0)
		return 1;
	if (allow[0] == '\0') {
		route_not_found(r);
		return 1;
	}
	httpd_reply_bytes(r, 204, NULL, NULL, 0);
	httpd_add_header(r, "Access-Control-Allow-Methods", allow);
	httpd_add_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
	httpd_add_header(r, "Access-Control-Max-Age", "600");
	return 1;
}

static int
route_guard(struct jobd *jd, struct req *r, const struct route *rt)
{
	if (route_guard_site(jd, r) < 0)
		return -1;
	if (jd->token != NULL && (rt == NULL || !(rt->flags & ROUTE_NOAUTH)) &&
	    !auth_check(jd->token, httpd_req_header(r, "Authorization"))) {
		httpd_reply_error(r, 401, "unauthorized", NULL, "a valid bearer token is required");
		return -1;
	}
	return route_stopping(jd, r);
}

int
api_wants_body(void *arg, const char *method, const char *path)
{
	const struct route *rt;
	char                allow[64];
	int64_t             id;

	rt = route_find(method, path, &id, allow, sizeof allow);
	return rt != NULL && (rt->flags & ROUTE_BODY);
}

/* The checks every request passes before its handler: 0, or -1 once
 * answered. */
static int
route_check(struct api_call *c, const struct route *rt, const char *allow)
{
	struct req *r = c->r;

	if (rt == NULL && route_preflight(c->jd, r, allow))
		return -1;
	/* Seen by api_guard before its body came, it may have waited for the
	 * body while jobd began to stop. */
	if ((httpd_req_passed_early(r) ? route_stopping(c->jd, r) : route_guard(c->jd, r, rt)) < 0)
		return -1;
	if (rt == NULL && allow[0] != '\0') {
		httpd_reply_error(r, 405, "method_not_allowed", NULL, "%s is not allowed on %s (allowed: %s)",
		    httpd_req_method(r), httpd_req_path(r), allow);
		httpd_add_header(r, "Allow", allow);
		return -1;
	}
	if (rt == NULL)
		return route_not_found(r);
	if (!(rt->flags & ROUTE_QUERY) && httpd_req_query(r)->key != NULL) {
		httpd_reply_error(r, 400, "bad_request", NULL, "unknown query parameter \"%s\"",
		    httpd_req_query(r)->key);
		return -1;
	}
	if ((rt->flags & ROUTE_BODY) && route_body(c) < 0)
		return -1;
	return 0;
}

void
api_guard(void *arg, struct req *r)
{
	const struct route *rt;
	char                allow[64];
	int64_t             id;

	rt = route_find(httpd_req_method(r), httpd_req_path(r), &id, allow, sizeof allow);
	(void)route_guard(arg, r, rt);
}

void
api_dispatch(void *arg, struct req *r)
{
	struct api_call     c = { .jd = arg, .r = r };
	const struct route *rt;
	char                allow[64];

	rt = route_find(httpd_req_method(r), httpd_req_path(r), &c.id, allow, sizeof allow);
	if (route_check(&c, rt, allow) < 0) {
		/* About the request alone: no commit makes it truer. */
		httpd_req_set_hold(r, 0);
		return;
	}
	if (rt->flags & ROUTE_NOHOLD)
		httpd_req_set_hold(r, 0);
	rt->fn(&c);
	json_decref(c.body);
}

/* An error about the request alone (its body or query): no commit makes
 * it truer, so nothing staged holds it. */
void
api_reply_invalid(struct req *r, const struct err *e)
{
	httpd_req_set_hold(r, 0);
	api_reply_err(r, e);
}

void
api_reply_err(struct req *r, const struct err *e)
{
	static const struct { int status; const char *code; } codes[] = {
		{ 400, "bad_request" }, { 404, "not_found" }, { 409, "conflict" },
		{ 413, "payload_too_large" }, { 503, "overloaded" }, { 507, "storage_full" },
	};
	size_t i;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (codes[i].status == e->status) {
			httpd_reply_error(r, (unsigned)e->status, codes[i].code, NULL, "%s", e->msg);
			return;
		}
	httpd_reply_error(r, 500, "internal", NULL, "%s", e->msg);
}
