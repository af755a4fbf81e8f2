"""End-to-end tests of the foundation: scion server, fleet, databases, branches, CLI."""
import json
import os
import signal
import stat
import subprocess
import tempfile
import unittest

from scion_harness import SCION, ScionServer, ServerTestCase, pid_alive, wait_for

SCHEMA_SQL = """
CREATE TABLE users (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email VARCHAR(255) NOT NULL,
  name VARCHAR(100) DEFAULT 'anon',
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  UNIQUE KEY uq_email (email),
  KEY idx_name (name(20))
) ENGINE=InnoDB;
CREATE TABLE orders (
  id INT NOT NULL PRIMARY KEY,
  user_id BIGINT UNSIGNED NOT NULL,
  total DECIMAL(10,2) NOT NULL DEFAULT 0.00,
  status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new',
  notes TEXT,
  KEY idx_user (user_id),
  CONSTRAINT chk_total CHECK (total >= 0)
) ENGINE=InnoDB COMMENT='orders of users';
INSERT INTO users (email, name) VALUES ('a@x.io', 'a'), ('b@x.io', 'b');
INSERT INTO orders VALUES (1, 1, 9.99, 'paid', NULL);
CREATE VIEW paid_orders AS SELECT id, total FROM orders WHERE status = 'paid';
CREATE VIEW big_paid AS SELECT id FROM paid_orders WHERE total > 5;
"""


class DatabaseAndBranchTest(ServerTestCase):
    def test_first_start_writes_admin_token_with_mode_0600(self):
        path = os.path.join(self.server.data_dir, "admin-token")
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600)
        token = self.server.token()
        token_id, secret = token.split(":", 1)
        self.assertTrue(token_id and secret)
        with open(self.server.out_path) as f:
            self.assertIn(token, f.read())  # printed once on first start

    def test_database_create_makes_production_main_branch(self):
        db = self.server.json("database", "create", "mydb", "--wait")
        self.assertEqual(db["name"], "mydb")
        self.assertEqual(db["state"], "ready")
        branches = self.server.json("branch", "list", "mydb")
        self.assertEqual([b["name"] for b in branches], ["main"])
        main = branches[0]
        self.assertTrue(main["production"])
        self.assertTrue(main["ready"])
        self.assertIsNone(main["parent_branch"])
        self.assertEqual(main["instance"]["state"], "running")
        # Logical name = physical name: the instance has a schema called mydb.
        self.assertEqual(self.server.sql("mydb", "main", "SELECT DATABASE()").strip(), "mydb")
        # Production durability settings.
        out = self.server.sql("mydb", "main", "SELECT @@innodb_flush_log_at_trx_commit, @@sync_binlog, "
                                              "@@log_bin, @@binlog_format, @@binlog_row_image")
        self.assertEqual(out.split(), ["1", "1", "1", "ROW", "FULL"])

    def test_branch_has_parents_schema_and_no_rows(self):
        self.server.run("database", "create", "mydb", "--wait", check=True)
        self.server.sql("mydb", "main", SCHEMA_SQL)
        r = self.server.run("branch", "create", "mydb", "add-prefs", "--wait", check=True)
        self.assertIn("ready", r.stderr)
        parent = {o["name"]: o for o in self.server.json("branch", "schema", "mydb", "main")}
        child = {o["name"]: o for o in self.server.json("branch", "schema", "mydb", "add-prefs")}
        self.assertEqual(sorted(parent), ["big_paid", "orders", "paid_orders", "users"])
        self.assertEqual(sorted(child), sorted(parent))
        for name in parent:
            self.assertEqual(child[name]["raw"], parent[name]["raw"], name)
            self.assertEqual(child[name]["kind"], parent[name]["kind"])
        # SHOW CREATE compared directly on both instances, table by table.
        for table in ["users", "orders"]:
            p = self.server.sql("mydb", "main", f"SHOW CREATE TABLE {table}").split("\t", 1)[1]
            c = self.server.sql("mydb", "add-prefs", f"SHOW CREATE TABLE {table}").split("\t", 1)[1]
            self.assertEqual(c.replace(" AUTO_INCREMENT=3", ""), p.replace(" AUTO_INCREMENT=3", ""))
        counts = self.server.sql("mydb", "add-prefs", "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM orders)")
        self.assertEqual(counts.split(), ["0", "0"])
        b = self.server.json("branch", "show", "mydb", "add-prefs")
        self.assertEqual(b["parent_branch"], "main")
        self.assertFalse(b["production"])
        out = self.server.sql("mydb", "add-prefs", "SELECT @@innodb_flush_log_at_trx_commit, @@server_id")
        flush, server_id = out.split()
        self.assertEqual(flush, "2")
        main_id = self.server.sql("mydb", "main", "SELECT @@server_id").strip()
        self.assertNotEqual(server_id, main_id)

    def test_branch_from_another_branch(self):
        self.server.run("database", "create", "mydb", "--wait", check=True)
        self.server.run("branch", "create", "mydb", "one", "--wait", check=True)
        self.server.sql("mydb", "one", "CREATE TABLE only_on_one (id INT PRIMARY KEY)")
        self.server.run("branch", "create", "mydb", "two", "--from", "one", "--wait", check=True)
        names = [o["name"] for o in self.server.json("branch", "schema", "mydb", "two")]
        self.assertEqual(names, ["only_on_one"])
        self.assertEqual(self.server.json("branch", "show", "mydb", "two")["parent_branch"], "one")

    def test_promote_demote_safe_migrations_and_delete_rules(self):
        s = self.server
        s.run("database", "create", "mydb", "--wait", check=True)
        s.run("branch", "create", "mydb", "feat", "--wait", check=True)
        r = s.run("branch", "safe-migrations", "enable", "mydb", "feat")
        self.assertEqual(r.returncode, 4)
        self.assertIn("promote it first", r.stderr)
        self.assertTrue(s.json("branch", "promote", "mydb", "feat")["production"])
        self.assertEqual(s.sql("mydb", "feat", "SELECT @@innodb_flush_log_at_trx_commit").strip(), "1")
        self.assertEqual(int(s.sql("mydb", "feat", "SELECT @@innodb_buffer_pool_size")) >> 20, 1024)  # production's
        self.assertTrue(s.json("branch", "safe-migrations", "enable", "mydb", "feat")["safe_migrations"])
        r = s.run("branch", "delete", "mydb", "feat")
        self.assertEqual(r.returncode, 4)
        self.assertIn("demote it first", r.stderr)
        r = s.run("branch", "demote", "mydb", "feat")
        self.assertEqual(r.returncode, 4)
        self.assertIn("safe-migrations disable", r.stderr)
        self.assertFalse(s.json("branch", "safe-migrations", "disable", "mydb", "feat")["safe_migrations"])
        path = "/v1/organizations/default/databases/mydb/branches/feat/safe-migrations"
        status, body = s.api("PUT", path, {"safe_migrations": True})
        self.assertEqual((status, body["safe_migrations"]), (200, True))
        status, body = s.api("PUT", path, {"safe_migrations": "yes"})
        self.assertEqual((status, body["code"]), (422, "invalid_params"))
        status, body = s.api("PUT", path, {"safe_migrations": False})
        self.assertEqual((status, body["safe_migrations"]), (200, False))
        self.assertFalse(s.json("branch", "demote", "mydb", "feat")["production"])
        self.assertEqual(int(s.sql("mydb", "feat", "SELECT @@innodb_buffer_pool_size")) >> 20, 32)
        pids_before = s.instance_pids()
        feat_pid = s.json("branch", "show", "mydb", "feat")["instance"]["pid"]
        self.assertIn(feat_pid, pids_before)
        folder = os.path.dirname(s.branch_socket("mydb", "feat"))
        r = s.run("branch", "delete", "mydb", "feat")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("was deleted", r.stdout)
        wait_for(lambda: not pid_alive(feat_pid), what="feat's mariadbd to stop")
        self.assertFalse(os.path.exists(folder))
        r = s.run("branch", "show", "mydb", "feat")
        self.assertEqual(r.returncode, 3)
        # The production main branch cannot be deleted.
        r = s.run("branch", "delete", "mydb", "main")
        self.assertEqual(r.returncode, 4)

    def test_flags_set_while_main_is_being_created_are_kept(self):
        s = self.server
        s.run("database", "create", "mydb", check=True)  # main is still pending
        s.run("branch", "safe-migrations", "enable", "mydb", "main", check=True)
        wait_for(lambda: s.json("branch", "show", "mydb", "main")["state"] == "ready", what="main ready")
        self.assertTrue(s.json("branch", "show", "mydb", "main")["safe_migrations"])

    def test_database_delete_needs_force_when_it_has_branches(self):
        s = self.server
        s.run("database", "create", "mydb", "--wait", check=True)
        s.run("branch", "create", "mydb", "feat", "--wait", check=True)
        r = s.run("database", "delete", "mydb")
        self.assertEqual(r.returncode, 4)
        self.assertIn("--force", r.stderr)
        r = s.run("database", "delete", "mydb", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: s.instance_pids() == [], what="instances to stop")
        self.assertEqual(s.json("database", "list"), [])
        self.assertEqual(os.listdir(os.path.join(s.data_dir, "instances")), [])
        # A database without other branches is deleted without --force.
        s.run("database", "create", "solo", "--wait", check=True)
        self.assertEqual(s.run("database", "delete", "solo").returncode, 0)


class ErrorsTest(ServerTestCase):
    def test_invalid_names_are_refused_with_reason(self):
        for bad in ["MyDB", "has space", "x-", "x" * 33, "semi;colon", "under_score"]:
            r = self.server.run("database", "create", bad)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("invalid database name", r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1)
        self.assertEqual(self.server.json("database", "list"), [])

    def test_duplicates_and_unknown_names(self):
        s = self.server
        s.run("database", "create", "mydb", "--wait", check=True)
        r = s.run("database", "create", "mydb")
        self.assertEqual(r.returncode, 4)
        self.assertIn('database "mydb" already exists', r.stderr)
        r = s.run("branch", "create", "mydb", "main")
        self.assertEqual(r.returncode, 4)
        r = s.run("branch", "show", "mydb", "feat")
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr.strip(),
                         'Error: branch "feat" not found in database "mydb" (run: scion branch list mydb)')
        r = s.run("branch", "create", "nodb", "feat")
        self.assertEqual(r.returncode, 3)
        self.assertIn('database "nodb" not found', r.stderr)
        r = s.run("branch", "create", "mydb", "feat", "--from", "nope")
        self.assertEqual(r.returncode, 3)
        self.assertIn('parent branch "nope" not found', r.stderr)

    def test_bad_token_and_unreachable_server(self):
        env = self.server.env()
        env["SCION_TOKEN"] = "abc:wrong"
        r = self.server.run("database", "list", env=env)
        self.assertEqual(r.returncode, 5)
        self.assertIn("invalid service token", r.stderr)
        status, body = self.server.api("GET", "/v1/organizations/default/databases", token="nope")
        self.assertEqual(status, 401)
        self.assertEqual(body["code"], "unauthorized")
        env = self.server.env()
        env["SCION_SERVER"] = "http://127.0.0.1:1"
        r = self.server.run("database", "list", env=env)
        self.assertEqual(r.returncode, 6)
        self.assertIn("scion server", r.stderr)

    def test_api_errors_are_json_with_status(self):
        s = self.server
        status, body = s.api("POST", "/v1/organizations/default/databases", {"nom": "x"})
        self.assertEqual(status, 422)
        self.assertEqual(body["code"], "invalid_params")
        status, body = s.api("GET", "/v1/organizations/default/databases/none")
        self.assertEqual((status, body["code"]), (404, "not_found"))
        status, body = s.api("GET", "/v1/organizations/other/databases")
        self.assertEqual((status, body["code"]), (404, "not_found"))
        status, body = s.api("GET", "/v1/organizations/default/databases?page=zero")
        self.assertEqual(status, 422)
        status, body = s.api("GET", "/v1/health", token="")
        self.assertEqual((status, body["status"]), (200, "ok"))

    def test_bad_format_is_a_usage_error(self):
        r = self.server.run("--format", "yaml", "database", "list")
        self.assertEqual(r.returncode, 2)
        self.assertIn("json", r.stderr)

    def test_outputs_json_and_csv(self):
        self.server.run("database", "create", "mydb", "--wait", check=True)
        r = self.server.run("--format", "csv", "branch", "list", "mydb", check=True)
        lines = r.stdout.strip().splitlines()
        self.assertTrue(lines[0].startswith("NAME,PARENT,PRODUCTION"))
        self.assertTrue(lines[1].startswith("main,,yes,"))
        r = self.server.run("branch", "list", "mydb", check=True)
        self.assertTrue(r.stdout.startswith("NAME"))

    def test_pagination(self):
        for name in ["a1", "b2", "c3"]:
            self.server.run("database", "create", name, check=True)
        status, page1 = self.server.api("GET", "/v1/organizations/default/databases?per_page=2")
        self.assertEqual(status, 200)
        self.assertEqual([d["name"] for d in page1["data"]], ["a1", "b2"])
        self.assertEqual((page1["current_page"], page1["next_page"], page1["prev_page"]), (1, 2, None))
        self.assertEqual((page1["total_count"], page1["total_pages"], page1["per_page"]), (3, 2, 2))
        _, page2 = self.server.api("GET", "/v1/organizations/default/databases?per_page=2&page=2")
        self.assertEqual([d["name"] for d in page2["data"]], ["c3"])
        self.assertIsNone(page2["next_page"])
        self.assertEqual(len(self.server.json("database", "list")), 3)
        for name in ["a1", "b2", "c3"]:
            wait_for(lambda: self.server.json("database", "show", name)["state"] == "ready", what=name)

    def test_second_server_on_same_data_folder_is_refused(self):
        other = ScionServer(self.server.root)
        proc = other.start(expect_ready=False)
        rc = proc.wait(timeout=60)
        other.log.close()
        other.out.close()
        self.assertEqual(rc, 1)
        self.assertIn("another scion server is using the data folder", other.read_log())


class AuthTest(ServerTestCase):
    def test_local_admin_token_is_never_sent_to_another_server(self):
        env = self.server.env(with_credentials=False)
        env["SCION_HOME"] = self.server.data_dir  # where the local admin token lives
        env["SCION_SERVER"] = self.server.url
        self.assertEqual(self.server.run("database", "list", env=env).returncode, 0)
        env["SCION_SERVER"] = "http://scion.example.invalid:8484"
        r = self.server.run("database", "list", env=env)
        self.assertEqual(r.returncode, 5)
        self.assertIn("not logged in", r.stderr)

    def test_login_check_logout(self):
        s = self.server
        env = s.env(with_credentials=False)
        r = s.run("database", "list", env=env)
        self.assertEqual(r.returncode, 5)
        self.assertIn("not logged in", r.stderr)
        r = s.run("auth", "login", "--server", s.url, "--token", "bad:token", env=env)
        self.assertEqual(r.returncode, 5)
        r = s.run("auth", "login", "--server", s.url, "--token", s.token(), env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = os.path.join(s.home, ".config", "scion", "credentials.json")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        r = s.run("auth", "check", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Authenticated", r.stdout)
        self.assertEqual(s.run("database", "list", env=env).returncode, 0)
        # Environment overrides the saved credentials.
        env2 = dict(env, SCION_TOKEN="x:y")
        self.assertEqual(s.run("database", "list", env=env2).returncode, 5)
        r = s.run("--format", "json", "auth", "check", env=env)
        self.assertEqual(json.loads(r.stdout)["server"], s.url)
        self.assertEqual(s.run("auth", "logout", env=env).returncode, 0)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(s.run("database", "list", env=env).returncode, 5)


class RestartTest(ServerTestCase):
    def populate(self):
        s = self.server
        s.run("database", "create", "mydb", "--wait", check=True)
        s.sql("mydb", "main", "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, 'kept')")
        s.run("branch", "create", "mydb", "feat", "--wait", check=True)
        s.sql("mydb", "feat", "INSERT INTO t VALUES (7, 'on feat')")

    def check_everything_is_back(self):
        s = self.server
        self.assertEqual([d["name"] for d in s.json("database", "list")], ["mydb"])
        branches = wait_for(lambda: (lambda bs: bs if all(b["instance"]["state"] == "running" for b in bs) else None)(
            s.json("branch", "list", "mydb")), what="instances running")
        self.assertEqual(sorted(b["name"] for b in branches), ["feat", "main"])
        self.assertEqual(s.sql("mydb", "main", "SELECT v FROM t").strip(), "kept")
        self.assertEqual(s.sql("mydb", "feat", "SELECT v FROM t").strip(), "on feat")

    def test_graceful_restart_stops_instances_and_finds_everything(self):
        self.populate()
        token = self.server.token()
        pids = self.server.instance_pids()
        self.assertEqual(len(pids), 2)
        self.assertEqual(self.server.stop(signal.SIGINT), 0)  # Ctrl-C
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), what=f"mariadbd {pid} to exit")
        self.assertEqual(self.server.instance_pids(), [])
        self.server.start(["--production-buffer-pool", "48M"])  # the config is rewritten at every start
        self.assertEqual(self.server.token(), token)
        with open(self.server.out_path) as f:
            self.assertEqual(f.read().count(token), 2)  # printed on first start only (token + login line)
        self.check_everything_is_back()
        self.assertEqual(self.buffer_pool_mib("main"), 48)
        self.assertEqual(self.buffer_pool_mib("feat"), 32)

    def buffer_pool_mib(self, branch):
        return int(self.server.sql("mydb", branch, "SELECT @@innodb_buffer_pool_size")) >> 20

    def test_kill9_restart_adopts_running_instances(self):
        self.populate()
        pids = self.server.instance_pids()
        self.assertEqual(self.buffer_pool_mib("main"), 1024)  # the defaults
        self.assertEqual(self.buffer_pool_mib("feat"), 32)
        self.server.kill9()
        self.assertEqual(self.server.instance_pids(), pids)  # instances survive the daemon
        self.server.start(["--production-buffer-pool", "256M", "--development-buffer-pool", "24M"])
        self.check_everything_is_back()
        self.assertEqual(self.server.instance_pids(), pids)  # adopted, not restarted
        # ... and resized online to the sizes given now.
        self.assertEqual(self.buffer_pool_mib("main"), 256)
        self.assertEqual(wait_for(lambda: self.buffer_pool_mib("feat") == 24 and 24, what="feat's pool to shrink"), 24)
        self.assertIn("adopting running instance", self.server.read_log())
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), what=f"adopted mariadbd {pid} to exit")

    def test_kill9_of_daemon_and_instances_restarts_them(self):
        self.populate()
        pids = self.server.instance_pids()
        self.server.kill9()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        for pid in pids:
            wait_for(lambda: not pid_alive(pid), what=f"mariadbd {pid} to die")
        self.server.start()
        self.check_everything_is_back()

    def test_crashed_instance_comes_back_with_its_data(self):
        self.populate()
        feat = self.server.json("branch", "show", "mydb", "feat")
        old_pid = feat["instance"]["pid"]
        os.kill(old_pid, signal.SIGKILL)
        def restarted():
            b = self.server.json("branch", "show", "mydb", "feat")
            inst = b["instance"]
            return inst["state"] == "running" and inst["pid"] != old_pid and b
        b = wait_for(restarted, what="feat's instance to restart")
        self.assertEqual(b["instance"]["restarts"], 1)
        self.assertEqual(self.server.sql("mydb", "feat", "SELECT v FROM t").strip(), "on feat")
        self.assertIn("instance crashed; restarting", self.server.read_log())


class ServerFlagsTest(unittest.TestCase):
    def test_bad_buffer_pool_sizes_are_usage_errors(self):
        with tempfile.TemporaryDirectory(prefix="scion-e2e-") as tmp:
            for value, message in [("1M", "must be at least 8M"), ("lots", "--production-buffer-pool")]:
                r = subprocess.run([SCION, "server", "--data-dir", tmp, "--production-buffer-pool", value],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(message, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "metadata.db")))  # refused before starting


class CliHelpTest(unittest.TestCase):
    def test_help_and_version(self):
        r = subprocess.run([SCION, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for word in ["server", "auth", "database", "branch", "--format", "Exit codes"]:
            self.assertIn(word, r.stdout)
        r = subprocess.run([SCION, "branch", "create", "--help"], capture_output=True, text=True)
        self.assertIn("--from", r.stdout)
        self.assertIn("--wait", r.stdout)
        r = subprocess.run([SCION, "--version"], capture_output=True, text=True)
        self.assertTrue(r.stdout.startswith("scion "))
        r = subprocess.run([SCION, "branch", "create"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
