"""Benchmark the integration API: 50 concurrent clients posting single messages, then batches.

Runs `ropsms web` (uvicorn) on a temporary SQLite database, makes one API client (no quota, no rate
limit), then drives it over HTTP with httpx from this process. Prints accepted requests per second
for singles and accepted (durably queued: committed rows, counted afterwards) messages per second
for batches. A figure, not an assert: measure when the machine is otherwise idle.

    .venv/bin/python bench/api.py [--clients 50] [--singles 5000] [--batches 100] [--batch-size 1000]
                                  [--workers 1] [--pg postgres://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Conn:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator shares the two
    cores with the server, and httpx would spend more CPU per request than the server does."""

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"POST {path} HTTP/1.1\r\n{self.head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_phase(port: int, key: str, clients: int, total: int, make_body) -> tuple[int, int, float]:
    accepted = failed = 0
    counter = iter(range(total))

    async def worker():
        nonlocal accepted, failed
        conn = Conn("127.0.0.1", port, key)
        try:
            for i in counter:
                path, body = make_body(i)
                status, answer = await conn.post(path, json.dumps(body).encode())
                if status == 201:
                    accepted += 1
                else:
                    failed += 1
                    if failed <= 3:
                        print(f"  refused: {status} {answer[:200]!r}")
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return accepted, failed, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--singles", type=int, default=5000)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--pg", help="PostgreSQL URL instead of a temporary SQLite file")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ropsms-bench-api-"))
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
    env.update(ROPSMS_VAR_DIR=str(tmp), ROPSMS_SQLITE_PATH=str(tmp / "bench.sqlite3"), ROPSMS_LOG_LEVEL="WARNING")
    if args.pg:
        env["DATABASE_URL"] = args.pg
    os.environ.update(env)
    if not args.pg:
        os.environ.pop("DATABASE_URL", None)
    cli = [sys.executable, "-m", "ropsms.cli"]
    subprocess.run([*cli, "migrate", "-v0"], env=env, check=True, cwd=tmp)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
    import django

    django.setup()
    from ropsms.api.keys import issue_key
    from ropsms.api.models import ApiClient
    from ropsms.messaging.models import Message

    client, _ = ApiClient.objects.get_or_create(slug="bench", defaults={
        "name": "Bench", "scopes": "send,batch,read", "daily_quota": 0, "rate_limit": 0})
    key = issue_key(client=client, actor="bench").key
    before = Message.objects.filter(producer="api:bench").count()

    port = free_port()
    web = subprocess.Popen([*cli, "web", "--port", str(port), "--workers", str(args.workers)], env=env, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(300):
            try:
                httpx.get(base + "/api/v1/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        db = "PostgreSQL" if args.pg else "SQLite (WAL)"
        print(f"ropsms web on {base}, {args.workers} uvicorn worker(s), {db}, {args.clients} concurrent clients")

        asyncio.run(run_phase(port, key, args.clients, 200, lambda i: ("/api/v1/messages",
                                                                        {"to": "91234567", "text": "warm-up"})))
        server = [psutil.Process(web.pid), *psutil.Process(web.pid).children(recursive=True)]

        def cpu() -> float:
            return sum(p.cpu_times().user + p.cpu_times().system for p in server)

        cpu0 = cpu()
        ok, bad, secs = asyncio.run(run_phase(
            port, key, args.clients, args.singles,
            lambda i: ("/api/v1/messages", {"to": f"9{1000000 + i % 8999999:07d}", "text": f"Single message {i}",
                                            "client_ref": f"s{i}"})))
        cpu1 = cpu()
        print(f"singles: {ok} accepted, {bad} refused in {secs:.2f} s = {ok / secs:,.0f} req/s "
              f"(server CPU {1000 * (cpu1 - cpu0) / max(1, ok + bad):.2f} ms per request)")

        size = args.batch_size
        ok_b, bad_b, secs_b = asyncio.run(run_phase(
            port, key, args.clients, args.batches,
            lambda i: ("/api/v1/batches", {"to": [f"9{1000000 + (i * size + j) % 8999999:07d}" for j in range(size)],
                                           "text": f"Batch {i}: road closure on Sultan Qaboos Street"})))
        msgs = ok_b * size
        print(f"batches: {ok_b} x {size} accepted, {bad_b} refused in {secs_b:.2f} s = {msgs / secs_b:,.0f} msg/s "
              f"(server CPU {1e6 * (cpu() - cpu1) / max(1, msgs):.1f} µs per message)")
        print(f"machine load average during the run: {os.getloadavg()[0]:.1f} (2 cores; other work skews the figures)")
    finally:
        web.terminate()
        web.wait(timeout=30)
    written = Message.objects.filter(producer="api:bench").count() - before
    expected = 200 + ok + msgs
    print(f"durably queued: {written:,} rows in the outbox (expected {expected:,})")


if __name__ == "__main__":
    main()
