"""End-to-end tests of `scion binlog tail` against a real branch."""
import json
import subprocess
import time

from scion_harness import SCION, ServerTestCase, wait_for


class BinlogTailTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.server.run("database", "create", "mydb", "--wait", check=True)
        self.server.sql("mydb", "main", "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20), avatar BLOB);"
                                        "CREATE TABLE logs (id INT PRIMARY KEY, msg TEXT)")

    def position(self):
        return self.server.sql("mydb", "main", "SELECT @@gtid_binlog_pos").strip()

    def tail(self, *args):
        r = self.server.run("binlog", "tail", "mydb", "main", *args, timeout=60)
        return r, [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def test_prints_row_changes_and_ddl_as_json_lines(self):
        start = self.position()
        self.server.sql("mydb", "main",
                        "INSERT INTO users VALUES (1, 'ann', x'00ff'), (2, 'bob', NULL);"
                        "UPDATE users SET name = 'anna' WHERE id = 1;"
                        "DELETE FROM users WHERE id = 2;"
                        "ALTER TABLE users ADD COLUMN email VARCHAR(50)")
        r, lines = self.tail("--from-gtid", start, "--limit", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([l["op"] for l in lines], ["insert", "insert", "update", "delete", "ddl"])
        first = lines[0]
        self.assertEqual(list(first), ["gtid", "timestamp", "schema", "table", "op", "before", "after"])
        self.assertEqual(first["table"], "users")
        self.assertEqual(first["after"], {"id": 1, "name": "ann", "avatar": "AP8="})
        self.assertIsNone(first["before"])
        self.assertEqual(lines[0]["gtid"], lines[1]["gtid"])  # one transaction
        self.assertEqual(lines[2]["before"]["name"], "ann")
        self.assertEqual(lines[2]["after"]["name"], "anna")
        self.assertIsNone(lines[3]["after"])
        self.assertIn("ADD COLUMN email", lines[4]["sql"])

    def test_follows_new_changes_and_filters_tables(self):
        proc = subprocess.Popen([SCION, "binlog", "tail", "mydb", "main", "--tables", "logs", "--limit", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.server.env())
        try:
            # The tail starts at the current end: wait until it is connected, then write.
            time.sleep(1.0)
            self.server.sql("mydb", "main", "INSERT INTO users VALUES (5, 'eve', NULL);"
                                            "INSERT INTO logs VALUES (1, 'one'); INSERT INTO logs VALUES (2, 'two')")
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(proc.returncode, 0, err)
        lines = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([(l["table"], l["after"]["msg"]) for l in lines], [("logs", "one"), ("logs", "two")])

    def test_resume_from_a_printed_gtid_skips_what_was_seen(self):
        start = self.position()
        for i in range(1, 6):
            self.server.sql("mydb", "main", f"INSERT INTO logs VALUES ({i}, 'm{i}')")
        _, first = self.tail("--from-gtid", start, "--limit", "2")
        _, rest = self.tail("--from-gtid", first[-1]["gtid"], "--limit", "3")
        self.assertEqual([l["after"]["id"] for l in first + rest], [1, 2, 3, 4, 5])

    def test_errors(self):
        r, _ = self.tail("--from-gtid", "nonsense")
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid GTID", r.stderr)
        r = self.server.run("binlog", "tail", "mydb", "nope", timeout=60)
        self.assertEqual(r.returncode, 3)
        r, _ = self.tail("--from-gtid", "0-1-999999")
        self.assertEqual(r.returncode, 4)
        self.assertIn("no longer holds position", r.stderr)

    def test_server_shutdown_ends_a_running_tail(self):
        proc = subprocess.Popen([SCION, "binlog", "tail", "mydb", "main"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.server.env())
        try:
            time.sleep(1.0)
            self.assertEqual(self.server.stop(), 0)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(self.server.instance_pids(), [])

    def test_tail_of_a_deleted_branch_does_not_block_shutdown(self):
        self.server.run("branch", "create", "mydb", "feat", "--wait", check=True)
        proc = subprocess.Popen([SCION, "binlog", "tail", "mydb", "feat"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.server.env())
        try:
            time.sleep(1.0)
            self.server.run("branch", "delete", "mydb", "feat", check=True)
            time.sleep(1.0)  # the stream is now retrying against a gone instance
            start = time.monotonic()
            self.assertEqual(self.server.stop(timeout=60), 0)
            self.assertLess(time.monotonic() - start, 30)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
