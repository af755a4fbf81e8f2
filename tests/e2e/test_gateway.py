"""End-to-end tests of the MySQL gateway with real clients: the mariadb CLI (over TLS, verifying
Scion's CA), Node's mysql2, and raw sockets for bad input."""
import json
import os
import socket
import struct
import subprocess
import time

from scion_harness import ServerTestCase, wait_for

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "node")


class GatewayTestBase(ServerTestCase):
    server_args = ()

    def setUp(self):
        super().setUp()
        if self.server_args:
            self.server.stop()
            self.server.start(extra_args=self.server_args)
        self.server.run("database", "create", "mydb", "--wait", check=True)
        self.admin = self.server.password("mydb", "main", "admin")

    def sql(self, password, statement, **kw):
        return self.server.gateway_sql(password, statement, **kw)

    def hold(self, password, tls=False):
        """A mariadb client kept open on stdin: returns the process."""
        args = ["mariadb", "--batch", "--skip-column-names", "--unbuffered", "--skip-reconnect", "--force", "-h",
                self.server.mysql_host, "-P", str(self.server.mysql_port), "-u", password["username"],
                f"-p{password['plain_text']}", "--skip-ssl" if not tls else "--ssl", "mydb"]
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        def close():
            if p.poll() is None:
                p.kill()
            p.wait()
            for f in (p.stdin, p.stdout, p.stderr):
                try:
                    f.close()
                except OSError:
                    pass
        self.addCleanup(close)
        return p

    def ask(self, proc, statement):
        proc.stdin.write(statement + "\n")
        proc.stdin.flush()
        return proc.stdout.readline().strip()


class GatewayClientsTest(GatewayTestBase):
    def test_mariadb_cli_over_verified_tls(self):
        out = self.sql(self.admin, "SELECT DATABASE(), CURRENT_USER()", database="mydb").stdout
        self.assertEqual(out.split(), ["mydb", "scion_admin@localhost"])
        # No database named: the password's database is the default.
        self.assertEqual(self.sql(self.admin, "SELECT DATABASE()").stdout.strip(), "mydb")
        self.sql(self.admin, "CREATE TABLE users (id BIGINT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(255) NOT NULL, "
                             "UNIQUE KEY email (email)); INSERT INTO users (email) VALUES ('a@x'), ('b@x');")
        out = self.sql(self.admin, "SELECT id, email FROM users ORDER BY id; SELECT COUNT(*) FROM users").stdout
        self.assertEqual(out.splitlines(), ["1\ta@x", "2\tb@x", "2"])
        # Errors arrive with their codes.
        r = self.sql(self.admin, "INSERT INTO users (email) VALUES ('a@x')", check=False)
        self.assertIn("ERROR 1062", r.stderr)
        r = self.sql(self.admin, "SELECT * FROM nope", check=False)
        self.assertIn("ERROR 1146", r.stderr)
        # A certificate from another CA is refused by the client.
        other = os.path.join(self.tmp.name, "other-ca")
        os.makedirs(other)
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                            "-nodes", "-keyout", os.path.join(other, "k.pem"), "-out", os.path.join(other, "ca.pem"),
                            "-subj", "/CN=other", "-days", "1"], capture_output=True)
        if r.returncode == 0:
            bad = subprocess.run(["mariadb", "-h", self.server.mysql_host, "-P", str(self.server.mysql_port), "-u",
                                  self.admin["username"], f"-p{self.admin['plain_text']}", "--ssl", "--ssl-ca",
                                  os.path.join(other, "ca.pem"), "--ssl-verify-server-cert", "-e", "SELECT 1"],
                                 capture_output=True, text=True, timeout=60)
            self.assertNotEqual(bad.returncode, 0)

    def test_node_mysql2(self):
        second = self.server.password("mydb", "main", "admin")
        cfg = {"host": self.server.mysql_host, "port": self.server.mysql_port, "database": "mydb",
               "ca": self.server.ca_file, "first": self.admin, "second": second}
        r = subprocess.run(["node", os.path.join(NODE_DIR, "gateway_clients.js"), json.dumps(cfg)],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr + self.server.read_log()[-3000:])
        results = json.loads(r.stdout)
        self.assertEqual(results["big_rows"], 120000)
        self.assertEqual(results["large_packet_bytes"], 20 * 1024 * 1024 + 7)
        self.assertEqual(results["multi_results"], 3)
        self.assertTrue(results["change_user"])


class GatewayRolesTest(GatewayTestBase):
    def test_role_matrix(self):
        self.sql(self.admin, "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1)")
        ops = {
            "select": "SELECT COUNT(*) FROM t",
            "insert": "INSERT INTO t VALUES (FLOOR(RAND() * 1000000) + 10, 0)",
            "ddl": "CREATE TABLE IF NOT EXISTS t2 (id INT PRIMARY KEY); DROP TABLE t2",
        }
        want = {
            "reader": {"select": True, "insert": False, "ddl": False},
            "writer": {"select": False, "insert": True, "ddl": False},
            "readwriter": {"select": True, "insert": True, "ddl": False},
            "admin": {"select": True, "insert": True, "ddl": True},
        }
        for role, expected in want.items():
            pw = self.server.password("mydb", "main", role)
            for op, allowed in expected.items():
                r = self.sql(pw, ops[op], check=False)
                self.assertEqual(r.returncode == 0, allowed, f"{role} {op}: {r.stderr}")
                if not allowed:
                    self.assertRegex(r.stderr, r"ERROR (1142|1044|1227)", f"{role} {op}")

    def test_password_for_another_database_and_wrong_passwords(self):
        r = self.sql(self.admin, "SELECT 1", database="otherdb", check=False)
        self.assertIn("ERROR 1044", r.stderr)
        wrong = dict(self.admin, plain_text="scion_pw_wrong")
        nobody = dict(self.admin, username="nobody12345678901234")
        r1 = self.sql(wrong, "SELECT 1", check=False)
        r2 = self.sql(nobody, "SELECT 1", check=False)
        self.assertIn("ERROR 1045 (28000)", r1.stderr)
        # Same message whether the user exists or not (only the name differs).
        self.assertEqual(r1.stderr.replace(self.admin["username"], "U"), r2.stderr.replace(nobody["username"], "U"))
        r3 = self.sql(wrong, "SELECT 1", check=False, tls=False)
        self.assertIn("ERROR 1045 (28000)", r3.stderr)

    def test_failed_logins_are_rate_limited(self):
        wrong = dict(self.admin, plain_text="scion_pw_wrong")
        for _ in range(10):
            self.sql(wrong, "SELECT 1", check=False, tls=False)
        r = self.sql(self.admin, "SELECT 1", check=False, tls=False)
        self.assertIn("too many failed logins", r.stderr)


class GatewayGuardsTest(GatewayTestBase):
    def test_foreign_keys_refused_everywhere(self):
        self.server.run("branch", "create", "mydb", "dev", "--wait", check=True)
        dev = self.server.password("mydb", "dev", "admin")
        for pw in (self.admin, dev):
            self.sql(pw, "CREATE TABLE p (id INT PRIMARY KEY)")
            for stmt in ["CREATE TABLE c (id INT PRIMARY KEY, p INT, FOREIGN KEY (p) REFERENCES p (id))",
                         "CREATE TABLE c (id INT PRIMARY KEY, p INT REFERENCES p (id))",
                         "/*!50000 CREATE TABLE c (id INT PRIMARY KEY, p INT, CONSTRAINT f FOREIGN KEY (p) "
                         "REFERENCES p (id)) */"]:
                r = self.sql(pw, stmt, check=False)
                self.assertIn("ERROR 1105", r.stderr)
                self.assertIn("foreign key constraints are not allowed", r.stderr)
            self.assertEqual(self.sql(pw, "SHOW TABLES").stdout.split(), ["p"])

    def test_safe_migrations_refuse_direct_ddl(self):
        self.sql(self.admin, "CREATE TABLE t (id INT PRIMARY KEY)")
        live = self.hold(self.admin)
        self.assertEqual(self.ask(live, "SELECT 'before';"), "before")
        self.server.run("branch", "safe-migrations", "enable", "mydb", "main", check=True)
        attempts = ["ALTER TABLE t ADD COLUMN c INT", "DROP TABLE t", "/* x */ TRUNCATE TABLE t",
                    "/*!40000 DROP TABLE t */", "/*M!100000 RENAME TABLE t TO u */", "SELECT 1; DROP TABLE t",
                    "CREATE INDEX i ON t (id)", "CREATE VIEW v AS SELECT * FROM t", "OPTIMIZE TABLE t",
                    "PREPARE s FROM 'DROP TABLE t'", "EXECUTE IMMEDIATE 'DROP TABLE t'",
                    "SET @q = 'DROP TABLE t'; PREPARE s FROM @q"]
        for stmt in attempts:
            r = self.sql(self.admin, stmt, check=False)
            self.assertIn("ERROR 1105 (HY000)", r.stderr, stmt)
            self.assertRegex(r.stderr, r"direct DDL is disabled|cannot be checked", stmt)
        # A session opened before the change sees it too.
        live.stdin.write("DROP TABLE t;\n")
        live.stdin.flush()
        self.assertEqual(self.ask(live, "SELECT 'after';"), "after")
        # DML still works; the table is intact.
        self.sql(self.admin, "INSERT INTO t VALUES (1)")
        self.assertEqual(self.sql(self.admin, "SELECT COUNT(*) FROM t").stdout.strip(), "1")
        live.stdin.close()
        self.assertIn("direct DDL is disabled", live.stderr.read())
        self.server.run("branch", "safe-migrations", "disable", "mydb", "main", check=True)
        self.sql(self.admin, "ALTER TABLE t ADD COLUMN c INT")


class GatewayPasswordLifecycleTest(GatewayTestBase):
    def test_expired_password_refused(self):
        pw = self.server.password("mydb", "main", "reader", None, "--ttl", "2")
        live = self.hold(pw)
        self.assertEqual(self.ask(live, "SELECT 'alive';"), "alive")
        time.sleep(3.5)
        r = self.sql(pw, "SELECT 1", check=False)
        self.assertIn("expired", r.stderr)
        live.stdin.write("SELECT 'late';\n")
        live.stdin.close()
        self.assertIn("expired", live.stderr.read())

    def test_deleting_a_password_drops_its_sessions(self):
        pw = self.server.password("mydb", "main", "readwriter")
        live = self.hold(pw)
        self.assertEqual(self.ask(live, "SELECT 'alive';"), "alive")
        other = self.hold(self.admin)
        self.assertEqual(self.ask(other, "SELECT 'other';"), "other")
        self.server.run("password", "delete", "mydb", "main", pw["id"], check=True)
        time.sleep(2.5)  # the sweeper closes idle sessions of a deleted password within a second or two
        live.stdin.write("SELECT 'late';\n")
        live.stdin.close()
        err = live.stderr.read()
        self.assertRegex(err, r"deleted|Lost connection|gone away")
        r = self.sql(pw, "SELECT 1", check=False)
        self.assertIn("ERROR 1045", r.stderr)
        self.assertEqual(self.ask(other, "SELECT 'still here';"), "still here")


class GatewayLimitsTest(GatewayTestBase):
    server_args = ("--max-client-connections", "3", "--max-backend-connections", "2")

    def test_connection_limits_give_clear_errors(self):
        a, b = self.hold(self.admin), self.hold(self.admin)
        self.assertEqual(self.ask(a, "SELECT 1;"), "1")
        self.assertEqual(self.ask(b, "SELECT 2;"), "2")
        r = self.sql(self.admin, "SELECT 3", check=False, tls=False)  # third client, no backend left
        self.assertIn("ERROR 1040", r.stderr)
        self.assertIn("backend connections", r.stderr)
        c = self.hold(self.admin)  # third client: logs in, holds no backend connection
        time.sleep(1)
        r = self.sql(self.admin, "SELECT 4", check=False, tls=False)  # fourth client: over the client limit
        self.assertIn("ERROR 1040", r.stderr)
        for p in (a, b, c):
            p.stdin.close()
            p.wait(timeout=30)
        wait_for(lambda: self.sql(self.admin, "SELECT 5", check=False, tls=False).returncode == 0 or None,
                 timeout=20, what="connections to free up")


class GatewayBadInputTest(GatewayTestBase):
    def raw(self):
        s = socket.create_connection((self.server.mysql_host, self.server.mysql_port), timeout=10)
        self.addCleanup(s.close)
        return s

    @staticmethod
    def read_packet(s):
        head = b""
        while len(head) < 4:
            chunk = s.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        n = head[0] | head[1] << 8 | head[2] << 16
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return body

    def test_garbage_and_malformed_packets(self):
        cases = [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",                      # not MySQL at all
            b"\x05\x00\x00\x01\xff\xff\xff\xff\xff",                    # a handshake response that is too short
            b"\xff\xff\xff\x01" + b"\x00" * 100,                        # announces 16 MB, sends 100 bytes
            b"\x30\x00\x00\x07" + b"\x00" * 48,                         # wrong sequence id
            struct.pack("<I", 0x20)[:3] + b"\x01" + b"\x8d\xa6\x0f\x00" + b"\x00" * 28,  # SSLRequest-ish junk
        ]
        for data in cases:
            s = self.raw()
            greeting = self.read_packet(s)
            self.assertEqual(greeting[0], 10)
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                while s.recv(4096):
                    pass
            except OSError:
                pass  # the gateway may close before reading it all
        # Clients that vanish mid-handshake.
        for _ in range(20):
            s = self.raw()
            s.close()
        # The gateway is still fine.
        self.assertEqual(self.sql(self.admin, "SELECT 'ok'").stdout.strip(), "ok")
        self.assertIsNone(self.server.proc.poll())

    def test_kill_takes_gateway_ids_only(self):
        live = self.hold(self.admin)
        self.assertEqual(self.ask(live, "SELECT 'ok';"), "ok")
        for stmt in ["KILL 0+1", "KILL USER CURRENT_USER", "PREPARE s FROM 'KILL 1'"]:
            r = self.sql(self.admin, stmt, check=False)
            self.assertIn("ERROR 1105", r.stderr, stmt)
        r = self.sql(self.admin, "KILL QUERY 999999", check=False)
        self.assertIn("Unknown thread id", r.stderr)
        self.assertEqual(self.ask(live, "SELECT 'still';"), "still")
        self.assertIsNone(self.server.proc.poll())


class GatewayConnectTest(GatewayTestBase):
    def test_connect_execute_and_shell(self):
        cmd = ('p=${DATABASE_URL##*:}; p=${p%%/*}; '
               'mariadb -h 127.0.0.1 -P "$p" -u anyone --batch --skip-column-names -e "SELECT 40 + 2, DATABASE()"')
        r = self.server.run("connect", "mydb", "main", "--port", "0", "--execute", cmd, check=True)
        self.assertEqual(r.stdout.split(), ["42", "mydb"])
        r = subprocess.run([os.environ.get("SCION_BIN", "scion"), "shell", "mydb", "main"], input="SELECT 'from shell';\n",
                           capture_output=True, text=True, env=self.server.env(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("from shell", r.stdout)
        # Both short-lived passwords are gone (only the test's own admin password is left).
        self.assertEqual([p["id"] for p in self.server.json("password", "list", "mydb")], [self.admin["id"]])

    def test_connect_listens_until_interrupted_and_falls_back_from_a_busy_port(self):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        self.addCleanup(busy.close)
        proc = subprocess.Popen([os.environ.get("SCION_BIN", "scion"), "connect", "mydb", "main", "--port",
                                 str(busy.getsockname()[1])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.server.env())
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        line = ""
        while "Local address" not in line:
            line = proc.stdout.readline()
            self.assertTrue(line, proc.stderr.read() if proc.poll() is not None else "no output")
        port = int(line.split("127.0.0.1:")[1].split()[0])
        self.assertNotEqual(port, busy.getsockname()[1])
        for i in range(3):
            r = subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(port), "-u", "app", "--batch",
                                "--skip-column-names", "mydb", "-e", f"SELECT {i}"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.stdout.strip(), str(i), r.stderr)
        proc.send_signal(2)
        self.assertEqual(proc.wait(timeout=30), 0)
        self.assertIn("in use", proc.stderr.read())
        proc.stdout.close()
        proc.stderr.close()
        self.assertEqual(len(self.server.json("password", "list", "mydb")), 1)
