/* api_service.c: /healthz and /metrics. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "httpd.h"
#include "jobd.h"
#include "kind.h"
#include "metrics.h"
#include "sched.h"
#include "store.h"
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
	const struct kind_ops *const *k;
	char  *buf = NULL;
	size_t len = 0;
	FILE  *f = open_memstream(&buf, &len);
	int    s;

	if (f == NULL) {
		httpd_reply_error(c->r, 500, "internal", NULL, "out of memory");
		return;
	}
	fputs("# HELP jobd_tasks Active tasks, by kind and state.\n"
	    "# TYPE jobd_tasks gauge\n", f);
	for (k = kind_all(); *k != NULL; k++)
		for (s = TASK_PENDING; s <= TASK_RUNNING; s++)
			fprintf(f, "jobd_tasks{kind=\"%s\",state=\"%s\"} %lld\n", (*k)->name,
			    task_state_name(s), (long long)sched_count(c->jd->sched, *k, s));
	fputs("# HELP jobd_tasks_in_memory Active tasks held in memory; the rest wait on disk.\n"
	    "# TYPE jobd_tasks_in_memory gauge\n", f);
	fprintf(f, "jobd_tasks_in_memory %lld\n", (long long)sched_in_memory(c->jd->sched));
	fputs("# HELP jobd_waiting_clients Requests parked waiting for tasks.\n"
	    "# TYPE jobd_waiting_clients gauge\n", f);
	fprintf(f, "jobd_waiting_clients %zu\n", waiters_count(c->jd->waiters));
	fputs("# HELP jobd_wal_syncs_total Flushes of the WAL to disk that made commits durable.\n"
	    "# TYPE jobd_wal_syncs_total counter\n", f);
	fprintf(f, "jobd_wal_syncs_total %llu\n", (unsigned long long)store_syncs(c->jd->store));
	metrics_render(c->jd->metrics, f);
	fclose(f);
	httpd_reply_bytes(c->r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
}
