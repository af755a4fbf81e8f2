"""Test harness: starts `scion server` in a temp folder on a free port and drives the real CLI.

Only processes this harness started are ever stopped, by PID: the daemon it spawned and the
mariadbd instances whose command line names its own temp data folder.
"""
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.request

SCION = os.environ.get("SCION_BIN", "scion")


def wait_for(predicate, timeout=60.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class ScionServer:
    def __init__(self, root):
        self.root = root
        self.data_dir = os.path.join(root, "data")
        self.home = os.path.join(root, "home")
        os.makedirs(self.home, exist_ok=True)
        self.proc = None
        self.url = None
        self.log_path = os.path.join(root, "server.log")
        self.out_path = os.path.join(root, "server.out")

    # --- lifecycle -------------------------------------------------------------------------
    def start(self, extra_args=(), expect_ready=True):
        info = os.path.join(self.data_dir, "server.json")
        if os.path.exists(info):
            os.unlink(info)  # left by a kill -9
        self.log = open(self.log_path, "a")
        self.out = open(self.out_path, "a")
        self.proc = subprocess.Popen(
            [SCION, "server", "--data-dir", self.data_dir, "--http-addr", "127.0.0.1:0", "--mysql-addr", "127.0.0.1:0",
             "--log-level", "debug", *extra_args],
            stdout=self.out, stderr=self.log, env=self.env(with_credentials=False))
        if not expect_ready:
            return self.proc
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"scion server exited with {self.proc.returncode}: {self.read_log()[-2000:]}")
            try:
                with open(info) as f:
                    return json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                return None
        info = wait_for(ready, what="scion server to listen")
        self.url = info["http_url"]
        self.mysql_host, port = info["mysql_addr"].rsplit(":", 1)
        self.mysql_port = int(port)
        self.ca_file = info["ca_file"]
        return self.proc

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        self.log.close()
        self.out.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        """Stops the daemon and any mariadbd of this data folder (after a kill -9)."""
        if self.proc is not None:
            try:
                self.stop(signal.SIGTERM, timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.instance_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def instance_pids(self):
        """PIDs of live mariadbd processes started for this data folder."""
        pids = []
        marker = (self.data_dir + "/").encode()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if b"mariadbd" in cmd and marker in cmd and pid_alive(int(entry)):
                pids.append(int(entry))
        return sorted(pids)

    # --- clients ---------------------------------------------------------------------------
    def token(self):
        with open(os.path.join(self.data_dir, "admin-token")) as f:
            return f.read().strip()

    def env(self, with_credentials=True):
        env = dict(os.environ)
        env["HOME"] = self.home
        env.pop("XDG_CONFIG_HOME", None)
        env.pop("SCION_HOME", None)
        env.pop("SCION_SERVER", None)
        env.pop("SCION_TOKEN", None)
        if with_credentials and self.url:
            env["SCION_SERVER"] = self.url
            env["SCION_TOKEN"] = self.token()
        return env

    def run(self, *args, env=None, check=False, timeout=120):
        r = subprocess.run([SCION, *args], capture_output=True, text=True, env=env or self.env(), timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"scion {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def json(self, *args):
        r = self.run("--format", "json", *args, check=True)
        return json.loads(r.stdout)

    def api(self, method, path, body=None, token=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", token if token is not None else self.token())
        if body is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                data = resp.read()
                return resp.status, json.loads(data) if data else None
        except urllib.error.HTTPError as e:
            data = e.read()
            return e.code, json.loads(data) if data else None

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    # --- SQL through the gateway ------------------------------------------------------------------
    def password(self, database, branch, role="admin", name=None, *args):
        name = name or f"{role}-{time.monotonic_ns()}"
        return self.json("password", "create", database, branch, name, "--role", role, *args)

    def gateway_sql(self, password, statement, tls=True, database=None, check=True, extra=()):
        """Runs `statement` with the mariadb client through the gateway; returns the CompletedProcess."""
        args = ["mariadb", "--batch", "--skip-column-names", "-h", self.mysql_host, "-P", str(self.mysql_port),
                "-u", password["username"], f"-p{password['plain_text']}", *extra]
        if tls:
            args += ["--ssl", "--ssl-ca", self.ca_file, "--ssl-verify-server-cert"]
        else:
            args += ["--skip-ssl"]
        if database is not None:
            args.append(database)
        r = subprocess.run([*args, "-e", statement], capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"SQL through the gateway failed: {r.stderr}")
        return r

    # --- direct SQL on a branch's instance (the platform's own account) --------------------------
    def internal_password(self):
        db = sqlite3.connect(os.path.join(self.data_dir, "metadata.db"))
        try:
            return db.execute("SELECT value FROM settings WHERE key = 'account.scion_internal.password'").fetchone()[0]
        finally:
            db.close()

    def branch_socket(self, database, branch):
        b = self.json("branch", "show", database, branch)
        return os.path.join(self.data_dir, "instances", b["id"], "mysqld.sock")

    def sql(self, database, branch, statement):
        r = subprocess.run(
            ["mariadb", "--batch", "--skip-column-names", "-S", self.branch_socket(database, branch),
             "-u", "scion_internal", f"-p{self.internal_password()}", database, "-e", statement],
            capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"SQL failed: {r.stderr}")
        return r.stdout


class ServerTestCase(unittest.TestCase):
    """Each test gets its own server in its own temp folder."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="scion-e2e-")
        self.server = ScionServer(self.tmp.name)
        self.addCleanup(self.tmp.cleanup)
        self.addCleanup(self.server.cleanup)
        self.server.start()
