/* exec_spawn.c: start a program the way posix_spawn does (a vfork-like
 * clone: no copy of our memory, we wait only until the child execs), but
 * on a stack we keep, with CLONE_PIDFD handing us the pidfd at once.
 *
 * Why not posix_spawn: glibc maps a fresh stack for every call and unmaps
 * it after, and with a second thread in the process (the syncer) every
 * munmap costs a TLB shootdown on the other CPU; then pidfd_open is one more
 * call, and each file action checks the fd limit with a syscall.  Measured
 * on the loop: about a fifth of an exec task's cost (bench_exec).
 *
 * The child shares our memory and runs until execve on our stack, so it
 * follows posix_spawn's rules: every signal is blocked across the clone (no
 * handler of ours may run in it), it sets every disposition to the default
 * before it unblocks, and it uses nothing but system calls. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec_spawn.h"

#define EXEC_STACK_SIZE (64 * 1024)

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE 2
#endif

/* ThreadSanitizer takes clone() for a fork and resets its own state in the
 * child, which shares ours: call glibc's entry point under it instead. */
#ifdef __SANITIZE_THREAD__
extern int __clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
#define exec_clone __clone
#else
#define exec_clone clone
#endif

/* The kernel's sigset: 64 signals (glibc's sigset_t is larger). */
#define KSIGSET_SIZE 8

struct exec_ksigaction {
	void          *handler;
	unsigned long  flags;
	void          *restorer;
	unsigned char  mask[KSIGSET_SIZE];
};

struct exec_child_ctx {
	const struct exec_spawn_args *a;
	const struct exec_spawner    *sp;
	volatile int                  err;     /* why the child did not exec */
};

int
exec_spawner_init(struct exec_spawner *sp)
{
	sp->size = EXEC_STACK_SIZE;
	sp->known = sp->nreset = 0;
	sp->stack = mmap(NULL, sp->size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (sp->stack == MAP_FAILED) {
		sp->stack = NULL;
		return -1;
	}
	return 0;
}

void
exec_spawner_clear(struct exec_spawner *sp)
{
	if (sp->stack != NULL)
		munmap(sp->stack, sp->size);
	sp->stack = NULL;
}

__attribute__((no_sanitize("address", "thread", "undefined"), always_inline))
static inline long
exec_sys_dup2(int from, int to)
{
	return from == to ? to : syscall(SYS_dup2, from, to);
}

/* The child, until execve: system calls only, errno is the parent's.  No
 * sanitizer may touch its shadow state either: that is the parent's too. */
__attribute__((no_sanitize("address", "thread", "undefined")))
static int
exec_child_main(void *arg)
{
	struct exec_child_ctx        *c = arg;
	const struct exec_spawn_args *a = c->a;
	struct exec_ksigaction        dfl = { 0 };
	unsigned char                 none[KSIGSET_SIZE] = { 0 };
	long                          fd;
	int                           i;

	if (syscall(SYS_setsid) == -1)
		goto fail;
	/* Every signal to its default (an ignored one would stay ignored
	 * across exec, a handler of ours must not run here); the others are
	 * at their default already. */
	for (i = 0; i < c->sp->nreset; i++)
		syscall(SYS_rt_sigaction, (int)c->sp->reset[i], &dfl, NULL, KSIGSET_SIZE);
	if (a->in == -1) {
		if ((fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY)) == -1)
			goto fail;
		if (exec_sys_dup2((int)fd, 0) == -1)
			goto fail;
	} else if (exec_sys_dup2(a->in, 0) == -1)
		goto fail;
	if (exec_sys_dup2(a->out, 1) == -1 || exec_sys_dup2(a->err, 2) == -1)
		goto fail;
	if (a->cwd != NULL && syscall(SYS_chdir, a->cwd) == -1)
		goto fail;
	if (syscall(SYS_close_range, 3U, ~0U, 0) == -1)
		goto fail;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, none, NULL, KSIGSET_SIZE);
	syscall(SYS_execve, a->path, a->argv, a->envp);
fail:
	c->err = errno != 0 ? errno : EINVAL;
	syscall(SYS_exit, 127);
	return 127;
}

/* Which signals are not at their default: glibc's internal ones included,
 * which sigaction(2) of glibc would not show. */
static void
exec_spawner_learn(struct exec_spawner *sp)
{
	struct exec_ksigaction old;
	int                    sig;

	sp->nreset = 0;
	for (sig = 1; sig <= 64; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP ||
		    syscall(SYS_rt_sigaction, sig, NULL, &old, KSIGSET_SIZE) == -1)
			continue;
		if (old.handler != (void *)SIG_DFL)
			sp->reset[sp->nreset++] = (unsigned char)sig;
	}
	sp->known = 1;
}

int
exec_spawn(struct exec_spawner *sp, const struct exec_spawn_args *a, pid_t *pid, int *pidfd)
{
	struct exec_child_ctx c = { .a = a, .sp = sp, .err = 0 };
	unsigned char         all[KSIGSET_SIZE], old[KSIGSET_SIZE];
	siginfo_t             si;
	int                   fd = -1, rc;
	pid_t                 p;

	if (sp->stack == NULL)
		return ENOMEM;
	if (!sp->known)
		exec_spawner_learn(sp);
	memset(all, 0xff, sizeof all);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, all, old, KSIGSET_SIZE);
	/* The stack grows down: the child starts at its top. */
	p = exec_clone(exec_child_main, (char *)sp->stack + sp->size,
	    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &c, &fd);
	rc = p == -1 ? errno : 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, KSIGSET_SIZE);
	if (rc != 0)
		return rc;
	if (c.err != 0) {
		/* It is gone or going: reap it, so no zombie stays. */
		while (waitid(P_PIDFD, (id_t)fd, &si, WEXITED) == -1 && errno == EINTR)
			;
		close(fd);
		return c.err;
	}
	*pid = p;
	*pidfd = fd;
	return 0;
}
