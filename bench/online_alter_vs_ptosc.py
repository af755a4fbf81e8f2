#!/usr/bin/env python3
"""Benchmark: Scion's online schema change engine vs pt-online-schema-change (percona-toolkit).

Starts its own `scion server` in a temp folder, creates database `mydb`, and loads one sysbench
table of --table-size rows (default 1,000,000) once into a `pristine` schema of the branch's
instance (directly over its socket with the platform's internal account). Then, for each tool
(pt-osc first, then Scion), on a FRESH copy of that table:

  1. mydb.sbtest1 and ctl.sbtest1 (the control) are copied from pristine.sbtest1, and the pages
     that left dirty are written out (not with --no-flush: the tool would then share the disk
     and the page cleaner with the setup's 2M rows);
  2. the instance's general log is switched on (a file in the instance folder);
  3. sysbench oltp_write_only runs at --rate tps THROUGH THE GATEWAY (plain TCP, a branch
     password of role admin, --mysql-ignore-errors=none), wrapped by a small Lua script that
     writes each transaction's start time and latency to a file (an error is counted, the
     transaction rolled back, and the workload goes on; unwrapped, sysbench would stop);
  4. after --settle seconds the tool runs the same change, MODIFY k BIGINT NOT NULL DEFAULT 0
     (MariaDB cannot do it instantly): pt-online-schema-change over the instance's socket
     (triggers and DDL need a direct connection), or bench/online_alter_bench (Scion's engine:
     plan, Copy, Verify, CutOver); its wall time is measured;
  5. --settle seconds later the workload is told to stop (a stop file: no transaction is cut
     in half), the general log is switched off;
  6. the control: the workload's transactions are read from the general log (the sessions that
     ran sysbench's statements), put in COMMIT order and replayed on ctl.sbtest1, which never saw
     a tool; then COUNT(*) and two row checksums (BIT_XOR and SUM of CRC32 over id, k, c, pad)
     of mydb.sbtest1 are compared with ctl.sbtest1.

Latency, p95/p99/max and errors are over the transactions that started in the window from the
tool's start to its end (and over the whole workload run, settle periods included). They are the
service time of each transaction (BEGIN .. COMMIT as sysbench runs it, measured in Lua), not
sysbench's --rate latency that also counts time queued behind a slow transaction.

Usage: bench/online_alter_vs_ptosc.py [--scion build/scion] [--bench build/bench/online_alter_bench]
           [--table-size 1000000] [--rate 200] [--threads 1] [--tools ptosc,scion] [--json OUT] [--keep]
"""
import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)

ALTER = "MODIFY k BIGINT NOT NULL DEFAULT 0"

LUA_WRAPPER = r"""
-- sysbench oltp_write_only; each transaction's start (epoch s) and latency (ms) go to a file.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long oab_sec; long oab_nsec; } oab_timespec;
int clock_gettime(int clk, oab_timespec *ts);
int usleep(unsigned int usec);
]]
dofile("/usr/share/sysbench/oltp_write_only.lua")
local orig_event = event
local ts = ffi.new("oab_timespec")
local function now() ffi.C.clock_gettime(0, ts); return tonumber(ts.oab_sec) + tonumber(ts.oab_nsec) * 1e-9 end
local out = nil
local stopped = false
local stop_file = os.getenv("OAB_STOP_FILE")
function event(thread_id)
  if out == nil then
    out = io.open(os.getenv("OAB_LAT_PREFIX") .. tostring(thread_id), "w")
    out:setvbuf("line")
  end
  if stopped then ffi.C.usleep(20000) return end
  local f = io.open(stop_file, "r")
  if f ~= nil then f:close() stopped = true out:write("S\n") return end
  local t0 = now()
  local ok, err = pcall(orig_event, thread_id)
  local t1 = now()
  if ok then
    out:write(string.format("%.6f %.3f\n", t0, (t1 - t0) * 1000))
  else
    -- counted, the transaction rolled back, and the workload goes on (sysbench would stop)
    out:write(string.format("E %.6f %.3f %s\n", t0, (t1 - t0) * 1000, (tostring(err):gsub("\n", " "))))
    pcall(function() con:query("ROLLBACK") end)
  end
end
"""


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}... failed ({r.returncode}): {r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r.stdout


class Instance:
    """SQL on the branch's mariadbd over its socket, with the internal account."""

    def __init__(self, sock, password):
        self.sock, self.password = sock, password

    def args(self, db=None):
        a = ["mariadb", "--batch", "--skip-column-names", "-S", self.sock, "-u", "scion_internal",
             f"-p{self.password}"]
        return a + ([db] if db else [])

    def sql(self, statement, db=None):
        return sh([*self.args(db), "-e", statement], timeout=1200).strip()

    def checksum(self, table):
        row = "CRC32(CONCAT_WS('#', id, k, c, pad))"
        return self.sql(f"SELECT CONCAT(COUNT(*), '/', COALESCE(BIT_XOR({row}), 0), '/', COALESCE(SUM({row}), 0)) "
                        f"FROM {table}")


def flush_dirty_pages(inst, timeout=120.0):
    """Writes out the pages the fresh copy left dirty, so that each tool starts from a clean buffer
    pool rather than competing with the page cleaner for the copy made just before it. Returns
    the seconds it took."""
    started = time.monotonic()
    saved = inst.sql("SELECT CONCAT(@@innodb_max_dirty_pages_pct, ' ', @@innodb_max_dirty_pages_pct_lwm)").split()
    inst.sql("SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0.001; SET GLOBAL innodb_max_dirty_pages_pct = 0")
    try:
        while time.monotonic() - started < timeout:
            dirty = int(inst.sql("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                 "WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_PAGES_DIRTY'"))
            if dirty < 64:
                break
            time.sleep(0.25)
    finally:
        inst.sql(f"SET GLOBAL innodb_max_dirty_pages_pct = {saved[0]}; "
                 f"SET GLOBAL innodb_max_dirty_pages_pct_lwm = {saved[1]}")
    return time.monotonic() - started


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMG]?)", text.strip().upper())
    if not m:
        raise SystemExit(f"--buffer-pool: expected a size like 512M or 1G, got {text!r}")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))]


def summarize(events, t_from, t_to):
    lat = [d for (t, d, e) in events if t_from <= t <= t_to and not e]
    errs = [e for (t, d, e) in events if t_from <= t <= t_to and e]
    return {"transactions": len(lat) + len(errs), "errors": len(errs),
            "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95), "p99_ms": percentile(lat, 99),
            "max_ms": max(lat) if lat else None, "error_samples": errs[:3]}


GENERAL_LINE = re.compile(r"^(?:\d{6}\s+\d{1,2}:\d{2}:\d{2})?\s+(\d+)\s+(Query|Execute|Prepare|Close stmt|Connect|Quit|"
                          r"Init DB|Reset stmt|Fetch|Ping|Change user|Binlog Dump|Field List|Statistics|Killed|"
                          r"Set option|Long Data)\t?(.*)$")


def workload_transactions(log_path):
    """The sysbench sessions' transactions from a general log, in COMMIT order."""
    per_thread = {}
    with open(log_path, errors="replace") as f:
        lines = f.read().splitlines()
    parsed = []
    for line in lines:
        m = GENERAL_LINE.match(line)
        if m:
            parsed.append((int(m.group(1)), m.group(2), m.group(3).strip()))
    sysbench_threads = {tid for tid, cmd, arg in parsed
                        if cmd in ("Query", "Execute") and arg.startswith("UPDATE sbtest1 SET k=k+1 WHERE id=")}
    txns = []  # in COMMIT order
    open_tx = {}
    last = {}
    dropped = 0
    for tid, cmd, arg in parsed:
        if tid not in sysbench_threads or cmd not in ("Query", "Execute"):
            continue
        # MariaDB logs a re-prepared statement's Execute twice (after a trigger or a table swap),
        # and the statements of triggers as Query lines of the session: skip both.
        if cmd == "Execute" and last.get(tid) == arg:
            continue
        last[tid] = arg
        word = arg.split(None, 1)[0].upper() if arg else ""
        if word in ("UPDATE", "DELETE", "INSERT") and not re.match(r"(UPDATE|DELETE FROM|INSERT INTO) sbtest1 ", arg):
            continue
        if word in ("BEGIN", "START"):
            open_tx[tid] = []
        elif word == "COMMIT":
            if tid in open_tx:
                txns.append(open_tx.pop(tid))
        elif word == "ROLLBACK":
            if open_tx.pop(tid, None):
                dropped += 1
        elif word in ("UPDATE", "DELETE", "INSERT"):
            if tid in open_tx:
                open_tx[tid].append(arg)
            else:
                txns.append([arg])  # autocommit
    dropped += sum(1 for v in open_tx.values() if v)
    return txns, dropped, len(sysbench_threads)


def read_latencies(prefix_dir):
    events = []
    stopped = 0
    for name in os.listdir(prefix_dir):
        if not name.startswith("lat."):
            continue
        with open(os.path.join(prefix_dir, name)) as f:
            for line in f:
                parts = line.split(None, 3)
                if not parts:
                    continue
                if parts[0] == "S":
                    stopped += 1
                elif parts[0] == "E":
                    events.append((float(parts[1]), float(parts[2]), parts[3].strip() if len(parts) > 3 else "error"))
                else:
                    events.append((float(parts[0]), float(parts[1]), None))
    return events, stopped


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scion", default=os.path.join(HERE, "..", "build", "scion"))
    parser.add_argument("--bench", default=os.path.join(HERE, "..", "build", "bench", "online_alter_bench"))
    parser.add_argument("--table-size", type=int, default=1000000)
    parser.add_argument("--rate", type=int, default=200, help="workload transactions per second")
    parser.add_argument("--threads", type=int, default=1, help="sysbench threads")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of workload before and after the tool")
    parser.add_argument("--chunk-time", type=float, default=0.5, help="both tools' chunk time target (s)")
    parser.add_argument("--tools", default="ptosc,scion",
                        help="in order; scion-behind and scion-after force where Scion verifies (behind the copy, "
                             "or after it); +OPTION=VALUE passes --OPTION VALUE to online_alter_bench "
                             "(e.g. scion+max-chunk-kb=16384), and +bin=PATH runs another build of it; scion is the "
                             "engine's default for this machine")
    parser.add_argument("--repeat", type=int, default=1, help="run the tools this many rounds, one after the other")
    parser.add_argument("--ps-mode", default="auto", choices=["auto", "disable"],
                        help="sysbench --db-ps-mode: auto uses server-side prepared statements")
    parser.add_argument("--no-flush", dest="flush", action="store_false",
                        help="start the workload right after the fresh copy, without writing out its dirty pages")
    parser.add_argument("--buffer-pool", help="set the instance's innodb_buffer_pool_size (e.g. 1G) before loading; "
                        "default: what scion server gives a production branch")
    parser.add_argument("--json", dest="json_out")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="scion-oscbench-")
    # Private copies of the binaries: a rebuild during the run must not change what is measured.
    scion = os.path.join(root, "scion")
    shutil.copy2(os.path.abspath(args.scion), scion)
    bench = os.path.join(root, "online_alter_bench")
    shutil.copy2(os.path.abspath(args.bench), bench)
    copies = {}

    def private_copy(path):
        if path not in copies:
            copies[path] = os.path.join(root, f"online_alter_bench.{len(copies) + 1}")
            shutil.copy2(os.path.abspath(path), copies[path])
        return copies[path]

    os.environ["SCION_BIN"] = scion
    import scion_harness
    scion_harness.SCION = scion
    from gateway_sysbench import cpu_seconds, start_server

    lua = os.path.join(root, "oltp_write_only_timed.lua")
    with open(lua, "w") as f:
        f.write(LUA_WRAPPER)

    server = None
    results = []
    try:
        server = start_server(scion_harness, root)
        server.run("database", "create", "mydb", "--wait", check=True)
        pw = server.password("mydb", "main", "admin", "bench")
        sock = server.branch_socket("mydb", "main")
        inst = Instance(sock, server.internal_password())
        print(f"instance: {inst.sql('SELECT VERSION()')}; binlog_format {inst.sql('SELECT @@binlog_format')}",
              file=sys.stderr)
        with open(inst.sql("SELECT @@pid_file")) as f:
            mariadbd_pid = int(f.read().split()[0])

        pool = parse_size(args.buffer_pool) if args.buffer_pool else None
        if pool is not None and int(inst.sql("SELECT @@innodb_buffer_pool_size")) != pool:
            inst.sql(f"SET GLOBAL innodb_buffer_pool_size = {pool}")
            # Synchronous in newer 10.11 releases; older ones resize in the background.
            deadline = time.monotonic() + 120
            while int(inst.sql("SELECT @@innodb_buffer_pool_size")) < pool and \
                    "Completed" not in inst.sql("SHOW STATUS LIKE 'Innodb_buffer_pool_resize_status'") and \
                    time.monotonic() < deadline:
                time.sleep(0.2)
        print(f"buffer pool: {int(inst.sql('SELECT @@innodb_buffer_pool_size')) >> 20} MiB", file=sys.stderr)

        t = time.monotonic()
        inst.sql("CREATE DATABASE pristine")
        sh(["sysbench", "oltp_write_only", "--db-driver=mysql", "--mysql-db=pristine", f"--mysql-socket={sock}",
            "--mysql-user=scion_internal", f"--mysql-password={inst.password}", "--tables=1",
            f"--table-size={args.table_size}", "prepare"], timeout=1800)
        print(f"prepared pristine.sbtest1 ({args.table_size} rows) in {time.monotonic() - t:.1f} s", file=sys.stderr)
        pristine_sum = inst.checksum("pristine.sbtest1")
        create = inst.sql("SHOW CREATE TABLE pristine.sbtest1").split("\t", 1)[1].replace("\\n", "\n")
        target_sql = re.sub(r"`k` int(\(\d+\))? NOT NULL DEFAULT '?0'?", "`k` bigint(20) NOT NULL DEFAULT 0", create)
        target_sql = re.sub(r"\s*AUTO_INCREMENT=\d+", "", target_sql)
        if target_sql == re.sub(r"\s*AUTO_INCREMENT=\d+", "", create):
            raise SystemExit(f"could not rewrite column k in: {create}")

        gateway = ["--db-driver=mysql", "--mysql-db=mydb", "--mysql-ssl=off", f"--mysql-host={server.mysql_host}",
                   f"--mysql-port={server.mysql_port}", f"--mysql-user={pw['username']}",
                   f"--mysql-password={pw['plain_text']}"]
        general_log = os.path.join(os.path.dirname(sock), "bench-general.log")

        for round_no, tool in [(n, t) for n in range(1, args.repeat + 1) for t in args.tools.split(",")]:
            run_dir = os.path.join(root, f"run-{len(results) + 1}-{re.sub(r'[^A-Za-z0-9.=+-]', '_', tool)}-{round_no}")
            os.makedirs(run_dir)
            print(f"== {tool}: fresh copy", file=sys.stderr)
            inst.sql("DROP DATABASE IF EXISTS ctl; CREATE DATABASE ctl; "
                     "DROP TABLE IF EXISTS mydb.sbtest1, mydb.sbtest1_scion_old, mydb._sbtest1_old; "
                     "CREATE TABLE mydb.sbtest1 LIKE pristine.sbtest1; "
                     "INSERT INTO mydb.sbtest1 SELECT * FROM pristine.sbtest1; "
                     "CREATE TABLE ctl.sbtest1 LIKE pristine.sbtest1; "
                     "INSERT INTO ctl.sbtest1 SELECT * FROM pristine.sbtest1")
            if args.flush:
                print(f"   dirty pages written out in {flush_dirty_pages(inst):.1f} s", file=sys.stderr)
            if os.path.exists(general_log):
                os.unlink(general_log)
            inst.sql(f"SET GLOBAL general_log_file = '{general_log}'; SET GLOBAL general_log = ON")

            stop_file = os.path.join(run_dir, "stop")
            env = dict(os.environ, OAB_STOP_FILE=stop_file, OAB_LAT_PREFIX=os.path.join(run_dir, "lat."))
            sb_out = open(os.path.join(run_dir, "sysbench.out"), "w")
            sb = subprocess.Popen(["sysbench", lua, *gateway, "--tables=1", f"--table-size={args.table_size}",
                                   f"--threads={args.threads}", f"--rate={args.rate}", "--time=3600",
                                   "--report-interval=1", "--histogram=on", "--mysql-ignore-errors=none",
                                   f"--db-ps-mode={args.ps_mode}", "run"],
                                  stdout=sb_out, stderr=subprocess.STDOUT, env=env, cwd=run_dir)
            try:
                time.sleep(args.settle)
                if sb.poll() is not None:
                    raise SystemExit(f"sysbench exited early: {open(sb_out.name).read()[-3000:]}")
                if tool == "ptosc":
                    cmd = ["pt-online-schema-change", "--alter", ALTER,
                           f"D=mydb,t=sbtest1,S={sock},u=scion_internal,p={inst.password}", "--execute",
                           "--recursion-method=none", f"--chunk-time={args.chunk_time}", "--no-drop-old-table",
                           "--progress=time,5"]
                else:
                    cmd = [bench, "--socket", sock, "--user", "scion_internal", "--password", inst.password,
                           "--schema", "mydb", "--table", "sbtest1", "--target-sql", target_sql,
                           "--chunk-ms", str(int(args.chunk_time * 1000))]
                    name, *extra = tool.split("+")
                    if name in ("scion-behind", "scion-after"):
                        cmd += ["--verify", name.split("-")[1]]
                    for option in extra:  # scion+max-chunk-kb=16384: engine options of online_alter_bench
                        flag, _, value = option.partition("=")
                        if flag == "bin":  # scion+bin=PATH: another build of online_alter_bench
                            cmd[0] = private_copy(value)
                        else:
                            cmd += [f"--{flag}", value]
                print(f"   running {tool} under the workload", file=sys.stderr)
                # CPU-seconds during the tool: the tool itself (and its children), the instance
                # (both tools' work and the workload's), the gateway (scion server), sysbench.
                cpu_before = {"tool": resource.getrusage(resource.RUSAGE_CHILDREN),
                              "mariadbd": cpu_seconds(mariadbd_pid), "gateway": cpu_seconds(server.pid),
                              "sysbench": cpu_seconds(sb.pid)}
                tool_start = time.time()
                m0 = time.monotonic()
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
                tool_s = time.monotonic() - m0
                tool_end = time.time()
                used = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = {"tool": round(used.ru_utime + used.ru_stime - cpu_before["tool"].ru_utime -
                                     cpu_before["tool"].ru_stime, 2)}
                for name, pid in (("mariadbd", mariadbd_pid), ("gateway", server.pid), ("sysbench", sb.pid)):
                    cpu[name] = round(cpu_seconds(pid) - cpu_before[name], 2)
                with open(os.path.join(run_dir, "tool.out"), "w") as f:
                    f.write(r.stdout + "\n--- stderr\n" + r.stderr)
                print(f"   {tool}: exit {r.returncode} after {tool_s:.1f} s", file=sys.stderr)
                time.sleep(args.settle)
            finally:
                open(stop_file, "w").close()
                time.sleep(1.0)
                sb_alive = sb.poll() is None
                if sb_alive:
                    sb.terminate()
                sb.wait()
                sb_out.close()
                inst.sql("SET GLOBAL general_log = OFF")

            events, stopped = read_latencies(run_dir)
            res = {"tool": tool, "round": round_no, "exit_code": r.returncode, "seconds": round(tool_s, 1),
                   "cpu_seconds": cpu,
                   "sysbench_alive_at_stop": sb_alive, "threads_stopped_cleanly": stopped,
                   "window": summarize(events, tool_start, tool_end),
                   "whole_run": summarize(events, 0, float("inf"))}
            if r.returncode != 0:
                res["tool_error"] = (r.stderr or r.stdout)[-1500:]
            if tool.startswith("scion"):
                try:
                    res["engine"] = json.loads(r.stdout.strip().splitlines()[-1])
                except (ValueError, IndexError):
                    pass
            res["k_type"] = inst.sql("SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'mydb' "
                                     "AND TABLE_NAME = 'sbtest1' AND COLUMN_NAME = 'k'")

            # The control: the workload's transactions replayed on a copy no tool touched.
            txns, dropped, n_threads = workload_transactions(general_log)
            replay = os.path.join(run_dir, "replay.sql")
            with open(replay, "w") as f:
                for tx in txns:
                    f.write("BEGIN;\n" + "".join(s + ";\n" for s in tx) + "COMMIT;\n")
            t = time.monotonic()
            with open(replay) as f:
                rr = subprocess.run(inst.args("ctl"), stdin=f, capture_output=True, text=True, timeout=1800)
            if rr.returncode != 0:
                raise SystemExit(f"replay on the control failed: {rr.stderr[-2000:]}")
            res["control"] = {"transactions_replayed": len(txns), "unfinished_or_rolled_back": dropped,
                              "sessions": n_threads, "replay_s": round(time.monotonic() - t, 1)}
            res["checksum_altered"] = inst.checksum("mydb.sbtest1")
            res["checksum_control"] = inst.checksum("ctl.sbtest1")
            res["checksum_pristine"] = pristine_sum
            res["checksums_equal"] = res["checksum_altered"] == res["checksum_control"]
            if not res["checksums_equal"]:
                # What differs, to debug from: the rows (altered, then control) and the general log.
                same = "a.k <=> b.k AND a.c <=> b.c AND a.pad <=> b.pad"
                res["differing_rows"] = inst.sql(
                    f"(SELECT 'altered', a.id, a.k, LEFT(a.c, 11), b.k, LEFT(b.c, 11) FROM mydb.sbtest1 a "
                    f"LEFT JOIN ctl.sbtest1 b ON a.id = b.id WHERE b.id IS NULL OR NOT ({same}) LIMIT 20) UNION ALL "
                    f"(SELECT 'control', b.id, NULL, NULL, b.k, LEFT(b.c, 11) FROM ctl.sbtest1 b "
                    f"LEFT JOIN mydb.sbtest1 a ON a.id = b.id WHERE a.id IS NULL LIMIT 20)").splitlines()
                shutil.copy2(general_log, os.path.join(run_dir, "general.log"))
            results.append(res)
            print(json.dumps(res, indent=1), file=sys.stderr)

        print()
        print(f"{'tool':<11} {'time s':>7} | {'tx':>6} {'err':>4} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>8} | "
              f"{'cpu-s: tool':>11} {'mariadbd':>8} | checksums")
        for res in results:
            w = res["window"]
            fmt = lambda v: f"{v:.1f}" if v is not None else "-"
            print(f"{res['tool']:<11} {res['seconds']:>7.1f} | {w['transactions']:>6} {w['errors']:>4} "
                  f"{fmt(w['p95_ms']):>7} {fmt(w['p99_ms']):>7} {fmt(w['max_ms']):>8} | "
                  f"{res['cpu_seconds']['tool']:>11.1f} {res['cpu_seconds']['mariadbd']:>8.1f} | "
                  f"{'equal' if res['checksums_equal'] else 'DIFFERENT'} (exit {res['exit_code']})")
        times = {}
        for res in results:
            times.setdefault(res["tool"], []).append(res["seconds"])
        if "ptosc" in times:
            for tool, ts in times.items():
                if tool != "ptosc":
                    print(f"{tool} / pt-osc time (median of {len(ts)}): "
                          f"{statistics.median(ts) / statistics.median(times['ptosc']):.2f}")
                    # Each round's pair, run one right after the other.
                    pairs = [t / p for t, p in zip(ts, times["ptosc"])]
                    print(f"{tool} / pt-osc per round: {', '.join(f'{x:.2f}' for x in pairs)}")
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump({"table_size": args.table_size, "rate": args.rate, "threads": args.threads, "ps_mode": args.ps_mode,
                           "alter": ALTER, "nproc": os.cpu_count(), "buffer_pool": args.buffer_pool,
                           "when": time.strftime("%Y-%m-%d %H:%M:%S"), "results": results}, f, indent=2)
    finally:
        if server is not None:
            server.cleanup()
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
