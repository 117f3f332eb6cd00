"""The database file: jobd takes only a database that is its own (new, empty,
or made by a jobd), refuses any other at start and leaves it as it was."""
import os
import shutil
import sqlite3
import tempfile
import unittest

import jobdtest
from jobdtest import Jobd, start_again

APP_ID = 0x6A6F6264   # "jobd": PRAGMA application_id of jobd's databases
SCHEMA_VERSION = 3    # schema/NNN-*.sql files


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
        make_db(self.db, "PRAGMA application_id = 0", "PRAGMA user_version = 2")
        j = self.start()
        self.assertEqual(j.task(tid)["state"], "succeeded")
        self.assertIn("database migrated to schema version 3", j.logtext())
        self.assertEqual(j.stop(), 0)
        self.assertEqual(pragma(self.db, "application_id"), APP_ID)
        self.assertEqual(pragma(self.db, "user_version"), SCHEMA_VERSION)


if __name__ == "__main__":
    jobdtest.main()
