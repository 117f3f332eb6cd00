/* exec_util.c: the exec kind's spec check, environment, PATH lookup and
 * process facts; nothing here touches the event loop. */
#include "config.h"

#include <sys/stat.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exec_spawn.h"
#include "exec_util.h"
#include "json_util.h"
#include "log.h"
#include "timeutil.h"

/* How far a live leader's start may be from the task's started_at and still
 * be taken for the process this task spawned (see exec_group_is_ours). */
#define EXEC_START_SLACK_MS 2000
/* What a message quotes of a name (argv[0], a cwd), in bytes. */
#define EXEC_QUOTE_MAX 200

/* A name a message quotes: whole if short, else its first bytes up to a
 * character's start and "...", so that the reason after it always fits and
 * the message stays UTF-8 (a cut inside a character made it invalid, and
 * the error lost its message altogether). */
static const char *
exec_shorten(const char *s, char *buf, size_t len)
{
	size_t n = strlen(s);

	if (n < len)
		return s;
	n = len - 4;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, s, n);
	memcpy(buf + n, "...", 4);
	return buf;
}

static const char *const exec_members[] = { "argv", "env", "cwd", "stdin", NULL };

static char *
exec_strdup(const char *s)
{
	char *p;

	if ((p = strdup(s)) == NULL)
		fatal("out of memory");
	return p;
}

/* "a" sep "b" in a new string. */
static char *
exec_join(const char *a, size_t alen, char sep, const char *b)
{
	size_t blen = strlen(b);
	char  *p;

	if ((p = malloc(alen + blen + 2)) == NULL)
		fatal("out of memory");
	memcpy(p, a, alen);
	p[alen] = sep;
	memcpy(p + alen + 1, b, blen + 1);
	return p;
}

void
exec_base_init(struct exec_base *b)
{
	struct passwd *pw;

	/* From the passwd database, not from our own environment: what a login
	 * as this user would see, however the daemon itself was started.  Called
	 * once at start-up, so a slow NSS lookup never stalls the loop. */
	pw = getpwuid(geteuid());
	b->home = exec_strdup(pw != NULL && pw->pw_dir[0] == '/' ? pw->pw_dir : "/");
	b->user = pw != NULL && pw->pw_name[0] != '\0' ? exec_strdup(pw->pw_name) : NULL;
}

void
exec_base_clear(struct exec_base *b)
{
	free(b->home);
	free(b->user);
	b->home = b->user = NULL;
}

/* A JSON string that can become a C string (no NUL byte inside). */
static int
exec_is_cstring(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int
exec_check_argv(const json_t *argv, struct err *e)
{
	const json_t *v;
	size_t        i;

	if (!json_is_array(argv) || json_array_size(argv) == 0)
		return err_set(e, 400, "\"exec.argv\" must be a non-empty array of strings");
	json_array_foreach(argv, i, v) {
		if (!exec_is_cstring(v))
			return err_set(e, 400, "\"exec.argv[%zu]\" must be a string without NUL bytes", i);
	}
	if (json_string_length(json_array_get(argv, 0)) == 0)
		return err_set(e, 400, "\"exec.argv[0]\" must not be empty");
	return 0;
}

static int
exec_check_env(const json_t *env, struct err *e)
{
	const char *key;
	json_t     *v;
	size_t      klen;

	if (!json_is_object(env))
		return err_set(e, 400, "\"exec.env\" must be an object of strings");
	json_object_foreach((json_t *)env, key, v) {
		klen = json_object_iter_key_len(json_object_key_to_iter(key));
		if (klen == 0 || strlen(key) != klen || strchr(key, '=') != NULL)
			return err_set(e, 400, "\"exec.env\" names must be non-empty, without '=' or NUL bytes");
		if (!exec_is_cstring(v))
			return err_set(e, 400, "\"exec.env.%s\" must be a string without NUL bytes", key);
	}
	return 0;
}

int
exec_spec_check(const json_t *in, struct err *e)
{
	const json_t *v;

	if (!json_is_object(in))
		return err_set(e, 400, "\"exec\" must be an object");
	if (ju_only_members(in, exec_members, "\"exec\"", e) == -1)
		return -1;
	if (exec_check_argv(json_object_get(in, "argv"), e) == -1)
		return -1;
	/* The optional members may be null, meaning absent. */
	v = json_object_get(in, "env");
	if (v != NULL && !json_is_null(v) && exec_check_env(v, e) == -1)
		return -1;
	v = json_object_get(in, "cwd");
	if (v != NULL && !json_is_null(v) && (!exec_is_cstring(v) || json_string_length(v) == 0))
		return err_set(e, 400, "\"exec.cwd\" must be a non-empty string without NUL bytes");
	v = json_object_get(in, "stdin");
	if (v != NULL && !json_is_null(v) && !json_is_string(v))
		return err_set(e, 400, "\"exec.stdin\" must be a string");
	return 0;
}

char **
exec_envp_build(const struct exec_base *b, const json_t *env, int64_t task_id)
{
	char        id[24];
	const char *base[][2] = {
		{ "PATH", EXEC_BASE_PATH }, { "LANG", "C.UTF-8" }, { "HOME", b->home },
		{ "USER", b->user }, { "LOGNAME", b->user }, { "JOBD_TASK_ID", id },
	};
	size_t      nbase = sizeof base / sizeof base[0], i, n = 0;
	const char *key;
	json_t     *v;
	char      **envp;

	if (!json_is_object(env))
		env = NULL;
	snprintf(id, sizeof id, "%lld", (long long)task_id);
	if ((envp = calloc(nbase + json_object_size(env) + 1, sizeof *envp)) == NULL)
		fatal("out of memory");
	for (i = 0; i < nbase; i++) {
		if (base[i][1] == NULL || json_object_get(env, base[i][0]) != NULL)
			continue;
		envp[n++] = exec_join(base[i][0], strlen(base[i][0]), '=', base[i][1]);
	}
	json_object_foreach((json_t *)env, key, v)
		envp[n++] = exec_join(key, strlen(key), '=', json_string_value(v));
	return envp;
}

void
exec_envp_free(char **envp)
{
	char **p;

	if (envp == NULL)
		return;
	for (p = envp; *p != NULL; p++)
		free(*p);
	free(envp);
}

const char *
exec_envp_get(char *const *envp, const char *key)
{
	size_t klen = strlen(key);

	for (; *envp != NULL; envp++)
		if (strncmp(*envp, key, klen) == 0 && (*envp)[klen] == '=')
			return *envp + klen + 1;
	return NULL;
}

/* 0 if cand names an executable regular file (relative names seen from cwd),
 * else the errno execve would give, roughly: EACCES or ENOENT. */
static int
exec_usable(const char *cand, const char *cwd)
{
	struct stat st;
	char       *full = NULL;
	const char *p = cand;
	int         rc = 0;

	if (cand[0] != '/' && cwd != NULL)
		p = full = exec_join(cwd, strlen(cwd), '/', cand);
	if (stat(p, &st) == -1)
		rc = errno == EACCES ? EACCES : ENOENT;
	else if (!S_ISREG(st.st_mode) || access(p, X_OK) == -1)
		rc = EACCES;
	free(full);
	return rc;
}

int
exec_resolve(const char *name, const char *path, const char *cwd, char **out)
{
	const char *p, *end;
	char       *cand;
	int         rc, err = ENOENT;

	*out = NULL;
	if (strchr(name, '/') != NULL) {
		*out = exec_strdup(name);
		return 0;
	}
	if (path == NULL)
		path = EXEC_BASE_PATH;
	/* execvp's rules: an empty entry is ".", EACCES is remembered while the
	 * search goes on, the first usable file wins. */
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		if (end == p)
			cand = exec_join(".", 1, '/', name);
		else
			cand = exec_join(p, (size_t)(end - p), '/', name);
		if ((rc = exec_usable(cand, cwd)) == 0) {
			*out = cand;
			return 0;
		}
		if (rc == EACCES)
			err = EACCES;
		free(cand);
		if (*end == '\0')
			break;
	}
	return err;
}

/* Keep a child's end off 0, 1 and 2, so that dup2 onto those never clobbers
 * another source (possible only if we were started with one of them closed). */
static int
exec_fd_high(int fd)
{
	int nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static void
exec_close_pair(int fds[2])
{
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
}

/* A close-on-exec nonblocking pipe.  The child's end is made blocking again
 * in the child (exec_spawn), off the loop: on a nonblocking stdout, a
 * child's write fails with EAGAIN whenever we are slower than it. */
static int
exec_pipe_open(int fds[2])
{
	int e;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == -1) {
		fds[0] = fds[1] = -1;
		return -1;
	}
	fds[0] = exec_fd_high(fds[0]);
	fds[1] = exec_fd_high(fds[1]);
	if (fds[0] != -1 && fds[1] != -1)
		return 0;
	e = errno;
	exec_close_pair(fds);
	fds[0] = fds[1] = -1;
	errno = e;
	return -1;
}

/* 0 if cwd can be entered, else the errno chdir would give. */
static int
exec_cwd_check(const char *cwd)
{
	struct stat st;

	if (stat(cwd, &st) == -1)
		return errno;
	if (!S_ISDIR(st.st_mode))
		return ENOTDIR;
	if (access(cwd, X_OK) == -1)
		return errno;
	return 0;
}

/* What a child reads until it execs: freed once it has (exec_spawn). */
struct exec_keep {
	char   **argv;     /* its strings are the spec's */
	char   **envp;
	char    *path;
	json_t  *spec;
};

static void
exec_keep_free(void *arg)
{
	struct exec_keep *k = arg;

	free(k->argv);
	exec_envp_free(k->envp);
	free(k->path);
	json_decref(k->spec);
	free(k);
}

int
exec_child_start(const json_t *spec, const struct exec_base *b, struct exec_spawner *sp,
    int64_t task_id, int held, int *exec_errno, struct exec_child *c, char *why, size_t len)
{
	const json_t *jargv = json_object_get(spec, "argv"), *jcwd = json_object_get(spec, "cwd");
	const json_t *jin = json_object_get(spec, "stdin");
	const char   *cwd = json_is_string(jcwd) ? json_string_value(jcwd) : NULL;
	struct exec_keep *k;
	struct exec_spawn_args sa;
	int           outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, inp[2] = { -1, -1 };
	int           e, rc = -1;
	size_t        i;

	if ((k = calloc(1, sizeof *k)) == NULL ||
	    (k->argv = calloc(json_array_size(jargv) + 1, sizeof *k->argv)) == NULL)
		fatal("out of memory");
	k->spec = json_incref((json_t *)spec);
	for (i = 0; i < json_array_size(jargv); i++)
		k->argv[i] = (char *)json_string_value(json_array_get(jargv, i));
	k->envp = exec_envp_build(b, json_object_get(spec, "env"), task_id);
	if (cwd != NULL && (e = exec_cwd_check(cwd)) != 0) {
		char name[EXEC_QUOTE_MAX];

		snprintf(why, len, "cannot use cwd \"%s\": %s", exec_shorten(cwd, name, sizeof name),
		    strerror(e));
		goto out;
	}
	if ((e = exec_resolve(k->argv[0], exec_envp_get(k->envp, "PATH"), cwd, &k->path)) != 0) {
		exec_cannot_run(spec, e, why, len);
		goto out;
	}
	if (exec_pipe_open(outp) == -1 || exec_pipe_open(errp) == -1 ||
	    (json_is_string(jin) && json_string_length(jin) > 0 && exec_pipe_open(inp) == -1)) {
		char name[EXEC_QUOTE_MAX];

		e = errno;
		snprintf(why, len, "cannot make pipes for \"%s\": %s",
		    exec_shorten(k->argv[0], name, sizeof name), strerror(e));
		goto out;
	}
	sa = (struct exec_spawn_args){ .path = k->path, .argv = k->argv, .envp = k->envp,
	    .cwd = cwd, .in = inp[0], .out = outp[1], .err = errp[1], .held = held,
	    .release = exec_keep_free, .keep = k };
	e = exec_spawn(sp, &sa, exec_errno, &c->pid, &c->pidfd, &c->gate);
	k = NULL;   /* the spawner's now, whatever happened */
	if (e != 0) {
		exec_cannot_run(spec, e, why, len);
		goto out;
	}
	c->out = outp[0];
	c->err = errp[0];
	c->in = inp[1];
	outp[0] = errp[0] = inp[1] = -1;
	rc = 0;
out:
	exec_close_pair(outp);
	exec_close_pair(errp);
	exec_close_pair(inp);
	if (k != NULL)
		exec_keep_free(k);
	return rc;
}

void
exec_cannot_run(const json_t *spec, int e, char *buf, size_t len)
{
	char name[EXEC_QUOTE_MAX];

	snprintf(buf, len, "cannot run \"%s\": %s", exec_shorten(json_string_value(
	    json_array_get(json_object_get(spec, "argv"), 0)), name, sizeof name), strerror(e));
}

void
exec_signame(int sig, char *buf, size_t len)
{
	const char *abbr = sigabbrev_np(sig);

	if (abbr != NULL)
		snprintf(buf, len, "SIG%s", abbr);
	else if (sig == SIGRTMIN)
		snprintf(buf, len, "SIGRTMIN");      /* as kill -l and Python name the ends */
	else if (sig == SIGRTMAX)
		snprintf(buf, len, "SIGRTMAX");
	else if (sig > SIGRTMIN && sig < SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, len, "SIG%d", sig);
}

/* Read /proc/<pid>/stat (pid a string) from the open /proc at dirfd; returns
 * the text after the command name's closing ')', or NULL. */
static char *
exec_proc_stat(int dirfd, const char *pid, char *buf, size_t len)
{
	char    path[64];
	ssize_t n;
	int     fd;

	snprintf(path, sizeof path, "%s/stat", pid);
	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: count from the last ')'. */
	return strrchr(buf, ')');
}

/* Is the process named (a decimal string) in /proc at dirfd a live member
 * of group pgid? */
static int
exec_member_live(int dirfd, const char *name, pid_t pgid)
{
	char  buf[1024], *p, state;
	int   pgrp;

	p = exec_proc_stat(dirfd, name, buf, sizeof buf);
	/* ") S ppid pgrp ..." */
	return p != NULL && sscanf(p, ") %c %*d %d", &state, &pgrp) == 2 &&
	    pgrp == (int)pgid && state != 'Z' && state != 'X';
}

int
exec_group_has_live(pid_t pgid, pid_t *hint)
{
	DIR           *d;
	struct dirent *de;
	char           name[32];

	/* The member found last time is usually still there: no scan then. */
	snprintf(name, sizeof name, "/proc/%d", (int)*hint);
	if (*hint > 0 && exec_member_live(AT_FDCWD, name, pgid))
		return 1;
	*hint = 0;
	if ((d = opendir("/proc")) == NULL)
		return 1;   /* cannot tell: keep waiting */
	while (*hint == 0 && (de = readdir(d)) != NULL) {
		if (isdigit((unsigned char)de->d_name[0]) &&
		    exec_member_live(dirfd(d), de->d_name, pgid))
			*hint = (pid_t)atoi(de->d_name);
	}
	closedir(d);
	return *hint != 0;
}

/* When pid started, in wall-clock ms: /proc/PID/stat field 22 counts clock
 * ticks of CLOCK_BOOTTIME. */
static int
exec_proc_start_ms(pid_t pid, int64_t *out)
{
	char               name[32], buf[1024], *p;
	unsigned long long ticks;
	struct timespec    boot;
	long               hz = sysconf(_SC_CLK_TCK);
	int                field;

	snprintf(name, sizeof name, "/proc/%d", (int)pid);
	if (hz <= 0 || (p = exec_proc_stat(AT_FDCWD, name, buf, sizeof buf)) == NULL)
		return -1;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return -1;
	clock_gettime(CLOCK_BOOTTIME, &boot);
	*out = time_now_ms() - ((int64_t)boot.tv_sec * 1000 + boot.tv_nsec / 1000000) +
	    (int64_t)(ticks * 1000 / (unsigned long long)hz);
	return 0;
}

/* A group without a leader: what the task's program left when it exited,
 * or, if the number was handed out again since that group emptied, another
 * process's group (a shell makes one per pipeline with setpgid, and its
 * first process may exit before the rest).  The task's leader made a
 * session of its own, so its members are in session pgid and started after
 * the task did; a member of another session, or older, is not the task's.
 * (A number handed out again to a session leader that then exited leaving
 * members, a daemon's double fork, cannot be told apart: so rare a coincidence
 * that the members' start time is all there is to go by.) */
static int
exec_members_ours(pid_t pgid, int64_t started_at_ms)
{
	DIR           *d;
	struct dirent *de;
	char           buf[1024], *p, state;
	int            pgrp, sid, ours = 1;
	int64_t        born;

	if ((d = opendir("/proc")) == NULL)
		return 0;   /* cannot tell: not ours */
	while (ours && (de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p = exec_proc_stat(dirfd(d), de->d_name, buf, sizeof buf);
		/* ") S ppid pgrp session ..." */
		if (p == NULL || sscanf(p, ") %c %*d %d %d", &state, &pgrp, &sid) != 3 ||
		    pgrp != (int)pgid || state == 'Z' || state == 'X')
			continue;
		if (sid != (int)pgid)
			ours = 0;
		else if (started_at_ms > 0 &&
		    exec_proc_start_ms((pid_t)atoi(de->d_name), &born) == 0 &&
		    born < started_at_ms - EXEC_START_SLACK_MS)
			ours = 0;
	}
	closedir(d);
	return ours;
}

int
exec_group_is_ours(pid_t pgid, int64_t started_at_ms)
{
	pid_t   sid = getsid(pgid);
	int64_t born;

	/* No leader: while a member of the task's group lives the number is
	 * not handed out again, but it may have been once the group emptied;
	 * the members say whose group it is. */
	if (sid == -1)
		return errno == ESRCH && exec_members_ours(pgid, started_at_ms);
	/* The number now names a process that leads no session of that id: our
	 * group is gone and the number was reused. */
	if (sid != pgid)
		return 0;
	/* A session leader with that pid: ours if it started with the task
	 * (pid_max can be as low as 32768, so numbers do come round). */
	if (started_at_ms <= 0 || exec_proc_start_ms(pgid, &born) == -1)
		return 1;
	return llabs(born - started_at_ms) <= EXEC_START_SLACK_MS;
}
