"""The issue's "done when", with real processes: `ropsms smsc-sim` and `ropsms gateway` on a SQLite
file, and `ropsms phone` texting 90085 as a virtual phone that owns a demo vehicle, then a stranger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from ropsms.ops.testing import free_port

pytestmark = pytest.mark.slow

SETUP = (
    "import django, sys; django.setup(); "
    "from ropsms.eservices.demo import load_fixed; from ropsms.smpp import demo; "
    "load_fixed(); demo.load(sys.stdout)"
)


def ropsms(*args: str) -> list[str]:
    return [sys.executable, "-m", "ropsms.cli", *args]


@pytest.fixture
def stack(tmp_path):
    """Migrated SQLite file with the demo people, a simulator and a gateway as child processes."""
    port, web_port = free_port(), free_port()
    env = {**os.environ, "ROPSMS_VAR_DIR": str(tmp_path), "ROPSMS_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
           "ROPSMS_SIM_PORT": str(port), "ROPSMS_SIM_WEB_PORT": str(web_port), "PYTHONIOENCODING": "utf-8",
           "DJANGO_SETTINGS_MODULE": "ropsms.settings"}
    env.pop("DATABASE_URL", None)
    subprocess.run(ropsms("migrate", "-v0"), env=env, check=True, timeout=120)
    subprocess.run([sys.executable, "-c", SETUP], env=env, check=True, timeout=120, capture_output=True)
    procs = [subprocess.Popen(ropsms(name), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for name in ("smsc-sim", "gateway")]
    try:
        deadline = time.monotonic() + 60
        while True:  # until the gateway has bound to the simulator
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/sessions", timeout=1) as r:
                    if json.loads(r.read())["sessions"]:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                pytest.fail("simulator/gateway did not start: " + " | ".join(
                    (p.stderr.read() if p.poll() is not None else "running")[-2000:] for p in procs))
            time.sleep(0.2)
        yield env, web_port, procs[1].pid
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def phone(env: dict, web_port: int, sender: str, text: str) -> str:
    done = subprocess.run(ropsms("phone", "--from", sender, "--url", f"http://127.0.0.1:{web_port}", "--timeout",
                                 "20", text), env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_done_when_owner_asks_in_arabic_and_english_stranger_learns_nothing(stack):
    env, web_port, _ = stack
    english = phone(env, web_port, "91234567", "FINES 12345 AB")
    assert "reply from 90085: Vehicle 12345 AB: 3 unpaid fine(s), total 75.000 OMR:" in english
    assert "Muscat Expressway, Bawshar 50.000 OMR" in english
    arabic = phone(env, web_port, "91234567", "مخالفات ١٢٣٤٥ أ ب")
    assert "reply from 90085: المركبة 12345 AB: عدد المخالفات غير المدفوعة 3، المجموع 75.000 ر.ع:" in arabic
    stranger = phone(env, web_port, "99887766", "مخالفات ١٢٣٤٥ أ ب")
    assert "لا يمكن إرسال معلومات عن هذا الطلب إلى هذا الرقم" in stranger
    assert "75.000" not in stranger and "البلوشي" not in stranger


def test_a_killed_mo_worker_is_replaced_and_no_mo_goes_unanswered(stack):
    """MO runs in a worker process of the gateway; kill -9 it and the next MO is still answered."""
    import signal

    import psutil

    env, web_port, gateway_pid = stack
    assert "reply from 90085" in phone(env, web_port, "91234567", "HELP")
    workers = psutil.Process(gateway_pid).children(recursive=True)
    assert workers, "the gateway should run its MO handling in worker processes"
    for w in workers:
        os.kill(w.pid, signal.SIGKILL)
    time.sleep(0.5)
    again = phone(env, web_port, "91234567", "FINES 12345 AB")
    assert "reply from 90085: Vehicle 12345 AB" in again
    assert psutil.Process(gateway_pid).is_running()
    assert {p.pid for p in psutil.Process(gateway_pid).children(recursive=True)} - {w.pid for w in workers}
