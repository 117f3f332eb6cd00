"""POST /v1/wait (asyncio.wait) and GET /v1/tasks/{id}/result (asyncio.wait_for)."""
import concurrent.futures
import os
import shutil
import signal
import tempfile
import threading
import time

import jobdtest
from jobdtest import DEADLINE, JobdTestCase, raw_connect, raw_get, read_response, wait_until

DONE = ("succeeded", "failed", "cancelled")


class Helpers:
    def sleep(self, seconds, result=None, **extra):
        return self.jobd.create("sleep", {"seconds": seconds, "result": result}, **extra)["id"]

    def failing(self):
        """A task that ends failed (its own deadline passes)."""
        return self.sleep(30, timeout=0.2)

    def cancel(self, *ids):
        for tid in ids:
            self.jobd.post("/v1/tasks/%d/cancel" % tid)

    def still_running(self, tid):
        t = self.jobd.task(tid)
        self.assertEqual(t["state"], "running", t)
        self.assertNotIn("cancelling", t)
        return t

    def wait(self, body):
        r = self.jobd.post("/v1/wait", body)
        self.assertEqual(r.status, 200, (body, r))
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"))
        return r.json


class WaitTest(JobdTestCase, Helpers):
    def test_all_completed_default(self):
        a, b = self.sleep(0.2), self.sleep(0.4)
        w = self.wait({"ids": [a, b]})
        self.assertEqual(w, {"done": [a, b], "pending": []})
        for tid in (a, b):
            self.assertEqual(self.jobd.task(tid)["state"], "succeeded")

    def test_all_completed_explicit(self):
        a, b = self.sleep(0.3), self.sleep(0)
        w = self.wait({"ids": [a, b], "return_when": "ALL_COMPLETED", "timeout": 30})
        self.assertEqual(w, {"done": [a, b], "pending": []})
        self.assertEqual(self.jobd.task(a)["state"], "succeeded")

    def test_order_given(self):
        a, b, c = self.sleep(0), self.sleep(0), self.sleep(0)
        for tid in (a, b, c):
            self.jobd.wait_state(tid, "succeeded")
        self.assertEqual(self.wait({"ids": [c, a, b]}), {"done": [c, a, b], "pending": []})
        self.assertEqual(self.wait({"ids": [b, c, a], "return_when": "FIRST_COMPLETED"}),
                         {"done": [b, c, a], "pending": []})

    def test_duplicates_once(self):
        a, b = self.sleep(0), self.sleep(0.2)
        w = self.wait({"ids": [b, a, b, a, b]})
        self.assertEqual(w, {"done": [b, a], "pending": []})
        long = self.sleep(30)
        try:
            w = self.wait({"ids": [long, a, long, b, a], "return_when": "FIRST_COMPLETED"})
            self.assertEqual(w, {"done": [a, b], "pending": [long]})
            w = self.wait({"ids": [long, long], "timeout": 0})
            self.assertEqual(w, {"done": [], "pending": [long]})
        finally:
            self.cancel(long)

    def test_first_completed(self):
        long, short = self.sleep(30), self.sleep(0.3)
        try:
            w = self.wait({"ids": [long, short], "return_when": "FIRST_COMPLETED"})
            self.assertEqual(w, {"done": [short], "pending": [long]})
            self.assertEqual(self.jobd.task(short)["state"], "succeeded")
            self.still_running(long)
        finally:
            self.cancel(long)

    def test_first_completed_counts_failed_and_cancelled(self):
        long, other = self.sleep(30), self.sleep(30)
        try:
            self.jobd.wait_state(other, "running")
            self.cancel(other)
            w = self.wait({"ids": [long, other], "return_when": "FIRST_COMPLETED"})
            self.assertEqual(w, {"done": [other], "pending": [long]})
            f = self.failing()
            w = self.wait({"ids": [long, f], "return_when": "FIRST_COMPLETED"})
            self.assertEqual(w, {"done": [f], "pending": [long]})
        finally:
            self.cancel(long)

    def test_timeout_cancels_nothing(self):
        a, b = self.sleep(30), self.sleep(30)
        try:
            for when in ("ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION"):
                t0 = time.monotonic()
                w = self.wait({"ids": [a, b], "timeout": 0.3, "return_when": when})
                self.assertGreaterEqual(time.monotonic() - t0, 0.3 - 0.01)
                self.assertEqual(w, {"done": [], "pending": [a, b]}, when)
                self.still_running(a)
                self.still_running(b)
        finally:
            self.cancel(a, b)

    def test_timeout_partial(self):
        long, short = self.sleep(30), self.sleep(0)
        try:
            self.jobd.wait_state(short, "succeeded")
            w = self.wait({"ids": [short, long], "timeout": 0.2})
            self.assertEqual(w, {"done": [short], "pending": [long]})
            self.still_running(long)
        finally:
            self.cancel(long)

    def test_timeout_zero(self):
        long, short = self.sleep(30), self.sleep(0)
        try:
            self.jobd.wait_state(short, "succeeded")
            for when in ("ALL_COMPLETED", "FIRST_COMPLETED", "FIRST_EXCEPTION"):
                w = self.wait({"ids": [long, short], "timeout": 0, "return_when": when})
                self.assertEqual(w, {"done": [short], "pending": [long]}, when)
            self.still_running(long)
        finally:
            self.cancel(long)

    def test_first_exception_on_failed(self):
        long = self.sleep(30)
        try:
            f = self.failing()
            w = self.wait({"ids": [long, f], "return_when": "FIRST_EXCEPTION"})
            self.assertEqual(w, {"done": [f], "pending": [long]})
            t = self.jobd.task(f)
            self.assertEqual(t["state"], "failed")
            self.assertEqual(t["error"]["type"], "timeout")
            self.still_running(long)
            # Already failed: it answers at once.
            w = self.wait({"ids": [f, long], "return_when": "FIRST_EXCEPTION"})
            self.assertEqual(w, {"done": [f], "pending": [long]})
        finally:
            self.cancel(long)

    def test_first_exception_ignores_success(self):
        long, ok = self.sleep(30), self.sleep(0)
        try:
            # A success is not an exception: the wait runs to its timeout.
            w = self.wait({"ids": [ok, long], "return_when": "FIRST_EXCEPTION", "timeout": 0.5})
            self.assertEqual(w, {"done": [ok], "pending": [long]})
        finally:
            self.cancel(long)

    def test_first_exception_all_succeed(self):
        a, b = self.sleep(0.2), self.sleep(0.4)
        w = self.wait({"ids": [b, a], "return_when": "FIRST_EXCEPTION"})
        self.assertEqual(w, {"done": [b, a], "pending": []})

    def test_timeout_null(self):
        a = self.sleep(0.1)
        w = self.wait({"ids": [a], "timeout": None, "return_when": "ALL_COMPLETED"})
        self.assertEqual(w, {"done": [a], "pending": []})

    def test_first_exception_not_on_cancelled(self):
        x, y = self.sleep(30), self.sleep(1.0)
        self.jobd.wait_state(x, "running")
        self.cancel(x)
        self.assertEqual(self.jobd.task(x)["state"], "cancelled")
        # A cancelled task is not an exception: with none failed, this is
        # ALL_COMPLETED, so it answers only when y is done too.
        w = self.wait({"ids": [x, y], "return_when": "FIRST_EXCEPTION"})
        self.assertEqual(w, {"done": [x, y], "pending": []})
        self.assertEqual(self.jobd.task(y)["state"], "succeeded")

    def test_first_exception_not_on_cancel_meanwhile(self):
        x, y = self.sleep(30), self.sleep(1.5)
        self.jobd.wait_state(x, "running")
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            fut = ex.submit(self.jobd.post, "/v1/wait",
                            {"ids": [x, y], "return_when": "FIRST_EXCEPTION"})
            time.sleep(0.3)
            self.cancel(x)
            r = fut.result(jobdtest.DEADLINE)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"done": [x, y], "pending": []})

    def test_empty_ids(self):
        self.assertError(self.jobd.post("/v1/wait", {"ids": []}), 400, "bad_request")
        self.assertError(self.jobd.post("/v1/wait", {"ids": [], "timeout": 0}), 400, "bad_request")

    def test_unknown_id(self):
        a = self.sleep(0)
        for ids in ([999999999], [a, 999999999], [999999999, a], [9223372036854775807]):
            self.assertError(self.jobd.post("/v1/wait", {"ids": ids}), 404, "not_found")
            self.assertError(self.jobd.post("/v1/wait", {"ids": ids, "timeout": 0}),
                             404, "not_found")

    def test_inline_tasks(self):
        before = {t["id"] for t in jobdtest.list_all(self.jobd)}
        body = {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0.2, "result": "a"}},
                          {"kind": "sleep", "name": "second", "sleep": {"seconds": 0, "result": "b"}}]}
        w = self.wait(body)
        self.assertEqual(set(w), {"ids", "done", "pending"})
        ids = w["ids"]
        self.assertEqual(len(ids), 2)
        self.assertTrue(all(isinstance(i, int) and i > 0 for i in ids))
        self.assertLess(ids[0], ids[1])
        self.assertFalse(set(ids) & before)
        self.assertEqual(w["done"], ids)
        self.assertEqual(w["pending"], [])
        self.assertEqual(self.jobd.task(ids[0])["result"], "a")
        t = self.jobd.task(ids[1])
        self.assertEqual((t["result"], t["name"], t["state"]), ("b", "second", "succeeded"))
        after = {t["id"] for t in jobdtest.list_all(self.jobd)}
        self.assertEqual(after - before, set(ids))

    def test_inline_tasks_timeout(self):
        body = {"tasks": [{"kind": "sleep", "sleep": {"seconds": 30}},
                          {"kind": "sleep", "sleep": {"seconds": 30}}], "timeout": 0.2}
        w = self.wait(body)
        ids = w["ids"]
        try:
            self.assertEqual(len(ids), 2)
            self.assertEqual(w["done"], [])
            self.assertEqual(w["pending"], ids)
            for tid in ids:
                self.still_running(tid)
        finally:
            self.cancel(*ids)

    def test_inline_tasks_first_exception(self):
        body = {"tasks": [{"kind": "sleep", "sleep": {"seconds": 30}},
                          {"kind": "sleep", "timeout": 0.2, "sleep": {"seconds": 30}}],
                "return_when": "FIRST_EXCEPTION"}
        w = self.wait(body)
        ids = w["ids"]
        try:
            self.assertEqual(w["done"], [ids[1]])
            self.assertEqual(w["pending"], [ids[0]])
            self.assertEqual(self.jobd.task(ids[1])["state"], "failed")
            self.still_running(ids[0])
        finally:
            self.cancel(*ids)


class ResultTest(JobdTestCase, Helpers):
    def result(self, tid, query=""):
        return self.jobd.get("/v1/tasks/%d/result%s" % (tid, query))

    def test_blocks_until_done(self):
        tid = self.sleep(0.5, {"answer": 42})
        r = self.result(tid)
        self.assertEqual(r.status, 200, r)
        t = r.json
        self.assertEqual(t["id"], tid)
        self.assertEqual(t["state"], "succeeded")
        self.assertEqual(t["result"], {"answer": 42})
        self.assertEqual(t, self.jobd.task(tid))

    def test_with_timeout_long_enough(self):
        tid = self.sleep(0.2, 7)
        r = self.result(tid, "?timeout=30")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "succeeded")
        self.assertEqual(r.json["result"], 7)

    def test_done_answers_at_once(self):
        tid = self.sleep(0, "x")
        done = self.jobd.wait_state(tid, "succeeded")
        for q in ("", "?timeout=0", "?timeout=0&cancel=true", "?timeout=0&cancel=false"):
            r = self.result(tid, q)
            self.assertEqual(r.status, 200, (q, r))
            self.assertEqual(r.json, done)

    def test_any_final_state_is_200(self):
        f = self.failing()
        r = self.result(f)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "failed")
        self.assertEqual(r.json["error"]["type"], "timeout")
        c = self.sleep(30)
        self.jobd.wait_state(c, "running")
        self.cancel(c)
        r = self.result(c, "?timeout=0")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "cancelled")

    def check_cancelled_504(self, r, tid):
        body = self.assertError(r, 504, "timeout")
        self.assertIn("task", body)
        t = body["task"]
        self.assertEqual(t["id"], tid)
        self.assertEqual(t["state"], "cancelled")
        self.assertEqual(t["error"]["type"], "cancelled")
        self.assertNotIn("cancelling", t)
        self.assertIsNotNone(t["finished_at"])
        self.assertEqual(self.jobd.task(tid), t)

    def test_timeout_zero_cancels(self):
        tid = self.sleep(30, 1)
        self.jobd.wait_state(tid, "running")
        self.check_cancelled_504(self.result(tid, "?timeout=0"), tid)

    def test_timeout_cancels(self):
        tid = self.sleep(30, 1)
        t0 = time.monotonic()
        r = self.result(tid, "?timeout=0.3")
        self.assertGreaterEqual(time.monotonic() - t0, 0.3 - 0.01)
        self.check_cancelled_504(r, tid)

    def test_cancel_true_forms(self):
        for form in ("true", "1"):
            tid = self.sleep(30)
            self.jobd.wait_state(tid, "running")
            self.check_cancelled_504(self.result(tid, "?timeout=0.1&cancel=" + form), tid)
            tid = self.sleep(30)
            self.jobd.wait_state(tid, "running")
            self.check_cancelled_504(self.result(tid, "?cancel=%s&timeout=0" % form), tid)

    def test_shield(self):
        for form in ("false", "0"):
            tid = self.sleep(1.5, "kept")
            self.jobd.wait_state(tid, "running")
            r = self.result(tid, "?timeout=0.2&cancel=" + form)
            body = self.assertError(r, 504, "timeout")
            self.assertEqual(body["task"]["id"], tid)
            self.assertEqual(body["task"]["state"], "running")
            self.assertNotIn("cancelling", body["task"])
            self.assertIsNone(body["task"]["error"])
            r = self.result(tid, "?cancel=%s&timeout=0" % form)
            self.assertError(r, 504, "timeout")
            self.assertEqual(r.json["task"]["state"], "running")
            self.still_running(tid)
            # It goes on and succeeds.
            r = self.result(tid)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["state"], "succeeded")
            self.assertEqual(r.json["result"], "kept")

    def test_bad_booleans(self):
        tid = self.sleep(30)
        try:
            self.jobd.wait_state(tid, "running")
            for v in ("", "yes", "no", "2", "on", "off", "-1"):
                r = self.result(tid, "?timeout=0&cancel=" + v)
                self.assertError(r, 400, "bad_request")
            self.still_running(tid)
        finally:
            self.cancel(tid)

    def test_unknown_id(self):
        self.assertError(self.result(999999999), 404, "not_found")
        self.assertError(self.result(999999999, "?timeout=0"), 404, "not_found")

    def test_many_waiters_one_task(self):
        tid = self.sleep(0.5, "shared")
        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            rs = list(ex.map(lambda _: self.result(tid), range(20)))
        for r in rs:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["result"], "shared")

    def test_disconnect_does_not_cancel(self):
        tid = self.sleep(1.0, "survived")
        s = raw_connect(self.jobd.port, raw_get("/v1/tasks/%d/result" % tid, self.jobd.port))
        time.sleep(0.2)
        s.close()
        r = self.result(tid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "succeeded")
        self.assertEqual(r.json["result"], "survived")

    def test_disconnect_before_timeout_does_not_cancel(self):
        # The client leaves before its timeout: the timeout must not fire a
        # cancel on its behalf.
        tid = self.sleep(1.5, "survived")
        s = raw_connect(self.jobd.port,
                        raw_get("/v1/tasks/%d/result?timeout=0.5" % tid, self.jobd.port))
        time.sleep(0.1)
        s.close()
        r = self.result(tid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "succeeded", r.json)
        self.assertEqual(r.json["result"], "survived")

    def test_disconnected_wait_then_daemon_alive(self):
        tid = self.sleep(30)
        try:
            socks = [raw_connect(self.jobd.port,
                                 raw_get("/v1/tasks/%d/result" % tid, self.jobd.port))
                     for _ in range(20)]
            time.sleep(0.2)
            for s in socks:
                s.close()
            time.sleep(0.2)
            self.assertEqual(self.jobd.get("/healthz").status, 200)
            self.still_running(tid)
        finally:
            self.cancel(tid)
        self.assertEqual(self.jobd.task(tid)["state"], "cancelled")

    def test_raw_response(self):
        # A parked request answered over a plain socket too (HTTP framing).
        tid = self.sleep(0.3, "raw")
        s = raw_connect(self.jobd.port, raw_get("/v1/tasks/%d/result" % tid, self.jobd.port))
        try:
            r = read_response(s)
        finally:
            s.close()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["result"], "raw")


class StoppingTest(JobdTestCase):
    """A cancel or wait_for's timeout meeting a task that is on its way
    out (stopped for its own deadline), or one whose program exited while a
    child it left (ignoring SIGTERM) keeps its group alive.  The grace
    before SIGKILL is long, so the test decides when each one ends."""
    JOBD_ARGS = ("--kill-grace", "60")

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobd-wait-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.pids = []
        self.addCleanup(self.kill_all)

    def kill_all(self):
        # Only our own `sleep 1000`: a pid gone meanwhile may be reused.
        for pid in self.pids:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if f.read() == b"sleep\x001000\x00":
                        os.kill(pid, signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass

    def pid_of(self, name, kill=True):
        path = os.path.join(self.dir, name)
        wait_until(lambda: os.path.exists(path), what=path)
        with open(path) as f:
            pid = int(f.read())
        if kill:
            self.pids.append(pid)
        return pid

    def exec_task(self, script, **extra):
        return self.jobd.create("exec", {"argv": ["sh", "-c", script.format(d=self.dir)]},
                                **extra)["id"]

    def waiting(self, n):
        """Wait until n clients are parked (the request being tested is in)."""
        wait_until(lambda: "jobd_waiting_clients %d\n" % n in self.jobd.get("/metrics").body.decode(),
                   what="%d waiting clients" % n)

    def parked_until_killed(self, method, path, pid):
        """Send the request, wait until it is parked, kill pid (what keeps
        the task from ending), and return the answer."""
        out = {}

        def run():
            out["r"] = self.jobd.request(method, path)
        th = threading.Thread(target=run)
        th.start()
        self.addCleanup(th.join, DEADLINE)
        self.waiting(1)
        os.kill(pid, signal.SIGKILL)
        th.join(DEADLINE)
        return out["r"]

    def stopping_for_deadline(self):
        """A task whose own deadline has passed and which ignores SIGTERM."""
        tid = self.exec_task("trap '' TERM; echo $$ > {d}/leader.tmp; mv {d}/leader.tmp {d}/leader; "
                             "exec sleep 1000", timeout=0.2)
        leader = self.pid_of("leader")
        wait_until(lambda: self.jobd.task(tid).get("cancelling"), what="its deadline")
        return tid, leader

    def test_cancel_wins_over_its_deadline(self):
        # The contract: once a cancel is accepted the task ends cancelled,
        # and the cancel answers 200 with it cancelled (asyncio: cancel()
        # during asyncio.timeout()'s stop ends the task CancelledError).
        tid, leader = self.stopping_for_deadline()
        r = self.parked_until_killed("POST", "/v1/tasks/%d/cancel" % tid, leader)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["state"], r.json["error"]["type"]), ("cancelled", "cancelled"), r)
        self.assertEqual(self.jobd.task(tid), r.json)

    def test_result_timeout_during_its_deadline_504_cancelled(self):
        tid, leader = self.stopping_for_deadline()
        body = self.assertError(self.parked_until_killed(
            "GET", "/v1/tasks/%d/result?timeout=0" % tid, leader), 504, "timeout")
        self.assertEqual(body["task"]["state"], "cancelled", body)

    def ended(self, code):
        """A task whose program exited with code, leaving a child that
        ignores SIGTERM (and a grace of 60 s before its SIGKILL): done at
        once, as the contract says, though its group is still stopped."""
        tid = self.exec_task("sh -c 'trap \"\" TERM; echo $$ > {d}/child.tmp; mv {d}/child.tmp {d}/child; "
                             "exec sleep 1000' & "
                             "while [ ! -e {d}/child ]; do sleep 0.01; done; "
                             "echo done; exit %d" % code)
        child = self.pid_of("child")
        t = self.jobd.wait_state(tid, ("succeeded", "failed", "cancelled"))
        self.assertTrue(self.alive(child), "the child it left is still there")
        return t, child

    @staticmethod
    def alive(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in "ZX"
        except OSError:
            return False

    def test_cancel_after_its_program_exited_409(self):
        # "The task is done when its main process exits": a cancel that
        # comes after that changes nothing (asyncio: cancel() of a done
        # task) and answers 409 with the task as it ended, at once.
        t, child = self.ended(0)
        body = self.assertError(self.jobd.post("/v1/tasks/%d/cancel" % t["id"]), 409, "conflict")
        self.assertEqual(body["task"]["state"], "succeeded", body)
        self.assertEqual(body["task"]["result"]["stdout"], "done\n")
        self.assertEqual(self.jobd.task(t["id"]), body["task"])
        self.assertTrue(self.alive(child))

    def test_result_after_its_program_exited_200(self):
        # Done: wait_for answers the task as it ended, even with timeout=0.
        t, child = self.ended(3)
        r = self.jobd.get("/v1/tasks/%d/result?timeout=0" % t["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["state"], r.json["error"]["type"]), ("failed", "exit_status"), r)
        self.assertEqual((r.json["error"]["exit_code"], r.json["error"]["stdout"]), (3, "done\n"), r)
        self.assertEqual(r.json, t)


if __name__ == "__main__":
    jobdtest.main()
