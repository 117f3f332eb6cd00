/* daemon_ready.c: waits for a freshly started server and says how long it took.
 *
 *   daemon_ready --log FILE --pid PID --since EPOCH_NS [--healthz]
 *
 * FILE is the server's stderr; EPOCH_NS the wall clock (ns) just before the
 * caller started it.  Polls FILE every millisecond for "listening on
 * 127.0.0.1:PORT", then (with --healthz) GETs /healthz until it answers 200.
 * Prints "port=P listen_ms=L ready_ms=R" (both counted from EPOCH_NS); fails
 * if PID dies or 60 s pass.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
since_ms(long long since_ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec * 1e9 + (double)ts.tv_nsec - (double)since_ns) / 1e6;
}

static void
nap(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

/* The port from the log, 0 while absent. */
static int
ready_port(const char *log)
{
	static const char tag[] = "listening on 127.0.0.1:";
	char              buf[8192];
	FILE             *f;
	size_t            n;
	char             *p;

	if ((f = fopen(log, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strstr(buf, tag)) == NULL)
		return 0;
	return atoi(p + sizeof tag - 1);
}

/* 1 when GET /healthz answered 200. */
static int
ready_healthz(int port)
{
	struct sockaddr_in sin;
	struct timeval     tv = { 5, 0 };
	char               req[128], buf[64];
	ssize_t            n;
	size_t             got = 0;
	int                fd, ok = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Connection: close\r\n\r\n", port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0 &&
	    send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req)) {
		while (got < 12 && (n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
			got += (size_t)n;
		buf[got] = '\0';
		ok = got >= 12 && strncmp(buf + 9, "200", 3) == 0;
	}
	close(fd);
	return ok;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "log", required_argument, NULL, 'l' }, { "pid", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' }, { "healthz", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *log = NULL;
	long long   since = 0;
	double      listen_ms, ready_ms;
	long        pid = 0;
	int         ch, port = 0, healthz = 0;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'l': log = optarg; break;
		case 'p': pid = atol(optarg); break;
		case 's': since = atoll(optarg); break;
		case 'h': healthz = 1; break;
		default: goto usage;
		}
	}
	if (log == NULL || pid <= 0 || since <= 0)
		goto usage;
	while ((port = ready_port(log)) == 0) {
		if (kill((pid_t)pid, 0) < 0 || since_ms(since) > 60000)
			goto dead;
		nap();
	}
	listen_ms = since_ms(since);
	while (healthz && !ready_healthz(port)) {
		if (kill((pid_t)pid, 0) < 0 || since_ms(since) > 60000)
			goto dead;
		nap();
	}
	ready_ms = since_ms(since);
	printf("port=%d listen_ms=%.1f ready_ms=%.1f\n", port, listen_ms, ready_ms);
	return 0;
dead:
	fprintf(stderr, "daemon_ready: pid %ld did not become ready (see %s)\n", pid, log);
	return 1;
usage:
	fputs("usage: daemon_ready --log FILE --pid PID --since EPOCH_NS [--healthz]\n", stderr);
	return 2;
}
