"""jobctl, the command-line client, against a real jobd.

Every verb in both output modes (table/summary and --json), its exit codes
(0 ok, 1 task failed/cancelled/refused, 2 usage, 3 jobd unreachable or an
unexpected answer, 124 a wait timed out), run's pass-through of output and
exit status, Ctrl-C during run, progress on a terminal, auth, and jobd down.
"""
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import jobdtest
from jobdtest import DEADLINE, JOBCTL, Jobd, JobdTestCase, wait_until

VERBS = ["exec", "http", "sleep", "get", "ls", "result", "wait", "gather",
         "cancel", "rm", "stdout", "stderr", "run"]


class Result:
    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out          # bytes
        self.err = err          # str

    @property
    def text(self):
        return self.out.decode()

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return "<jobctl rc=%d out=%r err=%r>" % (self.rc, self.out[:400], self.err[:400])


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class JobctlMixin:
    """Runs jobctl against self.jobd from an empty directory (no stray token)."""

    @classmethod
    def make_cwd(cls):
        cls.cwd = tempfile.mkdtemp(prefix="jobctl-test-")

    def env(self, url=None, **extra):
        e = {k: v for k, v in os.environ.items() if not k.startswith("JOBD_")}
        e["JOBD_URL"] = url or "http://127.0.0.1:%d" % self.jobd.port
        e.update(extra)
        return e

    def jobctl(self, *args, env=None, cwd=None, stdin=subprocess.DEVNULL, timeout=DEADLINE + 30):
        p = subprocess.run([JOBCTL] + [str(a) for a in args], stdin=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env or self.env(), cwd=cwd or self.cwd, timeout=timeout)
        return Result(p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))

    def ok(self, *args, **kw):
        r = self.jobctl(*args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def assertExit(self, r, rc, err_pattern=None):
        """rc as expected; stderr one line "jobctl: ..." (never a JSON dump)."""
        self.assertEqual(r.rc, rc, r)
        if err_pattern is not None:
            self.assertRegex(r.err, err_pattern)
        if rc != 0:
            first = r.err.splitlines()[0] if r.err else ""
            self.assertTrue(first.startswith("jobctl: "), r)
            self.assertNotIn('{"error"', r.err)

    def new_id(self, *args, **kw):
        r = self.ok(*args, **kw)
        self.assertRegex(r.text, r"^[1-9][0-9]*\n$")
        return int(r.text)


class JobctlCase(JobctlMixin, JobdTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_cwd()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.cwd, ignore_errors=True)
        super().tearDownClass()


class TestHelpAndUsage(JobctlCase):
    def test_help_lists_every_verb(self):
        r = self.ok("--help")
        for v in VERBS:
            self.assertRegex(r.text, r"\n  %s " % v)
        for code in ("124", "Exit status"):
            self.assertIn(code, r.text)

    def test_every_verb_has_help(self):
        for v in VERBS:
            for form in ([v, "--help"], [v, "-h"], ["help", v]):
                r = self.ok(*form)
                self.assertTrue(r.text.startswith("usage: jobctl %s" % v), r)
                self.assertEqual(r.err, "")

    def test_version(self):
        self.assertRegex(self.ok("--version").text, r"^jobctl \d")

    def test_no_verb(self):
        r = self.jobctl()
        self.assertEqual(r.rc, 2, r)
        self.assertIn("usage:", r.err)

    def test_usage_errors(self):
        cases = [
            ["bogus"],
            ["--bogus", "ls"],
            ["get"],
            ["get", "1", "2"],
            ["get", "abc"],
            ["get", "0"],
            ["get", "01"],
            ["get", "-1"],
            ["get", "--bogus", "1"],
            ["ls", "--limit", "0"],
            ["ls", "extra"],
            ["sleep"],
            ["sleep", "x"],
            ["sleep", "1e3"],
            ["sleep", "1", "--result", "{bad"],
            ["sleep", "1", "--timeout", "-1"],
            ["sleep", "1", "--name"],
            ["exec"],
            ["exec", "--env", "NOEQUALS", "--", "true"],
            ["http"],
            ["http", "-H", "no colon", "http://127.0.0.1:1/"],
            ["http", "-H", "A: b", "-H", "a: c", "http://127.0.0.1:1/"],
            ["http", "http://a/", "http://b/"],
            ["result", "1", "--timeout", "nan"],
            ["result", "1", "--return-when", "all"],
            ["wait"],
            ["wait", "1", "--return-when", "sometimes"],
            ["wait", "1", "--no-cancel"],
            ["gather"],
            ["gather", "1", "x"],
            ["cancel"],
            ["rm", "1.5"],
            ["exec", "--stdin", "a", "--stdin-file", "/dev/null", "--", "cat"],
            ["exec", "--stdin-file", "/dev/null", "--stdin", "a", "--", "cat"],
            ["help", "bogus"],
        ]
        for args in cases:
            r = self.jobctl(*args)
            self.assertExit(r, 2)
            self.assertEqual(r.out, b"", r)
        # run's status is the program's: its own usage errors are 255.
        for args in (["run"], ["run", "--timeout", "soon", "--", "true"],
                     ["run", "--stdin", "a", "--stdin", "b", "--", "cat"]):
            r = self.jobctl(*args)
            self.assertExit(r, 255)
            self.assertEqual(r.out, b"", r)

    def test_bad_url_is_a_usage_error(self):
        # Nothing is sent: not to a host named "foo", nor over another protocol,
        # nor to a path or query our paths would be glued to (/v1/v1/tasks).
        here = "http://127.0.0.1:%d" % self.jobd.port
        for url in ("foo", "ftp://127.0.0.1/", "http://", "http:///v1", "127.0.0.1:8080",
                    here + "/v1", here + "/v1/", here + "?x=1", here + "#f",
                    "http://user@127.0.0.1:%d" % self.jobd.port, "http://:80"):
            with self.subTest(url=url):
                r = self.jobctl("--url", url, "ls")
                self.assertExit(r, 2, r"--url")
                self.assertEqual(r.out, b"", r)
                r = self.jobctl("--url", url, "run", "--", "true")
                self.assertExit(r, 255, r"--url")

    def test_url_error_names_its_source(self):
        # JOBD_URL, not an option the user never typed.
        r = self.jobctl("ls", env=self.env(url="foo"))
        self.assertExit(r, 2, r"^jobctl: JOBD_URL=foo: ")
        r = self.jobctl("ls", env=self.env(url="unix:"))
        self.assertExit(r, 2, r"^jobctl: JOBD_URL=unix: ")
        r = self.jobctl("--url", "foo", "ls")
        self.assertExit(r, 2, r"^jobctl: --url=foo: ")

    def test_trailing_slashes_in_url(self):
        self.ok("--url", "http://127.0.0.1:%d//" % self.jobd.port, "ls", "--limit", "1")

    def test_version_is_listed_where_it_works(self):
        # --version works before the verb only: a verb's help must not offer it.
        self.assertIn("--version", self.ok("--help").text)
        self.assertExit(self.jobctl("ls", "--version"), 2)
        for v in VERBS:
            self.assertNotIn("--version", self.ok(v, "--help").text)

    def test_usage_error_names_the_problem(self):
        r = self.jobctl("get", "abc")
        self.assertExit(r, 2, r"^jobctl: get: invalid task id 'abc'\nusage: jobctl get ID\n$")
        r = self.jobctl("sleep", "1", "--frobnicate")
        self.assertExit(r, 2, r"unknown option '--frobnicate'")


class TestSleepAndLook(JobctlCase):
    def test_sleep_prints_id(self):
        tid = self.new_id("sleep", "0", "--result", '{"a": [1, 2]}', "--name", "nap", "--timeout", "5")
        t = self.jobd.task(tid)
        self.assertEqual(t["kind"], "sleep")
        self.assertEqual(t["name"], "nap")
        self.assertEqual(t["timeout"], 5)
        self.assertEqual(t["spec"], {"seconds": 0, "result": {"a": [1, 2]}})

    def test_sleep_fraction_and_options_first(self):
        tid = self.new_id("sleep", "--result", "7", "0.25")
        self.assertEqual(self.jobd.task(tid)["spec"]["seconds"], 0.25)

    def test_global_options_before_verb(self):
        r = self.ok("--json", "sleep", "0")
        self.assertEqual(r.json["kind"], "sleep")
        r = self.ok("--url", "http://127.0.0.1:%d/" % self.jobd.port, "sleep", "0",
                    env=self.env(url="http://127.0.0.1:1"))
        self.assertRegex(r.text, r"^\d+\n$")

    def test_sleep_json(self):
        r = self.ok("sleep", "0", "--json")
        t = r.json
        self.assertEqual(t["kind"], "sleep")
        self.assertIn(t["state"], ("pending", "running", "succeeded"))

    def test_get_summary(self):
        tid = self.new_id("sleep", "0", "--result", '"hello"', "--name", "greeting")
        self.jobd.wait_state(tid, "succeeded")
        r = self.ok("get", tid)
        self.assertRegex(r.text, r"(?m)^id +%d$" % tid)
        self.assertRegex(r.text, r"(?m)^state +succeeded$")
        self.assertRegex(r.text, r"(?m)^name +greeting$")
        self.assertRegex(r.text, r"(?m)^kind +sleep$")
        self.assertRegex(r.text, r"(?m)^result +hello$")
        self.assertRegex(r.text, r"(?m)^finished +\d{4}-\d\d-\d\dT")

    def test_get_json_is_the_api_answer(self):
        tid = self.new_id("sleep", "0", "--result", "[1]")
        self.jobd.wait_state(tid, "succeeded")
        r = self.ok("get", tid, "--json")
        self.assertEqual(r.json, self.jobd.task(tid))

    def test_get_failed_task_shows_error(self):
        tid = self.new_id("sleep", "60", "--timeout", "0")
        self.jobd.wait_state(tid, "failed")
        r = self.ok("get", tid)
        self.assertRegex(r.text, r"(?m)^state +failed$")
        self.assertRegex(r.text, r"(?m)^error +timeout: ")

    def test_get_not_found(self):
        r = self.jobctl("get", "987654")
        self.assertExit(r, 1, r"^jobctl: task 987654: .*not found\n$")
        self.assertEqual(r.out, b"")
        r = self.jobctl("get", "987654", "--json")
        self.assertExit(r, 1, r"^jobctl: task 987654: .*not found\n$")

    def test_ls_table_and_json(self):
        a = self.new_id("sleep", "0", "--name", "ls-a")
        b = self.new_id("sleep", "60", "--name", "ls-b")
        try:
            self.jobd.wait_state(a, "succeeded")
            r = self.ok("ls")
            lines = r.text.splitlines()
            self.assertEqual(lines[0].split(), ["ID", "STATE", "KIND", "CREATED", "NAME", "WHAT"])
            rows = {int(l.split()[0]): l.split() for l in lines[1:]}
            self.assertEqual(rows[a][1:3], ["succeeded", "sleep"])
            self.assertEqual(rows[a][4], "ls-a")
            self.assertEqual(rows[b][1], "running")
            ids = [int(l.split()[0]) for l in lines[1:]]
            self.assertEqual(ids, sorted(ids))

            j = self.ok("ls", "--json").json
            self.assertIsNone(j["next_after_id"])
            self.assertEqual(j, self.jobd.get("/v1/tasks").json)

            j = self.ok("ls", "--json", "--state", "running", "--kind", "sleep").json
            self.assertIn(b, [t["id"] for t in j["tasks"]])
            self.assertTrue(all(t["state"] == "running" for t in j["tasks"]))

            j = self.ok("ls", "--json", "--limit", "1", "--after", a - 1).json
            self.assertEqual([t["id"] for t in j["tasks"]], [a])
            self.assertEqual(j["next_after_id"], a)
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % b)

    def test_ls_after_zero_is_from_the_start(self):
        a = self.new_id("sleep", "0")
        first = self.jobd.get("/v1/tasks?limit=1").json["tasks"][0]["id"]
        j = self.ok("ls", "--json", "--after", "0", "--limit", "1").json
        self.assertEqual([t["id"] for t in j["tasks"]], [first])
        self.assertLessEqual(first, a)

    def test_control_characters_are_escaped(self):
        # A name or argv with a newline or an escape sequence must neither
        # split a table row nor reach the terminal as a control sequence.
        tid = self.new_id("exec", "--name", "a\nb\x1b[31mred\x07", "--",
                          "sh", "-c", "true\n\x1b]0;title\x07")
        r = self.ok("ls", "--kind", "exec", "--after", tid - 1, "--limit", "1")
        lines = r.text.splitlines()
        self.assertEqual(len(lines), 2, r)
        self.assertNotIn(b"\x1b", r.out)
        self.assertNotIn(b"\x07", r.out)
        self.assertIn("a\\nb\\x1b[31mred\\x07", lines[1])
        r = self.ok("get", tid)
        self.assertNotIn(b"\x1b", r.out)
        self.assertRegex(r.text, r"(?m)^name +a\\nb\\x1b\[31mred\\x07$")
        # --json stays the API's answer.
        self.assertEqual(self.ok("get", tid, "--json").json["name"], "a\nb\x1b[31mred\x07")

    def test_ls_bad_filter(self):
        r = self.jobctl("ls", "--state", "sleepy")
        self.assertExit(r, 2, r"state")
        self.assertEqual(r.out, b"")

    def test_proxy_variables_are_ignored(self):
        # jobctl talks to jobd directly: a proxy would get the token, and
        # cannot reach a loopback jobd anyway.
        proxy = "http://127.0.0.1:%d" % free_port()
        env = self.env(http_proxy=proxy, https_proxy=proxy, HTTPS_PROXY=proxy,
                       ALL_PROXY=proxy, all_proxy=proxy)
        self.ok("ls", "--limit", "1", env=env)

    def test_stdout_of_sleep_task(self):
        tid = self.new_id("sleep", "0")
        r = self.jobctl("stdout", tid)
        self.assertExit(r, 1, r"task %d" % tid)


class TestWaiting(JobctlCase):
    def test_result_prints_result(self):
        tid = self.new_id("sleep", "0.1", "--result", '{"answer": 42}')
        r = self.ok("result", tid)
        self.assertEqual(json.loads(r.out), {"answer": 42})
        self.assertEqual(r.err, "")

    def test_result_json(self):
        tid = self.new_id("sleep", "0", "--result", "1")
        r = self.ok("--json", "result", tid)
        self.assertEqual(r.json["state"], "succeeded")
        self.assertEqual(r.json["result"], 1)

    def test_result_timeout_cancels(self):
        tid = self.new_id("sleep", "60")
        r = self.jobctl("result", tid, "--timeout", "0.2")
        self.assertExit(r, 124, r"task %d: .*cancelled" % tid)
        self.assertEqual(self.jobd.task(tid)["state"], "cancelled")

    def test_result_timeout_json(self):
        tid = self.new_id("sleep", "60")
        r = self.jobctl("result", tid, "--timeout", "0", "--json")
        self.assertExit(r, 124)
        self.assertEqual(r.json["error"]["code"], "timeout")
        self.assertEqual(r.json["task"]["state"], "cancelled")

    def test_result_no_cancel(self):
        tid = self.new_id("sleep", "60")
        try:
            r = self.jobctl("result", tid, "--timeout", "0.1", "--no-cancel")
            self.assertExit(r, 124, r"still running")
            self.assertEqual(self.jobd.task(tid)["state"], "running")
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % tid)

    def test_result_of_failed_task(self):
        tid = self.new_id("sleep", "60", "--timeout", "0.05")
        r = self.jobctl("result", tid)
        self.assertExit(r, 1, r"^jobctl: task %d failed \(timeout\)" % tid)
        self.assertEqual(r.out, b"")
        r = self.jobctl("result", tid, "--json")
        self.assertExit(r, 1)
        self.assertEqual(r.json["error"]["type"], "timeout")

    def test_result_of_cancelled_task(self):
        tid = self.new_id("sleep", "60")
        self.ok("cancel", tid)
        r = self.jobctl("result", tid)
        self.assertExit(r, 1, r"task %d was cancelled" % tid)

    def test_result_unknown(self):
        self.assertExit(self.jobctl("result", "999999"), 1, r"not found")

    def test_wait_all(self):
        a = self.new_id("sleep", "0.1")
        b = self.new_id("sleep", "0")
        r = self.ok("wait", a, b, a)
        self.assertEqual(r.text.split("\n")[0].split(), ["ID", "STATE"])
        self.assertEqual([l.split() for l in r.text.splitlines()[1:]],
                         [[str(a), "succeeded"], [str(b), "succeeded"]])
        self.assertEqual(r.err, "")     # no progress when not on a terminal
        r = self.ok("wait", a, b, "--json")
        self.assertEqual(r.json, {"done": [a, b], "pending": []})

    def test_wait_timeout(self):
        a = self.new_id("sleep", "0")
        b = self.new_id("sleep", "60")
        try:
            self.jobd.wait_state(a, "succeeded")
            r = self.jobctl("wait", a, b, "--timeout", "0.2", "--json")
            self.assertExit(r, 124, r"timed out")
            self.assertEqual(r.json, {"done": [a], "pending": [b]})
            r = self.jobctl("wait", b, "--timeout", "0")
            self.assertExit(r, 124)
            self.assertIn("%d  running" % b, r.text)
            self.assertEqual(self.jobd.task(b)["state"], "running")   # wait never cancels
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % b)

    def test_wait_first(self):
        a = self.new_id("sleep", "0")
        b = self.new_id("sleep", "60")
        try:
            r = self.ok("wait", b, a, "--return-when", "first", "--json")
            self.assertEqual(r.json, {"done": [a], "pending": [b]})
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % b)

    def test_wait_exception(self):
        bad = self.new_id("sleep", "60", "--timeout", "0")
        slow = self.new_id("sleep", "60")
        try:
            r = self.jobctl("wait", slow, bad, "--return-when", "exception", "--json")
            self.assertExit(r, 1)
            self.assertEqual(r.json, {"done": [bad], "pending": [slow]})
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % slow)

    def test_wait_with_failure_exits_1(self):
        a = self.new_id("sleep", "0")
        bad = self.new_id("sleep", "60", "--timeout", "0")
        r = self.jobctl("wait", a, bad)
        self.assertExit(r, 1)
        self.assertIn("%d  failed" % bad, r.text)

    def test_wait_unknown(self):
        a = self.new_id("sleep", "0")
        self.assertExit(self.jobctl("wait", a, "999999"), 1, r"not found")

    def test_gather(self):
        a = self.new_id("sleep", "0.1", "--result", '"A"')
        b = self.new_id("sleep", "0", "--result", '{"b": 2}')
        r = self.ok("gather", a, b, a)
        rows = [l.split(None, 2) for l in r.text.splitlines()]
        self.assertEqual(rows[0], ["ID", "STATE", "RESULT"])
        self.assertEqual(rows[1:], [[str(a), "succeeded", '"A"'],
                                    [str(b), "succeeded", '{"b": 2}'],
                                    [str(a), "succeeded", '"A"']])
        r = self.ok("gather", "--json", a, b)
        self.assertEqual(r.json["results"], ["A", {"b": 2}])
        self.assertEqual(r.json["states"], ["succeeded", "succeeded"])

    def test_gather_stops_at_failure(self):
        bad = self.new_id("sleep", "60", "--timeout", "0")
        slow = self.new_id("sleep", "60")
        try:
            r = self.jobctl("gather", slow, bad)
            self.assertExit(r, 1, r"^jobctl: task %d failed \(timeout\)" % bad)
            self.assertEqual(r.out, b"")
            self.assertEqual(self.jobd.task(slow)["state"], "running")
            r = self.jobctl("gather", slow, bad, "--json")
            self.assertExit(r, 1)
            self.assertEqual(r.json["task"]["id"], bad)
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % slow)

    def test_gather_return_exceptions(self):
        a = self.new_id("sleep", "0", "--result", "1")
        bad = self.new_id("sleep", "60", "--timeout", "0")
        r = self.jobctl("gather", a, bad, "--return-exceptions")
        self.assertExit(r, 1)
        rows = [l.split(None, 2) for l in r.text.splitlines()[1:]]
        self.assertEqual(rows[0], [str(a), "succeeded", "1"])
        self.assertEqual(rows[1][:2], [str(bad), "failed"])
        self.assertIn('"timeout"', rows[1][2])
        r = self.jobctl("gather", a, bad, "--return-exceptions", "--json")
        self.assertExit(r, 1)
        self.assertEqual(r.json["states"], ["succeeded", "failed"])

    def test_gather_timeout_cancels(self):
        a = self.new_id("sleep", "0")
        b = self.new_id("sleep", "60")
        r = self.jobctl("gather", a, b, "--timeout", "0.2")
        self.assertExit(r, 124, r"cancelled")
        self.assertEqual(self.jobd.task(b)["state"], "cancelled")

    def test_gather_timeout_no_cancel(self):
        b = self.new_id("sleep", "60")
        try:
            r = self.jobctl("gather", b, "--timeout", "0", "--no-cancel", "--json")
            self.assertExit(r, 124)
            self.assertEqual(r.json["tasks"][0]["state"], "running")
            self.assertEqual(self.jobd.task(b)["state"], "running")
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % b)


def run_on_pty_stderr(args, env, cwd):
    """Run jobctl with stderr on a pseudo-terminal; return (rc, stdout, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([JOBCTL] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    err = b""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:         # EIO: the child closed the terminal
                break
            if not chunk:
                break
            err += chunk
        elif p.poll() is not None:
            break
    out = p.communicate(timeout=DEADLINE)[0]
    os.close(master)
    return p.returncode, out, err.decode("utf-8", "replace")


class TestProgress(JobctlCase):
    def test_wait_progress_on_terminal(self):
        ids = [self.new_id("sleep", s) for s in ("0", "0.3", "0.6")]
        rc, out, err = run_on_pty_stderr(["wait"] + ids, self.env(), self.cwd)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"\d/3 done")
        self.assertIn("3/3 done", err)
        self.assertEqual(len(out.decode().splitlines()), 4)

    def test_gather_progress_on_terminal(self):
        ids = [self.new_id("sleep", s, "--result", "1") for s in ("0", "0.3")]
        rc, out, err = run_on_pty_stderr(["gather", "--json"] + ids, self.env(), self.cwd)
        self.assertEqual(rc, 0, err)
        self.assertIn("2/2 done", err)
        self.assertEqual(json.loads(out)["results"], [1, 1])

    def test_gather_progress_stops_at_failure(self):
        slow = self.new_id("sleep", "60")
        bad = self.new_id("sleep", "60", "--timeout", "0.2")
        try:
            rc, out, err = run_on_pty_stderr(["gather", slow, bad], self.env(), self.cwd)
            self.assertEqual(rc, 1, err)
            self.assertIn("task %d failed" % bad, err)
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % slow)

    def test_wait_progress_honours_timeout(self):
        slow = self.new_id("sleep", "60")
        try:
            rc, out, err = run_on_pty_stderr(["wait", slow, "--timeout", "0.3"], self.env(), self.cwd)
            self.assertEqual(rc, 124, err)
            self.assertIn("0/1 done", err)
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % slow)


class TestCancelRm(JobctlCase):
    def test_cancel(self):
        a = self.new_id("sleep", "60")
        b = self.new_id("sleep", "60")
        r = self.ok("cancel", a, b)
        self.assertEqual(r.text, "%d cancelled\n%d cancelled\n" % (a, b))
        self.assertEqual(self.jobd.task(a)["state"], "cancelled")
        self.assertEqual(self.jobd.task(b)["state"], "cancelled")

    def test_cancel_json(self):
        a = self.new_id("sleep", "60")
        r = self.ok("cancel", a, "--json")
        self.assertEqual(r.json["state"], "cancelled")

    def test_cancel_done_or_unknown(self):
        a = self.new_id("sleep", "0")
        self.jobd.wait_state(a, "succeeded")
        b = self.new_id("sleep", "60")
        r = self.jobctl("cancel", a, b, "999999")
        self.assertExit(r, 1, r"task %d: already succeeded" % a)
        self.assertIn("task 999999", r.err)
        self.assertEqual(r.text, "%d cancelled\n" % b)     # the others still go
        self.assertEqual(self.jobd.task(b)["state"], "cancelled")

    def test_rm(self):
        a = self.new_id("sleep", "0")
        self.jobd.wait_state(a, "succeeded")
        r = self.ok("rm", a)
        self.assertEqual((r.out, r.err), (b"", ""))
        self.assertEqual(self.jobd.get("/v1/tasks/%d" % a).status, 404)
        self.assertExit(self.jobctl("rm", a), 1, r"not found")

    def test_rm_running(self):
        a = self.new_id("sleep", "60")
        try:
            r = self.jobctl("rm", a)
            self.assertExit(r, 1, r"task %d: still running" % a)
            self.assertEqual(self.jobd.task(a)["state"], "running")
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % a)


class TestExec(JobctlCase):
    """Written against the contract: exec tasks, their raw output, and run."""

    def test_exec_prints_id(self):
        tid = self.new_id("exec", "--name", "greet", "--timeout", "30", "--env", "WHO=you",
                          "--cwd", "/", "--", "sh", "-c", 'echo "hi $WHO"; pwd')
        t = self.jobd.task(tid)
        self.assertEqual(t["kind"], "exec")
        self.assertEqual(t["name"], "greet")
        self.assertEqual(t["timeout"], 30)
        self.assertEqual(t["spec"]["argv"], ["sh", "-c", 'echo "hi $WHO"; pwd'])
        self.assertEqual(t["spec"]["env"], {"WHO": "you"})
        self.assertEqual(t["spec"]["cwd"], "/")
        r = self.ok("result", tid, "--json")
        self.assertEqual(r.json["result"]["stdout"], "hi you\n/\n")

    def test_exec_without_dashes(self):
        tid = self.new_id("exec", "echo", "-n", "x")
        self.assertEqual(self.jobd.task(tid)["spec"]["argv"], ["echo", "-n", "x"])

    def test_exec_json_and_stdin(self):
        r = self.ok("exec", "--json", "--stdin", "fed", "--", "cat")
        self.assertEqual(r.json["spec"]["stdin"], "fed")
        r = self.ok("result", r.json["id"], "--json")
        self.assertEqual(r.json["result"]["stdout"], "fed")

    def test_stdout_stderr_raw_bytes(self):
        tid = self.new_id("exec", "--", "sh", "-c", r"printf 'a\377b\n'; printf 'e\200' >&2")
        self.jobd.wait_state(tid, "succeeded")
        self.assertEqual(self.ok("stdout", tid).out, b"a\xffb\n")
        self.assertEqual(self.ok("stderr", tid).out, b"e\x80")

    def test_get_exec_summary(self):
        tid = self.new_id("exec", "--", "sh", "-c", "echo out; exit 3")
        self.jobd.wait_state(tid, "failed")
        r = self.ok("get", tid)
        self.assertRegex(r.text, r"(?m)^error +exit_status: ")
        self.assertRegex(r.text, r'"exit_code": 3')
        r = self.ok("ls", "--kind", "exec")
        self.assertRegex(r.text, r"(?m)^%d +failed +exec .*sh -c 'echo out; exit 3'$" % tid)

    def test_run_passes_output_and_status(self):
        r = self.jobctl("run", "--", "sh", "-c", "printf 'to out'; printf 'to err' >&2; exit 7")
        self.assertEqual(r.rc, 7, r)
        self.assertEqual(r.out, b"to out")
        self.assertEqual(r.err, "to err")

    def test_run_success_raw_bytes(self):
        r = self.jobctl("run", "--env", "X=1", "--", "sh", "-c", r"""printf '\000\377'"$X" """)
        self.assertEqual(r.rc, 0, r)
        self.assertEqual(r.out, b"\x00\xff1")
        self.assertEqual(r.err, "")

    def test_run_killed_by_signal(self):
        r = self.jobctl("run", "--", "sh", "-c", "kill -TERM $$")
        self.assertExit(r, 128 + signal.SIGTERM, r"SIGTERM")

    def test_run_timeout(self):
        r = self.jobctl("run", "--timeout", "0.2", "--", "sleep", "60")
        self.assertExit(r, 124, r"timeout")

    def test_run_cannot_start(self):
        r = self.jobctl("run", "--", "/nonexistent/program")
        self.assertExit(r, 127, r"spawn_failed")

    def test_run_stdin_file(self):
        p = subprocess.run([JOBCTL, "run", "--stdin-file", "-", "--", "tr", "a-z", "A-Z"],
                           input=b"shout\n", capture_output=True, env=self.env(), cwd=self.cwd,
                           timeout=DEADLINE)
        self.assertEqual((p.returncode, p.stdout), (0, b"SHOUT\n"), p)

    def test_run_json(self):
        r = self.jobctl("run", "--json", "--", "sh", "-c", "echo hi; exit 2")
        self.assertEqual(r.rc, 2, r)
        t = r.json
        self.assertEqual(t["state"], "failed")
        self.assertEqual(t["error"]["stdout"], "hi\n")

    def run_and_interrupt(self, sig):
        name = "interrupt-%d-%f" % (sig, time.monotonic())
        p = subprocess.Popen([JOBCTL, "run", "--name", name, "--", "sh", "-c",
                              "echo started; echo warming >&2; exec sleep 60"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env(), cwd=self.cwd)
        try:
            def started():
                tasks = self.jobd.get("/v1/tasks?kind=exec&state=running").json["tasks"]
                for t in tasks:
                    if t["name"] == name:
                        out = self.jobd.get("/v1/tasks/%d/stdout" % t["id"])
                        if out.status == 200 and out.body == b"started\n":
                            return t["id"]
                return None
            tid = wait_until(started, what="run's task to start")
            p.send_signal(sig)
            out, err = p.communicate(timeout=DEADLINE)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return tid, p.returncode, out, err.decode()

    def test_run_ctrl_c_cancels(self):
        tid, rc, out, err = self.run_and_interrupt(signal.SIGINT)
        self.assertEqual(rc, 130, err)
        self.assertEqual(out, b"started\n")
        self.assertIn("warming\n", err)
        self.assertRegex(err, r"jobctl: task %d: cancelled" % tid)
        self.assertEqual(self.jobd.task(tid)["state"], "cancelled")

    def test_run_sigterm_cancels(self):
        tid, rc, out, err = self.run_and_interrupt(signal.SIGTERM)
        self.assertEqual(rc, 128 + signal.SIGTERM, err)
        self.assertEqual(self.jobd.task(tid)["state"], "cancelled")

    def to_full_disk(self, *args):
        """jobctl with its stdout on /dev/full: every write fails (ENOSPC)."""
        with open("/dev/full", "wb") as full:
            p = subprocess.run([JOBCTL] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                               stdout=full, stderr=subprocess.PIPE, env=self.env(),
                               cwd=self.cwd, timeout=DEADLINE + 30)
        return Result(p.returncode, b"", p.stderr.decode("utf-8", "replace"))

    def test_output_that_cannot_be_written_is_a_failure(self):
        # As "echo hi > /dev/full" fails: run's status must not say all went well.
        r = self.to_full_disk("run", "--", "echo", "hi")
        self.assertExit(r, 255, r"No space left on device")
        r = self.to_full_disk("run", "--json", "--", "echo", "hi")
        self.assertExit(r, 255, r"No space left on device")
        self.assertEqual(self.to_full_disk("run", "--", "true").rc, 0)
        # cancel flushes line by line: the loss must still be noticed.
        tid = self.new_id("sleep", "60")
        r = self.to_full_disk("cancel", tid)
        self.assertExit(r, 3, r"writing output")
        self.assertEqual(self.jobd.task(tid)["state"], "cancelled")


class TestRunSecondSignal(JobctlCase):
    """A second signal, of any of the three kinds, stops run at once."""
    JOBD_ARGS = ("--kill-grace", "60")     # the cancel would take that long

    def test_second_signal_stops_at_once(self):
        stop = os.path.join(self.cwd, "stop")
        name = "second-%f" % time.monotonic()
        p = subprocess.Popen([JOBCTL, "run", "--name", name, "--", "sh", "-c",
                              "trap '' TERM; echo started; "
                              "while [ ! -e %s ]; do sleep 0.05; done" % stop],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=self.env(), cwd=self.cwd)
        tid = None
        try:
            def started():
                for t in self.jobd.get("/v1/tasks?kind=exec&state=running").json["tasks"]:
                    if t["name"] == name and self.jobd.get(
                            "/v1/tasks/%d/stdout" % t["id"]).body == b"started\n":
                        return t["id"]
                return None
            tid = wait_until(started, what="run's task to start")
            p.send_signal(signal.SIGINT)
            wait_until(lambda: self.jobd.task(tid).get("cancelling"),
                       what="the cancel to be under way")
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=DEADLINE)
            self.assertEqual(p.returncode, -signal.SIGTERM)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            open(stop, "w").close()
            if tid is not None:
                self.jobd.wait_state(tid, "cancelled")


class TestUnixSocket(JobctlMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.make_cwd()
        cls.sock = os.path.join(cls.cwd, "jobd.sock")
        cls.jobd = Jobd(["--listen", "unix:" + cls.sock]).start()

    @classmethod
    def tearDownClass(cls):
        cls.jobd.cleanup()
        shutil.rmtree(cls.cwd, ignore_errors=True)

    def test_unix_url(self):
        env = self.env(url="unix:" + self.sock)
        tid = self.new_id("sleep", "0", "--result", "5", env=env)
        self.assertEqual(self.ok("result", tid, env=env).out, b"5\n")

    def test_missing_socket_says_why(self):
        # Not libcurl's "Failed to connect to localhost port 80".
        path = os.path.join(self.cwd, "no-such.sock")
        r = self.jobctl("ls", env=self.env(url="unix:" + path))
        self.assertExit(r, 3, r"^jobctl: cannot reach jobd at unix:%s: No such file or directory\n$"
                        % re.escape(path))


class TestHttp(JobctlCase):
    """Written against the contract: http tasks aimed at jobd itself."""

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.jobd.port, path)

    def test_http_get(self):
        tid = self.new_id("http", self.url("/healthz"))
        t = self.jobd.task(tid)
        self.assertEqual(t["kind"], "http")
        self.assertEqual(t["spec"]["url"], self.url("/healthz"))
        r = self.ok("result", tid)
        res = json.loads(r.out)
        self.assertEqual(res["status"], 200)
        self.assertEqual(json.loads(res["body"]), {"status": "ok"})

    def test_http_options(self):
        r = self.ok("http", "--json", "-X", "PUT", "-H", "X-One: 1", "-H", "X-Two:two",
                    "-d", "payload", "--name", "h", "--timeout", "10", self.url("/healthz"))
        t = r.json
        self.assertEqual(t["spec"]["method"], "PUT")
        self.assertEqual(t["spec"]["headers"], {"X-One": "1", "X-Two": "two"})
        self.assertEqual(t["spec"]["body"], "payload")
        self.assertEqual((t["name"], t["timeout"]), ("h", 10))

    def test_http_data_means_post(self):
        r = self.ok("http", "--json", "-d", "x", self.url("/healthz"))
        self.assertEqual(r.json["spec"]["method"], "POST")

    def test_http_fail_on_status(self):
        tid = self.new_id("http", "--fail-on-status", self.url("/no/such/path"))
        r = self.jobctl("result", tid)
        self.assertExit(r, 1, r"failed \(http_error\)")

    def test_http_bad_url(self):
        r = self.jobctl("http", "ftp://127.0.0.1/")
        self.assertExit(r, 2)


class TestPaging(JobctlCase):
    def test_ls_pages_through_everything(self):
        n = 1205
        r = self.jobd.post("/v1/wait", {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0}}] * n,
                                        "timeout": 0})
        self.assertEqual(r.status, 200, r)
        r = self.ok("ls")
        self.assertEqual(len(r.text.splitlines()), n + 1)
        j = self.ok("ls", "--json").json
        self.assertEqual(len(j["tasks"]), n)
        self.assertIsNone(j["next_after_id"])
        ids = [t["id"] for t in j["tasks"]]
        self.assertEqual(ids, sorted(set(ids)))
        j = self.ok("ls", "--json", "--limit", "1100").json
        self.assertEqual(len(j["tasks"]), 1100)
        self.assertEqual(j["next_after_id"], ids[1099])


class TestAuth(JobctlMixin, unittest.TestCase):
    """jobd with auth on: the token from a file, the environment, or found."""

    @classmethod
    def setUpClass(cls):
        cls.jobd = Jobd(no_auth=False).start()
        cls.make_cwd()
        cls.token_path = os.path.join(cls.jobd.dir, "jobd.token")
        wait_until(lambda: os.path.exists(cls.token_path), what="jobd.token")
        with open(cls.token_path) as f:
            cls.token = f.read().strip()

    @classmethod
    def tearDownClass(cls):
        cls.jobd.cleanup()
        shutil.rmtree(cls.cwd, ignore_errors=True)

    def test_no_token(self):
        r = self.jobctl("ls")
        self.assertExit(r, 3, r"token")

    def test_token_file(self):
        self.new_id("--token-file", self.token_path, "sleep", "0")
        self.new_id("sleep", "0", "--token-file", self.token_path)

    def test_token_env(self):
        self.new_id("sleep", "0", env=self.env(JOBD_TOKEN=self.token))

    def test_wrong_token(self):
        r = self.jobctl("ls", env=self.env(JOBD_TOKEN="not-the-token"))
        self.assertExit(r, 3, r"refused the token")

    def test_token_found_beside_database(self):
        self.new_id("sleep", "0", cwd=self.jobd.dir)

    def test_unreadable_token_file_option(self):
        r = self.jobctl("ls", "--token-file", os.path.join(self.cwd, "missing"))
        self.assertExit(r, 2, r"missing")

    def test_token_env_must_be_a_token(self):
        # A line break would add a header of the caller's making; white
        # space cannot be in a token. Refused before anything is sent.
        with socket.socket() as srv:
            srv.bind(("127.0.0.1", 0))
            srv.listen(1)
            url = "http://127.0.0.1:%d" % srv.getsockname()[1]
            for tok in ("a\r\nX-Injected: 1", " ", "a b", "a\tb"):
                with self.subTest(token=tok):
                    r = self.jobctl("ls", env=self.env(url=url, JOBD_TOKEN=tok))
                    self.assertExit(r, 2, r"^jobctl: JOBD_TOKEN: ")
                    r = self.jobctl("run", "--", "true", env=self.env(url=url, JOBD_TOKEN=tok))
                    self.assertExit(r, 255, r"^jobctl: JOBD_TOKEN: ")
            srv.settimeout(0)
            with self.assertRaises(BlockingIOError):
                srv.accept()
        # Trailing white space is dropped, as from a token file.
        self.new_id("sleep", "0", env=self.env(JOBD_TOKEN=self.token + "\n"))

    def test_unusable_found_token_is_skipped(self):
        d = tempfile.mkdtemp(prefix="jobctl-test-")
        try:
            os.mkdir(os.path.join(d, "jobd.token"))      # cannot be read as a file
            r = self.jobctl("ls", cwd=d)
            self.assertExit(r, 3, r"token")
            self.assertNotIn("jobd.token", r.err)
        finally:
            shutil.rmtree(d, ignore_errors=True)


class TestJobdDown(JobctlMixin, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.make_cwd()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.cwd, ignore_errors=True)

    def test_unreachable(self):
        url = "http://127.0.0.1:%d" % free_port()
        for args in (["sleep", "1"], ["get", "1"], ["ls"], ["result", "1"], ["wait", "1"],
                     ["gather", "1"], ["cancel", "1"], ["rm", "1"], ["stdout", "1"],
                     ["exec", "--", "true"], ["run", "--", "true"], ["--json", "ls"]):
            r = self.jobctl(*args, env=self.env(url=url))
            # run: 255, which a program's "exit 3" cannot be mistaken for.
            self.assertExit(r, 255 if "run" in args else 3,
                            r"^jobctl: cannot reach jobd at %s" % re.escape(url))
            self.assertEqual(len(r.err.splitlines()), 1, r)
            self.assertEqual(r.out, b"")

    def test_jobd_dies_during_wait(self):
        jobd = Jobd().start()
        self.jobd = jobd
        try:
            tid = jobd.create("sleep", {"seconds": 60})["id"]
            p = subprocess.Popen([JOBCTL, "result", str(tid)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=self.env(), cwd=self.cwd)
            wait_until(lambda: re.search(rb"(?m)^jobd_waiting_clients 1$",
                                         jobd.get("/metrics").body),
                       what="jobctl's wait to be parked")
            jobd.kill9()
            out, err = p.communicate(timeout=DEADLINE)
            self.assertEqual(p.returncode, 3, err)
            self.assertTrue(err.decode().startswith("jobctl: "), err)
        finally:
            jobd.cleanup()


if __name__ == "__main__":
    jobdtest.main()
