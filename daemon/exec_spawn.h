/* exec_spawn.h: start a program in its own session, the way posix_spawn
 * does, but without waiting for it to exec, on stacks we keep, and with its
 * pidfd from the kernel. */
#ifndef EXEC_SPAWN_H
#define EXEC_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct exec_slot;

/* The stacks children run on until they exec, and what each child reads
 * until then.  Owned by whoever spawns: exec_spawner_init / _clear. */
struct exec_spawner {
	struct exec_slot **slots;
	int                nslots, capslots;
	/* The signals whose disposition is not the default, found at the
	 * first spawn (jobd sets its handlers and ignores at start-up, never
	 * after): only those need resetting in each child. */
	int                known;
	int                nreset;
	unsigned char      reset[64];
	/* The open-file limit children get back: jobd raises its own soft
	 * limit for its connections; a program gets the one jobd was given
	 * (1024 by default: a program using select(2) counts on it). */
	int                nofile_set;
	uint64_t           nofile[2];     /* soft, hard: struct rlimit64 */
};

/* nofile_soft: the soft open-file limit children run with (0: ours). */
int  exec_spawner_init(struct exec_spawner *sp, uint64_t nofile_soft);
/* Waits up to a second for a child still before its exec; a stack one
 * still runs on after that is left mapped (only at exit). */
void exec_spawner_clear(struct exec_spawner *sp);

/* What the child gets: path (already resolved), argv, envp, cwd (NULL:
 * ours), and its stdin (-1: /dev/null), stdout and stderr, which it makes
 * blocking (our ends of its pipes are nonblocking).  It runs in a new
 * session, with every signal at its default, none blocked, and only fds
 * 0-2 open.  The strings must stay as they are until the child has exec'd:
 * exec_spawn takes them over and hands them to release(keep) then. */
struct exec_spawn_args {
	const char  *path;
	char *const *argv;
	char *const *envp;
	const char  *cwd;
	int          in, out, err;
	int          held;   /* the child waits before its exec: exec_spawn_release */
	void       (*release)(void *keep);
	void        *keep;
};

/* 0 with *pid and *pidfd (close-on-exec), or an errno if no child was made
 * (release already called).  Whether the child then exec'd is known once it
 * has: by its reap at the latest, exec_spawn_collect writes the errno that
 * stopped it (0: it exec'd) to *why, which must live until then or until
 * exec_spawn_forget. */
int  exec_spawn(struct exec_spawner *sp, const struct exec_spawn_args *a, int *why,
         pid_t *pid, int *pidfd, struct exec_slot **gate);
/* 1 if a child can be held (a->held): else its clone waits for the exec,
 * and exec_spawn ignores held and gives *gate NULL. */
int  exec_spawn_can_hold(void);
/* Let a held child (*gate and pid from its exec_spawn) go on to its exec.
 * Until then it has done everything else (its session, fds, cwd); should
 * this process die first, it exits 127 without running anything. */
void exec_spawn_release(struct exec_slot *gate, pid_t pid);
/* Settle every child that has exec'd or died since: after a reap, its *why
 * is final. */
void exec_spawn_collect(struct exec_spawner *sp);
/* *why is going away: its child, if still before exec, writes nowhere. */
void exec_spawn_forget(struct exec_spawner *sp, int *why);

#endif
