"""Token auth, on by default: where the token comes from, what needs it,
and when --no-auth is refused."""
import http.client
import os
import re
import shutil
import stat
import subprocess
import socket
import tempfile
import time
import unittest

import jobdtest
from jobdtest import (DEADLINE, JOBCTL, Jobd, JobdProcess, UnixHTTPConnection, conn_request,
                      run_jobd, start_again)

HEX64 = re.compile(r"^[0-9a-f]{64}\n?$")


def read(path):
    with open(path) as f:
        return f.read()


def sleep_body(seconds=0, result=None):
    return {"kind": "sleep", "sleep": {"seconds": seconds, "result": result}}


def bearer(token):
    return {"Authorization": "Bearer " + token}


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))


def unread_bytes(port):
    """Bytes the kernel holds for the server's connections on port that the
    server has not read yet (rx_queue in /proc/net/tcp)."""
    total = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
                total += int(fields[4].split(":")[1], 16)
    return total


class AuthCase(unittest.TestCase):
    def assert401(self, r):
        self.assertEqual(r.status, 401, r)
        self.assertRegex(r.headers.get("www-authenticate", ""), r"^Bearer\b", r.headers)
        body = r.json
        self.assertEqual(body["error"]["code"], "unauthorized", r)
        self.assertIsInstance(body["error"]["message"], str)
        self.assertTrue(body["error"]["message"])
        return body


class DefaultTokenTest(AuthCase):
    """jobd started without --no-auth, once for the class."""

    @classmethod
    def setUpClass(cls):
        cls.jobd = Jobd(["--log-level", "debug"], no_auth=False).start()
        cls.token_path = os.path.join(cls.jobd.dir, "jobd.token")
        cls.token = read(cls.token_path).strip()

    @classmethod
    def tearDownClass(cls):
        rc = cls.jobd.stop()
        log = cls.jobd.logtext()
        cls.jobd.cleanup()
        if rc != 0:
            raise AssertionError("jobd exited %s on SIGTERM:\n%s" % (rc, log[-4000:]))

    def auth(self):
        return bearer(self.token)

    def test_token_file_created(self):
        st = os.stat(self.token_path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertRegex(read(self.token_path), HEX64)
        self.assertEqual(os.path.dirname(self.token_path), os.path.dirname(self.jobd.db))

    def test_token_path_logged(self):
        self.assertIn(self.token_path, self.jobd.logtext())

    def test_no_token(self):
        for method, path, body in (("GET", "/v1/tasks", None), ("GET", "/v1/tasks/1", None),
                                   ("POST", "/v1/tasks", sleep_body()),
                                   ("POST", "/v1/wait", {"ids": [1]}),
                                   ("GET", "/metrics", None), ("DELETE", "/v1/tasks/1", None),
                                   ("GET", "/v1/no-such-thing", None),
                                   ("PUT", "/v1/tasks", None)):
            with self.subTest(method=method, path=path):
                self.assert401(self.jobd.request(method, path, body=body))

    def test_no_task_created_without_token(self):
        before = len(jobdtest.list_all(self._authed()))
        self.assert401(self.jobd.post("/v1/tasks", sleep_body()))
        self.assertEqual(len(jobdtest.list_all(self._authed())), before)

    def _authed(self):
        """A view of self.jobd that sends the token on every request."""
        outer = self

        class Authed:
            def get(self, path, **kw):
                return outer.jobd.get(path, headers=outer.auth(), **kw)
        return Authed()

    def test_wrong_token(self):
        t = self.token
        for value in ("Bearer wrong", "Bearer " + t[:-1], "Bearer " + t + "0",
                      "Bearer " + t[:32], "Bearer " + t.upper(),
                      "Bearer", "Bearer ", t, "Basic " + t, "Token " + t, "Bearer " + t + " x"):
            with self.subTest(authorization=value):
                r = self.jobd.get("/v1/tasks", headers={"Authorization": value})
                self.assert401(r)

    def test_right_token(self):
        r = self.jobd.get("/v1/tasks", headers=self.auth())
        self.assertEqual(r.status, 200, r)
        r = self.jobd.post("/v1/tasks", sleep_body(0, "ok"), headers=self.auth())
        self.assertEqual(r.status, 201, r)
        tid = r.json["id"]
        r = self.jobd.get("/v1/tasks/%d/result?timeout=%d" % (tid, DEADLINE), headers=self.auth())
        self.assertEqual((r.status, r.json["result"]), (200, "ok"))
        self.assertEqual(self.jobd.get("/metrics", headers=self.auth()).status, 200)

    def test_scheme_is_case_insensitive(self):
        # RFC 7235: the auth scheme is case-insensitive.
        r = self.jobd.get("/v1/tasks", headers={"Authorization": "bearer " + self.token})
        self.assertEqual(r.status, 200, r)

    def test_token_errors_after_auth(self):
        # With the token, the usual answers come back (auth is checked first).
        self.assertEqual(self.jobd.get("/v1/no-such-thing", headers=self.auth()).status, 404)
        self.assertEqual(self.jobd.request("PUT", "/v1/tasks", headers=self.auth()).status, 405)

    def test_refused_bodies_not_kept(self):
        # Without the token a body is read and dropped, not held: else
        # anyone who can connect makes jobd hold max_body (1 MiB) per
        # connection.  64 connections each send all but the last byte of a
        # 1 MiB body; once jobd has read every byte (no bytes wait in the
        # kernel for its sockets), its memory must not have grown by them.
        conns, n, size = [], 64, 1 << 20
        head = ("POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size).encode()
        before = rss_kib(self.jobd.proc.pid)
        try:
            for i in range(n):
                s = socket.create_connection(("127.0.0.1", self.jobd.port), timeout=DEADLINE)
                conns.append(s)
                s.sendall(head + b" " * (size - 1))
            deadline = time.monotonic() + DEADLINE
            while unread_bytes(self.jobd.port) > 0:
                self.assertLess(time.monotonic(), deadline, "jobd did not read the bodies")
                time.sleep(0.05)
            grown = rss_kib(self.jobd.proc.pid) - before
            self.assertLess(grown, n * size // 1024 // 4, "jobd kept refused bodies")
            conns[0].sendall(b" ")       # the last byte: the answer follows
            f = conns[0].makefile("rb")
            self.assertEqual(f.readline().split()[1], b"401")
        finally:
            for s in conns:
                s.close()

    def test_healthz_exempt(self):
        r = self.jobd.get("/healthz")
        self.assertEqual((r.status, r.json), (200, {"status": "ok"}))
        r = self.jobd.get("/healthz", headers={"Authorization": "Bearer wrong"})
        self.assertEqual(r.status, 200, r)

    def test_only_get_healthz_exempt(self):
        for method, path in (("POST", "/healthz"), ("DELETE", "/healthz"), ("PUT", "/healthz"),
                             ("GET", "/healthz/x"), ("GET", "/healthz/"), ("GET", "/healthzx"),
                             ("GET", "/v1/healthz")):
            with self.subTest(method=method, path=path):
                self.assert401(self.jobd.request(method, path))
        self.assertEqual(self.jobd.post("/healthz", headers=self.auth()).status, 405)
        self.assertEqual(self.jobd.get("/healthz/x", headers=self.auth()).status, 404)

    def test_token_not_logged(self):
        # Requests with right and wrong tokens, at debug level.
        self.jobd.get("/v1/tasks", headers=self.auth())
        self.jobd.get("/v1/tasks", headers={"Authorization": "Bearer " + self.token[:-1]})
        self.jobd.post("/v1/tasks", sleep_body(), headers=self.auth())
        log = self.jobd.logtext()
        self.assertNotIn(self.token, log)
        self.assertNotIn(self.token[:16], log)


class TokenSourceTest(jobdtest.TempDirCase, AuthCase):
    def write(self, name, text, mode=0o600):
        p = self.path(name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def conn(self, port):
        return http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE + 30)

    def assert_token(self, port, token):
        self.assert401(conn_request(self.conn(port), "GET", "/v1/tasks"))
        self.assert401(conn_request(self.conn(port), "GET", "/v1/tasks", headers=bearer("x" + token)))
        r = conn_request(self.conn(port), "GET", "/v1/tasks", headers=bearer(token))
        self.assertEqual(r.status, 200, r)

    def test_token_file_flag(self):
        tf = self.write("my.token", "token-from-a-file\n")
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--token-file", tf])
        self.assert_token(p.wait_port(), "token-from-a-file")
        self.assertFalse(os.path.exists(self.path("jobd.token")), "jobd.token made anyway")
        self.stop_ok(p)
        self.assertNotIn("token-from-a-file", p.logtext())

    def test_token_file_missing(self):
        missing = self.path("none.token")
        r = run_jobd(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--token-file", missing])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        errs = [l for l in r.stderr.splitlines() if "error" in l]
        self.assertEqual(len(errs), 1, r.stderr)
        self.assertIn(missing, errs[0])
        self.assertNotIn("listening on", r.stderr)
        self.assertFalse(os.path.exists(missing))

    def test_token_file_empty(self):
        empty = self.write("empty.token", "\n")
        r = run_jobd(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--token-file", empty])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn(empty, r.stderr)
        self.assertNotIn("listening on", r.stderr)

    def test_empty_jobd_token_beside_db_is_named_empty(self):
        # Not "File exists": the file is there, and it is empty.
        self.write("jobd.token", "")
        r = run_jobd(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"error: .*%s.* empty" % re.escape(self.path("jobd.token")))
        self.assertNotIn("listening on", r.stderr)

    def test_token_read_as_jobctl_reads_it(self):
        # Trailing white space is not part of the token, for jobd as for
        # jobctl, so one file serves both.
        tf = self.write("my.token", "token-with-trailing-blanks \t \r\n\n")
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--token-file", tf])
        port = p.wait_port()
        self.assert_token(port, "token-with-trailing-blanks")
        r = subprocess.run([JOBCTL, "--url", "http://127.0.0.1:%d" % port, "--token-file", tf, "ls"],
                           capture_output=True, timeout=DEADLINE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.stop_ok(p)

    def test_token_with_space_inside_refused(self):
        for text in ("two words\n", "first-line\nsecond-line\n"):
            with self.subTest(text=text):
                tf = self.write("bad.token", text)
                r = run_jobd(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"),
                              "--token-file", tf])
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(tf, r.stderr)
                self.assertNotIn("listening on", r.stderr)

    def test_weak_or_exposed_token_warned(self):
        for name, text, mode, warning in (("short.token", "abcde\n", 0o600, r"only 5 characters"),
                                          ("open.token", "a-long-enough-token-here\n", 0o644,
                                           r"can be read by other users \(mode 644\)")):
            with self.subTest(name=name):
                tf = self.write(name, text, mode)
                p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"),
                                "--token-file", tf], log_name=name + ".log")
                p.wait_port()
                self.assertRegex(p.logtext(), r"warning: .*%s.*%s" % (re.escape(tf), warning))
                self.stop_ok(p)

    def refused_at_start(self, args, *words):
        """jobd exits 1 before listening, one error line naming every word."""
        r = run_jobd(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db")] + args)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertNotIn("listening on", r.stderr)
        errs = [l for l in r.stderr.splitlines() if "error" in l]
        self.assertEqual(len(errs), 1, r.stderr)
        for w in words:
            self.assertIn(w, errs[0])

    def test_token_file_not_regular_refused(self):
        # A FIFO no one writes would hang the start (open blocks), a
        # device would be read as a token: both are refused at once.
        fifo = self.path("token.fifo")
        os.mkfifo(fifo)
        for tf in (fifo, "/dev/zero", self.dir):
            with self.subTest(tf=tf):
                self.refused_at_start(["--token-file", tf], tf, "not a regular file")

    def test_token_file_too_long_refused(self):
        # Cut to what fits, it would be a token no client sends.
        tf = self.write("long.token", "t" * 600 + "\n")
        self.refused_at_start(["--token-file", tf], tf, "longer than")

    def test_token_file_flag_follows_symlinks(self):
        # The operator named it: a link (to a secrets store, say) is theirs.
        tf = self.write("real.token", "token-behind-a-link\n")
        os.symlink(tf, self.path("link.token"))
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"),
                        "--token-file", self.path("link.token")])
        self.assert_token(p.wait_port(), "token-behind-a-link")
        self.stop_ok(p)

    def test_symlinked_jobd_token_beside_db_refused(self):
        # In a directory others may write (a --db under /tmp), a link
        # planted as jobd.token would make its target's text the token.
        target = self.write("elsewhere.token", "a-token-someone-else-chose\n")
        os.symlink(target, self.path("jobd.token"))
        self.refused_at_start([], self.path("jobd.token"), "symbolic link")

    def test_jobd_token_others_may_write_refused(self):
        tp = self.write("jobd.token", "a-token-someone-else-chose\n", 0o622)
        self.refused_at_start([], tp, "written by other users")

    @unittest.skipUnless(os.geteuid() == 0, "needs root to make a file of another user")
    def test_jobd_token_of_another_user_refused(self):
        # Planted by another user in a shared directory: their token.
        tp = self.write("jobd.token", "a-token-someone-else-chose\n", 0o600)
        os.chown(tp, 65534, 65534)
        self.refused_at_start([], tp, "belongs to user 65534")
        self.assertEqual(read(tp), "a-token-someone-else-chose\n")

    def test_credentials_directory(self):
        creds = self.path("creds")
        os.mkdir(creds)
        with open(os.path.join(creds, "token"), "w") as f:
            f.write("token-from-systemd-credentials\n")
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db")],
                       env={"CREDENTIALS_DIRECTORY": creds})
        self.assert_token(p.wait_port(), "token-from-systemd-credentials")
        self.assertFalse(os.path.exists(self.path("jobd.token")), "jobd.token made anyway")
        self.stop_ok(p)
        self.assertNotIn("token-from-systemd-credentials", p.logtext())

    def test_token_file_flag_beats_credentials(self):
        creds = self.path("creds")
        os.mkdir(creds)
        with open(os.path.join(creds, "token"), "w") as f:
            f.write("credential-token\n")
        tf = self.write("my.token", "flag-token\n")
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--token-file", tf],
                       env={"CREDENTIALS_DIRECTORY": creds})
        port = p.wait_port()
        self.assert_token(port, "flag-token")
        self.assert401(conn_request(self.conn(port), "GET", "/v1/tasks", headers=bearer("credential-token")))
        self.stop_ok(p)

    def test_credentials_directory_without_token_falls_back(self):
        creds = self.path("creds")
        os.mkdir(creds)
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db")],
                       env={"CREDENTIALS_DIRECTORY": creds})
        port = p.wait_port()
        token = read(self.path("jobd.token")).strip()
        self.assert_token(port, token)
        self.stop_ok(p)

    def test_second_start_reuses_token(self):
        j = Jobd(no_auth=False, db_dir=self.dir).start()
        self.procs.append(j)
        first = read(self.path("jobd.token"))
        self.assertRegex(first, HEX64)
        self.assertEqual(j.stop(), 0, j.logtext())
        j2 = start_again(self.dir, no_auth=False)
        self.procs.append(j2)
        self.assertEqual(read(self.path("jobd.token")), first)
        token = first.strip()
        self.assertEqual(j2.get("/v1/tasks", headers=bearer(token)).status, 200)
        self.assert401(j2.get("/v1/tasks"))
        self.assertEqual(stat.S_IMODE(os.stat(self.path("jobd.token")).st_mode), 0o600)
        self.assertEqual(j2.stop(), 0, j2.logtext())

    def test_existing_jobd_token_used(self):
        # An operator may write jobd.token beside the database beforehand.
        self.write("jobd.token", "chosen-by-the-operator\n")
        j = Jobd(no_auth=False, db_dir=self.dir).start()
        self.procs.append(j)
        self.assert_token(j.port, "chosen-by-the-operator")
        self.assertEqual(read(self.path("jobd.token")), "chosen-by-the-operator\n")
        self.assertEqual(j.stop(), 0, j.logtext())

    def test_token_in_state_directory(self):
        state = self.path("state")
        os.mkdir(state)
        cwd = self.path("cwd")
        os.mkdir(cwd)
        p = self.spawn(["--listen", "127.0.0.1:0"], env={"STATE_DIRECTORY": state}, dir=cwd)
        port = p.wait_port()
        tp = os.path.join(state, "jobd.token")
        self.assertRegex(read(tp), HEX64)
        self.assertEqual(stat.S_IMODE(os.stat(tp).st_mode), 0o600)
        self.assert_token(port, read(tp).strip())
        self.assertIn(tp, p.logtext())
        self.assertFalse(os.path.exists(os.path.join(cwd, "jobd.token")))
        self.stop_ok(p)

    def test_unix_socket_needs_token_too(self):
        sock = self.path("jobd.sock")
        p = self.spawn(["--listen", "unix:" + sock, "--db", self.path("jobd.db")])
        p.wait_log(r"listening on unix:")
        token = read(self.path("jobd.token")).strip()
        self.assert401(conn_request(UnixHTTPConnection(sock), "GET", "/v1/tasks"))
        r = conn_request(UnixHTTPConnection(sock), "GET", "/v1/tasks", headers=bearer(token))
        self.assertEqual(r.status, 200, r)
        self.stop_ok(p)


class NoAuthTest(AuthCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobd-noauth-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def refused(self, listens):
        args = []
        for l in listens:
            args += ["--listen", l]
        r = run_jobd(args + ["--db", os.path.join(self.dir, "jobd.db"), "--no-auth"])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertNotRegex(r.stderr, r"jobd \S+ ready", "it served")
        errs = [l for l in r.stderr.splitlines() if "error" in l or "refuse" in l]
        self.assertEqual(len(errs), 1, r.stderr)
        self.assertIn("--no-auth", errs[0])
        return errs[0]

    def test_refused_on_wildcard(self):
        line = self.refused(["0.0.0.0:0"])
        self.assertIn("0.0.0.0", line)

    def test_refused_on_ipv6_wildcard(self):
        line = self.refused(["[::]:0"])
        self.assertIn("::", line)

    def test_refused_if_any_listener_is_not_loopback(self):
        self.refused(["127.0.0.1:0", "0.0.0.0:0"])

    def test_unix_accepted(self):
        sock = os.path.join(self.dir, "jobd.sock")
        p = JobdProcess(["--listen", "unix:" + sock, "--db", os.path.join(self.dir, "jobd.db"),
                         "--no-auth"], self.dir).start()
        try:
            p.wait_log(r"listening on unix:")
            r = conn_request(UnixHTTPConnection(sock), "POST", "/v1/tasks", sleep_body(0, 7))
            self.assertEqual(r.status, 201, r)
            r = conn_request(UnixHTTPConnection(sock), "GET", "/v1/tasks/%d" % r.json["id"])
            self.assertEqual(r.status, 200, r)
            self.assertFalse(os.path.exists(os.path.join(self.dir, "jobd.token")))
        finally:
            log = p.logtext()
            self.assertEqual(p.stop(), 0, log)

    def test_loopback_accepted_without_token_file(self):
        j = Jobd(db_dir=self.dir).start()   # the harness's --no-auth on 127.0.0.1
        try:
            self.assertEqual(j.get("/v1/tasks").status, 200)
            self.assertFalse(os.path.exists(os.path.join(self.dir, "jobd.token")))
            self.assertIn("no auth", j.logtext())
        finally:
            self.assertEqual(j.stop(), 0)


if __name__ == "__main__":
    jobdtest.main()
