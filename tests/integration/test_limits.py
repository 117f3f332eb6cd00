"""jobd stays bounded when clients misbehave or ask for a lot at once.

Each test asserts a bounded outcome (a page cut short, a stuck connection
closed), never a speed: the timings that motivated each limit are in the
commit messages."""
import json
import socket
import time
import unittest

import jobdtest

BIG = 900 * 1024            # a sleep result: its task stores it twice (spec and result)
LIST_BUDGET = 4 << 20       # stored JSON one page of a list may carry


class ListPageTest(jobdtest.JobdTestCase):
    def test_big_tasks_page_early(self):
        """A page ends before `limit` once its tasks are big, and says where
        to go on; paging still gives every task once, in order."""
        big = "x" * BIG
        ids = [self.jobd.create("sleep", {"seconds": 0, "result": big})["id"]
               for _ in range(5)]
        for tid in ids:
            self.jobd.wait_state(tid, ["succeeded"])
        seen, after, pages = [], 0, 0
        while True:
            r = self.jobd.get("/v1/tasks?limit=1000&after_id=%d" % after)
            self.assertEqual(r.status, 200, r)
            self.assertLess(len(r.body), LIST_BUDGET + 64 * 1024)
            page = r.json
            pages += 1
            self.assertTrue(page["tasks"])
            seen += [t["id"] for t in page["tasks"]]
            for t in page["tasks"]:
                self.assertEqual(t["result"], big)
            if page["next_after_id"] is None:
                break
            self.assertEqual(page["next_after_id"], seen[-1])
            after = page["next_after_id"]
        self.assertEqual(seen, ids)
        self.assertGreater(pages, 1)

    def test_small_tasks_fill_the_page(self):
        """Small tasks still fill a page up to `limit`."""
        ids = [self.jobd.create("sleep", {"seconds": 0})["id"] for _ in range(3)]
        r = self.jobd.get("/v1/tasks?limit=2&after_id=%d" % (ids[0] - 1))
        self.assertEqual([t["id"] for t in r.json["tasks"]], ids[:2])
        self.assertEqual(r.json["next_after_id"], ids[1])


class RequestDeadlineTest(jobdtest.JobdTestCase):
    """A request must arrive whole within --request-timeout: a client that
    trickles it a byte at a time (which resets MHD's idle timer each time)
    is closed all the same."""
    JOBD_ARGS = ("--request-timeout", "2")

    def trickle(self, head, filler):
        """Send head, then a byte of filler every 0.25 s until jobd closes
        the connection; the seconds that took, or None if it never did."""
        s = socket.create_connection(("127.0.0.1", self.jobd.port))
        s.settimeout(0.25)
        t0 = time.monotonic()
        try:
            s.sendall(head)
            while time.monotonic() - t0 < jobdtest.DEADLINE:
                try:
                    if s.recv(4096) == b"":
                        return time.monotonic() - t0
                except socket.timeout:
                    pass
                s.send(filler)
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        finally:
            s.close()

    def test_headers_trickled(self):
        took = self.trickle(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", b"a")
        self.assertIsNotNone(took, "a request trickling its headers was never closed")

    def test_body_trickled(self):
        head = (b"POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        took = self.trickle(head, b" ")
        self.assertIsNotNone(took, "a request trickling its body was never closed")

    def test_waiting_is_not_cut(self):
        """The deadline is the request's arrival: a client parked longer
        than it on a task gets its answer."""
        tid = self.jobd.create("sleep", {"seconds": 4, "result": 1})["id"]
        r = self.jobd.get("/v1/tasks/%d/result?timeout=60" % tid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["result"], 1)

    def test_keep_alive_after_an_answer(self):
        """Each request on a kept-alive connection has its own deadline."""
        c = self.jobd.conn()
        try:
            socks = set()
            for _ in range(3):
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
                socks.add(id(c.sock))
                time.sleep(1.2)
            self.assertEqual(len(socks), 1, "the connection was not kept")
        finally:
            c.close()


if __name__ == "__main__":
    jobdtest.main()
