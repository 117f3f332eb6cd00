/* httpd_req.c: what a handler sees of a request (method, path, headers,
 * query, body, the socket it came on) and the answers it gives. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "httpd_impl.h"
#include "json_util.h"
#include "json_write.h"
#include "log.h"

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
	size_t len;
	/* 15 digits: 0.1 reads back as 0.1, not 0.10000000000000001.  A
	 * trailing newline makes curl output readable in a terminal. */
	char  *txt = jw_dumps(body, 15, 1, &len);

	json_decref(body);
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
	/* msg may quote a path, a header or a member name as the client sent
	 * it, or be cut inside a character: made valid UTF-8, else there is no
	 * JSON to send. */
	if ((body = json_pack("{s:{s:s, s:o}}", "error", "code", code, "message",
	    ju_string_lossy((const unsigned char *)msg, strlen(msg)))) == NULL)
		fatal("out of memory");
	if (extra != NULL) {
		json_object_update_missing(body, extra);
		json_decref(extra);
	}
	httpd_reply_json(r, status, body);
	if (status == MHD_HTTP_UNAUTHORIZED && r->resp)
		MHD_add_response_header(r->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
}

void
httpd_req_allow_origin(struct req *r, const char *origin)
{
	r->cors_origin = origin;
}

void
httpd_add_header(struct req *r, const char *name, const char *value)
{
	if (r->resp != NULL)
		MHD_add_response_header(r->resp, name, value);
}


const char *httpd_req_method(const struct req *r) { return r->method; }
const char *httpd_req_path(const struct req *r) { return r->url; }
void httpd_req_set_data(struct req *r, void *data) { r->data = data; }
void *httpd_req_data(const struct req *r) { return r->data; }

const char *
httpd_req_header(const struct req *r, const char *name)
{
	/* RFC 9112 3.2.2: with an absolute-form target, its authority is the
	 * host, whatever Host says. */
	if (r->authority != NULL && strcasecmp(name, MHD_HTTP_HEADER_HOST) == 0)
		return r->authority;
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

static int
httpd_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decoding of the path and of query keys and values, in place,
 * except for %00 and %2F, which stay as they are: decoded, a NUL would cut
 * "/v1/tasks/7%00x" to task 7 (MHD hands the path on as a C string), and a
 * slash would make "/v1/tasks/7%2Fcancel" the cancel of task 7.  Kept, no
 * route, id or parameter matches them, so they get the 404 or 400 any
 * other stranger gets. */
size_t
httpd_unescape_str(char *s)
{
	char *start = s, *out = s;
	int   hi, lo;

	for (; *s != '\0'; s++) {
		if (s[0] == '%' && (hi = httpd_hex((unsigned char)s[1])) >= 0 &&
		    (lo = httpd_hex((unsigned char)s[2])) >= 0 && hi * 16 + lo != 0 &&
		    hi * 16 + lo != '/') {
			*out++ = (char)(hi * 16 + lo);
			s += 2;
		} else
			*out++ = *s;
	}
	*out = '\0';
	return (size_t)(out - start);
}

/* A query key or value as MHD would have it: '+' is a space, then
 * percent-decoding. */
static void
httpd_query_decode(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p == '+')
			*p = ' ';
	httpd_unescape_str(s);
}

static void
httpd_query_add(struct req *r, const char *key, const char *value)
{
	/* "?&" or "?a=1&&b=2": an empty piece names nothing. */
	if (*key == '\0' && (value == NULL || *value == '\0'))
		return;
	if (r->nquery + 1 >= r->capquery) {
		r->capquery = r->capquery ? r->capquery * 2 : 8;
		if ((r->query = realloc(r->query, r->capquery * sizeof *r->query)) == NULL)
			fatal("out of memory");
	}
	r->query[r->nquery++] = (struct query_arg){ key, value };
	r->query[r->nquery] = (struct query_arg){ NULL, NULL };
}

const struct query_arg *
httpd_req_query(const struct req *r)
{
	static const struct query_arg none = { NULL, NULL };

	return r->query ? r->query : &none;
}

/* The pieces between '&' are "key=value", or "key" alone (value NULL), as
 * MHD splits them (internal.c, MHD_parse_arguments_).  In place: the keys
 * and values point into r->rawquery. */
void
httpd_req_collect_query(struct req *r)
{
	char *piece = r->rawquery, *amp, *eq;

	while (piece != NULL) {
		if ((amp = strchr(piece, '&')) != NULL)
			*amp++ = '\0';
		if ((eq = strchr(piece, '=')) != NULL) {
			*eq++ = '\0';
			httpd_query_decode(eq);
		}
		httpd_query_decode(piece);
		httpd_query_add(r, piece, eq);
		piece = amp;
	}
}

void
httpd_req_set_tag(struct req *r, int64_t id)
{
	if (r->tag == 0)
		r->tag = id;
}

void
httpd_req_set_reads(struct req *r, int64_t id)
{
	r->reads = id;
}

void
httpd_req_set_hold(struct req *r, uint64_t seq)
{
	r->seq = seq;
	r->seq_set = 1;
}

int
httpd_req_passed_early(const struct req *r)
{
	return r->passed_early;
}
