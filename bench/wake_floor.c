/* wake_floor.c: B4's floor, the wake-up latency no daemon can beat on this
 * machine at this moment.
 *
 * B4 times each sleep task from its scheduled end to its parked client's
 * receiving the answer.  Whatever jobd does, that path holds a timer's
 * wake-up, a flush of the disk (the end is committed and synced before it is
 * reported) and a hop over loopback TCP into another process, which must be
 * woken too.  This program does only that, at B4's rate: a child wakes at
 * absolute moments --interval ms apart, overwrites a 4 KiB page of a file
 * (as an append to a WAL of steady size does) and fdatasyncs it, then writes
 * 4 bytes to a TCP connection; the parent, blocked in read, takes the time.
 * On a quiet machine this is ~0.3 ms at p99; on a shared VM its tail moves
 * with the host from one minute to the next, and so does B4's.
 *
 * usage: wake_floor --file PATH [--total N] [--interval MS]
 * Prints one line: floor_p50_ms= floor_p99_ms= floor_max_ms= (and n=).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_PAGES 256   /* the file's size in pages: 1 MiB, written once before */

static void
die(const char *what)
{
	fprintf(stderr, "wake_floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A connected pair over loopback TCP, as jobd and its clients talk. */
static void
tcp_pair(int *a, int *b)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t          len = sizeof sin;
	int                l, one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof sin) == -1 || listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&sin, &len) == -1)
		die("listen");
	if ((*a = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(*a, (struct sockaddr *)&sin, sizeof sin) == -1 || (*b = accept(l, NULL, NULL)) == -1)
		die("connect");
	setsockopt(*a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	close(l);
}

/* The child: at base + i * interval, write a page, flush, send i. */
static void
floor_sender(int s, const char *path, long total, int64_t base, int64_t interval)
{
	static char page[4096];
	int         fd, i;

	memset(page, 'w', sizeof page);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		die(path);
	for (i = 0; i < FLOOR_PAGES; i++)
		if (pwrite(fd, page, sizeof page, (off_t)i * (off_t)sizeof page) != (ssize_t)sizeof page)
			die("write");
	if (fsync(fd) == -1)
		die("fsync");
	for (i = 0; i < total; i++) {
		int64_t         at = base + i * interval;
		struct timespec ts = { (time_t)(at / 1000000000), (long)(at % 1000000000) };
		int32_t         n = i;

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		if (pwrite(fd, page, sizeof page, (off_t)(i % FLOOR_PAGES) * (off_t)sizeof page) == -1 ||
		    fdatasync(fd) == -1)
			die("write and flush");
		if (write(s, &n, sizeof n) != (ssize_t)sizeof n)
			die("send");
	}
	close(fd);
	unlink(path);
	_exit(0);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "total", required_argument, NULL, 'n' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	long        total = 10000, got = 0;
	double      interval_ms = 1, *lat;
	int64_t     base, interval;
	int         c, a, b, status;
	pid_t       pid;
	int32_t     n;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 'n': total = strtol(optarg, NULL, 10); break;
		case 'i': interval_ms = strtod(optarg, NULL); break;
		default: goto usage;
		}
	}
	if (path == NULL || total < 1 || !(interval_ms > 0))
		goto usage;
	if ((lat = calloc((size_t)total, sizeof *lat)) == NULL)
		die("calloc");
	tcp_pair(&a, &b);
	interval = (int64_t)(interval_ms * 1e6);
	base = now_ns() + 200000000;   /* the child is set up by then */
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(b);
		floor_sender(a, path, total, base, interval);
	}
	close(a);
	while (got < total && read(b, &n, sizeof n) == (ssize_t)sizeof n)
		lat[got++] = (double)(now_ns() - (base + n * interval)) / 1e6;
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    got != total) {
		fprintf(stderr, "wake_floor: the sender failed after %ld of %ld\n", got, total);
		return 1;
	}
	qsort(lat, (size_t)total, sizeof *lat, cmp_double);
	printf("n=%ld floor_p50_ms=%.3f floor_p99_ms=%.3f floor_max_ms=%.3f\n", total,
	    lat[(total + 1) / 2 - 1], lat[(total * 99 + 99) / 100 - 1], lat[total - 1]);
	free(lat);
	return 0;
usage:
	fputs("usage: wake_floor --file PATH [--total N] [--interval MS]\n", stderr);
	return 2;
}
