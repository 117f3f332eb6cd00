"""GET /metrics: Prometheus text format, checked by the real parser of the
Prometheus Python client and by strict rules of the format, and its numbers
follow what the tests do."""
import re
import sys

import jobdtest
from jobdtest import JobdTestCase, wait_until

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (\S+)$')


def strict_check(text):
    """The exposition format's rules that parsers forgive; returns problems."""
    problems = []
    typed = {}
    seen_samples = set()
    if not text.endswith("\n"):
        problems.append("no final newline")
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not NAME.match(parts[2]):
                problems.append("line %d: bad comment %r" % (n, line))
                continue
            if parts[1] == "TYPE":
                if parts[2] in typed:
                    problems.append("line %d: second TYPE for %s" % (n, parts[2]))
                if parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    problems.append("line %d: unknown type %r" % (n, parts[3]))
                if any(s == parts[2] or s.startswith(parts[2] + "_") for s in seen_samples):
                    problems.append("line %d: TYPE after samples of %s" % (n, parts[2]))
                typed[parts[2]] = parts[3]
            continue
        if line.startswith("#") or not line:
            problems.append("line %d: unexpected %r" % (n, line))
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append("line %d: not a sample %r" % (n, line))
            continue
        name, value = m.group(1), m.group(5)
        try:
            float(value)
        except ValueError:
            problems.append("line %d: bad value %r" % (n, value))
        base = re.sub(r"_(bucket|sum|count|total)$", "", name)
        if name not in typed and base not in typed:
            problems.append("line %d: %s has no TYPE" % (n, name))
        if line.rsplit(" ", 1)[0] in seen_samples:
            problems.append("line %d: duplicate series %s" % (n, line))
        seen_samples.add(line.rsplit(" ", 1)[0])
    return problems


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(fams, family, sample_name, **labels):
    for s in fams[family].samples:
        if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((family, sample_name, labels))


class MetricsTest(JobdTestCase):

    def scrape(self):
        r = self.jobd.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"), r.headers)
        text = r.body.decode("utf-8")
        self.assertEqual(strict_check(text), [], text)
        return text, families(text)

    def test_format_is_valid(self):
        text, fams = self.scrape()
        for name in ("jobd_tasks", "jobd_waiting_clients", "jobd_http_requests",
                     "jobd_http_request_duration_seconds", "jobd_tasks_created",
                     "jobd_tasks_finished", "jobd_task_run_duration_seconds"):
            self.assertIn(name, fams, sorted(fams))
        self.assertEqual(fams["jobd_http_request_duration_seconds"].type, "histogram")
        self.assertEqual(fams["jobd_task_run_duration_seconds"].type, "histogram")
        self.assertEqual(fams["jobd_tasks_created"].type, "counter")
        self.assertEqual(fams["jobd_tasks"].type, "gauge")

    def test_histograms_are_cumulative(self):
        self.jobd.create("sleep", {"seconds": 0})
        text, fams = self.scrape()
        for fam in ("jobd_http_request_duration_seconds", "jobd_task_run_duration_seconds"):
            series = {}
            for s in fams[fam].samples:
                key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
                series.setdefault(key, {})[(s.name, s.labels.get("le"))] = s.value
            for key, sm in series.items():
                buckets = sorted(((float(le), v) for (n, le), v in sm.items()
                                  if n.endswith("_bucket")), key=lambda x: x[0])
                counts = [v for _, v in buckets]
                self.assertEqual(counts, sorted(counts), (fam, key))
                self.assertEqual(buckets[-1][0], float("inf"), (fam, key))
                self.assertEqual(buckets[-1][1], sm[(fam + "_count", None)], (fam, key))

    def test_counts_follow_the_tasks(self):
        _, before = self.scrape()
        created0 = value(before, "jobd_tasks_created", "jobd_tasks_created_total", kind="sleep")
        ok0 = value(before, "jobd_tasks_finished", "jobd_tasks_finished_total",
                    kind="sleep", state="succeeded")
        cancelled0 = value(before, "jobd_tasks_finished", "jobd_tasks_finished_total",
                           kind="sleep", state="cancelled")
        runs0 = value(before, "jobd_task_run_duration_seconds",
                      "jobd_task_run_duration_seconds_count", kind="sleep")
        a = self.jobd.create("sleep", {"seconds": 0})
        b = self.jobd.create("sleep", {"seconds": 600})
        self.jobd.wait_state(a["id"], "succeeded")
        _, mid = self.scrape()
        self.assertEqual(value(mid, "jobd_tasks_created", "jobd_tasks_created_total",
                               kind="sleep"), created0 + 2)
        # Each create was committed (in one or two transactions) before its 201.
        self.assertGreaterEqual(value(mid, "jobd_commits", "jobd_commits_total"),
                                value(before, "jobd_commits", "jobd_commits_total") + 1)
        self.assertGreaterEqual(value(mid, "jobd_committed_task_rows", "jobd_committed_task_rows_total"),
                                value(before, "jobd_committed_task_rows",
                                      "jobd_committed_task_rows_total") + 2)
        # ... and flushed to disk by the WAL's sync thread (--sync full).
        self.assertGreaterEqual(value(mid, "jobd_wal_syncs", "jobd_wal_syncs_total"),
                                value(before, "jobd_wal_syncs", "jobd_wal_syncs_total") + 1)
        self.assertGreaterEqual(value(mid, "jobd_tasks", "jobd_tasks", kind="sleep",
                                      state="running"), 1)
        # A client parked on the long sleep shows as a waiting client.
        conn = jobdtest.raw_connect(self.jobd.port, (
            "GET /v1/tasks/%d/result HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % b["id"]).encode())
        self.addCleanup(conn.close)
        wait_until(lambda: value(self.scrape()[1], "jobd_waiting_clients",
                                 "jobd_waiting_clients") >= 1, what="a waiting client")
        r = self.jobd.post("/v1/tasks/%d/cancel" % b["id"])
        self.assertEqual(r.status, 200, r)
        _, after = self.scrape()
        self.assertEqual(value(after, "jobd_tasks_finished", "jobd_tasks_finished_total",
                               kind="sleep", state="succeeded"), ok0 + 1)
        self.assertEqual(value(after, "jobd_tasks_finished", "jobd_tasks_finished_total",
                               kind="sleep", state="cancelled"), cancelled0 + 1)
        self.assertEqual(value(after, "jobd_task_run_duration_seconds",
                               "jobd_task_run_duration_seconds_count", kind="sleep"), runs0 + 2)

    def test_changes_of_one_turn_share_one_commit(self):
        """Group commit: 50 tasks created by one request (and started) are
        written by one transaction, not by one each."""
        _, before = self.scrape()
        r = self.jobd.post("/v1/wait", {"tasks": [{"kind": "sleep", "sleep": {"seconds": 600}}
                                                  for _ in range(50)], "timeout": 0})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["ids"]), 50)
        _, after = self.scrape()
        commits = (value(after, "jobd_commits", "jobd_commits_total")
                   - value(before, "jobd_commits", "jobd_commits_total"))
        rows = (value(after, "jobd_committed_task_rows", "jobd_committed_task_rows_total")
                - value(before, "jobd_committed_task_rows", "jobd_committed_task_rows_total"))
        self.assertGreaterEqual(rows, 50)
        self.assertGreaterEqual(commits, 1)
        self.assertLessEqual(commits, 3, "%d commits for %d rows" % (commits, rows))
        for tid in r.json["ids"]:
            self.assertEqual(self.jobd.post("/v1/tasks/%d/cancel" % tid).status, 200)

    def test_a_sleep_of_0_is_one_row_in_one_commit(self):
        """A sleep with nothing to wait for ends before the batch that
        creates it is cut: its whole life is one row, and its 201 still
        shows it as it was created."""
        j = jobdtest.Jobd().start()
        self.addCleanup(j.cleanup)

        def counts():
            fams = families(j.get("/metrics").body.decode())
            return (value(fams, "jobd_commits", "jobd_commits_total"),
                    value(fams, "jobd_committed_task_rows", "jobd_committed_task_rows_total"))

        commits0, rows0 = counts()
        t = j.create("sleep", {"seconds": 0, "result": [1, 2]})
        self.assertIn(t["state"], ("pending", "running"))
        r = j.get("/v1/tasks/%d/result" % t["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "succeeded")
        self.assertEqual(r.json["result"], [1, 2])
        self.assertEqual(counts(), (commits0 + 1, rows0 + 1))
        # A sleep with time to wait is started once its create is committed,
        # and its end is a second row.
        t = j.create("sleep", {"seconds": 0.05})
        self.assertEqual(j.wait_state(t["id"], "succeeded")["state"], "succeeded")
        commits, rows = counts()
        self.assertEqual(rows, rows0 + 3)

    def test_requests_are_counted_by_class(self):
        _, before = self.scrape()
        ok0 = value(before, "jobd_http_requests", "jobd_http_requests_total", code="2xx")
        bad0 = value(before, "jobd_http_requests", "jobd_http_requests_total", code="4xx")
        self.assertEqual(self.jobd.get("/v1/tasks/999999").status, 404)
        self.assertEqual(self.jobd.get("/healthz").status, 200)
        _, after = self.scrape()
        # The scrape before counts once it has been answered: +1 for it.
        self.assertEqual(value(after, "jobd_http_requests", "jobd_http_requests_total",
                               code="4xx"), bad0 + 1)
        self.assertEqual(value(after, "jobd_http_requests", "jobd_http_requests_total",
                               code="2xx"), ok0 + 2)

    def test_strict_checker_can_fail(self):
        """The checker itself rejects what Prometheus would."""
        self.assertTrue(strict_check("foo 1\n"))                       # no TYPE
        self.assertTrue(strict_check("# TYPE foo gauge\nfoo{a=b} 1\n"))  # unquoted label
        self.assertTrue(strict_check("# TYPE foo gauge\nfoo one\n"))      # bad value
        self.assertTrue(strict_check("# TYPE foo gauge\nfoo 1\nfoo 2\n"))  # duplicate series
        self.assertEqual(strict_check("# HELP foo x\n# TYPE foo gauge\nfoo{a=\"b\"} 1\n"), [])


if __name__ == "__main__":
    jobdtest.main()
