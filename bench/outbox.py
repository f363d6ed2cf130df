"""Benchmark: `send_many()` of N messages (default 50,000); prints messages per second queued.

    .venv/bin/python bench/outbox.py [--n 50000] [--pg postgres://user:pw@127.0.0.1/db]

Runs on a fresh SQLite file (WAL, the embedded default) and, when --pg or ROPSMS_BENCH_PG_URL is
given, on PostgreSQL. Each backend runs in its own process so Django settings stay per backend.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time


def run_one(n: int) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from ropsms.messaging.models import Message
    from ropsms.messaging.services import send_many

    call_command("migrate", verbosity=0, interactive=False)
    Message.objects.all().delete()
    numbers = [f"9{i:07d}" for i in range(1_000_000, 1_000_000 + n)]
    text = "Dear staff member, your salary for November has been credited to your account."
    best = 0.0
    for round_no in range(3):
        t0 = time.perf_counter()
        result = send_many(recipients=numbers, text=text, producer="bench", batch_name=f"bench {round_no}")
        elapsed = time.perf_counter() - t0
        assert result.queued == n, result
        best = max(best, n / elapsed)
        rate = n / elapsed
        print(f"  {connection.vendor:10s} round {round_no + 1}: {n} queued in {elapsed:.2f}s = {rate:,.0f} msg/s")
    print(f"{connection.vendor}: best {best:,.0f} msg/s queued (send_many, {n} messages)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--pg", default=os.environ.get("ROPSMS_BENCH_PG_URL", ""))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_one(args.n)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ROPSMS_VAR_DIR": tmp, "ROPSMS_SQLITE_PATH": f"{tmp}/bench.sqlite3"}
        env.pop("DATABASE_URL", None)
        subprocess.run([sys.executable, __file__, "--child", "--n", str(args.n)], env=env, check=True)
        if args.pg:
            env = {**os.environ, "ROPSMS_VAR_DIR": tmp, "DATABASE_URL": args.pg}
            subprocess.run([sys.executable, __file__, "--child", "--n", str(args.n)], env=env, check=True)
        else:
            print("postgresql: skipped (give --pg URL or ROPSMS_BENCH_PG_URL)")


if __name__ == "__main__":
    main()
