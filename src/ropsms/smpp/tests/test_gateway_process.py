"""`ropsms gateway` as a real process on a SQLite file: kill -9 mid-batch, restart, SIGTERM.

Nothing is lost (every message reaches a final state), duplicates stay within the in-flight
window and are counted (the simulator sees every submit_sm), and a graceful stop unbinds and
leaves no claim behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ropsms.smpp.tests.gateway_helpers import simulator, wait_until

pytestmark = pytest.mark.slow

N = 400
WINDOW = 32

SETUP = """
import sys, django
django.setup()
from ropsms.smpp.models import Bind, Operator, Route
from ropsms.messaging.services import send_many
op = Operator.objects.create(name="Simulator")
Route.objects.create(prefix="", operator=op)
Bind.objects.create(operator=op, name="simulator", host="127.0.0.1", port=int(sys.argv[1]), system_id="ropsms",
                    password="secret", tps=150, window=WINDOW, reconnect_min_seconds=0.2, reconnect_max_seconds=1)
send_many(recipients=[f"+9689{2000100 + i:07d}" for i in range(int(sys.argv[2]))], text="kill -9 test",
          producer="test")
""".replace("WINDOW", str(WINDOW))


def child_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "ROPSMS_TEST_DB"))}
    env.update(ROPSMS_VAR_DIR=str(tmp), ROPSMS_SQLITE_PATH=str(tmp / "db.sqlite3"),
               DJANGO_SETTINGS_MODULE="ropsms.settings", ROPSMS_LOG_LEVEL="WARNING")
    return env


def states(tmp: Path) -> dict[str, int]:
    with sqlite3.connect(tmp / "db.sqlite3", timeout=30) as db:
        return dict(db.execute("SELECT state, COUNT(*) FROM messaging_message GROUP BY state").fetchall())


def gateway(env: dict[str, str], tmp: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ropsms.cli", "gateway", "--node", "test-node",
                             "--status-file", str(tmp / "status.json")], env=env)


def test_kill_9_mid_batch_then_restart_loses_nothing(tmp_path):
    env = child_env(tmp_path)
    subprocess.run([sys.executable, "-m", "ropsms.cli", "migrate", "-v", "0"], env=env, check=True)

    async def main():
        sim = simulator(receipt_delay=0.05)
        await sim.start()
        subprocess.run([sys.executable, "-c", SETUP, str(sim.port), str(N)], env=env, check=True)
        first = gateway(env, tmp_path)
        try:
            assert await wait_until(lambda: sim.stats["submits_accepted"] >= 120, timeout=60)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            at_kill = sim.stats["submits_accepted"]
            assert at_kill < N, "the batch finished before the kill; the test proves nothing"
            assert states(tmp_path).get("sending", 0) > 0  # claims were in flight when it died
            second = gateway(env, tmp_path)
            try:
                assert await wait_until(lambda: states(tmp_path).get("delivered", 0) == N, timeout=60), \
                    states(tmp_path)
            finally:
                second.send_signal(signal.SIGTERM)
                assert second.wait(30) == 0
        finally:
            if first.poll() is None:
                first.kill()
            await sim.stop()
        return sim, at_kill

    sim, at_kill = asyncio.run(main())
    final = states(tmp_path)
    assert final == {"delivered": N}
    duplicates = sim.stats["submits_accepted"] - N
    per_phone = [len(sim.inbox(f"+9689{2000100 + i:07d}")) for i in range(N)]
    assert min(per_phone) == 1  # nobody missed out
    assert sum(per_phone) - N == duplicates  # every duplicate is counted
    # At most what was in flight: the window, plus answers not yet flushed by the writer.
    assert 0 <= duplicates <= 2 * WINDOW, duplicates
    print(f"kill -9 after {at_kill} submit_sm: {duplicates} duplicate(s) after restart")
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        assert db.execute("SELECT owner FROM smpp_bindlease").fetchall() == [("",)]  # released on SIGTERM
