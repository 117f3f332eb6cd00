"""HTTP/1.1 at its edges, read on the wire: requests that jobd's HTTP
library (libmicrohttpd 0.9.75) left unanswered until its 60 s connection
timeout, or answered wrongly.  Every read has a deadline well under that
timeout, so a hang fails the test rather than passing late."""
import json
import os
import re
import time

import jobdtest
from jobdtest import DEADLINE, Jobd, JobdTestCase, raw_connect, read_response

# MHD's connection timeout is 60 s: an answer later than this is a hang.
PROMPT = 20.0
JSON = b"Content-Type: application/json\r\n"


def exchange(port, data, method="GET", timeout=PROMPT):
    """Send data on a new connection; the response read from it, and whether
    jobd then closed the connection."""
    s = raw_connect(port, data, timeout=timeout)
    try:
        r = read_response(s, method)
        try:
            closed = s.recv(1) == b""
        except ConnectionResetError:
            closed = True
        return r, closed
    finally:
        s.close()


class ProtocolCase(JobdTestCase):
    def head(self, method, target, extra=b"", host=None):
        if host is None:
            host = b"127.0.0.1:%d" % self.jobd.port
        return b"%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (method, target, host, extra)

    def send(self, method, target, extra=b"", body=b"", host=None):
        data = self.head(method, target, extra, host) + b"Connection: close\r\n\r\n" + body
        return exchange(self.jobd.port, data, method.decode())[0]

    def still_serving(self):
        r = self.jobd.get("/healthz", timeout=PROMPT)
        self.assertEqual(r.status, 200, r)


class QueryTest(ProtocolCase):
    """MHD kept each query argument in the connection's 16 KiB memory pool;
    some 250 of them (a URL of 1.6 KB) ran it out, and MHD meant to answer
    431 but sent nothing.  jobd now reads the query itself."""

    def test_many_parameters_answered(self):
        t0 = time.monotonic()
        r = self.send(b"GET", b"/v1/tasks?" + b"&".join([b"a=1"] * 250))
        self.assertLess(time.monotonic() - t0, PROMPT)
        self.assertError(r, 400, "bad_request")
        self.assertIn('"a"', r.json["error"]["message"])
        self.still_serving()

    def test_many_empty_pieces_are_nothing(self):
        # "&&&" names nothing: the query is limit=2 alone.
        for i in range(3):
            self.jobd.create("sleep", {"seconds": 0})
        r = self.jobd.get("/v1/tasks?limit=2" + "&" * 2000, timeout=PROMPT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["tasks"]), 2, r)

    def test_decoding_as_before(self):
        t = self.jobd.create("sleep", {"seconds": 0})
        self.jobd.wait_state(t["id"], "succeeded")
        # '+' is a space, %xx a byte, in keys and values alike.
        r = self.jobd.get("/v1/tasks?st%61te=succ%65eded&limit=1000", timeout=PROMPT)
        self.assertEqual(r.status, 200, r)
        self.assertIn(t["id"], [x["id"] for x in r.json["tasks"]])
        r = self.send(b"GET", b"/v1/tasks?sta+te=1")
        self.assertError(r, 400, "bad_request")
        self.assertIn('"sta te"', r.json["error"]["message"])
        r = self.send(b"GET", b"/v1/tasks?limit")      # a key alone: no value
        self.assertError(r, 400, "bad_request")
        r = self.send(b"GET", b"/v1/tasks?state=%00")  # kept as it is: no state
        self.assertError(r, 400, "bad_request")


class TransferCodingTest(ProtocolCase):
    """MHD understands the transfer coding "chunked" alone; with any other it
    read the body until the client closed, so the request hung.  RFC 9112
    6.1: a coding not understood is 501; 6.3: chunked not last is 400; both
    close the connection."""

    BODY = json.dumps({"kind": "sleep", "sleep": {"seconds": 0}}).encode()

    def post(self, coding, extra=b""):
        # No "Connection: close" (unless extra says so): jobd must close.
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(self.BODY), self.BODY)
        data = (self.head(b"POST", b"/v1/tasks", JSON + b"Transfer-Encoding: " + coding + b"\r\n")
                + extra + b"\r\n" + chunked)
        t0 = time.monotonic()
        r, closed = exchange(self.jobd.port, data, "POST")
        self.assertLess(time.monotonic() - t0, PROMPT)
        return r, closed

    def test_unknown_coding_501(self):
        before = jobdtest.list_all(self.jobd)
        for coding in (b"gzip, chunked", b"x-whatever , chunked", b"chunked, chunked"):
            r, closed = self.post(coding)
            self.assertError(r, 501, "not_implemented")
            self.assertEqual(r.headers.get("connection"), "close", (coding, r.headers))
            self.assertTrue(closed, coding)
        self.assertEqual(jobdtest.list_all(self.jobd), before)
        self.still_serving()

    def test_chunked_not_last_400(self):
        for coding in (b"chunked, gzip", b"gzip", b"identity"):
            r, closed = self.post(coding)
            self.assertError(r, 400, "bad_request")
            self.assertIn("Transfer-Encoding", r.json["error"]["message"])
            self.assertTrue(closed, coding)
        self.still_serving()

    def test_chunked_alone_accepted(self):
        for coding in (b"chunked", b"Chunked"):
            r, _ = self.post(coding, b"Connection: close\r\n")
            self.assertEqual(r.status, 201, (coding, r))


class AbsoluteFormTest(ProtocolCase):
    """RFC 9112 3.2.2: a server must accept a target in absolute form
    ("GET http://host/path"), and its authority, not Host, names the host.
    jobd routed the whole URL and answered 404."""

    def target(self, path, authority=None):
        return ("http://%s%s" % (authority or "127.0.0.1:%d" % self.jobd.port, path)).encode()

    def test_routed_as_its_path(self):
        body = json.dumps({"kind": "sleep", "sleep": {"seconds": 0, "result": 7}}).encode()
        r = self.send(b"POST", self.target("/v1/tasks"),
                      JSON + b"Content-Length: %d\r\n" % len(body), body)
        self.assertEqual(r.status, 201, r)
        tid = r.json["id"]
        self.assertEqual(r.headers["location"], "/v1/tasks/%d" % tid)
        r = self.send(b"GET", self.target("/v1/tasks/%d/result?timeout=20" % tid))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["result"], 7, r)
        r = self.send(b"GET", b"HTTP://localhost:%d/v1/tasks?limit=1" % self.jobd.port)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["tasks"]), 1, r)
        r = self.send(b"GET", self.target(""))   # no path: "/", no such resource
        self.assertError(r, 404, "not_found")

    def test_its_authority_is_the_host(self):
        # The authority is checked as Host would be, and Host is ignored.
        r = self.send(b"GET", self.target("/healthz", "evil.example"))
        self.assertError(r, 403, "forbidden")
        r = self.send(b"GET", self.target("/healthz"), host=b"evil.example")
        self.assertEqual(r.status, 200, r)
        r = self.send(b"GET", b"http:///healthz")
        self.assertError(r, 400, "bad_request")


class HostTest(ProtocolCase):
    """RFC 9112 3.2: a server must answer 400 to an HTTP/1.1 request with no
    Host header, or with more than one.  jobd served them.  HTTP/1.0 has no
    Host and is served."""

    def test_http11_without_host_400(self):
        for target in (b"/healthz", b"http://127.0.0.1:%d/healthz" % self.jobd.port):
            r, closed = exchange(self.jobd.port, b"GET %s HTTP/1.1\r\n\r\n" % target)
            self.assertError(r, 400, "bad_request")
            self.assertIn("Host", r.json["error"]["message"])
            self.assertTrue(closed)
        self.still_serving()

    def test_two_hosts_400(self):
        r = self.send(b"GET", b"/healthz", b"Host: 127.0.0.1\r\n")
        self.assertError(r, 400, "bad_request")

    def test_http10_without_host_served(self):
        r, _ = exchange(self.jobd.port, b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(r.status, 200, r)



class ExpectContinueTest(ProtocolCase):
    """A client that sends "Expect: 100-continue" waits for the 100 before it
    sends its body.  A request refused anyway (no token) was told 100 first,
    so the body went for nothing; now the refusal comes instead, and the
    connection is closed (the body is never read)."""

    @classmethod
    def setUpClass(cls):
        cls.jobd = Jobd(no_auth=False).start()
        with open(os.path.join(cls.jobd.dir, "jobd.token")) as f:
            cls.token = f.read().strip()

    BODY = json.dumps({"kind": "sleep", "sleep": {"seconds": 0}}).encode()

    def start(self, auth):
        extra = JSON + b"Content-Length: %d\r\nExpect: 100-continue\r\n" % len(self.BODY)
        if auth is not None:
            extra += b"Authorization: Bearer " + auth.encode() + b"\r\n"
        s = raw_connect(self.jobd.port, self.head(b"POST", b"/v1/tasks", extra) + b"\r\n",
                        timeout=PROMPT)
        return s, s.makefile("rb")

    def test_refused_before_the_body(self):
        for auth in (None, "wrong"):
            s, f = self.start(auth)
            try:
                status = f.readline()
                self.assertTrue(status.startswith(b"HTTP/1.1 401 "), (auth, status))
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    head += f.readline()
                n = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                self.assertEqual(json.loads(f.read(n))["error"]["code"], "unauthorized")
                self.assertRegex(head, rb"(?i)www-authenticate: *bearer")
                self.assertEqual(f.read(1), b"", "the connection stays open")
            finally:
                f.close()
                s.close()

    def test_continue_with_a_good_token(self):
        s, f = self.start(self.token)
        try:
            self.assertTrue(f.readline().startswith(b"HTTP/1.1 100 "))
            self.assertEqual(f.readline(), b"\r\n")
            s.sendall(self.BODY)
            self.assertTrue(f.readline().startswith(b"HTTP/1.1 201 "))
        finally:
            f.close()
            s.close()

if __name__ == "__main__":
    jobdtest.main()
