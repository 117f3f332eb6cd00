"""A full database: --max-db-size makes SQLite answer SQLITE_FULL past a cap,
as a full disk would.  New tasks are then refused with 507 storage_full, what
was acknowledged stays, and no answer may report a task that was never
created."""
import os
import re
import shutil
import tempfile
import threading
import unittest

import jobdtest
from jobdtest import Jobd, wait_until

SHIM = os.path.join(jobdtest.TOP_BUILD, "tests", "shim", "sync_gate.so")
CAP = 65536          # the smallest cap jobd takes: a few dozen tasks fit
BIG = "x" * 200000   # a spec larger than the whole cap: its create must fail


class Call(threading.Thread):
    """An HTTP request on a thread of its own: held answers block it."""

    def __init__(self, fn, *args, **kw):
        super().__init__(daemon=True)
        self.fn, self.args, self.kw = fn, args, kw
        self.result = self.error = None
        self.start()

    def answer(self):
        self.join(jobdtest.DEADLINE)
        if self.error is not None:
            raise self.error
        if self.is_alive():
            raise AssertionError("no answer")
        return self.result

    def run(self):
        try:
            self.result = self.fn(*self.args, **self.kw)
        except Exception as e:   # reported by the test that joins
            self.error = e


def long_sleep(name):
    # Running for an hour: created, started and acknowledged in one commit,
    # and nothing more is written for it while the test runs.
    return {"kind": "sleep", "name": name, "sleep": {"seconds": 3600}}


class StorageFullTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobd-full-")
        self.jobd = Jobd(["--max-db-size", str(CAP)], db_dir=self.dir).start()

    def tearDown(self):
        rc = self.jobd.stop()
        log = self.jobd.logtext()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.assertEqual(rc, 0, log[-3000:])

    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"]["code"], code, r)

    def fill(self):
        """Create tasks until one is refused: the ids acknowledged, and the
        refused create's answer."""
        ids = []
        for i in range(1000):
            r = self.jobd.post("/v1/tasks", long_sleep("t%d-%s" % (i, "n" * 200)))
            if r.status != 201:
                return ids, r
            ids.append(r.json["id"])
        self.fail("1000 tasks of 250 bytes fit under a cap of %d bytes" % CAP)

    def test_creates_past_the_cap_get_507_and_nothing_is_lost(self):
        ids, refused = self.fill()
        self.assertGreater(len(ids), 0)
        self.assertError(refused, 507, "storage_full")
        self.assertError(self.jobd.post("/v1/tasks", long_sleep("more")), 507, "storage_full")
        for tid in ids:
            self.assertEqual(self.jobd.task(tid)["state"], "running")
        # The refused creates' ids name no task.
        self.assertError(self.jobd.get("/v1/tasks/%d" % (ids[-1] + 1)), 404, "not_found")
        listed = [t["id"] for t in jobdtest.list_all(self.jobd)]
        self.assertEqual(listed, ids)
        # What was acknowledged survives a restart under a larger cap,
        # and creates work again.
        self.assertEqual(self.jobd.stop(), 0)
        self.jobd = jobdtest.start_again(self.dir, ["--max-db-size", str(16 * CAP)])
        for tid in ids:
            self.assertEqual(self.jobd.task(tid)["state"], "running")
        t = self.jobd.post("/v1/tasks", long_sleep("after"))
        self.assertEqual(t.status, 201, t)
        self.assertGreater(t.json["id"], ids[-1])

    def test_a_change_the_disk_cannot_take_holds_only_what_reports_it(self):
        ids, refused = self.fill()
        self.assertError(refused, 507, "storage_full")
        failures = lambda: self.jobd.logtext().count("database commit failed")
        # Cancel running tasks one by one until a cancel cannot be
        # committed: its answer waits, and jobd retries the commit.
        stuck = None
        for tid in ids[:-1]:
            base = failures()
            call = Call(self.jobd.post, "/v1/tasks/%d/cancel" % tid)
            wait_until(lambda: not call.is_alive() or failures() > base,
                       what="the cancel answered or its commit refused")
            if call.is_alive():
                stuck = tid
                break
            self.assertEqual(call.answer().json["state"], "cancelled")
        self.assertIsNotNone(stuck, "every cancel fitted under the cap")
        base = failures()
        wait_until(lambda: failures() > base, what="the commit retried")
        self.assertTrue(call.is_alive(), "the cancel was answered though never committed")
        # Answers that report no uncommitted change are not held meanwhile.
        self.assertEqual(self.jobd.get("/healthz").json, {"status": "ok"})
        self.assertEqual(self.jobd.get("/metrics").status, 200)
        self.assertError(self.jobd.get("/v1/nope"), 404, "not_found")
        self.assertError(self.jobd.get("/v1/tasks/%d" % (ids[-1] + 1000)), 404, "not_found")
        self.assertError(self.jobd.get("/v1/tasks?bogus=1"), 400, "bad_request")
        self.assertEqual(self.jobd.task(ids[-1])["state"], "running")
        # The list reports what is committed: the stuck cancel is not in it.
        listed = {t["id"]: t["state"] for t in jobdtest.list_all(self.jobd)}
        self.assertEqual(listed[stuck], "running")
        self.assertEqual(listed[ids[-1]], "running")
        self.assertTrue(call.is_alive(), "the cancel was answered though never committed")

    def test_inline_creates_of_a_gather_past_the_cap_get_507(self):
        r = self.jobd.post("/v1/gather", {"tasks": [
            {"kind": "sleep", "sleep": {"seconds": 0}},
            {"kind": "sleep", "sleep": {"seconds": 0, "result": BIG}}]})
        self.assertError(r, 507, "storage_full")
        self.assertEqual(jobdtest.list_all(self.jobd), [])
        # Refused, not stuck: a small task still fits.
        t = self.jobd.create("sleep", {"seconds": 0, "result": 1})
        self.assertEqual(self.jobd.wait_state(t["id"], "succeeded")["result"], 1)


class HeldAnswersOfARefusedCreate(unittest.TestCase):
    """Answers about a task whose create is not yet committed wait for the
    commit; if the commit is refused, they must not report the task."""

    def setUp(self):
        if not os.path.exists(SHIM):
            self.skipTest("tests/shim/sync_gate.so is not built")
        self.tmp = tempfile.mkdtemp(prefix="jobd-full-gate-")
        self.gate = os.path.join(self.tmp, "gate")
        self.log = os.path.join(self.tmp, "gate.log")
        env = {"LD_PRELOAD": SHIM, "JOBD_WRITE_GATE": self.gate, "JOBD_SYNC_LOG": self.log,
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        self.jobd = Jobd(["--max-db-size", str(CAP), "--max-exec", "1", "--log-level", "debug"],
                         env=env).start()

    def tearDown(self):
        if os.path.exists(self.gate):
            os.unlink(self.gate)
        rc = self.jobd.stop()
        log = self.jobd.logtext()
        self.jobd.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(rc, 0, log[-3000:])

    def waits(self):
        try:
            with open(self.log) as f:
                return sum(1 for line in f if line.strip() == "write wait")
        except FileNotFoundError:
            return 0

    def test_reads_held_behind_a_refused_create_answer_404(self):
        first = self.jobd.create("sleep", {"seconds": 3600})["id"]
        # Hold the writer in the next commit (task a's) ...
        open(self.gate, "w").close()
        a = Call(self.jobd.post, "/v1/tasks", long_sleep("a"))
        wait_until(lambda: self.waits() > 0, what="the commit of task a to be held")
        # ... so that task x, too big for the cap, waits in memory for the
        # next batch, given its slot but not committed.
        x_id = first + 2
        # x is a program that leaves a mark: it must never run.
        mark = os.path.join(self.tmp, "x-ran")
        x = Call(self.jobd.post, "/v1/tasks",
                 {"kind": "exec", "exec": {"argv": ["/bin/sh", "-c", "touch '%s'" % mark],
                                           "stdin": BIG}})
        wait_until(lambda: ("task %d: pending -> running" % x_id) in self.jobd.logtext(),
                   what="task x to be staged")
        reads = [Call(self.jobd.get, "/v1/tasks/%d" % x_id),
                 Call(self.jobd.get, "/v1/tasks/%d/stdout" % x_id),
                 Call(self.jobd.delete, "/v1/tasks/%d" % x_id)]
        # Each is answered from memory, and the answer held for the commit.
        wait_until(lambda: len(re.findall(r"http: \S+ /v1/tasks/%d\S*: answer \d+ held" % x_id,
                                          self.jobd.logtext())) == len(reads),
                   what="the reads of task x to be answered and held")
        os.unlink(self.gate)
        ra = a.answer()
        self.assertEqual(ra.status, 201, ra)
        self.assertEqual(ra.json["id"], first + 1)
        rx = x.answer()
        self.assertEqual(rx.status, 507, rx)
        self.assertEqual(rx.json["error"]["code"], "storage_full")
        for call in reads:
            r = call.answer()
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["error"]["code"], "not_found", r)
        self.assertEqual(self.jobd.get("/v1/tasks/%d" % x_id).status, 404)
        self.assertEqual(self.jobd.task(first + 1)["state"], "running")
        # One program at a time, in order: once y has run, x would have too.
        y = self.jobd.create("exec", {"argv": ["/bin/true"]})
        self.assertEqual(self.jobd.wait_state(y["id"], ("succeeded", "failed"))["state"],
                         "succeeded")
        self.assertFalse(os.path.exists(mark), "the refused task's program ran")


if __name__ == "__main__":
    jobdtest.main()
