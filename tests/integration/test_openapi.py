"""doc/openapi.yaml is a valid OpenAPI document, and what jobd really answers
matches it.

The document is checked by a real validator (tests/openapi/validate.mjs, on
Node.js: the official OpenAPI JSON schema, $ref resolution, Ajv strict
compilation of every schema).  Then jobds are driven through every endpoint
and every status they can be made to give; each exchange is recorded through
jobdtest's JOBD_RECORD hook and the recording is checked against the
document: a status that the document does not give for that operation, a
missing header or a body that does not match its schema is a failure.

Node.js and npm are required (Debian: nodejs, npm).  The validator's
packages are installed with `npm ci` into the source tree's tests/openapi
when they are missing.
"""
import fcntl
import hashlib
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest

import jobdtest
from jobdtest import DEADLINE, Jobd, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
OPENAPI_DIR = os.path.join(SRC, "tests", "openapi")
DOC = os.path.join(SRC, "doc", "openapi.yaml")
NPM_DEPS = ("@seriousme/openapi-schema-validator", "ajv", "ajv-formats", "yaml")

# Recordings given from outside (JOBD_RECORD=/tmp/all.jsonl make check):
# checked too, by the last test.
OUTER_RECORD = os.environ.get("JOBD_RECORD")
WORK = tempfile.mkdtemp(prefix="jobd-openapi-")
RECORD = os.path.join(WORK, "exchanges.jsonl")
os.environ["JOBD_RECORD"] = RECORD

# (method, template, status) that the contract test must have produced.
EXPECTED = {
    ("POST", "/v1/tasks"): {201, 400, 401, 403, 413, 415},
    ("GET", "/v1/tasks"): {200, 400, 401},
    ("GET", "/v1/tasks/{id}"): {200, 400, 403, 404},
    ("DELETE", "/v1/tasks/{id}"): {204, 404, 409, 403},
    ("POST", "/v1/tasks/{id}/cancel"): {200, 404, 409, 403},
    ("GET", "/v1/tasks/{id}/result"): {200, 400, 404, 503, 504},
    ("GET", "/v1/tasks/{id}/stdout"): {200, 404},
    ("GET", "/v1/tasks/{id}/stderr"): {200, 404},
    ("POST", "/v1/wait"): {200, 400, 404, 415},
    ("POST", "/v1/gather"): {200, 400, 404, 424, 504},
    ("GET", "/healthz"): {200, 403},
    ("GET", "/metrics"): {200, 401},
    ("PUT", "/v1/tasks"): {405},
    ("GET", "/v1/wait"): {405},
    ("GET", "?"): {404},
}


def validator_dir():
    """Where the validator runs: the source tree's tests/openapi, or a copy
    in the build tree when the source tree is read-only (make distcheck)."""
    mods = os.path.join(OPENAPI_DIR, "node_modules")
    if os.access(OPENAPI_DIR, os.W_OK) or os.path.isdir(mods):
        return OPENAPI_DIR
    d = os.path.join(os.path.abspath(jobdtest.TOP_BUILD), "tests", "openapi")
    os.makedirs(d, exist_ok=True)
    for f in ("package.json", "package-lock.json", "validate.mjs"):
        shutil.copyfile(os.path.join(OPENAPI_DIR, f), os.path.join(d, f))
    return d


def node_ready():
    """(node, directory of validate.mjs with its packages installed); raises
    if that cannot be had."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise AssertionError("node and npm are needed for the OpenAPI check "
                             "(Debian: apt-get install nodejs npm)")
    where = validator_dir()
    mods = os.path.join(where, "node_modules")

    def complete():
        return all(os.path.exists(os.path.join(mods, d, "package.json")) for d in NPM_DEPS)

    if complete():
        return node, where
    # Two runs of the suite at once must not both run npm ci on one tree.
    lock = os.path.join(tempfile.gettempdir(), "jobd-npm-%s.lock"
                        % hashlib.sha1(where.encode()).hexdigest()[:12])
    with open(lock, "w") as lf:
        fcntl.flock(lf, fcntl.LOCK_EX)
        if not complete():
            p = subprocess.run([npm, "ci", "--prefer-offline", "--no-audit", "--no-fund",
                                "--loglevel=error"], cwd=where, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=600)
            if p.returncode != 0 or not complete():
                raise AssertionError("npm ci in %s failed (%d):\n%s%s"
                                     % (where, p.returncode, p.stdout, p.stderr))
    return node, where


def run_validator(*args):
    node, where = node_ready()
    return subprocess.run([node, os.path.join(where, "validate.mjs"), DOC] + list(args),
                          cwd=where, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=300)


def waiting_clients(jobd):
    r = jobd.get("/metrics")
    if r.status != 200:
        raise AssertionError("metrics: %r" % r)
    return sum(int(m.group(1)) for m in
               re.finditer(rb"^jobd_waiting_clients(?:\{[^}]*\})? (\d+)", r.body, re.M))


def in_thread(fn, *args, **kw):
    """Run fn in a thread; the returned object's .result() joins and gives its value."""
    box = {}

    def run():
        try:
            box["v"] = fn(*args, **kw)
        except BaseException as e:      # re-raised in the test's thread
            box["e"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()

    class Handle:
        @staticmethod
        def result(timeout=DEADLINE + 60):
            t.join(timeout)
            if t.is_alive():
                raise AssertionError("request still running after %s s" % timeout)
            if "e" in box:
                raise box["e"]
            return box["v"]
    return Handle()


class _Target(http.server.BaseHTTPRequestHandler):
    """The server http tasks talk to (loopback only)."""

    def do_GET(self):
        if self.path == "/text":
            self.answer(200, b"hello from the target\n", "text/plain; charset=utf-8")
        elif self.path == "/binary":
            self.answer(200, b"\xff\xfe\x00\x01binary", "application/octet-stream")
        elif self.path == "/broken":
            self.answer(500, b"it broke", "text/plain")
        else:
            self.answer(404, b"no", "text/plain")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.answer(201, body, self.headers.get("Content-Type", "text/plain"))

    def answer(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Repeated", "a")
        self.send_header("X-Repeated", "b")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Test1Contract(jobdtest.JobdTestCase):
    """Every endpoint and status of one no-auth jobd, with every task shape."""
    JOBD_ARGS = ("--max-exec", "1", "--kill-grace", "60", "--max-body", "8192")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="jobd-openapi-files-", dir=WORK)
        cls.target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
        threading.Thread(target=cls.target.serve_forever, daemon=True).start()
        cls.turl = "http://127.0.0.1:%d" % cls.target.server_address[1]
        # Bound but not listening: connecting to it is refused, and no one
        # else can take the port meanwhile.
        cls.closed = socket.socket()
        cls.closed.bind(("127.0.0.1", 0))
        cls.closed_port = cls.closed.getsockname()[1]

    @classmethod
    def tearDownClass(cls):
        # Release any program still waiting on its file, then stop jobd.
        open(os.path.join(cls.tmp, "release"), "w").close()
        cls.target.shutdown()
        cls.target.server_close()
        cls.closed.close()
        super().tearDownClass()

    # -- helpers -----------------------------------------------------------
    def gate(self, name):
        """argv of a program that ignores SIGTERM, says it is ready, and exits
        0 once the file <name>.go exists: a task that runs until we say so."""
        ready = os.path.join(self.tmp, name + ".ready")
        go = os.path.join(self.tmp, name + ".go")
        release = os.path.join(self.tmp, "release")
        script = ("trap '' TERM; echo started; : > %s; "
                  "while [ ! -e %s ] && [ ! -e %s ]; do sleep 0.02; done"
                  % (ready, go, release))
        return ["sh", "-c", script], ready, go

    def wait_file(self, path):
        wait_until(lambda: os.path.exists(path), what=path)

    def release(self, go):
        open(go, "w").close()

    def done(self, tid):
        return self.jobd.wait_state(tid, ("succeeded", "failed", "cancelled"))

    # -- the tests ---------------------------------------------------------
    def test_01_sleep_lifecycle(self):
        j = self.jobd
        r = j.post("/v1/tasks", {"kind": "sleep", "name": "nap", "timeout": 30,
                                 "sleep": {"seconds": 0.05, "result": {"x": [1, 2]}}})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers.get("location"), "/v1/tasks/%d" % r.json["id"])
        tid = r.json["id"]
        r = j.get("/v1/tasks/%d/result" % tid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["result"], {"x": [1, 2]})
        self.assertEqual(j.get("/v1/tasks/%d" % tid).status, 200)
        self.assertEqual(j.get("/v1/tasks/%d/result?timeout=0" % tid).status, 200)
        self.assertEqual(j.get("/v1/tasks/%d/result?timeout=5&cancel=0" % tid).status, 200)
        self.assertError(j.post("/v1/tasks/%d/cancel" % tid), 409, "conflict")
        # timeout: failed with type timeout
        t = j.create("sleep", {"seconds": 100}, timeout=0.05)
        t = self.done(t["id"])
        self.assertEqual((t["state"], t["error"]["type"]), ("failed", "timeout"))
        # a running sleep cancelled
        t = j.create("sleep", {"seconds": 100})
        r = j.post("/v1/tasks/%d/cancel" % t["id"])
        self.assertEqual((r.status, r.json["state"]), (200, "cancelled"), r)
        # delete: done -> 204, then 404 everywhere
        self.assertEqual(j.delete("/v1/tasks/%d" % tid).status, 204)
        self.assertError(j.get("/v1/tasks/%d" % tid), 404, "not_found")
        self.assertError(j.delete("/v1/tasks/%d" % tid), 404, "not_found")
        self.assertError(j.post("/v1/tasks/%d/cancel" % tid), 404, "not_found")
        self.assertError(j.get("/v1/tasks/%d/result" % tid), 404, "not_found")
        self.assertError(j.get("/v1/tasks/%d/stdout" % tid), 404, "not_found")
        # stdout/stderr of a sleep task: 404
        self.assertError(j.get("/v1/tasks/%d/stdout" % t["id"]), 404, "not_found")
        self.assertError(j.get("/v1/tasks/%d/stderr" % t["id"]), 404, "not_found")

    def test_02_result_timeouts(self):
        j = self.jobd
        t = j.create("sleep", {"seconds": 100})
        r = j.get("/v1/tasks/%d/result?timeout=0.05&cancel=false" % t["id"])
        body = self.assertError(r, 504, "timeout")
        self.assertEqual(body["task"]["state"], "running")
        r = j.get("/v1/tasks/%d/result?timeout=0.05" % t["id"])
        body = self.assertError(r, 504, "timeout")
        self.assertEqual(body["task"]["state"], "cancelled")
        for q in ("timeout=", "timeout=-1", "timeout=abc", "cancel=maybe", "bogus=1",
                  "timeout=1&timeout=2"):
            self.assertError(j.get("/v1/tasks/%d/result?%s" % (t["id"], q)), 400, "bad_request")

    def test_03_exec_shapes(self):
        j = self.jobd
        ok = j.create("exec", {"argv": ["sh", "-c", "cat; printf 'err' >&2"],
                               "stdin": "in\n", "env": {"A": "b"}, "cwd": "/"}, name="cat")
        t = self.done(ok["id"])
        self.assertEqual(t["state"], "succeeded", t)
        self.assertEqual(t["result"]["stdout"], "in\n")
        r = j.get("/v1/tasks/%d/stdout" % ok["id"])
        self.assertEqual((r.status, r.body), (200, b"in\n"))
        self.assertEqual(j.get("/v1/tasks/%d/stderr" % ok["id"]).body, b"err")
        # non-UTF-8 output and a non-zero exit
        bad = j.create("exec", {"argv": ["sh", "-c", "printf '\\377ok'; exit 3"]})
        t = self.done(bad["id"])
        self.assertEqual((t["state"], t["error"]["type"], t["error"]["exit_code"]),
                         ("failed", "exit_status", 3), t)
        self.assertEqual(j.get("/v1/tasks/%d/stdout" % bad["id"]).body, b"\xffok")
        # killed by a signal
        sig = j.create("exec", {"argv": ["sh", "-c", "kill -KILL $$"]})
        t = self.done(sig["id"])
        self.assertEqual(t["error"]["signal"], "SIGKILL", t)
        # spawn failures
        for spec in ({"argv": ["/nonexistent/program"]},
                     {"argv": ["true"], "cwd": "/nonexistent/dir"}):
            t = self.done(j.create("exec", spec)["id"])
            self.assertEqual((t["state"], t["error"]["type"]), ("failed", "spawn_failed"), t)
        # the task's own deadline
        t = self.done(j.create("exec", {"argv": ["sleep", "100"]}, timeout=0.05)["id"])
        self.assertEqual((t["state"], t["error"]["type"]), ("failed", "timeout"), t)

    def test_04_cancelling_and_pending(self):
        j = self.jobd
        argv, ready, go = self.gate("slow")
        run = j.create("exec", {"argv": argv})
        self.wait_file(ready)
        # --max-exec 1: the next exec task waits
        pend = j.create("exec", {"argv": ["true"]})
        self.assertEqual(pend["state"], "pending", pend)
        self.assertIsNone(pend["started_at"])
        self.assertEqual(j.get("/v1/tasks?state=pending").status, 200)
        r = j.post("/v1/tasks/%d/cancel" % pend["id"])
        self.assertEqual((r.status, r.json["state"]), (200, "cancelled"), r)
        self.assertIsNone(r.json["started_at"])
        self.assertError(j.delete("/v1/tasks/%d" % run["id"]), 409, "conflict")
        # The program ignores SIGTERM: the cancel waits, the task shows cancelling.
        cancel = in_thread(j.post, "/v1/tasks/%d/cancel" % run["id"])
        wait_until(lambda: j.task(run["id"]).get("cancelling"), what="cancelling")
        self.assertEqual(j.get("/v1/tasks?state=running").status, 200)
        wait_until(lambda: j.get("/v1/tasks/%d/stdout" % run["id"]).body == b"started\n",
                   what="output captured so far")
        self.release(go)
        r = cancel.result()
        self.assertEqual((r.status, r.json["state"]), (200, "cancelled"), r)
        self.assertEqual(r.json["error"]["type"], "cancelled")
        self.assertNotIn("cancelling", r.json)

    def test_05_http_shapes(self):
        j = self.jobd
        cases = [
            ({"url": self.turl + "/text"}, "succeeded"),
            ({"url": self.turl + "/binary"}, "succeeded"),
            ({"url": self.turl + "/broken"}, "succeeded"),
            ({"url": self.turl + "/broken", "fail_on_status": True}, "failed"),
            ({"method": "POST", "url": self.turl + "/echo", "headers": {"Content-Type": "text/x-test"},
              "body": "ping", "follow_redirects": False, "connect_timeout": 5,
              "insecure": False}, "succeeded"),
            ({"url": "http://127.0.0.1:%d/" % self.closed_port}, "failed"),
        ]
        for spec, state in cases:
            t = self.done(j.create("http", spec)["id"])
            self.assertEqual(t["state"], state, (spec, t))
            self.assertEqual(t["spec"]["method"], spec.get("method", "GET"))
        self.assertIn("curl_code", t["error"])
        self.assertError(j.get("/v1/tasks/%d/stdout" % t["id"]), 404, "not_found")

    def test_06_list(self):
        j = self.jobd
        r = j.get("/v1/tasks?limit=2")
        self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(r.json["next_after_id"])
        r = j.get("/v1/tasks?kind=exec&state=failed&limit=1000&after_id=0")
        self.assertEqual(r.status, 200, r)
        for q in ("limit=0", "limit=1001", "state=bogus", "kind=bogus", "after_id=-1",
                  "bogus=1"):
            self.assertError(j.get("/v1/tasks?" + q), 400, "bad_request")
        self.assertError(j.get("/v1/tasks/1?bogus=1"), 400, "bad_request")
        self.assertError(j.delete("/v1/tasks/1?bogus=1"), 400, "bad_request")
        self.assertError(j.post("/v1/tasks/1/cancel?bogus=1"), 400, "bad_request")
        self.assertError(j.get("/v1/tasks/1/stdout?bogus=1"), 400, "bad_request")
        self.assertError(j.get("/v1/tasks/1/stderr?bogus=1"), 400, "bad_request")

    def test_07_wait(self):
        j = self.jobd
        a = j.create("sleep", {"seconds": 0})
        b = j.create("sleep", {"seconds": 100})
        r = j.post("/v1/wait", {"ids": [a["id"], b["id"], a["id"]], "timeout": 30,
                                "return_when": "FIRST_COMPLETED"})
        self.assertEqual((r.status, r.json), (200, {"done": [a["id"]], "pending": [b["id"]]}), r)
        r = j.post("/v1/wait", {"ids": [b["id"]], "timeout": 0.05})
        self.assertEqual((r.status, r.json["pending"]), (200, [b["id"]]), r)
        r = j.post("/v1/wait", {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0}},
                                          {"kind": "exec", "exec": {"argv": ["false"]}}],
                                "return_when": "FIRST_EXCEPTION", "timeout": None})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["ids"]), 2)
        self.assertEqual(j.post("/v1/tasks/%d/cancel" % b["id"]).status, 200)
        for body in ({"ids": []}, {"ids": [1], "bogus": 1}, {"ids": [0]}, {"ids": [1], "tasks": []},
                     {"ids": [1], "return_when": "SOMETIMES"}, {"ids": [1], "timeout": -1}):
            self.assertError(j.post("/v1/wait", body), 400, "bad_request")
        self.assertError(j.post("/v1/wait", {"ids": [999999]}), 404, "not_found")
        self.assertError(j.post("/v1/wait", raw=b'{"ids": [1]}', headers={"Content-Type": "text/plain"}),
                         415, "unsupported_media_type")

    def test_08_gather(self):
        j = self.jobd
        a = j.create("sleep", {"seconds": 0, "result": "a"})
        r = j.post("/v1/gather", {"ids": [a["id"], a["id"]]})
        self.assertEqual((r.status, r.json["results"]), (200, ["a", "a"]), r)
        self.assertEqual(j.post("/v1/gather", {"ids": []}).json, {"results": [], "states": []})
        r = j.post("/v1/gather", {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0, "result": 1}},
                                            {"kind": "exec", "exec": {"argv": ["false"]}}],
                                  "return_exceptions": True})
        self.assertEqual((r.status, r.json["states"]), (200, ["succeeded", "failed"]), r)
        r = j.post("/v1/gather", {"tasks": [{"kind": "sleep", "sleep": {"seconds": 100}},
                                            {"kind": "exec", "exec": {"argv": ["false"]}}]})
        body = self.assertError(r, 424, "task_failed")
        self.assertEqual(body["task"]["state"], "failed")
        self.assertEqual(j.post("/v1/tasks/%d/cancel" % body["ids"][0]).status, 200)
        r = j.post("/v1/gather", {"tasks": [{"kind": "sleep", "sleep": {"seconds": 100}}],
                                  "timeout": 0.05, "cancel": True})
        body = self.assertError(r, 504, "timeout")
        self.assertEqual(body["tasks"][0]["state"], "cancelled")
        s = j.create("sleep", {"seconds": 100})
        r = j.post("/v1/gather", {"ids": [s["id"]], "timeout": 0.05, "cancel": False})
        body = self.assertError(r, 504, "timeout")
        self.assertEqual(body["tasks"][0]["state"], "running")
        self.assertEqual(j.post("/v1/tasks/%d/cancel" % s["id"]).status, 200)
        for body in ({"ids": [1], "return_when": "ALL_COMPLETED"}, {}, {"ids": "1"},
                     {"ids": [1], "cancel": "yes"}, {"tasks": [{"kind": "nope"}]}):
            self.assertError(j.post("/v1/gather", body), 400, "bad_request")
        self.assertError(j.post("/v1/gather", {"ids": [999999]}), 404, "not_found")

    def test_09_bad_creates(self):
        j = self.jobd
        bodies = [{"kind": "sleep"}, {"kind": "sleep", "sleep": {"seconds": 1}, "exec": {}},
                  {"kind": "sleep", "sleep": {"seconds": 1, "bogus": 1}},
                  {"kind": "exec", "exec": {"argv": []}}, {"kind": "http", "http": {"url": "ftp://x/"}},
                  {"kind": "sleep", "sleep": {"seconds": 1}, "name": "x" * 257},
                  {"kind": "sleep", "sleep": {"seconds": 1e10}}, {"kind": "other", "other": {}}]
        for b in bodies:
            self.assertError(j.post("/v1/tasks", b), 400, "bad_request")
        for raw in (b"{", b"[]", b'{"kind": "sleep", "kind": "sleep", "sleep": {"seconds": 0}}'):
            self.assertError(j.post("/v1/tasks", raw=raw, headers={"Content-Type": "application/json"}),
                             400, "bad_request")
        self.assertError(j.post("/v1/tasks", raw=b"{}", headers={"Content-Type": "text/plain"}),
                         415, "unsupported_media_type")
        self.assertError(j.post("/v1/tasks", raw=b"{}"), 415, "unsupported_media_type")
        r = j.post("/v1/tasks", raw=b'{"kind": "sleep", "sleep": {"seconds": 0}}',
                   headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 201, r)

    def test_10_too_large(self):
        # 413: sent on a raw socket (jobd may answer before reading it all),
        # recorded by hand.
        data = json.dumps({"kind": "sleep", "sleep": {"seconds": 0, "result": "x" * 9000}}).encode()
        s = jobdtest.raw_connect(self.jobd.port)
        try:
            head = ("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                    "Content-Type: application/json\r\nContent-Length: %d\r\n"
                    "Connection: close\r\n\r\n" % (self.jobd.port, len(data))).encode()
            try:
                s.sendall(head + data)
            except OSError:
                pass
            r = jobdtest.read_response(s, "POST")
        finally:
            s.close()
        jobdtest.record_exchange("POST", "/v1/tasks", r)
        self.assertError(r, 413, "payload_too_large")

    def test_11_browser_and_host(self):
        j = self.jobd
        t = j.create("sleep", {"seconds": 0})
        evil = {"Origin": "http://evil.example"}
        self.assertError(j.post("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}}, headers=evil),
                         403, "forbidden")
        self.assertError(j.get("/v1/tasks/%d" % t["id"], headers=evil), 403, "forbidden")
        self.assertError(j.delete("/v1/tasks/%d" % t["id"], headers=evil), 403, "forbidden")
        self.assertError(j.post("/v1/tasks/%d/cancel" % t["id"], headers=evil), 403, "forbidden")
        self.assertError(j.get("/healthz", headers=evil), 403, "forbidden")
        self.assertError(j.get("/v1/tasks/%d" % t["id"], headers={"Host": "rebind.example:80"}),
                         403, "forbidden")
        self.assertError(j.post("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}},
                                headers={"Host": "rebind.example"}), 403, "forbidden")

    def test_12_paths_and_methods(self):
        j = self.jobd
        for path in ("/nope", "/v1/tasks/0", "/v1/tasks/01", "/v1/tasks/-1", "/v1/tasks/abc",
                     "/v1/tasks/99999999999999999999", "/v1/tasks/1/bogus", "/v1", "/v1/tasks/"):
            self.assertError(j.get(path), 404, "not_found")
        for method, path in (("PUT", "/v1/tasks"), ("GET", "/v1/wait"), ("DELETE", "/v1/gather"),
                             ("POST", "/v1/tasks/1"), ("GET", "/v1/tasks/1/cancel"),
                             ("POST", "/healthz"), ("PATCH", "/v1/tasks/1")):
            r = j.request(method, path)
            self.assertError(r, 405, "method_not_allowed")
            self.assertIn("allow", r.headers)
        self.assertEqual(j.get("/healthz").json, {"status": "ok"})
        r = j.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)


class Test2Auth(unittest.TestCase):
    """401 and WWW-Authenticate from a jobd with a token."""

    @classmethod
    def setUpClass(cls):
        cls.jobd = Jobd(no_auth=False).start()
        with open(os.path.join(cls.jobd.dir, "jobd.token")) as f:
            cls.token = f.read().strip()

    @classmethod
    def tearDownClass(cls):
        cls.jobd.cleanup()

    def test_auth(self):
        j = self.jobd
        good = {"Authorization": "Bearer " + self.token}
        for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic " + self.token}):
            for method, path in (("GET", "/v1/tasks"), ("GET", "/metrics"), ("GET", "/nope")):
                r = j.request(method, path, headers=h)
                self.assertEqual(r.status, 401, (method, path, h, r))
                self.assertEqual(r.headers.get("www-authenticate"), "Bearer", r.headers)
            r = j.post("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}}, headers=h)
            self.assertEqual(r.status, 401, r)
        r = j.post("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}}, headers=good)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(j.get("/v1/tasks", headers=good).status, 200)
        self.assertEqual(j.get("/metrics", headers=good).status, 200)
        self.assertEqual(j.get("/healthz").status, 200)


class Test3Shutdown(unittest.TestCase):
    """Waiting clients are answered 503 when jobd stops."""

    def test_shutdown_answers_waiters(self):
        j = Jobd().start()
        try:
            t = j.create("sleep", {"seconds": 1000})
            waiter = in_thread(j.get, "/v1/tasks/%d/result" % t["id"])
            wait_until(lambda: waiting_clients(j) >= 1, what="a parked waiter")
            rc = j.stop()
            r = waiter.result()
            body = json.loads(r.body)
            self.assertEqual((r.status, body["error"]["code"]), (503, "overloaded"), r)
            self.assertEqual(rc, 0)
        finally:
            j.cleanup()


class Test4Restart(unittest.TestCase):
    """A running exec task ends failed/interrupted after a crash and restart."""

    def test_interrupted(self):
        j = Jobd().start()
        flag = os.path.join(j.dir, "go")
        try:
            t = j.create("exec", {"argv": ["sh", "-c", "while [ ! -e %s ]; do sleep 0.05; done" % flag]})
            j.wait_state(t["id"], "running")
            j.kill9()
            open(flag, "w").close()
            j2 = jobdtest.start_again(j.dir)
            try:
                t = j2.wait_state(t["id"], ("failed",))
                self.assertEqual(t["error"]["type"], "interrupted", t)
                self.assertEqual(j2.get("/v1/tasks/%d/stdout" % t["id"]).status, 200)
            finally:
                j2.stop()
        finally:
            open(flag, "w").close()
            j.cleanup()


class Test9Validate(unittest.TestCase):
    """The document, then every recorded exchange, through the validator."""

    def test_a_document_is_valid_openapi(self):
        p = run_validator()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_b_recorded_answers_match_the_document(self):
        self.assertTrue(os.path.exists(RECORD), "nothing was recorded")
        cov = os.path.join(WORK, "coverage.json")
        p = run_validator(RECORD, "--coverage", cov)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(cov) as f:
            seen = set()
            for line in json.load(f):
                method, template, status = line.split(" ")
                seen.add((method, template, int(status)))
        missing = sorted("%s %s %d" % (m, t, s) for (m, t), ss in EXPECTED.items()
                         for s in ss if (m, t, s) not in seen)
        self.assertEqual(missing, [], "statuses the test did not produce")

    def test_c_outside_recordings_match_the_document(self):
        if not OUTER_RECORD:
            self.skipTest("no JOBD_RECORD given from outside")
        if not os.path.exists(OUTER_RECORD):
            self.skipTest("%s does not exist (yet)" % OUTER_RECORD)
        p = run_validator(OUTER_RECORD)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


def tearDownModule():
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    jobdtest.main()
