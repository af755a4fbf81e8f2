#!/usr/bin/env python3
"""Benchmark: memory of the MySQL gateway holding 10,000 idle, logged-in client connections.

Starts its own `scion server` in a temp folder (--max-client-connections above --connections),
creates database `mydb` and a branch password, runs one query through the gateway (so that
lazily built state exists before the baseline), then reads the daemon's VmRSS from
/proc/<pid>/status and opens --connections client connections, each fully logged in: a minimal
MySQL client in pure Python (asyncio, --parallel logins in flight) reads the greeting, answers
with a mysql_native_password scramble of the greeting's nonce (the gateway advertises
caching_sha2_password and accepts either), answers an auth switch request (0xFE) with a fresh
scramble if one comes, and reads the OK. It then holds them for --hold seconds and reads VmRSS
again, runs `SELECT 1` with the mariadb CLI through the gateway, counts the branch instance's
backend connections, sends COM_PING on every held connection, and finally closes them all.

Prints (and writes with --json) RSS before / while holding / after closing, RSS per
connection, the login rate and the check results.

Usage: bench/gateway_idle.py [--scion build/scion] [--connections 10000] [--hold 5]
                             [--parallel 200] [--json OUT] [--keep]
"""
import argparse
import asyncio
import hashlib
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.path.insert(0, HERE)

# Client capabilities: CLIENT_LONG_PASSWORD | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION |
# PLUGIN_AUTH | PLUGIN_AUTH_LENENC_CLIENT_DATA | CONNECT_WITH_DB | DEPRECATE_EOF.
CAPS = 0x1 | 0x200 | 0x2000 | 0x8000 | 0x80000 | 0x200000 | 0x8 | 0x1000000


def native_scramble(password, nonce):
    """SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw)))."""
    h1 = hashlib.sha1(password).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(nonce + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


class LoginError(Exception):
    pass


async def read_packet(reader):
    header = await reader.readexactly(4)
    length = header[0] | header[1] << 8 | header[2] << 16
    return header[3], await reader.readexactly(length)


def write_packet(writer, seq, payload):
    writer.write(struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload)


def error_text(payload):
    code = struct.unpack_from("<H", payload, 1)[0]
    msg = payload[3:]
    if msg[:1] == b"#":
        msg = msg[6:]
    return f"ERROR {code}: {msg.decode(errors='replace')}"


def sha2_scramble(password, nonce):
    """caching_sha2_password: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + nonce)."""
    h1 = hashlib.sha256(password).digest()
    h2 = hashlib.sha256(hashlib.sha256(h1).digest() + nonce).digest()
    return bytes(a ^ b for a, b in zip(h1, h2))


async def login(host, port, user, password, database, first_plugin=b"mysql_native_password"):
    """Opens a connection and logs in; returns (reader, writer, switched) or raises LoginError."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        seq, greeting = await read_packet(reader)
        if greeting[:1] == b"\xff":
            raise LoginError(error_text(greeting))
        pos = greeting.index(b"\0", 1) + 1  # protocol version, server version
        pos += 4  # connection id
        nonce = greeting[pos:pos + 8]
        pos += 8 + 1 + 2 + 1 + 2 + 2
        auth_len = greeting[pos]
        pos += 1 + 10
        nonce += greeting[pos:pos + max(13, auth_len - 8) - 1]  # part 2 without its NUL
        auth = native_scramble(password, nonce) if first_plugin == b"mysql_native_password" else \
            sha2_scramble(password, nonce)
        resp = (struct.pack("<IIB", CAPS, 1 << 24, 45) + b"\0" * 23 + user + b"\0" + bytes([len(auth)]) + auth +
                database + b"\0" + first_plugin + b"\0")
        write_packet(writer, seq + 1, resp)
        await writer.drain()
        switched = False
        while True:
            seq, reply = await read_packet(reader)
            if reply[:1] == b"\x00":
                return reader, writer, switched
            if reply[:1] == b"\xff":
                raise LoginError(error_text(reply))
            if reply[:1] == b"\xfe":  # auth switch request: plugin name, then the new nonce
                end = reply.index(b"\0", 1)
                plugin, data = reply[1:end], reply[end + 1:]
                if plugin != b"mysql_native_password":
                    raise LoginError(f"auth switch to unsupported plugin {plugin!r}")
                switched = True
                write_packet(writer, seq + 1, native_scramble(password, data.rstrip(b"\0")[:20]))
                await writer.drain()
                continue
            raise LoginError(f"unexpected packet after the handshake response: {reply[:16]!r}")
    except BaseException:
        writer.close()
        raise


async def ping(reader, writer):
    write_packet(writer, 0, b"\x0e")  # COM_PING
    await writer.drain()
    _, reply = await read_packet(reader)
    if reply[:1] != b"\x00":
        raise LoginError(error_text(reply) if reply[:1] == b"\xff" else f"unexpected ping reply {reply[:16]!r}")


def vm_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads", "RssAnon"):
                out[key] = int(value.split()[0])  # kB, or a count for Threads
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


async def open_all(args, host, port, user, password):
    sem = asyncio.Semaphore(args.parallel)
    conns, errors = [], {}

    async def one():
        async with sem:
            try:
                r, w, switched = await asyncio.wait_for(login(host, port, user, password, b"mydb",
                                                               args.first_plugin.encode()), 30)
                conns.append((r, w, switched))
            except (LoginError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                key = f"{type(e).__name__}: {e}"
                errors[key] = errors.get(key, 0) + 1

    await asyncio.gather(*(one() for _ in range(args.connections)))
    return conns, errors


async def ping_all(conns, parallel):
    sem = asyncio.Semaphore(parallel)
    errors = {}

    async def one(r, w):
        async with sem:
            try:
                await asyncio.wait_for(ping(r, w), 30)
            except (LoginError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                key = f"{type(e).__name__}: {e}"
                errors[key] = errors.get(key, 0) + 1

    await asyncio.gather(*(one(r, w) for r, w, _ in conns))
    return errors


async def close_all(conns):
    for r, w, _ in conns:
        try:
            write_packet(w, 0, b"\x01")  # COM_QUIT
            w.close()
        except OSError:
            pass
    for r, w, _ in conns:
        try:
            await w.wait_closed()
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scion", default=os.path.join(HERE, "..", "build", "scion"))
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to hold before measuring")
    parser.add_argument("--parallel", type=int, default=200, help="logins in flight at once")
    parser.add_argument("--first-plugin", default="mysql_native_password",
                        choices=["mysql_native_password", "caching_sha2_password"],
                        help="what the first answer is for; with caching_sha2_password over plain TCP the gateway "
                             "has no cached entry and asks for mysql_native_password (auth switch)")
    parser.add_argument("--json", dest="json_out", help="write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.connections + 1000
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise SystemExit(f"open-files hard limit {hard} is below the {want} this benchmark needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    root = tempfile.mkdtemp(prefix="scion-gwidle-")
    scion = os.path.join(root, "scion")  # a private copy: a rebuild must not change what is measured
    shutil.copy2(os.path.abspath(args.scion), scion)
    os.environ["SCION_BIN"] = scion
    import scion_harness
    scion_harness.SCION = scion
    from gateway_sysbench import start_server

    server = None
    try:
        server = start_server(scion_harness, root, ["--max-client-connections", str(args.connections + 1000)])
        pid = server.pid
        server.run("database", "create", "mydb", "--wait", check=True)
        pw = server.password("mydb", "main", "admin", "idle")
        user, password = pw["username"].encode(), pw["plain_text"].encode()
        server.gateway_sql(pw, "SELECT 1", tls=False, database="mydb")  # warm-up
        sock = server.branch_socket("mydb", "main")

        def backend_threads():
            r = subprocess.run(["mariadb", "--batch", "--skip-column-names", "-S", sock, "-u", "scion_internal",
                                f"-p{server.internal_password()}", "-e",
                                "SELECT COUNT(*) FROM information_schema.processlist WHERE user <> 'scion_internal' "
                                "AND command <> 'Daemon'"], capture_output=True, text=True)
            return int(r.stdout.strip()) if r.returncode == 0 else r.stderr.strip()

        time.sleep(1)
        before = vm_status(pid)
        print(f"before: VmRSS {before['VmRSS'] / 1024:.1f} MiB, threads {before['Threads']}", file=sys.stderr)

        loop = asyncio.new_event_loop()
        t0 = time.perf_counter()
        conns, login_errors = loop.run_until_complete(open_all(args, server.mysql_host, server.mysql_port, user,
                                                               password))
        login_s = time.perf_counter() - t0
        switched = sum(1 for c in conns if c[2])
        print(f"logged in {len(conns)} in {login_s:.1f} s ({len(conns) / login_s:,.0f}/s), errors: {login_errors}",
              file=sys.stderr)
        after_login = vm_status(pid)
        time.sleep(args.hold)
        held = vm_status(pid)
        print(f"held: VmRSS {held['VmRSS'] / 1024:.1f} MiB, threads {held['Threads']}", file=sys.stderr)

        t1 = time.perf_counter()
        q = server.gateway_sql(pw, "SELECT 1", tls=False, database="mydb", check=False)
        query_ms = (time.perf_counter() - t1) * 1000
        query = {"ok": q.returncode == 0 and q.stdout.strip() == "1", "stdout": q.stdout.strip(),
                 "stderr": q.stderr.strip(), "wall_ms": round(query_ms, 1)}
        print(f"mariadb CLI SELECT 1 while holding: {query}", file=sys.stderr)
        backends_held = backend_threads()

        t2 = time.perf_counter()
        ping_errors = loop.run_until_complete(ping_all(conns, args.parallel))
        ping_s = time.perf_counter() - t2
        after_ping = vm_status(pid)
        backends_after_ping = backend_threads()
        print(f"COM_PING on {len(conns)} in {ping_s:.1f} s, errors: {ping_errors}; "
              f"VmRSS {after_ping['VmRSS'] / 1024:.1f} MiB", file=sys.stderr)

        loop.run_until_complete(close_all(conns))
        n_held = len(conns)
        conns = None
        time.sleep(2)
        closed = vm_status(pid)
        loop.close()

        mib = lambda kb: round(kb / 1024, 1)
        added = held["VmRSS"] - before["VmRSS"]
        result = {
            "connections_requested": args.connections,
            "connections_held": n_held,
            "login_errors": login_errors,
            "auth_switches": switched,
            "login_seconds": round(login_s, 2),
            "logins_per_second": round(n_held / login_s),
            "server_cpu_s_for_logins": round(after_login["cpu_s"] - before["cpu_s"], 2),
            "rss_mib": {"before": mib(before["VmRSS"]), "after_login": mib(after_login["VmRSS"]),
                        "held": mib(held["VmRSS"]), "after_ping_all": mib(after_ping["VmRSS"]),
                        "after_close": mib(closed["VmRSS"]), "peak_hwm": mib(closed["VmHWM"])},
            "rss_added_mib_held": mib(added),
            "rss_per_connection_kib": round(added / max(n_held, 1), 2),
            "server_threads": {"before": before["Threads"], "held": held["Threads"]},
            "query_while_held": query,
            "backend_connections_while_held": backends_held,
            "ping_all": {"seconds": round(ping_s, 2), "errors": ping_errors},
            "backend_connections_after_ping_all": backends_after_ping,
        }
        log = server.read_log()
        result["server_log_problems"] = [l for l in log.splitlines() if "level=warn" in l or "level=error" in l][:50]
        print(json.dumps(result, indent=2))
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(result, f, indent=2)
    finally:
        if server is not None:
            server.cleanup()
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
