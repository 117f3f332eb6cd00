/* api_service.c: /healthz and /metrics. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "httpd.h"
#include "jobd.h"
#include "sched.h"
#include "task.h"
#include "waiter.h"

void
api_healthz(struct api_call *c)
{
	httpd_reply_json(c->r, 200, json_pack("{s:s}", "status", "ok"));
}

void
api_metrics(struct api_call *c)
{
	const struct sched_stats *st = sched_stats(c->jd->sched);
	char  *buf = NULL;
	size_t len = 0;
	FILE  *f = open_memstream(&buf, &len);
	int    i;

	if (f == NULL) {
		httpd_reply_error(c->r, 500, "internal", NULL, "out of memory");
		return;
	}
	fputs("# HELP jobd_tasks_active Tasks pending or running now.\n"
	    "# TYPE jobd_tasks_active gauge\n", f);
	for (i = TASK_PENDING; i <= TASK_RUNNING; i++)
		fprintf(f, "jobd_tasks_active{state=\"%s\"} %lld\n", task_state_name(i),
		    (long long)st->active[i]);
	fputs("# HELP jobd_tasks_created_total Tasks created since start.\n"
	    "# TYPE jobd_tasks_created_total counter\n", f);
	fprintf(f, "jobd_tasks_created_total %lld\n", (long long)st->created);
	fputs("# HELP jobd_tasks_finished_total Tasks finished since start, by final state.\n"
	    "# TYPE jobd_tasks_finished_total counter\n", f);
	for (i = TASK_SUCCEEDED; i < TASK_NSTATES; i++)
		fprintf(f, "jobd_tasks_finished_total{state=\"%s\"} %lld\n", task_state_name(i),
		    (long long)st->finished[i]);
	fputs("# HELP jobd_waiting_clients Requests parked waiting for tasks.\n"
	    "# TYPE jobd_waiting_clients gauge\n", f);
	fprintf(f, "jobd_waiting_clients %zu\n", waiters_count(c->jd->waiters));
	fclose(f);
	httpd_reply_bytes(c->r, 200, "text/plain; version=0.0.4", buf, len);
}
