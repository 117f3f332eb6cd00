/* auth.h: the bearer token: where it comes from, and checking it. */
#ifndef AUTH_H
#define AUTH_H

#include "json_util.h"

struct jobd_config;

/* --token-file, else $CREDENTIALS_DIRECTORY/token, else jobd.token beside
 * the database (made, 0600, at first start).  *token NULL with --no-auth. */
int auth_load(const struct jobd_config *c, char **token, struct err *e);
/* Does an Authorization header carry the token?  Constant time in its length. */
int auth_check(const char *token, const char *authorization);

#endif
