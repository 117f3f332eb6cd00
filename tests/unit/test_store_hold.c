/* test_store_hold.c: an answer is held for a commit only while that commit
 * is not yet durable.
 *
 * The writer thread asks the syncer for a sync before it wakes the loop, so
 * the loop can hear "durable up to N" before it takes batch N back from the
 * writer: its tasks still say "in flight" then.  An answer held for N at
 * that moment was never released (httpd_durable had run for N already): a
 * GET of a task just committed hung, seen about once in ten runs of
 * test_durability's WalTest.  store_durable_cb now takes the batch back
 * before it releases anything, so durable no longer passes committed; this
 * still builds that state on a real store (a database in a temporary
 * directory, with its writer and syncer threads) and asks what an answer
 * about such a task must wait for, so that the hold stays right on its own. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "kind.h"
#include "store_impl.h"
#include "tap.h"
#include "task.h"

static char dir[] = "/tmp/test_store_hold.XXXXXX";

int
main(void)
{
	struct event_base *base = event_base_new();
	struct store      *s;
	struct task       *t;
	struct err         e;
	char               path[256];
	uint64_t           launched, committed, durable, need;

	if (base == NULL || mkdtemp(dir) == NULL)
		bail_out("setup: %s", base == NULL ? "event_base_new" : "mkdtemp");
	snprintf(path, sizeof path, "%s/jobd.db", dir);
	if ((s = store_open(base, path, 1, 0, &e)) == NULL)
		bail_out("store_open: %s", e.msg);
	launched = s->launched, committed = s->committed, durable = s->durable, need = s->need;
	t = task_new(1, &kind_sleep_ops);

	/* Batch 7 (t's create) written and synced; the loop has heard of the
	 * sync, not yet of the batch. */
	s->launched = 7, s->committed = 6, s->durable = 7;
	t->inflight = 1, t->is_new = 1;
	is_int(store_hold_task(s, t), 0, "in flight in a batch already durable: answered at once");

	s->durable = 6;
	is_int(store_hold_task(s, t), 7, "in flight in a batch not yet durable: held for that batch");
	ok(s->need >= 7, "and the store knows someone waits for batch 7");

	t->inflight = 0, t->dirty = 1;
	s->durable = 7;
	is_int(store_hold_task(s, t), 8, "staged for the next batch: held for it");

	t->dirty = 0, t->is_new = 0, t->commit_seq = 7;
	is_int(store_hold_task(s, t), 0, "committed in a durable batch: answered at once");
	t->commit_seq = 8, s->committed = 8, s->launched = 8;
	is_int(store_hold_task(s, t), 8, "committed in a batch not yet durable: held for it");

	s->launched = launched, s->committed = committed, s->durable = durable, s->need = need;
	task_free(t);
	store_close(s);
	event_base_free(base);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		diag("could not remove %s", dir);
	return done_testing();
}
