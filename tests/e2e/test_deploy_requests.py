"""End-to-end tests of deploy requests: the seed workflow, online deploys under writes, the gated
flow, revert, conflicts, lint refusals; driven through the real CLI and the gateway."""
import json
import os
import sqlite3
import subprocess
import threading
import time

from scion_harness import ServerTestCase, wait_for

SEED_SQL = """
CREATE TABLE users (
  id BIGINT PRIMARY KEY AUTO_INCREMENT,
  email VARCHAR(255) NOT NULL,
  name VARCHAR(100),
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  UNIQUE KEY email (email)
);
CREATE TABLE preferences (
  id BIGINT PRIMARY KEY AUTO_INCREMENT,
  user_id BIGINT NOT NULL,
  theme VARCHAR(20) NOT NULL DEFAULT 'light',
  KEY user_id (user_id)
);
ALTER TABLE users ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'active';
CREATE INDEX idx_status ON users (status);
"""


class DeployRequestTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        s = self.server
        s.run("database", "create", "mydb", "--wait", check=True)
        s.run("branch", "safe-migrations", "enable", "mydb", "main", check=True)
        self.main = s.password("mydb", "main", "admin")

    def branch(self, name, sql):
        self.server.run("branch", "create", "mydb", name, "--wait", check=True)
        pw = self.server.password("mydb", name, "admin")
        if sql:
            self.server.gateway_sql(pw, sql)
        return pw

    def dr(self, *args):
        return self.server.json("deploy-request", *args)

    def deploy(self, number, *extra):
        r = self.server.run("deploy-request", "deploy", "mydb", str(number), "--wait", *extra, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        return self.dr("show", "mydb", str(number))

    def test_seed_workflow(self):
        self.branch("add-user-preferences", None)
        # The seed's own steps: connect, run the migration with the mysql client, open, diff, deploy.
        cmd = ('p=${DATABASE_URL##*:}; p=${p%%/*}; mariadb -h 127.0.0.1 -P "$p" -u root mydb')
        r = subprocess.run([os.environ.get("SCION_BIN", "scion"), "connect", "mydb", "add-user-preferences",
                            "--port", "0", "--execute", cmd], input=SEED_SQL, capture_output=True, text=True,
                           env=self.server.env(), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        created = self.dr("create", "mydb", "add-user-preferences")
        self.assertEqual(created["number"], 1)
        self.assertEqual(created["deployment_state"], "ready")
        self.assertTrue(created["deployable"])
        diff = self.server.run("deploy-request", "diff", "mydb", "1", check=True).stdout
        self.assertIn("CREATE TABLE `users`", diff)
        self.assertIn("`status` varchar(20) NOT NULL DEFAULT 'active'", diff)
        self.assertIn("KEY `idx_status` (`status`)", diff)
        done = self.deploy(1)
        self.assertEqual(done["deployment_state"], "complete")
        schema = self.server.run("branch", "schema", "mydb", "main", check=True).stdout
        self.assertIn("`idx_status`", schema)
        self.assertIn("CREATE TABLE `preferences`", schema)
        # Direct DDL on main is still refused; the deploy path was the way in.
        r = self.server.gateway_sql(self.main, "ALTER TABLE users ADD COLUMN x INT", check=False)
        self.assertIn("direct DDL is disabled", r.stderr)

    def test_online_deploy_under_writes_then_revert_keeps_writes(self):
        # A table with rows on main (created through a first deploy).
        self.branch("base", "CREATE TABLE items (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, v VARCHAR(40))")
        self.dr("create", "mydb", "base")
        self.deploy(1)
        self.server.gateway_sql(self.main, "INSERT INTO items SELECT seq, seq, MD5(seq) FROM seq_1_to_50000")
        self.branch("widen-k", "ALTER TABLE items MODIFY k BIGINT NOT NULL DEFAULT 0, ADD COLUMN note VARCHAR(10)")
        created = self.dr("create", "mydb", "widen-k")
        ops = {o["table"]: o for o in created["operations"]}
        self.assertEqual(ops["items"]["strategy"], "copy")

        # A writer through the gateway during the deploy and the revert window; every write it
        # reports committed must be there at the end.
        stop = threading.Event()
        written = []
        errors = []

        def writer():
            i = 100000
            while not stop.is_set():
                r = self.server.gateway_sql(self.main, f"INSERT INTO items (id, k, v) VALUES ({i}, {i}, 'w'); "
                                                       f"UPDATE items SET k = k + 1 WHERE id = {i - 99950}",
                                            check=False, tls=False)
                (written if r.returncode == 0 else errors).append((i, r.stderr))
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        try:
            done = self.deploy(created["number"])
            self.assertEqual(done["deployment_state"], "complete_pending_revert")
            time.sleep(1)
            r = self.server.run("deploy-request", "revert", "mydb", str(created["number"]), check=True)
            wait_for(lambda: self.dr("show", "mydb", str(created["number"]))["deployment_state"] == "complete_revert"
                     or None, timeout=120, what="revert")
            time.sleep(0.5)
        finally:
            stop.set()
            t.join()
        self.assertEqual(errors, [])
        self.assertGreater(len(written), 5)
        ids = {int(x) for x in self.server.gateway_sql(self.main, "SELECT id FROM items WHERE id >= 100000")
               .stdout.split()}
        self.assertEqual(ids, {i for i, _ in written})
        schema = self.server.run("branch", "schema", "mydb", "main", check=True).stdout
        self.assertIn("`k` int(11) NOT NULL DEFAULT 0", schema)
        self.assertNotIn("`note`", schema)
        tables = self.server.gateway_sql(self.main, "SHOW TABLES").stdout.split()
        self.assertEqual(tables, ["items"])

    def test_gated_deploy_waits_for_apply_and_skip_revert(self):
        self.branch("base", "CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0)")
        self.dr("create", "mydb", "base")
        self.deploy(1)
        self.server.gateway_sql(self.main, "INSERT INTO t SELECT seq, seq FROM seq_1_to_5000")
        self.branch("gated", "ALTER TABLE t MODIFY k BIGINT NOT NULL DEFAULT 0")
        created = self.dr("create", "mydb", "gated", "--disable-auto-apply")
        state = self.deploy(created["number"])
        self.assertEqual(state["deployment_state"], "pending_cutover")
        self.server.gateway_sql(self.main, "INSERT INTO t VALUES (9999, 1)")  # kept in sync while waiting
        self.assertIn("int(11)", self.server.run("branch", "schema", "mydb", "main", check=True).stdout)
        self.server.run("deploy-request", "apply", "mydb", str(created["number"]), check=True)
        wait_for(lambda: self.dr("show", "mydb", str(created["number"]))["deployment_state"]
                 == "complete_pending_revert" or None, timeout=120, what="cut-over")
        self.assertIn("`k` bigint(20)", self.server.run("branch", "schema", "mydb", "main", check=True).stdout)
        self.assertEqual(self.server.gateway_sql(self.main, "SELECT k FROM t WHERE id = 9999").stdout.strip(), "1")
        self.server.run("deploy-request", "skip-revert", "mydb", str(created["number"]), check=True)
        wait_for(lambda: self.dr("show", "mydb", str(created["number"]))["deployment_state"] == "complete" or None,
                 timeout=60, what="skip revert")
        self.assertEqual(self.server.gateway_sql(self.main, "SHOW TABLES").stdout.split(), ["t"])

    def test_conflicts_and_independent_changes(self):
        self.branch("base", "CREATE TABLE a (id INT PRIMARY KEY, name VARCHAR(20)); "
                            "CREATE TABLE b (id INT PRIMARY KEY, name VARCHAR(20))")
        self.dr("create", "mydb", "base")
        self.deploy(1)
        self.branch("one", "ALTER TABLE a MODIFY name VARCHAR(40)")
        self.branch("two", "ALTER TABLE a MODIFY name VARCHAR(80)")
        self.branch("three", "ALTER TABLE b ADD COLUMN extra INT")
        first = self.dr("create", "mydb", "one")
        third = self.dr("create", "mydb", "three")
        self.deploy(first["number"])
        # The same column changed differently on main since "two" was cut: a conflict.
        second = self.dr("create", "mydb", "two")
        self.assertEqual(second["deployment_state"], "error")
        self.assertTrue(any("a.name" in c for c in second["conflicts"]), second["conflicts"])
        # A different table deploys fine after the first.
        done = self.deploy(third["number"])
        self.assertIn(done["deployment_state"], ("complete", "complete_pending_revert"))
        schema = self.server.run("branch", "schema", "mydb", "main", check=True).stdout
        self.assertIn("`name` varchar(40)", schema)
        self.assertIn("`extra` int(11)", schema)

    def test_refusals(self):
        # Safe migrations are required on the target.
        self.server.run("branch", "create", "mydb", "dev", "--wait", check=True)
        self.server.run("branch", "create", "mydb", "dev2", "--from", "dev", "--wait", check=True)
        r = self.server.run("deploy-request", "create", "mydb", "dev2")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("safe migrations", r.stderr)
        # A foreign key (only possible behind the gateway's back) makes it not deployable.
        self.server.sql("mydb", "dev", "CREATE TABLE p (id INT PRIMARY KEY); "
                                       "CREATE TABLE c (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES p (id))")
        created = self.dr("create", "mydb", "dev")
        self.assertFalse(created["deployable"])
        self.assertTrue(any(f["code"] == "FOREIGN_KEY" for f in created["lint_errors"]))
        r = self.server.run("deploy-request", "deploy", "mydb", str(created["number"]))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not deployable", r.stderr)
        # Close it; numbers keep counting.
        closed = self.dr("close", "mydb", str(created["number"]))
        self.assertEqual(closed["state"], "closed")
        listed = self.dr("list", "mydb")
        self.assertEqual([d["number"] for d in listed], [created["number"]])

    def big_table_and_change(self, rows=300000, *create_args):
        self.branch("base", "CREATE TABLE big (id INT PRIMARY KEY, k INT NOT NULL DEFAULT 0, v VARCHAR(40))")
        self.dr("create", "mydb", "base")
        self.deploy(1)
        self.server.gateway_sql(self.main, f"INSERT INTO big SELECT seq, seq, MD5(seq) FROM seq_1_to_{rows}")
        self.branch("change", "ALTER TABLE big MODIFY k BIGINT NOT NULL DEFAULT 0")
        return self.dr("create", "mydb", "change", *create_args)

    def main_instance(self):
        """The mariadb client's arguments for main's instance over its socket (works while the
        daemon is down, once read)."""
        return ["mariadb", "--batch", "--skip-column-names", "-S", self.server.branch_socket("mydb", "main"),
                "-u", "scion_internal", f"-p{self.server.internal_password()}", "mydb"]

    def state(self, number):
        return self.dr("show", "mydb", str(number))["deployment_state"]

    def test_cancel_mid_copy_leaves_the_target_as_it_was(self):
        created = self.big_table_and_change()
        self.server.run("deploy-request", "deploy", "mydb", str(created["number"]), check=True)
        wait_for(lambda: self.state(created["number"]) == "in_progress" or None, timeout=60, what="copy")
        self.server.run("deploy-request", "cancel", "mydb", str(created["number"]), check=True)
        wait_for(lambda: self.state(created["number"]) == "complete_cancel" or None, timeout=120, what="cancel")
        self.assertIn("`k` int(11)", self.server.run("branch", "schema", "mydb", "main", check=True).stdout)
        self.assertEqual(self.server.gateway_sql(self.main, "SHOW TABLES").stdout.split(), ["big"])

    def test_daemon_killed_mid_deploy_resumes_after_restart(self):
        created = self.big_table_and_change()
        self.server.run("deploy-request", "deploy", "mydb", str(created["number"]), check=True)
        # Killed once a checkpoint is saved (progress is saved with each chunk's checkpoint).
        wait_for(lambda: any(o["progress_percentage"] > 0
                             for o in self.dr("show", "mydb", str(created["number"]))["operations"]) or None,
                 timeout=60, interval=0.02, what="copy progress")
        self.server.kill9()
        self.server.start()
        wait_for(lambda: self.state(created["number"]) == "complete_pending_revert" or None, timeout=300,
                 what="the deploy to finish after the restart")
        self.main = self.server.password("mydb", "main", "admin")
        self.assertIn("resuming copy from its checkpoint", self.server.read_log())
        self.assertIn("`k` bigint(20)", self.server.run("branch", "schema", "mydb", "main", check=True).stdout)
        self.assertEqual(self.server.gateway_sql(self.main, "SELECT COUNT(*) FROM big").stdout.strip(), "300000")
        self.server.run("deploy-request", "skip-revert", "mydb", str(created["number"]), check=True)
        wait_for(lambda: self.state(created["number"]) == "complete" or None, timeout=60, what="skip revert")
        self.assertEqual(self.server.gateway_sql(self.main, "SHOW TABLES").stdout.split(), ["big"])

    def test_daemon_killed_mid_cutover_resumes_after_restart(self):
        created = self.big_table_and_change(rows=50000)
        instance = self.main_instance()
        # A long transaction holds the table: the cut-over's lock waits (its sentry exists) and
        # retries while the daemon is killed.
        holder = subprocess.Popen(instance, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        try:
            holder.stdin.write("BEGIN; SELECT COUNT(*) FROM big WHERE id = 1;\n")
            holder.stdin.flush()
            self.server.run("deploy-request", "deploy", "mydb", str(created["number"]), check=True)
            wait_for(lambda: self.state(created["number"]) == "in_progress_cutover" or None, timeout=120,
                     what="the cut-over")
            sentry = ("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mydb' AND "
                      "TABLE_NAME = 'big_scion_old' AND TABLE_COMMENT = 'scion cut-over sentry'")
            wait_for(lambda: self.server.sql("mydb", "main", sentry).strip() == "1" or None, timeout=30,
                     interval=0.02, what="a cut-over attempt waiting for its locks, its sentry in place")
            self.server.kill9()
            # The application goes on writing while the daemon is down.
            subprocess.run([*instance, "-e",
                            "UPDATE big SET v = 'while-down' WHERE id = 7; INSERT INTO big VALUES (50001, 1, 'new')"],
                           check=True, timeout=60)
            left = subprocess.run([*instance, "-e", sentry], capture_output=True, text=True, check=True, timeout=60)
            self.assertEqual(left.stdout.strip(), "1", "killed with the sentry in place")
            holder.stdin.write("COMMIT;\n")
            holder.stdin.close()
            holder.wait(timeout=30)
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()
            holder.stdout.close()
            holder.stderr.close()
        self.server.start()
        wait_for(lambda: self.state(created["number"]) == "complete_pending_revert" or None, timeout=300,
                 what="the deploy to finish after the restart")
        self.main = self.server.password("mydb", "main", "admin")
        self.assertIn("`k` bigint(20)", self.server.run("branch", "schema", "mydb", "main", check=True).stdout)
        self.assertEqual(self.server.gateway_sql(self.main, "SELECT COUNT(*), SUM(v = 'while-down') FROM big")
                         .stdout.split(), ["50001", "1"])
        self.server.run("deploy-request", "skip-revert", "mydb", str(created["number"]), check=True)
        wait_for(lambda: self.state(created["number"]) == "complete" or None, timeout=60, what="skip revert")
        self.assertEqual(self.server.gateway_sql(self.main, "SHOW TABLES").stdout.split(), ["big"])

    def test_restart_after_an_unrecorded_swap_completes_the_deploy(self):
        created = self.big_table_and_change(2000, "--disable-auto-apply")
        self.server.run("deploy-request", "deploy", "mydb", str(created["number"]), check=True)
        wait_for(lambda: self.state(created["number"]) == "pending_cutover" or None, timeout=120, what="the copy")
        instance = self.main_instance()
        self.server.kill9()
        # As if the daemon had died in the cut-over right after its RENAME, before recording it.
        subprocess.run([*instance, "-e", "RENAME TABLE big TO big_scion_old, big_scion_new TO big"], check=True,
                       timeout=60)
        db = sqlite3.connect(os.path.join(self.server.data_dir, "metadata.db"))
        with db:
            db.execute("UPDATE deploy_requests SET deployment_state = 'in_progress_cutover', "
                       "body = json_set(body, '$.deployment_state', 'in_progress_cutover') WHERE number = ?",
                       (created["number"],))
        db.close()
        self.server.start()
        wait_for(lambda: self.state(created["number"]) == "complete" or None, timeout=120,
                 what="the deploy to complete after the restart")
        shown = self.dr("show", "mydb", str(created["number"]))
        self.assertIn("revert window ended early", shown.get("error", ""))
        self.main = self.server.password("mydb", "main", "admin")
        self.assertEqual(self.server.gateway_sql(self.main, "SHOW TABLES").stdout.split(), ["big"])
        self.assertIn("`k` bigint(20)", self.server.run("branch", "schema", "mydb", "main", check=True).stdout)
        self.assertEqual(self.server.gateway_sql(self.main, "SELECT COUNT(*) FROM big").stdout.strip(), "2000")

    def test_required_approval(self):
        self.server.run("database", "update", "mydb", "--require-approval-for-deploy", "true", check=True)
        self.assertTrue(self.server.json("database", "show", "mydb")["require_approval_for_deploy"])
        self.branch("feature", "CREATE TABLE t (id INT PRIMARY KEY)")
        created = self.dr("create", "mydb", "feature")
        r = self.server.run("deploy-request", "deploy", "mydb", str(created["number"]))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("approving review", r.stderr)
        r = self.server.run("deploy-request", "review", "mydb", str(created["number"]), "--approve")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("author", r.stderr)
        commented = self.dr("review", "mydb", str(created["number"]), "--comment", "looks good")
        self.assertEqual(commented["reviews"][0]["body"], "looks good")
        self.server.run("database", "update", "mydb", "--require-approval-for-deploy", "false", check=True)
        self.assertEqual(self.deploy(created["number"])["deployment_state"], "complete")
