"""Crash consistency under load: kill -9 at random moments loses nothing told.

Client threads drive jobd with a seeded random mix (creates of sleep and exec
tasks, cancel, GET, result, wait, gather, list, delete) and record every fact
an answer reported, once that answer was fully received.  At a random moment,
requests in flight, jobd gets SIGKILL; a new jobd starts on the same database
and every recorded fact is checked against it (API.md, "Durability"; README,
"Durability"):
- an id answered 201 (or created inline by wait/gather) exists, unless a
  delete of it was sent; a 204 delete means 404 for good;
- a task once reported in a final state keeps it, result and error alike;
- no answer reports a task in a state earlier than one told before its
  request was sent (running never goes back to pending, not even over a
  restart; a deleted task stays gone);
  an exec task reported running ends at the restart (failed, "interrupted");
- ids are never reused: creates after a restart get ids above every id seen;
- at most once: each run of the marking exec program appends a line to a file
  named after its task; no task ever has two, and none that has one is
  pending after a restart.
Rounds run on the same database, so later rounds check earlier facts again.
No check depends on timing.  $JOBD_CRASH_SEED replays a seed (printed on
failure); $JOBD_CRASH_ROUNDS overrides ROUNDS.

LockTest: the restart right after a kill -9 must not be refused for the lock
that a program the killed jobd was starting still holds for a moment."""
import collections
import fcntl
import http.client
import os
import random
import re
import shutil
import signal
import threading
import time
import unittest

import jobdtest
from jobdtest import Jobd, list_all, start_again, wait_until

ROUNDS = int(os.environ.get("JOBD_CRASH_ROUNDS", "20"))
CLIENTS = 4                # client threads per round
LOAD = (0.3, 1.5)          # seconds of load before the kill, drawn per round
RECENT = 40                # requests pick ids among the last RECENT created

DONE = ("succeeded", "failed", "cancelled")
RANK = {"pending": 0, "running": 1, "succeeded": 2, "failed": 2, "cancelled": 2}
GONE = 3                   # rank of a task whose delete was answered 204
# Members of a task object that may change while it is not done.
CHANGING = ("state", "started_at", "finished_at", "result", "error", "cancelling")


class Facts:
    """What answers told, with the checks that each new answer must pass.

    Every fact gets a sequence number; a request notes the number before it
    is sent, and its answer is checked only against facts recorded by then
    (an answer to a request sent earlier may well report an older state)."""

    def __init__(self, marks_dir):
        self.lock = threading.Lock()
        self.seq = 0
        self.marks_dir = marks_dir
        self.kind = {}          # id -> "sleep" | "true" | "mark"
        self.fixed = {}         # id -> members that never change (first object seen)
        self.final = {}         # id -> members of its final state told so far
        self.ranks = {}         # id -> [(seq, rank)], rank increasing
        self.delete_sent = set()
        self.deleted = set()    # answered 204
        self.created = []       # ids in the order their creation was told
        self.max_id = 0
        self.floor = 0          # the highest id told before the last kill
        self.violations = []
        self.count = collections.Counter()   # facts by where, for the log

    # -- recording -------------------------------------------------------
    def now(self):
        with self.lock:
            return self.seq

    def fail(self, msg):
        with self.lock:
            self.violations.append(msg)

    def _rank_at(self, tid, seq):
        best = -1
        for s, r in self.ranks.get(tid, ()):
            if s <= seq:
                best = r
        return best

    def _raise_rank(self, tid, rank):
        self.seq += 1
        hist = self.ranks.setdefault(tid, [])
        if not hist or hist[-1][1] < rank:
            hist.append((self.seq, rank))

    def _see_id(self, tid):
        self.max_id = max(self.max_id, tid)

    def created_ids(self, ids, kinds, where):
        """ids answered as created (201, or inline by wait/gather)."""
        with self.lock:
            for tid, kind in zip(ids, kinds):
                if tid in self.kind:
                    self.violations.append("%s: id %d created again (reused)" % (where, tid))
                    continue
                if tid <= self.floor:
                    self.violations.append("%s: new id %d, but %d was told before the last kill"
                                           % (where, tid, self.floor))
                self.kind[tid] = kind
                self.created.append(tid)
                self._see_id(tid)
                self._raise_rank(tid, 0)

    def task(self, obj, sent, where):
        """A task object in an answer to a request sent at seq sent."""
        with self.lock:
            self._task(obj, sent, where)

    def _task(self, obj, sent, where):
        tid = obj["id"]
        self.count[re.sub(r"round \d+ ", "", where) + ": " + obj["state"]] += 1
        self._see_id(tid)
        state = obj["state"]
        if state not in RANK:
            self.violations.append("%s: task %d in unknown state %r" % (where, tid, state))
            return
        before = self._rank_at(tid, sent)
        if before == GONE:
            self.violations.append("%s: task %d answered after its delete was: %r"
                                   % (where, tid, obj))
        elif RANK[state] < before:
            self.violations.append("%s: task %d reported %s after a state of rank %d"
                                   % (where, tid, state, before))
        fixed = {k: v for k, v in obj.items() if k not in CHANGING}
        if tid not in self.fixed:
            self.fixed[tid] = fixed
        elif self.fixed[tid] != fixed:
            self.violations.append("%s: task %d changed: %r, was %r"
                                   % (where, tid, fixed, self.fixed[tid]))
        if state in DONE:
            self._final(tid, {k: obj.get(k) for k in CHANGING}, where)
            self._plausible_end(obj, where)
        if obj.get("started_at") is None and state not in ("pending", "cancelled"):
            self.violations.append("%s: task %d %s without started_at" % (where, tid, state))
        self._raise_rank(tid, RANK[state])

    def _final(self, tid, members, where):
        known = self.final.setdefault(tid, {})
        for k, v in members.items():
            if k in known and known[k] != v:
                self.violations.append("%s: task %d final %s is %r, was told %r"
                                       % (where, tid, k, v, known[k]))
            else:
                known[k] = v

    def _plausible_end(self, obj, where):
        """The ends each kind of task here can have (no task has a timeout)."""
        tid, state, err = obj["id"], obj["state"], obj.get("error") or {}
        kind = self.kind.get(tid)
        etype = err.get("type")
        ok = True
        if state == "cancelled":
            ok = etype == "cancelled"
        elif kind == "sleep":
            ok = state == "succeeded" and obj["result"] == obj["spec"].get("result")
        elif kind in ("true", "mark") and state == "failed" and etype == "interrupted":
            ok = True
        elif kind == "true":
            ok = state == "succeeded" and obj["result"]["exit_code"] == 0
        elif kind == "mark":
            ok = (state == "failed" and etype == "exit_status" and err.get("exit_code") == 3
                  and err.get("stdout") == "x\n")
        if not ok:
            self.violations.append("%s: task %d (%s) ended so: %r" % (where, tid, kind, obj))

    def end_told(self, tid, members, sent, where):
        """A final state told without the whole object (gather's lists)."""
        with self.lock:
            self._see_id(tid)
            if self._rank_at(tid, sent) == GONE:
                self.violations.append("%s: task %d answered after its delete" % (where, tid))
            if members.get("state") not in DONE:
                self.violations.append("%s: task %d told done in state %r"
                                       % (where, tid, members.get("state")))
            self._final(tid, members, where)
            self._raise_rank(tid, 2)

    def done_told(self, tid, sent, where):
        """wait's "done": final, which state not said."""
        with self.lock:
            if self._rank_at(tid, sent) == GONE:
                self.violations.append("%s: task %d answered after its delete" % (where, tid))
            self._raise_rank(tid, 2)

    def pending_told(self, tid, sent, where):
        """wait's "pending": not done when answered."""
        with self.lock:
            before = self._rank_at(tid, sent)
            if before >= 2:
                self.violations.append("%s: task %d not done, but told done (rank %d) before"
                                       % (where, tid, before))

    def not_found(self, ids, where):
        """A 404 for one of ids (we sent only ids answered as created)."""
        with self.lock:
            if not any(tid in self.delete_sent for tid in ids):
                self.violations.append("%s: 404 for %r, none of which a delete was sent for"
                                       % (where, ids))

    def deleting(self, tid):
        with self.lock:
            self.delete_sent.add(tid)

    def gone(self, tid):
        with self.lock:
            self.deleted.add(tid)
            self._raise_rank(tid, GONE)

    # -- choosing --------------------------------------------------------
    def recent(self, rng, n=1):
        with self.lock:
            pool = self.created[-RECENT:]
        if not pool:
            return []
        return [rng.choice(pool) for _ in range(n)]

    def recent_done(self, rng):
        with self.lock:
            pool = [t for t in self.created[-RECENT:]
                    if self.ranks[t][-1][1] == 2 and t not in self.delete_sent]
        return rng.choice(pool) if pool else None


class Client(threading.Thread):
    """One client: a seeded random mix of requests until told to stop."""

    OPS = (("create_sleep", 5), ("create_true", 1), ("create_mark", 2), ("cancel", 2),
           ("get", 3), ("result", 3), ("wait", 2), ("gather", 2), ("inline", 1),
           ("delete", 2), ("list", 1))

    def __init__(self, jobd, facts, seed, stop):
        super().__init__(daemon=True)
        self.jobd, self.facts, self.stop = jobd, facts, stop
        self.rng = random.Random(seed)
        self.error = None
        self.names = [n for n, w in self.OPS for _ in range(w)]

    def run(self):
        try:
            while not self.stop.is_set():
                op = self.rng.choice(self.names)
                try:
                    getattr(self, op)()
                except (OSError, http.client.HTTPException):
                    # jobd killed under the request, or gone: no answer, no
                    # fact.  Refused connects until the round ends.
                    if not self.stop.is_set():
                        time.sleep(0.005)
        except Exception as e:  # a broken answer: reported by the test
            self.error = e

    # -- helpers ---------------------------------------------------------
    def unexpected(self, where, r):
        self.facts.fail("%s: unexpected answer %r" % (where, r))

    def spec(self, kind):
        rng = self.rng
        if kind == "sleep":
            secs = 0 if rng.random() < 0.3 else round(rng.uniform(0, 0.2), 3)
            return {"kind": "sleep", "sleep": {"seconds": secs,
                                               "result": rng.choice([rng.randrange(100), "r", None])}}
        if kind == "true":
            return {"kind": "exec", "exec": {"argv": ["/bin/true"]}}
        cmd = 'echo "$PPID" >> "%s/ran.$JOBD_TASK_ID"; echo x; exit 3' % self.facts.marks_dir
        return {"kind": "exec", "exec": {"argv": ["/bin/sh", "-c", cmd]}}

    def create(self, kind):
        sent = self.facts.now()
        r = self.jobd.post("/v1/tasks", self.spec(kind))
        if r.status != 201:
            return self.unexpected("create", r)
        t = r.json
        if r.headers.get("location") != "/v1/tasks/%d" % t["id"]:
            self.facts.fail("create: Location %r for %d" % (r.headers.get("location"), t["id"]))
        self.facts.created_ids([t["id"]], [kind], "create")
        self.facts.task(t, sent, "create")

    def create_sleep(self):
        self.create("sleep")

    def create_true(self):
        self.create("true")

    def create_mark(self):
        self.create("mark")

    def timeout(self):
        return self.rng.choice([0, 0.01, round(self.rng.uniform(0, 0.1), 3)])

    # -- one task ----------------------------------------------------------
    def get(self):
        for tid in self.facts.recent(self.rng):
            sent = self.facts.now()
            r = self.jobd.get("/v1/tasks/%d" % tid)
            if r.status == 200:
                self.facts.task(r.json, sent, "GET")
            elif r.status == 404:
                self.facts.not_found([tid], "GET")
            else:
                self.unexpected("GET", r)

    def cancel(self):
        for tid in self.facts.recent(self.rng):
            sent = self.facts.now()
            r = self.jobd.post("/v1/tasks/%d/cancel" % tid)
            if r.status == 200:
                if r.json["state"] != "cancelled":
                    self.facts.fail("cancel: 200 with %r" % r)
                self.facts.task(r.json, sent, "cancel 200")
            elif r.status == 409:
                if r.json["task"]["state"] not in DONE:
                    self.facts.fail("cancel: 409 with %r" % r)
                self.facts.task(r.json["task"], sent, "cancel 409")
            elif r.status == 404:
                self.facts.not_found([tid], "cancel")
            else:
                self.unexpected("cancel", r)

    def result(self):
        for tid in self.facts.recent(self.rng):
            cancel = self.rng.choice(["true", "false"])
            sent = self.facts.now()
            r = self.jobd.get("/v1/tasks/%d/result?timeout=%s&cancel=%s"
                              % (tid, self.timeout(), cancel))
            where = "result cancel=%s %d" % (cancel, r.status)
            if r.status == 200:
                if r.json["state"] not in DONE:
                    self.facts.fail("result: 200 with %r" % r)
                self.facts.task(r.json, sent, where)
            elif r.status == 504:
                t = r.json["task"]
                if cancel == "true" and t["state"] != "cancelled":
                    self.facts.fail("result: 504 (cancel) with %r" % r)
                self.facts.task(t, sent, where)
            elif r.status == 404:
                self.facts.not_found([tid], "result")
            else:
                self.unexpected("result", r)

    def delete(self):
        tid = self.facts.recent_done(self.rng)
        if tid is None:
            return
        self.facts.deleting(tid)
        sent = self.facts.now()
        r = self.jobd.delete("/v1/tasks/%d" % tid)
        if r.status == 204:
            self.facts.gone(tid)
        elif r.status == 409:
            self.facts.fail("delete: 409 for a task told done: %r" % r)
            self.facts.task(r.json["task"], sent, "delete 409")
        elif r.status != 404:   # another client's delete came first
            self.unexpected("delete", r)

    # -- several ---------------------------------------------------------
    def several(self, inline):
        """The ids (None when inline) and the body of a wait or gather over
        a few recent tasks or new inline ones; None when there are none."""
        if inline is not None:
            return None, {"tasks": [self.spec(k) for k in inline]}
        ids = self.facts.recent(self.rng, self.rng.randint(1, 4))
        return (ids, {"ids": ids}) if ids else None

    def wait(self, inline=None):
        picked = self.several(inline)
        if picked is None:
            return
        ids, body = picked
        body["timeout"] = self.timeout()
        body["return_when"] = self.rng.choice(["FIRST_COMPLETED", "FIRST_EXCEPTION",
                                               "ALL_COMPLETED"])
        sent = self.facts.now()
        r = self.jobd.post("/v1/wait", body)
        if r.status == 404 and ids:
            return self.facts.not_found(ids, "wait")
        if r.status != 200:
            return self.unexpected("wait", r)
        a = r.json
        if inline is not None:
            self.facts.created_ids(a["ids"], inline, "wait inline")
        for tid in a["done"]:
            self.facts.done_told(tid, sent, "wait")
        for tid in a["pending"]:
            self.facts.pending_told(tid, sent, "wait")

    def gather(self, inline=None):
        picked = self.several(inline)
        if picked is None:
            return
        ids, body = picked
        rx = self.rng.random() < 0.5
        body.update({"timeout": self.timeout(), "return_exceptions": rx,
                     "cancel": self.rng.random() < 0.5})
        sent = self.facts.now()
        r = self.jobd.post("/v1/gather", body)
        if r.status == 404 and ids:
            return self.facts.not_found(ids, "gather")
        if r.status not in (200, 424, 504):
            return self.unexpected("gather", r)
        a = r.json
        if inline is not None:
            self.facts.created_ids(a["ids"], inline, "gather inline")
            ids = a["ids"]
        where = "gather %d" % r.status
        if r.status == 200:
            for tid, state, res in zip(ids, a["states"], a["results"]):
                told = {"state": state}
                if state == "succeeded":
                    told["result"] = res
                elif rx:
                    told["error"] = res
                else:
                    self.facts.fail("gather: 200 with %s and no return_exceptions: %r"
                                    % (state, r))
                self.facts.end_told(tid, told, sent, where)
        elif r.status == 424:
            self.facts.task(a["task"], sent, where)
        else:
            for t in a["tasks"]:
                self.facts.task(t, sent, where)

    def inline(self):
        kinds = [self.rng.choice(["sleep", "sleep", "true", "mark"])
                 for _ in range(self.rng.randint(1, 3))]
        (self.wait if self.rng.random() < 0.5 else self.gather)(kinds)

    def list(self):
        ids = self.facts.recent(self.rng)
        if not ids:
            return
        sent = self.facts.now()
        r = self.jobd.get("/v1/tasks?limit=20&after_id=%d" % max(0, ids[0] - 10))
        if r.status != 200:
            return self.unexpected("list", r)
        for t in r.json["tasks"]:
            self.facts.task(t, sent, "list")


def child_state(pid):
    """What the kernel says of our child pid, without reaping it."""
    try:
        w = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return "no such child (reaped by someone else)"
    if w is None:
        return "running"
    return "ended: si_code %d, si_status %d" % (w.si_code, w.si_status)


def stopped(jobd):
    """Stop jobd (SIGTERM), remove its directory; it must exit 0."""
    rc = jobd.stop()
    log = jobd.logtext()
    shutil.rmtree(jobd.dir, ignore_errors=True)
    if rc not in (0, None):
        raise AssertionError("jobd exited %s on SIGTERM:\n%s" % (rc, log[-3000:]))


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.seed = int(os.environ.get("JOBD_CRASH_SEED") or random.randrange(1 << 32))
        self.jobd = Jobd().start()
        self.dir = self.jobd.dir
        self.marks = os.path.join(self.dir, "marks")
        os.mkdir(self.marks)
        self.facts = Facts(self.marks)

    def tearDown(self):
        stopped(self.jobd)

    def check(self, what):
        v = self.facts.violations
        if v:
            self.fail("%s (JOBD_CRASH_SEED=%d): %d violation(s):\n  %s\njobd log:\n%s"
                      % (what, self.seed, len(v), "\n  ".join(v[:20]),
                         self.jobd.logtext()[-3000:]))

    def marks_now(self):
        """task id -> the lines its marking runs wrote (one per run)."""
        out = {}
        for name in os.listdir(self.marks):
            with open(os.path.join(self.marks, name)) as f:
                out[int(name.split(".")[1])] = f.read().split()
        return out

    def test_kill9_under_load_loses_nothing_told(self):
        rng = random.Random(self.seed)
        print("# JOBD_CRASH_SEED=%d" % self.seed, flush=True)
        for rnd in range(ROUNDS):
            stop = threading.Event()
            clients = [Client(self.jobd, self.facts, "%d-%d-%d" % (self.seed, rnd, i), stop)
                       for i in range(CLIENTS)]
            for c in clients:
                c.start()
            time.sleep(rng.uniform(*LOAD))
            before = child_state(self.jobd.proc.pid)
            rc = self.jobd.kill9()
            # Died of our kill, not of anything before it (ASan included).
            # The whole log of this run: what it said after our last look.
            self.assertEqual(rc, -signal.SIGKILL, "round %d, seed %d: jobd exited %s (just "
                             "before the kill: %s):\n%s" % (rnd, self.seed, rc, before,
                                                          self.jobd.logtext()[-6000:]))
            stop.set()
            for c in clients:
                c.join(jobdtest.DEADLINE)
                self.assertFalse(c.is_alive(), "a client hung after the kill")
                if c.error is not None:
                    raise AssertionError("seed %d: a client failed" % self.seed) from c.error
            self.check("round %d, before the kill" % rnd)
            self.facts.floor = self.facts.max_id
            self.jobd = start_again(self.dir)
            self.after_restart("round %d" % rnd)
        self.settle()

    def after_restart(self, where):
        f = self.facts
        # Marks read before the list: a task the new jobd starts is committed
        # running before its program runs, so pending + a mark is an old run.
        marks = self.marks_now()
        sent = f.now()
        tasks = {t["id"]: t for t in list_all(self.jobd)}
        for t in tasks.values():
            f.task(t, sent, where + " after restart: list")
        for tid in f.kind:
            if tid in tasks:
                if tid in f.deleted:
                    f.fail("%s: task %d is back after its 204 delete" % (where, tid))
                continue
            if tid not in f.delete_sent:
                f.fail("%s: task %d answered as created is gone" % (where, tid))
            elif tid in f.deleted:
                r = self.jobd.get("/v1/tasks/%d" % tid)
                if r.status != 404:
                    f.fail("%s: deleted task %d answers %r" % (where, tid, r))
        for tid, t in tasks.items():
            if t["state"] == "pending" and marks.get(tid):
                f.fail("%s: task %d pending, but its program ran: %r" % (where, tid, marks[tid]))
            if f.kind.get(tid) in ("true", "mark") and f._rank_at(tid, sent) == 1 \
                    and t["state"] not in DONE:
                # A list shows what is committed, maybe not yet the end the
                # restart gave it; its own GET waits for that.
                now = f.now()
                r = self.jobd.get("/v1/tasks/%d" % tid)
                self.assertEqual(r.status, 200, r)
                f.task(r.json, now, where + " after restart: GET")
                if r.json["state"] not in DONE:
                    f.fail("%s: exec task %d was told running, now %r" % (where, tid, r.json))
        for tid, lines in marks.items():
            if len(lines) > 1:
                f.fail("%s: task %d ran %d times: %r" % (where, tid, len(lines), lines))
        # Ids: above everything told before the kill (Facts.floor).
        r = self.jobd.post("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 0}})
        self.assertEqual(r.status, 201, r)
        f.created_ids([r.json["id"]], ["sleep"], where + " create")
        f.task(r.json, f.now(), where + " create")
        self.check(where + ", after the restart")

    def settle(self):
        """Everything ends; then each marking run that ended by itself ran once."""
        wait_until(lambda: not [t for t in list_all(self.jobd)
                                if t["state"] not in DONE],
                   what="every task to end")
        f = self.facts
        sent = f.now()
        tasks = {t["id"]: t for t in list_all(self.jobd)}
        marks = self.marks_now()
        for tid, t in tasks.items():
            f.task(t, sent, "at the end")
            err = t.get("error") or {}
            n = len(marks.get(tid, ()))
            if f.kind.get(tid) == "mark" and err.get("type") == "exit_status" and n != 1:
                f.fail("task %d exited 3 after %d run(s) of its program" % (tid, n))
            if n > 1:
                f.fail("task %d ran %d times" % (tid, n))
        self.check("at the end")
        f.count["interrupted at a restart"] = sum(
            (t.get("error") or {}).get("type") == "interrupted" for t in tasks.values())
        print("# facts: " + ", ".join("%s %d" % kv for kv in sorted(f.count.items())), flush=True)


class LockTest(unittest.TestCase):
    """One jobd per database, but a restart right after a kill -9 starts: a
    program the killed jobd was starting holds its lock (a copy of its
    descriptors) for a few ms more, until the child closes them before its
    exec.  Here the test holds the lock for that moment itself."""

    def setUp(self):
        self.jobd = Jobd().start()
        self.dir = self.jobd.dir

    def tearDown(self):
        stopped(self.jobd)

    def test_second_jobd_on_a_database_is_refused(self):
        r = jobdtest.run_jobd(["--listen", "127.0.0.1:0", "--db", self.jobd.db, "--no-auth"])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("another jobd is using it", r.stderr)
        self.assertEqual(self.jobd.get("/healthz").status, 200)

    def test_restart_waits_for_a_lock_let_go_soon(self):
        self.jobd.kill9()
        fd = os.open(self.jobd.db, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            started = {}

            def start():
                try:
                    started["j"] = start_again(self.dir)
                except RuntimeError as e:   # refused: reported below
                    started["error"] = e
            t = threading.Thread(target=start)
            t.start()
            time.sleep(0.2)     # jobd tries meanwhile, or soon after: either way
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        t.join(jobdtest.DEADLINE)
        self.assertIn("j", started, "jobd did not start once the lock was let go: %r"
                      % started.get("error"))
        self.jobd = started["j"]
        self.assertEqual(self.jobd.get("/healthz").status, 200)


if __name__ == "__main__":
    jobdtest.main()
