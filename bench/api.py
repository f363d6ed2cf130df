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
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def run_phase(base: str, key: str, clients: int, total: int, make_body) -> tuple[int, int, float]:
    import httpx

    accepted = failed = 0
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                 timeout=120) as http:
        async def worker():
            nonlocal accepted, failed
            for i in counter:
                path, body = make_body(i)
                r = await http.post(path, json=body)
                if r.status_code == 201:
                    accepted += 1
                else:
                    failed += 1
                    if failed <= 3:
                        print(f"  refused: {r.status_code} {r.text[:200]}")

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

        asyncio.run(run_phase(base, key, args.clients, 200, lambda i: ("/api/v1/messages",
                                                                        {"to": "91234567", "text": "warm-up"})))
        ok, bad, secs = asyncio.run(run_phase(
            base, key, args.clients, args.singles,
            lambda i: ("/api/v1/messages", {"to": f"9{1000000 + i % 8999999:07d}", "text": f"Single message {i}",
                                            "client_ref": f"s{i}"})))
        print(f"singles: {ok} accepted, {bad} refused in {secs:.2f} s = {ok / secs:,.0f} req/s")

        size = args.batch_size
        ok_b, bad_b, secs_b = asyncio.run(run_phase(
            base, key, args.clients, args.batches,
            lambda i: ("/api/v1/batches", {"to": [f"9{1000000 + (i * size + j) % 8999999:07d}" for j in range(size)],
                                           "text": f"Batch {i}: road closure on Sultan Qaboos Street"})))
        msgs = ok_b * size
        print(f"batches: {ok_b} x {size} accepted, {bad_b} refused in {secs_b:.2f} s = {msgs / secs_b:,.0f} msg/s")
    finally:
        web.terminate()
        web.wait(timeout=30)
    written = Message.objects.filter(producer="api:bench").count() - before
    expected = 200 + ok + msgs
    print(f"durably queued: {written:,} rows in the outbox (expected {expected:,})")


if __name__ == "__main__":
    main()
