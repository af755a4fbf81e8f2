#!/usr/bin/env python3
"""Benchmark: sysbench against one branch directly and through the MySQL gateway.

Starts its own `scion server` in a temp folder (log level info), creates database `mydb`, loads
sysbench's tables (--tables x --table-size) into its `main` branch, then runs each sysbench test
at each thread count against:

  direct   the branch's mariadbd over its unix socket, with the platform's internal account
           (instances run with skip_networking: the socket is the only direct way in, and it is
           a stricter baseline than TCP loopback, so the gateway is compared with the fastest
           path there is);
  gateway  the gateway over plain TCP (--mysql-ssl=off), logging in with a branch password of
           role admin; the gateway forwards to the same mariadbd over the same socket.

Runs alternate (direct, gateway, direct, gateway, ...; the order flips every round) so that the
machine's noise hits both. With --tcp-twin it also starts a twin mariadbd (same my.cnf as the
branch's instance, fresh data folder from the template, networking on) and runs the same tests
against it over TCP and over its socket, which measures what TCP loopback itself costs.

oltp_point_select runs with --mysql-ignore-errors=none (any error fails the run);
oltp_read_write with sysbench's default list (1213 deadlock, 1020, 1205 lock wait timeout), which
contention produces with or without the gateway; ignored errors are counted and printed.

Latency percentiles come from sysbench's histogram (--histogram), merged over the rounds; its
buckets are 1.8 % wide. At 1 thread the mean latency (sum of event times / events) is printed too.

Usage: bench/gateway_sysbench.py [--scion build/scion] [--time 15] [--threads 1,8,64]
                                 [--rounds 2] [--tests oltp_point_select,oltp_read_write]
                                 [--tcp-twin] [--json OUT] [--keep]
"""
import argparse
import bisect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(scion_harness, root, extra=()):
    """A ScionServer started at log level info (the harness uses debug, which logs per command)."""
    server = scion_harness.ScionServer(root)
    info_path = os.path.join(server.data_dir, "server.json")
    server.log = open(server.log_path, "a")
    server.out = open(server.out_path, "a")
    server.proc = subprocess.Popen(
        [scion_harness.SCION, "server", "--data-dir", server.data_dir, "--http-addr", "127.0.0.1:0",
         "--mysql-addr", "127.0.0.1:0", "--log-level", "info", *extra],
        stdout=server.out, stderr=server.log, env=server.env(with_credentials=False))

    def ready():
        if server.proc.poll() is not None:
            raise SystemExit(f"scion server exited with {server.proc.returncode}: {server.read_log()[-2000:]}")
        try:
            with open(info_path) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    info = scion_harness.wait_for(ready, what="scion server to listen")
    server.url = info["http_url"]
    server.mysql_host, port = info["mysql_addr"].rsplit(":", 1)
    server.mysql_port = int(port)
    server.ca_file = info["ca_file"]
    server.pid = info["pid"]
    return server


class Twin:
    """A mariadbd with the branch instance's my.cnf, its own data folder, and a TCP port."""

    def __init__(self, root, instance_cnf, template, user, password):
        self.dir = os.path.join(root, "twin")
        os.makedirs(os.path.join(self.dir, "tmp"))
        shutil.copytree(template, os.path.join(self.dir, "data"))
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.port = free_port()
        self.user, self.password = user, password
        with open(os.path.join(self.dir, "init.sql"), "w") as f:
            f.write("SET sql_log_bin=0;\n"
                    f"CREATE USER '{user}'@'localhost' IDENTIFIED BY '{password}';\n"
                    f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}';\n"
                    f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'localhost';\n"
                    f"GRANT ALL PRIVILEGES ON *.* TO '{user}'@'127.0.0.1';\n"
                    "CREATE DATABASE mydb;\n")
        lines = []
        with open(instance_cnf) as f:
            for line in f:
                key = line.split("=", 1)[0].strip()
                if key in ("skip_networking", "skip-networking"):
                    continue
                if key in ("datadir", "socket", "pid_file", "log_error", "init_file", "tmpdir"):
                    name = {"datadir": "data", "socket": "mysqld.sock", "pid_file": "mariadbd.pid",
                            "log_error": "error.log", "init_file": "init.sql", "tmpdir": "tmp"}[key]
                    line = f"{key}={os.path.join(self.dir, name)}\n"
                if key == "server_id":
                    line = "server_id=9999\n"
                lines.append(line)
        lines += [f"port={self.port}\n", "bind_address=127.0.0.1\n"]
        self.cnf = os.path.join(self.dir, "my.cnf")
        with open(self.cnf, "w") as f:
            f.writelines(lines)
        self.out = open(os.path.join(self.dir, "mariadbd.out"), "w")
        self.proc = subprocess.Popen(["mariadbd", f"--defaults-file={self.cnf}"], stdout=self.out,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"twin mariadbd exited: {open(os.path.join(self.dir, 'error.log')).read()[-2000:]}")
            r = subprocess.run(["mariadb", "-S", self.socket, "-u", user, f"-p{password}", "mydb", "-e", "select 1"],
                               capture_output=True)
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise SystemExit("twin mariadbd did not start")
            time.sleep(0.1)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


HIST_LINE = re.compile(r"^\s*([\d.]+)\s+\|[ *]*\s(\d+)\s*$")


def parse_sysbench(out):
    def num(pattern):
        m = re.search(pattern, out)
        if not m:
            raise SystemExit(f"could not parse sysbench output ({pattern}):\n{out[-3000:]}")
        return float(m.group(1))

    hist = {}
    in_hist = False
    for line in out.splitlines():
        if line.startswith("Latency histogram"):
            in_hist = True
            continue
        if in_hist:
            m = HIST_LINE.match(line)
            if m:
                hist[float(m.group(1))] = hist.get(float(m.group(1)), 0) + int(m.group(2))
            elif line.strip().startswith("value"):
                continue
            elif hist:
                in_hist = False
    events = num(r"total number of events:\s+(\d+)")
    return {
        "tps": num(r"transactions:\s+\d+\s+\(([\d.]+) per sec"),
        "qps": num(r"queries:\s+\d+\s+\(([\d.]+) per sec"),
        "errors": num(r"ignored errors:\s+(\d+)"),
        "reconnects": num(r"reconnects:\s+(\d+)"),
        "events": events,
        "latency_sum_ms": num(r"sum:\s+([\d.]+)"),
        "sysbench_p95_ms": num(r"95th percentile:\s+([\d.]+)"),
        "histogram": hist,
    }


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(hist, p):
    """The bucket value under which p % of the events fall (sysbench's own method)."""
    values = sorted(hist)
    total = sum(hist.values())
    need = total * p / 100.0
    seen = 0
    for v in values:
        seen += hist[v]
        if seen >= need:
            return v
    return values[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scion", default=os.path.join(HERE, "..", "build", "scion"))
    parser.add_argument("--time", type=int, default=15, help="seconds per sysbench run")
    parser.add_argument("--threads", default="1,8,64")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tests", default="oltp_point_select,oltp_read_write")
    parser.add_argument("--tables", type=int, default=4)
    parser.add_argument("--table-size", type=int, default=100000)
    parser.add_argument("--tcp-twin", action="store_true",
                        help="also run against a twin mariadbd over TCP and over its socket")
    parser.add_argument("--ignore-errors-rw", default="1213,1020,1205",
                        help="--mysql-ignore-errors for oltp_read_write (sysbench's default: deadlocks and lock "
                             "wait timeouts are MariaDB's answers under contention, not failures; they are counted)")
    parser.add_argument("--json", dest="json_out", help="write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra argument for scion server, e.g. --server-arg=--mysql-threads=1 (repeatable)")
    args = parser.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    tests = args.tests.split(",")

    root = tempfile.mkdtemp(prefix="scion-gwbench-")
    # A private copy of the binary: a rebuild during the run must not change what is measured.
    scion = os.path.join(root, "scion")
    shutil.copy2(os.path.abspath(args.scion), scion)
    os.environ["SCION_BIN"] = scion
    import scion_harness
    scion_harness.SCION = scion

    server = twin = None
    try:
        server = start_server(scion_harness, root, args.server_arg)
        server.run("database", "create", "mydb", "--wait", check=True)
        pw = server.password("mydb", "main", "admin", "bench")
        sock = server.branch_socket("mydb", "main")
        internal = server.internal_password()
        size = [f"--tables={args.tables}", f"--table-size={args.table_size}"]
        base = ["--db-driver=mysql", "--mysql-db=mydb", "--mysql-ssl=off"]
        targets = {
            "direct": [*base, f"--mysql-socket={sock}", "--mysql-user=scion_internal", f"--mysql-password={internal}"],
            "gateway": [*base, f"--mysql-host={server.mysql_host}", f"--mysql-port={server.mysql_port}",
                        f"--mysql-user={pw['username']}", f"--mysql-password={pw['plain_text']}"],
        }
        print(f"preparing {args.tables} x {args.table_size} rows through the gateway...", file=sys.stderr)
        r = subprocess.run(["sysbench", "oltp_read_write", *targets["gateway"], *size, "--threads=4", "prepare"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"sysbench prepare failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
        modes = ["direct", "gateway"]
        if args.tcp_twin:
            instance_dir = os.path.dirname(sock)
            twin = Twin(root, os.path.join(instance_dir, "my.cnf"), os.path.join(server.data_dir, "template"),
                        "bench", "bench-pw")
            tb = [*base, f"--mysql-user={twin.user}", f"--mysql-password={twin.password}"]
            targets["twin_tcp"] = [*tb, "--mysql-host=127.0.0.1", f"--mysql-port={twin.port}"]
            targets["twin_socket"] = [*tb, f"--mysql-socket={twin.socket}"]
            print("preparing the twin...", file=sys.stderr)
            r = subprocess.run(["sysbench", "oltp_read_write", *targets["twin_socket"], *size, "--threads=4",
                                "prepare"], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"sysbench prepare (twin) failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
            modes += ["twin_socket", "twin_tcp"]

        runs = {}  # (test, threads, mode) -> [parsed run]
        total = len(tests) * len(threads) * len(modes) * args.rounds
        n = 0
        for rnd in range(args.rounds):
            order = modes if rnd % 2 == 0 else list(reversed(modes))
            for test in tests:
                for t in threads:
                    for mode in order:
                        n += 1
                        print(f"[{n}/{total}] round {rnd + 1} {test} threads={t} {mode}", file=sys.stderr)
                        ignore = "none" if test == "oltp_point_select" else args.ignore_errors_rw
                        cmd = ["sysbench", test, *targets[mode], *size, f"--threads={t}", f"--time={args.time}",
                               "--report-interval=0", f"--mysql-ignore-errors={ignore}", "--histogram=on",
                               "--percentile=95", "--db-ps-mode=auto", "run"]
                        cpu0 = cpu_seconds(server.pid)
                        r = subprocess.run(cmd, capture_output=True, text=True)
                        cpu1 = cpu_seconds(server.pid)
                        if r.returncode != 0:
                            print(f"sysbench failed ({mode}, {test}, {t} threads):\n{r.stdout[-3000:]}{r.stderr[-3000:]}",
                                  file=sys.stderr)
                            runs.setdefault((test, t, mode), []).append({"failed": True, "stderr": r.stderr[-3000:],
                                                                         "stdout": r.stdout[-3000:]})
                            continue
                        parsed = parse_sysbench(r.stdout)
                        parsed["scion_cpu_s"] = cpu1 - cpu0
                        runs.setdefault((test, t, mode), []).append(parsed)

        results = []
        for test in tests:
            for t in threads:
                row = {"test": test, "threads": t}
                for mode in modes:
                    ok = [x for x in runs.get((test, t, mode), []) if not x.get("failed")]
                    failed = len(runs.get((test, t, mode), [])) - len(ok)
                    if not ok:
                        row[mode] = {"failed_runs": failed}
                        continue
                    hist = {}
                    for x in ok:
                        for v, c in x["histogram"].items():
                            hist[v] = hist.get(v, 0) + c
                    events = sum(x["events"] for x in ok)
                    row[mode] = {
                        "qps": round(sum(x["qps"] for x in ok) / len(ok), 1),
                        "tps": round(sum(x["tps"] for x in ok) / len(ok), 1),
                        "qps_per_round": [round(x["qps"], 1) for x in ok],
                        "p50_ms": percentile(hist, 50),
                        "p95_ms": percentile(hist, 95),
                        "p99_ms": percentile(hist, 99),
                        "mean_ms": round(sum(x["latency_sum_ms"] for x in ok) / events, 4),
                        "sysbench_p95_ms_per_round": [x["sysbench_p95_ms"] for x in ok],
                        "errors": sum(x["errors"] for x in ok),
                        "reconnects": sum(x["reconnects"] for x in ok),
                        "failed_runs": failed,
                        # CPU time of the whole scion process (gateway threads included) per query
                        "scion_cpu_us_per_query": round(sum(x["scion_cpu_s"] for x in ok) * 1e6 /
                                                        sum(x["qps"] * args.time for x in ok), 2),
                    }
                d, g = row.get("direct", {}), row.get("gateway", {})
                if "qps" in d and "qps" in g:
                    row["qps_ratio_gateway_direct"] = round(g["qps"] / d["qps"], 3)
                    row["qps_ratio_per_round"] = [round(a / b, 3) for a, b in zip(g["qps_per_round"], d["qps_per_round"])]
                    row["added_p50_us"] = round((g["p50_ms"] - d["p50_ms"]) * 1000, 1)
                    row["added_mean_us"] = round((g["mean_ms"] - d["mean_ms"]) * 1000, 1)
                    row["added_p95_us"] = round((g["p95_ms"] - d["p95_ms"]) * 1000, 1)
                ts, tt = row.get("twin_socket", {}), row.get("twin_tcp", {})
                if "qps" in ts and "qps" in tt:
                    row["twin_qps_ratio_tcp_socket"] = round(tt["qps"] / ts["qps"], 3)
                    row["twin_added_p50_us_tcp"] = round((tt["p50_ms"] - ts["p50_ms"]) * 1000, 1)
                    row["twin_added_mean_us_tcp"] = round((tt["mean_ms"] - ts["mean_ms"]) * 1000, 1)
                results.append(row)

        log = server.read_log()
        problems = [l for l in log.splitlines() if "level=warn" in l or "level=error" in l]

        print()
        hdr = f"{'test':<18} {'thr':>3} | {'direct QPS':>11} {'gateway QPS':>11} {'ratio':>6} | " \
              f"{'p50 d/g (ms)':>14} {'p95 d/g (ms)':>14} | {'+p50 us':>7} {'+mean us':>8} | {'gw cpu us/q':>11}"
        print(hdr)
        print("-" * len(hdr))
        for row in results:
            d, g = row.get("direct", {}), row.get("gateway", {})
            if "qps" not in d or "qps" not in g:
                print(f"{row['test']:<18} {row['threads']:>3} | failed runs: direct {d.get('failed_runs')}, "
                      f"gateway {g.get('failed_runs')}")
                continue
            print(f"{row['test']:<18} {row['threads']:>3} | {d['qps']:>11,.0f} {g['qps']:>11,.0f} "
                  f"{row['qps_ratio_gateway_direct']:>6.3f} | {d['p50_ms']:>6.3f}/{g['p50_ms']:<7.3f} "
                  f"{d['p95_ms']:>6.3f}/{g['p95_ms']:<7.3f} | {row['added_p50_us']:>7.1f} {row['added_mean_us']:>8.1f} | "
                  f"{g['scion_cpu_us_per_query']:>11.1f}")
        if args.tcp_twin:
            print()
            hdr = f"{'twin: test':<18} {'thr':>3} | {'socket QPS':>11} {'TCP QPS':>11} {'ratio':>6} | " \
                  f"{'p50 s/t (ms)':>14} {'p95 s/t (ms)':>14} | {'+p50 us':>7} {'+mean us':>8}"
            print(hdr)
            print("-" * len(hdr))
            for row in results:
                s, t = row.get("twin_socket", {}), row.get("twin_tcp", {})
                if "qps" not in s or "qps" not in t:
                    continue
                print(f"{row['test']:<18} {row['threads']:>3} | {s['qps']:>11,.0f} {t['qps']:>11,.0f} "
                      f"{row['twin_qps_ratio_tcp_socket']:>6.3f} | {s['p50_ms']:>6.3f}/{t['p50_ms']:<7.3f} "
                      f"{s['p95_ms']:>6.3f}/{t['p95_ms']:<7.3f} | {row['twin_added_p50_us_tcp']:>7.1f} "
                      f"{row['twin_added_mean_us_tcp']:>8.1f}")
        errors = sum(row.get(m, {}).get("errors", 0) + row.get(m, {}).get("failed_runs", 0)
                     for row in results for m in modes)
        print(f"\nsysbench errors / failed runs: {errors:.0f}; server log warnings/errors: {len(problems)}")
        for line in problems[:20]:
            print("  " + line)
        if args.json_out:
            with open(args.json_out, "w") as f:
                st = os.stat(scion)
                json.dump({"binary_mtime": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(st.st_mtime)),
                           "time_s": args.time, "rounds": args.rounds, "tables": args.tables,
                           "table_size": args.table_size, "results": results, "server_log_problems": problems,
                           "nproc": os.cpu_count()}, f, indent=2)
    finally:
        if twin is not None:
            twin.stop()
        if server is not None:
            server.cleanup()
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
