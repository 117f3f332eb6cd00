"""POST /v1/gather (asyncio.gather)."""
import json
import time

import jobdtest
from jobdtest import JobdTestCase, raw_connect, read_response, wait_until


class GatherTest(JobdTestCase):
    def sleep(self, seconds, result=None, **extra):
        return self.jobd.create("sleep", {"seconds": seconds, "result": result}, **extra)["id"]

    def failing(self):
        return self.sleep(30, timeout=0.2)

    def cancel(self, *ids):
        for tid in ids:
            self.jobd.post("/v1/tasks/%d/cancel" % tid)

    def still_running(self, tid):
        t = self.jobd.task(tid)
        self.assertEqual(t["state"], "running", t)
        self.assertNotIn("cancelling", t)

    def gather(self, body, status=200):
        r = self.jobd.post("/v1/gather", body)
        self.assertEqual(r.status, status, (body, r))
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"))
        return r.json

    def test_results_in_order(self):
        a, b, c = self.sleep(0.3, "A"), self.sleep(0, "B"), self.sleep(0.1, {"c": [3]})
        g = self.gather({"ids": [a, b, c]})
        self.assertEqual(g, {"results": ["A", "B", {"c": [3]}],
                             "states": ["succeeded"] * 3})
        g = self.gather({"ids": [c, a, b]})
        self.assertEqual(g["results"], [{"c": [3]}, "A", "B"])

    def test_duplicates_twice(self):
        a, b = self.sleep(0.2, "A"), self.sleep(0, "B")
        g = self.gather({"ids": [b, a, b, b]})
        self.assertEqual(g, {"results": ["B", "A", "B", "B"], "states": ["succeeded"] * 4})

    def test_results_any_json(self):
        values = [None, False, 0, 2.5, "s", [], {}, [None, {"k": "v"}]]
        ids = [self.sleep(0, v) for v in values]
        g = self.gather({"ids": ids, "return_exceptions": False, "timeout": None, "cancel": True})
        self.assertEqual(g["results"], values)
        self.assertEqual(g["states"], ["succeeded"] * len(values))

    def test_empty_ids(self):
        self.assertEqual(self.gather({"ids": []}), {"results": [], "states": []})
        self.assertEqual(self.gather({"ids": [], "return_exceptions": True, "timeout": 0}),
                         {"results": [], "states": []})

    def test_unknown_id(self):
        a = self.sleep(0)
        for ids in ([999999999], [a, 999999999], [9223372036854775807]):
            self.assertError(self.jobd.post("/v1/gather", {"ids": ids}), 404, "not_found")
            self.assertError(self.jobd.post("/v1/gather", {"ids": ids, "return_exceptions": True}),
                             404, "not_found")

    def test_return_exceptions_true(self):
        ok = self.sleep(0.3, "fine")
        f = self.failing()
        c = self.sleep(30)
        self.jobd.wait_state(c, "running")
        self.cancel(c)
        g = self.gather({"ids": [ok, f, c, ok], "return_exceptions": True})
        self.assertEqual(g["states"], ["succeeded", "failed", "cancelled", "succeeded"])
        self.assertEqual(g["results"][0], "fine")
        self.assertEqual(g["results"][3], "fine")
        self.assertEqual(g["results"][1], self.jobd.task(f)["error"])
        self.assertEqual(g["results"][1]["type"], "timeout")
        self.assertEqual(g["results"][2], self.jobd.task(c)["error"])
        self.assertEqual(g["results"][2]["type"], "cancelled")

    def test_return_exceptions_true_waits_for_all(self):
        f = self.failing()
        slow = self.sleep(1.0, "slow")
        g = self.gather({"ids": [f, slow], "return_exceptions": True})
        self.assertEqual(g["states"], ["failed", "succeeded"])
        self.assertEqual(g["results"][1], "slow")

    def test_return_exceptions_false_failed(self):
        long = self.sleep(30)
        try:
            f = self.failing()
            for body in ({"ids": [long, f]}, {"ids": [long, f], "return_exceptions": False}):
                r = self.jobd.post("/v1/gather", body)
                b = self.assertError(r, 424, "task_failed")
                self.assertEqual(b["task"]["id"], f)
                self.assertEqual(b["task"]["state"], "failed")
                self.assertEqual(b["task"]["error"]["type"], "timeout")
                self.assertEqual(b["task"], self.jobd.task(f))
                # The other tasks go on running.
                self.still_running(long)
        finally:
            self.cancel(long)

    def test_return_exceptions_false_cancelled(self):
        ok, c = self.sleep(0.2, 1), self.sleep(30)
        self.jobd.wait_state(c, "running")
        self.cancel(c)
        r = self.jobd.post("/v1/gather", {"ids": [ok, c]})
        b = self.assertError(r, 424, "task_failed")
        self.assertEqual(b["task"]["id"], c)
        self.assertEqual(b["task"]["state"], "cancelled")

    def test_return_exceptions_false_cancel_meanwhile(self):
        long, victim = self.sleep(30), self.sleep(30)
        try:
            self.jobd.wait_state(victim, "running")
            import concurrent.futures
            with concurrent.futures.ThreadPoolExecutor(1) as ex:
                fut = ex.submit(self.jobd.post, "/v1/gather", {"ids": [long, victim]})
                time.sleep(0.3)
                self.cancel(victim)
                r = fut.result(jobdtest.DEADLINE)
            b = self.assertError(r, 424, "task_failed")
            self.assertEqual(b["task"]["id"], victim)
            self.assertEqual(b["task"]["state"], "cancelled")
            self.still_running(long)
        finally:
            self.cancel(long)

    def test_first_finished_is_reported(self):
        early = self.failing()
        self.jobd.wait_state(early, "failed")
        late = self.failing()
        self.jobd.wait_state(late, "failed")
        self.assertLessEqual(jobdtest.parse_ts(self.jobd.task(early)["finished_at"]),
                             jobdtest.parse_ts(self.jobd.task(late)["finished_at"]))
        r = self.jobd.post("/v1/gather", {"ids": [late, early]})
        b = self.assertError(r, 424, "task_failed")
        self.assertEqual(b["task"]["id"], early)

    def test_success_before_failure_still_424(self):
        ok, f = self.sleep(0, "ok"), self.failing()
        r = self.jobd.post("/v1/gather", {"ids": [ok, f]})
        b = self.assertError(r, 424, "task_failed")
        self.assertEqual(b["task"]["id"], f)

    def test_timeout_cancels(self):
        ok, long1, long2 = self.sleep(0, "ok"), self.sleep(30), self.sleep(30)
        self.jobd.wait_state(ok, "succeeded")
        t0 = time.monotonic()
        r = self.jobd.post("/v1/gather", {"ids": [long1, ok, long2], "timeout": 0.3})
        self.assertGreaterEqual(time.monotonic() - t0, 0.3 - 0.01)
        b = self.assertError(r, 504, "timeout")
        tasks = b["tasks"]
        self.assertEqual([t["id"] for t in tasks], [long1, ok, long2])
        self.assertEqual([t["state"] for t in tasks], ["cancelled", "succeeded", "cancelled"])
        for t in tasks:
            self.assertNotIn("cancelling", t)
            self.assertEqual(t, self.jobd.task(t["id"]))
        self.assertEqual(tasks[0]["error"]["type"], "cancelled")
        self.assertEqual(tasks[1]["result"], "ok")

    def test_timeout_cancel_explicit_and_return_exceptions(self):
        long = self.sleep(30)
        r = self.jobd.post("/v1/gather", {"ids": [long], "timeout": 0.2, "cancel": True,
                                          "return_exceptions": True})
        b = self.assertError(r, 504, "timeout")
        self.assertEqual(b["tasks"][0]["state"], "cancelled")
        self.assertEqual(self.jobd.task(long)["state"], "cancelled")

    def test_timeout_zero(self):
        long = self.sleep(30)
        self.jobd.wait_state(long, "running")
        b = self.assertError(self.jobd.post("/v1/gather", {"ids": [long], "timeout": 0}),
                             504, "timeout")
        self.assertEqual(b["tasks"][0]["state"], "cancelled")

    def test_timeout_no_cancel(self):
        long, ok = self.sleep(30), self.sleep(0, "ok")
        try:
            self.jobd.wait_state(ok, "succeeded")
            r = self.jobd.post("/v1/gather", {"ids": [ok, long], "timeout": 0.3, "cancel": False})
            b = self.assertError(r, 504, "timeout")
            tasks = b["tasks"]
            self.assertEqual([t["id"] for t in tasks], [ok, long])
            self.assertEqual([t["state"] for t in tasks], ["succeeded", "running"])
            self.assertNotIn("cancelling", tasks[1])
            self.still_running(long)
        finally:
            self.cancel(long)

    def test_inline_200(self):
        body = {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0.2, "result": 1}},
                          {"kind": "sleep", "sleep": {"seconds": 0, "result": 2}}]}
        g = self.gather(body)
        self.assertEqual(set(g), {"ids", "results", "states"})
        ids = g["ids"]
        self.assertEqual(len(ids), 2)
        self.assertLess(ids[0], ids[1])
        self.assertEqual(g["results"], [1, 2])
        self.assertEqual(g["states"], ["succeeded", "succeeded"])
        self.assertEqual([self.jobd.task(i)["result"] for i in ids], [1, 2])

    def test_inline_return_exceptions(self):
        body = {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0, "result": 1}},
                          {"kind": "sleep", "timeout": 0.1, "sleep": {"seconds": 30}}],
                "return_exceptions": True}
        g = self.gather(body)
        self.assertEqual(len(g["ids"]), 2)
        self.assertEqual(g["states"], ["succeeded", "failed"])
        self.assertEqual(g["results"][1]["type"], "timeout")

    def test_inline_424(self):
        body = {"tasks": [{"kind": "sleep", "sleep": {"seconds": 30}},
                          {"kind": "sleep", "timeout": 0.2, "sleep": {"seconds": 30}}]}
        r = self.jobd.post("/v1/gather", body)
        b = self.assertError(r, 424, "task_failed")
        ids = b.get("ids")
        self.assertIsInstance(ids, list, b)
        try:
            self.assertEqual(len(ids), 2)
            self.assertEqual(b["task"]["id"], ids[1])
            self.assertEqual(b["task"]["state"], "failed")
            self.still_running(ids[0])
        finally:
            self.cancel(*ids)

    def test_inline_504(self):
        body = {"tasks": [{"kind": "sleep", "sleep": {"seconds": 0, "result": "ok"}},
                          {"kind": "sleep", "sleep": {"seconds": 30}}], "timeout": 0.5}
        r = self.jobd.post("/v1/gather", body)
        b = self.assertError(r, 504, "timeout")
        ids = b.get("ids")
        self.assertIsInstance(ids, list, b)
        self.assertEqual(len(ids), 2)
        self.assertEqual([t["id"] for t in b["tasks"]], ids)
        self.assertEqual([t["state"] for t in b["tasks"]], ["succeeded", "cancelled"])
        self.assertEqual(self.jobd.task(ids[1])["state"], "cancelled")

    def test_inline_504_no_cancel(self):
        body = {"tasks": [{"kind": "sleep", "sleep": {"seconds": 30}}], "timeout": 0.2,
                "cancel": False}
        r = self.jobd.post("/v1/gather", body)
        b = self.assertError(r, 504, "timeout")
        ids = b["ids"]
        try:
            self.assertEqual(b["tasks"][0]["state"], "running")
            self.still_running(ids[0])
        finally:
            self.cancel(*ids)

    def park(self, body):
        """Send a gather on a socket of its own; return the socket once it is parked."""
        data = json.dumps(body).encode()
        s = raw_connect(self.jobd.port, (
            "POST /v1/gather HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
            % (self.jobd.port, len(data))).encode() + data)
        self.addCleanup(s.close)
        wait_until(lambda: "jobd_waiting_clients 1" in
                   self.jobd.get("/metrics").body.decode().splitlines(), what="the gather to park")
        return s

    def test_deleted_meanwhile_keeps_its_result(self):
        # A gather gives each task's outcome as it was committed when the
        # task ended: a delete afterwards does not take it back.
        done, long = self.sleep(0, {"kept": [1]}), self.sleep(30)
        expect = self.jobd.wait_state(done, "succeeded")
        s = self.park({"ids": [done, long, done], "return_exceptions": True})
        self.assertEqual(self.jobd.delete("/v1/tasks/%d" % done).status, 204)
        self.cancel(long)
        r = read_response(s, "POST")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["states"], ["succeeded", "cancelled", "succeeded"])
        self.assertEqual(r.json["results"][0], expect["result"])
        self.assertEqual(r.json["results"][1]["type"], "cancelled")
        self.assertEqual(r.json["results"][2], expect["result"])

    def test_deleted_meanwhile_504_shows_the_task(self):
        done, long = self.sleep(0, "ok"), self.sleep(30)
        expect = self.jobd.wait_state(done, "succeeded")
        s = self.park({"ids": [done, long], "timeout": 2})
        # Deleted before the timeout (or, on a very slow machine, after the
        # answer): either way the 504 shows the task as it ended.
        self.assertEqual(self.jobd.delete("/v1/tasks/%d" % done).status, 204)
        r = read_response(s, "POST")
        b = self.assertError(r, 504, "timeout")
        self.assertEqual(b["tasks"][0], expect)
        self.assertEqual(b["tasks"][1]["state"], "cancelled")

    def test_disconnect_does_not_cancel(self):
        a, b = self.sleep(1.5, "a"), self.sleep(1.5, "b")
        data = ('{"ids": [%d, %d], "timeout": 0.5}' % (a, b)).encode()
        head = ("POST /v1/gather HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (self.jobd.port, len(data))).encode()
        s = raw_connect(self.jobd.port, head + data)
        time.sleep(0.1)
        s.close()
        g = self.gather({"ids": [a, b]})
        self.assertEqual(g, {"results": ["a", "b"], "states": ["succeeded", "succeeded"]})

    def test_wait_disconnect_does_not_cancel(self):
        a = self.sleep(1.0, "a")
        data = ('{"ids": [%d], "timeout": 0.3}' % a).encode()
        head = ("POST /v1/wait HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (self.jobd.port, len(data))).encode()
        s = raw_connect(self.jobd.port, head + data)
        time.sleep(0.1)
        s.close()
        g = self.gather({"ids": [a]})
        self.assertEqual(g, {"results": ["a"], "states": ["succeeded"]})


if __name__ == "__main__":
    jobdtest.main()
