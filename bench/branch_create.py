#!/usr/bin/env python3
"""Benchmark: time from `scion branch create` to `ready`, for a parent with 50 tables.

Starts its own `scion server` in a temp folder, creates database `bench` with 50 tables on
`main` (with indexes, a few rows each), then creates branches one after another and reports,
per run, the time from the API's POST to the branch reading `ready` (polled every 2 ms), and the
wall time of the full CLI command `scion branch create --wait`.

Usage: bench/branch_create.py [--scion build/scion] [--runs 9] [--tables 50]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scion", default=os.path.join(os.path.dirname(__file__), "..", "build", "scion"))
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--tables", type=int, default=50)
    args = parser.parse_args()
    os.environ["SCION_BIN"] = os.path.abspath(args.scion)
    import scion_harness  # after SCION_BIN is set
    scion_harness.SCION = os.environ["SCION_BIN"]

    with tempfile.TemporaryDirectory(prefix="scion-bench-") as root:
        server = scion_harness.ScionServer(root)
        try:
            server.start()
            server.run("database", "create", "bench", "--wait", check=True)
            ddl = []
            for i in range(args.tables):
                ddl.append(
                    f"CREATE TABLE t{i:02d} (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
                    f"k INT NOT NULL DEFAULT 0, c CHAR(120) NOT NULL DEFAULT '', pad VARCHAR(60), "
                    f"created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, KEY k_{i} (k), "
                    f"UNIQUE KEY uq_{i} (c, k)) ENGINE=InnoDB;"
                    f"INSERT INTO t{i:02d} (k, c) VALUES (1, 'a'), (2, 'b'), (3, 'c');")
            server.sql("bench", "main", "\n".join(ddl))
            tables = len(server.json("branch", "schema", "bench", "main"))
            api_ms, cli_ms = [], []
            for run in range(args.runs):
                name = f"api-{run}"
                start = time.perf_counter()
                status, _ = server.api("POST", "/v1/organizations/default/databases/bench/branches", {"name": name})
                assert status == 201, status
                while True:
                    _, b = server.api("GET", f"/v1/organizations/default/databases/bench/branches/{name}")
                    if b["state"] == "ready":
                        break
                    if b["state"] == "error":
                        raise SystemExit(f"branch failed: {b.get('error')}")
                    time.sleep(0.002)
                api_ms.append((time.perf_counter() - start) * 1000)
                assert len(server.json("branch", "schema", "bench", name)) == tables
                start = time.perf_counter()
                server.run("branch", "create", "bench", f"cli-{run}", "--wait", check=True)
                cli_ms.append((time.perf_counter() - start) * 1000)
            result = {
                "parent_tables": tables,
                "runs": args.runs,
                "api_create_to_ready_ms": {"median": round(statistics.median(api_ms), 1),
                                           "min": round(min(api_ms), 1), "max": round(max(api_ms), 1)},
                "cli_create_wait_ms": {"median": round(statistics.median(cli_ms), 1),
                                       "min": round(min(cli_ms), 1), "max": round(max(cli_ms), 1)},
            }
            print(json.dumps(result, indent=2))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
