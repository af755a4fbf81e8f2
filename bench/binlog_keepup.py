#!/usr/bin/env python3
"""Benchmark: does the binlog change stream keep up with sysbench oltp_write_only?

Starts its own `scion server` in a temp folder, creates database `sbtest`, loads sysbench's
tables into its `main` branch, then runs sysbench oltp_write_only for --seconds while
bench/binlog_follow_bench (BinlogStream, counting rows) follows the branch's binlog and samples
its lag in transactions every 250 ms. Prints sysbench's throughput and the follower's figures.

Usage: bench/binlog_keepup.py [--build build] [--seconds 30] [--threads 8]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--tables", type=int, default=4)
    parser.add_argument("--table-size", type=int, default=10000)
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    os.environ["SCION_BIN"] = os.path.join(build, "scion")
    import scion_harness
    scion_harness.SCION = os.environ["SCION_BIN"]

    with tempfile.TemporaryDirectory(prefix="scion-keepup-") as root:
        server = scion_harness.ScionServer(root)
        try:
            server.start()
            server.run("database", "create", "sbtest", "--wait", check=True)
            sock = server.branch_socket("sbtest", "main")
            password = server.internal_password()
            common = ["--db-driver=mysql", f"--mysql-socket={sock}", "--mysql-user=scion_internal",
                      f"--mysql-password={password}", "--mysql-db=sbtest", f"--tables={args.tables}",
                      f"--table-size={args.table_size}"]
            subprocess.run(["sysbench", "oltp_write_only", *common, "prepare"], check=True,
                           capture_output=True, text=True)
            follower = subprocess.Popen([os.path.join(build, "bench", "binlog_follow_bench"), sock,
                                         "scion_internal", password, str(args.seconds)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            load = subprocess.run(["sysbench", "oltp_write_only", *common, f"--threads={args.threads}",
                                   f"--time={args.seconds}", "--report-interval=0", "run"],
                                  capture_output=True, text=True, check=True)
            out, err = follower.communicate(timeout=args.seconds + 120)
            if follower.returncode != 0:
                raise SystemExit(f"follower failed: {err}")
            stream = json.loads(out)
            tps = float(re.search(r"transactions:\s+\d+\s+\(([\d.]+) per sec", load.stdout).group(1))
            qps = float(re.search(r"queries:\s+\d+\s+\(([\d.]+) per sec", load.stdout).group(1))
            print(json.dumps({"sysbench": {"threads": args.threads, "seconds": args.seconds, "tps": tps, "qps": qps},
                              "stream": stream}, indent=2))
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
