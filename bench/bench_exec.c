/* bench_exec.c: exec throughput of jobd beside the machine's raw spawn rate.
 *
 * Starts jobd (--max-exec M, default 2) on a free loopback port with a fresh
 * database, then per run:
 *   raw:  N times posix_spawn("/bin/true") + waitpid, M in flight;
 *   jobd: N exec tasks of /bin/true, created over C keep-alive connections
 *         (POST /v1/tasks, each answered after its commit), then one
 *         POST /v1/gather of all ids, answered once every task is committed
 *         succeeded.  The clock runs from the first create to that answer.
 *   batch: the same N tasks created and awaited by one POST /v1/gather with
 *         inline "tasks" (one commit for all creates): the exec path with
 *         almost no HTTP cost, for comparison.
 * Prints both rates and their ratio per run and the medians, and beside them
 * where the CPU went: the programs' own CPU per run (our reaped children for
 * raw, jobd's for jobd) and the machine's idle share during each phase.  On
 * a machine with as many CPUs as programs in flight, an idle share above
 * raw's is time in which a slot waited for the daemon.
 *
 * Build: cc -std=c11 -O2 -Wall -Wextra -o bench/bench_exec bench/bench_exec.c \
 *            $(pkg-config --cflags --libs libcurl jansson)
 * Run:   bench/bench_exec [-j daemon/jobd] [-n 2000] [-r 3] [-c 8] [-m 2] [-a flag]...
 *        (-a passes one more flag to jobd, e.g. -a --sync -a normal)
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#define _GNU_SOURCE 1
#endif

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
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

#include <curl/curl.h>
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

struct conn {
	CURL   *h;
	char   *buf;
	size_t  len;
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

/* posix_spawn + waitpid of /bin/true, inflight at a time: runs per second. */
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
	return n / (now() - t0);
}

/* --- jobd over HTTP --------------------------------------------------- */

static size_t
bench_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct conn *c = arg;
	size_t       n = size * nmemb;

	if ((c->buf = realloc(c->buf, c->len + n + 1)) == NULL)
		die("out of memory");
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return n;
}

static void
bench_post(struct bench *b, struct conn *c, const char *path, const char *body,
    struct curl_slist *hdrs)
{
	char url[128];

	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", b->port, path);
	c->len = 0;
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->h, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, bench_write_cb);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
}

static json_t *
bench_answer(struct conn *c, long want)
{
	long    status = 0;
	json_t *j;

	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != want || (j = json_loadb(c->buf, c->len, 0, NULL)) == NULL)
		die("HTTP %ld: %.300s", status, c->len ? c->buf : "");
	return j;
}

/* Create n tasks over nconn keep-alive connections; ids into ids[]. */
static void
bench_create(struct bench *b, CURLM *m, struct conn *conns, json_t *ids, struct curl_slist *hdrs)
{
	const char *body = "{\"kind\":\"exec\",\"exec\":{\"argv\":[\"/bin/true\"]}}";
	int         sent = 0, got = 0, running, i, left;
	CURLMsg    *msg;
	json_t     *t;

	for (i = 0; i < b->conns && sent < b->n; i++, sent++) {
		bench_post(b, &conns[i], "/v1/tasks", body, hdrs);
		curl_multi_add_handle(m, conns[i].h);
	}
	while (got < b->n) {
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct conn *c = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			if (msg->data.result != CURLE_OK)
				die("create: %s", curl_easy_strerror(msg->data.result));
			curl_multi_remove_handle(m, c->h);
			t = bench_answer(c, 201);
			json_array_append(ids, json_object_get(t, "id"));
			json_decref(t);
			got++;
			if (sent < b->n) {
				bench_post(b, c, "/v1/tasks", body, hdrs);
				curl_multi_add_handle(m, c->h);
				sent++;
			}
		}
		if (got < b->n)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
}

/* Wait for every id with one gather; all must have succeeded. */
static void
bench_gather(struct bench *b, struct conn *c, json_t *ids, struct curl_slist *hdrs)
{
	json_t *req = json_pack("{s:O, s:b}", "ids", ids, "return_exceptions", 1), *ans, *st;
	char   *body = json_dumps(req, JSON_COMPACT);
	size_t  i;
	CURLcode rc;

	bench_post(b, c, "/v1/gather", body, hdrs);
	if ((rc = curl_easy_perform(c->h)) != CURLE_OK)
		die("gather: %s", curl_easy_strerror(rc));
	ans = bench_answer(c, 200);
	json_array_foreach(json_object_get(ans, "states"), i, st)
		if (strcmp(json_string_value(st), "succeeded") != 0)
			die("task %zu ended %s", i, json_string_value(st));
	if (i != (size_t)b->n)
		die("gather answered %zu states for %d tasks", i, b->n);
	json_decref(ans);
	json_decref(req);
	free(body);
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

/* The machine's idle and total CPU time so far (/proc/stat), in ticks. */
struct bench_cpus {
	double idle, total;
};

static struct bench_cpus
bench_cpus_now(void)
{
	struct bench_cpus  c = { 0, 0 };
	unsigned long long v[10] = { 0 };
	FILE              *f = fopen("/proc/stat", "r");
	int                i;

	if (f == NULL)
		return c;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 4) {
		c.idle = (double)(v[3] + v[4]);        /* idle + iowait */
		for (i = 0; i < 8; i++)                /* guest time is in user already */
			c.total += (double)v[i];
	}
	fclose(f);
	return c;
}

/* Percent of the machine idle since c0. */
static double
bench_idle_since(struct bench_cpus c0)
{
	struct bench_cpus c1 = bench_cpus_now();

	return c1.total > c0.total ? 100 * (c1.idle - c0.idle) / (c1.total - c0.total) : 0;
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
	struct curl_slist *hdrs = NULL;
	json_t            *tasks = json_array(), *req, *ans, *st;
	char              *body;
	double             t0, t1;
	size_t             i;
	CURLcode           rc;
	int                k;

	for (k = 0; k < b->n; k++)
		json_array_append_new(tasks, json_pack("{s:s, s:{s:[s]}}", "kind", "exec",
		    "exec", "argv", "/bin/true"));
	req = json_pack("{s:o, s:b}", "tasks", tasks, "return_exceptions", 1);
	body = json_dumps(req, JSON_COMPACT);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	t0 = now();
	bench_post(b, c, "/v1/gather", body, hdrs);
	if ((rc = curl_easy_perform(c->h)) != CURLE_OK)
		die("gather: %s", curl_easy_strerror(rc));
	ans = bench_answer(c, 200);
	t1 = now();
	json_array_foreach(json_object_get(ans, "states"), i, st)
		if (strcmp(json_string_value(st), "succeeded") != 0)
			die("task %zu ended %s", i, json_string_value(st));
	if (i != (size_t)b->n)
		die("gather answered %zu states for %d tasks", i, b->n);
	json_decref(ans);
	json_decref(req);
	free(body);
	curl_slist_free_all(hdrs);
	return b->n / (t1 - t0);
}

static double
bench_jobd(struct bench *b, struct conn *conns)
{
	struct curl_slist *hdrs = NULL;
	CURLM             *m = curl_multi_init();
	json_t            *ids = json_array();
	double             t0, t1;

	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)b->conns);
	t0 = now();
	bench_create(b, m, conns, ids, hdrs);
	bench_gather(b, &conns[0], ids, hdrs);
	t1 = now();
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	json_decref(ids);
	return b->n / (t1 - t0);
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
	double       raw[64], jd[64], ratio[64], cpu[64], batch[64], cpu0;
	double       rawch[64], jdch[64], rawidle[64], jdidle[64];
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
	if (b.n < 1 || b.runs < 1 || b.runs > 64 || b.conns < 1 || b.max_exec < 1)
		die("bad arguments");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	bench_start_jobd(&b);
	if ((conns = calloc(b.conns, sizeof *conns)) == NULL)
		die("out of memory");
	for (i = 0; i < b.conns; i++) {
		conns[i].h = curl_easy_init();
		curl_easy_setopt(conns[i].h, CURLOPT_PRIVATE, &conns[i]);
	}
	printf("exec throughput: %d runs of /bin/true, %d in flight (jobd --max-exec %d, "
	    "%d connections), %ld CPUs\n\n", b.n, b.max_exec, b.max_exec, b.conns,
	    sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-6s %12s %12s %7s %14s %12s %14s %11s\n", "run", "raw spawn/s", "jobd task/s",
	    "ratio", "jobd CPU/task", "batch task/s", "child CPU/task", "idle");
	printf("%-6s %12s %12s %7s %14s %12s %14s %11s\n", "", "", "", "", "", "", "raw / jobd",
	    "raw / jobd");
	for (i = 0; i < b.runs; i++) {
		struct bench_cpus c0 = bench_cpus_now();
		double            ch0 = bench_children_cpu();

		raw[i] = bench_raw(b.n, b.max_exec);
		rawch[i] = (bench_children_cpu() - ch0) / b.n * 1e6;
		rawidle[i] = bench_idle_since(c0);
		cpu0 = bench_jobd_cpu(&b, 0);
		ch0 = bench_jobd_cpu(&b, 1);
		c0 = bench_cpus_now();
		jd[i] = bench_jobd(&b, conns);
		jdidle[i] = bench_idle_since(c0);
		cpu[i] = (bench_jobd_cpu(&b, 0) - cpu0) / b.n * 1e6;
		jdch[i] = (bench_jobd_cpu(&b, 1) - ch0) / b.n * 1e6;
		ratio[i] = jd[i] / raw[i];
		batch[i] = bench_jobd_batch(&b, &conns[0]);
		printf("%-6d %12.0f %12.0f %7.2f %11.0f us %12.0f %6.0f / %3.0f us %3.0f%% / %2.0f%%\n",
		    i + 1, raw[i], jd[i], ratio[i], cpu[i], batch[i], rawch[i], jdch[i], rawidle[i],
		    jdidle[i]);
		fflush(stdout);
	}
	printf("%-6s %12.0f %12.0f %7.2f %11.0f us %12.0f %6.0f / %3.0f us %3.0f%% / %2.0f%%\n",
	    "median", median(raw, b.runs), median(jd, b.runs), median(ratio, b.runs),
	    median(cpu, b.runs), median(batch, b.runs), median(rawch, b.runs), median(jdch, b.runs),
	    median(rawidle, b.runs), median(jdidle, b.runs));
	printf("\nratio = jobd task/s (created over keep-alive connections, then gathered)"
	    " / raw spawn/s; target >= 0.7\n"
	    "child CPU/task: the programs' own CPU per run (as reaped); idle: the machine's\n"
	    "idle share while the raw loop, or the jobd run (creates and gather), went on\n");
	for (i = 0; i < b.conns; i++) {
		curl_easy_cleanup(conns[i].h);
		free(conns[i].buf);
	}
	free(conns);
	bench_stop_jobd(&b);
	curl_global_cleanup();
	return 0;
}
