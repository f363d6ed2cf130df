"""Gateway throughput: queue N messages, run `ropsms gateway` against the simulator, measure.

    .venv/bin/python bench/throughput.py                 # 20,000 messages, SQLite file in a temp dir
    .venv/bin/python bench/throughput.py -n 5000 --pg postgres://ropsms:ropsms@127.0.0.1:5432/ropsms

The simulator runs in this process (unthrottled, instant receipts); the gateway is a real child
process (its database thread, batched writer and MO pool as in production). Prints submit_sm/s,
receipts applied/s, end-to-end messages/s (queued -> delivered), the gateway's CPU time and peak
RSS. PostgreSQL runs use a throw-away database (created and dropped here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=20_000, help="messages to queue (default 20,000)")
    parser.add_argument("--pg", metavar="URL", help="run on PostgreSQL (a scratch database is created next to URL)")
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--parts", type=int, default=1, help="SMS parts per message (1 = 160 GSM characters)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--profile", metavar="SVG", help="record the gateway with py-spy into this flame graph")
    return parser.parse_args()


def scratch_pg(url: str, name: str = "ropsms_bench_throughput") -> tuple[str, callable]:
    """A new empty database next to `url` (the other benches use this too); returns (URL, drop)."""
    import psycopg

    parts = urlparse(url)
    admin = psycopg.connect(url, autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()

    return urlunparse(parts._replace(path="/" + name)), drop


def main() -> None:
    args = parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ropsms-bench-"))
    env = os.environ.copy()
    env.update(ROPSMS_VAR_DIR=str(tmp), ROPSMS_SQLITE_PATH=str(tmp / "bench.sqlite3"),
               ROPSMS_LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="ropsms.settings")
    drop = None
    if args.pg:
        env["DATABASE_URL"], drop = scratch_pg(args.pg)
    else:
        env.pop("DATABASE_URL", None)
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from ropsms.messaging.models import Message
    from ropsms.messaging.services import send_many
    from ropsms.smpp.models import Bind, Operator, Route
    from ropsms.smpp.simulator.smsc import Simulator

    try:
        call_command("migrate", interactive=False, verbosity=0)
        asyncio.run(run(args, env, tmp, Message, send_many, Bind, Operator, Route, Simulator, connection))
    finally:
        connection.close()
        if drop:
            drop()


async def run(args, env, tmp, Message, send_many, Bind, Operator, Route, Simulator, connection) -> None:
    import psutil

    sim = Simulator(port=0, web_port=None, receipt_delay=0.0, seed=1, enquire_link_interval=0, rules=[])
    await sim.start()

    def setup() -> str:
        operator = Operator.objects.create(name="Bench")
        Route.objects.create(prefix="", operator=operator)
        Bind.objects.create(operator=operator, name="bench", host="127.0.0.1", port=sim.port, system_id="ropsms",
                            password="secret", tps=1_000_000, window=args.window)
        connection.close()
        return ("Royal Oman Police: your vehicle registration expires soon, renew it online. " * 10)[
            : 153 * args.parts if args.parts > 1 else 160]

    def queue(text: str) -> float:
        started = time.perf_counter()
        send_many(recipients=[f"+9689{1000000 + i:07d}" for i in range(args.n)], text=text, producer="bench")
        connection.close()
        return time.perf_counter() - started

    text = await asyncio.to_thread(setup)
    argv = [sys.executable, "-m", "ropsms.cli", "gateway", "--status-file", str(tmp / "status.json")]
    if args.profile:
        fmt = ["--format", "raw"] if args.profile.endswith(".txt") else []
        argv = [str(Path(sys.executable).parent / "py-spy"), "record", "-o", args.profile, *fmt, "--threads",
                "--rate", "200", "--", *argv]
    proc = subprocess.Popen(argv, env=env, cwd=str(ROOT))
    gw = psutil.Process(proc.pid)
    while not sim.stats.get("binds"):  # the gateway is up and bound: now queue the work
        await asyncio.sleep(0.05)
        if proc.poll() is not None:
            sys.exit("the gateway exited before binding")
    await asyncio.sleep(0.5)
    procs = [gw, *gw.children(recursive=True)]
    cpu_before = sum(sum(p.cpu_times()[:2]) for p in procs)
    me = psutil.Process()
    sim_cpu_before = sum(me.cpu_times()[:2])
    queue_s = await asyncio.to_thread(queue, text)
    t_start = time.perf_counter()
    print(f"{args.n} messages queued in {queue_s:.2f}s ({args.n / queue_s:,.0f}/s) on {connection.vendor}, "
          "gateway already bound")
    peak_rss = 0
    t_first = t_submitted = t_done = None

    def delivered() -> int:
        n = Message.objects.filter(state="delivered").count()
        connection.close()
        return n

    deadline = time.monotonic() + args.timeout
    done = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        try:
            procs = [gw, *gw.children(recursive=True)]
            peak_rss = max(peak_rss, max(p.memory_info().rss for p in procs))
        except psutil.NoSuchProcess:
            break
        submits = sim.stats.get("submits_accepted", 0)
        now = time.perf_counter()
        if submits and t_first is None:
            t_first = now
        if submits >= args.n * args.parts and t_submitted is None:
            t_submitted = now
        done = await asyncio.to_thread(delivered)
        if done >= args.n:
            t_done = now
            break
    cpu = sum(sum(p.cpu_times()[:2]) for p in [gw, *gw.children(recursive=True)]) - cpu_before
    sim_cpu = sum(me.cpu_times()[:2]) - sim_cpu_before
    proc.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
    proc.wait(timeout=60)
    await sim.stop()
    if t_done is None or t_first is None:
        print(f"did not finish: {done}/{args.n} delivered, simulator {dict(sim.stats)}")
        sys.exit(1)
    submit_s = (t_submitted or t_done) - t_first
    print(f"submit_sm/s            {sim.stats['submits_accepted'] / submit_s:,.0f}  "
          f"({sim.stats['submits_accepted']} submit_sm in {submit_s:.2f}s)")
    print(f"receipts applied/s     {args.n / (t_done - t_first):,.0f}  (all {args.n} final {t_done - t_first:.2f}s "
          "after the first submit)")
    print(f"end to end msg/s       {args.n / (t_done - t_start):,.0f}  (from the commit of the queue to the last "
          f"delivered: {t_done - t_start:.2f}s)")
    share = cpu / (t_done - t_start) * 100
    print(f"gateway CPU            {cpu:.1f}s = {cpu / args.n * 1e6:.0f} us/msg ({share:.0f}% of one core), "
          f"peak RSS {peak_rss / 2**20:.0f} MiB")
    print(f"simulator process CPU  {sim_cpu:.1f}s (this process: simulator + polling)")
    dup = sim.stats["submits_accepted"] - args.n * args.parts
    print(f"duplicates             {dup}; simulator stats {dict(sim.stats)}")


if __name__ == "__main__":
    main()
