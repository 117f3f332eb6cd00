/* loop_prio.h: the event loop's two priorities (main.c sets them up).
 *
 * What frees a stage of the commit pipeline or a program's slot runs
 * first: the writer's and the syncer's completions (they release answers
 * and let the next batch go), a program's exit (its slot's next program
 * waits for it) and the cut of the batch those stage.  Everything else --
 * HTTP, timers, a program's output -- runs at the default, after them.
 * Only one-shot events may be first: one that can fire again at once (a
 * pipe a program keeps writing into) would starve the HTTP work behind it. */
#ifndef LOOP_PRIO_H
#define LOOP_PRIO_H

#define LOOP_PRIO_FIRST 0
#define LOOP_PRIO_N     2   /* the default for new events is 1 */

#endif
