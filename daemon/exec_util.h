/* exec_util.h: the exec kind's helpers that need no event loop. */
#ifndef EXEC_UTIL_H
#define EXEC_UTIL_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

struct err;
struct exec_spawner;
struct exec_slot;

/* What the base environment takes from the daemon's user, read once. */
struct exec_base {
	char *home;   /* owned: the passwd home, or "/" */
	char *user;   /* owned, NULL when the uid has no passwd entry */
};

#define EXEC_BASE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void    exec_base_init(struct exec_base *b);
void    exec_base_clear(struct exec_base *b);

/* The spec's "exec" object: -1 and a 400 cause if it is not well-formed. */
int     exec_spec_check(const json_t *in, struct err *e);

/* A NULL-terminated "K=V" vector: the base environment with the members of
 * env (an object of strings, may be NULL) added or replacing.  Owned by the
 * caller: exec_envp_free(). */
char  **exec_envp_build(const struct exec_base *b, const json_t *env, int64_t task_id);
void    exec_envp_free(char **envp);
const char *exec_envp_get(char *const *envp, const char *key);

/* Find name like execvp does, but in path (the task's PATH) and with relative
 * entries taken from cwd (NULL: ours): 0 and *out (owned), or an errno. */
int     exec_resolve(const char *name, const char *path, const char *cwd, char **out);

/* A started child: its pid (also its pgid), its pidfd and our ends of its
 * pipes, all close-on-exec and nonblocking. */
struct exec_child {
	pid_t pid;
	int   pidfd;
	int   out;   /* its stdout */
	int   err;   /* its stderr */
	int   in;    /* its stdin, -1 when that is /dev/null */
	struct exec_slot *gate;   /* held: exec_spawn_release lets it exec */
};

/* Start the program a checked "exec" spec describes, in its own session with
 * default signals, an empty mask and only fds 0-2: 0, or -1 with the reason
 * (errno text, for spawn_failed) in why.  held: the child stops before its
 * exec until exec_spawn_release(c->gate, c->pid).  The child may fail after
 * that, before its exec: then, by its reap at the latest
 * (exec_spawn_collect), *exec_errno says why; it stays 0 once the program
 * runs. */
int     exec_child_start(const json_t *spec, const struct exec_base *b, struct exec_spawner *sp,
            int64_t task_id, int held, int *exec_errno, struct exec_child *c, char *why,
            size_t len);
/* The spawn_failed message for a spec whose program could not run: errno e. */
void    exec_cannot_run(const json_t *spec, int e, char *buf, size_t len);
/* "SIGTERM", "SIGRTMIN", "SIGRTMIN+3", "SIGRTMAX", "SIG99". */
void    exec_signame(int sig, char *buf, size_t len);

/* 1 if a process that is not a zombie is in group pgid.  An orphan's zombie
 * lingers until init reaps it, which some inits do late, and kill(-pgid, 0)
 * still counts it.  *hint (0 at first) keeps the live member found, so /proc
 * is scanned again only once that one is gone. */
int     exec_group_has_live(pid_t pgid, pid_t *hint);

/* May a pgid recorded by an earlier run of this boot still be signalled?
 * 0 when the number now belongs to someone else. */
int     exec_group_is_ours(pid_t pgid, int64_t started_at_ms);

#endif
