/* auth.c: the bearer token: where it comes from, and checking it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth.h"
#include "jobd.h"
#include "log.h"

static char *
auth_read(const char *path)
{
	char    buf[512];
	FILE   *f = fopen(path, "re");
	size_t  n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf[0] ? strdup(buf) : NULL;
}

/* 256 random bits as hex, in a 0600 file made only if none exists. */
static char *
auth_make(const char *path)
{
	unsigned char raw[32];
	char          hex[65];
	int           fd, i;

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		fatal("getrandom: %s", strerror(errno));
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return errno == EEXIST ? auth_read(path) : NULL;
	if (write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		fatal("cannot write token file %s: %s", path, strerror(errno));
	close(fd);
	log_info("created a new token in %s", path);
	return strdup(hex);
}

int
auth_load(const struct jobd_config *c, char **token, struct err *e)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char       *path = NULL, *slash;

	*token = NULL;
	if (c->no_auth)
		return 0;
	if (c->token_file != NULL) {
		if ((*token = auth_read(c->token_file)) == NULL)
			return err_set(e, 1, "cannot read a token from %s", c->token_file);
		return 0;
	}
	if (creds != NULL && asprintf(&path, "%s/token", creds) > 0 &&
	    (*token = auth_read(path)) != NULL) {
		free(path);
		return 0;
	}
	free(path);
	slash = strrchr(c->db_path, '/');
	if (asprintf(&path, "%.*sjobd.token", slash ? (int)(slash - c->db_path + 1) : 0,
	    c->db_path) < 0)
		fatal("out of memory");
	if ((*token = auth_make(path)) == NULL) {
		err_set(e, 1, "cannot create or read the token file %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	log_info("auth: clients need the bearer token in %s", path);
	free(path);
	return 0;
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

