"""Creating, reading, listing, cancelling and deleting tasks (sleep kind)."""
import concurrent.futures
import time

import jobdtest
from jobdtest import JobdTestCase, parse_ts, list_all

TASK_KEYS = {"id", "kind", "name", "state", "created_at", "started_at",
             "finished_at", "timeout", "spec", "result", "error"}
DONE = ("succeeded", "failed", "cancelled")


class TaskAsserts:
    """Checks of the task object shared by the test classes below."""

    def assertTaskShape(self, t):
        self.assertIsInstance(t, dict)
        keys = set(t)
        # "cancelling" is present only while a running task is being stopped.
        self.assertEqual(keys - {"cancelling"}, TASK_KEYS, t)
        if "cancelling" in t:
            self.assertIs(t["cancelling"], True, t)
            self.assertEqual(t["state"], "running", t)
        self.assertIsInstance(t["id"], int)
        self.assertGreater(t["id"], 0)
        self.assertEqual(t["kind"], "sleep")
        self.assertIn(t["state"], ("pending", "running") + DONE)
        parse_ts(t["created_at"])
        if t["state"] in ("running",) + DONE[:2]:
            self.assertIsNotNone(t["started_at"], t)
        for k in ("started_at", "finished_at"):
            if t[k] is not None:
                parse_ts(t[k])
        if t["state"] in DONE:
            self.assertIsNotNone(t["finished_at"], t)
        else:
            self.assertIsNone(t["finished_at"], t)
        if t["state"] != "succeeded":
            self.assertIsNone(t["result"], t)
        if t["state"] in ("failed", "cancelled"):
            self.assertIsInstance(t["error"], dict, t)
            self.assertIsInstance(t["error"].get("type"), str, t)
            self.assertIsInstance(t["error"].get("message"), str, t)
        else:
            self.assertIsNone(t["error"], t)
        self.assertIsInstance(t["spec"], dict)

    def assertJson(self, r):
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r.headers)
        return r.json


class CreateTest(JobdTestCase, TaskAsserts):
    def test_create_answer(self):
        before = time.time()
        r = self.jobd.post("/v1/tasks", {"kind": "sleep", "name": "my label", "timeout": 30,
                                         "sleep": {"seconds": 0.3, "result": 42}})
        self.assertEqual(r.status, 201, r)
        t = self.assertJson(r)
        self.assertTaskShape(t)
        self.assertEqual(r.headers.get("location"), "/v1/tasks/%d" % t["id"])
        self.assertEqual(t["kind"], "sleep")
        self.assertEqual(t["name"], "my label")
        self.assertIn(t["state"], ("pending", "running"))
        self.assertEqual(t["timeout"], 30)
        self.assertIsInstance(t["timeout"], int)
        self.assertEqual(t["spec"]["seconds"], 0.3)
        self.assertEqual(t["spec"]["result"], 42)
        self.assertIsNone(t["result"])
        self.assertIsNone(t["error"])
        self.assertIsNone(t["finished_at"])
        self.assertNotIn("cancelling", t)
        # created_at is now (same machine; coarse bounds only).
        self.assertLess(abs(parse_ts(t["created_at"]) - before), 60)
        # GET answers the same task; it then succeeds with its result.
        g = self.jobd.get("/v1/tasks/%d" % t["id"])
        self.assertEqual(g.status, 200, g)
        self.assertEqual(self.assertJson(g)["id"], t["id"])
        self.assertEqual(g.json["created_at"], t["created_at"])
        done = self.jobd.wait_state(t["id"], DONE)
        self.assertTaskShape(done)
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"], 42)
        self.assertIsNone(done["error"])
        self.assertEqual(done["name"], "my label")
        self.assertEqual(done["timeout"], 30)
        self.assertEqual(done["created_at"], t["created_at"])
        c, s, f = (parse_ts(done[k]) for k in ("created_at", "started_at", "finished_at"))
        self.assertLessEqual(c, s)
        self.assertLessEqual(s, f)
        # It really slept: timestamps are milliseconds, allow for one of rounding.
        self.assertGreaterEqual(f - s, 0.3 - jobdtest.TS_SLACK)

    def test_defaults(self):
        t = self.jobd.create("sleep", {"seconds": 0})
        self.assertTaskShape(t)
        self.assertIsNone(t["name"])
        self.assertIsNone(t["timeout"])
        done = self.jobd.wait_state(t["id"], DONE)
        self.assertEqual(done["state"], "succeeded")
        self.assertIsNone(done["result"])   # result defaults to null
        self.assertIsNone(done["error"])

    def test_sleep_zero(self):
        t = self.jobd.create("sleep", {"seconds": 0, "result": "zero"})
        done = self.jobd.wait_state(t["id"], DONE)
        self.assertTaskShape(done)
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"], "zero")
        self.assertEqual(done["spec"]["seconds"], 0)
        for k in ("created_at", "started_at", "finished_at"):
            self.assertRegex(done[k], jobdtest.RFC3339_MS)
            self.assertTrue(done[k].endswith("Z"))
        self.assertLessEqual(parse_ts(done["started_at"]), parse_ts(done["finished_at"]))

    def test_result_any_json(self):
        values = [None, True, False, 0, -5, 1.5, 0.1, -2.5e-7, 2 ** 62, -(2 ** 62),
                  "", "text", "h\u00e9llo \u2603 \U0001F600 \"quoted\" \\ \n\t\u0001",
                  [], [1, [2, [3]], None, "x"], {}, {"a": {"b": [1, 2.5, {"c": None}]}, "": True}]
        ids = []
        for v in values:
            t = self.jobd.create("sleep", {"seconds": 0, "result": v})
            self.assertEqual(t["spec"]["result"], v)
            ids.append(t["id"])
        for tid, v in zip(ids, values):
            done = self.jobd.wait_state(tid, DONE)
            self.assertEqual(done["state"], "succeeded", done)
            self.assertEqual(done["result"], v)
            self.assertEqual(type(done["result"]), type(v), done)

    def test_name(self):
        for name in ("", "a", "x" * 256, "\u00e9" * 128, "caf\u00e9 \u2603"):
            r = self.jobd.post("/v1/tasks", {"kind": "sleep", "name": name, "sleep": {"seconds": 0}})
            self.assertEqual(r.status, 201, (name, r))
            self.assertEqual(r.json["name"], name)
            self.assertEqual(self.jobd.task(r.json["id"])["name"], name)

    def test_timeout_echo(self):
        for given in (30, 2.5, 0.001, 0, 1000000000):
            t = self.jobd.create("sleep", {"seconds": 0}, timeout=given)
            self.assertEqual(t["timeout"], given)
            if isinstance(given, int):
                self.assertIsInstance(t["timeout"], int, t)
            self.assertEqual(self.jobd.task(t["id"])["timeout"], given)

    def test_charset_parameter_accepted(self):
        r = self.jobd.post("/v1/tasks", raw=b'{"kind": "sleep", "sleep": {"seconds": 0}}',
                           headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(r.status, 201, r)

    def test_get_unknown_is_404(self):
        r = self.jobd.get("/v1/tasks/999999999")
        self.assertError(r, 404, "not_found")
        r = self.jobd.get("/v1/tasks/9223372036854775807")
        self.assertError(r, 404, "not_found")

    def test_healthz(self):
        r = self.jobd.get("/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.assertJson(r), {"status": "ok"})

    def test_ids_increase(self):
        ids = [self.jobd.create("sleep", {"seconds": 0})["id"] for _ in range(5)]
        self.assertEqual(ids, sorted(set(ids)))

    def test_ids_never_reused_after_delete(self):
        a = self.jobd.create("sleep", {"seconds": 0})["id"]
        self.jobd.wait_state(a, DONE)
        r = self.jobd.delete("/v1/tasks/%d" % a)
        self.assertEqual(r.status, 204, r)
        # a was the newest task: a max(id)+1 allocator would hand it out again.
        b = self.jobd.create("sleep", {"seconds": 0})["id"]
        self.assertGreater(b, a)
        self.jobd.wait_state(b, DONE)
        self.assertEqual(self.jobd.delete("/v1/tasks/%d" % b).status, 204)
        c = self.jobd.create("sleep", {"seconds": 0})["id"]
        self.assertGreater(c, b)


class RunningTest(JobdTestCase, TaskAsserts):
    def test_running_fields(self):
        t = self.jobd.create("sleep", {"seconds": 30})
        try:
            run = self.jobd.wait_state(t["id"], "running")
            self.assertTaskShape(run)
            self.assertIsNotNone(run["started_at"])
            self.assertIsNone(run["finished_at"])
            self.assertIsNone(run["result"])
            self.assertIsNone(run["error"])
            self.assertNotIn("cancelling", run)
            self.assertLessEqual(parse_ts(run["created_at"]), parse_ts(run["started_at"]))
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % t["id"])

    def test_cancel_running(self):
        t = self.jobd.create("sleep", {"seconds": 30, "result": 1}, name="to cancel")
        self.jobd.wait_state(t["id"], "running")
        r = self.jobd.post("/v1/tasks/%d/cancel" % t["id"])
        self.assertEqual(r.status, 200, r)
        c = self.assertJson(r)
        self.assertTaskShape(c)
        self.assertEqual(c["id"], t["id"])
        self.assertEqual(c["state"], "cancelled")
        self.assertNotIn("cancelling", c)
        self.assertEqual(c["error"]["type"], "cancelled")
        self.assertTrue(c["error"]["message"])
        self.assertIsNone(c["result"])
        self.assertIsNotNone(c["started_at"])
        self.assertIsNotNone(c["finished_at"])
        self.assertEqual(c["name"], "to cancel")
        self.assertEqual(self.jobd.task(t["id"]), c)
        # Cancelling again: 409 with the task as it is.
        r = self.jobd.post("/v1/tasks/%d/cancel" % t["id"])
        body = self.assertError(r, 409, "conflict")
        self.assertEqual(body["task"], c)

    def test_cancel_done_is_409(self):
        t = self.jobd.create("sleep", {"seconds": 0, "result": [1]})
        done = self.jobd.wait_state(t["id"], DONE)
        r = self.jobd.post("/v1/tasks/%d/cancel" % t["id"])
        body = self.assertError(r, 409, "conflict")
        self.assertEqual(body["task"], done)
        self.assertEqual(body["task"]["state"], "succeeded")
        self.assertEqual(self.jobd.task(t["id"]), done)

    def test_cancel_unknown_is_404(self):
        self.assertError(self.jobd.post("/v1/tasks/999999999/cancel"), 404, "not_found")

    def test_cancel_ignores_body(self):
        t = self.jobd.create("sleep", {"seconds": 30})
        self.jobd.wait_state(t["id"], "running")
        r = self.jobd.post("/v1/tasks/%d/cancel" % t["id"], raw=b"not json {",
                           headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "cancelled")

    def test_own_timeout(self):
        t = self.jobd.create("sleep", {"seconds": 5, "result": 1}, timeout=0.2)
        self.assertEqual(t["timeout"], 0.2)
        done = self.jobd.wait_state(t["id"], DONE)
        self.assertTaskShape(done)
        self.assertEqual(done["state"], "failed")
        self.assertEqual(done["error"]["type"], "timeout")
        self.assertTrue(done["error"]["message"])
        self.assertIsNone(done["result"])
        self.assertEqual(done["timeout"], 0.2)
        s, f = parse_ts(done["started_at"]), parse_ts(done["finished_at"])
        self.assertGreaterEqual(f - s, 0.2 - jobdtest.TS_SLACK)
        self.assertLess(f - s, 5)

    def test_sleep_never_ends_early(self):
        # "waits S seconds": never less, whatever S.
        secs = [0.05 + i * 0.013 for i in range(40)]
        ids = [self.jobd.create("sleep", {"seconds": s})["id"] for s in secs]
        early = []
        for tid, s in zip(ids, secs):
            t = self.jobd.wait_state(tid, DONE)
            self.assertEqual(t["state"], "succeeded", t)
            took = parse_ts(t["finished_at"]) - parse_ts(t["started_at"])
            if took < s - jobdtest.TS_SLACK:
                early.append((tid, s, round(took, 3)))
        self.assertEqual(early, [], "sleeps that ended early: (id, seconds, took)")

    def test_timeout_never_fires_early(self):
        # The task's own deadline is counted from its start: never sooner.
        tos = [0.05 + i * 0.013 for i in range(40)]
        ids = [self.jobd.create("sleep", {"seconds": 30}, timeout=to)["id"] for to in tos]
        early = []
        for tid, to in zip(ids, tos):
            t = self.jobd.wait_state(tid, DONE)
            self.assertEqual(t["state"], "failed", t)
            took = parse_ts(t["finished_at"]) - parse_ts(t["started_at"])
            if took < to - jobdtest.TS_SLACK:
                early.append((tid, to, round(took, 3)))
        self.assertEqual(early, [], "timeouts that fired early: (id, timeout, took)")

    def test_timeout_longer_than_sleep(self):
        t = self.jobd.create("sleep", {"seconds": 0.1, "result": "ok"}, timeout=20)
        done = self.jobd.wait_state(t["id"], DONE)
        self.assertEqual(done["state"], "succeeded")
        self.assertEqual(done["result"], "ok")

    def test_timeout_zero(self):
        # A deadline of 0 s from the start: the task cannot outlive it.
        t = self.jobd.create("sleep", {"seconds": 5}, timeout=0)
        done = self.jobd.wait_state(t["id"], DONE)
        self.assertEqual(done["state"], "failed")
        self.assertEqual(done["error"]["type"], "timeout")


    def test_many_sleeps_of_0_at_once(self):
        """Sleeps of 0 s from many clients at once end before their creates
        are written (at the batch's cut, or by their timer when the writer
        is busy): with a result, with a timeout of 0, or cancelled right
        after the 201, every one ends once and as its answers said."""
        def one(i):
            if i % 3 == 0:
                t = self.jobd.create("sleep", {"seconds": 0, "result": i})
                r = self.jobd.get("/v1/tasks/%d/result" % t["id"])
                self.assertEqual((r.status, r.json["state"], r.json["result"]),
                                 (200, "succeeded", i))
            elif i % 3 == 1:
                t = self.jobd.create("sleep", {"seconds": 0}, timeout=0)
                done = self.jobd.wait_state(t["id"], DONE)
                # asyncio.wait_for(asyncio.sleep(0), 0): either may come first.
                self.assertIn((done["state"], (done["error"] or {}).get("type")),
                              (("succeeded", None), ("failed", "timeout")))
            else:
                t = self.jobd.create("sleep", {"seconds": 0})
                r = self.jobd.post("/v1/tasks/%d/cancel" % t["id"])
                done = self.jobd.wait_state(t["id"], DONE)
                want = "cancelled" if r.status == 200 else "succeeded"
                self.assertIn(r.status, (200, 409), r)
                self.assertEqual(done["state"], want)
            self.assertIn(t["state"], ("pending", "running"))
            return t["id"]

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(one, range(240)))
        self.assertEqual(len(set(ids)), 240)


class DeleteTest(JobdTestCase, TaskAsserts):
    def test_delete_done(self):
        for spec, extra in (({"seconds": 0}, {}), ({"seconds": 5}, {"timeout": 0.1})):
            t = self.jobd.create("sleep", spec, **extra)
            self.jobd.wait_state(t["id"], DONE)
            r = self.jobd.delete("/v1/tasks/%d" % t["id"])
            self.assertEqual(r.status, 204, r)
            self.assertEqual(r.body, b"")
            self.assertError(self.jobd.get("/v1/tasks/%d" % t["id"]), 404, "not_found")
            self.assertError(self.jobd.delete("/v1/tasks/%d" % t["id"]), 404, "not_found")
            self.assertError(self.jobd.post("/v1/tasks/%d/cancel" % t["id"]), 404, "not_found")
            self.assertError(self.jobd.get("/v1/tasks/%d/result" % t["id"]), 404, "not_found")
            self.assertNotIn(t["id"], [x["id"] for x in list_all(self.jobd)])

    def test_delete_cancelled(self):
        t = self.jobd.create("sleep", {"seconds": 30})
        self.jobd.wait_state(t["id"], "running")
        self.assertEqual(self.jobd.post("/v1/tasks/%d/cancel" % t["id"]).status, 200)
        self.assertEqual(self.jobd.delete("/v1/tasks/%d" % t["id"]).status, 204)
        self.assertError(self.jobd.get("/v1/tasks/%d" % t["id"]), 404, "not_found")

    def test_delete_active_is_409(self):
        t = self.jobd.create("sleep", {"seconds": 30})
        try:
            self.jobd.wait_state(t["id"], "running")
            r = self.jobd.delete("/v1/tasks/%d" % t["id"])
            body = self.assertError(r, 409, "conflict")
            self.assertEqual(body["task"]["id"], t["id"])
            self.assertEqual(body["task"]["state"], "running")
            self.assertTaskShape(body["task"])
            self.assertEqual(self.jobd.task(t["id"])["state"], "running")
        finally:
            self.jobd.post("/v1/tasks/%d/cancel" % t["id"])

    def test_delete_unknown_is_404(self):
        self.assertError(self.jobd.delete("/v1/tasks/999999999"), 404, "not_found")


class ListTest(JobdTestCase, TaskAsserts):
    """A fresh daemon holding 7 succeeded, 2 running, 1 cancelled, 1 failed task."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        j = cls.jobd
        cls.ok = [j.create("sleep", {"seconds": 0, "result": i})["id"] for i in range(4)]
        cls.running = [j.create("sleep", {"seconds": 60})["id"]]
        cls.ok += [j.create("sleep", {"seconds": 0, "result": i})["id"] for i in range(3)]
        cls.cancelled = [j.create("sleep", {"seconds": 60})["id"]]
        cls.failed = [j.create("sleep", {"seconds": 60}, timeout=0.05)["id"]]
        cls.running.append(j.create("sleep", {"seconds": 60})["id"])
        for tid in cls.ok:
            j.wait_state(tid, "succeeded")
        for tid in cls.running + cls.cancelled:
            j.wait_state(tid, "running")
        r = j.post("/v1/tasks/%d/cancel" % cls.cancelled[0])
        assert r.status == 200, r
        j.wait_state(cls.failed[0], "failed")
        cls.all = sorted(cls.ok + cls.running + cls.cancelled + cls.failed)

    def page(self, query):
        r = self.jobd.get("/v1/tasks?" + query if query else "/v1/tasks")
        self.assertEqual(r.status, 200, (query, r))
        body = self.assertJson(r)
        self.assertEqual(set(body), {"tasks", "next_after_id"}, body)
        for t in body["tasks"]:
            self.assertTaskShape(t)
        return [t["id"] for t in body["tasks"]], body["next_after_id"]

    def test_list_all_ascending(self):
        ids, nxt = self.page("")
        self.assertEqual(ids, self.all)
        self.assertIsNone(nxt)

    def test_list_objects_match_get(self):
        r = self.jobd.get("/v1/tasks")
        for t in r.json["tasks"]:
            self.assertEqual(t, self.jobd.task(t["id"]))

    def test_paging(self):
        for limit in (1, 2, 3, 4, 5, 10, 11):
            got, after, pages = [], None, 0
            while True:
                q = "limit=%d" % limit + ("" if after is None else "&after_id=%d" % after)
                ids, nxt = self.page(q)
                pages += 1
                self.assertLessEqual(len(ids), limit)
                got += ids
                if nxt is None:
                    break
                # next_after_id is where this page stopped.
                self.assertEqual(len(ids), limit, q)
                self.assertEqual(nxt, ids[-1], q)
                after = nxt
                self.assertLess(pages, 100)
            self.assertEqual(got, self.all, limit)
            # null exactly when no more tasks match: no empty trailing page.
            self.assertEqual(pages, -(-len(self.all) // limit), limit)

    def test_limit_exactly_the_count(self):
        ids, nxt = self.page("limit=%d" % len(self.all))
        self.assertEqual(ids, self.all)
        self.assertIsNone(nxt)
        ids, nxt = self.page("limit=%d" % (len(self.all) - 1))
        self.assertEqual(ids, self.all[:-1])
        self.assertEqual(nxt, self.all[-2])

    def test_after_id(self):
        ids, nxt = self.page("after_id=%d" % self.all[3])
        self.assertEqual(ids, self.all[4:])
        self.assertIsNone(nxt)
        # after_id need not be an existing task.
        ids, _ = self.page("after_id=%d" % (self.all[-1] + 1000))
        self.assertEqual(ids, [])
        ids, _ = self.page("after_id=9223372036854775807")
        self.assertEqual(ids, [])
        ids, _ = self.page("after_id=1")
        self.assertEqual(ids, [i for i in self.all if i > 1])

    def test_filter_state(self):
        for state, want in (("succeeded", self.ok), ("running", self.running),
                            ("cancelled", self.cancelled), ("failed", self.failed),
                            ("pending", [])):
            ids, nxt = self.page("state=" + state)
            self.assertEqual(ids, sorted(want), state)
            self.assertIsNone(nxt)
            r = self.jobd.get("/v1/tasks?state=" + state)
            for t in r.json["tasks"]:
                self.assertEqual(t["state"], state)

    def test_filter_kind(self):
        ids, _ = self.page("kind=sleep")
        self.assertEqual(ids, self.all)
        for other in ("exec", "http"):
            ids, nxt = self.page("kind=" + other)
            self.assertEqual(ids, [])
            self.assertIsNone(nxt)

    def test_filter_state_and_kind(self):
        for state, want in (("succeeded", self.ok), ("running", self.running),
                            ("cancelled", self.cancelled), ("failed", self.failed),
                            ("pending", [])):
            ids, nxt = self.page("state=%s&kind=sleep" % state)
            self.assertEqual(ids, sorted(want), state)
            self.assertIsNone(nxt)
            for other in ("exec", "http"):
                self.assertEqual(self.page("state=%s&kind=%s" % (state, other)), ([], None))

    def test_filter_combined_with_paging(self):
        ids, nxt = self.page("state=succeeded&kind=sleep&limit=3")
        self.assertEqual(ids, sorted(self.ok)[:3])
        self.assertEqual(nxt, sorted(self.ok)[2])
        ids, nxt = self.page("state=succeeded&limit=3&after_id=%d" % nxt)
        self.assertEqual(ids, sorted(self.ok)[3:6])
        self.assertEqual(nxt, sorted(self.ok)[5])
        ids, nxt = self.page("state=succeeded&limit=3&after_id=%d" % nxt)
        self.assertEqual(ids, sorted(self.ok)[6:])
        self.assertIsNone(nxt)
        # A page boundary falling on tasks that do not match.
        ids, nxt = self.page("state=running&limit=1")
        self.assertEqual(ids, self.running[:1])
        self.assertEqual(nxt, self.running[0])
        ids, nxt = self.page("state=running&limit=1&after_id=%d" % nxt)
        self.assertEqual(ids, self.running[1:])
        self.assertIsNone(nxt)

    def test_limit_bounds(self):
        self.assertEqual(self.page("limit=1")[0], self.all[:1])
        self.assertEqual(self.page("limit=1000")[0], self.all)
        for bad in ("0", "1001", "-1", "abc", "", "1.5", "99999999999999999999"):
            r = self.jobd.get("/v1/tasks?limit=" + bad)
            self.assertError(r, 400, "bad_request")

    def test_unknown_state_or_kind(self):
        for q in ("state=done", "state=RUNNING", "state=", "kind=nope", "kind="):
            self.assertError(self.jobd.get("/v1/tasks?" + q), 400, "bad_request")

    @classmethod
    def tearDownClass(cls):
        for tid in cls.running:
            cls.jobd.post("/v1/tasks/%d/cancel" % tid)
        super().tearDownClass()


class DefaultLimitTest(JobdTestCase, TaskAsserts):
    def test_default_limit_is_100(self):
        ids = [self.jobd.create("sleep", {"seconds": 0})["id"] for _ in range(105)]
        r = self.jobd.get("/v1/tasks")
        self.assertEqual(r.status, 200, r)
        got = [t["id"] for t in r.json["tasks"]]
        self.assertEqual(got, ids[:100])
        self.assertEqual(r.json["next_after_id"], ids[99])
        r = self.jobd.get("/v1/tasks?after_id=%d" % ids[99])
        self.assertEqual([t["id"] for t in r.json["tasks"]], ids[100:])
        self.assertIsNone(r.json["next_after_id"])
        r = self.jobd.get("/v1/tasks?limit=1000")
        self.assertEqual([t["id"] for t in r.json["tasks"]], ids)
        self.assertIsNone(r.json["next_after_id"])


if __name__ == "__main__":
    jobdtest.main()
