"""Crash and restart: a restart right after a kill -9 is not refused for the
lock that a program the killed jobd was starting still holds for a moment."""
import fcntl
import os
import shutil
import threading
import time
import unittest

import jobdtest
from jobdtest import Jobd, start_again


def stopped(jobd):
    """Stop jobd (SIGTERM), remove its directory; it must exit 0."""
    rc = jobd.stop()
    log = jobd.logtext()
    shutil.rmtree(jobd.dir, ignore_errors=True)
    if rc not in (0, None):
        raise AssertionError("jobd exited %s on SIGTERM:\n%s" % (rc, log[-3000:]))


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
