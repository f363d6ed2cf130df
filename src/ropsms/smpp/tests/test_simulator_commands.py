"""`ropsms smsc-sim` and `ropsms phone` as real processes, with a test ESME standing in for the gateway."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ropsms.ops.testing import free_port, wait_http
from ropsms.smpp.pdu import Pdu, decode_short_message
from ropsms.smpp.simulator.testing import TestEsme

pytestmark = pytest.mark.slow



def child_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ROPSMS_VAR_DIR=str(tmp_path), PYTHONIOENCODING="utf-8", DJANGO_SETTINGS_MODULE="ropsms.settings")
    env.pop("ROPSMS_SIM_CONFIG", None)
    return env


def ropsms(*args: str) -> list[str]:
    return [sys.executable, "-m", "ropsms.cli", *args]


@pytest.fixture
def sim_process(tmp_path):
    """A real `ropsms smsc-sim` on free ports, configured by a YAML file (accounts, id format)."""
    port, web_port = free_port(), free_port()
    config = tmp_path / "sim.yaml"
    config.write_text("accounts:\n  ropsms: secret\n  backup: other\nid_format: HEX\nreceipt_delay: 0\n")
    proc = subprocess.Popen(
        ropsms("smsc-sim", "--config", str(config), "--port", str(port), "--web-port", str(web_port),
               "--rule", "0000=undeliverable"),
        env=child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    health = json.loads(wait_http(f"http://127.0.0.1:{web_port}/api/health", proc=proc))
    assert health["smpp_port"] == port
    yield port, web_port, tmp_path
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_phone_command_prints_the_reply(sim_process):
    port, web_port, tmp_path = sim_process

    async def main():
        esme = await TestEsme.connect("127.0.0.1", port)
        assert (await esme.bind("transceiver", "backup", "other")).status == 0

        async def answer_like_a_service():
            mo = await esme.next_pdu("deliver_sm", timeout=30)
            text = decode_short_message(mo.params["short_message"], mo.params["data_coding"])
            assert text == "مخالفات 12345"
            reply = "لا توجد مخالفات على المركبة 12345 / No fines for vehicle 12345"
            [resp] = await esme.submit(mo.params["source_addr"], reply, source=mo.params["destination_addr"])
            assert resp.params["message_id"] == resp.params["message_id"].upper()  # HEX from the YAML file
            return mo

        service = asyncio.create_task(answer_like_a_service())
        proc = await asyncio.create_subprocess_exec(
            *ropsms("phone", "--from", "9123 4567", "--url", f"http://127.0.0.1:{web_port}", "--timeout", "20",
                    "مخالفات 12345"),
            env=child_env(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        mo = await service
        await esme.close()
        return proc.returncode, out.decode(), err.decode(), mo

    code, out, err, mo = asyncio.run(main())
    assert code == 0, err
    assert mo.params["source_addr"] == "96891234567" and mo.params["destination_addr"] == "90085"
    assert "reply from 90085: لا توجد مخالفات على المركبة 12345 / No fines for vehicle 12345" in out


def test_phone_command_reports_no_gateway_and_no_simulator(sim_process, tmp_path):
    _port, web_port, _ = sim_process
    done = subprocess.run(ropsms("phone", "--from", "91234567", "--url", f"http://127.0.0.1:{web_port}", "hi"),
                          env=child_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "no gateway is bound" in done.stderr
    done = subprocess.run(ropsms("phone", "--from", "91234567", "--url", f"http://127.0.0.1:{free_port()}", "hi"),
                          env=child_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "cannot reach the SMSC simulator" in done.stderr


def test_smsc_sim_rejects_bad_settings(tmp_path):
    done = subprocess.run(ropsms("smsc-sim", "--port", "0", "--id-format", "octal"), env=child_env(tmp_path),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "id_format must be one of" in done.stderr


def test_phone_without_reply_times_out(sim_process, tmp_path):
    port, web_port, _ = sim_process

    async def main():
        esme = await TestEsme.connect("127.0.0.1", port)
        assert (await esme.bind()).status == 0
        proc = await asyncio.create_subprocess_exec(
            *ropsms("phone", "--from", "91234567", "--url", f"http://127.0.0.1:{web_port}", "--timeout", "1", "x"),
            env=child_env(tmp_path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert isinstance(await esme.next_pdu("deliver_sm"), Pdu)
        await esme.close()
        return proc.returncode, err.decode()

    code, err = asyncio.run(main())
    assert code != 0 and "no reply within 1s" in err
