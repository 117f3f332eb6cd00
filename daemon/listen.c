/* listen.c: the listening sockets: TCP (IPv4, IPv6), unix, or systemd's. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "listen.h"
#include "log.h"

/* A port is a number from 0 (any free one) to 65535: getaddrinfo would
 * take 65537 modulo 65536, or look a name up in /etc/services. */
static int
listen_port_ok(const char *p)
{
	unsigned long v;

	if (*p == '\0' || strlen(p) > 5 || p[strspn(p, "0123456789")] != '\0')
		return 0;
	v = strtoul(p, NULL, 10);
	return v <= 65535;
}

/* Split "HOST:PORT" or "[V6]:PORT". */
static int
listen_split(const char *s, char *host, size_t hlen, const char **port)
{
	const char *colon;
	size_t      n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		n = (size_t)(end - s - 1);
		s++;
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= hlen || !listen_port_ok(colon + 1))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	*port = colon + 1;
	return 0;
}

static int
listen_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_UNIX)
		return 1;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/* "listening on ..." with the real port (port 0 picks one), logged once we
 * serve: scripts and tests wait for it. */
static void
listen_log(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char      addr[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr);
		log_info("listening on [%s]:%u", addr, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	} else if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr);
		log_info("listening on %s:%u", addr, ntohs(((struct sockaddr_in *)&ss)->sin_port));
	} else if (ss.ss_family == AF_UNIX)
		log_info("listening on unix:%s", ((struct sockaddr_un *)&ss)->sun_path);
}

static int
listen_tcp(const char *spec, int no_auth, struct err *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	char        host[256];
	const char *port;
	int         fd, one = 1, rc;

	if (listen_split(spec, host, sizeof host, &port) < 0)
		return err_set(e, 2, "--listen: expected HOST:PORT (PORT from 0 to 65535), [IPV6]:PORT or unix:PATH, got \"%s\"", spec);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		return err_set(e, 2, "--listen %s: %s", spec, gai_strerror(rc));
	if (no_auth && !listen_is_loopback(res->ai_addr)) {
		freeaddrinfo(res);
		return err_set(e, 2, "--no-auth is refused for %s: it is not a loopback address", spec);
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
		err_set(e, 1, "cannot listen on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* A stale socket file from a crash is removed; a live one means another
 * daemon is there.  Anything else at path is left alone: connect() to a
 * regular file fails ECONNREFUSED too, and "unix:" before the database's
 * path must not delete the database. */
static int
listen_unix(const char *path, struct err *e)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat        st;
	int fd;

	if (*path == '\0')
		return err_set(e, 2, "--listen unix:PATH: the path is empty");
	if (strlen(path) >= sizeof sun.sun_path)
		return err_set(e, 2, "--listen unix:%s: the path is too long", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return err_set(e, 1, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		close(fd);
		return err_set(e, 1, "cannot listen on unix:%s: another server is using it", path);
	}
	if (errno == ECONNREFUSED && lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		close(fd);
		return err_set(e, 1, "cannot listen on unix:%s: it exists and is not a socket", path);
	}
	if (errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return err_set(e, 1, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || chmod(path, 0660) < 0 ||
	    listen(fd, 4096) < 0) {
		err_set(e, 1, "cannot listen on unix:%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
listen_systemd(struct listeners *ls, int no_auth, struct err *e)
{
#ifdef HAVE_SYSTEMD
	int n = sd_listen_fds(1), i;

	if (n <= 0)
		return 0;
	for (i = 0; i < n && ls->n < LISTEN_MAX; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = SD_LISTEN_FDS_START + i;

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
			return err_set(e, 1, "systemd socket %d: %s", fd, strerror(errno));
		if (no_auth && !listen_is_loopback((struct sockaddr *)&ss))
			return err_set(e, 2, "--no-auth is refused: a socket from systemd is not loopback");
		ls->fds[ls->n++] = fd;
	}
	ls->from_systemd = 1;
	return (int)ls->n;
#else
	return 0;
#endif
}

int
listen_open(struct listeners *ls, const char *const *specs, size_t n, int no_auth, struct err *e)
{
	size_t i;
	int    fd, got;

	memset(ls, 0, sizeof *ls);
	if ((got = listen_systemd(ls, no_auth, e)) != 0)
		return got < 0 ? -1 : 0;
	for (i = 0; i < n && i < LISTEN_MAX; i++) {
		if (strncmp(specs[i], "unix:", 5) == 0) {
			if ((fd = listen_unix(specs[i] + 5, e)) < 0)
				return -1;
			ls->unix_paths[ls->nunix++] = strdup(specs[i] + 5);
		} else if ((fd = listen_tcp(specs[i], no_auth, e)) < 0)
			return -1;
		ls->fds[ls->n++] = fd;
	}
	return 0;
}

void
listen_announce(const struct listeners *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		listen_log(ls->fds[i]);
}

void
listen_close(struct listeners *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		if (ls->fds[i] >= 0)
			close(ls->fds[i]);
	for (i = 0; i < ls->nunix; i++) {
		unlink(ls->unix_paths[i]);
		free(ls->unix_paths[i]);
	}
	ls->n = ls->nunix = 0;
}
