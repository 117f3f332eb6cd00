/* sync_gate.c: an LD_PRELOAD shim for the durability tests.  While the file
 * named by $JOBD_SYNC_GATE exists, fdatasync(2) of a SQLite WAL ("-wal")
 * waits; each WAL sync appends "wait" when it starts waiting and "synced"
 * when it returns to the file named by $JOBD_SYNC_LOG.  So a test can hold
 * the disk flush and see what jobd answers meanwhile: nothing that reports
 * state may leave before the flush that covers it.
 *
 * Likewise, while the file named by $JOBD_WRITE_GATE exists, pwrite(2) to a
 * WAL waits (logging "write wait" once to $JOBD_SYNC_LOG): the commit in
 * progress, and so the writer thread, is held, and what the loop stages
 * meanwhile waits for the next batch.
 *
 * And while the file named by $JOBD_RESOLVE_GATE exists, getaddrinfo(3) of a
 * name ending in ".gate.test" waits (logging "resolve wait" once), then
 * fails with EAI_NONAME: a DNS server that does not answer, for the http
 * kind's tests. */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int fdatasync(int fd);
ssize_t pwrite(int fd, const void *buf, size_t n, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off);

static void
gate_log(const char *what)
{
	const char *path = getenv("JOBD_SYNC_LOG");
	int         fd;

	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return;
	if (write(fd, what, strlen(what)) < 0)
		;   /* nothing to do: the test sees the gap */
	close(fd);
}

static int
gate_is_wal(int fd)
{
	char    link[64], target[4096];
	ssize_t n;

	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	if ((n = readlink(link, target, sizeof target - 1)) < 4)
		return 0;
	target[n] = '\0';
	return strcmp(target + n - 4, "-wal") == 0;
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	const char *gate = getenv("JOBD_SYNC_GATE");
	int         rc, waited = 0;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (gate != NULL && gate_is_wal(fd)) {
		while (access(gate, F_OK) == 0) {
			if (!waited)
				gate_log("wait\n");
			waited = 1;
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		}
	}
	rc = real(fd);
	if (gate != NULL && gate_is_wal(fd))
		gate_log("synced\n");
	return rc;
}

static void
gate_write(int fd)
{
	const char *gate = getenv("JOBD_WRITE_GATE");
	int         waited = 0;

	if (gate == NULL || !gate_is_wal(fd))
		return;
	while (access(gate, F_OK) == 0) {
		if (!waited)
			gate_log("write wait\n");
		waited = 1;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	gate_write(fd);
	return real(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (real == NULL)
		real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite64");
	gate_write(fd);
	return real(fd, buf, n, off);
}

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
    struct addrinfo **res)
{
	static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
	const char *gate = getenv("JOBD_RESOLVE_GATE");
	size_t      n = node != NULL ? strlen(node) : 0;
	int         waited = 0;

	if (real == NULL)
		real = (int (*)(const char *, const char *, const struct addrinfo *,
		    struct addrinfo **))dlsym(RTLD_NEXT, "getaddrinfo");
	if (gate == NULL || n < 10 || strcmp(node + n - 10, ".gate.test") != 0)
		return real(node, service, hints, res);
	while (access(gate, F_OK) == 0) {
		if (!waited)
			gate_log("resolve wait\n");
		waited = 1;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	return EAI_NONAME;
}
