/* metrics.h: counters and histograms for GET /metrics (Prometheus text). */
#ifndef METRICS_H
#define METRICS_H

#include <stdio.h>

#include "task.h"

struct metrics *metrics_new(void);
void            metrics_free(struct metrics *m);
void            metrics_request(struct metrics *m, unsigned status, double seconds);
/* One commit of the store, holding n task rows. */
void            metrics_commit(struct metrics *m, unsigned n);
void            metrics_task_created(struct metrics *m, const struct task *t);
void            metrics_task_finished(struct metrics *m, const struct task *t);
/* Everything, with the live gauges the caller knows (active tasks, waiters). */
void            metrics_render(const struct metrics *m, FILE *f);

#endif
