/* log.c: one line per event on stderr; syslog priority prefixes under the journal. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The level is set once at start-up from flags, before the loop runs: the one
 * piece of process-wide state, as stderr itself is. */
static enum log_level log_level = LOG_LVL_INFO;

static const char *const log_names[] = {
	[LOG_LVL_ERR] = "error", [LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info", [LOG_LVL_DEBUG] = "debug",
};
static const int log_prio[] = {
	[LOG_LVL_ERR] = 3, [LOG_LVL_WARN] = 4, [LOG_LVL_INFO] = 6, [LOG_LVL_DEBUG] = 7,
};

void
log_set_level(enum log_level lvl)
{
	log_level = lvl;
}

int
log_parse_level(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++)
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

static void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[1024];

	char *p;

	vsnprintf(line, sizeof line, fmt, ap);
	/* Names and paths come from clients: a newline or an escape in them
	 * must not forge a log line or drive a terminal. */
	for (p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (getenv("JOURNAL_STREAM") != NULL)
		fprintf(stderr, "<%d>%s\n", log_prio[lvl], line);
	else
		fprintf(stderr, "jobd: %s: %s\n", log_names[lvl], line);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl > log_level)
		return;
	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
