/* jobctl_http.c: one libcurl easy handle to jobd, the token, error answers. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "jobctl.h"

#define JC_TOKEN_MAX	4096

/* Where jobd leaves its token when neither --token-file nor $JOBD_TOKEN says. */
static const char *const jc_token_paths[] = {
	"./jobd.token",			/* beside the default ./jobd.db */
	"/var/lib/jobd/jobd.token",
};

struct jc_buf {
	char	*data;
	size_t	 len;
	size_t	 size;
};

/*
 * A token as given, without its trailing white space, or NULL with errno
 * EINVAL when nothing is left or it has control characters or spaces inside:
 * they would break the header, or add one ("\r\nX-Other: ...").
 */
static char *
jc_token_clean(const char *s, size_t len)
{
	size_t i;

	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	for (i = 0; i < len; i++)
		if (!isgraph((unsigned char)s[i]))
			break;
	if (len == 0 || i < len) {
		errno = EINVAL;
		return NULL;
	}
	return strndup(s, len);
}

/* Read a token file: NULL with errno set, EINVAL as jc_token_clean(). */
static char *
jc_token_read(const char *path)
{
	char	 buf[JC_TOKEN_MAX + 1];
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	while (len < sizeof buf - 1 &&
	    (n = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			return NULL;
		}
		len += (size_t)n;
	}
	close(fd);
	return jc_token_clean(buf, len);
}

/* Find the token: --token-file, $JOBD_TOKEN, then the usual files. */
static int
jc_token_find(struct jobctl *jc, char **token)
{
	const char	*env;
	size_t		 i;

	*token = NULL;
	if (jc->token_file != NULL) {
		if ((*token = jc_token_read(jc->token_file)) == NULL) {
			jc_warn("cannot read token file %s: %s", jc->token_file,
			    errno == EINVAL ? "empty or not a token" :
			    strerror(errno));
			return JC_EXIT_USAGE;
		}
		return 0;
	}
	if ((env = getenv("JOBD_TOKEN")) != NULL && *env != '\0') {
		if ((*token = jc_token_clean(env, strlen(env))) == NULL) {
			jc_warn("JOBD_TOKEN: %s", errno == EINVAL ?
			    "empty or not a token" : strerror(errno));
			return JC_EXIT_USAGE;
		}
		return 0;
	}
	/* Unreadable candidates are skipped: the token may not be needed. */
	for (i = 0; i < sizeof jc_token_paths / sizeof jc_token_paths[0]; i++)
		if ((*token = jc_token_read(jc_token_paths[i])) != NULL)
			break;
	return 0;
}

/*
 * http:// or https://, a host, a port perhaps, and nothing but slashes after
 * them: anything else libcurl would take for a host name ("foo"), another
 * protocol, a user ("u@host"), or a path or query that our paths would be
 * glued to ("http://host/v1" asks for /v1/v1/tasks).
 */
static int
jc_url_ok(const char *url)
{
	const char	*rest;
	size_t		 host;

	if (strncasecmp(url, "http://", 7) == 0)
		rest = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		rest = url + 8;
	else
		return 0;
	host = strcspn(rest, "/?#@");
	if (host == 0 || *rest == ':' || (rest[host] != '\0' && rest[host] != '/'))
		return 0;
	return rest[host + strspn(rest + host, "/")] == '\0';
}

static int
jc_http_open(struct jobctl *jc)
{
	char	*token = NULL;
	size_t	 len;
	int	 rc;

	if ((rc = jc_token_find(jc, &token)) != 0)
		return rc;
	if (token != NULL && asprintf(&jc->auth, "Authorization: Bearer %s",
	    token) == -1)
		jc->auth = NULL;
	free(token);

	if (strncmp(jc->url, "unix:", 5) == 0) {
		if (jc->url[5] == '\0') {
			jc_warn("%s=unix: needs a path (unix:PATH)", jc->url_from);
			return JC_EXIT_USAGE;
		}
		jc->unix_path = strdup(jc->url + 5);
		jc->base = strdup("http://localhost");
	} else if (!jc_url_ok(jc->url)) {
		jc_warn("%s=%s: expected http://HOST[:PORT], https://HOST[:PORT] or unix:PATH",
		    jc->url_from, jc->url);
		return JC_EXIT_USAGE;
	} else {
		jc->base = strdup(jc->url);
		len = jc->base != NULL ? strlen(jc->base) : 0;
		while (len > 0 && jc->base[len - 1] == '/')
			jc->base[--len] = '\0';
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (jc->curl = curl_easy_init()) == NULL || jc->base == NULL) {
		jc_warn("cannot set up libcurl");
		return JC_EXIT_SERVER;
	}
	return 0;
}

void
jc_http_close(struct jobctl *jc)
{
	if (jc->curl != NULL) {
		curl_easy_cleanup(jc->curl);
		curl_global_cleanup();
	}
	jc->curl = NULL;
	free(jc->base);
	free(jc->unix_path);
	free(jc->auth);
	jc->base = jc->unix_path = jc->auth = NULL;
}

static size_t
jc_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct jc_buf	*b = arg;
	size_t		 want = b->len + n + 1;
	char		*d;

	if (want > b->size) {
		if (want < 2 * b->size)
			want = 2 * b->size;
		if ((d = realloc(b->data, want)) == NULL)
			return 0;
		b->data = d;
		b->size = want;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	(void)size;	/* always 1 */
	return n;
}

/* Lets a blocking request end when run's signal handler set *stop. */
static int
jc_xferinfo_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct jobctl *jc = arg;

	(void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
	return jc->interruptible && jc->stop != NULL && *jc->stop != 0;
}

/* Set the options of one request on the reused handle; returns headers. */
static struct curl_slist *
jc_setup(struct jobctl *jc, const char *method, const char *url,
    const char *data, struct jc_buf *b)
{
	CURL			*c = jc->curl;
	struct curl_slist	*h = NULL;

	/* Reset keeps the live connection: requests share one (keep-alive). */
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "jobctl/" PACKAGE_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, jc->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* No overall timeout: waits last as long as asked; keepalive notices
	 * a peer that vanished. */
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, jc_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	/* Straight to jobd, whatever http_proxy says: a proxy would get the
	 * token, cut long waits, and cannot reach a loopback jobd at all. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (jc->cacert != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, jc->cacert);
	if (jc->unix_path != NULL)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, jc->unix_path);
	if (jc->interruptible) {
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, jc_xferinfo_cb);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, jc);
	}
	if (jc->auth != NULL)
		h = curl_slist_append(h, jc->auth);
	h = curl_slist_append(h, "Expect:");
	if (data != NULL) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	return h;
}

static int
jc_transport_error(struct jobctl *jc, CURLcode cc)
{
	const char	*why = jc->errbuf[0] != '\0' ? jc->errbuf :
	    curl_easy_strerror(cc);
	long		 oserr = 0;

	if (cc == CURLE_ABORTED_BY_CALLBACK && jc->stop != NULL && *jc->stop)
		return JC_REQ_INTR;
	/* For a socket path libcurl's message names "localhost port 80". */
	if (jc->unix_path != NULL && cc == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(jc->curl, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK &&
	    oserr != 0)
		why = strerror((int)oserr);
	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
		jc_warn("cannot reach jobd at %s: %s", jc->url, why);
	else if (cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL) {
		jc_warn("bad %s=%s: %s", jc->url_from, jc->url, why);
		return JC_EXIT_USAGE;
	} else
		jc_warn("request to jobd at %s failed: %s", jc->url, why);
	return JC_EXIT_SERVER;
}

/*
 * Send one request (body: a JSON object to POST, or NULL) and collect the
 * answer in *r, which the caller frees with jc_resp_free(). Returns
 * JC_REQ_OK when jobd answered (any status), JC_REQ_INTR when *stop ended
 * it, else the exit code after reporting why in one line.
 */
int
jc_request(struct jobctl *jc, const char *method, const char *path,
    json_t *body, struct jc_resp *r)
{
	struct curl_slist	*h = NULL;
	struct jc_buf		 b = { NULL, 0, 0 };
	char			*url = NULL, *data = NULL;
	char			*ctype = NULL;
	CURLcode		 cc;
	int			 rc;

	memset(r, 0, sizeof *r);
	if (jc->curl == NULL && (rc = jc_http_open(jc)) != 0)
		return rc;
	rc = JC_EXIT_SERVER;
	if (asprintf(&url, "%s%s", jc->base, path) == -1) {
		url = NULL;
		goto fail;
	}
	if (body != NULL && (data = json_dumps(body, JSON_COMPACT)) == NULL)
		goto fail;
	jc->errbuf[0] = '\0';
	h = jc_setup(jc, method, url, data, &b);
	if ((cc = curl_easy_perform(jc->curl)) != CURLE_OK) {
		rc = jc_transport_error(jc, cc);
		goto fail;
	}
	curl_easy_getinfo(jc->curl, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(jc->curl, CURLINFO_CONTENT_TYPE, &ctype);
	r->body = b.data != NULL ? b.data : strdup("");
	r->len = b.len;
	b.data = NULL;
	if (ctype != NULL && strstr(ctype, "json") != NULL)
		r->json = json_loadb(r->body, r->len, JSON_ALLOW_NUL, NULL);
	rc = r->body != NULL ? JC_REQ_OK : JC_EXIT_SERVER;
fail:
	curl_slist_free_all(h);
	free(b.data);
	free(data);
	free(url);
	return rc;
}

void
jc_resp_free(struct jc_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* The exit code an unwanted HTTP status maps to (jobctl(1)). */
static int
jc_status_exit(long status)
{
	switch (status) {
	case 400:
	case 413:
	case 415:
		return JC_EXIT_USAGE;
	case 404:
	case 409:
	case 424:
		return JC_EXIT_TASK;
	case 504:
		return JC_EXIT_TIMEOUT;
	}
	return JC_EXIT_SERVER;
}

/*
 * Report an unwanted answer in one line, "jobctl: WHAT: message", using
 * jobd's message (never the raw body). Returns the exit code.
 */
int
jc_fail(struct jobctl *jc, const char *what, const struct jc_resp *r)
{
	const json_t	*err = json_object_get(r->json, "error");
	const char	*msg = json_string_value(json_object_get(err, "message"));
	int		 len;

	if (r->status == 401) {
		jc_warn("jobd at %s %s; give it with --token-file or JOBD_TOKEN",
		    jc->url, jc->auth != NULL ? "refused the token" :
		    "needs a token");
		return JC_EXIT_SERVER;
	}
	if (msg == NULL) {
		jc_warn("%s%sunexpected answer from jobd: HTTP %ld",
		    what != NULL ? what : "", what != NULL ? ": " : "", r->status);
		return JC_EXIT_SERVER;
	}
	/* One line: drop a final period, the sentence is inside ours. */
	len = (int)strcspn(msg, "\r\n");
	if (len > 0 && msg[len - 1] == '.')
		len--;
	/*
	 * Not "task 7: task 7 not found": a message naming the task already
	 * reads "task 7: not found", or whole when it is a sentence.
	 */
	if (what != NULL && strncmp(msg, what, strlen(what)) == 0 &&
	    msg[strlen(what)] == ' ') {
		if (strncmp(msg + strlen(what) + 1, "is ", 3) == 0)
			what = NULL;
		else {
			len -= (int)strlen(what) + 1;
			msg += strlen(what) + 1;
		}
	}
	if (what != NULL)
		fprintf(stderr, "jobctl: %s: %.*s\n", what, len, msg);
	else
		fprintf(stderr, "jobctl: %.*s\n", len, msg);
	return jc_status_exit(r->status);
}

/* A query parameter value, percent-encoded; the caller frees it. */
char *
jc_escape(const char *s)
{
	char *e, *copy;

	if ((e = curl_easy_escape(NULL, s, 0)) == NULL)
		return NULL;
	copy = strdup(e);
	curl_free(e);
	return copy;
}
