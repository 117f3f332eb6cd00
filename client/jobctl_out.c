/* jobctl_out.c: what jobctl prints: task summaries, tables, progress. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobctl.h"

#define JC_BRIEF_STRING	48	/* longer strings are shortened in summaries */
#define JC_BRIEF_LINE	300	/* and so is a whole summary value */
#define JC_WHAT_TTY	60	/* the WHAT column on a terminal */

struct jc_table {
	size_t	  ncols;
	size_t	  nrows;
	size_t	  cap;
	char	**cells;	/* nrows * ncols, owned */
	size_t	 *width;
};

/* The body exactly as jobd sent it, ending with a newline. */
void
jc_out_raw(const struct jc_resp *r)
{
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		putchar('\n');
}

/* A JSON value on stdout: indented for a person, one line for a pipe. */
void
jc_out_value(struct jobctl *jc, const json_t *v)
{
	size_t flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER;

	flags |= jc->out_tty ? JSON_INDENT(2) : JSON_COMPACT;
	json_dumpf(v, stdout, flags);
	putchar('\n');
}

/* Cut s to at most n bytes without splitting a UTF-8 sequence. */
static size_t
jc_utf8_cut(const char *s, size_t n)
{
	if (strlen(s) <= n)
		return strlen(s);
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * A copy of s fit for a terminal line: control characters (C0, DEL, C1) as
 * C escapes, so that a task's name or argv can neither break a table into
 * more lines nor send escape sequences to the terminal. Caller frees.
 */
char *
jc_out_printable(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			*out = NULL;
	size_t			 len = 0;
	FILE			*f;

	if ((f = open_memstream(&out, &len)) == NULL)
		abort();
	for (; *p != '\0'; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			fprintf(f, "\\u%04x", *++p);	/* C1, UTF-8 encoded */
		else
			fputc(*p, f);
	}
	if (fclose(f) != 0)
		abort();
	return out;
}

/* Display width of a UTF-8 string, counting one column per character. */
static size_t
jc_utf8_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* Shorten long strings inside v (a private copy) for a one-line view. */
static void
jc_brief_walk(json_t *v)
{
	const char	*key;
	json_t		*m;
	size_t		 i, n, len;
	char		*s;

	if (json_is_object(v)) {
		json_object_foreach(v, key, m) {
			if (json_is_string(m) &&
			    json_string_length(m) > JC_BRIEF_STRING) {
				len = json_string_length(m);
				n = jc_utf8_cut(json_string_value(m),
				    JC_BRIEF_STRING - 16);
				if (asprintf(&s, "%.*s... (%zu bytes)", (int)n,
				    json_string_value(m), len) != -1) {
					json_object_set_new(v, key, json_string(s));
					free(s);
				}
			} else
				jc_brief_walk(m);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			jc_brief_walk(m);
	}
}

/* A one-line view of v, at most max bytes (0: no limit); caller frees. */
char *
jc_out_brief(const json_t *v, size_t max)
{
	json_t	*copy;
	char	*s;
	size_t	 n;

	if ((copy = json_deep_copy(v)) == NULL)
		return NULL;
	jc_brief_walk(copy);
	if (json_is_string(copy) && json_string_length(copy) > JC_BRIEF_STRING)
		json_string_set(copy, "...");
	s = json_dumps(copy, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	json_decref(copy);
	if (s != NULL && max > 3 && strlen(s) > max) {
		n = jc_utf8_cut(s, max - 3);
		memcpy(s + n, "...", 4);
	}
	return s;
}

/* Shell-quote one word into f when it needs it. */
static void
jc_quote(FILE *f, const char *w)
{
	const char *p;

	if (*w != '\0' && strspn(w, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == strlen(w)) {
		fputs(w, f);
		return;
	}
	fputc('\'', f);
	for (p = w; *p != '\0'; p++) {
		if (*p == '\'')
			fputs("'\\''", f);
		else
			fputc(*p, f);
	}
	fputc('\'', f);
}

/* What a task does, in a few words: its argv, method and URL, seconds. */
char *
jc_out_what(const json_t *task)
{
	const char	*kind = json_string_value(json_object_get(task, "kind"));
	const json_t	*spec = json_object_get(task, "spec"), *a;
	char		*s = NULL, *brief;
	size_t		 len = 0, i;
	FILE		*f;

	if ((f = open_memstream(&s, &len)) == NULL)
		return NULL;
	if (kind != NULL && strcmp(kind, "exec") == 0) {
		json_array_foreach(json_object_get(spec, "argv"), i, a) {
			if (i > 0)
				fputc(' ', f);
			jc_quote(f, json_string_value(a) ? json_string_value(a) : "?");
		}
	} else if (kind != NULL && strcmp(kind, "http") == 0) {
		a = json_object_get(spec, "method");
		fprintf(f, "%s %s", json_is_string(a) ? json_string_value(a) :
		    "GET", json_string_value(json_object_get(spec, "url")));
	} else if (kind != NULL && strcmp(kind, "sleep") == 0) {
		fprintf(f, "%gs", json_number_value(json_object_get(spec,
		    "seconds")));
	} else if ((brief = jc_out_brief(spec, 0)) != NULL) {
		fputs(brief, f);
		free(brief);
	}
	fclose(f);
	return s;
}

static const char *
jc_str(const json_t *task, const char *key)
{
	const char *s = json_string_value(json_object_get(task, key));

	return s != NULL ? s : "-";
}

static void
jc_out_field(const char *label, const json_t *v)
{
	char *s;

	if (v == NULL || json_is_null(v)) {
		printf("%-9s -\n", label);
		return;
	}
	if (json_is_string(v)) {
		s = jc_out_printable(json_string_value(v));
		printf("%-9s %s\n", label, s);
		free(s);
		return;
	}
	s = jc_out_brief(v, JC_BRIEF_LINE);
	printf("%-9s %s\n", label, s != NULL ? s : "?");
	free(s);
}

/* The error of a done task: "type: message" then its other members. */
static void
jc_out_task_error(const json_t *error)
{
	json_t	*rest;
	char	*s;

	printf("%-9s %s: %s\n", "error", jc_str(error, "type"),
	    jc_str(error, "message"));
	if ((rest = json_deep_copy(error)) == NULL)
		return;
	json_object_del(rest, "type");
	json_object_del(rest, "message");
	if (json_object_size(rest) > 0 &&
	    (s = jc_out_brief(rest, JC_BRIEF_LINE)) != NULL) {
		printf("%-9s %s\n", "", s);
		free(s);
	}
	json_decref(rest);
}

/* jobctl get: one "label value" line per field. */
void
jc_out_task(const json_t *t)
{
	const json_t	*error = json_object_get(t, "error");
	const char	*state = jc_str(t, "state");

	jc_out_field("id", json_object_get(t, "id"));
	jc_out_field("name", json_object_get(t, "name"));
	jc_out_field("kind", json_object_get(t, "kind"));
	printf("%-9s %s%s\n", "state", state,
	    json_is_true(json_object_get(t, "cancelling")) ? " (cancelling)" : "");
	jc_out_field("created", json_object_get(t, "created_at"));
	jc_out_field("started", json_object_get(t, "started_at"));
	jc_out_field("finished", json_object_get(t, "finished_at"));
	jc_out_field("timeout", json_object_get(t, "timeout"));
	jc_out_field("spec", json_object_get(t, "spec"));
	if (strcmp(state, "succeeded") == 0)
		jc_out_field("result", json_object_get(t, "result"));
	else if (json_is_object(error))
		jc_out_task_error(error);
}

/* "jobctl: task 7 failed (exit_status): ..." for a task that did not succeed. */
void
jc_out_error_line(const char *what, long long id, const json_t *t)
{
	const json_t	*error = json_object_get(t, "error");
	const char	*msg = json_string_value(json_object_get(error, "message"));
	int		 len = msg != NULL ? (int)strcspn(msg, "\r\n") : 0;

	if (len > 0 && msg[len - 1] == '.')
		len--;
	if (what == NULL)
		what = jc_str(t, "state");
	if (strcmp(jc_str(error, "type"), "cancelled") == 0)
		fprintf(stderr, "jobctl: task %lld was cancelled\n", id);
	else if (msg != NULL)
		fprintf(stderr, "jobctl: task %lld %s (%s): %.*s\n", id, what,
		    jc_str(error, "type"), len, msg);
	else
		fprintf(stderr, "jobctl: task %lld %s\n", id, what);
}

/* "3/10 done" on a terminal's stderr while a wait blocks. */
void
jc_out_progress(struct jobctl *jc, size_t done, size_t total)
{
	if (!jc->err_tty)
		return;
	fprintf(stderr, "\r%zu/%zu done", done, total);
	fflush(stderr);
}

void
jc_out_progress_end(struct jobctl *jc)
{
	if (!jc->err_tty)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
}

struct jc_table *
jc_table_new(size_t ncols, ...)
{
	struct jc_table	*t;
	va_list		 ap;
	size_t		 i;
	const char	*h[16] = { NULL };

	if (ncols > 16 || (t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->ncols = ncols;
	if ((t->width = calloc(ncols, sizeof *t->width)) == NULL) {
		free(t);
		return NULL;
	}
	va_start(ap, ncols);
	for (i = 0; i < ncols; i++)
		h[i] = va_arg(ap, const char *);
	va_end(ap);
	jc_table_add(t, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8],
	    h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
	return t;
}

/* Add a row of ncols strings (NULL shows as "-"); they are copied. */
void
jc_table_add(struct jc_table *t, ...)
{
	va_list		 ap;
	size_t		 i, w;
	const char	*s;
	char		**cells, *cell;

	if (t == NULL)
		return;
	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		cells = reallocarray(t->cells, t->cap * t->ncols, sizeof *cells);
		if (cells == NULL)
			abort();
		t->cells = cells;
	}
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++) {
		if ((s = va_arg(ap, const char *)) == NULL)
			s = "-";
		cell = jc_out_printable(s);
		t->cells[t->nrows * t->ncols + i] = cell;
		if ((w = jc_utf8_width(cell)) > t->width[i])
			t->width[i] = w;
	}
	va_end(ap);
	t->nrows++;
}

/* Print aligned columns; with cut, the last column is cut for a terminal. */
void
jc_table_print(struct jc_table *t, int cut)
{
	size_t		 r, i, w;
	const char	*s;

	if (t == NULL)
		return;
	for (r = 0; r < t->nrows; r++) {
		for (i = 0; i < t->ncols; i++) {
			s = t->cells[r * t->ncols + i];
			if (i + 1 == t->ncols) {
				if (cut && strlen(s) > JC_WHAT_TTY)
					printf("%.*s...\n", (int)jc_utf8_cut(s,
					    JC_WHAT_TTY - 3), s);
				else
					printf("%s\n", s);
				break;
			}
			fputs(s, stdout);
			for (w = jc_utf8_width(s); w < t->width[i] + 2; w++)
				putchar(' ');
		}
	}
}

void
jc_table_free(struct jc_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}
