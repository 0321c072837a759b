#!/usr/bin/env python3
"""Health latency of `mlops serve` under the attacks of issue 17, finding 1, one at a time.

    python3 scripts/attack_serve.py --mlops-bin target/release/mlops            # full sizes
    python3 scripts/attack_serve.py --mlops-bin target/debug/mlops --small      # a smoke run
    python3 scripts/attack_serve.py --mlops-bin BIN --attacks gzip,declared --hold 30 \\
        --server-arg=--body-timeout-ms=5000

For each attack a fresh server is started (`mlops serve --model linear=FILE --addr
127.0.0.1:0`, the built-in linear model, plus any `--server-arg`), and:

1. its RSS is read once it answers (`before`);
2. a probe process starts: every `--probe-ms` it opens a fresh connection and sends
   `GET /v2/health/ready` (as a kubelet does), timing the status line (a probe that gets no
   answer within `--probe-timeout` counts as failed, at that time), then does the same with
   a whole inference request (a normal client: head and body sent at once; anything but 200
   counts as failed); it also samples the server's RSS every 100 ms;
3. the attack runs for `--hold` seconds: each connection attack keeps its N connections
   open (one the server closes is replaced by a new one at once), each request attack sends
   request after request; then every attack connection is closed;
4. after `--settle` seconds the RSS is read again (`after`) with the health latency of that
   quiet period.

The attacks (`--attacks`, default all, in this order), full size / `--small`:
- `half-lines`: 20,000 / 500 connections that each send half a request line and wait;
- `idle`: 20,000 / 500 keep-alive connections, each answered once, then silent;
- `stalled-bodies`: 20,000 / 500 requests that declare a 100-byte body, send 10 and wait;
- `big-bodies`: 64 / 8 clients sending 15 MB / 1 MB JSON bodies (a valid request padded
  with spaces, under the 16 MiB limit) one after another;
- `declared`: 64 / 8 clients sending `Content-Length: 1 GiB` with a 10-byte body, one after
  another (an early 413 is the right answer);
- `gzip`: 4 clients sending 786,432 / 20,000 empty gzip members followed by a valid gzip
  body, one after another (a 400 naming the member budget is the right answer).

The table gives, per attack: health p50, p99 and max during the attack, failed probes
(health, then the normal client's inference requests),
RSS before / peak / after, the health p99 after, and what the attack's own connections got
(answers by status, closed by the server unanswered, still open when the hold ended, connect
failures; "answer p99" is the time from sending to the answer or the close). The last line
is the same data as JSON.

A probe slower than about 1 s during a connection attack is usually a SYN the kernel
dropped from a full accept queue and resent after 1 s: the listen backlog, not the server's
workers. The `SYN drops` column counts them (`TcpExt ListenDrops` of /proc/net/netstat during
the attack; the counter is the whole machine's).

Only the standard library; Linux only (RSS from /proc). 20,000 connections need that many
file descriptors on both sides: the script raises its soft limit to the hard one (the server
inherits it) and scales the connection attacks down, with a warning, when that is too low.
"""

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
HOST = "127.0.0.1"

# The model: y = x . W + b, 4 features, FP32, one output (as benches/compare/serve_vs_mlserver.py).
MODEL = {
    "format": "mlops-linear/1",
    "kind": "linear",
    "datatype": "FP32",
    "input": "input",
    "output": "output",
    "coefficients": [[0.5, -1.25, 2.0, 0.125]],
    "intercept": [0.75],
}
BODY = json.dumps(
    {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
).encode()
INFER = "/v2/models/linear/infer"

FULL = {
    "half-lines": 20_000,
    "idle": 20_000,
    "stalled-bodies": 20_000,
    "big-bodies": (64, 15_000_000),
    "declared": 64,
    "gzip": (4, 786_432),
}
SMALL = {
    "half-lines": 500,
    "idle": 500,
    "stalled-bodies": 500,
    "big-bodies": (8, 1_000_000),
    "declared": 8,
    "gzip": (4, 20_000),
}
ATTACKS = list(FULL)


# --- the server ------------------------------------------------------------------------------
def start_server(binary, model, extra, log):
    cmd = [str(binary), "serve", "--model", f"linear={model}", "--addr", f"{HOST}:0", *extra]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=log, start_new_session=True, text=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.wait()} (log: {log.name})")
        found = re.search(r"listening on http://([\d.]+):(\d+)", line)
        if found:
            port = int(found.group(2))
            # Keep draining stdout so the server never blocks on a full pipe.
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            wait_ready(port, deadline)
            return proc, port
    proc.kill()
    raise RuntimeError("the server did not say where it listens within 120 s")


def wait_ready(port, deadline):
    while time.monotonic() < deadline:
        status, _ = probe(port, 2.0)
        if status == 200:
            return
        time.sleep(0.1)
    raise RuntimeError("/v2/health/ready never answered 200")


def stop_server(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def listen_drops():
    """The kernel's count of connections dropped from full accept queues (whole machine)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines, lines[1:]):
        if names.startswith("TcpExt:") and values.startswith("TcpExt:"):
            row = dict(zip(names.split()[1:], values.split()[1:]))
            return int(row.get("ListenDrops", 0))
    return 0


def rss(pid):
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


# --- the probe process -----------------------------------------------------------------------
HEALTH = b"GET /v2/health/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def probe(port, timeout, payload=HEALTH):
    """One request (by default a readiness probe) on a fresh connection: (status or None,
    seconds to its status line)."""
    start = time.monotonic()
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.settimeout(max(0.001, timeout - (time.monotonic() - start)))
            s.sendall(payload)
            data = b""
            while b"\r\n" not in data:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
        elapsed = time.monotonic() - start
        parts = data.split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        return status, elapsed
    except OSError:
        return None, time.monotonic() - start


def monitor(port, pid, interval, timeout, stop, out):
    """Runs in its own process (no GIL shared with the attack): probes and RSS samples."""
    samples = []
    peak = [rss(pid)]

    def sample_rss():
        while not stop.is_set():
            peak[0] = max(peak[0], rss(pid))
            time.sleep(0.1)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    infer = request(BODY)
    inferred = []
    while not stop.is_set():
        started = time.monotonic()
        status, elapsed = probe(port, timeout)
        samples.append((status == 200, elapsed))
        status, elapsed = probe(port, timeout, infer)
        inferred.append((status == 200, elapsed))
        pause = interval - (time.monotonic() - started)
        if pause > 0:
            stop.wait(pause)
    sampler.join()
    out.send({"samples": samples, "infer": inferred, "rss_peak": peak[0]})
    out.close()


class Monitor:
    def __init__(self, port, pid, args):
        self.stop = multiprocessing.Event()
        self.receive, send = multiprocessing.Pipe(duplex=False)
        self.proc = multiprocessing.Process(
            target=monitor,
            args=(port, pid, args.probe_ms / 1000, args.probe_timeout, self.stop, send),
            daemon=True,
        )
        self.proc.start()

    def finish(self):
        self.stop.set()
        result = self.receive.recv()
        self.proc.join()
        return result


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_summary(samples):
    times = [t for _, t in samples]
    return {
        "probes": len(samples),
        "failed": sum(1 for ok, _ in samples if not ok),
        "p50_ms": percentile(times, 0.50) * 1000,
        "p99_ms": percentile(times, 0.99) * 1000,
        "max_ms": max(times, default=float("nan")) * 1000,
    }


# --- the attacks -----------------------------------------------------------------------------
class Outcome:
    """What the attack's own connections got."""

    def __init__(self):
        self.counts = {}
        self.answer_ms = []

    def add(self, what, started=None):
        self.counts[what] = self.counts.get(what, 0) + 1
        if started is not None:
            self.answer_ms.append((time.monotonic() - started) * 1000)

    def text(self):
        parts = [f"{k} {v}" for k, v in sorted(self.counts.items(), key=lambda kv: -kv[1])]
        if self.answer_ms:
            parts.append(f"answer p99 {percentile(self.answer_ms, 0.99):.0f} ms")
        return ", ".join(parts) or "-"


def status_of(data):
    parts = data.split(b" ", 2)
    if data.startswith(b"HTTP/") and len(parts) > 1 and parts[1].isdigit():
        return int(parts[1])
    return None


async def held(port, payload, until, outcome, connecting):
    """One slot of a connection attack: opens a connection, sends `payload` and holds it;
    when the server closes it, opens the next one, until the hold ends (an attacker does not
    give up after one timeout)."""
    while time.monotonic() < until:
        await held_once(port, payload, until, outcome, connecting)


async def held_once(port, payload, until, outcome, connecting):
    """Opens a connection, sends `payload`, then reads until the server closes it or the hold
    ends; records the first status seen (or that none came)."""
    async with connecting:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 30)
            writer.write(payload)
            await writer.drain()
        except (OSError, asyncio.TimeoutError):
            outcome.add("connect failed")
            await asyncio.sleep(0.1)
            return
    started = time.monotonic()
    first = b""
    status = None
    try:
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                outcome.add(f"{status} then open at end" if status else "open at end")
                break
            chunk = await asyncio.wait_for(reader.read(4096), remaining)
            if not chunk:
                outcome.add(f"{status} then closed" if status else "closed unanswered", started)
                break
            if status is None:
                first += chunk
                status = status_of(first[:64]) if b" " in first[9:] or len(first) > 12 else None
    except asyncio.TimeoutError:
        outcome.add(f"{status} then open at end" if status else "open at end")
    except OSError:
        outcome.add(f"{status} then reset" if status else "reset unanswered", started)
    finally:
        writer.close()


async def repeated(port, payload, until, outcome):
    """Sends `payload` (a whole request) on fresh connections one after another until the hold
    ends; records each answer's status and time."""
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), 30)
        except (OSError, asyncio.TimeoutError):
            outcome.add("connect failed")
            await asyncio.sleep(0.1)
            continue
        try:
            # Write and read at once: the server may answer (413, 503) before the body is sent.
            send = asyncio.ensure_future(write_all(writer, payload))
            head = await asyncio.wait_for(reader.readuntil(b"\r\n"), max(1, until - started + 30))
            status = status_of(head)
            outcome.add(str(status) if status else "garbled", started)
            send.cancel()
        except asyncio.IncompleteReadError:
            outcome.add("closed unanswered", started)
        except asyncio.TimeoutError:
            outcome.add("no answer")
        except OSError:
            outcome.add("reset unanswered", started)
        finally:
            writer.close()


async def write_all(writer, payload):
    try:
        writer.write(payload)
        await writer.drain()
    except OSError:
        pass


def request(body, extra_headers=""):
    head = (
        f"POST {INFER} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"{extra_headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def padded_body(size):
    return BODY + b" " * max(0, size - len(BODY))


def gzip_bomb(members):
    empty = gzip.compress(b"", mtime=0)
    return empty * members + gzip.compress(BODY, mtime=0)


async def attack(name, size, port, hold):
    outcome = Outcome()
    until = time.monotonic() + hold
    connecting = asyncio.Semaphore(256)
    if name == "half-lines":
        payload = b"GET /v2/hea"
        await asyncio.gather(*(held(port, payload, until, outcome, connecting) for _ in range(size)))
    elif name == "idle":
        payload = b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n"
        await asyncio.gather(*(held(port, payload, until, outcome, connecting) for _ in range(size)))
    elif name == "stalled-bodies":
        payload = (
            f"POST {INFER} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n"
        ).encode() + b'{"inputs":'
        await asyncio.gather(*(held(port, payload, until, outcome, connecting) for _ in range(size)))
    elif name == "big-bodies":
        clients, bytes_ = size
        payload = request(padded_body(bytes_))
        await asyncio.gather(*(repeated(port, payload, until, outcome) for _ in range(clients)))
    elif name == "declared":
        payload = (
            f"POST {INFER} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Content-Length: 1073741824\r\n\r\n"
        ).encode() + b'{"inputs":'
        await asyncio.gather(*(repeated(port, payload, until, outcome) for _ in range(size)))
    elif name == "gzip":
        clients, members = size
        payload = request(gzip_bomb(members), "Content-Encoding: gzip\r\n")
        await asyncio.gather(*(repeated(port, payload, until, outcome) for _ in range(clients)))
    else:
        raise ValueError(name)
    return outcome


# --- one run ---------------------------------------------------------------------------------
def describe(name, size):
    if name in ("half-lines", "idle", "stalled-bodies"):
        return f"{name} ×{size:,}"
    if name == "big-bodies":
        return f"big-bodies {size[0]}×{size[1] / 1e6:g} MB"
    if name == "declared":
        return f"declared 1 GiB ×{size}"
    return f"gzip {size[0]}×{size[1]:,} members"


def run_one(name, size, args, model, work):
    log = open(work / f"serve-{name}.log", "wb")
    proc, port = start_server(args.mlops_bin, model, args.server_arg, log)
    try:
        time.sleep(0.5)
        before = rss(proc.pid)
        mon = Monitor(port, proc.pid, args)
        time.sleep(0.3)
        started = time.monotonic()
        drops = listen_drops()
        outcome = asyncio.run(attack(name, size, port, args.hold))
        drops = listen_drops() - drops
        attack_s = time.monotonic() - started
        during = mon.finish()
        # Let what the attack left behind settle, then measure the quiet server.
        time.sleep(args.settle)
        mon = Monitor(port, proc.pid, args)
        time.sleep(min(2.0, max(0.5, args.settle)))
        after = mon.finish()
        alive = proc.poll() is None
        row = {
            "attack": describe(name, size),
            "health": latency_summary(during["samples"]),
            "infer": latency_summary(during["infer"]),
            "health_after": latency_summary(after["samples"]),
            "rss_before_mb": before / 1e6,
            "rss_peak_mb": during["rss_peak"] / 1e6,
            "rss_after_mb": rss(proc.pid) / 1e6,
            "attack_s": attack_s,
            "listen_drops": drops,
            "outcome": outcome.text(),
            "server_alive": alive,
        }
    finally:
        stop_server(proc)
        log.close()
    return row


def print_table(rows):
    header = (
        f"{'attack':<32} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'failed':>9} "
        f"{'infer failed':>12} "
        f"{'RSS MB before/peak/after':>25} {'p99 after':>9} {'SYN drops':>9}  "
        "outcome of the attack's requests"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        h, a = r["health"], r["health_after"]
        rss_text = f"{r['rss_before_mb']:.0f}/{r['rss_peak_mb']:.0f}/{r['rss_after_mb']:.0f}"
        failed = f"{h['failed']}/{h['probes']}"
        infer = f"{r['infer']['failed']}/{r['infer']['probes']}"
        alive = "" if r["server_alive"] else " [server died]"
        print(
            f"{r['attack']:<32} {h['p50_ms']:>8.1f} {h['p99_ms']:>8.1f} {h['max_ms']:>8.1f} "
            f"{failed:>9} {infer:>12} {rss_text:>25} {a['p99_ms']:>9.1f} {r['listen_drops']:>9}  "
            f"{r['outcome']}{alive}"
        )


def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlops-bin", required=True, type=Path, help="the `mlops` binary")
    parser.add_argument("--small", action="store_true", help="smoke sizes (see the docs)")
    parser.add_argument("--attacks", default=",".join(ATTACKS), help="comma-separated")
    parser.add_argument("--hold", type=float, help="seconds per attack (default 20, small 4)")
    parser.add_argument("--settle", type=float, help="seconds before `after` (default 5, small 1)")
    parser.add_argument("--probe-ms", type=float, default=50, help="pause between probes")
    parser.add_argument("--probe-timeout", type=float, default=15, help="seconds per probe")
    parser.add_argument(
        "--server-arg", action="append", default=[], help="an extra `mlops serve` argument"
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    sizes = dict(SMALL if args.small else FULL)
    args.hold = args.hold if args.hold is not None else (4.0 if args.small else 20.0)
    args.settle = args.settle if args.settle is not None else (1.0 if args.small else 5.0)
    names = [a.strip() for a in args.attacks.split(",") if a.strip()]
    unknown = [a for a in names if a not in ATTACKS]
    if unknown:
        parser.error(f"unknown attacks {unknown}; known: {ATTACKS}")
    if not args.mlops_bin.is_file():
        parser.error(f"{args.mlops_bin} is not a file")

    needed = max(v for v in sizes.values() if isinstance(v, int)) + 1024
    limit = raise_fd_limit(needed)
    if limit < needed:
        # Client and server each hold one descriptor per connection.
        scaled = max(1, limit - 1024)
        print(
            f"warning: {limit} file descriptors allowed (hard limit); connection attacks use "
            f"{scaled} connections instead of {needed - 1024}",
            file=sys.stderr,
        )
        for k, v in sizes.items():
            if isinstance(v, int) and v > scaled:
                sizes[k] = scaled

    with tempfile.TemporaryDirectory(prefix="attack-serve-") as tmp:
        work = Path(tmp)
        model = work / "linear.json"
        model.write_text(json.dumps(MODEL))
        rows = []
        for name in names:
            print(f"[{describe(name, sizes[name])}] hold {args.hold:g} s ...", file=sys.stderr)
            rows.append(run_one(name, sizes[name], args, model, work))
        print(
            f"mlops serve {' '.join(args.server_arg)} ({args.mlops_bin}); health = "
            f"/v2/health/ready on a fresh connection every {args.probe_ms:g} ms during a "
            f"{args.hold:g} s hold; after = {args.settle:g} s later"
        )
        print_table(rows)
        print(json.dumps(rows))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
