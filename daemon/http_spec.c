/* http_spec.c: validating the spec of an http task.  Pure: no I/O. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http_spec.h"
#include "log.h"

/* The members a spec may carry. */
static const char *const http_members[] = {
	"method", "url", "headers", "body", "fail_on_status",
	"follow_redirects", "connect_timeout", "insecure", NULL
};

/* RFC 9110 token: method and header names. */
static int
http_is_token(const char *s, size_t n)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	size_t i;
	char   c;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		c = s[i];
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && (c == '\0' || strchr(extra, c) == NULL))
			return 0;
	}
	return 1;
}

/* A header value must not smuggle another header or end the block. */
static int
http_value_ok(const char *s, size_t n)
{
	return memchr(s, '\r', n) == NULL && memchr(s, '\n', n) == NULL &&
	    memchr(s, '\0', n) == NULL;
}

static int
http_parse_url(const json_t *v, struct err *e)
{
	CURLU *u;
	char  *scheme = NULL, *host = NULL, *port = NULL;
	int    rc = -1;

	if (!json_is_string(v))
		return err_set(e, 400, "\"url\" must be a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return err_set(e, 400, "\"url\" must not contain NUL");
	if ((u = curl_url()) == NULL)
		fatal("out of memory");
	if (curl_url_set(u, CURLUPART_URL, json_string_value(v), 0) != CURLUE_OK) {
		err_set(e, 400, "\"url\" is not a valid absolute URL");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		err_set(e, 400, "\"url\" must use http or https");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || *host == '\0') {
		err_set(e, 400, "\"url\" has no host");
		goto out;
	}
	/* curl takes port 0 (and 00) and fails only at connect: a typo that
	 * cannot be meant. */
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && strtol(port, NULL, 10) == 0) {
		err_set(e, 400, "\"url\" has port 0");
		goto out;
	}
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* h's names lower-cased into a new string: "A" and "a" are one header. */
static char *
http_lower(const char *k)
{
	char  *l;
	size_t i;

	if ((l = strdup(k)) == NULL)
		fatal("out of memory");
	for (i = 0; l[i] != '\0'; i++)
		if (l[i] >= 'A' && l[i] <= 'Z')
			l[i] = (char)(l[i] - 'A' + 'a');
	return l;
}

static int
http_check_header(const char *k, const json_t *v, json_t *seen, struct err *e)
{
	const json_t *prev;
	char         *lower;
	int           rc = 0;

	if (!http_is_token(k, strlen(k)))
		return err_set(e, 400, "header name \"%.64s\" is not a valid token", k);
	/* "A" and "a" are two members but one header, sent twice.  Looked up,
	 * not compared with every earlier name: a body of 1 MiB holds 80,000
	 * names, and comparing each pair stalled the whole daemon for 40 s. */
	lower = http_lower(k);
	if ((prev = json_object_get(seen, lower)) != NULL)
		rc = err_set(e, 400, "header \"%.64s\" given twice (as \"%.64s\"; "
		    "header names ignore case)", k, json_string_value(prev));
	else
		json_object_set_new(seen, lower, json_string(k));
	free(lower);
	if (rc == -1)
		return -1;
	if (!json_is_string(v))
		return err_set(e, 400, "header \"%.64s\" must be a string", k);
	if (!http_value_ok(json_string_value(v), json_string_length(v)))
		return err_set(e, 400, "header \"%.64s\" contains CR, LF or NUL", k);
	return 0;
}

static int
http_parse_headers(const json_t *h, struct err *e)
{
	const char *k;
	json_t     *v, *seen;
	int         rc = 0;

	if (!json_is_object(h))
		return err_set(e, 400, "\"headers\" must be an object of strings");
	if ((seen = json_object()) == NULL)    /* lower-cased name -> the name given */
		fatal("out of memory");
	json_object_foreach((json_t *)h, k, v) {
		if ((rc = http_check_header(k, v, seen, e)) == -1)
			break;
	}
	json_decref(seen);
	return rc;
}

static int
http_parse_options(const json_t *in, struct err *e)
{
	const json_t *v;
	double        d;
	int           b;

	if (ju_opt_bool(in, "fail_on_status", &b, e) == -1 ||
	    ju_opt_bool(in, "follow_redirects", &b, e) == -1 ||
	    ju_opt_bool(in, "insecure", &b, e) == -1)
		return -1;
	if ((v = json_object_get(in, "connect_timeout")) != NULL) {
		if (ju_duration(v, "connect_timeout", &d, e) == -1)
			return -1;
		if (d <= 0)
			return err_set(e, 400, "\"connect_timeout\" must be greater than 0");
	}
	return 0;
}

int
http_spec_parse(const json_t *in, json_t **out, struct err *e)
{
	const json_t *v;

	if (!json_is_object(in))
		return err_set(e, 400, "\"http\" must be an object");
	if (ju_only_members(in, http_members, "\"http\"", e) == -1)
		return -1;
	if ((v = json_object_get(in, "method")) != NULL &&
	    (!json_is_string(v) ||
	    !http_is_token(json_string_value(v), json_string_length(v))))
		return err_set(e, 400, "\"method\" must be an HTTP method name (a token)");
	if ((v = json_object_get(in, "url")) == NULL)
		return err_set(e, 400, "\"url\" is required");
	if (http_parse_url(v, e) == -1)
		return -1;
	if ((v = json_object_get(in, "headers")) != NULL && http_parse_headers(v, e) == -1)
		return -1;
	if ((v = json_object_get(in, "body")) != NULL && !json_is_string(v))
		return err_set(e, 400, "\"body\" must be a string");
	if (http_parse_options(in, e) == -1)
		return -1;
	if ((*out = json_deep_copy(in)) == NULL)
		fatal("out of memory");
	if (json_object_get(in, "method") == NULL)
		json_object_set_new(*out, "method", json_string("GET"));
	return 0;
}

