/* test_spec.c: request bodies and queries -> validated specs, and the
 * strict JSON member checks they are built on (json_util). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_util.h"
#include "kind.h"
#include "spec.h"
#include "tap.h"
#include "tap_json.h"


static const char *
fmt(char *buf, size_t len, const char *what, const char *why)
{
	snprintf(buf, len, "%s: %s", why, what);
	return buf;
}

/* ---- spec_parse_task ------------------------------------------------- */

/* Parses text, which must be valid; the caller checks and clears *s. */
static int
task_good(const char *text, struct task_spec *s, const char *why)
{
	json_t    *body = J(text);
	struct err e = { 0, "" };
	int        r = spec_parse_task(body, s, &e);

	if (!ok(r == 0, "spec_parse_task accepts %s", why))
		diag("refused %d: %s", e.status, e.msg);
	json_decref(body);
	return r;
}

/* text must be refused with 400 and a message naming culprit. */
static void
task_bad(const char *text, const char *culprit, const char *why)
{
	json_t          *body = J(text);
	struct task_spec s;
	struct err       e = { 0, "" };
	char             name[512];
	int              r;

	r = spec_parse_task(body, &s, &e);
	if (!ok(r == -1 && e.status == 400, "spec_parse_task refuses %s with 400", why))
		diag("returned %d, status %d", r, e.status);
	contains(e.msg, culprit, fmt(name, sizeof name, "the message names the culprit", why));
	ok(s.spec == NULL && s.name == NULL, "%s: nothing is left owned", why);
	spec_task_clear(&s);
	json_decref(body);
}

static void
test_task_valid(void)
{
	struct task_spec s;

	if (task_good("{'kind': 'sleep', 'sleep': {'seconds': 1}}", &s, "a minimal sleep") == 0) {
		ok(s.kind == &kind_sleep_ops, "kind is the sleep table");
		ok(s.name == NULL, "no name: NULL");
		ok(s.timeout == -1, "no timeout: -1");
		json_is(s.spec, "{'seconds': 1, 'result': null}", "sleep spec is normalised with result null");
	}
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'name': 'nap', 'timeout': 30, "
	    "'sleep': {'seconds': 0.5, 'result': {'a': [1, 'x', null]}}}", &s, "a full sleep") == 0) {
		is_str(s.name, "nap", "name is copied");
		ok(s.timeout == 30, "timeout 30 is kept");
		json_is(s.spec, "{'seconds': 0.5, 'result': {'a': [1, 'x', null]}}",
		    "sleep spec keeps seconds and a structured result");
	}
	spec_task_clear(&s);
	ok(s.name == NULL && s.spec == NULL && s.timeout == -1, "spec_task_clear resets the spec");

	if (task_good("{'sleep': {'result': 42, 'seconds': 0}, 'kind': 'sleep'}", &s,
	    "members in any order, seconds 0") == 0)
		json_is(s.spec, "{'seconds': 0, 'result': 42}", "seconds 0 and result 42");
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'sleep': {'seconds': 1e9}}", &s, "seconds 1e9") == 0)
		ok(json_number_value(json_object_get(s.spec, "seconds")) == 1e9, "seconds is 1e9");
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'sleep': {'seconds': 1, 'result': false}}", &s, "result false") == 0)
		ok(json_is_false(json_object_get(s.spec, "result")), "result false is not taken for absent");
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'name': null, 'timeout': null, 'sleep': {'seconds': 1}}", &s,
	    "name and timeout null") == 0) {
		ok(s.name == NULL, "name null: NULL");
		ok(s.timeout == -1, "timeout null: -1");
	}
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'timeout': 0, 'sleep': {'seconds': 1}}", &s, "timeout 0") == 0)
		ok(s.timeout == 0, "timeout 0 is kept as 0, not as none");
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'timeout': 2.5, 'sleep': {'seconds': 1}}", &s, "timeout 2.5") == 0)
		ok(s.timeout == 2.5, "timeout 2.5 is kept");
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'timeout': 1e9, 'sleep': {'seconds': 1}}", &s, "timeout 1e9") == 0)
		ok(s.timeout == 1e9, "timeout 1e9 is kept");
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'name': '', 'sleep': {'seconds': 1}}", &s, "an empty name") == 0)
		is_str(s.name, "", "empty name is kept");
	spec_task_clear(&s);

	if (task_good("{'kind': 'sleep', 'name': 'caf\\u00e9 \\u2603', 'sleep': {'seconds': 1}}", &s,
	    "a UTF-8 name") == 0)
		is_str(s.name, "caf\xc3\xa9 \xe2\x98\x83", "UTF-8 name is kept byte for byte");
	spec_task_clear(&s);
}

/* {"kind": "sleep", "name": <n bytes of 'a' or a 2-byte character>, ...} */
static json_t *
body_with_name(size_t n, int multibyte)
{
	char   *name = malloc(n + 1);
	json_t *body;
	size_t  i;

	if (name == NULL)
		bail_out("out of memory");
	for (i = 0; i < n; i++)
		name[i] = multibyte ? (i % 2 ? (char)0xa9 : (char)0xc3) : 'a';
	name[n] = '\0';
	body = J("{'kind': 'sleep', 'sleep': {'seconds': 1}}");
	json_object_set_new(body, "name", json_string(name));
	free(name);
	return body;
}

static void
test_task_name_length(void)
{
	struct task_spec s;
	struct err       e = { 0, "" };
	json_t          *body;

	body = body_with_name(256, 0);
	if (!ok(spec_parse_task(body, &s, &e) == 0, "a name of 256 bytes is accepted"))
		diag("refused: %s", e.msg);
	is_int(s.name ? strlen(s.name) : 0, 256, "the 256-byte name is kept whole");
	spec_task_clear(&s);
	json_decref(body);

	body = body_with_name(256, 1);
	ok(spec_parse_task(body, &s, &e) == 0, "a name of 128 two-byte characters (256 bytes) is accepted");
	spec_task_clear(&s);
	json_decref(body);

	e = (struct err){ 0, "" };
	body = body_with_name(257, 0);
	ok(spec_parse_task(body, &s, &e) == -1 && e.status == 400, "a name of 257 bytes is refused with 400");
	contains(e.msg, "name", "the message names \"name\"");
	ok(s.name == NULL && s.spec == NULL, "a refused name leaves nothing owned");
	spec_task_clear(&s);
	json_decref(body);

	/* 129 characters but 258 bytes: the limit is in bytes. */
	e = (struct err){ 0, "" };
	body = body_with_name(258, 1);
	ok(spec_parse_task(body, &s, &e) == -1 && e.status == 400,
	    "a name of 129 two-byte characters (258 bytes) is refused");
	spec_task_clear(&s);
	json_decref(body);
}

static void
test_task_invalid(void)
{
	/* The body itself. */
	task_bad("[]", "object", "an array body");
	task_bad("1", "object", "a number body");
	task_bad("'sleep'", "object", "a string body");
	task_bad("null", "object", "a null body");

	/* kind */
	task_bad("{'sleep': {'seconds': 1}}", "kind", "a missing kind");
	task_bad("{}", "kind", "an empty body");
	task_bad("{'kind': 1, 'sleep': {'seconds': 1}}", "kind", "a numeric kind");
	task_bad("{'kind': null, 'sleep': {'seconds': 1}}", "kind", "a null kind");
	task_bad("{'kind': ['sleep'], 'sleep': {'seconds': 1}}", "kind", "an array kind");
	task_bad("{'kind': {'sleep': {}}}", "kind", "an object kind");
	task_bad("{'kind': 'nap'}", "nap", "an unknown kind");
	task_bad("{'kind': 'Sleep', 'sleep': {'seconds': 1}}", "Sleep", "a kind in the wrong case");
	task_bad("{'kind': '', 'sleep': {'seconds': 1}}", "kind", "an empty kind");
	task_bad("{'kind': 'nap', 'nap': {}}", "nap", "an unknown kind with its member");

	/* Members naming another kind. */
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1}, 'exec': {'argv': ['true']}}", "exec",
	    "kind sleep with an exec member");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1}, 'http': {'url': 'http://127.0.0.1/'}}", "http",
	    "kind sleep with an http member");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1}, 'exec': null}", "exec",
	    "kind sleep with a null exec member");
	task_bad("{'kind': 'exec', 'sleep': {'seconds': 1}}", "sleep",
	    "kind exec with only a sleep member");

	/* The kind's own member. */
	task_bad("{'kind': 'sleep'}", "sleep", "a missing sleep member");
	task_bad("{'kind': 'sleep', 'sleep': 1}", "sleep", "a numeric sleep member");
	task_bad("{'kind': 'sleep', 'sleep': null}", "sleep", "a null sleep member");
	task_bad("{'kind': 'sleep', 'sleep': [1]}", "sleep", "an array sleep member");
	task_bad("{'kind': 'sleep', 'sleep': 'seconds=1'}", "sleep", "a string sleep member");

	/* Unknown members. */
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1}, 'nmae': 'x'}", "nmae", "an unknown top-level member");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1}, 'Kind': 'sleep'}", "Kind",
	    "a top-level member in the wrong case");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1}, 'spec': {}}", "spec",
	    "a top-level spec member");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1, 'reslt': 2}}", "reslt", "an unknown member in sleep");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1, 'timeout': 2}}", "timeout",
	    "a top-level member put inside sleep");

	/* seconds */
	task_bad("{'kind': 'sleep', 'sleep': {}}", "seconds", "sleep without seconds");
	task_bad("{'kind': 'sleep', 'sleep': {'result': 1}}", "seconds", "sleep with a result but no seconds");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': -1}}", "seconds", "negative seconds");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': -0.001}}", "seconds", "slightly negative seconds");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': '1'}}", "seconds", "seconds as a string");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1e10}}", "seconds", "seconds 1e10");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': 1000000000.5}}", "seconds", "seconds just over 1e9");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': true}}", "seconds", "seconds true");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': false}}", "seconds", "seconds false");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': null}}", "seconds", "seconds null");
	task_bad("{'kind': 'sleep', 'sleep': {'seconds': [1]}}", "seconds", "seconds as an array");

	/* name */
	task_bad("{'kind': 'sleep', 'name': 1, 'sleep': {'seconds': 1}}", "name", "a numeric name");
	task_bad("{'kind': 'sleep', 'name': true, 'sleep': {'seconds': 1}}", "name", "a boolean name");
	task_bad("{'kind': 'sleep', 'name': ['a'], 'sleep': {'seconds': 1}}", "name", "an array name");
	task_bad("{'kind': 'sleep', 'name': {}, 'sleep': {'seconds': 1}}", "name", "an object name");
	task_bad("{'kind': 'sleep', 'name': 'a\\u0000b', 'sleep': {'seconds': 1}}", "name",
	    "a name with a NUL character");

	/* timeout */
	task_bad("{'kind': 'sleep', 'timeout': -1, 'sleep': {'seconds': 1}}", "timeout", "a negative timeout");
	task_bad("{'kind': 'sleep', 'timeout': '30', 'sleep': {'seconds': 1}}", "timeout", "a string timeout");
	task_bad("{'kind': 'sleep', 'timeout': true, 'sleep': {'seconds': 1}}", "timeout", "a boolean timeout");
	task_bad("{'kind': 'sleep', 'timeout': 1e10, 'sleep': {'seconds': 1}}", "timeout", "timeout 1e10");
	task_bad("{'kind': 'sleep', 'timeout': {}, 'sleep': {'seconds': 1}}", "timeout", "an object timeout");

	/* A bad member elsewhere must not leak what a valid kind spec made. */
	task_bad("{'kind': 'sleep', 'name': 5, 'sleep': {'seconds': 1, 'result': [1, 2, 3]}}", "name",
	    "a good sleep with a bad name");
	task_bad("{'kind': 'sleep', 'name': 'ok', 'timeout': -5, 'sleep': {'seconds': 1}}", "timeout",
	    "a good name with a bad timeout");
}

/* ---- spec_parse_wait ------------------------------------------------- */

static int
wait_good(const char *text, int gather, struct wait_spec *w, const char *why)
{
	json_t    *body = J(text);
	struct err e = { 0, "" };
	int        r = spec_parse_wait(body, gather, w, &e);

	if (!ok(r == 0, "%s accepts %s", gather ? "gather" : "wait", why))
		diag("refused %d: %s", e.status, e.msg);
	json_decref(body);
	return r;
}

static void
wait_bad(const char *text, int gather, const char *culprit, const char *why)
{
	json_t          *body = J(text);
	struct wait_spec w;
	struct err       e = { 0, "" };
	char             name[512];
	int              r;

	r = spec_parse_wait(body, gather, &w, &e);
	if (!ok(r == -1 && e.status == 400, "%s refuses %s with 400", gather ? "gather" : "wait", why))
		diag("returned %d, status %d", r, e.status);
	contains(e.msg, culprit, fmt(name, sizeof name, "the message names the culprit", why));
	/* On failure the caller still owns what was parsed so far. */
	spec_wait_clear(&w);
	json_decref(body);
}

static void
test_wait_valid(void)
{
	struct wait_spec w;

	if (wait_good("{'ids': [1, 2]}", 0, &w, "two ids") == 0) {
		is_int(w.nids, 2, "two ids: nids 2");
		ok(w.ids != NULL && w.ids[0] == 1 && w.ids[1] == 2, "ids in the order given");
		ok(w.tasks == NULL && w.ntasks == 0, "ids: no inline tasks");
		ok(w.timeout == -1, "no timeout: -1");
		is_int(w.return_when, WAIT_ALL_COMPLETED, "return_when defaults to ALL_COMPLETED");
	}
	spec_wait_clear(&w);

	if (wait_good("{'ids': [7, 3, 7]}", 0, &w, "duplicate ids") == 0)
		ok(w.nids == 3 && w.ids[0] == 7 && w.ids[1] == 3 && w.ids[2] == 7,
		    "duplicates are kept for the caller to fold");
	spec_wait_clear(&w);

	if (wait_good("{'ids': [9223372036854775807]}", 0, &w, "the largest id") == 0)
		ok(w.nids == 1 && w.ids[0] == INT64_MAX, "id 2^63-1 is kept");
	spec_wait_clear(&w);

	if (wait_good("{'ids': [1], 'return_when': 'FIRST_COMPLETED'}", 0, &w, "FIRST_COMPLETED") == 0)
		is_int(w.return_when, WAIT_FIRST_COMPLETED, "return_when FIRST_COMPLETED");
	spec_wait_clear(&w);
	if (wait_good("{'ids': [1], 'return_when': 'FIRST_EXCEPTION'}", 0, &w, "FIRST_EXCEPTION") == 0)
		is_int(w.return_when, WAIT_FIRST_EXCEPTION, "return_when FIRST_EXCEPTION");
	spec_wait_clear(&w);
	if (wait_good("{'ids': [1], 'return_when': 'ALL_COMPLETED'}", 0, &w, "ALL_COMPLETED") == 0)
		is_int(w.return_when, WAIT_ALL_COMPLETED, "return_when ALL_COMPLETED");
	spec_wait_clear(&w);

	if (wait_good("{'ids': [1], 'timeout': 1.5}", 0, &w, "timeout 1.5") == 0)
		ok(w.timeout == 1.5, "timeout 1.5 is kept");
	spec_wait_clear(&w);
	if (wait_good("{'ids': [1], 'timeout': 0}", 0, &w, "timeout 0") == 0)
		ok(w.timeout == 0, "timeout 0 is kept as 0");
	spec_wait_clear(&w);
	if (wait_good("{'ids': [1], 'timeout': null}", 0, &w, "timeout null") == 0)
		ok(w.timeout == -1, "timeout null: -1");
	spec_wait_clear(&w);

	if (wait_good("{'tasks': [{'kind': 'sleep', 'sleep': {'seconds': 0}}, "
	    "{'kind': 'sleep', 'name': 'b', 'sleep': {'seconds': 1, 'result': 2}}]}", 0, &w,
	    "two inline tasks") == 0) {
		is_int(w.ntasks, 2, "two inline tasks: ntasks 2");
		ok(w.ids == NULL && w.nids == 0, "inline tasks: no ids");
		ok(w.tasks != NULL && w.tasks[0].kind == &kind_sleep_ops && w.tasks[0].name == NULL,
		    "first inline task is a nameless sleep");
		ok(w.tasks != NULL && w.tasks[1].name != NULL && strcmp(w.tasks[1].name, "b") == 0,
		    "second inline task is named b");
		json_is(w.tasks ? w.tasks[1].spec : NULL, "{'seconds': 1, 'result': 2}",
		    "second inline task spec is normalised");
	}
	spec_wait_clear(&w);
	ok(w.ids == NULL && w.tasks == NULL && w.nids == 0 && w.ntasks == 0, "spec_wait_clear resets");

	/* gather */
	if (wait_good("{'ids': [4, 4]}", 1, &w, "an id twice") == 0) {
		ok(w.nids == 2 && w.ids[0] == 4 && w.ids[1] == 4, "gather keeps both positions");
		ok(w.return_exceptions == 0, "return_exceptions defaults to false");
		ok(w.cancel == 1, "cancel defaults to true");
		ok(w.timeout == -1, "gather without timeout: -1");
	}
	spec_wait_clear(&w);

	if (wait_good("{'ids': []}", 1, &w, "empty ids") == 0)
		is_int(w.nids, 0, "gather of no ids: nids 0");
	spec_wait_clear(&w);
	if (wait_good("{'tasks': []}", 1, &w, "empty tasks") == 0)
		is_int(w.ntasks, 0, "gather of no tasks: ntasks 0");
	spec_wait_clear(&w);

	if (wait_good("{'ids': [1], 'return_exceptions': true, 'cancel': false, 'timeout': 3}", 1, &w,
	    "all members") == 0) {
		ok(w.return_exceptions == 1, "return_exceptions true");
		ok(w.cancel == 0, "cancel false");
		ok(w.timeout == 3, "timeout 3");
	}
	spec_wait_clear(&w);

	if (wait_good("{'ids': [1], 'return_exceptions': false, 'cancel': true}", 1, &w,
	    "explicit defaults") == 0)
		ok(w.return_exceptions == 0 && w.cancel == 1, "return_exceptions false, cancel true");
	spec_wait_clear(&w);

	if (wait_good("{'tasks': [{'kind': 'sleep', 'sleep': {'seconds': 0, 'result': 'x'}}]}", 1, &w,
	    "one inline task") == 0)
		ok(w.ntasks == 1 && w.tasks[0].kind == &kind_sleep_ops, "gather inline task is a sleep");
	spec_wait_clear(&w);
}

static void
test_wait_invalid(void)
{
	int g;

	for (g = 0; g <= 1; g++) {
		wait_bad("[]", g, "object", "an array body");
		wait_bad("{}", g, "ids", "neither ids nor tasks");
		wait_bad("{'timeout': 1}", g, "tasks", "only a timeout");
		wait_bad("{'ids': [1], 'tasks': [{'kind': 'sleep', 'sleep': {'seconds': 0}}]}", g, "tasks",
		    "both ids and tasks");
		wait_bad("{'ids': [], 'tasks': []}", g, "ids", "both, empty");
		wait_bad("{'ids': 1}", g, "ids", "ids not an array");
		wait_bad("{'ids': '1,2'}", g, "ids", "ids as a string");
		wait_bad("{'ids': {'1': 1}}", g, "ids", "ids as an object");
		wait_bad("{'ids': null}", g, "ids", "ids null");
		wait_bad("{'ids': [0]}", g, "ids", "id 0");
		wait_bad("{'ids': [-1]}", g, "ids", "a negative id");
		wait_bad("{'ids': [1.0]}", g, "ids", "id 1.0");
		wait_bad("{'ids': [1.5]}", g, "ids", "id 1.5");
		wait_bad("{'ids': ['1']}", g, "ids", "an id as a string");
		wait_bad("{'ids': [null]}", g, "ids", "a null id");
		wait_bad("{'ids': [true]}", g, "ids", "a boolean id");
		wait_bad("{'ids': [[1]]}", g, "ids", "a nested array id");
		wait_bad("{'ids': [1e30]}", g, "ids", "a huge real id");
		wait_bad("{'ids': [1, 2, 'x']}", g, "[2]", "a bad third id (its index is named)");
		wait_bad("{'tasks': 1}", g, "tasks", "tasks not an array");
		wait_bad("{'tasks': [1]}", g, "tasks", "a task that is not an object");
		wait_bad("{'tasks': [{'kind': 'sleep', 'sleep': {'seconds': 0}}, "
		    "{'kind': 'sleep', 'sleep': {'seconds': -1}}]}", g, "seconds",
		    "a bad second inline task (its culprit is named)");
		wait_bad("{'tasks': [{'kind': 'sleep', 'sleep': {'seconds': 0}}, "
		    "{'kind': 'sleep', 'sleep': {'seconds': -1}}]}", g, "[1]",
		    "a bad second inline task (its index is named)");
		wait_bad("{'tasks': [{'kind': 'sleep', 'name': 'a', 'sleep': {'seconds': 0, 'result': [1]}}, "
		    "{'kind': 'nap'}]}", g, "nap", "a good task then an unknown kind");
		wait_bad("{'ids': [1], 'timeout': -1}", g, "timeout", "a negative timeout");
		wait_bad("{'ids': [1], 'timeout': '1'}", g, "timeout", "a string timeout");
		wait_bad("{'ids': [1], 'timeout': true}", g, "timeout", "a boolean timeout");
		wait_bad("{'ids': [1], 'timeout': 1e10}", g, "timeout", "timeout 1e10");
		wait_bad("{'ids': [1], 'idz': [1]}", g, "idz", "an unknown member");
		wait_bad("{'ids': [1], 'kind': 'sleep'}", g, "kind", "a task member at the top");
	}

	/* wait only */
	wait_bad("{'ids': []}", 0, "ids", "empty ids");
	wait_bad("{'tasks': []}", 0, "tasks", "empty tasks");
	wait_bad("{'ids': [1], 'return_exceptions': true}", 0, "return_exceptions",
	    "return_exceptions (a gather member)");
	wait_bad("{'ids': [1], 'cancel': false}", 0, "cancel", "cancel (wait never cancels)");
	wait_bad("{'ids': [1], 'return_when': 'first_completed'}", 0, "return_when", "return_when in lower case");
	wait_bad("{'ids': [1], 'return_when': 'ANY_COMPLETED'}", 0, "return_when", "an unknown return_when");
	wait_bad("{'ids': [1], 'return_when': ''}", 0, "return_when", "an empty return_when");
	wait_bad("{'ids': [1], 'return_when': 1}", 0, "return_when", "a numeric return_when");
	wait_bad("{'ids': [1], 'return_when': null}", 0, "return_when", "a null return_when");
	wait_bad("{'ids': [1], 'return_when': ['FIRST_COMPLETED']}", 0, "return_when", "an array return_when");

	/* gather only */
	wait_bad("{'ids': [1], 'return_when': 'FIRST_COMPLETED'}", 1, "return_when",
	    "return_when (a wait member)");
	wait_bad("{'ids': [1], 'return_exceptions': 'true'}", 1, "return_exceptions",
	    "return_exceptions as a string");
	wait_bad("{'ids': [1], 'return_exceptions': 1}", 1, "return_exceptions", "return_exceptions 1");
	wait_bad("{'ids': [1], 'return_exceptions': null}", 1, "return_exceptions", "return_exceptions null");
	wait_bad("{'ids': [1], 'cancel': 0}", 1, "cancel", "cancel 0");
	wait_bad("{'ids': [1], 'cancel': 'false'}", 1, "cancel", "cancel as a string");
	wait_bad("{'ids': [1], 'cancel': null}", 1, "cancel", "cancel null");
}

/* ---- spec_parse_list / spec_parse_result ------------------------------ */

#define Q(...)	((const struct query_arg []){ __VA_ARGS__, { NULL, NULL } })
#define NOQ	((const struct query_arg []){ { NULL, NULL } })

static void
list_bad(const struct query_arg *q, const char *culprit, const char *why)
{
	struct list_spec l;
	struct err       e = { 0, "" };
	char             name[512];
	int              r = spec_parse_list(q, &l, &e);

	if (!ok(r == -1 && e.status == 400, "list refuses %s with 400", why))
		diag("returned %d, status %d", r, e.status);
	contains(e.msg, culprit, fmt(name, sizeof name, "the message names the culprit", why));
}

static int
list_good(const struct query_arg *q, struct list_spec *l, const char *why)
{
	struct err e = { 0, "" };
	int        r = spec_parse_list(q, l, &e);

	if (!ok(r == 0, "list accepts %s", why))
		diag("refused %d: %s", e.status, e.msg);
	return r;
}

static void
test_list(void)
{
	static const char *const states[] = { "pending", "running", "succeeded", "failed", "cancelled" };
	static const char *const kinds[] = { "sleep", "exec", "http" };
	struct list_spec         l;
	char                     name[128];
	size_t                   i;

	if (list_good(NOQ, &l, "no query") == 0) {
		is_int(l.limit, 100, "limit defaults to 100");
		ok(l.has_state == 0, "no state filter");
		ok(l.kind == NULL, "no kind filter");
		is_int(l.after_id, 0, "after_id defaults to 0");
	}

	for (i = 0; i < sizeof states / sizeof states[0]; i++) {
		snprintf(name, sizeof name, "state=%s", states[i]);
		if (list_good(Q({ "state", states[i] }), &l, name) == 0)
			ok(l.has_state && l.state == (enum task_state)i, "state=%s filters on %s", states[i],
			    task_state_name((enum task_state)i));
	}
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		snprintf(name, sizeof name, "kind=%s", kinds[i]);
		if (list_good(Q({ "kind", kinds[i] }), &l, name) == 0)
			is_str(l.kind, kinds[i], "kind filter is the kind's name");
	}

	if (list_good(Q({ "limit", "1" }), &l, "limit=1") == 0)
		is_int(l.limit, 1, "limit 1");
	if (list_good(Q({ "limit", "1000" }), &l, "limit=1000") == 0)
		is_int(l.limit, 1000, "limit 1000");
	if (list_good(Q({ "limit", "37" }), &l, "limit=37") == 0)
		is_int(l.limit, 37, "limit 37");
	if (list_good(Q({ "after_id", "0" }), &l, "after_id=0") == 0)
		is_int(l.after_id, 0, "after_id 0");
	if (list_good(Q({ "after_id", "41" }), &l, "after_id=41") == 0)
		is_int(l.after_id, 41, "after_id 41");
	if (list_good(Q({ "after_id", "9223372036854775807" }), &l, "after_id=2^63-1") == 0)
		ok(l.after_id == INT64_MAX, "after_id 2^63-1");

	if (list_good(Q({ "after_id", "5" }, { "limit", "2" }, { "kind", "sleep" }, { "state", "failed" }),
	    &l, "all four parameters") == 0) {
		ok(l.after_id == 5 && l.limit == 2, "after_id 5 and limit 2");
		ok(l.kind != NULL && strcmp(l.kind, "sleep") == 0 && l.has_state && l.state == TASK_FAILED,
		    "kind sleep and state failed");
	}

	list_bad(Q({ "limit", "0" }), "limit", "limit=0");
	list_bad(Q({ "limit", "1001" }), "limit", "limit=1001");
	list_bad(Q({ "limit", "-1" }), "limit", "limit=-1");
	list_bad(Q({ "limit", "" }), "limit", "limit= (empty)");
	list_bad(Q({ "limit", NULL }), "limit", "limit without a value");
	list_bad(Q({ "limit", "ten" }), "limit", "limit=ten");
	list_bad(Q({ "limit", "10.5" }), "limit", "limit=10.5");
	list_bad(Q({ "limit", "1e2" }), "limit", "limit=1e2");
	list_bad(Q({ "limit", "99999999999999999999" }), "limit", "a 20-digit limit");
	list_bad(Q({ "after_id", "-1" }), "after_id", "after_id=-1");
	list_bad(Q({ "after_id", "" }), "after_id", "after_id= (empty)");
	list_bad(Q({ "after_id", NULL }), "after_id", "after_id without a value");
	list_bad(Q({ "after_id", "x" }), "after_id", "after_id=x");
	list_bad(Q({ "after_id", "1.0" }), "after_id", "after_id=1.0");
	list_bad(Q({ "after_id", "9223372036854775808" }), "after_id", "after_id=2^63");
	list_bad(Q({ "state", "done" }), "done", "state=done");
	list_bad(Q({ "state", "PENDING" }), "PENDING", "state in upper case");
	list_bad(Q({ "state", "" }), "state", "state= (empty)");
	list_bad(Q({ "state", NULL }), "state", "state without a value");
	list_bad(Q({ "kind", "nap" }), "nap", "kind=nap");
	list_bad(Q({ "kind", "" }), "kind", "kind= (empty)");
	list_bad(Q({ "kind", NULL }), "kind", "kind without a value");
	list_bad(Q({ "offset", "5" }), "offset", "an unknown parameter");
	list_bad(Q({ "State", "failed" }), "State", "a parameter in the wrong case");
	list_bad(Q({ "timeout", "1" }), "timeout", "a result parameter");
	list_bad(Q({ "limit", "5" }, { "limit", "5" }), "limit", "limit twice");
	list_bad(Q({ "state", "failed" }, { "kind", "sleep" }, { "state", "pending" }), "state",
	    "state twice, apart");
	list_bad(Q({ "limit", "5" }, { "bogus", NULL }), "bogus", "an unknown parameter after a good one");
}

static void
result_bad(const struct query_arg *q, const char *culprit, const char *why)
{
	struct result_spec rs;
	struct err         e = { 0, "" };
	char               name[512];
	int                r = spec_parse_result(q, &rs, &e);

	if (!ok(r == -1 && e.status == 400, "result refuses %s with 400", why))
		diag("returned %d, status %d", r, e.status);
	contains(e.msg, culprit, fmt(name, sizeof name, "the message names the culprit", why));
}

static void
result_is(const struct query_arg *q, double timeout, int cancel, const char *why)
{
	struct result_spec rs = { -7, -7 };
	struct err         e = { 0, "" };
	int                r = spec_parse_result(q, &rs, &e);

	if (!ok(r == 0 && rs.timeout == timeout && rs.cancel == cancel,
	    "result accepts %s: timeout %g, cancel %d", why, timeout, cancel))
		diag("returned %d (%s), timeout %g, cancel %d", r, e.msg, rs.timeout, rs.cancel);
}

static void
test_result(void)
{
	result_is(NOQ, -1, 1, "no query");
	result_is(Q({ "timeout", "0" }), 0, 1, "timeout=0");
	result_is(Q({ "timeout", "1.5" }), 1.5, 1, "timeout=1.5");
	result_is(Q({ "timeout", ".25" }), 0.25, 1, "timeout=.25");
	result_is(Q({ "timeout", "1e9" }), 1e9, 1, "timeout=1e9");
	result_is(Q({ "timeout", "2e1" }), 20, 1, "timeout=2e1");
	result_is(Q({ "cancel", "true" }), -1, 1, "cancel=true");
	result_is(Q({ "cancel", "false" }), -1, 0, "cancel=false");
	result_is(Q({ "cancel", "1" }), -1, 1, "cancel=1");
	result_is(Q({ "cancel", "0" }), -1, 0, "cancel=0");
	result_is(Q({ "cancel", "false" }, { "timeout", "3" }), 3, 0, "cancel=false&timeout=3");
	result_is(Q({ "timeout", "0" }, { "cancel", "true" }), 0, 1, "timeout=0&cancel=true");

	result_bad(Q({ "timeout", "" }), "timeout", "timeout= (empty)");
	result_bad(Q({ "timeout", NULL }), "timeout", "timeout without a value");
	result_bad(Q({ "timeout", "-1" }), "timeout", "timeout=-1");
	result_bad(Q({ "timeout", "abc" }), "timeout", "timeout=abc");
	result_bad(Q({ "timeout", "1e10" }), "timeout", "timeout=1e10");
	result_bad(Q({ "timeout", "inf" }), "timeout", "timeout=inf");
	result_bad(Q({ "timeout", "nan" }), "timeout", "timeout=nan");
	result_bad(Q({ "timeout", "1s" }), "timeout", "timeout=1s");
	result_bad(Q({ "timeout", " 1" }), "timeout", "timeout with a blank");
	result_bad(Q({ "cancel", "yes" }), "cancel", "cancel=yes");
	result_bad(Q({ "cancel", "no" }), "cancel", "cancel=no");
	result_bad(Q({ "cancel", "TRUE" }), "cancel", "cancel=TRUE");
	result_bad(Q({ "cancel", "False" }), "cancel", "cancel=False");
	result_bad(Q({ "cancel", "2" }), "cancel", "cancel=2");
	result_bad(Q({ "cancel", "" }), "cancel", "cancel= (empty)");
	result_bad(Q({ "cancel", NULL }), "cancel", "cancel without a value");
	result_bad(Q({ "cancle", "true" }), "cancle", "an unknown parameter");
	result_bad(Q({ "limit", "5" }), "limit", "a list parameter");
	result_bad(Q({ "timeout", "1" }, { "timeout", "2" }), "timeout", "timeout twice");
	result_bad(Q({ "cancel", "true" }, { "cancel", "true" }), "cancel", "cancel twice");
}

static void
test_parse_bool(void)
{
	int v;

	v = -1;
	ok(spec_parse_bool("true", &v) == 0 && v == 1, "spec_parse_bool(\"true\") = 1");
	v = -1;
	ok(spec_parse_bool("1", &v) == 0 && v == 1, "spec_parse_bool(\"1\") = 1");
	v = -1;
	ok(spec_parse_bool("false", &v) == 0 && v == 0, "spec_parse_bool(\"false\") = 0");
	v = -1;
	ok(spec_parse_bool("0", &v) == 0 && v == 0, "spec_parse_bool(\"0\") = 0");
	ok(spec_parse_bool("yes", &v) == -1, "spec_parse_bool refuses \"yes\"");
	ok(spec_parse_bool("", &v) == -1, "spec_parse_bool refuses \"\"");
	ok(spec_parse_bool(NULL, &v) == -1, "spec_parse_bool refuses a key without value");
	ok(spec_parse_bool("truex", &v) == -1, "spec_parse_bool refuses \"truex\"");
	ok(spec_parse_bool("01", &v) == -1, "spec_parse_bool refuses \"01\"");
}

/* ---- json_util: member checks and durations ---------------------------- */

static void
test_only_members(void)
{
	static const char *const allowed[] = { "a", "bb", NULL };
	static const char *const none[] = { NULL };
	struct err e = { 0, "" };
	json_t    *o;

	o = J("{}");
	ok(ju_only_members(o, allowed, "x", &e) == 0, "ju_only_members: an empty object passes");
	ok(ju_only_members(o, none, "x", &e) == 0, "ju_only_members: an empty object passes an empty list");
	json_decref(o);

	o = J("{'a': 1, 'bb': null}");
	ok(ju_only_members(o, allowed, "x", &e) == 0, "ju_only_members: all members allowed");
	json_decref(o);

	o = J("{'a': 1}");
	e = (struct err){ 0, "" };
	ok(ju_only_members(o, none, "the thing", &e) == -1 && e.status == 400,
	    "ju_only_members: any member refused by an empty list, 400");
	json_decref(o);

	o = J("{'a': 1, 'b': 2}");
	e = (struct err){ 0, "" };
	ok(ju_only_members(o, allowed, "the thing", &e) == -1 && e.status == 400,
	    "ju_only_members: a prefix of an allowed name is refused, 400");
	contains(e.msg, "\"b\"", "ju_only_members names the member, quoted");
	contains(e.msg, "the thing", "ju_only_members names where");
	json_decref(o);

	o = J("{'bbb': 1}");
	e = (struct err){ 0, "" };
	ok(ju_only_members(o, allowed, "x", &e) == -1, "ju_only_members: an allowed name with more is refused");
	contains(e.msg, "bbb", "ju_only_members names bbb");
	json_decref(o);

	o = J("{'A': 1}");
	ok(ju_only_members(o, allowed, "x", &e) == -1, "ju_only_members is case-sensitive");
	json_decref(o);

	o = J("{'': 1}");
	ok(ju_only_members(o, allowed, "x", &e) == -1, "ju_only_members refuses an empty name");
	json_decref(o);
}

static void
duration_is(const char *text, double want)
{
	json_t    *v = J(text);
	struct err e = { 0, "" };
	double     d = -7;
	int        r = ju_duration(v, "t", &d, &e);

	if (!ok(r == 0 && d == want, "ju_duration(%s) = %g", text, want))
		diag("returned %d (%s), value %g", r, e.msg, d);
	json_decref(v);
}

static void
duration_bad(const char *text)
{
	json_t    *v = J(text);
	struct err e = { 0, "" };
	double     d = -7;
	char       name[128];
	int        r = ju_duration(v, "wait_s", &d, &e);

	if (!ok(r == -1 && e.status == 400 && d == -7, "ju_duration refuses %s with 400", text))
		diag("returned %d, status %d, value %g", r, e.status, d);
	snprintf(name, sizeof name, "ju_duration(%s) names the member", text);
	contains(e.msg, "wait_s", name);
	json_decref(v);
}

static void
test_duration(void)
{
	struct err e = { 0, "" };
	double     d;
	json_t    *o;
	int        b;

	duration_is("0", 0);
	duration_is("0.0", 0);
	duration_is("1", 1);
	duration_is("0.001", 0.001);
	duration_is("2.5", 2.5);
	duration_is("1e9", 1e9);
	duration_is("1000000000", 1e9);
	duration_is("-0.0", 0);   /* IEEE -0 is not < 0 */

	duration_bad("-1");
	duration_bad("-1e-9");
	duration_bad("1e10");
	duration_bad("1000000001");
	duration_bad("1e300");
	duration_bad("'1'");
	duration_bad("true");
	duration_bad("false");
	duration_bad("null");
	duration_bad("[1]");
	duration_bad("{}");

	o = J("{}");
	d = 5;
	ok(ju_opt_duration(o, "t", &d, &e) == 0 && d == -1, "ju_opt_duration: absent is -1");
	json_decref(o);
	o = J("{'t': null}");
	d = 5;
	ok(ju_opt_duration(o, "t", &d, &e) == 0 && d == -1, "ju_opt_duration: null is -1");
	json_decref(o);
	o = J("{'t': 4}");
	ok(ju_opt_duration(o, "t", &d, &e) == 0 && d == 4, "ju_opt_duration: 4");
	json_decref(o);
	o = J("{'t': -4}");
	e = (struct err){ 0, "" };
	ok(ju_opt_duration(o, "t", &d, &e) == -1 && e.status == 400, "ju_opt_duration: -4 is refused");
	json_decref(o);

	o = J("{'b': true, 'c': false, 'd': 1, 'e': null}");
	b = 7;
	ok(ju_opt_bool(o, "x", &b, &e) == 0 && b == 7, "ju_opt_bool: absent leaves the default");
	ok(ju_opt_bool(o, "b", &b, &e) == 0 && b == 1, "ju_opt_bool: true");
	ok(ju_opt_bool(o, "c", &b, &e) == 0 && b == 0, "ju_opt_bool: false");
	e = (struct err){ 0, "" };
	ok(ju_opt_bool(o, "d", &b, &e) == -1 && e.status == 400, "ju_opt_bool refuses 1");
	contains(e.msg, "\"d\"", "ju_opt_bool names the member");
	ok(ju_opt_bool(o, "e", &b, &e) == -1, "ju_opt_bool refuses null");
	json_decref(o);

	ok(err_set(&e, 409, "x %d %s", 5, "y") == -1, "err_set returns -1");
	is_int(e.status, 409, "err_set sets the status");
	is_str(e.msg, "x 5 y", "err_set formats the message");
	{
		char long_arg[600];

		memset(long_arg, 'z', sizeof long_arg - 1);
		long_arg[sizeof long_arg - 1] = '\0';
		err_set(&e, 400, "%s", long_arg);
		is_int(strlen(e.msg), sizeof e.msg - 1, "err_set truncates a long message to the buffer");
	}
}

int
main(void)
{
	test_task_valid();
	test_task_name_length();
	test_task_invalid();
	test_wait_valid();
	test_wait_invalid();
	test_list();
	test_result();
	test_parse_bool();
	test_only_members();
	test_duration();
	return done_testing();
}
