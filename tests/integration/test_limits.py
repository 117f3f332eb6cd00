"""jobd stays bounded when clients misbehave or ask for a lot at once.

Each test asserts a bounded outcome (a page cut short, a stuck connection
closed), never a speed: the timings that motivated each limit are in the
commit messages."""
import json
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


if __name__ == "__main__":
    jobdtest.main()
