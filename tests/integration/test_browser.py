"""Browsers must not be able to drive jobd behind a user's back (API.md,
Conventions): a real headless Chromium loads a hostile page from another
loopback port, and the page tries every way a web page has to create or
cancel tasks on a --no-auth jobd.

The page (browser_page.html) reports what each attempt saw to its own server
and the test then checks jobd's side: no task was created, no marker file
was written, the running task is still running, and jobd's request counters
show that the attempts did reach it and were refused.  Controls make the
test able to fail: the same request to a closed port must fail in the page
(so an answered request really was answered by jobd), and each attempt must
be counted by jobd as a 4xx.

Needs Debian's chromium (/usr/bin/chromium).  Runs as root, hence
--no-sandbox.
"""
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

import jobdtest
from jobdtest import Jobd

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(HERE, "browser_page.html")
PAGE_DEADLINE = 60.0
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class PageServer:
    """Serves the page on 127.0.0.1:<free port> and collects its report."""

    def __init__(self):
        self.config = None
        self.report = None
        self.done = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] != "/":
                    return self.answer(404, b"", "text/plain")
                with open(PAGE, "rb") as f:
                    page = f.read()
                page = page.replace(b"/*CONFIG*/null", json.dumps(outer.config).encode())
                self.answer(200, page, "text/html; charset=utf-8")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if self.path == "/done":
                    outer.report = json.loads(body)
                    outer.done.set()
                self.answer(204, b"", None)

            def answer(self, status, body, ctype):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.origin = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def requests_4xx(jobd):
    """jobd's count of answers with a 4xx status (from /metrics)."""
    r = jobd.get("/metrics")
    if r.status != 200:
        raise AssertionError("metrics: %r" % r)
    found = re.findall(rb'^jobd_http_requests_total\{[^}]*code="4xx"[^}]*\} (\d+)', r.body, re.M)
    if not found:
        raise AssertionError("/metrics has no jobd_http_requests_total{code=\"4xx\"}:\n%s"
                             % r.body.decode(errors="replace")[:2000])
    return sum(int(n) for n in found)


class BrowserChecks:
    """The tests, run by the TestCase classes below (one jobd setup each)."""
    JOBD_ALLOW_ORIGIN = False

    @classmethod
    def setUpClass(cls):
        if not os.access(CHROMIUM, os.X_OK):
            raise AssertionError("%s is missing: apt-get install chromium" % CHROMIUM)
        cls.tmp = tempfile.mkdtemp(prefix="jobd-browser-")
        cls.page = PageServer()
        args = ["--allow-origin", cls.page.origin] if cls.JOBD_ALLOW_ORIGIN else []
        cls.jobd = Jobd(args).start()

    @classmethod
    def tearDownClass(cls):
        cls.page.close()
        rc = cls.jobd.stop()
        cls.jobd.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if rc not in (0, None):
            raise AssertionError("jobd exited %s on SIGTERM" % rc)

    def run_page(self, steps, task=None):
        """Load the page in Chromium with these steps; return its report."""
        markers = [os.path.join(self.tmp, "marker-%d" % i) for i in range(4)]
        self.markers = markers
        # Bound but not listening: connections are refused, and the port
        # cannot be taken by anyone else meanwhile.
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        self.addCleanup(closed.close)
        self.page.config = {"jobd": "http://127.0.0.1:%d" % self.jobd.port,
                            "closed": "http://127.0.0.1:%d" % closed.getsockname()[1],
                            "task": task, "markers": markers, "steps": steps}
        self.page.report = None
        self.page.done.clear()
        profile = tempfile.mkdtemp(prefix="profile-", dir=self.tmp)
        log = open(os.path.join(self.tmp, "chromium.log"), "wb")
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
               "--user-data-dir=" + profile, self.page.origin + "/"]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
        try:
            if not self.page.done.wait(PAGE_DEADLINE):
                log.flush()
                with open(log.name, "rb") as f:
                    tail = f.read()[-3000:].decode(errors="replace")
                raise AssertionError("the page did not report within %d s (chromium exit %s):\n%s"
                                     % (PAGE_DEADLINE, proc.poll(), tail))
            return self.page.report
        finally:
            self.stop_browser(proc)
            log.close()

    @staticmethod
    def stop_browser(proc):
        """End Chromium and its helpers: its own session, by its id."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        proc.wait()

    def assertUntouched(self, before_ids):
        """The tasks are before_ids (what the test lets the page create
        included), and no page's program ran."""
        tasks = jobdtest.list_all(self.jobd)
        self.assertEqual([t["id"] for t in tasks], before_ids,
                         "a web page created tasks: %r" % tasks)
        for m in self.markers:
            self.assertFalse(os.path.exists(m), "a web page ran a program: %s exists" % m)

    def assertSimpleRequestsAnswered(self, report):
        """What a page sends without a preflight (no-cors fetches, a form)
        reached jobd, to be refused: the same request to a closed port
        fails."""
        self.assertEqual(report["control_closed"], "error:TypeError", report)
        self.assertEqual(report["nocors_text"], "response:opaque", report)
        self.assertEqual(report["nocors_json"], "response:opaque", report)
        self.assertEqual(report["form_text"], "loaded", report)

    # -- the tests ---------------------------------------------------------
    def test_post_attempts_are_refused(self):
        """fetch (no-cors, cors) and form POSTs create nothing."""
        before = [t["id"] for t in jobdtest.list_all(self.jobd)]
        n4xx = requests_4xx(self.jobd)
        report = self.run_page(["nocors_text", "nocors_json", "cors_json", "form_text",
                                "control_closed"])
        self.assertSimpleRequestsAnswered(report)
        # The CORS one was stopped (its preflight refused).
        self.assertEqual(report["cors_json"], "error:TypeError", report)
        self.assertUntouched(before)
        # nocors_text, nocors_json, the preflight OPTIONS of cors_json and
        # form_text reached jobd and were refused.
        self.assertGreaterEqual(requests_4xx(self.jobd) - n4xx, 4, report)

    def test_get_attempts_do_not_cancel(self):
        """An image or a frame loading .../result?timeout=0 (which cancels
        the task when its timeout passes) must not cancel a running task."""
        t = self.jobd.create("sleep", {"seconds": 1000})
        self.jobd.wait_state(t["id"], "running")
        before = [x["id"] for x in jobdtest.list_all(self.jobd)]
        n4xx = requests_4xx(self.jobd)
        report = self.run_page(["control_get", "image_result", "frame_result"], task=t["id"])
        self.assertEqual(report["control_get"], "response:opaque", report)
        self.assertEqual(report["frame_result"], "loaded", report)
        self.assertUntouched(before)
        t2 = self.jobd.task(t["id"])
        self.assertEqual(t2["state"], "running",
                         "a web page cancelled task %d with a GET: %r" % (t["id"], t2))
        self.assertNotIn("cancelling", t2)
        # Both GETs reached jobd and were refused.
        self.assertGreaterEqual(requests_4xx(self.jobd) - n4xx, 2, report)
        r = self.jobd.post("/v1/tasks/%d/cancel" % t["id"])
        self.assertEqual(r.status, 200, r)


class TestBrowserDefaults(BrowserChecks, unittest.TestCase):
    """jobd as started with --no-auth and nothing else: Origin is refused."""


class TestBrowserAllowedOrigin(BrowserChecks, unittest.TestCase):
    """With the page's origin allowed (--allow-origin), the page uses jobd
    through CORS: its preflighted JSON request creates a task and it reads
    the answer.  Requests that are not JSON are still refused (415), and
    GETs without an Origin (images, frames) still cancel nothing."""
    JOBD_ALLOW_ORIGIN = True

    def test_post_attempts_are_refused(self):
        """Only the preflighted JSON request creates a task: one."""
        before = [t["id"] for t in jobdtest.list_all(self.jobd)]
        report = self.run_page(["nocors_text", "nocors_json", "form_text", "cors_read",
                                "control_closed"])
        self.assertSimpleRequestsAnswered(report)
        m = re.fullmatch(r"status:201 location:/v1/tasks/(\d+)", report["cors_read"])
        self.assertTrue(m, report)
        self.assertUntouched(before + [int(m.group(1))])


if __name__ == "__main__":
    jobdtest.main()
