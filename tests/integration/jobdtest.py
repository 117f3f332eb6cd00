"""Shared harness for jobd's integration tests.

Starts a real jobd on a free loopback port with a temporary database and talks
HTTP to it with the standard library only.  Each test file ends with
``jobdtest.main()``, which runs its unittest cases and prints TAP so that
automake counts every case.
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_BUILD = os.environ.get("TOP_BUILDDIR", os.path.join(HERE, "..", ".."))
JOBD = os.environ.get("JOBD", os.path.join(TOP_BUILD, "daemon", "jobd"))
JOBCTL = os.environ.get("JOBCTL", os.path.join(TOP_BUILD, "client", "jobctl"))

DEADLINE = 30.0  # generous: tests wait on conditions, never on luck


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


class Jobd:
    """One jobd process on 127.0.0.1:<free port> with its own database."""

    def __init__(self, args=(), db_dir=None, no_auth=True, env=None):
        self.env = env
        self.own_dir = db_dir is None
        self.dir = db_dir or tempfile.mkdtemp(prefix="jobd-test-")
        self.db = os.path.join(self.dir, "jobd.db")
        self.args = list(args)
        self.no_auth = no_auth
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "jobd.log")

    def start(self, timeout=DEADLINE):
        cmd = [JOBD, "--listen", "127.0.0.1:0", "--db", self.db] + self.args
        if self.no_auth:
            cmd.append("--no-auth")
        self.log = open(self.log_path, "ab")
        offset = self.log.tell()  # a restart appends: read only this run's lines
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL, cwd=self.dir, env=env)
        deadline = time.monotonic() + timeout
        pat = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                found = pat.findall(f.read())
            if found:
                self.port = int(found[-1])
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("jobd exited %d:\n%s" % (self.proc.returncode, self.logtext()))
            time.sleep(0.02)
        raise RuntimeError("jobd did not start:\n" + self.logtext())

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, sig=signal.SIGTERM, timeout=DEADLINE):
        """Stop jobd with sig; return its exit code."""
        if self.proc is None:
            return None
        rc = terminate(self.proc, sig, timeout)
        if rc is None:
            rc = self.proc.returncode
        self.proc = None
        self.log.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- HTTP --------------------------------------------------------------
    def conn(self, timeout=DEADLINE + 30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, raw=None, timeout=DEADLINE + 30):
        """body: a Python object sent as JSON; raw: bytes sent as they are."""
        h = {}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = self.conn(timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def create(self, kind="sleep", spec=None, **extra):
        body = {"kind": kind, kind: spec if spec is not None else {}}
        body.update(extra)
        r = self.post("/v1/tasks", body)
        if r.status != 201:
            raise AssertionError("create failed: %r" % r)
        return r.json

    def task(self, tid):
        r = self.get("/v1/tasks/%d" % tid)
        if r.status != 200:
            raise AssertionError("get %d: %r" % (tid, r))
        return r.json

    def wait_state(self, tid, states, timeout=DEADLINE):
        """Poll until task tid is in one of states; return the task."""
        if isinstance(states, str):
            states = (states,)
        deadline = time.monotonic() + timeout
        while True:
            t = self.task(tid)
            if t["state"] in states:
                return t
            if time.monotonic() > deadline:
                raise AssertionError("task %d stuck in %s, wanted %s" % (tid, t["state"], states))
            time.sleep(0.02)


def terminate(proc, sig=signal.SIGTERM, timeout=DEADLINE):
    """Signal proc if it still runs; its exit code, or None if it had to be killed."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def wait_until(pred, timeout=DEADLINE, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


class JobdTestCase(unittest.TestCase):
    """A fresh jobd per test class (args in JOBD_ARGS), torn down at the end."""
    JOBD_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.jobd = Jobd(cls.JOBD_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.jobd.stop()
        log = cls.jobd.logtext()
        cls.jobd.cleanup()
        if rc not in (0, None):
            raise AssertionError("jobd exited %s on SIGTERM:\n%s" % (rc, log[-4000:]))

    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        body = r.json
        self.assertIn("error", body, r)
        self.assertEqual(body["error"]["code"], code, r)
        self.assertIsInstance(body["error"]["message"], str)
        self.assertTrue(body["error"]["message"])
        return body


class _TapResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.n = 0

    def _line(self, ok, test, note=""):
        self.n += 1
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, test.id(), note), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "), flush=True)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "), flush=True)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP " + reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " # unexpected success")


def main():
    """Run the calling module's tests and print TAP (plan at the end)."""
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    if len(sys.argv) > 1:
        suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:], sys.modules["__main__"])
    runner = unittest.TextTestRunner(stream=open(os.devnull, "w"), resultclass=_TapResult, verbosity=0)
    result = runner.run(suite)
    # Errors in setUpClass/tearDownClass came through addError as lines too.
    print("1..%d" % result.n, flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)


# -- Helpers shared by the core API tests (tasks, wait, gather, restart...) --
import datetime as _datetime
import socket as _socket

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def parse_ts(s):
    """An RFC 3339 UTC timestamp with milliseconds -> seconds since the epoch."""
    if not isinstance(s, str) or not RFC3339_MS.match(s):
        raise AssertionError("not an RFC 3339 UTC timestamp with milliseconds: %r" % (s,))
    d = _datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
    return d.replace(tzinfo=_datetime.timezone.utc).timestamp()


def list_all(jobd, query="", limit=1000):
    """Every task matching query (e.g. "state=running"), following next_after_id."""
    out, after = [], None
    while True:
        q = "limit=%d" % limit
        if query:
            q += "&" + query
        if after is not None:
            q += "&after_id=%d" % after
        r = jobd.get("/v1/tasks?" + q)
        if r.status != 200:
            raise AssertionError("list %s: %r" % (q, r))
        page = r.json
        out.extend(page["tasks"])
        after = page["next_after_id"]
        if after is None:
            return out


def raw_connect(port, data=b"", timeout=DEADLINE + 30):
    """A plain socket to jobd that has sent data (bytes) as they are."""
    s = _socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if data:
        s.sendall(data)
    return s


def raw_get(path, port, extra=""):
    """The bytes of a GET request for path, with Connection: close."""
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%sConnection: close\r\n\r\n"
            % (path, port, extra)).encode()


def read_response(sock, method="GET"):
    """Read one HTTP response from sock (any framing) into a Response."""
    r = http.client.HTTPResponse(sock, method=method)
    try:
        r.begin()
        body = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        r.close()


def raise_nofile(want):
    """Raise this process's soft open-file limit towards want; return it."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return soft
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def start_again(db_dir, args=(), no_auth=True):
    """Start a new jobd on the database in db_dir (after stop or kill9 of the
    old one).  The old log is moved aside first, so that the old "listening
    on" line cannot be mistaken for the new daemon's port."""
    log = os.path.join(db_dir, "jobd.log")
    if os.path.exists(log):
        n = 1
        while os.path.exists("%s.%d" % (log, n)):
            n += 1
        os.rename(log, "%s.%d" % (log, n))
    return Jobd(args, db_dir=db_dir, no_auth=no_auth).start()

# finished_at - started_at of a task that ran S seconds is >= S - TS_SLACK:
# both are whole milliseconds (one of rounding) plus float error.
TS_SLACK = 0.0011


# -- Helpers for service tests: jobd with exact flags, unix sockets ----------
# Variables systemd sets that change how jobd behaves; removed from the
# environment jobd inherits unless a test sets them on purpose.
SERVICE_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
               "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "STATE_DIRECTORY",
               "CREDENTIALS_DIRECTORY")


def service_env(extra=None):
    """os.environ without systemd's variables, plus extra."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_ENV}
    env.update(extra or {})
    return env


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix stream socket; host only fills the Host header."""

    def __init__(self, path, host="localhost", timeout=DEADLINE + 30):
        super().__init__(host, timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


def conn_request(conn, method, path, body=None, headers=None):
    """One request on conn (closed after); body: a Python object sent as JSON."""
    h = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


class JobdProcess:
    """jobd run with exactly the arguments given (no implied --listen, --db or
    --no-auth), logging stdout and stderr to a file in dir."""

    def __init__(self, args, dir, env=None, prefix=(), log_name="jobd.log"):
        self.args = list(args)
        self.dir = dir
        self.env = service_env(env)
        self.prefix = list(prefix)
        self.log_path = os.path.join(dir, log_name)
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        offset = self.log.tell()  # a restart appends: read only this run's lines
        self.proc = subprocess.Popen(self.prefix + [JOBD] + self.args, stdout=self.log,
                                     stderr=self.log, stdin=subprocess.DEVNULL,
                                     cwd=self.dir, env=self.env)
        return self

    def logtext(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, pattern, timeout=DEADLINE):
        """The first match of regex pattern (str) in the log; fails if jobd exits first."""
        pat = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = pat.search(self.logtext())
            if m:
                return m
            if self.proc.poll() is not None:
                raise AssertionError("jobd exited %d before logging %r:\n%s"
                                     % (self.proc.returncode, pattern, self.logtext()))
            if time.monotonic() > deadline:
                raise AssertionError("no %r in the log:\n%s" % (pattern, self.logtext()))
            time.sleep(0.02)

    def wait_port(self, timeout=DEADLINE):
        return int(self.wait_log(r"listening on 127\.0\.0\.1:(\d+)", timeout).group(1))

    def stop(self, sig=signal.SIGTERM, timeout=DEADLINE):
        """Signal jobd (if it runs) and return its exit code."""
        if self.proc is None:
            return None
        rc = terminate(self.proc, sig, timeout)
        if rc is None:
            rc = "killed after %s s" % timeout
        self.proc = None
        self.log.close()
        return rc


class TempDirCase(unittest.TestCase):
    """A temporary directory per test and jobd processes stopped at the end."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobd-tmp-")
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *names):
        return os.path.join(self.dir, *names)

    def spawn(self, args, env=None, prefix=(), log_name="jobd.log", dir=None):
        p = JobdProcess(args, dir or self.dir, env=env, prefix=prefix, log_name=log_name).start()
        self.procs.append(p)
        return p

    def stop_ok(self, p):
        log = p.logtext()
        rc = p.stop()
        self.assertEqual(rc, 0, "jobd exited %s on SIGTERM:\n%s" % (rc, log))
        return rc


def run_jobd(args, cwd=None, env=None, timeout=DEADLINE):
    """Run jobd expecting it to exit by itself: CompletedProcess with text output."""
    return subprocess.run([JOBD] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          cwd=cwd, env=service_env(env), timeout=timeout,
                          text=True, errors="replace")


def free_port(family=_socket.AF_INET, host="127.0.0.1"):
    """A port that was free a moment ago (for tools that cannot take port 0)."""
    with _socket.socket(family, _socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# -- Opt-in recording of exchanges, for the OpenAPI check ---------------------
# When $JOBD_RECORD names a file, every Jobd.request appends one JSON line
# {"method", "path", "status", "headers", "body" (parsed, when the answer is
# JSON), "body_len", "request_body" (the JSON sent, if any)} to it;
# tests/openapi/validate.mjs checks such files against doc/openapi.yaml
# (e.g. JOBD_RECORD=/tmp/all.jsonl make check).  Without the variable
# nothing changes.
def record_exchange(method, path, resp, request_body=None):
    """Append one exchange (a Response) to $JOBD_RECORD, if it is set."""
    dest = os.environ.get("JOBD_RECORD")
    if not dest:
        return
    ex = {"method": method, "path": path, "status": resp.status,
          "headers": dict(resp.headers), "body_len": len(resp.body or b"")}
    if request_body is not None:
        ex["request_body"] = request_body
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            ex["body"] = json.loads(resp.body)
        except ValueError as e:
            ex["body_error"] = str(e)
    try:
        line = json.dumps(ex, allow_nan=False)
    except ValueError:          # NaN or Infinity sent on purpose: not JSON
        ex.pop("request_body", None)
        line = json.dumps(ex, allow_nan=False)
    line = (line + "\n").encode()
    fd = os.open(dest, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)      # one write on O_APPEND: lines never interleave
    finally:
        os.close(fd)


def _sent_json(args, kwargs):
    """The JSON object a Jobd.request call sent as its body, or None."""
    names = ("body", "headers", "raw")
    given = dict(zip(names, args))
    given.update({k: v for k, v in kwargs.items() if k in names})
    if given.get("body") is not None:
        return given["body"]
    raw, headers = given.get("raw"), given.get("headers") or {}
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if raw is None or not ctype.lower().startswith("application/json"):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _recording(request):
    def recorded(self, method, path, *args, **kwargs):
        r = request(self, method, path, *args, **kwargs)
        if os.environ.get("JOBD_RECORD"):
            record_exchange(method, path, r, _sent_json(args, kwargs))
        return r
    recorded.__doc__ = request.__doc__
    recorded.__wrapped__ = request
    return recorded


Jobd.request = _recording(Jobd.request)
