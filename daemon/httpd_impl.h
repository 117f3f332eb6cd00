/* httpd_impl.h: the HTTP glue's insides, shared by httpd.c (MHD on the
 * loop: daemons, listeners, parking, holding, resuming) and httpd_req.c
 * (what a handler sees of a request, and the answers it gives). */
#ifndef HTTPD_IMPL_H
#define HTTPD_IMPL_H

#include <stdint.h>
#include <sys/queue.h>
#include <time.h>

#include <microhttpd.h>

#include "httpd.h"

#define HTTPD_SHARDS       16     /* MHD daemons the connections are spread over */

struct event;

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
	struct httpd_shard    *shard;       /* the MHD daemon it came in on */
	struct MHD_Connection *conn;
	const char            *method;
	const char            *url;         /* the path: origin-form, or absolute-form's */
	char                  *authority;   /* absolute-form's host[:port], else NULL */
	char                  *rawquery;    /* the query as sent (after '?'), else NULL */
	char                  *body;
	size_t                 len, cap;
	size_t                 seen;        /* body bytes received, kept or not */
	int                    wants_body;  /* else its body is dropped unread */
	int                    passed_early; /* the early hook ran and gave no answer */
	const char            *cors_origin; /* an allowed browser origin (MHD's copy) */
	struct query_arg      *query;
	size_t                 nquery, capquery;
	void                  *data;        /* the handler's */
	struct timespec        t0;          /* headers seen */
	unsigned               sent;        /* the status queued, 0 if none */
	int64_t                tag;         /* a task it created, or 0 */
	int64_t                reads;       /* an uncommitted task it reports on, or 0 */
	uint64_t               seq;         /* held: the commit to be durable first */
	int                    seq_set;     /* seq given by the handler */
	enum req_state         state;
	struct MHD_Response   *resp;
	unsigned               status;
	void                 (*gone)(void *arg);
	void                  *gone_arg;
	struct event          *closed_ev;
	TAILQ_ENTRY(req)       entry;       /* parked, held or resume list */
};

/* Connections are spread over several MHD daemons, because MHD walks every
 * suspended connection of a daemon whenever one of them resumes (daemon.c,
 * resume_suspended_connections): with 10,000 clients parked on one daemon,
 * each wake-up cost a walk of 10,000.  jobd accepts connections itself and
 * hands each to the next daemon (MHD_add_connection); the daemons listen on
 * nothing. */
struct httpd_shard {
	struct httpd          *h;
	struct MHD_Daemon     *d;
	struct event          *mhd_ev;
	struct event          *mhd_timer;
	unsigned               nconns;
	int                    kicked;      /* a run is asked for this turn */
};

/* A listening socket (TCP, unix, or one from systemd). */
struct httpd_listener {
	struct httpd          *h;
	int                    fd;
	struct event          *ev;
};

struct httpd {
	struct httpd_config    cfg;
	struct httpd_shard     shards[HTTPD_SHARDS];
	size_t                 nshards;
	struct httpd_listener *ls;
	size_t                 nls;
	unsigned               nconns;      /* open connections, all shards */
	int                    accepting;   /* the listeners are watched */
	int                    full_logged; /* "at the limit" said, since the last accept */
	int                    emfile_logged; /* "out of descriptors" said, likewise */
	struct event          *emfile_ev;   /* listen again after running out of fds */
	int                    spare_fd;    /* /dev/null, given up to refuse one when out of fds */
	struct event          *resume_ev;
	struct req_list        parked;
	struct req_list        held;
	struct req_list        resuming;
	size_t                 nparked;
	size_t                 max_parked;
	int                    stopping;
};

/* httpd.c: give r its answer (resp is r's now): queued at once, held for
 * its commit, or resumed. */
void httpd_set_response(struct req *r, unsigned status, struct MHD_Response *resp);
/* httpd_req.c: split and decode r->rawquery into r->query. */
void httpd_req_collect_query(struct req *r);
/* httpd_req.c: percent-decode s in place (but %00 and %2F); its new length. */
size_t httpd_unescape_str(char *s);

#endif
