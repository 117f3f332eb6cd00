/* auth.c: the bearer token: where it comes from, and checking it. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "jobd.h"
#include "log.h"

/* Shorter than this, a token is a password someone could guess. */
#define AUTH_WEAK_LEN 16

/* Where a token file came from: how far it is trusted. */
enum auth_src {
	AUTH_NAMED,     /* --token-file: the operator's choice, symlinks and all */
	AUTH_CREDS,     /* systemd's credentials: private to the service */
	AUTH_BESIDE,    /* jobd.token beside the database, perhaps a shared place */
};

/* path opened for reading, refused unless it is a regular file (a FIFO
 * would hang the start until someone writes; a device never ends) and,
 * beside the database, unless it is jobd's own: in a directory others may
 * write (a --db in /tmp), a jobd.token planted there, or a symlink to a
 * file of the planter's, would be a token they chose. */
static int
auth_open(const char *path, enum auth_src src, struct stat *st, struct err *e)
{
	int fd, flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;

	if (src == AUTH_BESIDE)
		flags |= O_NOFOLLOW;
	if ((fd = open(path, flags)) < 0 && errno == ELOOP && src == AUTH_BESIDE)
		return err_set(e, 1, "the token file %s is a symbolic link: jobd does not follow "
		    "one there (anyone who can write the directory could have made it); "
		    "name the file with --token-file", path);
	if (fd < 0)
		return err_set(e, 1, "cannot read a token from %s: %s", path, strerror(errno));
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return err_set(e, 1, "cannot read a token from %s: not a regular file", path);
	}
	if (src == AUTH_BESIDE && (st->st_uid != geteuid() || (st->st_mode & 022) != 0)) {
		close(fd);
		return err_set(e, 1, "the token file %s belongs to user %u or may be written by other "
		    "users (mode %03o): another user could have chosen its token; remove it (jobd "
		    "makes a new one), or make it jobd's user's with mode 0600", path,
		    (unsigned)st->st_uid, (unsigned)(st->st_mode & 0777));
	}
	return fd;
}

/* The token in path: the file without its trailing white space, as jobctl
 * reads it, so that a token that works for one works for the other.  Empty,
 * too long for buf (cut, it would not be the token jobctl sends), or with
 * spaces or control characters inside (they would not survive an
 * Authorization header), it is refused, not taken as it is.  A file in a
 * shared place (not systemd's private credentials) is checked for who else
 * may read it. */
static int
auth_read(const char *path, enum auth_src src, char **token, struct err *e)
{
	char        buf[512];
	struct stat st;
	ssize_t     got;
	size_t      n = 0, i;
	int         fd;

	if ((fd = auth_open(path, src, &st, e)) < 0)
		return -1;
	while (n < sizeof buf && (got = read(fd, buf + n, sizeof buf - n)) != 0) {
		if (got < 0 && errno != EINTR) {
			close(fd);
			return err_set(e, 1, "cannot read a token from %s: %s", path, strerror(errno));
		}
		n += got > 0 ? (size_t)got : 0;
	}
	close(fd);
	if (src != AUTH_CREDS && (st.st_mode & 077) != 0)
		log_warn("the token file %s can be read by other users (mode %03o): "
		    "anyone who reads it can run programs as jobd's user", path,
		    (unsigned)(st.st_mode & 0777));
	if (n == sizeof buf)
		return err_set(e, 1, "the token file %s is longer than %zu bytes", path, sizeof buf - 1);
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	for (i = 0; i < n && isgraph((unsigned char)buf[i]); i++)
		;
	if (n == 0)
		return err_set(e, 1, "the token file %s is empty", path);
	if (i < n)
		return err_set(e, 1, "the token in %s has a space or control character inside", path);
	if (n < AUTH_WEAK_LEN)
		log_warn("the token in %s is only %zu characters long: easy to guess", path, n);
	if ((*token = strdup(buf)) == NULL)
		fatal("out of memory");
	return 0;
}

/* 256 random bits as hex, in a 0600 file made only if none exists. */
static int
auth_make(const char *path, char **token, struct err *e)
{
	unsigned char raw[32];
	char          hex[65];
	int           fd, i;

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		fatal("getrandom: %s", strerror(errno));
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		if (errno == EEXIST)
			return auth_read(path, AUTH_BESIDE, token, e);
		return err_set(e, 1, "cannot create the token file %s: %s", path, strerror(errno));
	}
	if (write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		fatal("cannot write token file %s: %s", path, strerror(errno));
	close(fd);
	log_info("created a new token in %s", path);
	if ((*token = strdup(hex)) == NULL)
		fatal("out of memory");
	return 0;
}

int
auth_load(const struct jobd_config *c, char **token, struct err *e)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char       *path = NULL, *slash;
	int         rc;

	*token = NULL;
	if (c->no_auth)
		return 0;
	if (c->token_file != NULL)
		return auth_read(c->token_file, AUTH_NAMED, token, e);
	/* A credential that is not there is no credential: use the file. */
	if (creds != NULL && asprintf(&path, "%s/token", creds) > 0 && access(path, F_OK) == 0) {
		rc = auth_read(path, AUTH_CREDS, token, e);
		free(path);
		return rc;
	}
	free(path);
	slash = strrchr(c->db_path, '/');
	if (asprintf(&path, "%.*sjobd.token", slash ? (int)(slash - c->db_path + 1) : 0,
	    c->db_path) < 0)
		fatal("out of memory");
	if ((rc = auth_make(path, token, e)) == 0)
		log_info("auth: clients need the bearer token in %s", path);
	free(path);
	return rc;
}

/* Constant time in the token's length: no early exit on the first mismatch. */
int
auth_check(const char *token, const char *auth)
{
	size_t        i, n = strlen(token), m;
	unsigned char diff = 0;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return 0;
	auth += 7;
	m = strlen(auth);
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(token[i] ^ (i < m ? auth[i] : 0));
	return diff == 0 && m == n;
}

