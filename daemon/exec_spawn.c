/* exec_spawn.c: start a program the way posix_spawn does (a clone that
 * shares our memory: no copy of it, whatever the size of our heap), but
 * without waiting for the child to exec, on stacks we keep, with
 * CLONE_PIDFD handing us the pidfd at once.
 *
 * Why not posix_spawn: glibc maps a fresh stack for every call and unmaps
 * it after, and with a second thread in the process (the syncer) every
 * munmap costs a TLB shootdown on the other CPU; then pidfd_open is one more
 * call, and each file action checks the fd limit with a syscall.  And
 * posix_spawn (CLONE_VFORK) stops the loop until the child has exec'd: on
 * a busy machine 0.1-0.5 ms per spawn in which no other task is served.
 *
 * So the child runs on a stack of its own from a small pool, beside us, and
 * the kernel tells us when it is off that stack: CLONE_CHILD_CLEARTID zeroes
 * the slot's word when the child's hold on our memory ends, at its exec or
 * its death.  Until then the slot keeps what the child reads (the strings,
 * given back through release) and the word where a failing child leaves its
 * errno; whoever waits for that errno (the run, until its reap) learns it
 * when the slot is collected.
 *
 * The child shares our memory and runs beside our threads, so it follows
 * posix_spawn's rules and one more: every signal is blocked across the clone
 * (no handler of ours may run in it), it sets every disposition to the
 * default before it unblocks, it uses nothing but system calls, and those
 * are made without glibc's wrapper, whose errno is our thread's.  Where we
 * have no such raw call (an architecture not listed below) the clone waits
 * for the exec as vfork does, and the rest stays the same.
 *
 * A child may be held before its exec (exec_spawn_args.held): it sets
 * itself up, then waits at a gate in its slot until exec_spawn_release, so
 * that the caller can commit what it must before anything runs.  It sleeps
 * on a futex, and gives up without running anything if its parent dies
 * first.  Held children keep their stacks, so the pool
 * grows rather than waiting for a stack.  (The vfork-style fallback cannot
 * hold: its clone returns only after the exec.) */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "exec_spawn.h"

#define EXEC_STACK_SIZE (64 * 1024)
#define EXEC_SLOTS_MIN  16     /* room for stacks at first; it grows */
/* A held child sleeps at its gate, looking every EXEC_GATE_POLL_MS whether
 * we still live. */
#define EXEC_GATE_POLL_MS 20

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
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

/* A system call that leaves errno alone: -errno on failure. */
#if defined(__x86_64__)
#define EXEC_RAW 1
__attribute__((always_inline)) static inline long
exec_sys(long n, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long          ret;

	__asm__ volatile ("syscall" : "=a"(ret)
	    : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
#define EXEC_RAW 1
__attribute__((always_inline)) static inline long
exec_sys(long n, long a, long b, long c, long d)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;

	__asm__ volatile ("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
	return x0;
}
#else
/* glibc's wrapper: its errno write is harmless while we wait (vfork). */
#define EXEC_RAW 0
__attribute__((always_inline)) static inline long
exec_sys(long n, long a, long b, long c, long d)
{
	long ret = syscall(n, a, b, c, d);

	return ret == -1 ? -errno : ret;
}
#endif

#if EXEC_RAW
#define EXEC_CLONE_WAIT 0
#define EXEC_CAN_HOLD   1
#else
#define EXEC_CLONE_WAIT CLONE_VFORK
#define EXEC_CAN_HOLD   0
#endif

/* A held child's gate (exec_slot.gate). */
enum { GATE_SHUT, GATE_OPEN, GATE_SLEEPING };

/* A stack and what its child reads until it execs. */
struct exec_slot {
	void                   *stack;
	int                     ctid;     /* nonzero: a child may be on the stack */
	int                     busy;     /* not yet collected */
	volatile int            err;      /* the errno that kept the child from exec */
	int                    *why;      /* where err goes when collected */
	int                     gate;     /* GATE_*: a held child execs once it is open */
	pid_t                   parent;   /* us: a held child whose parent changed gives up */
	pid_t                   pid;      /* the child on the stack, for exec_spawn_release */
	struct exec_spawn_args  a;
	const struct exec_spawner *sp;
};

int
exec_spawner_init(struct exec_spawner *sp, uint64_t nofile_soft)
{
	struct rlimit rl;

	memset(sp, 0, sizeof *sp);
	if ((sp->slots = calloc(EXEC_SLOTS_MIN, sizeof *sp->slots)) == NULL)
		return -1;
	sp->capslots = EXEC_SLOTS_MIN;
	if (nofile_soft != 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && nofile_soft < rl.rlim_cur) {
		sp->nofile[0] = nofile_soft;
		sp->nofile[1] = rl.rlim_max;
		sp->nofile_set = 1;
	}
	return 0;
}

static int
exec_slot_on_stack(const struct exec_slot *sl)
{
	return __atomic_load_n(&sl->ctid, __ATOMIC_ACQUIRE) != 0;
}

/* The child is off the stack: pass on its verdict, give back its strings. */
static void
exec_slot_settle(struct exec_slot *sl)
{
	if (sl->why != NULL)
		*sl->why = sl->err;
	if (sl->a.release != NULL)
		sl->a.release(sl->a.keep);
	sl->why = NULL;
	sl->a.release = NULL;
	sl->busy = 0;
}

/* Until the child is off the stack, or for at most ms: 1 if it is. */
static int
exec_slot_wait(struct exec_slot *sl, long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	int             v;

	if ((v = __atomic_load_n(&sl->ctid, __ATOMIC_ACQUIRE)) != 0)
		syscall(SYS_futex, &sl->ctid, FUTEX_WAIT, v, ms < 0 ? NULL : &ts, NULL, 0);
	return !exec_slot_on_stack(sl);
}

void
exec_spawner_clear(struct exec_spawner *sp)
{
	int i;

	for (i = 0; i < sp->nslots; i++) {
		struct exec_slot *sl = sp->slots[i];

		/* A child this close to its exec is there in microseconds;
		 * one stuck in it (a hung file system) keeps its stack. */
		if (sl->busy && !exec_slot_wait(sl, 1000))
			continue;
		if (sl->busy)
			exec_slot_settle(sl);
		munmap(sl->stack, EXEC_STACK_SIZE);
		free(sl);
	}
	free(sp->slots);
	sp->slots = NULL;
	sp->nslots = 0;
}

void
exec_spawn_collect(struct exec_spawner *sp)
{
	int i;

	for (i = 0; i < sp->nslots; i++)
		if (sp->slots[i]->busy && !exec_slot_on_stack(sp->slots[i]))
			exec_slot_settle(sp->slots[i]);
}

void
exec_spawn_forget(struct exec_spawner *sp, int *why)
{
	int i;

	for (i = 0; i < sp->nslots; i++)
		if (sp->slots[i]->busy && sp->slots[i]->why == why)
			sp->slots[i]->why = NULL;
}

/* A free slot: collected ones first, else a new one.  Never a wait for a
 * child to leave its stack: a held child leaves it only once we open its
 * gate.  Each child before its exec is a run's, so --max-exec bounds them. */
static struct exec_slot *
exec_slot_get(struct exec_spawner *sp)
{
	struct exec_slot  *sl, **more;
	int                i;

	exec_spawn_collect(sp);
	for (i = 0; i < sp->nslots; i++)
		if (!sp->slots[i]->busy)
			return sp->slots[i];
	if (sp->nslots == sp->capslots) {
		if ((more = realloc(sp->slots, 2 * (size_t)sp->capslots * sizeof *more)) == NULL)
			return NULL;
		sp->slots = more;
		sp->capslots *= 2;
	}
	if ((sl = calloc(1, sizeof *sl)) == NULL)
		return NULL;
	sl->stack = mmap(NULL, EXEC_STACK_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (sl->stack == MAP_FAILED) {
		free(sl);
		return NULL;
	}
	sp->slots[sp->nslots++] = sl;
	return sl;
}

__attribute__((no_sanitize("address", "thread", "undefined"), always_inline))
static inline long
exec_sys_dup2(int from, int to)
{
	if (from == to)
		return to;
#ifdef SYS_dup2
	return exec_sys(SYS_dup2, from, to, 0, 0);
#else
	return exec_sys(SYS_dup3, from, to, 0, 0);
#endif
}

/* A held child waits here for its gate, in the kernel.  Not spinning: the
 * parent's commit takes tens of microseconds, and on a machine whose CPUs
 * are all busy (programs starting back to back) a spinning child takes
 * them from the programs that run (B3: 5-8% more CPU per child).  1: go;
 * 0: our parent died before opening it (jobd crashed: nothing may run
 * that it cannot account for). */
__attribute__((no_sanitize("address", "thread", "undefined")))
static int
exec_child_gate(struct exec_slot *sl)
{
	struct timespec ts = { 0, EXEC_GATE_POLL_MS * 1000000L };
	int             shut = GATE_SHUT;

	for (;;) {
		if (!__atomic_compare_exchange_n(&sl->gate, &shut, GATE_SLEEPING, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) && shut == GATE_OPEN)
			return 1;
		if (exec_sys(SYS_getppid, 0, 0, 0, 0) != sl->parent)
			return 0;
		exec_sys(SYS_futex, (long)&sl->gate, FUTEX_WAIT, GATE_SLEEPING, (long)&ts);
		shut = GATE_SLEEPING;
	}
}

/* The child, until execve: raw system calls only.  No sanitizer may touch
 * its shadow state either: that is the parent's too. */
__attribute__((no_sanitize("address", "thread", "undefined")))
static int
exec_child_main(void *arg)
{
	struct exec_slot             *sl = arg;
	const struct exec_spawn_args *a = &sl->a;
	struct exec_ksigaction        dfl = { 0 };
	unsigned char                 none[KSIGSET_SIZE] = { 0 };
	long                          rc;
	int                           i;

	if ((rc = exec_sys(SYS_setsid, 0, 0, 0, 0)) < 0)
		goto fail;
	/* Every signal to its default (an ignored one would stay ignored
	 * across exec, a handler of ours must not run here); the others are
	 * at their default already. */
	for (i = 0; i < sl->sp->nreset; i++)
		exec_sys(SYS_rt_sigaction, sl->sp->reset[i], (long)&dfl, 0, KSIGSET_SIZE);
	if (sl->sp->nofile_set)
		exec_sys(SYS_prlimit64, 0, RLIMIT_NOFILE, (long)sl->sp->nofile, 0);
	if (a->in == -1) {
		if ((rc = exec_sys(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY, 0)) < 0)
			goto fail;
		if ((rc = exec_sys_dup2((int)rc, 0)) < 0)
			goto fail;
	} else if ((rc = exec_sys_dup2(a->in, 0)) < 0)
		goto fail;
	if ((rc = exec_sys_dup2(a->out, 1)) < 0 || (rc = exec_sys_dup2(a->err, 2)) < 0)
		goto fail;
	/* Our pipes are nonblocking at both ends: the child's ends block. */
	for (i = a->in == -1 ? 1 : 0; i <= 2; i++)
		if ((rc = exec_sys(SYS_fcntl, i, F_SETFL, 0, 0)) < 0)
			goto fail;
	if (a->cwd != NULL && (rc = exec_sys(SYS_chdir, (long)a->cwd, 0, 0, 0)) < 0)
		goto fail;
	if ((rc = exec_sys(SYS_close_range, 3, ~0U, 0, 0)) < 0)
		goto fail;
	if (a->held && !exec_child_gate(sl)) {
		rc = -ECANCELED;
		goto fail;
	}
	exec_sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)none, 0, KSIGSET_SIZE);
	rc = exec_sys(SYS_execve, (long)a->path, (long)a->argv, (long)a->envp, 0);
fail:
	sl->err = rc < 0 ? (int)-rc : EINVAL;
	exec_sys(SYS_exit, 127, 0, 0, 0);
	return 127;
}

/* Which signals are not at their default: glibc's internal ones included,
 * which sigaction(2) of glibc would not show.  Learned once, at the first
 * spawn: a handler installed after it would stay set in every child until
 * its exec.  jobd installs none (main.c reads its signals from a signalfd);
 * what it ignores (SIGPIPE) is set before anything can spawn. */
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
exec_spawn(struct exec_spawner *sp, const struct exec_spawn_args *a, int *why,
    pid_t *pid, int *pidfd, struct exec_slot **gate)
{
	struct exec_slot *sl;
	unsigned char     all[KSIGSET_SIZE], old[KSIGSET_SIZE];
	int               fd = -1, rc;
	pid_t             p;

	if (!sp->known)
		exec_spawner_learn(sp);
	if ((sl = exec_slot_get(sp)) == NULL) {
		if (a->release != NULL)
			a->release(a->keep);
		return ENOMEM;
	}
	sl->a = *a;
	sl->sp = sp;
	sl->err = 0;
	sl->why = why;
	sl->busy = 1;
	sl->gate = GATE_SHUT;
	sl->parent = getpid();
	/* A vfork-style clone returns only after the exec: it cannot hold. */
	sl->a.held = a->held && EXEC_CAN_HOLD;
	*why = 0;
	__atomic_store_n(&sl->ctid, 1, __ATOMIC_RELEASE);
	memset(all, 0xff, sizeof all);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, all, old, KSIGSET_SIZE);
	/* The stack grows down: the child starts at its top. */
	p = exec_clone(exec_child_main, (char *)sl->stack + EXEC_STACK_SIZE,
	    CLONE_VM | EXEC_CLONE_WAIT | CLONE_PIDFD | CLONE_CHILD_CLEARTID | SIGCHLD, sl,
	    &fd, NULL, &sl->ctid);
	rc = p == -1 ? errno : 0;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, old, NULL, KSIGSET_SIZE);
	if (rc != 0) {
		sl->ctid = 0;
		sl->why = NULL;
		exec_slot_settle(sl);
		return rc;
	}
	sl->pid = p;
	*pid = p;
	*pidfd = fd;
	if (gate != NULL)
		*gate = sl->a.held ? sl : NULL;
	return 0;
}

int
exec_spawn_can_hold(void)
{
	return EXEC_CAN_HOLD;
}

void
exec_spawn_release(struct exec_slot *gate, pid_t pid)
{
	/* Dead before its gate opened, its slot may serve another child now. */
	if (!gate->busy || gate->pid != pid)
		return;
	if (__atomic_exchange_n(&gate->gate, GATE_OPEN, __ATOMIC_ACQ_REL) == GATE_SLEEPING)
		syscall(SYS_futex, &gate->gate, FUTEX_WAKE, 1, NULL, NULL, 0);
}
