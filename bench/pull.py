"""Benchmark: pull commands on 90085 at a steady rate; prints p50/p99 latency.

    .venv/bin/python bench/pull.py [--rate 200] [--seconds 60] [--mode smpp|engine]

`--mode engine` measures the commands engine in-process: from the moment an MO is due (open loop:
MOs are offered at `--rate` per second whatever happens) to its reply queued in the outbox
(`inbound.receive()` stores the MO, parses, looks up, renders and `send()`s the reply).

`--mode smpp` (when the gateway and simulator exist) measures the real path: the simulator sends
a deliver_sm per MO over TCP, the gateway hands it to the engine, the gateway drains the reply and
submits it; the figure is deliver_sm-in (at the gateway) to reply submit_sm-out (at the SMSC).

The workload mixes what citizens send: owners asking their fines/expiry in Arabic and English,
strangers asking about others' plates, HELP, MORE, typos. Runs on a fresh SQLite file (WAL) with
the demo registry loaded; rate limits are lifted (every number would otherwise hit 10/min).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time


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


def report(name: str, latencies_ms: list[float], offered: int, elapsed: float) -> None:
    latencies_ms = sorted(latencies_ms)
    if not latencies_ms:
        print(f"{name}: no replies measured")
        return
    q = statistics.quantiles(latencies_ms, n=100, method="inclusive")
    print(f"{name}: {len(latencies_ms)}/{offered} MOs answered in {elapsed:.1f}s "
          f"({len(latencies_ms) / elapsed:.0f}/s); latency p50 {q[49]:.1f} ms, p90 {q[89]:.1f} ms, "
          f"p99 {q[98]:.1f} ms, max {latencies_ms[-1]:.1f} ms")


def setup_django() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
    django.setup()
    import io

    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("demo_data", stdout=io.StringIO())


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200, help="MOs per second")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--mode", choices=["smpp", "engine"], default="smpp")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.mode == "engine":
            run_engine(args.rate, args.seconds)
        else:
            from bench_pull_smpp import run_smpp  # noqa: PLC0415 - see below

            run_smpp(args.rate, args.seconds)
        return
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ROPSMS_VAR_DIR": tmp, "ROPSMS_SQLITE_PATH": f"{tmp}/bench.sqlite3",
               "ROPSMS_PULL_PER_MINUTE": "1000000", "ROPSMS_PULL_PER_DAY": "1000000",
               "ROPSMS_PULL_PROBE_LIMIT": "1000000", "ROPSMS_LOG_LEVEL": "WARNING"}
        env.pop("DATABASE_URL", None)
        argv = [sys.executable, __file__, "--child", "--mode", args.mode, "--rate", str(args.rate),
                "--seconds", str(args.seconds)]
        subprocess.run(argv, env=env, check=True)


if __name__ == "__main__":
    main()
