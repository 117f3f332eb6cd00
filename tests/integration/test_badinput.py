"""Bad requests get the documented error, and change nothing."""
import json

import jobdtest
from jobdtest import JobdTestCase, list_all, raw_connect, read_response

JSON = {"Content-Type": "application/json"}


class BadInputBase(JobdTestCase):
    """Each bad request is followed by: the daemon answers, and no task changed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        t = cls.jobd.create("sleep", {"seconds": 0, "result": "fixture"})
        cls.tid = t["id"]
        cls.jobd.wait_state(cls.tid, "succeeded")

    def setUp(self):
        self.before = list_all(self.jobd)

    def unchanged(self, what=""):
        r = self.jobd.get("/healthz")
        self.assertEqual(r.status, 200, "daemon not answering after %r: %r" % (what, r))
        self.assertEqual(list_all(self.jobd), self.before, "tasks changed after %r" % (what,))

    def bad(self, r, status, code, what="", names=None):
        try:
            body = self.assertError(r, status, code)
        except AssertionError as e:
            raise AssertionError("%r: %s" % (what, e))
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"),
                        (what, r.headers))
        if names is not None:
            self.assertIn(names, body["error"]["message"], (what, body))
        self.unchanged(what)
        return body

    def post_raw(self, path, data, ctype="application/json"):
        h = {"Content-Type": ctype} if ctype is not None else {}
        return self.jobd.post(path, raw=data, headers=h)


class BodyTest(BadInputBase):
    def test_malformed_json(self):
        for data in (b"", b"{", b"{\"kind\": \"sleep\",}", b"{'kind': 'sleep'}", b"nul",
                     b"{\"kind\": \"sleep\", \"sleep\": {\"seconds\": 0}} trailing",
                     b"{\"kind\": \"sleep\", \"sleep\": {\"seconds\": NaN}}",
                     b"{\"kind\": \"sleep\", \"sleep\": {\"seconds\": Infinity}}",
                     b"{\"kind\": \"sleep\", \"sleep\": {\"seconds\": -Infinity}}",
                     b"{\"kind\": \"sleep\", \"sleep\": {\"seconds\": 1e400}}",
                     b"{\"kind\": \"sl\xffep\", \"sleep\": {}}",
                     b"{\"kind\": \"sleep\", \"sleep\": {\"seconds\": 0}}\x00"):
            self.bad(self.post_raw("/v1/tasks", data), 400, "bad_request", data)

    def test_not_an_object(self):
        for data in (b"[]", b"[{\"kind\": \"sleep\", \"sleep\": {}}]", b"\"sleep\"", b"5",
                     b"null", b"true"):
            self.bad(self.post_raw("/v1/tasks", data), 400, "bad_request", data)
            self.bad(self.post_raw("/v1/wait", data), 400, "bad_request", data)
            self.bad(self.post_raw("/v1/gather", data), 400, "bad_request", data)

    def test_messages_say_what_is_wrong(self):
        # Valid JSON that is not an object is not called invalid JSON.
        for data in (b'"x"', b"5", b"null", b"[1]"):
            self.bad(self.post_raw("/v1/tasks", data), 400, "bad_request", data, names="object")
        # An integer jobd cannot hold is named as such, not "not valid JSON".
        for data in (b'{"kind": "sleep", "sleep": {"seconds": 0, "result": 18446744073709551615}}',
                     b'{"kind": "sleep", "sleep": {"seconds": 0, "result": -9223372036854775809}}'):
            body = self.bad(self.post_raw("/v1/tasks", data), 400, "bad_request", data,
                            names="64-bit")
            self.assertNotIn("not valid JSON", body["error"]["message"])
        self.bad(self.post_raw("/v1/wait", b'{"ids": [9223372036854775808]}'), 400, "bad_request",
                 "huge id", names="64-bit")
        # The largest that fits is kept exactly.
        t = self.jobd.create("sleep", {"seconds": 0, "result": 9223372036854775807})
        self.assertEqual(self.jobd.wait_state(t["id"], "succeeded")["result"], 9223372036854775807)
        self.before = list_all(self.jobd)

    def test_duplicate_members(self):
        for data in (b'{"kind": "sleep", "kind": "sleep", "sleep": {"seconds": 0}}',
                     b'{"kind": "sleep", "sleep": {"seconds": 0}, "sleep": {"seconds": 1}}',
                     b'{"kind": "sleep", "sleep": {"seconds": 0, "seconds": 1}}',
                     b'{"kind": "sleep", "name": "a", "name": "b", "sleep": {"seconds": 0}}',
                     b'{"kind": "sleep", "sleep": {"seconds": 0, "result": {"a": 1, "a": 2}}}'):
            self.bad(self.post_raw("/v1/tasks", data), 400, "bad_request", data)
        data = b'{"ids": [%d], "ids": [%d]}' % (self.tid, self.tid)
        self.bad(self.post_raw("/v1/wait", data), 400, "bad_request", data)
        self.bad(self.post_raw("/v1/gather", data), 400, "bad_request", data)

    def test_wrong_types(self):
        bodies = [
            {"kind": 5, "sleep": {"seconds": 0}},
            {"kind": None, "sleep": {"seconds": 0}},
            {"kind": ["sleep"], "sleep": {"seconds": 0}},
            {"kind": "sleep", "sleep": []},
            {"kind": "sleep", "sleep": None},
            {"kind": "sleep", "sleep": "seconds=1"},
            {"kind": "sleep", "sleep": {"seconds": True}},
            {"kind": "sleep", "sleep": {"seconds": None}},
            {"kind": "sleep", "sleep": {"seconds": [1]}},
            {"kind": "sleep", "name": 5, "sleep": {"seconds": 0}},
            {"kind": "sleep", "name": ["a"], "sleep": {"seconds": 0}},
            {"kind": "sleep", "name": {}, "sleep": {"seconds": 0}},
            {"kind": "sleep", "timeout": True, "sleep": {"seconds": 0}},
            {"kind": "sleep", "timeout": [1], "sleep": {"seconds": 0}},
        ]
        for b in bodies:
            self.bad(self.jobd.post("/v1/tasks", b), 400, "bad_request", b)

    def test_unknown_members_are_named(self):
        cases = [
            ("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}, "bogus_member": 1}),
            ("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0, "bogus_member": 1}}),
            ("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}, "Name": "typo"}),
            ("/v1/wait", {"ids": [self.tid], "bogus_member": 1}),
            ("/v1/wait", {"ids": [self.tid], "return_exceptions": True}),
            ("/v1/gather", {"ids": [self.tid], "bogus_member": 1}),
            ("/v1/gather", {"ids": [self.tid], "return_when": "ALL_COMPLETED"}),
            ("/v1/wait", {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0},
                                     "bogus_member": 1}]}),
            ("/v1/gather", {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0,
                                                                  "bogus_member": 1}}]}),
        ]
        for path, b in cases:
            member = [k for k in ("bogus_member", "Name", "return_exceptions", "return_when")
                      if k in json.dumps(b)][0]
            self.bad(self.jobd.post(path, b), 400, "bad_request", (path, b), names=member)

    def test_kind_member(self):
        bodies = [
            {"sleep": {"seconds": 0}},                         # no kind
            {"kind": "sleep"},                                 # its member missing
            {"kind": "sleep", "exec": {"argv": ["true"]}},     # only another kind's member
            {"kind": "nope", "nope": {}},                      # unknown kind
            {"kind": "", "sleep": {"seconds": 0}},
            {"kind": "SLEEP", "SLEEP": {"seconds": 0}},
            # a member naming another kind
            {"kind": "sleep", "sleep": {"seconds": 0}, "exec": {"argv": ["true"]}},
            {"kind": "sleep", "sleep": {"seconds": 0}, "http": {"url": "http://127.0.0.1:1/"}},
            {"kind": "sleep", "sleep": {"seconds": 0}, "exec": None},
            {},
        ]
        for b in bodies:
            self.bad(self.jobd.post("/v1/tasks", b), 400, "bad_request", b)

    def test_bad_durations_in_body(self):
        bad = [-1, -0.001, 1e9 + 1, 1e10, 1e308, "1", "0.5", "", "abc", "NaN", "inf"]
        for v in bad:
            for b in ({"kind": "sleep", "sleep": {"seconds": v}},
                      {"kind": "sleep", "sleep": {"seconds": 0}, "timeout": v}):
                self.bad(self.jobd.post("/v1/tasks", b), 400, "bad_request", b)
            for path in ("/v1/wait", "/v1/gather"):
                b = {"ids": [self.tid], "timeout": v}
                self.bad(self.jobd.post(path, b), 400, "bad_request", (path, b))

    def test_name_too_long(self):
        for name in ("x" * 257, "\u00e9" * 129, "x" * 255 + "\u00e9", "x" * 10000):
            b = {"kind": "sleep", "name": name, "sleep": {"seconds": 0}}
            self.bad(self.jobd.post("/v1/tasks", b), 400, "bad_request", len(name.encode()))

    def test_bad_ids_in_body(self):
        for ids in ([0], [-1], ["%d" % self.tid], [self.tid + 0.5], [float(self.tid)], [True],
                    [None], [[self.tid]], "%d" % self.tid, self.tid, {}, None):
            for path in ("/v1/wait", "/v1/gather"):
                self.bad(self.jobd.post(path, {"ids": ids}), 400, "bad_request", (path, ids))
        for data in (b'{"ids": [9223372036854775808]}', b'{"ids": [1e3]}', b'{"ids": [01]}'):
            for path in ("/v1/wait", "/v1/gather"):
                self.bad(self.post_raw(path, data), 400, "bad_request", (path, data))

    def test_wait_gather_bodies(self):
        cases = [
            ("/v1/wait", {"ids": []}),
            ("/v1/wait", {}),
            ("/v1/wait", {"ids": [self.tid], "return_when": "first_completed"}),
            ("/v1/wait", {"ids": [self.tid], "return_when": "ANY"}),
            ("/v1/wait", {"ids": [self.tid], "return_when": 1}),
            ("/v1/wait", {"ids": [self.tid], "return_when": None}),
            ("/v1/wait", {"ids": [self.tid], "tasks": [{"kind": "sleep", "sleep": {"seconds": 0}}]}),
            ("/v1/wait", {"tasks": "x"}),
            ("/v1/wait", {"tasks": [5]}),
            ("/v1/gather", {"ids": [self.tid], "return_exceptions": "true"}),
            ("/v1/gather", {"ids": [self.tid], "return_exceptions": 1}),
            ("/v1/gather", {"ids": [self.tid], "cancel": "false"}),
            ("/v1/gather", {"ids": [self.tid], "cancel": 0}),
            ("/v1/gather", {"tasks": [{"kind": "nope"}]}),
        ]
        for path, b in cases:
            self.bad(self.jobd.post(path, b), 400, "bad_request", (path, b))

    def test_inline_tasks_all_or_nothing(self):
        # One bad spec among good ones: 400 and none of them is created.
        good = {"kind": "sleep", "sleep": {"seconds": 0}}
        for path in ("/v1/wait", "/v1/gather"):
            for bad in ({"kind": "sleep", "sleep": {"seconds": -1}},
                        {"kind": "sleep", "sleep": {"seconds": 0}, "exec": {"argv": ["true"]}},
                        {"kind": "sleep", "name": "x" * 300, "sleep": {"seconds": 0}}):
                b = {"tasks": [good, good, bad]}
                self.bad(self.jobd.post(path, b), 400, "bad_request", (path, b))


class ContentTypeTest(BadInputBase):
    GOOD = b'{"kind": "sleep", "sleep": {"seconds": 0}}'

    def test_wrong_content_type(self):
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                   "multipart/form-data; boundary=x", "text/json", "application/json-seq"):
            for path in ("/v1/tasks", "/v1/wait", "/v1/gather"):
                data = self.GOOD if path == "/v1/tasks" else b'{"ids": [%d]}' % self.tid
                self.bad(self.post_raw(path, data, ct), 415, "unsupported_media_type", (path, ct))

    def test_missing_content_type(self):
        self.bad(self.post_raw("/v1/tasks", self.GOOD, None), 415, "unsupported_media_type")

    def test_bodyless_endpoints_ignore_type(self):
        # GET, DELETE and POST .../cancel ignore any body and its type.
        h = {"Content-Type": "text/plain"}
        r = self.jobd.request("GET", "/v1/tasks/%d" % self.tid, raw=b"garbage{", headers=h)
        self.assertEqual(r.status, 200, r)
        r = self.jobd.request("GET", "/v1/tasks", raw=b"garbage{", headers=h)
        self.assertEqual(r.status, 200, r)
        r = self.jobd.request("POST", "/v1/tasks/%d/cancel" % self.tid, raw=b"garbage{", headers=h)
        self.bad(r, 409, "conflict", "cancel with a text body")
        r = self.jobd.request("DELETE", "/v1/tasks/999999999", raw=b"garbage{", headers=h)
        self.bad(r, 404, "not_found", "delete with a text body")
        self.unchanged()

    def test_charset_accepted(self):
        r = self.post_raw("/v1/gather", b'{"ids": [%d]}' % self.tid, "application/json; charset=utf-8")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["results"], ["fixture"])


class PathAndQueryTest(BadInputBase):
    def test_path_ids_not_plain_decimal(self):
        t = self.tid
        forms = ["-1", "0", "0%d" % t, "%d.0" % t, "+%d" % t, "abc", "%dabc" % t, "0x%x" % t,
                 "9223372036854775808", "99999999999999999999999", "%%20%d" % t, "1e3"]
        for f in forms:
            self.bad(self.jobd.get("/v1/tasks/" + f), 404, "not_found", "GET " + f)
            self.bad(self.jobd.get("/v1/tasks/%s/result?timeout=0" % f), 404, "not_found",
                     "result " + f)
            self.bad(self.jobd.post("/v1/tasks/%s/cancel" % f), 404, "not_found", "cancel " + f)
            self.bad(self.jobd.delete("/v1/tasks/" + f), 404, "not_found", "DELETE " + f)
        # The fixture is untouched by all of that.
        self.assertEqual(self.jobd.task(t)["result"], "fixture")
        self.bad(self.jobd.get("/v1/tasks/9223372036854775807"), 404, "not_found", "max id")

    def test_encoded_nul_and_slash(self):
        # Decoded, %00 would end the C string ("7%00x" read as 7) and %2F
        # would be a path separator ("7%2Fcancel" read as 7/cancel).
        t = self.tid
        for path in ("/v1/tasks/%d%%00x" % t, "/v1/tasks%%00/%d" % t, "/v1/tasks/%d%%2Fcancel" % t,
                     "/v1/tasks/%d%%2fcancel" % t, "/v1%2Ftasks", "/v1/tasks/%d%%00" % t):
            self.bad(self.jobd.get(path), 404, "not_found", path)
        self.bad(self.jobd.post("/v1/tasks/%d%%2Fcancel" % t), 404, "not_found", "cancel %2F")
        for query in ("limit%00junk=1", "kind=sleep%00zzz", "limit=2%00", "state=succeeded%00",
                      "after_id=0%00", "kind=sleep%2F"):
            self.bad(self.jobd.get("/v1/tasks?" + query), 400, "bad_request", query)
        r = self.jobd.get("/v1/tasks/%d/result?timeout=0.1%%00abc&cancel=false" % t)
        self.bad(r, 400, "bad_request", "timeout with %00")
        # Every other escape is decoded as before.
        r = self.jobd.get("/v1/%%74asks/%d" % t)
        self.assertEqual((r.status, r.json["id"]), (200, t), r)
        r = self.jobd.get("/v1/tasks?%6Bind=sl%65ep&limit=1000")
        self.assertEqual(r.status, 200, r)
        self.assertIn(t, [x["id"] for x in r.json["tasks"]])

    def test_bad_ids_in_query(self):
        for v in ("-1", "abc", "01", "1.0", "+1", "9223372036854775808", "", "0x10", "1e3"):
            self.bad(self.jobd.get("/v1/tasks?after_id=" + v), 400, "bad_request", v)

    def test_bad_durations_in_query(self):
        for v in ("", "-1", "-0.5", "abc", "nan", "NaN", "inf", "Infinity", "1e10",
                  "1000000001", "0x10", "1s", "1,5"):
            r = self.jobd.get("/v1/tasks/%d/result?timeout=%s" % (self.tid, v))
            self.bad(r, 400, "bad_request", "timeout=" + v)
            r = self.jobd.get("/v1/tasks/%d/result?cancel=false&timeout=%s" % (self.tid, v))
            self.bad(r, 400, "bad_request", "timeout=" + v)

    def test_bad_booleans_in_query(self):
        for v in ("", "yes", "no", "2", "-1", "on", "truee", "t"):
            r = self.jobd.get("/v1/tasks/%d/result?timeout=0&cancel=%s" % (self.tid, v))
            self.bad(r, 400, "bad_request", "cancel=" + v)

    def test_unknown_query_parameters(self):
        cases = [("GET", "/v1/tasks?bogus_param=1"),
                 ("GET", "/v1/tasks?limit=5&bogus_param=1"),
                 ("GET", "/v1/tasks/%d?bogus_param=1" % self.tid),
                 ("GET", "/v1/tasks/%d/result?bogus_param=1" % self.tid),
                 ("GET", "/v1/tasks/%d/result?timeout=0&bogus_param" % self.tid)]
        for method, path in cases:
            self.bad(self.jobd.request(method, path), 400, "bad_request", path,
                     names="bogus_param")
        r = self.jobd.post("/v1/tasks/%d/cancel?bogus_param=1" % self.tid)
        self.bad(r, 400, "bad_request", "cancel?bogus_param=1", names="bogus_param")

    def test_empty_query_pieces_ignored(self):
        # Wherever an empty piece between '&'s is, it names no parameter.
        for q in ("?", "?&", "?&&", "?limit=1&", "?&limit=1", "?limit=1&&kind=sleep"):
            r = self.jobd.get("/v1/tasks" + q)
            self.assertEqual(r.status, 200, (q, r))
        self.bad(self.jobd.get("/v1/tasks?=x"), 400, "bad_request", "?=x")

    def test_unknown_query_on_create(self):
        # A query on a create is validated too, and creates nothing.
        r = self.jobd.post("/v1/tasks?bogus_param=1", {"kind": "sleep", "sleep": {"seconds": 0}})
        self.bad(r, 400, "bad_request", "POST /v1/tasks?bogus_param=1", names="bogus_param")

    def test_unknown_query_on_wait(self):
        r = self.jobd.post("/v1/wait?bogus_param=1", {"ids": [self.tid]})
        self.bad(r, 400, "bad_request", "POST /v1/wait?bogus_param=1", names="bogus_param")
        r = self.jobd.post("/v1/wait?bogus_param=1",
                           {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0}}]})
        self.bad(r, 400, "bad_request", "POST /v1/wait?bogus_param=1 with tasks",
                 names="bogus_param")

    def test_unknown_query_on_gather(self):
        r = self.jobd.post("/v1/gather?bogus_param=1", {"ids": [self.tid]})
        self.bad(r, 400, "bad_request", "POST /v1/gather?bogus_param=1", names="bogus_param")
        r = self.jobd.post("/v1/gather?bogus_param=1",
                           {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0}}]})
        self.bad(r, 400, "bad_request", "POST /v1/gather?bogus_param=1 with tasks",
                 names="bogus_param")

    def test_unknown_path(self):
        for method, path in (("GET", "/"), ("GET", "/v1"), ("GET", "/v1/nope"), ("GET", "/v2/tasks"),
                             ("GET", "/v1/tasks/%d/nope" % self.tid), ("GET", "/healthz/x"),
                             ("POST", "/v1/task"), ("GET", "/v1/tasks/%d/result/x" % self.tid),
                             ("DELETE", "/v1/nope")):
            self.bad(self.jobd.request(method, path), 404, "not_found", (method, path))

    def test_wrong_method(self):
        t = self.tid
        cases = [("/v1/tasks", {"GET", "POST"}, ("PUT", "DELETE", "PATCH")),
                 ("/v1/tasks/%d" % t, {"GET", "DELETE"}, ("POST", "PUT", "PATCH")),
                 ("/v1/tasks/%d/cancel" % t, {"POST"}, ("GET", "DELETE", "PUT")),
                 ("/v1/tasks/%d/result" % t, {"GET"}, ("POST", "DELETE")),
                 ("/v1/wait", {"POST"}, ("GET", "DELETE", "PUT")),
                 ("/v1/gather", {"POST"}, ("GET", "PATCH")),
                 ("/healthz", {"GET"}, ("POST", "DELETE"))]
        for path, allowed, tries in cases:
            for method in tries:
                r = self.jobd.request(method, path)
                self.bad(r, 405, "method_not_allowed", (method, path))
                self.assertIn("allow", r.headers, (method, path, r.headers))
                got = {m.strip().upper() for m in r.headers["allow"].split(",") if m.strip()}
                self.assertTrue(allowed <= got, (method, path, r.headers["allow"]))
                self.assertNotIn(method, got, (method, path, r.headers["allow"]))
        self.assertEqual(self.jobd.task(t)["state"], "succeeded")

    def test_head_is_get_without_the_body(self):
        # RFC 9110: a general-purpose server supports HEAD wherever GET is.
        t = self.tid
        for path in ("/healthz", "/metrics", "/v1/tasks", "/v1/tasks?limit=1",
                     "/v1/tasks/%d" % t, "/v1/tasks/%d/result" % t):
            with self.subTest(path=path):
                g = self.jobd.get(path)
                h = self.jobd.request("HEAD", path)
                self.assertEqual((h.status, h.body), (g.status, b""), (path, h))
                self.assertEqual(h.headers.get("content-type"), g.headers.get("content-type"))
                if path != "/metrics":      # its counters move between the two
                    self.assertEqual(int(h.headers["content-length"]), len(g.body), (path, h))
        r = self.jobd.request("HEAD", "/v1/tasks/999999999")
        self.assertEqual((r.status, r.body), (404, b""), r)
        # No body on the wire either (http.client would not read one): a
        # GET pipelined after the HEAD is the next thing the socket says.
        port = self.jobd.port
        s = raw_connect(port, b"HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                        b"Connection: close\r\n\r\n" % (port, port))
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), data)
        self.assertTrue(rest.startswith(b"HTTP/1.1 200"), data)
        self.assertTrue(rest.endswith(b'{"status":"ok"}\n'), data)
        # ...and Allow says so: HEAD beside every GET, and nowhere else.
        for path, head in (("/v1/tasks/%d" % t, True), ("/v1/tasks/%d/cancel" % t, False),
                           ("/healthz", True), ("/v1/wait", False)):
            r = self.jobd.request("PUT", path)
            self.assertEqual(r.status, 405, r)
            got = {m.strip() for m in r.headers["allow"].split(",")}
            self.assertEqual("HEAD" in got, head, (path, r.headers["allow"]))

    def test_wrong_method_with_body_creates_nothing(self):
        r = self.jobd.request("PUT", "/v1/tasks", body={"kind": "sleep", "sleep": {"seconds": 0}})
        self.bad(r, 405, "method_not_allowed", "PUT /v1/tasks")


class BrowserTest(BadInputBase):
    def test_origin_refused(self):
        for origin in ("http://evil.example", "null", "http://127.0.0.1:%d" % self.jobd.port):
            h = {"Origin": origin}
            self.bad(self.jobd.get("/v1/tasks", headers=h), 403, "forbidden", origin)
            self.bad(self.jobd.get("/healthz", headers=h), 403, "forbidden", origin)
            r = self.jobd.post("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}}, headers=h)
            self.bad(r, 403, "forbidden", "create with Origin " + origin)
            r = self.jobd.post("/v1/tasks/%d/cancel" % self.tid, headers=h)
            self.bad(r, 403, "forbidden", "cancel with Origin " + origin)
            r = self.jobd.delete("/v1/tasks/%d" % self.tid, headers=h)
            self.bad(r, 403, "forbidden", "delete with Origin " + origin)

    def test_foreign_host_refused(self):
        p = self.jobd.port
        for host in ("evil.example", "evil.example:%d" % p, "localhost.evil.example:%d" % p,
                     "127.0.0.1.evil.example:%d" % p, "example.com"):
            self.check_host_refused(host)

    def test_foreign_address_refused(self):
        # Not a loopback name, not an address jobd listens on (127.0.0.1).
        p = self.jobd.port
        for host in ("10.0.0.1:%d" % p, "192.0.2.7", "[2001:db8::1]:%d" % p):
            self.check_host_refused(host)

    def check_host_refused(self, host):
        h = {"Host": host}
        self.bad(self.jobd.get("/v1/tasks", headers=h), 403, "forbidden", host)
        r = self.jobd.post("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}}, headers=h)
        self.bad(r, 403, "forbidden", "create with Host " + host)
        r = self.jobd.delete("/v1/tasks/%d" % self.tid, headers=h)
        self.bad(r, 403, "forbidden", "delete with Host " + host)

    def test_loopback_hosts_accepted(self):
        p = self.jobd.port
        for host in ("127.0.0.1:%d" % p, "127.0.0.1", "localhost:%d" % p, "localhost",
                     "[::1]:%d" % p):
            r = self.jobd.get("/v1/tasks/%d" % self.tid, headers={"Host": host})
            self.assertEqual(r.status, 200, (host, r))


class TextTest(BadInputBase):
    """An error message may quote what the client sent: bytes that are not
    UTF-8, or a long text cut inside a character.  The answer is still JSON
    (its message made valid UTF-8), and jobd goes on serving: it exited on
    the first such request."""

    def send(self, head, body=b""):
        s = raw_connect(self.jobd.port, head + body)
        try:
            return read_response(s)
        finally:
            s.close()

    def request(self, method, target, headers=b"", body=b""):
        head = (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s" % (method, target, self.jobd.port, headers))
        if body:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        return self.send(head + b"Connection: close\r\n\r\n", body)

    def test_bytes_that_are_not_utf8(self):
        cases = [(b"GET", b"/healthz", b"Origin: http://\xff\r\n", 403, "forbidden"),
                 (b"GET", b"/healthz", b"Sec-Fetch-Site: \xff\r\n", 403, "forbidden"),
                 (b"GET", b"/\xff", b"", 404, "not_found"),
                 (b"DELETE", b"/healthz\xff", b"", 404, "not_found"),
                 (b"GET", b"/v1/tasks?state=%ff", b"", 400, "bad_request"),
                 (b"GET", b"/v1/tasks?%ff=1", b"", 400, "bad_request"),
                 (b"GET", b"/v1/tasks/1/result?timeout=%ff", b"", 400, "bad_request")]
        for method, target, headers, status, code in cases:
            r = self.request(method, target, headers)
            self.bad(r, status, code, (method, target, headers))

    def test_long_text_cut_inside_a_character(self):
        e = "\u00e9" * 300
        for target in (b"/x" + b"%C3%A9" * 300, b"/" + b"%C3%A9" * 300, ("/x" + e).encode()):
            self.bad(self.request(b"GET", target), 404, "not_found", target[:20])
        for body in ({"kind": "sleep", "sleep": {"seconds": 0}, e: 1},
                     {"kind": "sleep", "sleep": {"seconds": 0, "x" + e: 1}},
                     {"kind": "x" + e, "sleep": {"seconds": 0}}):
            data = json.dumps(body, ensure_ascii=False).encode()
            self.bad(self.request(b"POST", b"/v1/tasks", body=data), 400, "bad_request",
                     str(body)[:30])
        data = json.dumps({"ids": [self.tid], "return_when": "x" + e}, ensure_ascii=False).encode()
        self.bad(self.request(b"POST", b"/v1/wait", body=data), 400, "bad_request", "return_when")


class FramingTest(BadInputBase):
    """Requests a proxy in front might frame otherwise than jobd (request
    smuggling), or whose Host is ambiguous: 400, and the connection closed
    (RFC 9112 3.2, 6.3).  Nothing is created."""

    def test_ambiguous_framing_refused(self):
        body = json.dumps({"kind": "sleep", "sleep": {"seconds": 0}}).encode()
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        port = self.jobd.port
        cases = [
            (b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body) + 5), body),
            (b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(body), chunked),
            (b"Transfer-Encoding: chunked\r\nContent-Length: 6\r\n", chunked),
        ]
        for headers, data in cases:
            head = (b"POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                    b"Content-Type: application/json\r\n%s\r\n" % (port, headers))
            s = raw_connect(port, head + data)
            try:
                r = read_response(s, "POST")
                self.assertEqual(r.headers.get("connection"), "close", (headers, r))
            finally:
                s.close()
            self.bad(r, 400, "bad_request", headers)
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nHost: evil.example\r\n\r\n" % port
        s = raw_connect(port, head)
        try:
            r = read_response(s)
        finally:
            s.close()
        self.bad(r, 400, "bad_request", "two Host headers", names="Host")


class BodyLimitTest(BadInputBase):
    JOBD_ARGS = ("--max-body", "1024")

    def body_of(self, size):
        b = {"kind": "sleep", "sleep": {"seconds": 0, "result": ""}}
        pad = size - len(json.dumps(b).encode())
        b["sleep"]["result"] = "x" * pad
        data = json.dumps(b).encode()
        assert len(data) == size
        return data

    def test_under_limit_accepted(self):
        r = self.post_raw("/v1/tasks", self.body_of(1000))
        self.assertEqual(r.status, 201, r)
        self.jobd.wait_state(r.json["id"], "succeeded")

    def test_over_limit(self):
        for size in (1025, 2000, 100000):
            data = self.body_of(size)
            s = raw_connect(self.jobd.port)
            try:
                head = ("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n"
                        "Connection: close\r\n\r\n" % (self.jobd.port, len(data))).encode()
                try:
                    s.sendall(head + data)
                except OSError:
                    pass    # jobd may answer early and close: read what it sent
                r = read_response(s, "POST")
            finally:
                s.close()
            self.bad(r, 413, "payload_too_large", size)

    def test_over_limit_chunked(self):
        data = self.body_of(3000)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 500]), data[i:i + 500])
                          for i in range(0, len(data), 500)) + b"0\r\n\r\n"
        s = raw_connect(self.jobd.port)
        try:
            head = ("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                    "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                    "Connection: close\r\n\r\n" % self.jobd.port).encode()
            try:
                s.sendall(head + chunks)
            except OSError:
                pass
            r = read_response(s, "POST")
        finally:
            s.close()
        self.bad(r, 413, "payload_too_large", "chunked")


if __name__ == "__main__":
    jobdtest.main()
