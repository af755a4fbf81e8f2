"""End-to-end tests of the schema engine's surfaces: branch diff, branch lint, schema diff."""
import json
import os
import subprocess
import tempfile
import unittest

from scion_harness import SCION, ServerTestCase


class BranchDiffLintTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        s = self.server
        s.run("database", "create", "mydb", "--wait", check=True)
        s.sql("mydb", "main", "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), legacy INT);"
                              "CREATE TABLE old_stuff (id INT PRIMARY KEY)")
        s.run("branch", "create", "mydb", "feat", "--wait", check=True)

    def test_diff_shows_changes_and_ddl(self):
        s = self.server
        s.sql("mydb", "feat", "ALTER TABLE users ADD COLUMN email VARCHAR(100) NOT NULL DEFAULT '' AFTER name, "
                              "DROP COLUMN legacy, ADD UNIQUE KEY uq_email (email);"
                              "DROP TABLE old_stuff; CREATE TABLE prefs (user_id INT PRIMARY KEY, theme VARCHAR(10))")
        data = s.json("branch", "diff", "mydb", "feat")
        by_name = {d["name"]: d for d in data}
        self.assertEqual(set(by_name), {"users", "old_stuff", "prefs"})
        self.assertEqual(by_name["prefs"]["kind"], "create_table")
        self.assertEqual(by_name["old_stuff"]["kind"], "drop_table")
        self.assertTrue(by_name["old_stuff"]["drops_data"])
        ddl = by_name["users"]["ddl"]
        self.assertTrue(ddl.startswith("ALTER TABLE `users`"), ddl)
        self.assertIn("DROP COLUMN `legacy`", ddl)
        self.assertIn("ADD COLUMN `email` varchar(100) NOT NULL DEFAULT '' AFTER `name`", ddl)
        self.assertIn("ADD UNIQUE KEY `uq_email` (`email`)", ddl)
        r = s.run("branch", "diff", "mydb", "feat", check=True)
        self.assertIn("+   `email` varchar(100) NOT NULL DEFAULT ''", r.stdout)
        self.assertIn("-   `legacy` int(11) DEFAULT NULL", r.stdout)
        self.assertIn("-- DDL to apply:", r.stdout)
        self.assertIn("-- verified", r.stdout)
        status, body = s.api("GET", "/v1/organizations/default/databases/mydb/branches/feat/diff")
        self.assertEqual((status, body["verified"]), (200, True))
        # The DDL really turns main's schema into feat's.
        for d in data:
            s.sql("mydb", "main", d["ddl"])
        self.assertEqual(s.json("branch", "diff", "mydb", "feat"), [])
        r = s.run("branch", "diff", "mydb", "feat", check=True)
        self.assertIn("No changes", r.stdout)

    def test_lint_reports_codes_and_exit_status(self):
        s = self.server
        s.sql("mydb", "feat", "ALTER TABLE users DROP COLUMN legacy, MODIFY name VARCHAR(10);"
                              "CREATE TABLE nokey (a INT, b INT)")
        r = s.run("branch", "lint", "mydb", "feat")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("NO_UNIQUE_KEY", r.stdout)
        findings = json.loads(s.run("--format", "json", "branch", "lint", "mydb", "feat").stdout)
        got = sorted((f["code"], f["table"], f["column"]) for f in findings)
        self.assertEqual(got, [("DROPS_DATA", "users", "legacy"), ("DROPS_DATA", "users", "name"),
                               ("NO_UNIQUE_KEY", "nokey", None)])
        self.assertEqual({f["code"]: f["severity"] for f in findings}["NO_UNIQUE_KEY"], "error")
        s.sql("mydb", "feat", "DROP TABLE nokey")
        r = s.run("branch", "lint", "mydb", "feat")
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_diff_of_the_first_branch_is_refused_clearly(self):
        r = self.server.run("branch", "diff", "mydb", "main")
        self.assertEqual(r.returncode, 4)
        self.assertIn("has no parent", r.stderr)


class OfflineSchemaDiffTest(unittest.TestCase):
    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="scion-offline-test-")
        self.addCleanup(self.tmp.cleanup)

    def test_prints_ddl_without_a_server(self):
        a = self.write("from.sql", "CREATE TABLE t (id INT PRIMARY KEY, a INT(11)); -- comment; with semicolon\n"
                                   "CREATE TABLE gone (id INT PRIMARY KEY);")
        b = self.write("to.sql", "CREATE TABLE t (id INT PRIMARY KEY, a INT, b VARCHAR(10) DEFAULT 'x;y');")
        r = subprocess.run([SCION, "schema", "diff", a, b], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "ALTER TABLE `t` ADD COLUMN `b` varchar(10) DEFAULT 'x;y' AFTER `a`;",
            "DROP TABLE `gone`;",
        ])
        r = subprocess.run([SCION, "schema", "diff", a, a], capture_output=True, text=True, timeout=120)
        self.assertEqual((r.returncode, r.stdout), (0, ""))

    def test_bad_sql_is_a_clear_error(self):
        a = self.write("from.sql", "CREATE TABLE t (id INT PRIMARY KEY);")
        b = self.write("to.sql", "CREATE TABLE t (id INT PRIMARY KEY,);")
        r = subprocess.run([SCION, "schema", "diff", a, b], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 2)
        self.assertIn("to.sql", r.stderr)
        r = subprocess.run([SCION, "schema", "diff", a, "/nonexistent.sql"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        dump = self.write("dump.sql", "CREATE DATABASE IF NOT EXISTS app;\nUSE app;\nCREATE TABLE t (id INT PRIMARY KEY);")
        # The scratch instance lives under TMPDIR: give it one of our own to check nothing is left.
        scratch_tmp = os.path.join(self.tmp.name, "tmp")
        os.makedirs(scratch_tmp)
        env = dict(os.environ, TMPDIR=scratch_tmp)
        r = subprocess.run([SCION, "schema", "diff", a, dump], capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(r.returncode, 2)
        self.assertIn("switches databases", r.stderr)
        self.assertEqual(os.listdir(scratch_tmp), [])
