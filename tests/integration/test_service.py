"""jobd as a service: systemd units, readiness and watchdog, socket activation,
listeners, TLS, the config file, logs, browser defences, make install."""
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest

import jobdtest
from jobdtest import (DEADLINE, HERE, JOBD, TOP_BUILD, Jobd, JobdProcess, UnixHTTPConnection,
                      conn_request, free_port, read_response, run_jobd, service_env,
                      wait_until)

SRCDIR = os.path.normpath(os.path.join(HERE, "..", ".."))
SOCKET_ACTIVATE = "/usr/bin/systemd-socket-activate"


def tool(name):
    return shutil.which(name) or (os.path.exists(name) and name)


def error_lines(text):
    """The log lines at error level (either log format)."""
    return [l for l in text.splitlines() if re.match(r"^(jobd: error: |<3>)", l)]


def wait_unix(path, timeout=DEADLINE):
    """Wait until a server accepts connections on the unix socket path."""
    def ready():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return True
        except OSError:
            return False
        finally:
            s.close()
    wait_until(ready, timeout, what="a server on " + path)


def sleep_body(seconds=0, result=None):
    return {"kind": "sleep", "sleep": {"seconds": seconds, "result": result}}


def wait_done(conn_factory, tid):
    """GET .../result (blocking) on a fresh connection; the finished task."""
    r = conn_request(conn_factory(), "GET", "/v1/tasks/%d/result?timeout=%d" % (tid, DEADLINE))
    if r.status != 200:
        raise AssertionError("result of %d: %r" % (tid, r))
    return r.json


TempDirCase = jobdtest.TempDirCase


# --- systemd unit files -----------------------------------------------------

def make_units(dir):
    """jobd.service (from jobd.service.in, pointing at the built jobd and a
    config under dir) and jobd.socket, copied into dir/units; returns that."""
    units = os.path.join(dir, "units")
    etc = os.path.join(dir, "etc")
    os.makedirs(units)
    os.makedirs(os.path.join(etc, "jobd"))
    shutil.copy(os.path.join(SRCDIR, "systemd", "jobd.conf"), os.path.join(etc, "jobd", "jobd.conf"))
    shutil.copy(os.path.join(SRCDIR, "systemd", "jobd.conf"), os.path.join(etc, "jobd.conf"))
    sbindir = os.path.dirname(os.path.abspath(JOBD))
    with open(os.path.join(SRCDIR, "systemd", "jobd.service.in")) as f:
        text = f.read().replace("@sbindir@", sbindir).replace("@sysconfdir@", etc)
    with open(os.path.join(units, "jobd.service"), "w") as f:
        f.write(text)
    shutil.copy(os.path.join(SRCDIR, "systemd", "jobd.socket"), os.path.join(units, "jobd.socket"))
    return units


@unittest.skipUnless(tool("systemd-analyze"), "systemd-analyze is not installed (Debian package systemd)")
class SystemdUnitTest(TempDirCase):
    # --man=no: the man page is not installed; --recursive-errors=no: units
    # the service refers to (network.target...) need not be loadable here.
    VERIFY = ["systemd-analyze", "verify", "--man=no", "--recursive-errors=no"]

    def verify(self, *units):
        env = jobdtest.service_env({"SYSTEMD_LOG_LEVEL": "notice", "SYSTEMD_PAGER": "",
                                    "SYSTEMD_COLORS": "0"})
        return subprocess.run(self.VERIFY + list(units), capture_output=True, text=True,
                              env=env, cwd=self.dir, timeout=DEADLINE)

    def test_service_verifies(self):
        units = make_units(self.dir)
        r = self.verify(os.path.join(units, "jobd.service"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr.strip(), "", r.stderr)

    def test_socket_and_service_verify(self):
        units = make_units(self.dir)
        r = self.verify(os.path.join(units, "jobd.socket"), os.path.join(units, "jobd.service"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr.strip(), "", r.stderr)

    def test_verify_catches_a_broken_unit(self):
        # The checks above must be able to fail: a wrong ExecStart path or a
        # misspelt key does.
        units = make_units(self.dir)
        p = os.path.join(units, "jobd.service")
        with open(p) as f:
            good = f.read()
        for broken in (good.replace(os.path.abspath(JOBD), self.path("no-such-jobd")),
                       good.replace("WatchdogSec=", "WatchdogSecs=")):
            self.assertNotEqual(broken, good)
            with open(p, "w") as f:
                f.write(broken)
            r = self.verify(p)
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(r.stderr.strip())

    def test_service_settings(self):
        units = make_units(self.dir)
        with open(os.path.join(units, "jobd.service")) as f:
            text = f.read()
        self.assertNotIn("@", text.replace("man:jobd(8)", ""), "unsubstituted placeholder")
        keys = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
        self.assertEqual(keys.get("Type"), "notify")
        self.assertIn("WatchdogSec", keys)
        self.assertEqual(keys.get("StateDirectory"), "jobd")
        argv = keys["ExecStart"].split()
        self.assertEqual(argv[0], os.path.abspath(JOBD))
        # The config file named is the one "make install" puts in sysconfdir.
        self.assertIn("--config", argv)
        self.assertEqual(argv[argv.index("--config") + 1], self.path("etc", "jobd", "jobd.conf"))

    def test_service_sandbox(self):
        # What jobd and its jobs do not need is taken away (the unit says
        # why each of the rest is left out).
        with open(os.path.join(SRCDIR, "systemd", "jobd.service.in")) as f:
            keys = dict(re.findall(r"^(\w+)=(.*)$", f.read(), re.M))
        want = {"DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
                "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
                "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
                "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes", "ProtectClock": "yes",
                "ProtectHostname": "yes", "ProtectProc": "invisible", "RestrictSUIDSGID": "yes",
                "RestrictRealtime": "yes", "LockPersonality": "yes", "CapabilityBoundingSet": "",
                "SystemCallArchitectures": "native",
                "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6"}
        for k, v in want.items():
            with self.subTest(key=k):
                self.assertEqual(keys.get(k), v)

    def test_socket_unix_mode(self):
        # systemd makes a unix socket 0666 unless told: any local user could
        # connect, and with no-auth run programs as jobd's user.
        with open(os.path.join(SRCDIR, "systemd", "jobd.socket")) as f:
            keys = dict(re.findall(r"^(\w+)=(.*)$", f.read(), re.M))
        self.assertEqual(keys.get("SocketMode"), "0660")

    def test_sample_config_has_only_real_flags(self):
        # Every commented-out "key = value" of jobd.conf, enabled, is accepted:
        # the file's flags come before --help, so a bad one exits 2 first.
        with open(os.path.join(SRCDIR, "systemd", "jobd.conf")) as f:
            lines = [l[1:].strip() for l in f if re.match(r"^#\s*[a-z-]+\s*=", l)]
        self.assertTrue(lines, "jobd.conf shows no example")
        conf = self.path("all.conf")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = run_jobd(["--config", conf, "--help"])
        self.assertEqual(r.returncode, 0, r.stderr)


class NotifyTest(TempDirCase):
    """Type=notify: READY=1, WATCHDOG=1 from the loop, STOPPING=1."""

    def test_ready_watchdog_stopping(self):
        path = self.path("notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth"],
                       env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000"})
        got = []

        def recv_until(pred, what):
            deadline = time.monotonic() + DEADLINE
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail("no %s from jobd; got %r\n%s" % (what, got, p.logtext()))
                sock.settimeout(left)
                try:
                    msg = sock.recv(4096).decode()
                except socket.timeout:
                    continue
                got.append(set(msg.split("\n")))

        recv_until(lambda: any("READY=1" in m for m in got), "READY=1")
        self.assertIn("READY=1", got[0], "READY=1 must come first: %r" % got)
        # Ready means serving: the port is logged and answers at once.
        port = p.wait_port(timeout=0)  # logged before READY=1
        r = conn_request(http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE),
                         "GET", "/healthz")
        self.assertEqual(r.status, 200)
        n_ready = len(got)
        recv_until(lambda: sum("WATCHDOG=1" in m for m in got[n_ready:]) >= 2, "two WATCHDOG=1")
        p.proc.send_signal(signal.SIGTERM)
        recv_until(lambda: any("STOPPING=1" in m for m in got), "STOPPING=1")
        self.assertEqual(p.proc.wait(DEADLINE), 0, p.logtext())
        self.assertFalse(any("STOPPING=1" in m for m in got[:n_ready]))

    def test_no_watchdog_without_watchdog_usec(self):
        path = self.path("notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth"],
                       env={"NOTIFY_SOCKET": path})
        sock.settimeout(DEADLINE)
        first = sock.recv(4096).decode().split("\n")
        self.assertIn("READY=1", first)
        p.proc.send_signal(signal.SIGTERM)
        msgs = []
        while not any("STOPPING=1" in m for m in msgs):
            try:
                msgs.append(sock.recv(4096).decode().split("\n"))
            except TimeoutError:
                self.fail("no STOPPING=1 (jobd %s; messages %r):\n%s" % (
                    "exited %s" % p.proc.poll() if p.proc.poll() is not None else "runs",
                    msgs, p.logtext()))
        self.assertEqual(p.proc.wait(DEADLINE), 0, p.logtext())
        self.assertFalse(any("WATCHDOG=1" in m for m in msgs), msgs)


@unittest.skipUnless(os.access(SOCKET_ACTIVATE, os.X_OK), "no %s (Debian package systemd)" % SOCKET_ACTIVATE)
class SocketActivationTest(TempDirCase):
    def activate(self, listen_spec, args):
        return self.spawn(args, prefix=[SOCKET_ACTIVATE, "-l", listen_spec])

    def activate_tcp(self, args):
        # systemd-socket-activate cannot take port 0: try free ports until one binds.
        for attempt in range(10):
            port = free_port()
            p = self.activate("127.0.0.1:%d" % port, args)
            try:
                p.wait_log(r"Listening on 127\.0\.0\.1:%d" % port)
                return p, port
            except AssertionError:
                if "Address already in use" not in p.logtext():
                    raise
                p.stop()
        self.fail("no free port for systemd-socket-activate")

    def test_tcp(self):
        db = self.path("jobd.db")
        p, port = self.activate_tcp(["--db", db, "--no-auth", "--listen", "127.0.0.1:1"])

        def conn():
            return http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE + 30)
        # The first connection makes systemd-socket-activate exec jobd.
        r = conn_request(conn(), "GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ok"})
        r = conn_request(conn(), "POST", "/v1/tasks", sleep_body(0, "activated"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(wait_done(conn, r.json["id"])["result"], "activated")
        # jobd used the socket it was given, not its --listen flag.
        self.assertRegex(p.logtext(), r"listening on 127\.0\.0\.1:%d" % port)
        self.assertNotIn("127.0.0.1:1\n", p.logtext())
        self.assertTrue(os.path.exists(db))
        self.stop_ok(p)

    def test_unix(self):
        sock = self.path("jobd.sock")
        p = self.activate(sock, ["--db", self.path("jobd.db"), "--no-auth"])
        p.wait_log(r"Listening on " + re.escape(sock))

        def conn():
            return UnixHTTPConnection(sock)
        r = conn_request(conn(), "GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        r = conn_request(conn(), "POST", "/v1/tasks", sleep_body(0, [1, 2]))
        self.assertEqual(r.status, 201, r)
        t = wait_done(conn, r.json["id"])
        self.assertEqual((t["state"], t["result"]), ("succeeded", [1, 2]))
        self.stop_ok(p)

    def test_jobs_inherit_no_sockets_or_systemd_env(self):
        # The sockets systemd passed and its variables stay with jobd.
        notify = self.path("notify")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(ns.close)
        ns.bind(notify)
        for attempt in range(10):
            port = free_port()
            p = self.spawn(["--db", self.path("jobd.db"), "--no-auth"],
                           prefix=[SOCKET_ACTIVATE, "-l", "127.0.0.1:%d" % port],
                           env={"NOTIFY_SOCKET": notify, "WATCHDOG_USEC": "1000000"})
            try:
                p.wait_log(r"Listening on 127\.0\.0\.1:%d" % port)
                break
            except AssertionError:
                if "Address already in use" not in p.logtext():
                    raise
                p.stop()

        def conn():
            return http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE + 30)
        r = conn_request(conn(), "POST", "/v1/tasks", {"kind": "exec", "exec": {
            "argv": ["/bin/sh", "-c", "ls /proc/$$/fd; echo ---; env"]}})
        self.assertEqual(r.status, 201, r)
        t = wait_done(conn, r.json["id"])
        self.assertEqual(t["state"], "succeeded", t)
        fds, env = t["result"]["stdout"].split("---\n")
        self.assertEqual(sorted(fds.split()), ["0", "1", "2"], fds)
        for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"):
            self.assertNotRegex(env, r"(?m)^%s=" % var)
        self.stop_ok(p)

    def test_activated_token_auth(self):
        # Without --no-auth the activated jobd wants its token too.
        p, port = self.activate_tcp(["--db", self.path("jobd.db")])

        def conn():
            return http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE + 30)
        r = conn_request(conn(), "GET", "/v1/tasks")
        self.assertEqual(r.status, 401, r)
        with open(self.path("jobd.token")) as f:
            token = f.read().strip()
        r = conn_request(conn(), "GET", "/v1/tasks", headers={"Authorization": "Bearer " + token})
        self.assertEqual(r.status, 200, r)
        self.stop_ok(p)


class StateDirectoryTest(TempDirCase):
    def test_db_in_state_directory(self):
        state = self.path("state")
        os.mkdir(state)
        os.mkdir(self.path("cwd"))
        p = JobdProcess(["--listen", "127.0.0.1:0", "--no-auth"], self.path("cwd"),
                        env={"STATE_DIRECTORY": state}).start()
        self.procs.append(p)
        port = p.wait_port()
        r = conn_request(http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE),
                         "POST", "/v1/tasks", sleep_body())
        self.assertEqual(r.status, 201, r)
        self.assertTrue(os.path.isfile(os.path.join(state, "jobd.db")))
        self.assertFalse(os.path.exists(self.path("cwd", "jobd.db")))
        self.assertIn(os.path.join(state, "jobd.db"), p.logtext())
        self.stop_ok(p)

    def test_db_flag_wins(self):
        state = self.path("state")
        os.mkdir(state)
        p = self.spawn(["--listen", "127.0.0.1:0", "--no-auth", "--db", self.path("mine.db")],
                       env={"STATE_DIRECTORY": state})
        p.wait_port()
        self.assertTrue(os.path.isfile(self.path("mine.db")))
        self.assertFalse(os.path.exists(os.path.join(state, "jobd.db")))
        self.stop_ok(p)

    def test_default_db_in_working_directory(self):
        p = self.spawn(["--listen", "127.0.0.1:0", "--no-auth"])
        p.wait_port()
        self.assertTrue(os.path.isfile(self.path("jobd.db")))
        self.stop_ok(p)


# --- listeners ----------------------------------------------------------------

class ListenerTest(TempDirCase):
    def test_unix_socket(self):
        sock = self.path("jobd.sock")
        p = self.spawn(["--listen", "unix:" + sock, "--db", self.path("jobd.db"), "--no-auth"])
        p.wait_log(r"listening on unix:" + re.escape(sock))
        st = os.stat(sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        r = conn_request(UnixHTTPConnection(sock), "GET", "/healthz")
        self.assertEqual((r.status, r.json), (200, {"status": "ok"}))
        # Over a unix socket no browser can be involved: any Host name passes.
        for host in ("evil.example", "jobs.example:8080", "localhost"):
            r = conn_request(UnixHTTPConnection(sock, host=host), "POST", "/v1/tasks",
                             sleep_body(0, host))
            self.assertEqual(r.status, 201, (host, r))
            t = wait_done(lambda: UnixHTTPConnection(sock), r.json["id"])
            self.assertEqual(t["result"], host)
        # libmicrohttpd's complaints that a unix socket takes no TCP options
        # are not warnings (they were three a request).
        self.assertNotIn("warning", p.logtext())
        self.stop_ok(p)
        self.assertFalse(os.path.exists(sock), "the unix socket was not removed at exit")

    def test_unix_stale_socket_replaced(self):
        # A socket file left by a crash (nobody listening) is taken over.
        sock = self.path("jobd.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(sock)
        s.close()
        self.assertTrue(os.path.exists(sock))
        p = self.spawn(["--listen", "unix:" + sock, "--db", self.path("jobd.db"), "--no-auth"])
        p.wait_log(r"listening on unix:")
        r = conn_request(UnixHTTPConnection(sock), "GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.stop_ok(p)

    def test_unix_path_that_is_not_a_socket_kept(self):
        # connect() to a regular file fails as to a stale socket: a slip
        # such as "unix:" before the database's path must not delete it.
        for name in ("data.txt", "link.sock"):
            with self.subTest(name=name):
                path = self.path(name)
                if name == "link.sock":
                    os.symlink(self.path("data.txt"), path)
                else:
                    with open(path, "w") as f:
                        f.write("precious\n")
                r = run_jobd(["--listen", "unix:" + path, "--db", self.path("jobd.db"),
                              "--no-auth"])
                self.assertEqual(r.returncode, 1, r.stderr)
                errs = error_lines(r.stderr)
                self.assertEqual(len(errs), 1, r.stderr)
                self.assertIn(path, errs[0])
                self.assertIn("not a socket", errs[0])
                self.assertTrue(os.path.lexists(path), "jobd removed " + name)
                with open(path) as f:
                    self.assertEqual(f.read(), "precious\n")

    def test_unix_socket_in_use(self):
        sock = self.path("jobd.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(sock)
        s.listen(1)
        r = run_jobd(["--listen", "unix:" + sock, "--db", self.path("jobd.db"), "--no-auth"])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        errs = error_lines(r.stderr)
        self.assertEqual(len(errs), 1, r.stderr)
        self.assertIn(sock, errs[0])
        self.assertTrue(os.path.exists(sock), "jobd removed another server's socket")

    def test_ipv6_loopback(self):
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
                s.bind(("::1", 0))
        except OSError as e:
            self.skipTest("no IPv6 loopback on this machine: %s" % e)
        p = self.spawn(["--listen", "[::1]:0", "--db", self.path("jobd.db"), "--no-auth"])
        port = int(p.wait_log(r"listening on \[::1\]:(\d+)").group(1))

        def conn():
            return http.client.HTTPConnection("::1", port, timeout=DEADLINE + 30)
        r = conn_request(conn(), "GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        r = conn_request(conn(), "POST", "/v1/tasks", sleep_body(0, "v6"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(wait_done(conn, r.json["id"])["result"], "v6")
        self.stop_ok(p)

    def test_two_listeners(self):
        sock = self.path("jobd.sock")
        p = self.spawn(["--listen", "127.0.0.1:0", "--listen", "127.0.0.1:0",
                        "--listen", "unix:" + sock, "--db", self.path("jobd.db"), "--no-auth"])
        p.wait_log(r"listening on unix:")
        ports = [int(x) for x in re.findall(r"listening on 127\.0\.0\.1:(\d+)", p.logtext())]
        self.assertEqual(len(ports), 2, p.logtext())
        self.assertNotEqual(ports[0], ports[1])
        conns = [lambda port=port: http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
                 for port in ports] + [lambda: UnixHTTPConnection(sock)]
        ids = []
        for c in conns:
            r = conn_request(c(), "POST", "/v1/tasks", sleep_body())
            self.assertEqual(r.status, 201, r)
            ids.append(r.json["id"])
        # One daemon behind all of them: each sees every task.
        for c in conns:
            for tid in ids:
                self.assertEqual(conn_request(c(), "GET", "/v1/tasks/%d" % tid).status, 200)
        self.stop_ok(p)

    def test_busy_port(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            addr = "127.0.0.1:%d" % s.getsockname()[1]
            r = run_jobd(["--listen", addr, "--db", self.path("jobd.db"), "--no-auth"])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        errs = error_lines(r.stderr)
        self.assertEqual(len(errs), 1, r.stderr)
        self.assertIn(addr, errs[0])
        self.assertNotIn("listening on", r.stderr)

    def test_db_is_a_directory(self):
        r = run_jobd(["--listen", "127.0.0.1:0", "--db", self.dir, "--no-auth"])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        errs = error_lines(r.stderr)
        self.assertEqual(len(errs), 1, r.stderr)
        self.assertIn(self.dir, errs[0])
        self.assertNotIn("listening on", r.stderr)

    def test_db_in_missing_directory(self):
        db = self.path("missing", "jobd.db")
        r = run_jobd(["--listen", "127.0.0.1:0", "--db", db, "--no-auth"])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        errs = error_lines(r.stderr)
        self.assertEqual(len(errs), 1, r.stderr)
        self.assertIn(db, errs[0])
        self.assertFalse(os.path.exists(self.path("missing")))

    def test_db_it_may_not_write_refused_at_start(self):
        # SQLite opens such a file read-only without a word; jobd said
        # "ready", then died on the first create.
        sub = self.path("ro")
        os.mkdir(sub)
        db = os.path.join(sub, "jobd.db")
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", db, "--no-auth"])
        p.wait_port()
        self.stop_ok(p)
        prefix = []
        if os.geteuid() == 0:       # root writes anything: be nobody
            nobody = pwd.getpwnam("nobody")
            for f in [sub] + [os.path.join(sub, n) for n in os.listdir(sub)]:
                os.chown(f, nobody.pw_uid, nobody.pw_gid)
            os.chmod(self.dir, 0o755)
            prefix = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                      "--clear-groups"]
        os.chmod(db, 0o444)
        r = subprocess.run(prefix + [JOBD, "--listen", "127.0.0.1:0", "--db", db, "--no-auth"],
                           capture_output=True, text=True, timeout=DEADLINE, env=service_env())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot write the database " + db, r.stderr)
        self.assertNotIn("ready", r.stderr)

    def out_of_descriptors(self, check):
        """jobd under a 64-descriptor limit, with 80 connections held open:
        check(p, port) runs once it has run out; then, the connections
        closed, it must serve again."""
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth"],
                       prefix=["prlimit", "--nofile=64:64", "--"])
        port = p.wait_port()
        held = []
        try:
            for _ in range(80):
                held.append(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE))
            wait_until(lambda: "out of file descriptors" in p.logtext(), what="the limit")
            check(p, port)
        finally:
            for c in held:
                c.close()
        r = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
            conn_request(http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE),
                         "GET", "/healthz")), what="jobd serving again")
        self.assertEqual(r.json, {"status": "ok"})
        self.stop_ok(p)

    def test_out_of_descriptors_without_spinning(self):
        # Out of fds, accept(2) fails and the connection stays queued: jobd
        # looked again at once, forever, logging each failure (gigabytes).
        def check(p, port):
            time.sleep(0.5)     # a spinning accept would log thousands of lines meanwhile
            self.assertLess(p.logtext().count("out of file descriptors"), 20, p.logtext()[-2000:])
        self.out_of_descriptors(check)

    def test_out_of_descriptors_answers_503(self):
        # Out of fds, a new client waited in the backlog with no word until
        # one freed; jobd now gives up a spare descriptor for a moment to
        # accept it, answer 503 overloaded with Retry-After, and close it.
        def check(p, port):
            s = socket.create_connection(("127.0.0.1", port), timeout=20)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                r = read_response(s)
            finally:
                s.close()
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json["error"]["code"], "overloaded", r)
            self.assertEqual(r.headers.get("retry-after"), "1", r.headers)
            self.assertIn("new ones are answered 503", p.logtext())
        self.out_of_descriptors(check)

    def test_sighup_stops_cleanly(self):
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth"])
        p.wait_port()
        rc = p.stop(signal.SIGHUP)
        self.assertEqual(rc, 0, p.logtext())
        self.assertIn("signal %d: stopping" % signal.SIGHUP, p.logtext())

    def test_sigusr_ignored(self):
        # A stray SIGUSR1/SIGUSR2 (a log rotation's "reopen") must not kill jobd.
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth"])
        port = p.wait_port()
        for sig in (signal.SIGUSR1, signal.SIGUSR2):
            p.proc.send_signal(sig)
            p.wait_log(r"signal %d: ignored" % sig)
        r = conn_request(http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE),
                         "GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.stop_ok(p)

    def test_signal_pending_at_start_acts_once_serving(self):
        """A SIGTERM that is blocked and already pending when jobd starts (a
        supervisor's inherited mask, or a stop asked for during start-up) stops
        it once it serves, cleanly.  With signal handlers jobd never saw it
        and ran on."""
        block = ("import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, "
                 "{signal.SIGTERM}); os.kill(os.getpid(), signal.SIGTERM); "
                 "os.execv(sys.argv[1], sys.argv[1:])")
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth"],
                       prefix=["/usr/bin/python3", "-c", block])
        try:
            rc = p.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.fail("jobd did not act on the pending SIGTERM:\n" + p.logtext())
        log = p.logtext()
        self.assertEqual(rc, 0, log)
        self.assertIn("signal %d: stopping" % signal.SIGTERM, log)
        self.assertLess(log.index(" ready "), log.index("signal %d: stopping" % signal.SIGTERM), log)

    def test_db_used_by_another_jobd(self):
        db = self.path("jobd.db")
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", db, "--no-auth"])
        p.wait_port()
        r = run_jobd(["--listen", "127.0.0.1:0", "--db", db, "--no-auth"])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        errs = error_lines(r.stderr)
        self.assertEqual(len(errs), 1, r.stderr)
        self.assertIn(db, errs[0])
        self.stop_ok(p)

    def test_bad_flags_exit_2(self):
        cases = [
            ["--bogus"],
            ["--max-exec"],
            ["--max-exec", "0"],
            ["--max-exec", "lots"],
            ["--max-body", "-1"],
            ["--kill-grace", "soon"],
            ["--sync", "sometimes"],
            ["--log-level", "loud"],
            ["--tls-cert", self.path("cert.pem")],
            ["--no-auth", "extra-argument"],
            ["-x"],
            # A port beyond 65535 is not taken modulo 65536, nor a name
            # looked up in /etc/services; an empty socket path is no path.
            ["--listen", "127.0.0.1:65537"],
            ["--listen", "127.0.0.1:99999"],
            ["--listen", "127.0.0.1:http"],
            ["--listen", "127.0.0.1:-1"],
            ["--listen", "unix:"],
        ]
        for args in cases:
            with self.subTest(args=args):
                r = run_jobd(args + ["--db", self.path("jobd.db"), "--listen", "127.0.0.1:0"])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertTrue(r.stderr.strip(), "no message for %r" % args)
                self.assertEqual(r.stdout, "")
                self.assertNotIn("listening on", r.stderr)
        self.assertFalse(os.path.exists(self.path("jobd.db")), "a bad flag still opened the db")

    def test_failed_start_removes_its_unix_socket(self):
        # jobd.8: the socket is removed at exit -- also when a later step
        # of the start (here the database) refuses.
        sock = self.path("jobd.sock")
        r = run_jobd(["--listen", "unix:" + sock, "--db", self.path("missing", "jobd.db"),
                      "--no-auth"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertFalse(os.path.exists(sock), "the unix socket was left behind")

    def test_help(self):
        r = run_jobd(["--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(SRCDIR, "doc", "jobd.8")) as f:
            man = f.read().replace("\\-", "-")
        flags = set(re.findall(r"--[a-z][a-z-]*[a-z]", man))
        self.assertGreaterEqual(len(flags), 15, flags)
        for flag in sorted(flags):
            self.assertRegex(r.stdout, re.escape(flag) + r"\b", "--help does not mention " + flag)
        # ...and documents nothing the man page does not.
        self.assertEqual(set(re.findall(r"--[a-z][a-z-]*[a-z]", r.stdout)) - flags, set())

    def test_version(self):
        r = run_jobd(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^jobd \d+\.\d+(\.\d+)?\S*\n$")
        with open(os.path.join(SRCDIR, "doc", "jobd.8")) as f:
            th = f.readline()
        self.assertIn(r.stdout.split()[1], th, "jobd.8 documents another version")


# --- TLS ------------------------------------------------------------------------

@unittest.skipUnless(tool("openssl"), "openssl is not installed")
class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="jobd-tls-")
        cls.cert = os.path.join(cls.dir, "cert.pem")
        cls.key = os.path.join(cls.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", cls.key, "-out", cls.cert],
                       check=True, capture_output=True, timeout=DEADLINE)
        cls.jobd = Jobd(["--tls-cert", cls.cert, "--tls-key", cls.key]).start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.jobd.stop()
        log = cls.jobd.logtext()
        cls.jobd.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)
        if rc != 0:
            raise AssertionError("jobd exited %s on SIGTERM:\n%s" % (rc, log[-4000:]))

    def conn(self, host="127.0.0.1"):
        ctx = ssl.create_default_context(cafile=self.cert)
        return http.client.HTTPSConnection(host, self.jobd.port, context=ctx,
                                           timeout=DEADLINE + 30)

    def test_healthz(self):
        r = conn_request(self.conn(), "GET", "/healthz")
        self.assertEqual((r.status, r.json), (200, {"status": "ok"}))

    def test_healthz_by_name(self):
        r = conn_request(self.conn("localhost"), "GET", "/healthz")
        self.assertEqual(r.status, 200)

    def test_create_and_wait(self):
        r = conn_request(self.conn(), "POST", "/v1/tasks", sleep_body(0.05, {"tls": True}))
        self.assertEqual(r.status, 201, r)
        t = wait_done(self.conn, r.json["id"])
        self.assertEqual((t["state"], t["result"]), ("succeeded", {"tls": True}))

    def test_jobctl_trusts_the_cacert_given(self):
        # jobd's own certificate is no system CA's: jobctl must be told it.
        url = "https://127.0.0.1:%d" % self.jobd.port
        env = dict(os.environ, JOBD_URL=url)
        env.pop("JOBD_CACERT", None)
        r = subprocess.run([jobdtest.JOBCTL, "ls"], capture_output=True, text=True,
                           env=env, timeout=DEADLINE)
        self.assertEqual(r.returncode, 3, r)
        self.assertIn("certificate", r.stderr)
        r = subprocess.run([jobdtest.JOBCTL, "--cacert", self.cert, "--json", "ls"],
                           capture_output=True, text=True, env=env, timeout=DEADLINE)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn("tasks", json.loads(r.stdout))
        r = subprocess.run([jobdtest.JOBCTL, "--json", "ls"], capture_output=True, text=True,
                           env=dict(env, JOBD_CACERT=self.cert), timeout=DEADLINE)
        self.assertEqual(r.returncode, 0, r)

    def handshake(self, version):
        """The TLS version agreed when the client offers only version, or None."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.cert)
        ctx.set_ciphers("ALL:@SECLEVEL=0")      # let the client offer old versions
        ctx.minimum_version = ctx.maximum_version = version
        with socket.create_connection(("127.0.0.1", self.jobd.port), timeout=DEADLINE) as s:
            try:
                with ctx.wrap_socket(s, server_hostname="localhost") as t:
                    return t.version()
            except (ssl.SSLError, ConnectionError):
                return None

    def test_only_tls_1_2_and_1_3(self):
        # RFC 8996: TLS 1.0 and 1.1 are deprecated.
        self.assertEqual(self.handshake(ssl.TLSVersion.TLSv1_2), "TLSv1.2")
        self.assertEqual(self.handshake(ssl.TLSVersion.TLSv1_3), "TLSv1.3")
        self.assertIsNone(self.handshake(ssl.TLSVersion.TLSv1))
        self.assertIsNone(self.handshake(ssl.TLSVersion.TLSv1_1))

    def test_keep_alive(self):
        c = self.conn()
        try:
            for i in range(3):
                c.request("GET", "/healthz")
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
        finally:
            c.close()

    def test_plain_http_is_not_served(self):
        c = http.client.HTTPConnection("127.0.0.1", self.jobd.port, timeout=DEADLINE)
        try:
            c.request("GET", "/healthz")
            r = c.getresponse()
            status = r.status
        except (http.client.HTTPException, OSError):
            status = None
        finally:
            c.close()
        self.assertNotEqual(status, 200)
        # ...and the daemon still serves TLS afterwards.
        self.assertEqual(conn_request(self.conn(), "GET", "/healthz").status, 200)

    def test_missing_cert_file(self):
        with tempfile.TemporaryDirectory() as d:
            missing = os.path.join(d, "none.pem")
            r = run_jobd(["--listen", "127.0.0.1:0", "--db", os.path.join(d, "jobd.db"),
                          "--no-auth", "--tls-cert", missing, "--tls-key", self.key])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        errs = error_lines(r.stderr)
        self.assertEqual(len(errs), 1, r.stderr)
        self.assertIn(missing, errs[0])

    def test_garbage_cert(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.pem")
            with open(bad, "w") as f:
                f.write("not a certificate\n")
            r = run_jobd(["--listen", "127.0.0.1:0", "--db", os.path.join(d, "jobd.db"),
                          "--no-auth", "--tls-cert", bad, "--tls-key", bad])
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(error_lines(r.stderr)), 1, r.stderr)


# --- config file ----------------------------------------------------------------

class ConfigTest(TempDirCase):
    BIG = sleep_body(0, "x" * 2000)     # about 2 KB of JSON

    def write(self, text, name="jobd.conf"):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def post(self, port, body, headers=None):
        return conn_request(http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE),
                            "POST", "/v1/tasks", body, headers)

    def test_values_applied(self):
        conf = self.write("# jobd settings\n"
                          "\n"
                          "   max-body = 1024    # bytes\n"
                          "no-auth = true\n"
                          "db=%s\n"
                          "\t# listen = 127.0.0.1:1\n"
                          "log-level = debug\n" % self.path("conf.db"))
        p = self.spawn(["--config", conf, "--listen", "127.0.0.1:0"])
        port = p.wait_port()
        r = self.post(port, self.BIG)             # no token: no-auth applied
        self.assertEqual(r.status, 413, r)        # max-body applied
        self.assertEqual(r.json["error"]["code"], "payload_too_large")
        r = self.post(port, sleep_body())
        self.assertEqual(r.status, 201, r)
        self.assertTrue(os.path.isfile(self.path("conf.db")))   # db applied
        p.wait_log(r"task %d: pending -> running" % r.json["id"])  # log-level applied
        self.stop_ok(p)

    def test_equals_form_of_config_flag(self):
        conf = self.write("max-body = 1024\nno-auth = true\n")
        p = self.spawn(["--config=" + conf, "--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
        self.assertEqual(self.post(p.wait_port(), self.BIG).status, 413)
        self.stop_ok(p)

    def test_command_line_wins(self):
        conf = self.write("max-body = 1024\nno-auth = true\n")
        p = self.spawn(["--config", conf, "--max-body", "100000", "--listen", "127.0.0.1:0",
                        "--db", self.path("jobd.db")])
        r = self.post(p.wait_port(), self.BIG)
        self.assertEqual(r.status, 201, r)
        self.stop_ok(p)

    def test_command_line_listen_replaces_the_files(self):
        # jobd.8: "Options on the command line override the file" -- a listen
        # in the file (here a port held busy) is not used when the command
        # line names its own.
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            conf = self.write("listen = 127.0.0.1:%d\nno-auth = true\n" % busy.getsockname()[1])
            p = self.spawn(["--config", conf, "--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
            port = p.wait_port()
            self.assertNotEqual(port, busy.getsockname()[1])
        self.stop_ok(p)

    def test_no_auth_false(self):
        conf = self.write("no-auth = false\n")
        p = self.spawn(["--config", conf, "--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
        r = self.post(p.wait_port(), sleep_body())
        self.assertEqual(r.status, 401, r)
        self.stop_ok(p)

    def test_bad_key(self):
        conf = self.write("no-auth = true\nmax-bodies = 10\n")
        r = run_jobd(["--config", conf, "--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("max-bodies", r.stderr)
        self.assertNotIn("listening on", r.stderr)

    def test_bad_value(self):
        conf = self.write("max-exec = many\n")
        r = run_jobd(["--config", conf, "--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("many", r.stderr)

    def test_bare_key_needs_a_value(self):
        # A bare "db" must not take the next line's flag for its value.
        for text, line, word in (("db\nlisten = 127.0.0.1:0\n", 1, "db"),
                                 ("no-auth\nmax-exec\n", 2, "max-exec"),
                                 ("no-auth = maybe\n", 1, "maybe"),
                                 ("config = %s\n" % self.path("other.conf"), 1, "config")):
            with self.subTest(text=text):
                conf = self.write(text)
                r = run_jobd(["--config", conf, "--listen", "127.0.0.1:0", "--db",
                              self.path("jobd.db")])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("%s:%d:" % (conf, line), r.stderr)
                self.assertIn(word, r.stderr)
                self.assertNotIn("listening on", r.stderr)
                self.assertEqual(sorted(os.listdir(self.dir)), ["jobd.conf"])

    def test_bare_switch(self):
        conf = self.write("no-auth\n")
        p = self.spawn(["--config", conf, "--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
        r = self.post(p.wait_port(), sleep_body())
        self.assertEqual(r.status, 201, r)
        self.stop_ok(p)

    def test_missing_file(self):
        missing = self.path("nope.conf")
        r = run_jobd(["--config", missing, "--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(missing, r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


# --- logs -------------------------------------------------------------------------

class LogTest(TempDirCase):
    PLAIN = re.compile(r"^jobd: (error|warning|info|debug): \S")
    JOURNAL = re.compile(r"^<[0-7]>\S")

    def exercise(self, port):
        """Some events: a task, an error answer, a bad request."""
        def conn():
            return http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE + 30)
        r = conn_request(conn(), "POST", "/v1/tasks", sleep_body(0.01))
        self.assertEqual(r.status, 201, r)
        tid = r.json["id"]
        wait_done(conn, tid)
        r = conn_request(conn(), "POST", "/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 30},
                                                       "timeout": 0.01})
        wait_done(conn, r.json["id"])
        self.assertEqual(conn_request(conn(), "GET", "/v1/tasks/999999").status, 404)
        return tid

    def test_one_line_per_event(self):
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth",
                        "--log-level", "debug"])
        self.exercise(p.wait_port())
        self.stop_ok(p)
        lines = p.logtext().splitlines()
        self.assertGreater(len(lines), 3)
        for l in lines:
            self.assertRegex(l, self.PLAIN)
        self.assertRegex(lines[-1], r"stopped")

    def test_client_text_cannot_forge_lines(self):
        # Text from a request that reaches the log (a program name, a cwd)
        # must not start a line of its own.
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth",
                        "--log-level", "debug"])
        port = p.wait_port()

        def conn():
            return http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE + 30)
        specs = [{"argv": [self.path("no-such\njobd: error: FORGED1")]},
                 {"argv": ["true"], "cwd": self.path("no-such\r\njobd: error: FORGED2")},
                 {"argv": [self.path("no-such\rjobd: error: FORGED3\x1b[2K")]}]
        for spec in specs:
            r = conn_request(conn(), "POST", "/v1/tasks", {"kind": "exec", "exec": spec})
            self.assertEqual(r.status, 201, r)
            t = wait_done(conn, r.json["id"])
            self.assertEqual(t["error"]["type"], "spawn_failed", t)
        self.stop_ok(p)
        text = p.logtext()
        self.assertNotRegex(text, r"(?m)^jobd: error: FORGED", text)
        self.assertNotIn("\r", text)
        self.assertNotIn("\x1b", text)
        for l in text.splitlines():
            self.assertRegex(l, self.PLAIN)

    def test_journal_prefix(self):
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth"],
                       env={"JOURNAL_STREAM": "8:123456"})
        self.exercise(p.wait_port())
        self.stop_ok(p)
        lines = p.logtext().splitlines()
        self.assertTrue(lines)
        for l in lines:
            self.assertRegex(l, self.JOURNAL)
            self.assertNotRegex(l, r"^<\d>jobd: ", "the journal adds the name itself")
        self.assertIn("<6>listening on 127.0.0.1:", p.logtext())

    def test_journal_error_priority(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            r = run_jobd(["--listen", "127.0.0.1:%d" % busy.getsockname()[1], "--no-auth",
                          "--db", self.path("jobd.db")], env={"JOURNAL_STREAM": "8:123456"})
        self.assertNotEqual(r.returncode, 0)
        self.assertRegex(r.stderr, r"(?m)^<3>cannot listen on")

    def test_debug_shows_transitions(self):
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth",
                        "--log-level", "debug"])
        tid = self.exercise(p.wait_port())
        p.wait_log(r"task %d: pending -> running" % tid)
        p.wait_log(r"task %d: running -> succeeded" % tid)
        self.stop_ok(p)

    def test_info_hides_debug(self):
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db"), "--no-auth"])
        tid = self.exercise(p.wait_port())
        self.stop_ok(p)
        self.assertNotIn("debug:", p.logtext())
        self.assertNotIn("task %d: pending -> running" % tid, p.logtext())
        self.assertIn("info:", p.logtext())

    def test_error_hides_info(self):
        sock = self.path("jobd.sock")
        p = self.spawn(["--listen", "unix:" + sock, "--db", self.path("jobd.db"), "--no-auth",
                        "--log-level", "error"])
        wait_unix(sock)

        def conn():
            return UnixHTTPConnection(sock)
        r = conn_request(conn(), "POST", "/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 30},
                                                       "timeout": 0.01})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(wait_done(conn, r.json["id"])["state"], "failed")
        self.stop_ok(p)
        text = p.logtext()
        for word in ("info:", "debug:", "warning:", "listening on", "ready"):
            self.assertNotIn(word, text)

    def test_token_path_logged_not_token(self):
        p = self.spawn(["--listen", "127.0.0.1:0", "--db", self.path("jobd.db")])
        p.wait_port()
        self.stop_ok(p)
        with open(self.path("jobd.token")) as f:
            token = f.read().strip()
        self.assertIn(self.path("jobd.token"), p.logtext())
        self.assertNotIn(token, p.logtext())


# --- browser defences over plain HTTP --------------------------------------------

class BrowserDefenceTest(jobdtest.JobdTestCase):
    JOBD_ARGS = ("--allow-origin", "http://ok.example,http://also.example:8080",
                 "--allow-host", "jobs.example,other.example")

    def count(self):
        return len(jobdtest.list_all(self.jobd))

    def test_foreign_origin_refused_creates_nothing(self):
        before = self.count()
        for origin in ("http://evil.example", "null", "http://ok.example.evil.example",
                       "https://ok.example", "http://localhost:3000"):
            with self.subTest(origin=origin):
                r = self.jobd.post("/v1/tasks", sleep_body(), headers={"Origin": origin})
                self.assertError(r, 403, "forbidden")
                r = self.jobd.get("/v1/tasks", headers={"Origin": origin})
                self.assertError(r, 403, "forbidden")
        self.assertEqual(self.count(), before)

    def test_allowed_origin(self):
        for origin in ("http://ok.example", "http://also.example:8080"):
            with self.subTest(origin=origin):
                r = self.jobd.post("/v1/tasks", sleep_body(), headers={"Origin": origin})
                self.assertEqual(r.status, 201, r)

    def test_foreign_host_refused(self):
        before = self.count()
        for host in ("evil.example", "evil.example:%d" % self.jobd.port, "localhost.evil.example",
                     "evillocalhost", "jobs.example.evil.example"):
            with self.subTest(host=host):
                r = self.jobd.post("/v1/tasks", sleep_body(), headers={"Host": host})
                self.assertError(r, 403, "forbidden")
        self.assertEqual(self.count(), before)

    def test_host_with_trailing_text_refused(self):
        # Host is host[:port] (RFC 9110 7.2): text a lax reader skips after
        # an accepted name, or an IPv4 address in brackets, is not accepted.
        before = self.count()
        for host in ("localhost:80@evil.example", "jobs.example:80@evil.example",
                     "127.0.0.1:1,evil.example", "[::1]evil.example", "[::1]:80x",
                     "[127.0.0.1]", "localhost:abc", "localhost:123456", "localhost:80:80"):
            with self.subTest(host=host):
                r = self.jobd.post("/v1/tasks", sleep_body(), headers={"Host": host})
                self.assertError(r, 403, "forbidden")
        # An absolute-form target's authority stands for Host: the same rule.
        r = self.jobd.post("http://localhost:80@evil.example/v1/tasks", sleep_body())
        self.assertError(r, 403, "forbidden")
        self.assertEqual(self.count(), before)

    def test_allowed_hosts(self):
        for host in ("jobs.example:8080", "jobs.example", "JOBS.example", "other.example:1",
                     "localhost:1234", "localhost", "127.0.0.1", "127.0.0.1:%d" % self.jobd.port,
                     "[::1]:80", "[::1]", "foo.localhost", "foo.localhost:99"):
            with self.subTest(host=host):
                r = self.jobd.get("/v1/tasks?limit=1", headers={"Host": host})
                self.assertEqual(r.status, 200, r)


class BrowserDefaultTest(jobdtest.JobdTestCase):
    """Without --allow-origin no browser origin is allowed."""

    def test_no_origin_allowed_by_default(self):
        r = self.jobd.post("/v1/tasks", sleep_body(), headers={"Origin": "http://ok.example"})
        self.assertError(r, 403, "forbidden")
        r = self.jobd.get("/healthz", headers={"Origin": "http://127.0.0.1:%d" % self.jobd.port})
        self.assertError(r, 403, "forbidden")

    def test_no_extra_host_by_default(self):
        r = self.jobd.get("/v1/tasks", headers={"Host": "jobs.example:8080"})
        self.assertError(r, 403, "forbidden")
        self.assertEqual(self.jobd.get("/v1/tasks").status, 200)


class CorsTest(unittest.TestCase):
    """A page of an allowed origin (--allow-origin) can use jobd from a
    browser: its preflight (OPTIONS, no token) is answered, and every answer
    to it, errors included, carries Access-Control-Allow-Origin.  Without
    these a browser showed the page no answer, and could send no JSON and no
    token at all: allowing an origin did nothing for browsers."""
    OK = "http://ok.example"

    @classmethod
    def setUpClass(cls):
        cls.jobd = Jobd(["--allow-origin", cls.OK], no_auth=False).start()
        with open(os.path.join(cls.jobd.dir, "jobd.token")) as f:
            cls.auth = {"Authorization": "Bearer " + f.read().strip()}

    @classmethod
    def tearDownClass(cls):
        cls.jobd.cleanup()

    def preflight(self, path, origin=OK, method="POST"):
        return self.jobd.request("OPTIONS", path, headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type"})

    def assertCors(self, r, origin=OK):
        self.assertEqual(r.headers.get("access-control-allow-origin"), origin, r.headers)
        self.assertIn("Origin", r.headers.get("vary", ""))
        self.assertIn("Location", r.headers.get("access-control-expose-headers", ""))

    def test_preflight_answered_without_token(self):
        r = self.preflight("/v1/tasks")
        self.assertEqual(r.status, 204, r)
        self.assertCors(r)
        self.assertEqual(r.headers["access-control-allow-methods"], "POST, GET, HEAD")
        allowed = r.headers["access-control-allow-headers"].lower()
        self.assertIn("authorization", allowed)
        self.assertIn("content-type", allowed)
        r = self.preflight("/v1/tasks/7/cancel")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.headers["access-control-allow-methods"], "POST")

    def test_answers_carry_the_origin(self):
        h = dict(self.auth, Origin=self.OK)
        r = self.jobd.post("/v1/tasks", sleep_body(), headers=h)
        self.assertEqual(r.status, 201, r)
        self.assertCors(r)
        r = self.jobd.get("/v1/tasks/%d/result?timeout=20" % r.json["id"], headers=h)
        self.assertEqual(r.status, 200, r)
        self.assertCors(r)
        # Errors too, so that the page can read why.
        r = self.jobd.get("/v1/tasks", headers={"Origin": self.OK})
        self.assertEqual(r.status, 401, r)
        self.assertCors(r)
        r = self.jobd.get("/v1/tasks/999999", headers=h)
        self.assertEqual(r.status, 404, r)
        self.assertCors(r)

    def test_foreign_origin_gets_no_cors(self):
        r = self.preflight("/v1/tasks", origin="http://evil.example")
        self.assertEqual(r.status, 403, r)
        self.assertNotIn("access-control-allow-origin", r.headers)
        self.assertNotIn("access-control-allow-methods", r.headers)
        r = self.jobd.get("/v1/tasks", headers=dict(self.auth, Origin="http://evil.example"))
        self.assertEqual(r.status, 403, r)
        self.assertNotIn("access-control-allow-origin", r.headers)
        # No Origin: no browser, no CORS headers.
        r = self.jobd.get("/v1/tasks", headers=self.auth)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("access-control-allow-origin", r.headers)

    def test_preflight_of_nothing(self):
        r = self.preflight("/v1/nothing")
        self.assertEqual(r.status, 404, r)
        # A plain OPTIONS (no preflight) still needs the token and is 405.
        r = self.jobd.request("OPTIONS", "/v1/tasks", headers=self.auth)
        self.assertEqual(r.status, 405, r)
        self.assertIn("POST", r.headers["allow"])


# --- make install ---------------------------------------------------------------

def built_tree():
    return os.path.isfile(os.path.join(TOP_BUILD, "Makefile"))


@unittest.skipUnless(built_tree(), "no Makefile in TOP_BUILDDIR (%s)" % TOP_BUILD)
class InstallTest(unittest.TestCase):
    def test_make_install(self):
        dest = tempfile.mkdtemp(prefix="jobd-destdir-")
        self.addCleanup(shutil.rmtree, dest, True)
        # Not the flags of a "make check" that runs this test (jobserver, overrides).
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR")}
        r = subprocess.run(["make", "-s", "-C", TOP_BUILD, "install", "DESTDIR=" + dest],
                           capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        files = []
        for root, dirs, names in os.walk(dest):
            files += ["/" + os.path.relpath(os.path.join(root, n), dest) for n in names]

        def one(suffix):
            found = [f for f in files if f.endswith(suffix)]
            self.assertEqual(len(found), 1, "%s: %r in %r" % (suffix, found, files))
            return found[0]
        sbin_jobd = one("/sbin/jobd")
        jobctl = one("/bin/jobctl")
        for f in (sbin_jobd, jobctl):
            self.assertTrue(os.access(dest + f, os.X_OK), f)
        service = one("/systemd/system/jobd.service")
        one("/systemd/system/jobd.socket")
        conf = one("/jobd/jobd.conf")
        one("/man8/jobd.8")
        one("/man1/jobctl.1")
        one("/share/jobd/schema/001-init.sql")
        # The installed unit runs the installed jobd with the installed config.
        with open(dest + service) as f:
            text = f.read()
        execstart = re.search(r"^ExecStart=(.*)$", text, re.M).group(1).split()
        self.assertEqual(execstart[0], sbin_jobd)
        self.assertEqual(execstart[execstart.index("--config") + 1], conf)
        # The installed daemon runs.
        v = subprocess.run([dest + sbin_jobd, "--version"], capture_output=True, text=True,
                           timeout=DEADLINE)
        self.assertEqual(v.returncode, 0, v.stderr)


if __name__ == "__main__":
    jobdtest.main()
