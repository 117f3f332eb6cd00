/* jobd.h: the one daemon context and its configuration. */
#ifndef JOBD_H
#define JOBD_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct store;
struct sched;
struct httpd;
struct waiters;
struct metrics;

struct jobd_config {
	const char *listen[8];    /* "HOST:PORT", "[V6]:PORT" or "unix:PATH" */
	size_t      nlisten;
	const char *tls_cert;     /* files: serve HTTPS when both are set */
	const char *tls_key;
	const char *db_path;
	const char *token_file;
	int         no_auth;
	int         sync_full;    /* synchronous=FULL (default) or NORMAL */
	int64_t     max_db_size;  /* bytes; 0: no cap */
	int         max_exec;
	int         max_http;
	double      kill_grace;   /* seconds */
	size_t      max_output;   /* bytes kept per output stream */
	size_t      max_body;     /* request body cap */
	unsigned    max_conns;    /* libmicrohttpd connection limit */
	unsigned    request_timeout; /* seconds: a request arrives whole, a connection idles */
	int         queue_window; /* pending tasks per kind kept in memory */
	double      memory_horizon; /* seconds: running tasks idle longer wait on disk */
	const char *allow_origin; /* comma-separated origins browsers may use */
	const char *allow_host;   /* comma-separated extra Host names */
	uint64_t    nofile_soft;  /* the open-file soft limit we were given: our programs' */
};

/* The daemon: everything mutable lives here, reached through this. */
struct jobd {
	struct event_base  *base;
	struct jobd_config  cfg;
	struct store       *store;
	struct sched       *sched;
	struct httpd       *httpd;
	struct waiters     *waiters;
	struct metrics     *metrics;
	char               *token;     /* bearer token, NULL with --no-auth */
	int                 stopping;  /* SIGTERM seen: refuse new work */
};

#endif
