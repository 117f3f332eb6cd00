/* kind.c: the table of job kinds. */
#include "config.h"

#include <string.h>

#include "kind.h"

static const struct kind_ops *const kind_table[] = {
	&kind_sleep_ops,
	&kind_exec_ops,
	&kind_http_ops,
	NULL,
};

const struct kind_ops *
kind_find(const char *name)
{
	const struct kind_ops *const *k;

	for (k = kind_table; *k != NULL; k++)
		if (strcmp((*k)->name, name) == 0)
			return *k;
	return NULL;
}

const struct kind_ops *const *
kind_all(void)
{
	return kind_table;
}
