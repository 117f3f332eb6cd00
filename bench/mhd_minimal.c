/* mhd_minimal.c: limit B1a, the cheapest server jobd's HTTP layer could be.
 *
 * libmicrohttpd driven from a libevent loop exactly as jobd drives it (external
 * epoll, the same daemon options, the answer queued in the final handler call
 * so keep-alive holds), answering every request with one fixed 201 the size of
 * a jobd task object.  No JSON parsing, no database: what is left is the cost
 * of HTTP on this machine.
 *
 * usage: mhd_minimal [--listen 127.0.0.1:PORT]   (default port 0: any free one)
 * Logs "listening on 127.0.0.1:PORT" on stderr once it serves.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <microhttpd.h>

/* A jobd 201 body in shape and size (about 230 bytes). */
static const char minimal_body[] =
    "{\"id\":1,\"kind\":\"sleep\",\"name\":null,\"state\":\"running\","
    "\"created_at\":\"2026-11-25T17:14:23.548Z\",\"started_at\":\"2026-11-25T17:14:23.548Z\","
    "\"finished_at\":null,\"timeout\":null,\"spec\":{\"seconds\":600,\"result\":null},"
    "\"result\":null,\"error\":null}";

struct minimal {
	struct MHD_Daemon   *d;
	struct MHD_Response *created;
	struct event_base   *base;
	struct event        *mhd_ev;
	struct event        *mhd_tmr;
};

static void
minimal_pump(evutil_socket_t fd, short what, void *arg)
{
	struct minimal         *m = arg;
	MHD_UNSIGNED_LONG_LONG  to;
	struct timeval          tv;

	(void)fd;
	(void)what;
	MHD_run(m->d);
	/* MHD's sockets are edge-triggered: only this timer brings it back to
	 * data it left pending. */
	if (MHD_get_timeout(m->d, &to) == MHD_YES) {
		tv.tv_sec = (time_t)(to / 1000);
		tv.tv_usec = (suseconds_t)(to % 1000) * 1000;
		evtimer_add(m->mhd_tmr, &tv);
	} else
		evtimer_del(m->mhd_tmr);
}

static enum MHD_Result
minimal_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct minimal *m = cls;

	(void)url;
	(void)method;
	(void)version;
	(void)upload_data;
	/* Answering in the first call would make 0.9.75 close the connection. */
	if (*con_cls == NULL) {
		*con_cls = m;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	return MHD_queue_response(c, MHD_HTTP_CREATED, m->created);
}

static int
minimal_listen(const char *spec, int *port)
{
	struct sockaddr_in sin;
	socklen_t          len = sizeof sin;
	int                fd, one = 1;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (spec != NULL) {
		const char *colon = strrchr(spec, ':');

		if (colon == NULL || strncmp(spec, "127.0.0.1:", 10) != 0)
			return -1;
		sin.sin_port = htons((uint16_t)atoi(colon + 1));
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
minimal_start(struct minimal *m, int fd)
{
	const union MHD_DaemonInfo *info;

	m->created = MHD_create_response_from_buffer(sizeof minimal_body - 1,
	    (void *)(uintptr_t)minimal_body, MHD_RESPMEM_PERSISTENT);
	if (m->created == NULL ||
	    MHD_add_response_header(m->created, "Content-Type", "application/json") != MHD_YES ||
	    MHD_add_response_header(m->created, "Location", "/v1/tasks/1") != MHD_YES)
		return -1;
	/* jobd's options (daemon/httpd.c), so only jobd's own work differs. */
	m->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, minimal_access, m,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	    MHD_OPTION_CONNECTION_LIMIT, 10240u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 60u,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
	    MHD_OPTION_END);
	if (m->d == NULL ||
	    (info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD)) == NULL)
		return -1;
	m->mhd_ev = event_new(m->base, info->epoll_fd, EV_READ | EV_PERSIST, minimal_pump, m);
	m->mhd_tmr = evtimer_new(m->base, minimal_pump, m);
	if (m->mhd_ev == NULL || m->mhd_tmr == NULL || event_add(m->mhd_ev, NULL) < 0)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct minimal m;
	const char    *spec = NULL;
	int            fd, port;

	if (argc == 3 && strcmp(argv[1], "--listen") == 0)
		spec = argv[2];
	else if (argc != 1) {
		fputs("usage: mhd_minimal [--listen 127.0.0.1:PORT]\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&m, 0, sizeof m);
	if ((m.base = event_base_new()) == NULL)
		goto fail;
	if ((fd = minimal_listen(spec, &port)) < 0) {
		fprintf(stderr, "mhd_minimal: cannot listen: %s\n", strerror(errno));
		return 1;
	}
	if (minimal_start(&m, fd) < 0)
		goto fail;
	fprintf(stderr, "mhd_minimal: listening on 127.0.0.1:%d\n", port);
	event_base_dispatch(m.base);
	return 0;
fail:
	fputs("mhd_minimal: start-up failed\n", stderr);
	return 1;
}
