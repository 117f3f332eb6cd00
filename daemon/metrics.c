/* metrics.c: counters and histograms for GET /metrics (Prometheus text). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kind.h"
#include "log.h"
#include "metrics.h"

#define METRICS_KINDS 8

static const double metrics_buckets[] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600,
};
#define METRICS_NB (sizeof metrics_buckets / sizeof metrics_buckets[0])

struct histogram {
	uint64_t counts[METRICS_NB];   /* per bucket, not cumulative */
	uint64_t count;
	double   sum;
};

struct metrics {
	uint64_t         requests[6];  /* by status class: 1xx .. 5xx, [0] other */
	struct histogram request_time;
	uint64_t         created[METRICS_KINDS];
	uint64_t         finished[METRICS_KINDS][TASK_NSTATES];
	struct histogram run_time[METRICS_KINDS];
	uint64_t         commits, committed_rows;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof *m);

	if (m == NULL)
		fatal("out of memory");
	return m;
}

void
metrics_free(struct metrics *m)
{
	free(m);
}

static void
metrics_observe(struct histogram *h, double v)
{
	size_t i;

	for (i = 0; i < METRICS_NB && v > metrics_buckets[i]; i++)
		;
	if (i < METRICS_NB)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

static size_t
metrics_kind(const struct kind_ops *k)
{
	const struct kind_ops *const *p;
	size_t i = 0;

	for (p = kind_all(); *p != NULL && *p != k; p++)
		i++;
	return i < METRICS_KINDS ? i : METRICS_KINDS - 1;
}

void
metrics_request(struct metrics *m, unsigned status, double seconds)
{
	m->requests[status >= 100 && status < 600 ? status / 100 : 0]++;
	metrics_observe(&m->request_time, seconds);
}

void
metrics_commit(struct metrics *m, unsigned n)
{
	m->commits++;
	m->committed_rows += n;
}

void
metrics_task_created(struct metrics *m, const struct task *t)
{
	m->created[metrics_kind(t->kind)]++;
}

void
metrics_task_finished(struct metrics *m, const struct task *t)
{
	size_t k = metrics_kind(t->kind);

	m->finished[k][t->state]++;
	if (t->started_at != 0)
		metrics_observe(&m->run_time[k], (double)(t->finished_at - t->started_at) / 1000);
}

static void
metrics_histogram(FILE *f, const char *name, const char *labels, const struct histogram *h)
{
	uint64_t cum = 0;
	size_t   i;

	for (i = 0; i < METRICS_NB; i++) {
		cum += h->counts[i];
		fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
		    metrics_buckets[i], (unsigned long long)cum);
	}
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
	    (unsigned long long)h->count);
	fprintf(f, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", h->sum);
	fprintf(f, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
	    (unsigned long long)h->count);
}

void
metrics_render(const struct metrics *m, FILE *f)
{
	static const char *const classes[] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };
	const struct kind_ops *const *k;
	char   labels[64];
	size_t i;
	int    s;

	fputs("# HELP jobd_http_requests_total HTTP requests answered, by status class.\n"
	    "# TYPE jobd_http_requests_total counter\n", f);
	for (i = 0; i < 6; i++)
		fprintf(f, "jobd_http_requests_total{code=\"%s\"} %llu\n", classes[i],
		    (unsigned long long)m->requests[i]);
	fputs("# HELP jobd_http_request_duration_seconds Time from a request's headers to its answer.\n"
	    "# TYPE jobd_http_request_duration_seconds histogram\n", f);
	metrics_histogram(f, "jobd_http_request_duration_seconds", "", &m->request_time);
	fputs("# HELP jobd_commits_total Database transactions committed.\n"
	    "# TYPE jobd_commits_total counter\n", f);
	fprintf(f, "jobd_commits_total %llu\n", (unsigned long long)m->commits);
	fputs("# HELP jobd_committed_task_rows_total Task rows written by those commits.\n"
	    "# TYPE jobd_committed_task_rows_total counter\n", f);
	fprintf(f, "jobd_committed_task_rows_total %llu\n", (unsigned long long)m->committed_rows);
	fputs("# HELP jobd_tasks_created_total Tasks created since start, by kind.\n"
	    "# TYPE jobd_tasks_created_total counter\n", f);
	for (k = kind_all(), i = 0; *k != NULL; k++, i++)
		fprintf(f, "jobd_tasks_created_total{kind=\"%s\"} %llu\n", (*k)->name,
		    (unsigned long long)m->created[i]);
	fputs("# HELP jobd_tasks_finished_total Tasks finished since start, by kind and final state.\n"
	    "# TYPE jobd_tasks_finished_total counter\n", f);
	for (k = kind_all(), i = 0; *k != NULL; k++, i++)
		for (s = TASK_SUCCEEDED; s < TASK_NSTATES; s++)
			fprintf(f, "jobd_tasks_finished_total{kind=\"%s\",state=\"%s\"} %llu\n",
			    (*k)->name, task_state_name(s), (unsigned long long)m->finished[i][s]);
	fputs("# HELP jobd_task_run_duration_seconds Run time of finished tasks, by kind.\n"
	    "# TYPE jobd_task_run_duration_seconds histogram\n", f);
	for (k = kind_all(), i = 0; *k != NULL; k++, i++) {
		snprintf(labels, sizeof labels, "kind=\"%s\"", (*k)->name);
		metrics_histogram(f, "jobd_task_run_duration_seconds", labels, &m->run_time[i]);
	}
}
