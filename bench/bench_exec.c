/* bench_exec.c: exec throughput of jobd beside the machine's raw spawn rate.
 *
 * Starts jobd (--max-exec M, default 2) on a free loopback port with a fresh
 * database, then per run:
 *   raw:  N times posix_spawn("/bin/true") + waitpid, M in flight;
 *   jobd: N exec tasks of /bin/true, created over C keep-alive connections
 *         (POST /v1/tasks, each answered after its commit), then one
 *         POST /v1/gather of all ids, answered once every task is committed
 *         succeeded.  The clock runs from the first create to that answer.
 *   Both in 4 slices of N/4 each, taking turns (raw jobd jobd raw raw ...),
 *   so that both meet the same machine: the CPU time a hypervisor steals
 *   for other guests changes from one second to the next.
 *   batch: the same N tasks created and awaited by one POST /v1/gather with
 *         inline "tasks" (one commit for all creates): the exec path with
 *         almost no HTTP cost, for comparison.
 * The client speaks HTTP/1.1 over raw sockets (as loadgen does): it shares
 * the machine's CPUs with jobd and the programs, and a create costs it a few
 * microseconds, where libcurl spent about 40 (over 5% of the CPU a task
 * needs in all), which the benchmark would have charged to jobd.
 * Prints both rates and their ratio per run and the medians, and beside them
 * where the CPU went: the programs' own CPU per run (our reaped children for
 * raw, jobd's for jobd), the machine's idle share during each side's slices
 * and the share stolen from it (/proc/stat's steal).  On
 * a machine with as many CPUs as programs in flight, an idle share above
 * raw's is time in which a slot waited for the daemon.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -o bench/bench_exec bench/bench_exec.c \
 *            $(pkg-config --cflags --libs jansson)
 * Run:   bench/bench_exec [-j daemon/jobd] [-n 2000] [-r 3] [-c 8] [-m 2] [-a flag]...
 *        (-a passes one more flag to jobd, e.g. -a --sync -a normal)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#define _GNU_SOURCE 1
#endif

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

extern char **environ;

struct bench {
	const char *jobd;
	int         n, runs, conns, max_exec;
	const char *extra[8];      /* more jobd flags (-a) */
	int         nextra;
	char        dir[64];
	pid_t       pid;
	int         port;
};

/* One keep-alive connection; in holds what was read and not yet framed. */
struct conn {
	int     fd;
	char   *in;
	size_t  len, cap;
	int     status;     /* of the last whole answer */
	char   *body;       /* its body, NUL-terminated, in in */
	size_t  used;       /* bytes of in the last answer took */
};

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "bench_exec: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --- jobd ------------------------------------------------------------- */

static void
bench_start_jobd(struct bench *b)
{
	char        db[128], log[128], maxexec[16], line[512];
	const char *argv[20] = { b->jobd, "--listen", "127.0.0.1:0", "--db", db, "--no-auth",
	    "--max-exec", maxexec };
	int         i;
	posix_spawn_file_actions_t fa;
	double      deadline = now() + 30;
	FILE       *f;

	strcpy(b->dir, "/tmp/bench-exec-XXXXXX");
	if (mkdtemp(b->dir) == NULL)
		die("mkdtemp: %s", strerror(errno));
	snprintf(db, sizeof db, "%s/jobd.db", b->dir);
	snprintf(log, sizeof log, "%s/jobd.log", b->dir);
	snprintf(maxexec, sizeof maxexec, "%d", b->max_exec);
	for (i = 0; i < b->nextra; i++)
		argv[8 + i] = b->extra[i];
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if ((errno = posix_spawn(&b->pid, b->jobd, &fa, NULL, (char **)argv, environ)) != 0)
		die("cannot start %s: %s", b->jobd, strerror(errno));
	posix_spawn_file_actions_destroy(&fa);
	while (b->port == 0) {
		if (now() > deadline || waitpid(b->pid, NULL, WNOHANG) != 0)
			die("jobd did not start; see %s", log);
		usleep(10000);
		if ((f = fopen(log, "r")) == NULL)
			continue;
		while (fgets(line, sizeof line, f) != NULL) {
			char *p = strstr(line, "listening on 127.0.0.1:");
			if (p != NULL)
				b->port = atoi(p + strlen("listening on 127.0.0.1:"));
		}
		fclose(f);
	}
}

static void
bench_stop_jobd(struct bench *b)
{
	const char *names[] = { "jobd.db", "jobd.db-wal", "jobd.db-shm", "jobd.log", NULL };
	char        path[128];
	int         i;

	kill(b->pid, SIGTERM);
	waitpid(b->pid, NULL, 0);
	for (i = 0; names[i] != NULL; i++) {
		snprintf(path, sizeof path, "%s/%s", b->dir, names[i]);
		unlink(path);
	}
	rmdir(b->dir);
}

/* --- raw -------------------------------------------------------------- */

static pid_t
bench_spawn_true(void)
{
	char *const argv[] = { (char *)"/bin/true", NULL };
	pid_t       pid;

	if ((errno = posix_spawn(&pid, "/bin/true", NULL, NULL, argv, environ)) != 0)
		die("posix_spawn: %s", strerror(errno));
	return pid;
}

/* posix_spawn + waitpid of /bin/true, inflight at a time: seconds for n. */
static double
bench_raw(int n, int inflight)
{
	double t0 = now();
	int    started = 0, done = 0, st;

	while (started < n && started < inflight) {
		bench_spawn_true();
		started++;
	}
	while (done < n) {
		if (waitpid(-1, &st, 0) == -1)
			die("waitpid: %s", strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("/bin/true failed");
		done++;
		if (started < n) {
			bench_spawn_true();
			started++;
		}
	}
	return now() - t0;
}

/* --- jobd over HTTP --------------------------------------------------- */

static void
conn_open(const struct bench *b, struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)b->port) };
	int                one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == -1)
		die("connect to jobd: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void
conn_write(struct conn *c, const char *p, size_t n)
{
	ssize_t w;

	for (; n > 0; p += w, n -= (size_t)w)
		if ((w = write(c->fd, p, n)) <= 0)
			die("write to jobd: %s", w < 0 ? strerror(errno) : "closed");
}

static void
conn_post(struct conn *c, const char *path, const char *body, size_t len)
{
	char hdr[256];
	int  n = snprintf(hdr, sizeof hdr, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", path, len);

	conn_write(c, hdr, (size_t)n);
	conn_write(c, body, len);
}

/* Drop the answer framed last, keep what came after it. */
static void
conn_consume(struct conn *c)
{
	memmove(c->in, c->in + c->used, c->len - c->used);
	c->len -= c->used;
	c->used = 0;
}

/* 1 when in holds a whole answer (status, body set), 0 if more is needed.
 * jobd always sends Content-Length. */
static int
conn_frame(struct conn *c)
{
	char  *end, *cl;
	size_t hlen, blen;

	if ((end = memmem(c->in, c->len, "\r\n\r\n", 4)) == NULL)
		return 0;
	*end = '\0';
	cl = strcasestr(c->in, "\r\nContent-Length:");
	*end = '\r';
	if (strncmp(c->in, "HTTP/1.1 ", 9) != 0 || cl == NULL)
		die("an answer without Content-Length: %.100s", c->in);
	hlen = (size_t)(end + 4 - c->in);
	blen = strtoul(cl + 17, NULL, 10);
	if (c->len < hlen + blen)
		return 0;
	c->status = atoi(c->in + 9);
	c->body = c->in + hlen;
	c->used = hlen + blen;
	return 1;
}

/* Read what is there (blocking if nothing is); in stays NUL-terminated. */
static void
conn_read(struct conn *c)
{
	ssize_t r;

	if (c->cap - c->len < 65536) {
		c->cap = c->cap * 2 + 65536;
		if ((c->in = realloc(c->in, c->cap)) == NULL)
			die("out of memory");
	}
	if ((r = read(c->fd, c->in + c->len, c->cap - c->len - 1)) <= 0)
		die("read from jobd: %s", r < 0 ? strerror(errno) : "closed");
	c->len += (size_t)r;
	c->in[c->len] = '\0';
}

/* The whole answer to one request, parsed; it must have status want. */
static json_t *
conn_answer(struct conn *c, int want)
{
	json_t *j;
	char    save;

	while (!conn_frame(c))
		conn_read(c);
	save = c->in[c->used];
	c->in[c->used] = '\0';
	if (c->status != want || (j = json_loads(c->body, 0, NULL)) == NULL)
		die("HTTP %d: %.300s", c->status, c->body);
	c->in[c->used] = save;
	conn_consume(c);
	return j;
}

/* Create n tasks over the connections, each with one create in flight;
 * their ids into ids[]. */
static void
bench_create(const struct bench *b, struct conn *conns, int n, json_t *ids)
{
	static const char body[] = "{\"kind\":\"exec\",\"exec\":{\"argv\":[\"/bin/true\"]}}";
	struct epoll_event ev[64];
	int                sent = 0, got = 0, ep, i, k, nev;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1: %s", strerror(errno));
	for (i = 0; i < b->conns && sent < n; i++, sent++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &conns[i] };

		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e);
		conn_post(&conns[i], "/v1/tasks", body, sizeof body - 1);
	}
	while (got < n) {
		if ((nev = epoll_wait(ep, ev, 64, 30000)) <= 0)
			die("creates: %s", nev == 0 ? "no answer in 30 s" : strerror(errno));
		for (k = 0; k < nev; k++) {
			struct conn *c = ev[k].data.ptr;
			const char  *id;

			conn_read(c);
			/* A 201's body is the task, and "id" comes first. */
			while (conn_frame(c)) {
				if (c->status != 201 || (id = strstr(c->body, "\"id\":")) == NULL)
					die("create: HTTP %d: %.300s", c->status, c->body);
				json_array_append_new(ids, json_integer(strtoll(id + 5, NULL, 10)));
				got++;
				conn_consume(c);
				if (sent < n) {
					conn_post(c, "/v1/tasks", body, sizeof body - 1);
					sent++;
				}
			}
		}
	}
	for (i = 0; i < b->conns && i < n; i++)
		epoll_ctl(ep, EPOLL_CTL_DEL, conns[i].fd, NULL);
	close(ep);
}

/* One POST of a JSON body on c, and its answer. */
static json_t *
bench_request(struct conn *c, const char *path, json_t *req, int want)
{
	char   *body = json_dumps(req, JSON_COMPACT);
	json_t *ans;

	if (body == NULL)
		die("out of memory");
	conn_post(c, path, body, strlen(body));
	ans = conn_answer(c, want);
	free(body);
	return ans;
}

/* Every one of the n states of a gather's answer must be "succeeded". */
static void
bench_check_states(const json_t *ans, int n)
{
	json_t *st;
	size_t  i;

	json_array_foreach(json_object_get(ans, "states"), i, st)
		if (strcmp(json_string_value(st), "succeeded") != 0)
			die("task %zu ended %s", i, json_string_value(st));
	if (i != (size_t)n)
		die("gather answered %zu states for %d tasks", i, n);
}

/* Wait for every id with one gather; all must have succeeded. */
static void
bench_gather(struct conn *c, json_t *ids)
{
	json_t *req = json_pack("{s:O, s:b}", "ids", ids, "return_exceptions", 1);
	json_t *ans = bench_request(c, "/v1/gather", req, 200);

	bench_check_states(ans, (int)json_array_size(ids));
	json_decref(ans);
	json_decref(req);
}

/* jobd's CPU time so far (user + system), in seconds: its own, or that of
 * its children it has reaped. */
static double
bench_jobd_cpu(const struct bench *b, int children)
{
	char               path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE              *f;
	int                field;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)b->pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return 0;
	/* to field 14 (utime), or 16 (cutime) */
	for (field = 2; field < (children ? 16 : 14) && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* The machine's idle, stolen and total CPU time so far (/proc/stat), in
 * ticks.  Steal is time the hypervisor ran something else while one of our
 * CPUs had work: on a shared VM it varies from run to run, and every figure
 * here is worse for it. */
struct bench_cpus {
	double idle, steal, total;
};

static struct bench_cpus
bench_cpus_now(void)
{
	struct bench_cpus  c = { 0, 0, 0 };
	unsigned long long v[10] = { 0 };
	FILE              *f = fopen("/proc/stat", "r");
	int                i;

	if (f == NULL)
		return c;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 4) {
		c.idle = (double)(v[3] + v[4]);        /* idle + iowait */
		c.steal = (double)v[7];
		for (i = 0; i < 8; i++)                /* guest time is in user already */
			c.total += (double)v[i];
	}
	fclose(f);
	return c;
}

/* What one side (raw or jobd) of a run has used so far, over its slices. */
struct bench_side {
	double            secs;           /* wall time */
	double            child_cpu;      /* CPU of the programs, s */
	double            jobd_cpu;       /* jobd's own CPU, s (jobd side) */
	struct bench_cpus m;              /* the machine's ticks */
};

static void
bench_side_add(struct bench_side *sd, struct bench_cpus c0, struct bench_cpus c1)
{
	sd->m.idle += c1.idle - c0.idle;
	sd->m.steal += c1.steal - c0.steal;
	sd->m.total += c1.total - c0.total;
}

/* Percent of the machine's time that was idle, or stolen, on that side. */
static double
bench_side_pct(const struct bench_side *sd, int steal)
{
	if (sd->m.total <= 0)
		return 0;
	return 100 * (steal ? sd->m.steal : sd->m.idle) / sd->m.total;
}

/* CPU seconds of our reaped children so far. */
static double
bench_children_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The same tasks created by one request (inline "tasks" of /v1/gather,
 * one commit) that also waits for them: the exec path without HTTP cost. */
static double
bench_jobd_batch(struct bench *b, struct conn *c)
{
	json_t *tasks = json_array(), *req, *ans;
	double  t0, t1;
	int     k;

	for (k = 0; k < b->n; k++)
		json_array_append_new(tasks, json_pack("{s:s, s:{s:[s]}}", "kind", "exec",
		    "exec", "argv", "/bin/true"));
	req = json_pack("{s:o, s:b}", "tasks", tasks, "return_exceptions", 1);
	t0 = now();
	ans = bench_request(c, "/v1/gather", req, 200);
	t1 = now();
	bench_check_states(ans, b->n);
	json_decref(ans);
	json_decref(req);
	return b->n / (t1 - t0);
}

/* n exec tasks created over the connections, then gathered: seconds. */
static double
bench_jobd(const struct bench *b, struct conn *conns, int n)
{
	json_t *ids = json_array();
	double  t0, t1;

	t0 = now();
	bench_create(b, conns, n, ids);
	bench_gather(&conns[0], ids);
	t1 = now();
	json_decref(ids);
	return t1 - t0;
}

/* One slice of n runs on one side, added to its account. */
static void
bench_slice(const struct bench *b, struct conn *conns, int jobd, int n, struct bench_side *sd)
{
	struct bench_cpus c0 = bench_cpus_now();
	double            ch0 = jobd ? bench_jobd_cpu(b, 1) : bench_children_cpu();
	double            own0 = jobd ? bench_jobd_cpu(b, 0) : 0;

	if (jobd) {
		sd->secs += bench_jobd(b, conns, n);
		sd->child_cpu += bench_jobd_cpu(b, 1) - ch0;
		sd->jobd_cpu += bench_jobd_cpu(b, 0) - own0;
	} else {
		sd->secs += bench_raw(n, b->max_exec);
		sd->child_cpu += bench_children_cpu() - ch0;
	}
	bench_side_add(sd, c0, bench_cpus_now());
}

/* A run: the raw loop and jobd take turns, BENCH_SLICES slices each, in the
 * order raw jobd jobd raw raw jobd ...  A shared machine's weather (another
 * guest's load, seen as steal) changes from second to second; in turns of a
 * fraction of a second both sides meet the same weather, and a drift over
 * the run falls on both alike. */
#define BENCH_SLICES 4

static void
bench_run(const struct bench *b, struct conn *conns, struct bench_side *raw, struct bench_side *jd)
{
	int k, side, n;

	memset(raw, 0, sizeof *raw);
	memset(jd, 0, sizeof *jd);
	for (k = 0; k < 2 * BENCH_SLICES; k++) {
		side = (k + 1) / 2 % 2;   /* 0 1 1 0 0 1 1 0 */
		n = b->n / BENCH_SLICES + (k / 2 < b->n % BENCH_SLICES);
		bench_slice(b, conns, side, n, side ? jd : raw);
	}
}

/* --- main ------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
	double s[64];

	memcpy(s, v, n * sizeof *v);
	qsort(s, n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int
main(int argc, char **argv)
{
	struct bench b = { .jobd = getenv("JOBD") ? getenv("JOBD") : "daemon/jobd",
	    .n = 2000, .runs = 3, .conns = 8, .max_exec = 2 };
	struct conn *conns;
	double       raw[64], jd[64], ratio[64], cpu[64], batch[64];
	double       rawch[64], jdch[64], rawidle[64], jdidle[64], rawsteal[64], jdsteal[64];
	int          c, i;

	while ((c = getopt(argc, argv, "a:j:n:r:c:m:")) != -1) {
		switch (c) {
		case 'a':
			if (b.nextra == 8)
				die("too many -a");
			b.extra[b.nextra++] = optarg;
			break;
		case 'j': b.jobd = optarg; break;
		case 'n': b.n = atoi(optarg); break;
		case 'r': b.runs = atoi(optarg); break;
		case 'c': b.conns = atoi(optarg); break;
		case 'm': b.max_exec = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: bench_exec [-a jobd-flag]... [-j jobd] [-n N] [-r runs] [-c conns] [-m max_exec]\n");
			return 2;
		}
	}
	if (b.n < BENCH_SLICES || b.runs < 1 || b.runs > 64 || b.conns < 1 || b.max_exec < 1)
		die("bad arguments (-n at least %d: a run takes turns in that many slices)",
		    BENCH_SLICES);
	bench_start_jobd(&b);
	if ((conns = calloc(b.conns, sizeof *conns)) == NULL)
		die("out of memory");
	for (i = 0; i < b.conns; i++)
		conn_open(&b, &conns[i]);
	printf("exec throughput: %d runs of /bin/true, %d in flight (jobd --max-exec %d, "
	    "%d connections), %ld CPUs\n\n", b.n, b.max_exec, b.max_exec, b.conns,
	    sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-6s %12s %12s %7s %14s %12s %14s %11s %11s\n", "run", "raw spawn/s", "jobd task/s",
	    "ratio", "jobd CPU/task", "batch task/s", "child CPU/task", "idle", "steal");
	printf("%-6s %12s %12s %7s %14s %12s %14s %11s %11s\n", "", "", "", "", "", "", "raw / jobd",
	    "raw / jobd", "raw / jobd");
	for (i = 0; i < b.runs; i++) {
		struct bench_side rs, js;

		bench_run(&b, conns, &rs, &js);
		raw[i] = b.n / rs.secs;
		jd[i] = b.n / js.secs;
		ratio[i] = jd[i] / raw[i];
		cpu[i] = js.jobd_cpu / b.n * 1e6;
		rawch[i] = rs.child_cpu / b.n * 1e6;
		jdch[i] = js.child_cpu / b.n * 1e6;
		rawidle[i] = bench_side_pct(&rs, 0);
		jdidle[i] = bench_side_pct(&js, 0);
		rawsteal[i] = bench_side_pct(&rs, 1);
		jdsteal[i] = bench_side_pct(&js, 1);
		batch[i] = bench_jobd_batch(&b, &conns[0]);
		printf("%-6d %12.0f %12.0f %7.2f %11.0f us %12.0f %6.0f / %3.0f us %3.0f%% / %2.0f%%"
		    " %3.0f%% / %2.0f%%\n", i + 1, raw[i], jd[i], ratio[i], cpu[i], batch[i], rawch[i],
		    jdch[i], rawidle[i], jdidle[i], rawsteal[i], jdsteal[i]);
		fflush(stdout);
	}
	printf("%-6s %12.0f %12.0f %7.2f %11.0f us %12.0f %6.0f / %3.0f us %3.0f%% / %2.0f%%"
	    " %3.0f%% / %2.0f%%\n", "median", median(raw, b.runs), median(jd, b.runs),
	    median(ratio, b.runs), median(cpu, b.runs), median(batch, b.runs), median(rawch, b.runs),
	    median(jdch, b.runs), median(rawidle, b.runs), median(jdidle, b.runs),
	    median(rawsteal, b.runs), median(jdsteal, b.runs));
	printf("\nratio = jobd task/s (created over keep-alive connections, then gathered)"
	    " / raw spawn/s; target >= 0.7\n"
	    "child CPU/task: the programs' own CPU per run (as reaped); idle: the machine's\n"
	    "idle share while the raw loop, or the jobd run (creates and gather), went on;\n"
	    "steal: the share of the machine's CPU time the hypervisor gave to others then\n");
	for (i = 0; i < b.conns; i++) {
		close(conns[i].fd);
		free(conns[i].in);
	}
	free(conns);
	bench_stop_jobd(&b);
	return 0;
}
