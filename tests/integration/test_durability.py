"""Durability before acknowledgement, tested at the disk flush itself.

jobd commits on its loop and flushes the WAL on a thread of its own.  A shim
(tests/shim/sync_gate.so, preloaded) holds every flush of the WAL while a
gate file exists, so a test can watch what jobd answers meanwhile: with
--sync full nothing that reports state may leave before the flush that covers
it; with --sync normal there is no flush to wait for."""
import os
import re
import select
import shutil
import signal
import sqlite3
import tempfile
import threading
import unittest

import jobdtest
from jobdtest import Jobd, wait_until

SHIM = os.path.join(jobdtest.TOP_BUILD, "tests", "shim", "sync_gate.so")
HELD = 0.5   # seconds an answer must stay away while the flush is held


class Call(threading.Thread):
    """An HTTP request on a thread of its own: held answers block it."""

    def __init__(self, fn, *args, **kw):
        super().__init__(daemon=True)
        self.fn, self.args, self.kw = fn, args, kw
        self.result = self.error = None
        self.start()

    def run(self):
        try:
            self.result = self.fn(*self.args, **self.kw)
        except Exception as e:   # reported by the test that joins
            self.error = e

    def answer(self):
        self.join(jobdtest.DEADLINE)
        if self.error is not None:
            raise self.error
        if self.is_alive():
            raise AssertionError("no answer after the flush was let through")
        return self.result


class GateCase(unittest.TestCase):
    SYNC = "full"

    def setUp(self):
        if not os.path.exists(SHIM):
            self.skipTest("tests/shim/sync_gate.so is not built")
        self.tmp = tempfile.mkdtemp(prefix="jobd-gate-")
        self.gate = os.path.join(self.tmp, "gate")
        self.log = os.path.join(self.tmp, "syncs.log")
        env = {"LD_PRELOAD": SHIM, "JOBD_SYNC_GATE": self.gate, "JOBD_SYNC_LOG": self.log,
               # the ASan build's runtime must come first unless told otherwise
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
        self.jobd = Jobd(["--sync", self.SYNC], env=env).start()

    def tearDown(self):
        if hasattr(self, "jobd"):
            self.open_gate()
            rc = self.jobd.stop()
            log = self.jobd.logtext()
            self.jobd.cleanup()
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.assertEqual(rc, 0, log[-3000:])

    def close_gate(self):
        open(self.gate, "w").close()

    def open_gate(self):
        if os.path.exists(self.gate):
            os.unlink(self.gate)

    def syncs(self, what):
        try:
            with open(self.log) as f:
                return sum(1 for line in f if line.strip() == what)
        except FileNotFoundError:
            return 0

    def assertHeld(self, *calls):
        """Every call is still waiting for its answer."""
        calls[0].join(HELD)
        for c in calls:
            self.assertTrue(c.is_alive(), "answered while the flush was held: %r" % (c.result,))


class FullSyncTest(GateCase):
    def test_201_waits_for_the_flush(self):
        self.close_gate()
        held = self.syncs("wait")
        create = Call(self.jobd.create, "sleep", {"seconds": 0, "result": 7})
        wait_until(lambda: self.syncs("wait") > held, what="a flush of the WAL to start")
        self.assertHeld(create)
        self.open_gate()
        t = create.answer()
        self.assertIn(t["state"], ("pending", "running"))
        self.assertGreater(self.syncs("synced"), 0)
        self.assertEqual(self.jobd.wait_state(t["id"], "succeeded")["result"], 7)

    def test_cancel_and_reads_wait_for_the_flush(self):
        tid = self.jobd.create("sleep", {"seconds": 600})["id"]
        self.jobd.wait_state(tid, "running")
        self.close_gate()
        held = self.syncs("wait")
        cancel = Call(self.jobd.post, "/v1/tasks/%d/cancel" % tid)
        wait_until(lambda: self.syncs("wait") > held, what="a flush of the WAL to start")
        # The cancel is committed but not on disk: nobody may see it yet.
        get = Call(self.jobd.get, "/v1/tasks/%d" % tid)
        self.assertHeld(cancel, get)
        self.open_gate()
        r = cancel.answer()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "cancelled")
        self.assertEqual(get.answer().json["state"], "cancelled")

    def test_woken_result_waits_for_the_flush(self):
        tid = self.jobd.create("sleep", {"seconds": 600})["id"]
        self.jobd.wait_state(tid, "running")
        result = Call(self.jobd.get, "/v1/tasks/%d/result" % tid)
        wait_until(lambda: "jobd_waiting_clients 1" in self.jobd.get("/metrics").body.decode(),
                   what="the result request to park")
        self.close_gate()
        held = self.syncs("wait")
        cancel = Call(self.jobd.post, "/v1/tasks/%d/cancel" % tid)
        wait_until(lambda: self.syncs("wait") > held, what="a flush of the WAL to start")
        self.assertHeld(result, cancel)
        self.open_gate()
        self.assertEqual(result.answer().json["state"], "cancelled")
        self.assertEqual(cancel.answer().status, 200)


    def test_a_burst_read_in_one_turn_waits_for_the_flush(self):
        """Creates that jobd reads in one loop turn go to the writer in more
        than one batch (the first before the turn ends, so that the writer
        and the disk work while the loop reads the rest); each answer still
        waits for the flush that covers its own create."""
        n = 48
        host = b"Host: 127.0.0.1:%d\r\n" % self.jobd.port
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(n):
            # Served once: accepted, and idle on jobd's side.
            s = jobdtest.raw_connect(self.jobd.port, b"GET /healthz HTTP/1.1\r\n%s\r\n" % host)
            self.assertEqual(jobdtest.read_response(s).status, 200)
            socks.append(s)
        before = self.commits()
        body = b'{"kind":"sleep","sleep":{"seconds":600}}'
        create = (b"POST /v1/tasks HTTP/1.1\r\n%sContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (host, len(body), body))
        self.close_gate()
        held = self.syncs("wait")
        # Stopped, so that every create is waiting when the loop next looks.
        os.kill(self.jobd.proc.pid, signal.SIGSTOP)
        try:
            for s in socks:
                s.sendall(create)
        finally:
            os.kill(self.jobd.proc.pid, signal.SIGCONT)
        wait_until(lambda: self.syncs("wait") > held, what="a flush of the WAL to start")
        readable, _, _ = select.select(socks, [], [], HELD)
        self.assertEqual(readable, [], "answered while the flush was held")
        self.open_gate()
        ids = set()
        for s in socks:
            r = jobdtest.read_response(s, "POST")
            self.assertEqual(r.status, 201, r)
            ids.add(r.json["id"])
        self.assertEqual(len(ids), n)
        self.assertGreaterEqual(self.commits() - before, 2, "the burst went in one batch")
        for tid in ids:
            self.assertEqual(self.jobd.task(tid)["state"], "running")

    def test_an_end_read_back_from_disk_waits_for_the_flush(self):
        """A finished task leaves memory once its last row is committed; a
        read of it from the database must still wait for the flush."""
        tid = self.jobd.create("sleep", {"seconds": 0.3, "result": 5})["id"]
        self.jobd.wait_state(tid, "running")
        self.close_gate()
        held = self.syncs("wait")
        # Its end is committed (and the task gone from memory), the flush
        # that covers it held.
        wait_until(lambda: self.syncs("wait") > held, what="a flush of the WAL to start")
        calls = [Call(self.jobd.get, "/v1/tasks/%d" % tid),
                 Call(self.jobd.get, "/v1/tasks/%d/result" % tid),
                 Call(self.jobd.post, "/v1/wait", {"ids": [tid]}),
                 Call(self.jobd.post, "/v1/gather", {"ids": [tid]})]
        self.assertHeld(*calls)
        self.open_gate()
        self.assertEqual(calls[0].answer().json["state"], "succeeded")
        self.assertEqual(calls[1].answer().json["result"], 5)
        for c in calls[2:]:
            self.assertEqual(c.answer().status, 200)

    def commits(self):
        text = self.jobd.get("/metrics").body.decode()
        return int(re.search(r"^jobd_commits_total (\d+)$", text, re.M).group(1))

    def test_flushed_task_is_not_held_behind_other_commits(self):
        """A GET reports one task: it waits for the flush of that task's
        state, not for the flush of another client's create."""
        # 30 s: within --memory-horizon, so the task stays in memory.
        tid = self.jobd.create("sleep", {"seconds": 30})["id"]
        self.jobd.wait_state(tid, "running")
        self.close_gate()
        held = self.syncs("wait")
        create = Call(self.jobd.create, "sleep", {"seconds": 30})
        wait_until(lambda: self.syncs("wait") > held, what="a flush of the WAL to start")
        get = Call(self.jobd.get, "/v1/tasks/%d" % tid)
        get.join(jobdtest.DEADLINE)
        self.assertFalse(get.is_alive(), "held while an unrelated create waits for its flush")
        self.assertEqual(get.answer().json["state"], "running")
        # The create that waits for the flush is still reported by no one.
        self.assertHeld(create, Call(self.jobd.get, "/v1/tasks/%d" % (tid + 1)))
        self.open_gate()
        self.assertEqual(create.answer()["id"], tid + 1)


class NormalSyncTest(GateCase):
    SYNC = "normal"

    def test_no_flush_to_wait_for(self):
        self.close_gate()
        t = self.jobd.create("sleep", {"seconds": 0, "result": "x"})
        self.assertEqual(self.jobd.wait_state(t["id"], "succeeded")["result"], "x")
        self.assertEqual(self.syncs("wait"), 0)


class DeleteBeforeCommitTest(unittest.TestCase):
    """A finished task deleted before its end is committed: once both
    commits are made it is gone, even though its end was committed (and
    the task left the scheduler) after the delete was asked for."""

    def test_deleted_before_its_end_is_committed(self):
        j = Jobd(["--log-level", "debug"]).start()
        self.addCleanup(j.cleanup)
        before = j.create("sleep", {"seconds": 0})["id"]
        j.wait_state(before, "succeeded")
        tid = before + 1   # ids are handed out in order
        # Another writer holds the database: jobd's commits wait for it.
        lock = sqlite3.connect(j.db, isolation_level=None)
        self.addCleanup(lock.close)
        lock.execute("BEGIN IMMEDIATE")
        create = Call(j.create, "sleep", {"seconds": 0, "result": 1})
        wait_until(lambda: "task %d: running -> succeeded" % tid in j.logtext(),
                   what="the task to end, uncommitted")
        delete = Call(j.delete, "/v1/tasks/%d" % tid)
        wait_until(lambda: "DELETE /v1/tasks/%d: answer 204 held" % tid in j.logtext(),
                   what="the delete to wait for its commit")
        lock.execute("ROLLBACK")
        self.assertEqual(create.answer()["id"], tid)
        self.assertEqual(delete.answer().status, 204)
        for path in ("/v1/tasks/%d", "/v1/tasks/%d/result"):
            self.assertEqual(j.get(path % tid).status, 404)


class WalTest(unittest.TestCase):
    """SQLite's own checkpoints are off (a commit on the loop must not run
    into one): jobd's writer thread checkpoints, so the WAL stays short."""

    def test_the_wal_is_checkpointed(self):
        j = Jobd().start()
        self.addCleanup(j.cleanup)
        tasks = [{"kind": "sleep", "sleep": {"seconds": 0}}] * 1000
        for _ in range(30):
            r = j.post("/v1/gather", {"tasks": tasks})
            self.assertEqual(r.status, 200, r)
        # 30,000 tasks, each written twice: some 11 MB of WAL unchecked;
        # checkpoints every 1,000 pages (4 MB) keep it near that.
        self.assertLess(os.path.getsize(j.db + "-wal"), 8 << 20)
        self.assertEqual(j.task(30000)["state"], "succeeded")


if __name__ == "__main__":
    jobdtest.main()
