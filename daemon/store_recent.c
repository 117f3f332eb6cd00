/* store_recent.c: the last tasks to finish, kept in memory a little longer.
 *
 * A finished task leaves memory once its last row is committed: the
 * database holds it.  But the client that waited for it usually asks for it
 * at once (a result after a create, a GET after a wait), and reading it back
 * from SQLite was a tenth of the loop's time under B2.  So its memory copy
 * goes here instead of being freed, and store_get answers from it.
 *
 * The cache is direct-mapped by id (a newer task evicts an older one in its
 * slot), so a lookup costs one compare and the memory it holds is bounded:
 * STORE_RECENT tasks, each with at most STORE_RECENT_BYTES of JSON strings;
 * a bigger one (an exec's output, an HTTP body) is freed as before.  A
 * finished task never changes again, except by a delete, which drops it
 * once committed (until then the row is there too). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "log.h"
#include "store_impl.h"

#define STORE_RECENT       1024     /* a power of two */
#define STORE_RECENT_BYTES 4096

static struct task **
store_recent_slot(struct store *s, int64_t id)
{
	return &s->recent[(uint64_t)id & (STORE_RECENT - 1)];
}

void
store_recent_keep(struct store *s, struct task *t)
{
	struct task **slot;
	size_t        budget = STORE_RECENT_BYTES;

	if (ju_cost(t->spec, &budget) < 0 || ju_cost(t->result, &budget) < 0 ||
	    ju_cost(t->error, &budget) < 0) {
		task_free(t);
		return;
	}
	if (s->recent == NULL && (s->recent = calloc(STORE_RECENT, sizeof *s->recent)) == NULL)
		fatal("out of memory");
	/* What a read of its row gives: the raw output is read on its own. */
	free(t->out[0].data);
	free(t->out[1].data);
	memset(t->out, 0, sizeof t->out);
	slot = store_recent_slot(s, t->id);
	task_free(*slot);
	*slot = t;
}

/* A copy the caller owns, or NULL. */
struct task *
store_recent_get(struct store *s, int64_t id)
{
	struct task *t;

	if (s->recent == NULL || (t = *store_recent_slot(s, id)) == NULL || t->id != id)
		return NULL;
	return task_copy(t);
}

void
store_recent_drop(struct store *s, int64_t id)
{
	struct task **slot;

	if (s->recent == NULL || *(slot = store_recent_slot(s, id)) == NULL || (*slot)->id != id)
		return;
	task_free(*slot);
	*slot = NULL;
}

void
store_recent_clear(struct store *s)
{
	size_t i;

	if (s->recent == NULL)
		return;
	for (i = 0; i < STORE_RECENT; i++)
		task_free(s->recent[i]);
	free(s->recent);
	s->recent = NULL;
}
