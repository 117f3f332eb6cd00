/* exec_spawn.h: start a program in its own session, the way posix_spawn
 * does, but on a stack we keep and with its pidfd from the kernel. */
#ifndef EXEC_SPAWN_H
#define EXEC_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/* The stack the child runs on until it execs (vfork: one at a time).
 * Owned by whoever spawns: exec_spawner_init / _clear. */
struct exec_spawner {
	void          *stack;
	size_t         size;
	/* The signals whose disposition is not the default, found at the
	 * first spawn (jobd sets its handlers and ignores at start-up, never
	 * after): only those need resetting in each child. */
	int            known;
	int            nreset;
	unsigned char  reset[64];
};

int  exec_spawner_init(struct exec_spawner *sp);
void exec_spawner_clear(struct exec_spawner *sp);

/* What the child gets: path (already resolved), argv, envp, cwd (NULL:
 * ours), and its stdin (-1: /dev/null), stdout and stderr.  It runs in a new
 * session, with every signal at its default, none blocked, and only fds
 * 0-2 open. */
struct exec_spawn_args {
	const char  *path;
	char *const *argv;
	char *const *envp;
	const char  *cwd;
	int          in, out, err;
};

/* 0 with *pid and *pidfd (close-on-exec), or the errno that kept the
 * program from starting (ENOENT, EACCES, ...), nothing left behind. */
int  exec_spawn(struct exec_spawner *sp, const struct exec_spawn_args *a, pid_t *pid, int *pidfd);

#endif
