"""Many parked requests on one task: all answered, and jobd still serves others."""
import json
import selectors
import socket
import time

import jobdtest
from jobdtest import JobdTestCase, raw_get

N = 1000


def read_all(socks, deadline):
    """Read every socket to EOF (Connection: close); return {sock: bytes}."""
    sel = selectors.DefaultSelector()
    data = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        data[s] = b""
    open_ = len(socks)
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionError:
                chunk = b""
            if chunk:
                data[s] += chunk
            else:
                sel.unregister(s)
                open_ -= 1
    sel.close()
    return data


def parse(raw):
    """Status and JSON body of one raw HTTP/1.1 response (any framing)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        out, rest = b"", body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    elif b"content-length" in headers:
        body = body[:int(headers[b"content-length"])]
    return status, json.loads(body)


class ParkedTest(JobdTestCase):
    @classmethod
    def setUpClass(cls):
        jobdtest.raise_nofile(N + 1000)
        super().setUpClass()

    def test_thousand_parked_results(self):
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < N + 100:
            self.skipTest("open-file limit %d too low for %d connections" % (soft, N))
        tid = self.jobd.create("sleep", {"seconds": 5, "result": {"parked": True}})["id"]
        self.jobd.wait_state(tid, "running")
        req = raw_get("/v1/tasks/%d/result" % tid, self.jobd.port)
        socks = []
        try:
            for _ in range(N):
                s = socket.create_connection(("127.0.0.1", self.jobd.port), timeout=30)
                s.sendall(req)
                socks.append(s)
            # While they are parked, jobd answers other requests.
            r = self.jobd.get("/healthz", timeout=10)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json, {"status": "ok"})
            t = self.jobd.get("/v1/tasks/%d" % tid, timeout=10)
            self.assertEqual(t.status, 200, t)
            self.assertEqual(t.json["state"], "running",
                             "the task ended before the %d requests were parked" % N)
            lst = self.jobd.get("/v1/tasks?state=running", timeout=10)
            self.assertEqual(lst.status, 200, lst)
            other = self.jobd.create("sleep", {"seconds": 0, "result": "other"})
            r = self.jobd.get("/v1/tasks/%d/result" % other["id"], timeout=10)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["result"], "other")

            got = read_all(socks, time.monotonic() + jobdtest.DEADLINE)
            answers = [parse(got[s]) if got[s] else (None, None) for s in socks]
            bad = [a for a in answers if a[0] != 200]
            self.assertEqual(bad, [], "%d of %d parked requests not answered 200 (first: %r)"
                             % (len(bad), N, bad[:1]))
            final = self.jobd.task(tid)
            self.assertEqual(final["state"], "succeeded")
            for status, body in answers:
                self.assertEqual(body, final)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(self.jobd.get("/healthz").status, 200)


class ConnectionLimitTest(JobdTestCase):
    """--max-connections: past the limit a new connection is answered 503
    overloaded at once (the contract's "over a connection limit") and
    closed; once one closes, new ones are served again."""
    LIMIT = 16
    JOBD_ARGS = ("--max-connections", str(LIMIT))

    def keepalive_healthz(self, s):
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        r = jobdtest.read_response(s)
        self.assertEqual(r.status, 200, r)

    def assertOverloaded(self, r):
        self.assertEqual(r.status, 503, r)
        self.assertEqual(json.loads(r.body)["error"]["code"], "overloaded", r)
        self.assertEqual(r.headers.get("connection"), "close", r)

    def test_past_the_limit_answered_503(self):
        held = []
        try:
            for _ in range(self.LIMIT):
                s = socket.create_connection(("127.0.0.1", self.jobd.port), timeout=30)
                self.keepalive_healthz(s)      # accepted, and kept open
                held.append(s)
            for _ in range(3):
                extra = socket.create_connection(("127.0.0.1", self.jobd.port), timeout=30)
                try:
                    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    self.assertOverloaded(jobdtest.read_response(extra))
                    self.assertEqual(extra.recv(1), b"", "left open past the limit")
                finally:
                    extra.close()
            held.pop(0).close()
            r = jobdtest.wait_until(lambda: (lambda r: r if r.status == 200 else None)(
                self.jobd.get("/healthz")), what="a slot again")
            self.assertEqual(r.json, {"status": "ok"})
        finally:
            for s in held:
                s.close()

    def test_waiters_past_their_share_closed(self):
        # Waiters may take 95% of the connections (here 14 of 16: 2 at
        # least stay free); the one refused beyond that is closed, so that
        # the rest stays free for the requests that do not wait.
        t = self.jobd.create("sleep", {"seconds": 600})
        held = []
        try:
            for _ in range(self.LIMIT - 2):
                s = socket.create_connection(("127.0.0.1", self.jobd.port), timeout=30)
                s.sendall(raw_get("/v1/tasks/%d/result" % t["id"], self.jobd.port).replace(
                    b"Connection: close\r\n", b""))
                held.append(s)
            jobdtest.wait_until(lambda: b"jobd_waiting_clients %d\n" % len(held)
                                in self.jobd.get("/metrics").body, what="the waiters parked")
            s = socket.create_connection(("127.0.0.1", self.jobd.port), timeout=30)
            held.append(s)
            s.sendall(raw_get("/v1/tasks/%d/result" % t["id"], self.jobd.port).replace(
                b"Connection: close\r\n", b""))
            r = jobdtest.read_response(s)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.headers.get("connection"), "close", r)
            self.assertEqual(s.recv(1), b"", "the refused waiter's connection kept a slot")
            self.assertEqual(self.jobd.get("/healthz").status, 200)
        finally:
            for s in held:
                s.close()
            self.jobd.post("/v1/tasks/%d/cancel" % t["id"])


class FullRefusesBeforeActingTest(JobdTestCase):
    """With every waiter slot taken, a request that would have to wait is
    answered 503 overloaded ("try again later"), and so must not have done
    anything: no cancel sent, no task created."""
    LIMIT = 16
    JOBD_ARGS = ("--max-connections", str(LIMIT))

    def setUp(self):
        self.long = self.jobd.create("sleep", {"seconds": 600})["id"]
        self.prog = self.jobd.create("exec", {"argv": ["sleep", "600"]})["id"]
        self.jobd.wait_state(self.prog, "running")
        self.held = []
        for _ in range(self.LIMIT - 2):      # the waiters' 95%, as above
            s = socket.create_connection(("127.0.0.1", self.jobd.port), timeout=30)
            s.sendall(raw_get("/v1/tasks/%d/result" % self.long, self.jobd.port))
            self.held.append(s)
        jobdtest.wait_until(lambda: b"jobd_waiting_clients %d\n" % len(self.held)
                            in self.jobd.get("/metrics").body, what="the waiters parked")

    def tearDown(self):
        for s in self.held:
            s.close()
        for tid in (self.long, self.prog):
            self.jobd.post("/v1/tasks/%d/cancel" % tid)

    def assertRefused(self, r):
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["error"]["code"], "overloaded", r)
        self.assertNotIn("ids", r.json)
        self.assertEqual(r.headers.get("retry-after"), "1", r.headers)
        t = self.jobd.task(self.prog)
        self.assertEqual(t["state"], "running", t)
        self.assertNotIn("cancelling", t)

    def last_id(self):
        return self.jobd.create("sleep", {"seconds": 0})["id"]

    def test_cancel_of_a_running_task(self):
        self.assertRefused(self.jobd.post("/v1/tasks/%d/cancel" % self.prog))

    def test_result_timeout_0(self):
        self.assertRefused(self.jobd.get("/v1/tasks/%d/result?timeout=0" % self.prog))
        # Shielded, it waits for nothing: answered.
        r = self.jobd.get("/v1/tasks/%d/result?timeout=0&cancel=false" % self.prog)
        self.assertEqual(r.status, 504, r)

    def test_gather_timeout_0(self):
        self.assertRefused(self.jobd.post("/v1/gather", {"ids": [self.prog], "timeout": 0}))

    def test_inline_tasks_not_created(self):
        before = self.last_id()
        for path in ("/v1/gather", "/v1/wait"):
            self.assertRefused(self.jobd.post(path, {"tasks": [
                {"kind": "sleep", "sleep": {"seconds": 0}}]}))
        self.assertEqual(self.last_id(), before + 1, "a refused request created tasks")
        # Answered at once, they need no waiter slot.
        r = self.jobd.post("/v1/gather", {"tasks": []})
        self.assertEqual(r.status, 200, r)
        r = self.jobd.post("/v1/wait", {"ids": [self.prog], "timeout": 0})
        self.assertEqual(r.json, {"done": [], "pending": [self.prog]})


if __name__ == "__main__":
    jobdtest.main()
