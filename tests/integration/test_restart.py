"""Crash (kill -9), restart and shutdown: nothing acknowledged is lost."""
import concurrent.futures
import http.client
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

import jobdtest
from jobdtest import (DEADLINE, Jobd, parse_ts, list_all, raw_connect, raw_get, read_response,
                      start_again)

DONE = ("succeeded", "failed", "cancelled")


class RestartCase(unittest.TestCase):
    """One jobd on a temporary database, restarted by the test; every jobd
    it started is stopped at the end."""
    args = ()

    def setUp(self):
        self.jobd = Jobd(list(self.args)).start()
        self.dir = self.jobd.dir
        self.procs = [self.jobd]

    def tearDown(self):
        for j in self.procs:
            j.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RestartTest(RestartCase):

    def restart(self, sig="kill9"):
        """Stop the current jobd (kill -9 by default) and start a new one on its db."""
        old = self.jobd
        rc = old.kill9() if sig == "kill9" else old.stop()
        self.jobd = start_again(old.dir)
        self.procs.append(self.jobd)
        return rc

    def sleep(self, seconds, result=None, **extra):
        return self.jobd.create("sleep", {"seconds": seconds, "result": result}, **extra)

    def test_kill9_keeps_finished_and_sleep_deadline(self):
        j = self.jobd
        ok = [self.sleep(0, r, name="n%d" % i)["id"]
              for i, r in enumerate([1, "two", {"three": [3]}, None])]
        failed = self.sleep(30, timeout=0.1)["id"]
        cancelled = self.sleep(30)["id"]
        j.wait_state(cancelled, "running")
        self.assertEqual(j.post("/v1/tasks/%d/cancel" % cancelled).status, 200)
        for tid in ok:
            j.wait_state(tid, "succeeded")
        j.wait_state(failed, "failed")
        deleted = self.sleep(0)["id"]
        j.wait_state(deleted, "succeeded")
        self.assertEqual(j.delete("/v1/tasks/%d" % deleted).status, 204)
        finished = {tid: j.task(tid) for tid in ok + [failed, cancelled]}

        long = self.sleep(6, "late")["id"]
        running = j.wait_state(long, "running")
        started = parse_ts(running["started_at"])
        # Let it run for about 2 s, then crash.
        time.sleep(max(0.0, started + 2.0 - time.time()))
        self.restart()
        restarted = time.time()
        j = self.jobd

        for tid, before in finished.items():
            self.assertEqual(j.task(tid), before)
        self.assertError(j.get("/v1/tasks/%d" % deleted), 404)
        t = j.task(long)
        self.assertIn(t["state"], ("running", "succeeded"), t)
        self.assertEqual(t["started_at"], running["started_at"])
        self.assertEqual(t["created_at"], running["created_at"])
        done = j.wait_state(long, DONE)
        self.assertEqual(done["state"], "succeeded", done)
        self.assertEqual(done["result"], "late")
        self.assertEqual(done["started_at"], running["started_at"])
        took = parse_ts(done["finished_at"]) - parse_ts(done["started_at"])
        self.assertGreaterEqual(took, 6.0 - jobdtest.TS_SLACK)
        # Its original deadline, not 6 s counted again from the restart: a
        # fresh sleep would end at restarted + 6 > started + 8.  Coarse bound.
        self.assertLess(took, max(6.0, restarted - started) + 1.5,
                        "sleep restarted from scratch? took %.3f s" % took)
        ids = [t["id"] for t in list_all(j)]
        self.assertEqual(sorted(ids), sorted(ok + [failed, cancelled, long]))

    def test_finished_task_reads_the_same_from_disk(self):
        """A finished task read back from the database (after a restart,
        so from disk, not from memory) is answered byte for byte as before:
        its JSON members are sent as stored when they hold no real number,
        parsed and written again when they do."""
        results = [None, 7, -12345678901234, "plain", "quote \" back \\ slash \n\t\u0001\u001f",
                   "nul \u0000 inside", "\u00e9t\u00e9 \u2603 \U0001f600 \u2028",
                   {"a": [1, {"b": "c"}], "e": "E.e", "z": None, "t": True, "f": False},
                   ["1.5 in a string", "x" * 70000], 0.1, [1, 2.5e-300, -0.0, 1e300],
                   {"n": 0.30000000000000004}]
        ids = []
        for i, res in enumerate(results):
            t = self.sleep(0, res, name="r%d \u00e9" % i)
            ids.append(t["id"])
        failed = self.jobd.create("exec", {"argv": ["/bin/sh", "-c", "echo 'o\"1.5'; exit 3"]})
        ids.append(failed["id"])
        for tid in ids:
            self.jobd.wait_state(tid, DONE)
        before = {tid: self.jobd.get("/v1/tasks/%d" % tid).body for tid in ids}
        self.restart(sig="term")
        for i, tid in enumerate(ids):
            r = self.jobd.get("/v1/tasks/%d" % tid)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, before[tid], "task %d" % tid)
            r = self.jobd.get("/v1/tasks/%d/result" % tid)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, before[tid], "task %d, its result" % tid)
            if i < 9:   # the others hold reals: answered with 15 digits
                self.assertEqual(r.json["result"], results[i])
        # A list page is the same objects, written the same way.
        r = self.jobd.get("/v1/tasks?limit=1000")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([t["id"] for t in r.json["tasks"]], ids)
        want = b'{"tasks":[' + b",".join(before[tid].rstrip(b"\n") for tid in ids) + \
            b'],"next_after_id":null}\n'
        self.assertEqual(r.body, want)
        r = self.jobd.get("/v1/tasks?limit=2")
        self.assertEqual(r.body, b'{"tasks":[' + b",".join(before[tid].rstrip(b"\n")
                                                           for tid in ids[:2]) +
                         b'],"next_after_id":%d}\n' % ids[1])

    def test_sleep_that_ended_while_down_ends_after_restart(self):
        """A running sleep whose end passed while jobd was down is over when
        it is resumed: it ends at once, with its result and its original
        start, and no earlier than its end."""
        t = self.sleep(0.5, "over")
        running = self.jobd.wait_state(t["id"], "running")
        self.jobd.kill9()
        time.sleep(1.0)
        self.jobd = start_again(self.dir)
        self.procs.append(self.jobd)
        done = self.jobd.wait_state(t["id"], DONE)
        self.assertEqual((done["state"], done["result"]), ("succeeded", "over"), done)
        self.assertEqual(done["started_at"], running["started_at"])
        self.assertGreaterEqual(parse_ts(done["finished_at"]) - parse_ts(done["started_at"]),
                                0.5 - jobdtest.TS_SLACK)

    def test_own_timeout_survives_restart(self):
        t = self.sleep(30, timeout=3)
        running = self.jobd.wait_state(t["id"], "running")
        started = parse_ts(running["started_at"])
        time.sleep(max(0.0, started + 1.0 - time.time()))
        self.restart()
        restarted = time.time()
        done = self.jobd.wait_state(t["id"], DONE, timeout=40)
        self.assertEqual(done["state"], "failed", done)
        self.assertEqual(done["error"]["type"], "timeout")
        self.assertEqual(done["timeout"], 3)
        took = parse_ts(done["finished_at"]) - parse_ts(done["started_at"])
        self.assertGreaterEqual(took, 3.0 - jobdtest.TS_SLACK)
        # Counted from when it started, not again from the restart.
        self.assertLess(took, max(3.0, restarted - started) + 1.5,
                        "deadline re-armed from the restart? took %.3f s" % took)

    def test_deadline_passed_while_down(self):
        """Both a task's timeout and its sleep's end passed while jobd was
        down: it ends as it would have with jobd up, by whichever came
        first (API.md: the timeout counts from its start; a running sleep
        keeps its deadline).  finished_at is when the restarted jobd ended
        it, not the moment that passed (README, Durability)."""
        timed_out = self.sleep(2, "late", timeout=1)
        on_time = self.sleep(1, "in time", timeout=2)
        never = self.sleep(300, timeout=1)
        # A sleep starts in the commit that creates it: its 201 shows it running.
        started = [parse_ts(t["started_at"]) for t in (timed_out, on_time, never)]
        self.jobd.kill9()
        # Down until both moments of every task have passed.
        time.sleep(max(0.0, max(started) + 2.5 - time.time()))
        restarted = time.time()
        self.jobd = start_again(self.dir)
        self.procs.append(self.jobd)
        got = {t["id"]: self.jobd.wait_state(t["id"], DONE) for t in (timed_out, on_time, never)}
        t = got[timed_out["id"]]
        self.assertEqual((t["state"], t["result"]), ("failed", None), t)
        self.assertEqual(t["error"]["type"], "timeout", t)
        t = got[on_time["id"]]
        self.assertEqual((t["state"], t["result"], t["error"]), ("succeeded", "in time", None), t)
        t = got[never["id"]]
        self.assertEqual(t["error"]["type"], "timeout", t)
        for t in got.values():
            self.assertGreaterEqual(parse_ts(t["finished_at"]), restarted - 0.5, t)

    def assertError(self, r, status, code=None):
        self.assertEqual(r.status, status, r)
        if code:
            self.assertEqual(r.json["error"]["code"], code)

    def test_ids_continue_after_restart(self):
        ids = [self.sleep(0)["id"] for _ in range(3)]
        self.jobd.wait_state(ids[-1], "succeeded")
        # The newest task deleted just before the crash: its id is still used up.
        self.assertEqual(self.jobd.delete("/v1/tasks/%d" % ids[-1]).status, 204)
        self.restart()
        new = self.sleep(0)["id"]
        self.assertGreater(new, ids[-1])
        self.jobd.wait_state(new, "succeeded")
        self.assertEqual(self.jobd.delete("/v1/tasks/%d" % new).status, 204)
        self.restart("term")
        newer = self.sleep(0)["id"]
        self.assertGreater(newer, new)
        self.assertError(self.jobd.get("/v1/tasks/%d" % ids[-1]), 404, "not_found")
        self.assertError(self.jobd.get("/v1/tasks/%d" % new), 404, "not_found")

    def test_acknowledged_creates_survive_kill9(self):
        specs = {}
        for i in range(20):
            body = {"kind": "sleep", "name": "t%d" % i,
                    "sleep": {"seconds": 0 if i % 2 else 300, "result": i}}
            r = self.jobd.post("/v1/tasks", body)
            self.assertEqual(r.status, 201, r)
            specs[r.json["id"]] = r.json
        # Concurrent creates too, then kill -9 right after the last 201.
        def make(i):
            r = self.jobd.post("/v1/tasks", {"kind": "sleep", "name": "c%d" % i,
                                             "sleep": {"seconds": 300, "result": i}})
            return r
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            rs = list(ex.map(make, range(40)))
        self.restart()
        for r in rs:
            self.assertEqual(r.status, 201, r)
            specs[r.json["id"]] = r.json
        for tid, t in specs.items():
            got = self.jobd.get("/v1/tasks/%d" % tid)
            self.assertEqual(got.status, 200, (tid, got))
            g = got.json
            for k in ("kind", "name", "spec", "created_at", "timeout"):
                self.assertEqual(g[k], t[k], (tid, k))
        for tid in specs:
            self.jobd.post("/v1/tasks/%d/cancel" % tid)

    def test_inline_created_survive_kill9(self):
        spec = {"kind": "sleep", "sleep": {"seconds": 300, "result": "w"}}
        r = self.jobd.post("/v1/wait", {"tasks": [spec, spec], "timeout": 0})
        self.assertEqual(r.status, 200, r)
        wids = r.json["ids"]
        r = self.jobd.post("/v1/gather", {"tasks": [spec], "timeout": 0, "cancel": False})
        self.assertEqual(r.status, 504, r)
        gids = r.json["ids"]
        self.restart()
        for tid in wids + gids:
            t = self.jobd.task(tid)
            self.assertEqual(t["spec"], {"seconds": 300, "result": "w"})
            self.assertIn(t["state"], ("pending", "running"), t)
            self.jobd.post("/v1/tasks/%d/cancel" % tid)

    def test_acknowledged_changes_survive_kill9(self):
        a = self.sleep(300)["id"]
        b = self.sleep(0, "b")["id"]
        self.jobd.wait_state(a, "running")
        self.jobd.wait_state(b, "succeeded")
        r = self.jobd.post("/v1/tasks/%d/cancel" % a)
        self.assertEqual(r.status, 200, r)
        cancelled = r.json
        r = self.jobd.delete("/v1/tasks/%d" % b)
        self.assertEqual(r.status, 204, r)
        self.restart()
        self.assertEqual(self.jobd.task(a), cancelled)
        self.assertError(self.jobd.get("/v1/tasks/%d" % b), 404, "not_found")

    def test_acknowledged_result_timeout_cancel_survives_kill9(self):
        a = self.sleep(300)["id"]
        self.jobd.wait_state(a, "running")
        r = self.jobd.get("/v1/tasks/%d/result?timeout=0" % a)
        self.assertEqual(r.status, 504, r)
        self.restart()
        t = self.jobd.task(a)
        self.assertEqual(t["state"], "cancelled", t)
        self.assertEqual(t, r.json["task"])

    def test_sigterm_exits_0_and_parked_get_503(self):
        tid = self.sleep(3, "after")["id"]
        self.jobd.wait_state(tid, "running")
        socks = [raw_connect(self.jobd.port, raw_get("/v1/tasks/%d/result" % tid, self.jobd.port))
                 for _ in range(3)]
        # Give jobd time to read and park them (they cannot be answered
        # before the task ends, 3 s from now).
        time.sleep(0.5)
        rc = self.jobd.stop()
        self.assertEqual(rc, 0, self.jobd.logtext()[-3000:])
        for s in socks:
            try:
                r = read_response(s)
            finally:
                s.close()
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json["error"]["code"], "overloaded")
            self.assertTrue(r.json["error"]["message"])
        # After a clean stop the sleep resumes with its deadline and succeeds.
        self.jobd = start_again(self.dir)
        self.procs.append(self.jobd)
        done = self.jobd.wait_state(tid, DONE)
        self.assertEqual(done["state"], "succeeded", done)
        self.assertEqual(done["result"], "after")

    def test_sigterm_with_nothing_running(self):
        t = self.sleep(0)["id"]
        self.jobd.wait_state(t, "succeeded")
        self.assertEqual(self.jobd.stop(), 0)
        self.jobd = start_again(self.dir)
        self.procs.append(self.jobd)
        self.assertEqual(self.jobd.task(t)["state"], "succeeded")


# Forks until a child gets pid argv[1] (root sets ns_last_pid), makes that
# child lead a process group of its own (setpgid, in this session) with one
# more process in it, and lets the leader exit: a group of that number, with
# no leader, that is not jobd's.  Prints the member's pid.
_REUSE_PGID = r"""
import os, signal, sys
want = int(sys.argv[1])
for attempt in range(200):
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(want - 1))
    pid = os.fork()
    if pid == 0:
        os.setpgid(0, 0)
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "300"])
        os._exit(0)
    os.waitpid(pid, 0)
    if pid == want:
        sys.exit(0)
    os.killpg(pid, signal.SIGKILL)
sys.exit(1)
"""


def proc_live(pid):
    """Is pid a process that has not exited (a zombie counts as exited)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def group_members(pgid):
    """Live processes whose process group is pgid."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                out.append(int(name))
    return out


class LeftoverGroupTest(unittest.TestCase):
    """At start, jobd kills the process group an exec task left running in
    an earlier run (jobd(8)), but never a group that is not that task's: one
    from another boot, or whose number was handed out again since."""

    def setUp(self):
        self.jobd = Jobd().start()
        self.dir = self.jobd.dir
        self.procs = [self.jobd]
        self.strays = []

    def tearDown(self):
        for j in self.procs:
            j.stop()
        for pgid in self.strays:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def running_exec(self):
        """An exec task running, jobd killed -9: (task id, its pgid)."""
        tid = self.jobd.create("exec", {"argv": ["sleep", "300"]})["id"]
        self.jobd.wait_state(tid, "running")
        self.jobd.kill9()
        with sqlite3.connect(self.jobd.db) as db:
            (pgid,) = db.execute("SELECT pgid FROM tasks WHERE id = ?", (tid,)).fetchone()
        self.assertGreater(pgid, 0)
        self.strays.append(pgid)
        return tid, pgid

    def restart_expect_interrupted(self, tid):
        self.jobd = start_again(self.dir)
        self.procs.append(self.jobd)
        t = self.jobd.wait_state(tid, DONE)
        self.assertEqual((t["state"], t["error"]["type"]), ("failed", "interrupted"), t)

    def test_leftover_of_this_boot_killed(self):
        tid, pgid = self.running_exec()
        self.assertTrue(group_members(pgid))
        self.restart_expect_interrupted(tid)
        jobdtest.wait_until(lambda: not group_members(pgid), what="the leftover group killed")

    def test_group_of_another_boot_left_alone(self):
        """A reboot, as jobd sees it: the boot id recorded with the pgid is
        not this boot's.  Whatever now has that number is not the task's."""
        tid, pgid = self.running_exec()
        with sqlite3.connect(self.jobd.db) as db:
            db.execute("UPDATE tasks SET boot_id = ? WHERE id = ?",
                       ("00000000-0000-4000-8000-000000000000", tid))
        self.restart_expect_interrupted(tid)
        time.sleep(0.5)   # a kill would have been sent before the task ended
        self.assertTrue(proc_live(pgid), "jobd killed a group of another boot")

    @unittest.skipUnless(os.geteuid() == 0, "needs root to hide the boot id (unshare -m)")
    def test_group_of_unknown_boot_left_alone(self):
        """A jobd that cannot read the boot id cannot tell a reboot: it
        records "" as the boot and, finding "" again, took a pgid of an
        earlier boot for this one's."""
        wrapper = os.path.join(self.dir, "jobd-no-boot-id")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nexec unshare -m sh -c 'mount --bind /dev/null "
                    "/proc/sys/kernel/random/boot_id && exec \"$0\" \"$@\"' %s \"$@\"\n"
                    % jobdtest.JOBD)
        os.chmod(wrapper, 0o755)
        self.jobd.stop()
        real, jobdtest.JOBD = jobdtest.JOBD, wrapper
        try:
            self.jobd = start_again(self.dir)
            self.procs.append(self.jobd)
            tid, pgid = self.running_exec()
            self.restart_expect_interrupted(tid)
        finally:
            jobdtest.JOBD = real
        time.sleep(0.5)
        self.assertTrue(proc_live(pgid), "jobd killed a group of an unknown boot")
        self.assertIn("cannot read the boot id", self.jobd.logtext())

    @unittest.skipUnless(os.access("/proc/sys/kernel/ns_last_pid", os.W_OK),
                         "needs root to choose a pid (ns_last_pid)")
    def test_reused_pgid_of_another_group_left_alone(self):
        """The task's program and its group are gone, and the number has
        been handed out again while jobd was down, to a process that made a
        group of its own in another session and exited, leaving a member
        (a shell's pipeline does that).  The group has no leader, as the
        task's would after its program exited; jobd must not kill it."""
        tid, pgid = self.running_exec()
        os.killpg(pgid, signal.SIGKILL)
        jobdtest.wait_until(lambda: not os.path.exists("/proc/%d" % pgid), what="reaped")
        out = subprocess.run([sys.executable, "-c", _REUSE_PGID, str(pgid)],
                             stdout=subprocess.DEVNULL, timeout=60)
        if out.returncode != 0:
            self.skipTest("pid %d not handed out again" % pgid)
        members = group_members(pgid)
        self.assertTrue(members)
        self.assertNotEqual(os.getsid(members[0]), pgid)
        self.restart_expect_interrupted(tid)
        time.sleep(0.5)
        self.assertEqual(group_members(pgid), members, "jobd killed another session's group")


CLOCK_SHIM = os.path.join(jobdtest.TOP_BUILD, "tests", "shim", "clock_shift.so")


class StoppedExecOverRestartTest(RestartCase):
    """An exec task that ends at a restart without its outcome known still
    carries, in its error, the output captured so far (the contract: cancelled
    and timed-out exec tasks carry it in error too)."""
    args = ("--kill-grace", "600")   # the program ignores SIGTERM: it stays in its stop

    def test_cancelled_while_down_keeps_its_output(self):
        tid = self.jobd.create("exec", {"argv": ["sh", "-c", "trap '' TERM; echo hi; "
                                                 "while :; do sleep 1; done"]})["id"]
        jobdtest.wait_until(lambda: self.jobd.get("/v1/tasks/%d/stdout" % tid).body == b"hi\n",
                            what="the output read")
        c = http.client.HTTPConnection("127.0.0.1", self.jobd.port, timeout=DEADLINE)
        c.request("POST", "/v1/tasks/%d/cancel" % tid)
        # Its stop is committed (with the output) once a GET shows it.
        jobdtest.wait_until(lambda: self.jobd.task(tid).get("cancelling"), what="cancelling")
        self.jobd.kill9()
        c.close()
        self.jobd = start_again(self.dir)
        self.procs.append(self.jobd)
        t = self.jobd.wait_state(tid, DONE)
        self.assertEqual(t["state"], "cancelled", t)
        e = t["error"]
        self.assertEqual(e["type"], "cancelled", e)
        self.assertEqual((e["stdout"], e["stderr"]), ("hi\n", ""), e)
        self.assertEqual((e["exit_code"], e["signal"]), (None, None), e)
        self.assertEqual((e["stdout_truncated"], e["stderr_truncated"]), (False, False), e)

    def test_interrupted_carries_the_output_members(self):
        tid = self.jobd.create("exec", {"argv": ["sleep", "300"]})["id"]
        self.jobd.wait_state(tid, "running")
        self.jobd.kill9()
        self.jobd = start_again(self.dir)
        self.procs.append(self.jobd)
        t = self.jobd.wait_state(tid, DONE)
        self.assertEqual(t["error"]["type"], "interrupted", t)
        for k in ("exit_code", "signal", "stdout", "stderr", "stdout_truncated",
                  "stderr_truncated"):
            self.assertIn(k, t["error"])


@unittest.skipUnless(os.path.exists(CLOCK_SHIM), "tests/shim/clock_shift.so is not built")
class ClockStepTest(unittest.TestCase):
    """jobd's wall clock set back an hour while tasks run (the shim moves
    only this jobd's clock).  A sleep and a timeout count elapsed time while
    jobd runs, as asyncio's do: the step must not add an hour to them."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="jobd-test-")
        self.shift = os.path.join(self.dir, "shift")
        self.set_shift(0)
        # Under ASan the shim comes before its runtime: allowed, as for the
        # other shims (test_storage_full).
        asan = os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
        self.jobd = Jobd(db_dir=self.dir, env={"LD_PRELOAD": CLOCK_SHIM, "ASAN_OPTIONS": asan,
                                               "JOBD_CLOCK_SHIFT": self.shift}).start()

    def tearDown(self):
        self.jobd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def set_shift(self, ms):
        with open(self.shift, "wb") as f:
            f.write(ms.to_bytes(8, sys.byteorder, signed=True))

    def test_clock_set_back_during_sleep_and_timeout(self):
        slept = self.jobd.create("sleep", {"seconds": 2, "result": "s"})
        timed = self.jobd.create("sleep", {"seconds": 300}, timeout=2)
        self.assertEqual(self.jobd.task(slept["id"])["state"], "running")
        self.set_shift(-3600 * 1000)
        t = self.jobd.wait_state(slept["id"], DONE)
        self.assertEqual((t["state"], t["result"]), ("succeeded", "s"), t)
        t = self.jobd.wait_state(timed["id"], DONE)
        self.assertEqual((t["state"], t["error"]["type"]), ("failed", "timeout"), t)
        # Whatever the clock says, a task does not end before it started.
        for tid in (slept["id"], timed["id"]):
            t = self.jobd.task(tid)
            self.assertGreaterEqual(parse_ts(t["finished_at"]), parse_ts(t["started_at"]), t)


if __name__ == "__main__":
    jobdtest.main()
