"""Benchmark: pull commands on 90085 at a steady rate; prints p50/p99 latency.

    .venv/bin/python bench/pull.py [--rate 200] [--seconds 60] [--mode smpp|engine] [--pg URL]

`--mode engine` measures the commands engine in-process: from the moment an MO is due (open loop:
MOs are offered at `--rate` per second whatever happens) to its reply queued in the outbox
(`inbound.receive()` stores the MO, parses, looks up, renders and `send()`s the reply).

`--mode smpp` (when the gateway and simulator exist) measures the real path: the simulator sends
a deliver_sm per MO over TCP, the gateway hands it to the engine, the gateway drains the reply and
submits it; the figure is deliver_sm-in (at the gateway) to reply submit_sm-out (at the SMSC).

The workload mixes what citizens send: owners asking their fines/expiry in Arabic and English,
strangers asking about others' plates, HELP, MORE, typos. Runs on a fresh SQLite file (WAL), or a
scratch PostgreSQL database with `--pg`, with the demo registry loaded; rate limits are lifted
(every number would otherwise hit 10/min). The gateway's MO workers: ROPSMS_GATEWAY_MO_PROCESSES.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime


def workload(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """(sender national number, text) pairs drawn from the demo registry."""
    from ropsms.eservices.models import DrivingLicence, Vehicle

    rng = random.Random(seed)
    vehicles = list(Vehicle.objects.select_related("owner").exclude(owner__mobile="")[:2000])
    licences = list(DrivingLicence.objects.select_related("person")[:2000])
    out = []
    for _ in range(n):
        v = rng.choice(vehicles)
        owner = v.owner.mobile.removeprefix("+968")
        lic = rng.choice(licences)
        roll = rng.random()
        if roll < 0.35:
            out.append((owner, f"FINES {v.plate_number} {v.plate_code}"))
        elif roll < 0.55:
            digits = v.plate_number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
            out.append((owner, f"مخالفات {digits} {v.plate_code}"))
        elif roll < 0.65:
            out.append((lic.person.mobile.removeprefix("+968"), f"رخصة {lic.person.civil_id}"))
        elif roll < 0.75:
            out.append((f"9{rng.randint(8000000, 8999999)}", f"FINES {v.plate_number} {v.plate_code}"))
        elif roll < 0.82:
            out.append((owner, f"REG {v.plate_number}{v.plate_code.lower()}"))
        elif roll < 0.90:
            out.append((f"7{rng.randint(8000000, 8999999)}", rng.choice(["HELP", "مساعدة", "MORE"])))
        else:
            out.append((owner, rng.choice(["FNIES 123 A", "مخالفت", "hello", "?"])))
    return out


def report(name: str, latencies_ms: list[float], offered: int, elapsed: float | None) -> None:
    latencies_ms = sorted(latencies_ms)
    if not latencies_ms:
        print(f"{name}: no replies measured")
        return
    q = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    done = (f"{len(latencies_ms)}/{offered} MOs answered in {elapsed:.1f}s ({len(latencies_ms) / elapsed:.0f}/s); "
            if elapsed else "")
    print(f"{name}: {done}latency p50 {q[49]:.1f} ms, p90 {q[89]:.1f} ms, p99 {q[98]:.1f} ms, "
          f"max {latencies_ms[-1]:.1f} ms")


def setup_django(*, all_demo: bool = True) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
    django.setup()
    import io

    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0, interactive=False)
    if all_demo:
        call_command("demo_data", stdout=io.StringIO())
        return
    from ropsms.eservices import demo as eservices_demo
    from ropsms.smpp import demo as smpp_demo

    with transaction.atomic():
        smpp_demo.load(io.StringIO())
        eservices_demo.load(io.StringIO())


def run_engine(rate: int, seconds: int) -> None:
    setup_django()
    from ropsms.eservices.models import Exchange
    from ropsms.messaging import inbound

    n = rate * seconds
    mos = workload(n)
    for sender, text in mos[:50]:  # warm-up (caches, first queries)
        inbound.receive(msisdn="968" + sender, to="90085", text=text)
    latencies = []
    start = time.perf_counter()
    for i, (sender, text) in enumerate(mos):
        due = start + i / rate
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        inbound.receive(msisdn="968" + sender, to="90085", text=text)
        latencies.append((time.perf_counter() - due) * 1000)
    elapsed = time.perf_counter() - start
    results = dict.fromkeys(Exchange.Result.values, 0)
    for r in Exchange.objects.values_list("result", flat=True):
        results[r] += 1
    print("results:", ", ".join(f"{k} {v}" for k, v in results.items() if v))
    report("engine (MO due -> reply queued)", latencies, n, elapsed)


def run_smpp(rate: int, seconds: int) -> None:
    """The simulator in this process (its clock stamps both ends), the gateway as a real process."""
    import asyncio

    setup_django(all_demo=False)
    from django.conf import settings
    from django.db import connections

    from ropsms.smpp.simulator.smsc import Simulator

    mos = workload(rate * seconds + 100)
    connections.close_all()  # the gateway process owns the writes from here on
    port = int(settings.ROPSMS["SIM_PORT"])

    async def drive() -> None:
        sim = Simulator(port=port, web_port=None, receipt_delay=0.05, seed=7, enquire_link_interval=0)
        await sim.start()
        gateway = subprocess.Popen([sys.executable, "-m", "ropsms.cli", "gateway"], stdout=subprocess.DEVNULL)
        try:
            if not await sim.wait_until(lambda: bool(sim.bound_sessions()), timeout=60):
                raise SystemExit("the gateway did not bind to the simulator")
            for sender, text in mos[:100]:  # warm-up
                sim.send_mo(sender, text)
            await sim.wait_until(lambda: _mt_count(sim) >= 100, 30)
            sim.phones.clear()
            sent = []
            cpu_before = _cpu(gateway.pid)
            start = time.perf_counter()
            for i, (sender, text) in enumerate(mos[100:]):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sim.send_mo(sender, text)
                sent.append(sender)
            offered_for = time.perf_counter() - start
            await sim.wait_until(lambda: _mt_count(sim) >= len(sent), timeout=60)
            elapsed = time.perf_counter() - start
            cpu_after = _cpu(gateway.pid)
            pairs = _pair(sim)
            print(f"offered {len(sent)} MOs in {offered_for:.1f}s ({len(sent) / offered_for:.0f}/s)")
            report("smpp (deliver_sm out of the SMSC -> reply submit_sm into the SMSC)", [lat for _, lat in pairs],
                   len(sent), elapsed)
            _worst_seconds(pairs)
            per_mo = {k: (cpu_after.get(k, 0.0) - cpu_before.get(k, 0.0)) / max(1, len(sent)) * 1000 for k in cpu_after}
            print("  CPU per MO: " + ", ".join(f"{k} {v:.2f} ms" for k, v in per_mo.items())
                  + f" (machine: {os.cpu_count()} cores)")
            await asyncio.to_thread(_breakdown, _mo_times(sim))
        finally:
            gateway.terminate()
            gateway.wait(30)
            await sim.stop()

    asyncio.run(drive())


def _breakdown(sent_at: dict[str, list[float]]) -> None:
    """Where the time went, from the database: MO stored -> reply queued -> reply submitted."""
    from django.db import connections

    from ropsms.eservices.models import Exchange

    connections.close_all()
    intake, engine, drain = [], [], []
    start = min(min(times) for times in sent_at.values())
    rows = (Exchange.objects.exclude(reply=None).filter(mo__received_at__gte=datetime.fromtimestamp(start, UTC))
            .order_by("mo_id").values_list("mo__msisdn", "mo__received_at", "reply__created_at",
                                           "reply__submitted_at"))
    seen: dict[str, int] = {}
    for msisdn, received, queued, submitted in rows:
        number = msisdn.removeprefix("+")
        n = seen[number] = seen.get(number, -1) + 1
        if n < len(sent_at.get(number, ())):  # the n-th MO stored from a phone is its n-th sent
            intake.append((received.timestamp() - sent_at[number][n]) * 1000)
        engine.append((queued - received).total_seconds() * 1000)
        if submitted:
            drain.append((submitted - queued).total_seconds() * 1000)
    report("  of which deliver_sm -> MO stored (gateway, MO worker queue)", intake, len(rows), None)
    report("  of which MO stored -> reply queued (engine)", engine, len(rows), None)
    report("  of which reply queued -> submit_sm_resp (gateway outbox)", drain, len(rows), None)


def _worst_seconds(pairs: list[tuple[float, float]], show: int = 3) -> None:
    """The slowest seconds of the run: a stall shows up here, a steady tail does not."""
    if not pairs:
        return
    start = min(at for at, _ in pairs)
    by_second: dict[int, list[float]] = {}
    for at, latency in pairs:
        by_second.setdefault(int(at - start), []).append(latency)
    worst = sorted(by_second.items(), key=lambda kv: -max(kv[1]))[:show]
    print("  slowest seconds: " + ", ".join(f"s{sec} max {max(lats):.0f} ms" for sec, lats in worst))


def _cpu(pid: int) -> dict[str, float]:
    """CPU seconds of the gateway process and of its MO workers (its children), and of this process."""
    import psutil

    gateway = psutil.Process(pid)
    times = {"gateway": sum(gateway.cpu_times()[:2]), "MO workers": 0.0}
    for child in gateway.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            times["MO workers"] += sum(child.cpu_times()[:2])
    times["simulator + bench"] = sum(psutil.Process().cpu_times()[:2])
    return times


def _mo_times(sim) -> dict[str, list[float]]:
    return {number: [e.at for e in box if e.direction == "mo"] for number, box in sim.phones._boxes.items()}


def _mt_count(sim) -> int:
    return sum(1 for box in sim.phones._boxes.values() for e in box if e.direction == "mt")


def _pair(sim) -> list[tuple[float, float]]:
    """Per phone, the n-th reply answers the n-th MO (every MO gets exactly one reply):
    (MO sent at, latency in ms)."""
    pairs = []
    for box in sim.phones._boxes.values():
        waiting = []
        for entry in box:
            if entry.direction == "mo":
                waiting.append(entry.at)
            elif waiting:
                sent = waiting.pop(0)
                pairs.append((sent, (entry.at - sent) * 1000))
    return pairs


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200, help="MOs per second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--mode", choices=["smpp", "engine"], default="smpp")
    parser.add_argument("--pg", metavar="URL", help="run on PostgreSQL (a scratch database is created next to URL)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        (run_engine if args.mode == "engine" else run_smpp)(args.rate, args.seconds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ROPSMS_VAR_DIR": tmp, "ROPSMS_SQLITE_PATH": f"{tmp}/bench.sqlite3",
               "ROPSMS_PULL_PER_MINUTE": "1000000", "ROPSMS_PULL_PER_DAY": "1000000",
               "ROPSMS_PULL_PROBE_LIMIT": "1000000", "ROPSMS_LOG_LEVEL": "WARNING",
               "ROPSMS_SIM_PORT": str(free_port()), "DJANGO_SETTINGS_MODULE": "ropsms.settings"}
        env.pop("DATABASE_URL", None)
        drop = None
        if args.pg:
            from throughput import scratch_pg

            env["DATABASE_URL"], drop = scratch_pg(args.pg, "ropsms_bench_pull")
        argv = [sys.executable, __file__, "--child", "--mode", args.mode, "--rate", str(args.rate),
                "--seconds", str(args.seconds)]
        try:
            subprocess.run(argv, env=env, check=True)
        finally:
            if drop is not None:
                drop()


if __name__ == "__main__":
    main()
