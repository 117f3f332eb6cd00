/* listen.h: the listening sockets: TCP (IPv4, IPv6), unix, or systemd's. */
#ifndef LISTEN_H
#define LISTEN_H

#include <stddef.h>

#include "json_util.h"

#define LISTEN_MAX 8

struct listeners {
	int    fds[LISTEN_MAX];
	size_t n;
	char  *unix_paths[LISTEN_MAX];   /* ours to remove at exit */
	size_t nunix;
	int    from_systemd;
};

/* Open every spec ("HOST:PORT", "[V6]:PORT", "unix:/path"), or take the
 * sockets systemd passed.  no_auth: refuse any listener not on loopback. */
int  listen_open(struct listeners *ls, const char *const *specs, size_t n, int no_auth,
         struct err *e);
/* Log each as "listening on ADDR" (once the server runs on them). */
void listen_announce(const struct listeners *ls);
/* Close them, and remove the unix sockets we made. */
void listen_close(struct listeners *ls);

#endif
