"""The database file: jobd takes only a database that is its own (new, empty,
or made by a jobd), refuses any other at start and leaves it as it was; and
once the database or its WAL is deleted or renamed under a running jobd, it
stops at its next commit instead of answering for changes kept in a file no
restart will read."""
import http.client
import os
import shutil
import stat
import sqlite3
import tempfile
import unittest

import jobdtest
from jobdtest import Jobd, start_again

APP_ID = 0x6A6F6264   # "jobd": PRAGMA application_id of jobd's databases
SCHEMA_VERSION = 4    # schema/NNN-*.sql files


def make_db(path, *sql):
    """A database made by someone else: sql run in autocommit, then closed."""
    c = sqlite3.connect(path, isolation_level=None)
    try:
        for s in sql:
            c.execute(s)
    finally:
        c.close()


def read_db(path, sql):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def pragma(path, name):
    return read_db(path, "PRAGMA " + name)[0][0]


class DbCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="jobd-dbfile-")
        self.db = os.path.join(self.tmp, "jobd.db")   # the harness's name in db_dir
        self.jobds = []

    def tearDown(self):
        for j in self.jobds:
            j.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, args=()):
        j = start_again(self.tmp, args) if self.jobds else Jobd(args, db_dir=self.tmp).start()
        self.jobds.append(j)
        return j

    def start_refused(self):
        """jobd on self.db must exit at start: its exit code and log."""
        j = Jobd(db_dir=self.tmp)
        try:
            j.start()
        except RuntimeError:
            rc = j.proc.returncode
            j.stop()
            return rc, j.logtext()
        self.jobds.append(j)
        self.fail("jobd started on it:\n" + j.logtext())

    def files(self):
        """Every file in the directory but the log, with its bytes."""
        out = {}
        for name in sorted(os.listdir(self.tmp)):
            if not name.startswith("jobd.log"):
                with open(os.path.join(self.tmp, name), "rb") as f:
                    out[name] = f.read()
        return out

    def assertRefusedUntouched(self, fragment):
        before = self.files()
        rc, log = self.start_refused()
        self.assertEqual(rc, 1, log)
        self.assertIn("not a jobd database", log)
        self.assertIn(fragment, log)
        self.assertEqual(self.files(), before, "the refused database was changed")
        return log


class Foreign(DbCase):
    def test_other_application_tables_refused(self):
        make_db(self.db, "CREATE TABLE notes (body TEXT)", "INSERT INTO notes VALUES ('keep me')")
        self.assertRefusedUntouched("another application's tables")
        self.assertEqual(read_db(self.db, "SELECT name FROM sqlite_master"), [("notes",)])
        self.assertEqual(pragma(self.db, "journal_mode"), "delete")

    def test_other_application_with_a_user_version_refused(self):
        # Many applications number their schema with user_version too.
        make_db(self.db, "CREATE TABLE notes (body TEXT)", "PRAGMA user_version = 2")
        self.assertRefusedUntouched("schema version 2")

    def test_other_application_id_refused(self):
        make_db(self.db, "PRAGMA application_id = 1234567", "CREATE TABLE t (x)")
        self.assertRefusedUntouched("application_id 0x0012d687")

    def test_negative_user_version_refused(self):
        make_db(self.db, "PRAGMA user_version = -1")
        self.assertRefusedUntouched("schema version -1")

    def test_jobd_database_with_negative_user_version_refused(self):
        j = self.start()
        j.create("sleep", {"seconds": 0})
        self.assertEqual(j.stop(), 0)
        make_db(self.db, "PRAGMA user_version = -5")
        self.assertRefusedUntouched("schema version -5")

    def test_not_sqlite_refused(self):
        with open(self.db, "wb") as f:
            f.write(b"this is not a database, and it stays as it is\n" * 100)
        before = self.files()
        rc, log = self.start_refused()
        self.assertEqual(rc, 1, log)
        self.assertIn("not a database", log)
        self.assertEqual(self.files(), before)


class Own(DbCase):
    def test_new_database_private_whatever_the_umask(self):
        # It holds programs' environments and output, http headers, bodies.
        old = os.umask(0o022)
        try:
            j = self.start()
        finally:
            os.umask(old)
        j.create("sleep", {"seconds": 0})
        for f in (self.db, self.db + "-wal", self.db + "-shm"):
            self.assertEqual(stat.S_IMODE(os.stat(f).st_mode), 0o600, f)

    def test_empty_file_taken_as_new(self):
        # `touch jobd.db && jobd --db jobd.db` is a normal way to start.
        open(self.db, "wb").close()
        j = self.start()
        tid = j.create("sleep", {"seconds": 0})["id"]
        j.wait_state(tid, "succeeded")
        self.assertEqual(j.stop(), 0)
        self.assertEqual(pragma(self.db, "application_id"), APP_ID)
        self.assertEqual(pragma(self.db, "user_version"), SCHEMA_VERSION)
        j = self.start()
        self.assertEqual(j.task(tid)["state"], "succeeded")

    def test_new_database_stamped(self):
        j = self.start()
        self.assertEqual(j.stop(), 0)
        self.assertEqual(pragma(self.db, "application_id"), APP_ID)
        self.assertEqual(pragma(self.db, "user_version"), SCHEMA_VERSION)

    def test_older_jobd_database_taken_and_stamped(self):
        # What a jobd from before the stamp left: schema version 2, no application_id.
        j = self.start()
        tid = j.create("sleep", {"seconds": 0})["id"]
        j.wait_state(tid, "succeeded")
        self.assertEqual(j.stop(), 0)
        make_db(self.db, "DROP INDEX tasks_leftover", "ALTER TABLE tasks DROP COLUMN leftover",
                "PRAGMA application_id = 0", "PRAGMA user_version = 2")
        j = self.start()
        self.assertEqual(j.task(tid)["state"], "succeeded")
        self.assertIn("database migrated to schema version 3", j.logtext())
        self.assertIn("database migrated to schema version 4", j.logtext())
        self.assertEqual(j.stop(), 0)
        self.assertEqual(pragma(self.db, "application_id"), APP_ID)
        self.assertEqual(pragma(self.db, "user_version"), SCHEMA_VERSION)


class Vanished(DbCase):
    """A file of the database deleted or renamed under a running jobd."""

    def prepare(self, args):
        """A task committed for good (a clean stop checkpoints the WAL into
        the database), then jobd started again and a create answered, so
        that its WAL has been written and synced: the first task's id and
        the jobd."""
        j = self.start(args)
        tid = j.create("sleep", {"seconds": 0})["id"]
        j.wait_state(tid, "succeeded")
        self.assertEqual(j.stop(), 0)
        j = self.start(args)
        self.acked_before = j.create("sleep", {"seconds": 3600})["id"]
        self.assertTrue(os.path.exists(self.db + "-wal"))
        return tid, j

    def creates_until_stopped(self, j):
        """Create tasks until jobd stops answering (at most 50): the ids it
        answered 201 for, and its exit code."""
        acked = []
        for _ in range(50):
            try:
                r = j.post("/v1/tasks", {"kind": "sleep", "sleep": {"seconds": 3600}})
            except (OSError, http.client.HTTPException):
                break
            if r.status == 201:
                acked.append(r.json["id"])
        try:
            rc = j.proc.wait(jobdtest.DEADLINE)
        except Exception:
            self.fail("jobd still runs after %d creates:\n%s" % (len(acked), j.logtext()))
        return acked, rc

    def check_stopped(self, j, args, fragment, kept=None):
        acked, rc = self.creates_until_stopped(j)
        log = j.logtext()
        j.stop()
        self.assertEqual(rc, 1, log)
        self.assertIn(fragment, log)
        self.assertIn("stopping", log)
        # Whatever it answered 201 for must be there after a restart; it
        # should have answered none, as none could be kept.
        j = self.start(args)
        lost = [i for i in acked if j.get("/v1/tasks/%d" % i).status != 200]
        self.assertEqual(lost, [], "acknowledged, then lost")
        self.assertEqual(acked, [])
        if kept is not None:
            self.assertEqual(j.task(kept)["state"], "succeeded")
            # Acknowledged before the WAL went, and only in it: jobd's clean
            # stop lets SQLite copy it from the WAL it still holds open.
            self.assertEqual(j.task(self.acked_before)["state"], "running")

    def test_wal_deleted_full(self):
        tid, j = self.prepare(())
        os.unlink(self.db + "-wal")
        self.check_stopped(j, (), "jobd.db-wal was deleted", kept=tid)

    def test_wal_deleted_normal(self):
        tid, j = self.prepare(("--sync", "normal"))
        os.unlink(self.db + "-wal")
        self.check_stopped(j, ("--sync", "normal"), "jobd.db-wal was deleted", kept=tid)

    def test_wal_renamed_full(self):
        tid, j = self.prepare(())
        os.rename(self.db + "-wal", os.path.join(self.tmp, "moved-wal"))
        self.check_stopped(j, (), "jobd.db-wal was renamed or replaced", kept=tid)

    def test_database_deleted_full(self):
        _, j = self.prepare(())
        os.unlink(self.db)
        self.check_stopped(j, (), "jobd.db was deleted")

    def test_database_renamed_normal(self):
        _, j = self.prepare(("--sync", "normal"))
        os.rename(self.db, os.path.join(self.tmp, "moved.db"))
        self.check_stopped(j, ("--sync", "normal"), "jobd.db was renamed or replaced")


if __name__ == "__main__":
    jobdtest.main()
