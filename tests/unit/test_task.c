/* test_task.c: task states, transitions and JSON form, and the UTF-8
 * repair (json_util) that kinds apply to the bytes a task produced. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_util.h"
#include "kind.h"
#include "tap.h"
#include "tap_json.h"
#include "task.h"

#define FFFD	"\xef\xbf\xbd"

static const char *const state_names[TASK_NSTATES] = {
	"pending", "running", "succeeded", "failed", "cancelled",
};

/* ---- states and transitions ------------------------------------------ */

static int
legal(enum task_state from, enum task_state to)
{
	switch (from) {
	case TASK_PENDING:
		return to == TASK_RUNNING || to == TASK_CANCELLED || to == TASK_FAILED;
	case TASK_RUNNING:
		return to == TASK_SUCCEEDED || to == TASK_FAILED || to == TASK_CANCELLED;
	default:
		return 0;
	}
}

static void
test_transitions(void)
{
	int from, to;

	/* Spelled out, so a table and this copy cannot be wrong the same way. */
	ok(task_can_transition(TASK_PENDING, TASK_RUNNING), "pending -> running is legal");
	ok(task_can_transition(TASK_PENDING, TASK_CANCELLED), "pending -> cancelled is legal");
	ok(task_can_transition(TASK_PENDING, TASK_FAILED), "pending -> failed is legal (e.g. interrupted)");
	ok(!task_can_transition(TASK_PENDING, TASK_SUCCEEDED), "pending -> succeeded is illegal (never ran)");
	ok(task_can_transition(TASK_RUNNING, TASK_SUCCEEDED), "running -> succeeded is legal");
	ok(task_can_transition(TASK_RUNNING, TASK_FAILED), "running -> failed is legal");
	ok(task_can_transition(TASK_RUNNING, TASK_CANCELLED), "running -> cancelled is legal");
	ok(!task_can_transition(TASK_RUNNING, TASK_PENDING), "running -> pending is illegal");

	for (from = 0; from < TASK_NSTATES; from++)
		for (to = 0; to < TASK_NSTATES; to++) {
			int  want = legal((enum task_state)from, (enum task_state)to);
			char name[96];

			snprintf(name, sizeof name, "%s -> %s is %s", state_names[from], state_names[to],
			    want ? "legal" : "illegal");
			is_int(!!task_can_transition((enum task_state)from, (enum task_state)to), want, name);
		}

	for (from = TASK_SUCCEEDED; from < TASK_NSTATES; from++) {
		int any = 0;

		for (to = 0; to < TASK_NSTATES; to++)
			any |= task_can_transition((enum task_state)from, (enum task_state)to);
		ok(!any, "nothing leaves the final state %s", state_names[from]);
	}
	for (from = 0; from < TASK_NSTATES; from++)
		ok(!task_can_transition((enum task_state)from, (enum task_state)from),
		    "%s -> %s is not a transition", state_names[from], state_names[from]);

	ok(!task_can_transition(TASK_NSTATES, TASK_RUNNING), "an out-of-range from state is refused");
	ok(!task_can_transition(TASK_PENDING, TASK_NSTATES), "an out-of-range to state is refused");
	ok(!task_can_transition((enum task_state)-1, TASK_RUNNING), "a negative from state is refused");
}

static void
test_states(void)
{
	enum task_state s;
	int             i;

	ok(!task_is_done(TASK_PENDING), "pending is not done");
	ok(!task_is_done(TASK_RUNNING), "running is not done");
	ok(task_is_done(TASK_SUCCEEDED), "succeeded is done");
	ok(task_is_done(TASK_FAILED), "failed is done");
	ok(task_is_done(TASK_CANCELLED), "cancelled is done");
	ok(!task_is_done(TASK_NSTATES), "TASK_NSTATES is not a done state");

	for (i = 0; i < TASK_NSTATES; i++) {
		is_str(task_state_name((enum task_state)i), state_names[i], "task_state_name");
		s = (enum task_state)-1;
		ok(task_state_parse(state_names[i], &s) == 0 && s == (enum task_state)i,
		    "task_state_parse(\"%s\") round-trips", state_names[i]);
		s = (enum task_state)-1;
		ok(task_state_parse(task_state_name((enum task_state)i), &s) == 0 && s == (enum task_state)i,
		    "task_state_parse(task_state_name(%d)) == %d", i, i);
	}
	is_str(task_state_name(TASK_NSTATES), "unknown", "task_state_name of an out-of-range state");

	ok(task_state_parse("", &s) == -1, "task_state_parse refuses \"\"");
	ok(task_state_parse("Pending", &s) == -1, "task_state_parse refuses \"Pending\" (case)");
	ok(task_state_parse("RUNNING", &s) == -1, "task_state_parse refuses \"RUNNING\"");
	ok(task_state_parse("done", &s) == -1, "task_state_parse refuses \"done\"");
	ok(task_state_parse("canceled", &s) == -1, "task_state_parse refuses \"canceled\" (one l)");
	ok(task_state_parse("cancelling", &s) == -1, "task_state_parse refuses \"cancelling\"");
	ok(task_state_parse("unknown", &s) == -1, "task_state_parse refuses \"unknown\"");
	ok(task_state_parse(" pending", &s) == -1, "task_state_parse refuses a leading blank");
	ok(task_state_parse("pending ", &s) == -1, "task_state_parse refuses a trailing blank");
	ok(task_state_parse("pend", &s) == -1, "task_state_parse refuses a prefix");
}

/* ---- task_new / task_to_json ------------------------------------------ */

/* task_to_json(t), and beside it a check that task_to_text(t), the text
 * answers send, is exactly what json_dumps writes of that object. */
static json_t *
to_json(const struct task *t)
{
	json_t *o = task_to_json(t);
	char   *want = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	size_t  len, wlen = strlen(want);
	char   *got = task_to_text(t, &len);

	ok(len == wlen + 1 && strncmp(got, want, wlen) == 0 && got[wlen] == '\n' &&
	    got[len] == '\0', "task %lld as text: %s", (long long)t->id, want);
	if (len != wlen + 1 || strncmp(got, want, wlen) != 0)
		tap_diag("  got: %s", got);
	free(want);
	free(got);
	return o;
}


static void
test_new(void)
{
	struct task *t = task_new(17, &kind_sleep_ops);

	is_int(t->id, 17, "task_new sets the id");
	ok(t->kind == &kind_sleep_ops, "task_new sets the kind");
	is_int(t->state, TASK_PENDING, "a new task is pending");
	is_int(t->stop, TASK_STOP_NONE, "a new task is not being stopped");
	ok(t->timeout == -1, "a new task has no timeout (-1)");
	ok(t->name == NULL && t->spec == NULL && t->result == NULL && t->error == NULL,
	    "a new task owns no name, spec, result or error");
	ok(t->created_at == 0 && t->started_at == 0 && t->finished_at == 0, "a new task has no times");
	ok(TAILQ_EMPTY(&t->watches), "a new task has no watchers");
	task_free(t);
	task_free(NULL);
	ok(1, "task_free(NULL) is a no-op");
}

static const char *const task_members[] = {
	"id", "kind", "name", "state", "created_at", "started_at", "finished_at",
	"timeout", "spec", "result", "error", NULL,
};

static void
has_members(const json_t *o, int cancelling, const char *why)
{
	size_t i, n = 0;
	int    all = 1;

	for (i = 0; task_members[i] != NULL; i++, n++)
		if (json_object_get(o, task_members[i]) == NULL) {
			diag("missing \"%s\"", task_members[i]);
			all = 0;
		}
	ok(all, "%s: every member of the task object is there", why);
	if (cancelling)
		ok(json_is_true(json_object_get(o, "cancelling")), "%s: \"cancelling\": true", why);
	else
		ok(json_object_get(o, "cancelling") == NULL, "%s: no \"cancelling\" member", why);
	is_int(json_object_size(o), n + (cancelling ? 1 : 0), "no other members");
}

static void
test_json_fresh(void)
{
	struct task *t = task_new(5, &kind_sleep_ops);
	json_t      *o = to_json(t);

	has_members(o, 0, "a fresh task");
	json_is(o, "{'id': 5, 'kind': 'sleep', 'name': null, 'state': 'pending', "
	    "'created_at': null, 'started_at': null, 'finished_at': null, 'timeout': null, "
	    "'spec': null, 'result': null, 'error': null}", "a fresh task in JSON: all null but id, kind, state");
	ok(json_is_integer(json_object_get(o, "id")), "id is a JSON integer");
	json_decref(o);
	task_free(t);

	t = task_new(INT64_MAX, &kind_exec_ops);
	o = to_json(t);
	ok(json_integer_value(json_object_get(o, "id")) == INT64_MAX, "id 2^63-1 survives");
	is_str(json_string_value(json_object_get(o, "kind")), "exec", "kind of an exec task");
	json_decref(o);
	task_free(t);

	t = task_new(6, &kind_http_ops);
	o = to_json(t);
	is_str(json_string_value(json_object_get(o, "kind")), "http", "kind of an http task");
	json_decref(o);
	task_free(t);
}

/* The example task of API.md, member for member. */
static void
test_json_example(void)
{
	struct task *t = task_new(17, &kind_sleep_ops);
	json_t      *o;
	size_t       spec_refs;

	t->state = TASK_SUCCEEDED;
	t->created_at = INT64_C(1795560300123);
	t->started_at = INT64_C(1795560300124);
	t->finished_at = INT64_C(1795560300725);
	t->spec = J("{'seconds': 0.6, 'result': 1}");
	t->result = json_integer(1);
	spec_refs = t->spec->refcount;
	o = to_json(t);
	has_members(o, 0, "the API.md example");
	json_is(o, "{'id': 17, 'kind': 'sleep', 'name': null, 'state': 'succeeded', "
	    "'created_at': '2026-11-24T22:45:00.123Z', 'started_at': '2026-11-24T22:45:00.124Z', "
	    "'finished_at': '2026-11-24T22:45:00.725Z', 'timeout': null, "
	    "'spec': {'seconds': 0.6, 'result': 1}, 'result': 1, 'error': null}",
	    "the API.md example task, exactly");
	json_decref(o);
	is_int(t->spec->refcount, spec_refs, "task_to_json takes no reference it keeps");
	task_free(t);
}

static void
timeout_is(double timeout, const char *want, int integer, const char *why)
{
	struct task *t = task_new(1, &kind_sleep_ops);
	json_t      *o, *v;

	t->timeout = timeout;
	o = to_json(t);
	v = json_object_get(o, "timeout");
	json_is(v, want, why);
	if (integer)
		ok(json_is_integer(v), "%s: a JSON integer", why);
	else if (!json_is_null(v))
		ok(json_is_real(v), "%s: a JSON real", why);
	json_decref(o);
	task_free(t);
}

static void
test_json_timeout(void)
{
	timeout_is(-1, "null", 0, "timeout -1 (none) is null");
	timeout_is(-0.5, "null", 0, "timeout -0.5 is null");
	timeout_is(0, "0", 1, "timeout 0 is 0, not null");
	timeout_is(30, "30", 1, "timeout 30 is the integer 30");
	timeout_is(30.0, "30", 1, "timeout 30.0 is the integer 30");
	timeout_is(1e9, "1000000000", 1, "timeout 1e9 is an integer");
	timeout_is(2.5, "2.5", 0, "timeout 2.5 stays a real");
	timeout_is(0.001, "0.001", 0, "timeout 0.001 stays a real");
	timeout_is(999999999.5, "999999999.5", 0, "timeout 999999999.5 stays a real");
}

static void
test_json_states(void)
{
	struct task *t;
	json_t      *o;
	int          s, stop;

	/* cancelling: only while stopping and not yet done. */
	for (s = TASK_RUNNING; s < TASK_NSTATES; s++)
		for (stop = TASK_STOP_NONE; stop <= TASK_STOP_DEADLINE; stop++) {
			int  want = stop != TASK_STOP_NONE && !task_is_done((enum task_state)s);
			char why[96];

			t = task_new(3, &kind_sleep_ops);
			t->state = (enum task_state)s;
			t->stop = (enum task_stop)stop;
			o = to_json(t);
			snprintf(why, sizeof why, "%s with stop %d", state_names[s], stop);
			has_members(o, want, why);
			is_str(json_string_value(json_object_get(o, "state")), state_names[s], "state name");
			json_decref(o);
			task_free(t);
		}
	t = task_new(3, &kind_sleep_ops);
	o = to_json(t);
	ok(json_object_get(o, "cancelling") == NULL, "a pending task not being stopped has no cancelling");
	json_decref(o);
	task_free(t);

	/* result: only when succeeded. */
	for (s = 0; s < TASK_NSTATES; s++) {
		char why[96];

		t = task_new(4, &kind_sleep_ops);
		t->state = (enum task_state)s;
		t->result = J("{'r': [1, 2]}");
		o = to_json(t);
		snprintf(why, sizeof why, "a %s task with a result: result is %s", state_names[s],
		    s == TASK_SUCCEEDED ? "shown" : "null");
		json_is(json_object_get(o, "result"), s == TASK_SUCCEEDED ? "{'r': [1, 2]}" : "null", why);
		json_decref(o);
		task_free(t);
	}
	t = task_new(4, &kind_sleep_ops);
	t->state = TASK_SUCCEEDED;
	o = to_json(t);
	json_is(json_object_get(o, "result"), "null", "a succeeded task without a result: null");
	json_decref(o);
	task_free(t);

	t = task_new(4, &kind_sleep_ops);
	t->state = TASK_SUCCEEDED;
	t->result = json_false();
	o = to_json(t);
	json_is(json_object_get(o, "result"), "false", "a succeeded task with result false");
	json_decref(o);
	task_free(t);

	/* error: carried as given, kind-specific members and all. */
	t = task_new(8, &kind_exec_ops);
	t->state = TASK_FAILED;
	t->started_at = INT64_C(1795819500123);
	t->finished_at = INT64_C(1795819501000);
	t->error = J("{'type': 'exit_status', 'message': 'm', 'exit_code': 3, 'signal': null}");
	o = to_json(t);
	has_members(o, 0, "a failed exec task");
	json_is(json_object_get(o, "error"),
	    "{'type': 'exit_status', 'message': 'm', 'exit_code': 3, 'signal': null}",
	    "a failed task's error with its kind-specific members");
	json_is(json_object_get(o, "result"), "null", "a failed task's result is null");
	json_is(json_object_get(o, "started_at"), "'2026-11-27T22:45:00.123Z'", "started_at is RFC 3339");
	json_is(json_object_get(o, "finished_at"), "'2026-11-27T22:45:01.000Z'", "finished_at has .000");
	json_is(json_object_get(o, "created_at"), "null", "created_at 0 is null");
	json_decref(o);
	task_free(t);

	t = task_new(9, &kind_sleep_ops);
	t->state = TASK_CANCELLED;
	t->error = J("{'type': 'cancelled', 'message': 'stopped'}");
	o = to_json(t);
	json_is(json_object_get(o, "error"), "{'type': 'cancelled', 'message': 'stopped'}",
	    "a cancelled task's error");
	json_decref(o);
	task_free(t);

	t = task_new(10, &kind_sleep_ops);
	t->state = TASK_RUNNING;
	t->stop = TASK_STOP_CANCEL;
	t->name = strdup("caf\xc3\xa9");
	t->timeout = 5;
	t->spec = J("{'seconds': 9, 'result': null}");
	o = to_json(t);
	json_is(o, "{'id': 10, 'kind': 'sleep', 'name': 'caf\\u00e9', 'state': 'running', 'cancelling': true, "
	    "'created_at': null, 'started_at': null, 'finished_at': null, 'timeout': 5, "
	    "'spec': {'seconds': 9, 'result': null}, 'result': null, 'error': null}",
	    "a running task being cancelled, exactly");
	json_decref(o);
	task_free(t);
}

/* ---- json_util: UTF-8 check and repair ------------------------------- */

#define B(s)	(const unsigned char *)(s), sizeof(s) - 1

static void
utf8_valid(const unsigned char *p, size_t n, const char *why)
{
	json_t *s;

	ok(ju_is_utf8(p, n) == 1, "ju_is_utf8 accepts %s", why);
	s = ju_string_lossy(p, n);
	ok(s != NULL && json_string_length(s) == n && memcmp(json_string_value(s), p, n) == 0,
	    "ju_string_lossy keeps %s byte for byte", why);
	json_decref(s);
}

static void
utf8_invalid(const unsigned char *p, size_t n, const char *want, size_t wantlen, const char *why)
{
	json_t *s;

	ok(ju_is_utf8(p, n) == 0, "ju_is_utf8 refuses %s", why);
	s = ju_string_lossy(p, n);
	if (!ok(s != NULL && json_string_length(s) == wantlen && memcmp(json_string_value(s), want, wantlen) == 0,
	    "ju_string_lossy repairs %s", why) && s != NULL) {
		size_t i;

		fputs("#   got bytes:", stdout);
		for (i = 0; i < json_string_length(s); i++)
			printf(" %02x", (unsigned char)json_string_value(s)[i]);
		fputc('\n', stdout);
	}
	ok(s != NULL && ju_is_utf8((const unsigned char *)json_string_value(s), json_string_length(s)),
	    "the repair of %s is valid UTF-8", why);
	json_decref(s);
}

/* Truncated or broken multibyte sequences: one U+FFFD or one per byte are
 * both defensible; what must hold is that the result is U+FFFDs only, then
 * the ASCII tail intact. */
static void
utf8_broken(const unsigned char *p, size_t n, size_t nbad, const char *tail, const char *why)
{
	json_t     *s;
	const char *v;
	size_t      len, k = 0;

	ok(ju_is_utf8(p, n) == 0, "ju_is_utf8 refuses %s", why);
	s = ju_string_lossy(p, n);
	v = s ? json_string_value(s) : "";
	len = s ? json_string_length(s) : 0;
	while (len - k >= 3 && memcmp(v + k, FFFD, 3) == 0)
		k += 3;
	if (!ok(s != NULL && k >= 3 && k <= 3 * nbad && strcmp(v + k, tail) == 0 && len == k + strlen(tail),
	    "ju_string_lossy turns %s into 1..%zu U+FFFD then \"%s\"", why, nbad, tail))
		diag("got %zu U+FFFD bytes then \"%s\"", k, v + k);
	json_decref(s);
}

static void
test_utf8(void)
{
	unsigned char all[256];
	json_t       *s;
	size_t        i;

	utf8_valid(B(""), "the empty string");
	utf8_valid(B("plain ASCII\n\t~"), "ASCII");
	utf8_valid(B("a\0b"), "an embedded NUL");
	utf8_valid(B("\x7f"), "DEL (U+007F)");
	utf8_valid(B("\xc2\x80"), "U+0080, the smallest two-byte");
	utf8_valid(B("caf\xc3\xa9"), "a two-byte character");
	utf8_valid(B("\xdf\xbf"), "U+07FF, the largest two-byte");
	utf8_valid(B("\xe0\xa0\x80"), "U+0800, the smallest three-byte");
	utf8_valid(B("\xe2\x82\xac"), "the euro sign");
	utf8_valid(B("\xed\x9f\xbf"), "U+D7FF, just below the surrogates");
	utf8_valid(B("\xee\x80\x80"), "U+E000, just above the surrogates");
	utf8_valid(B("\xef\xbf\xbd"), "U+FFFD itself");
	utf8_valid(B("\xef\xbf\xbf"), "U+FFFF");
	utf8_valid(B("\xf0\x90\x80\x80"), "U+10000, the smallest four-byte");
	utf8_valid(B("\xf0\x9f\x98\x80"), "an emoji");
	utf8_valid(B("\xf4\x8f\xbf\xbf"), "U+10FFFF, the largest code point");
	utf8_valid(B("x\xc3\xa9y\xe2\x82\xacz\xf0\x9f\x98\x80!"), "a mix of lengths");

	utf8_invalid(B("\xff"), FFFD, 3, "a lone 0xff");
	utf8_invalid(B("\xfe"), FFFD, 3, "a lone 0xfe");
	utf8_invalid(B("\x80"), FFFD, 3, "a lone continuation byte");
	utf8_invalid(B("\xbf"), FFFD, 3, "a lone 0xbf");
	utf8_invalid(B("a\xffz"), "a" FFFD "z", 5, "0xff between letters");
	utf8_invalid(B("\xc3"), FFFD, 3, "a two-byte lead at the end");
	utf8_invalid(B("caf\xc3"), "caf" FFFD, 6, "a two-byte sequence cut at the end");
	utf8_invalid(B("\xc3" "A"), FFFD "A", 4, "a two-byte lead before ASCII");
	utf8_invalid(B("\xe9t\xe9"), FFFD "t" FFFD, 7, "Latin-1 bytes");
	utf8_invalid(B("ok \xe2\x82\xac \xff end"), "ok \xe2\x82\xac " FFFD " end", 14,
	    "a bad byte after a good euro sign");
	utf8_invalid(B("a\0\xff"), "a\0" FFFD, 5, "a bad byte after a NUL");

	/* Overlong forms, surrogates and beyond U+10FFFF: never valid. */
	utf8_broken(B("\xc0\x80"), 2, "", "an overlong NUL (c0 80)");
	utf8_broken(B("\xc1\xbf"), 2, "", "an overlong two-byte (c1 bf)");
	utf8_broken(B("\xe0\x80\x80"), 3, "", "an overlong three-byte NUL");
	utf8_broken(B("\xe0\x9f\xbf"), 3, "", "an overlong U+07FF");
	utf8_broken(B("\xf0\x80\x80\x80"), 4, "", "an overlong four-byte NUL");
	utf8_broken(B("\xf0\x8f\xbf\xbf"), 4, "", "an overlong U+FFFF");
	utf8_broken(B("\xed\xa0\x80"), 3, "", "the surrogate U+D800");
	utf8_broken(B("\xed\xbf\xbf"), 3, "", "the surrogate U+DFFF");
	utf8_broken(B("\xed\xa0\xbd\xed\xb8\x80"), 6, "", "a CESU-8 surrogate pair");
	utf8_broken(B("\xf4\x90\x80\x80"), 4, "", "U+110000");
	utf8_broken(B("\xf5\x80\x80\x80"), 4, "", "a 0xf5 lead");
	utf8_broken(B("\xf8\x88\x80\x80\x80"), 5, "", "a five-byte form");

	/* Truncated sequences, at the end and before more text. */
	utf8_broken(B("\xe2\x82"), 2, "", "a three-byte sequence cut at the end");
	utf8_broken(B("\xe2\x82" "A"), 2, "A", "a three-byte sequence cut before ASCII");
	utf8_broken(B("\xf0\x9f\x98"), 3, "", "a four-byte sequence cut at the end");
	utf8_broken(B("\xf0\x9f\x98" "ok"), 3, "ok", "a four-byte sequence cut before ASCII");
	utf8_broken(B("\xf0\x9f"), 2, "", "a four-byte sequence cut after two bytes");
	utf8_broken(B("\xe2\x82\xe2\x82\xac"), 2, "\xe2\x82\xac", "a cut sequence before a whole euro sign");

	/* The length given is the end, whatever follows in memory. */
	ok(ju_is_utf8((const unsigned char *)"\xe2\x82\xac", 2) == 0,
	    "ju_is_utf8 stops at n: a euro sign cut to 2 bytes is not valid");
	ok(ju_is_utf8((const unsigned char *)"\xf0\x9f\x98\x80", 3) == 0,
	    "ju_is_utf8 stops at n: an emoji cut to 3 bytes is not valid");
	ok(ju_is_utf8((const unsigned char *)"ab\xff", 2) == 1, "ju_is_utf8 stops at n: a bad byte past n is ignored");
	s = ju_string_lossy((const unsigned char *)"x\xe2\x82\xac", 3);
	ok(s != NULL && json_string_length(s) >= 4 && memcmp(json_string_value(s), "x" FFFD, 4) == 0 &&
	    strstr(json_string_value(s), "\xe2\x82\xac") == NULL,
	    "ju_string_lossy stops at n: a euro sign cut to 2 bytes is repaired, not completed");
	json_decref(s);
	s = ju_string_lossy((const unsigned char *)"abc", 2);
	ok(s != NULL && json_string_length(s) == 2 && strcmp(json_string_value(s), "ab") == 0,
	    "ju_string_lossy of valid text takes n bytes");
	json_decref(s);

	for (i = 0; i < sizeof all; i++)
		all[i] = (unsigned char)i;
	ok(ju_is_utf8(all, sizeof all) == 0, "ju_is_utf8 refuses all 256 byte values");
	s = ju_string_lossy(all, sizeof all);
	ok(s != NULL && ju_is_utf8((const unsigned char *)json_string_value(s), json_string_length(s)),
	    "the repair of all 256 byte values is valid UTF-8");
	ok(s != NULL && json_string_length(s) >= 128 && memcmp(json_string_value(s), all, 128) == 0,
	    "the repair keeps the 128 ASCII bytes in front");
	ok(s != NULL && json_string_length(s) == 128 + 128 * 3, "each of the 128 high bytes became one U+FFFD");
	json_decref(s);
}

int
main(void)
{
	test_transitions();
	test_states();
	test_new();
	test_json_fresh();
	test_json_example();
	test_json_timeout();
	test_json_states();
	test_utf8();
	return done_testing();
}
