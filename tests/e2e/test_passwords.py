"""End-to-end tests of branch passwords: `scion password ...` and the REST API behind it."""
import hashlib
import os
import re
import sqlite3
import time

from scion_harness import ServerTestCase

ROLES = ["reader", "writer", "readwriter", "admin"]


class PasswordTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.server.run("database", "create", "mydb", "--wait", check=True)

    def create(self, branch, name, *args):
        return self.server.json("password", "create", "mydb", branch, name, *args)

    def stored_rows(self):
        db = sqlite3.connect(os.path.join(self.server.data_dir, "metadata.db"))
        try:
            return db.execute("SELECT * FROM passwords").fetchall()
        finally:
            db.close()

    def test_each_role_listed_per_branch_and_database_without_plain_text(self):
        self.server.run("branch", "create", "mydb", "dev", "--wait", check=True)
        created = {role: self.create("main", f"app-{role}", "--role", role) for role in ROLES}
        on_dev = self.create("dev", "dev-app")
        for role, p in created.items():
            self.assertEqual(p["role"], role)
            self.assertRegex(p["username"], r"^[a-z0-9]{20}$")
            self.assertRegex(p["plain_text"], r"^scion_pw_[0-9A-Za-z]{43}$")
            self.assertEqual(p["database_branch"]["name"], "main")
            self.assertIsNone(p["expires_at"])
            self.assertFalse(p["renewable"])
            self.assertFalse(p["expired"])
        self.assertEqual(on_dev["role"], "admin")  # the default, as in pscale
        self.assertEqual(len({p["username"] for p in created.values()}), 4)

        main_list = self.server.json("password", "list", "mydb", "main")
        self.assertEqual(sorted(p["name"] for p in main_list), sorted(f"app-{r}" for r in ROLES))
        all_list = self.server.json("password", "list", "mydb")
        self.assertEqual(len(all_list), 5)
        self.assertEqual({p["database_branch"]["name"] for p in all_list}, {"main", "dev"})
        for p in all_list:
            self.assertNotIn("plain_text", p)

        # Only verifiers are stored: SHA1(SHA1(pw)) in hex and a salted slow hash.
        rows = self.stored_rows()
        self.assertEqual(len(rows), 5)
        dump = repr(rows)
        for p in [*created.values(), on_dev]:
            self.assertNotIn(p["plain_text"], dump)
            native = hashlib.sha1(hashlib.sha1(p["plain_text"].encode()).digest()).hexdigest()
            self.assertIn(native, dump)

        human = self.server.run("password", "list", "mydb", check=True).stdout
        header = human.splitlines()[0].split()
        self.assertEqual(header, ["NAME", "BRANCH", "ID", "USERNAME", "ROLE", "EXPIRES", "AT", "CREATED", "AT"])

        # Deleting a branch deletes its passwords.
        self.server.run("branch", "delete", "mydb", "dev", check=True)
        self.assertEqual(len(self.server.json("password", "list", "mydb")), 4)
        self.assertEqual(len(self.stored_rows()), 4)

    def test_human_create_prints_connection_strings_once(self):
        r = self.server.run("password", "create", "mydb", "main", "my app", "--ttl", "24h", check=True)
        out = r.stdout
        pw = re.search(r"PASSWORD\s+(scion_pw_\w+)", out).group(1)
        user = re.search(r"USERNAME\s+([a-z0-9]{20})", out).group(1)
        self.assertIn(f"-u {user} -p'{pw}' mydb", out)
        self.assertRegex(out, rf"mysql://{user}:{pw}@\S+/mydb\n")
        self.assertIn(f'DATABASE_URL="mysql://{user}:{pw}@', out)
        self.assertIn("?sslaccept=strict", out)
        self.assertIn("will not be shown again", out)
        self.assertTrue("(gateway not running)" in out or re.search(r"HOST\s+\S+:\d+", out), out)
        listed = self.server.run("password", "list", "mydb", "main", check=True).stdout
        self.assertIn("my app", listed)
        self.assertNotIn(pw, listed)
        self.assertNotIn(pw, self.server.run("--format", "json", "password", "list", "mydb", check=True).stdout)

    def test_renew_moves_expiry_of_ttl_passwords_only_and_delete(self):
        short = self.create("main", "short", "--ttl", "1h")
        self.assertTrue(short["renewable"])
        self.assertEqual(short["ttl_seconds"], 3600)
        time.sleep(0.05)
        renewed = self.server.json("password", "renew", "mydb", "main", short["id"])
        self.assertGreater(renewed["expires_at"], short["expires_at"])
        self.assertNotIn("plain_text", renewed)

        forever = self.create("main", "forever")
        r = self.server.run("password", "renew", "mydb", "main", forever["id"])
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("no ttl", r.stderr)

        # An expired password is still listed, marked expired.
        tiny = self.create("main", "tiny", "--ttl", "1")
        time.sleep(1.2)
        listed = {p["id"]: p for p in self.server.json("password", "list", "mydb", "main")}
        self.assertTrue(listed[tiny["id"]]["expired"])
        self.assertFalse(listed[short["id"]]["expired"])

        r = self.server.run("password", "delete", "mydb", "main", forever["id"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("deleted", r.stdout)
        self.assertNotIn(forever["id"], [p["id"] for p in self.server.json("password", "list", "mydb")])
        r = self.server.run("password", "delete", "mydb", "main", forever["id"])
        self.assertEqual(r.returncode, 3, r.stderr)

    def test_bad_role_branch_ttl_and_names_are_refused(self):
        cases = [
            (["password", "create", "mydb", "main", "x", "--role", "root"], 2, "unknown role"),
            (["password", "create", "mydb", "nope", "x"], 3, "not found"),
            (["password", "create", "nodb", "main", "x"], 3, "not found"),
            (["password", "create", "mydb", "main", "x", "--ttl", "5w"], 2, "invalid --ttl"),
            (["password", "create", "mydb", "main", "x", "--ttl", "-5"], 2, ""),
            (["password", "create", "mydb", "main", "x", "--ttl", "400d"], 2, "one year"),
            (["password", "create", "mydb", "main", "x" * 65], 2, "invalid password name"),
            (["password", "list", "mydb", "nope"], 3, "not found"),
            (["password", "renew", "mydb", "main", "nosuchid"], 3, "not found"),
            (["password", "create", "mydb", "main"], 2, ""),
        ]
        for args, code, text in cases:
            r = self.server.run(*args)
            self.assertEqual(r.returncode, code, f"{args}: {r.stderr}")
            self.assertIn(text, r.stderr, args)
        self.assertEqual(self.stored_rows(), [])

        status, body = self.server.api("POST", "/v1/organizations/default/databases/mydb/branches/main/passwords",
                                       {"name": "x", "ttl": "1h"})
        self.assertEqual(status, 422)
        self.assertEqual(body["code"], "invalid_params")
        status, body = self.server.api("GET", "/v1/organizations/default/databases/mydb/passwords")
        self.assertEqual(status, 200)
        self.assertEqual(body["type"], "list")
        self.assertEqual(body["data"], [])
