"""SMPP over TLS, for real: the gateway against the bundled simulator serving TLS on 127.0.0.1.

Every certificate is made at test time by `trustme` (a throwaway "operator" CA, the SMSC's server
certificate, the gateway's client certificate), written to PEM files as an operator would hand
them over, and used through the same settings as in production (Bind.tls_* and the simulator's
--tls-* options). No mocks: real TCP, real handshakes, real certificate checks.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from django.core.exceptions import ValidationError

from ropsms.messaging.models import Message
from ropsms.messaging.services import send
from ropsms.ops.testing import free_port, wait_http
from ropsms.smpp.admin import BindForm
from ropsms.smpp.models import Bind, Operator
from ropsms.smpp.operators import OperatorFileError, load
from ropsms.smpp.simulator import ConfigError, SimConfig
from ropsms.smpp.simulator.testing import TestEsme
from ropsms.smpp.tests.gateway_helpers import (
    all_final,
    make_operator,
    run,
    simulator,
    wait_bound,
    wait_until,
    with_gateway,
)

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]

SERVER_NAME = "smsc.omantel.test"
NEVER_UP = 1.5  # seconds to watch a bind that must not come up (several reconnects at 0.1-0.5 s back-off)


@pytest.fixture(autouse=True)
def _loop_may_use_orm(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, str]:
    """PEM files: the operator's CA, the SMSC's certificate, our client certificate, and a stranger CA."""
    d: Path = tmp_path_factory.mktemp("pki")
    ca, stranger = trustme.CA(organization_name="Operator CA"), trustme.CA(organization_name="Someone else")
    server = ca.issue_cert("127.0.0.1", "localhost", SERVER_NAME)
    client = ca.issue_cert("ropsms-gateway")
    files = {"ca": ca.cert_pem, "stranger_ca": stranger.cert_pem, "server_key": server.private_key_pem,
             "server_cert": server.cert_chain_pems[0], "client_key": client.private_key_pem,
             "client_cert": client.cert_chain_pems[0]}
    out = {}
    for name, blob in files.items():
        blob.write_to_path(str(d / f"{name}.pem"))
        out[name] = str(d / f"{name}.pem")
    return out


def tls_simulator(pki: dict[str, str], *, mutual: bool = False):
    return simulator(tls_cert_file=pki["server_cert"], tls_key_file=pki["server_key"],
                     tls_client_ca_file=pki["ca"] if mutual else "")


def tls_sessions(sim) -> int:
    return sum(1 for s in sim.sessions if s.transport.get_extra_info("ssl_object") is not None and s.mode)


@pytest.mark.slow
def test_gateway_binds_over_tls_with_the_operators_ca_and_the_receipt_comes_back(pki):
    async def main():
        sim = tls_simulator(pki)
        await sim.start()
        make_operator("Omantel", sim.port, tls=True, tls_ca_file=pki["ca"])
        msg = send(to="91234567", text="Your licence is renewed", producer="test")
        seen = {}

        async def body(gw):
            assert await wait_until(all_final(), timeout=15)
            seen["tls_sessions"] = tls_sessions(sim)
        await with_gateway(body)
        await sim.stop()
        return sim, msg, seen

    sim, msg, seen = run(main)
    msg.refresh_from_db()
    assert msg.state == "delivered" and msg.route == "omantel" and msg.operator_message_id
    assert [e.text for e in sim.inbox("91234567")] == ["Your licence is renewed"]
    assert seen["tls_sessions"] == 1  # the bound session really is a TLS connection


@pytest.mark.slow
def test_plain_tcp_client_cannot_bind_to_a_tls_port(pki):
    async def main():
        sim = tls_simulator(pki)
        await sim.start()
        make_operator("Omantel", sim.port, tls=False)

        result = {}

        async def body(gw):
            result["up"] = await wait_bound(gw, timeout=NEVER_UP)
            result["bound_at_sim"] = sim.bound_sessions()
        gw = await with_gateway(body)
        await sim.stop()
        return gw, result

    gw, result = run(main)
    assert result["up"] is False and result["bound_at_sim"] == []
    assert gw.runners["omantel"].links[0].connects >= 2  # it kept retrying


@pytest.mark.slow
def test_mutual_tls_without_client_certificate_never_binds_with_one_it_does(pki, caplog):
    caplog.set_level(logging.WARNING, logger="ropsms.smpp.gateway")

    async def main():
        sim = tls_simulator(pki, mutual=True)
        await sim.start()
        bind = make_operator("Ooredoo", sim.port, tls=True, tls_ca_file=pki["ca"],
                             tls_server_name=SERVER_NAME)
        msg = send(to="92345678", text="mutual", producer="test")
        result = {}

        async def without_cert(gw):
            result["up_without"] = await wait_bound(gw, timeout=NEVER_UP)
            result["connects_without"] = gw.runners["ooredoo"].links[0].connects
        await with_gateway(without_cert)
        result["state_without"] = Message.objects.get(pk=msg.pk).state

        bind.tls_cert_file, bind.tls_key_file = pki["client_cert"], pki["client_key"]
        bind.full_clean()
        bind.save()

        async def with_cert(gw):
            result["up_with"] = await wait_bound(gw, timeout=10)
            assert await wait_until(all_final(), timeout=15)
        await with_gateway(with_cert)
        await sim.stop()
        return sim, msg, result

    sim, msg, result = run(main)
    assert result["up_without"] is False and result["connects_without"] >= 2
    assert result["state_without"] == "queued"
    assert "bind ooredoo/trx: link down (EOFError: connection closed by the SMSC before bind_resp (over TLS: " \
           "if the SMSC requires a client certificate, set tls_cert_file and tls_key_file)" in caplog.text
    assert result["up_with"] is True
    msg.refresh_from_db()
    assert msg.state == "delivered"
    assert [e.text for e in sim.inbox("92345678")] == ["mutual"]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["stranger_ca", "wrong_name"])
def test_untrusted_server_certificate_no_bind_clear_log_message_stays_queued(pki, caplog, case):
    caplog.set_level(logging.WARNING, logger="ropsms.smpp.gateway")
    tls = ({"tls_ca_file": pki["stranger_ca"]} if case == "stranger_ca"
           else {"tls_ca_file": pki["ca"], "tls_server_name": "smsc.other.test"})

    async def main():
        sim = tls_simulator(pki)
        await sim.start()
        make_operator("Omantel", sim.port, tls=True, **tls)
        msg = send(to="91234567", text="must wait", producer="test")
        result = {}

        async def body(gw):
            result["up"] = await wait_bound(gw, timeout=NEVER_UP)
            result["status"] = gw.runners["omantel"].status()
        await with_gateway(body)
        await sim.stop()
        return sim, msg, result

    sim, msg, result = run(main)
    assert result["up"] is False and not sim.bound_sessions()
    # The reason is on the bind's status too (GatewayStatus, shown in the admin), not only in the log.
    assert result["status"]["last_error"].startswith("trx: the SMSC's TLS certificate was not accepted")
    msg.refresh_from_db()
    assert msg.state == "queued" and not msg.error_code and not msg.route  # not failed, not lost
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(line.startswith("bind omantel/trx: the SMSC's TLS certificate was not accepted")
               and "check tls_ca_file and tls_server_name" in line for line in lines), lines
    assert sim.inbox("91234567") == []


@pytest.mark.slow
def test_missing_ca_file_is_logged_retried_and_picked_up_once_it_appears(pki, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="ropsms.smpp.gateway")
    ca_path = tmp_path / "later" / "omantel-ca.pem"

    async def main():
        sim = tls_simulator(pki)
        await sim.start()
        make_operator("Omantel", sim.port, tls=True, tls_ca_file=str(ca_path))
        msg = send(to="91234567", text="after the CA arrives", producer="test")
        result = {}

        async def body(gw):
            result["up_before"] = await wait_bound(gw, timeout=1.0)
            result["state_before"] = Message.objects.get(pk=msg.pk).state
            ca_path.parent.mkdir()
            ca_path.write_bytes(Path(pki["ca"]).read_bytes())
            result["up_after"] = await wait_bound(gw, timeout=10)  # the link's own back-off retries
            assert await wait_until(all_final(), timeout=15)
        await with_gateway(body)
        await sim.stop()
        return msg, result

    msg, result = run(main)
    assert result["up_before"] is False and result["state_before"] == "queued"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(f"bind omantel/trx: TLS setup failed: tls_ca_file '{ca_path}' cannot be read" in line
               for line in errors), errors
    assert result["up_after"] is True
    msg.refresh_from_db()
    assert msg.state == "delivered"


# --- configuration: both-or-neither, clear errors -------------------------------------------------
def test_loader_rejects_a_client_certificate_without_its_key_and_loads_nothing(pki):
    data = {"operators": [{"name": "Omantel", "binds": [
        {"name": "omantel-tls", "host": "10.20.0.5", "system_id": "rop", "tls": True,
         "tls_ca_file": pki["ca"], "tls_cert_file": pki["client_cert"]}]}]}
    with pytest.raises(OperatorFileError, match="operator Omantel, bind #1: tls_cert_file without tls_key_file") as err:
        load(data)
    assert "tls_cert_file without tls_key_file" in str(err.value)
    assert not Operator.objects.exists() and not Bind.objects.exists()

    data["operators"][0]["binds"][0]["tls_key_file"] = pki["client_key"]
    data["operators"][0]["binds"][0]["tls_server_name"] = SERVER_NAME
    assert load(data)["binds"] == 1
    bind = Bind.objects.get(name="omantel-tls")
    assert (bind.tls_cert_file, bind.tls_key_file, bind.tls_server_name) == (
        pki["client_cert"], pki["client_key"], SERVER_NAME)


def test_loader_rejects_tls_files_when_tls_is_off(pki):
    data = {"operators": [{"name": "Omantel", "binds": [
        {"name": "b", "host": "h", "system_id": "s", "tls_ca_file": pki["ca"]}]}]}
    with pytest.raises(OperatorFileError, match="tls_ca_file set but TLS is off"):
        load(data)


def test_model_clean_and_admin_form_want_both_cert_and_key(pki):
    operator = Operator.objects.create(name="Omantel")
    bind = Bind(operator=operator, name="b", host="h", system_id="s", tls=True, tls_key_file=pki["client_key"])
    with pytest.raises(ValidationError) as err:
        bind.full_clean()
    assert "tls_cert_file" in err.value.message_dict

    form = BindForm(data={"operator": operator.pk, "name": "b2", "enabled": "on", "order": 0, "host": "h",
                          "port": 2775, "tls": "on", "tls_cert_file": pki["client_cert"], "system_id": "s",
                          "mode": "trx", "tps": 10, "window": 8, "enquire_link_seconds": 30,
                          "response_timeout_seconds": 10, "reconnect_min_seconds": 1,
                          "reconnect_max_seconds": 60})
    assert not form.is_valid()
    assert "tls_key_file" in form.errors


def test_simulator_tls_settings_are_checked():
    with pytest.raises(ConfigError, match="both tls_cert_file and tls_key_file"):
        SimConfig(port=0, web_port=None, tls_cert_file="server.pem")
    with pytest.raises(ConfigError, match="needs a server certificate"):
        SimConfig(port=0, web_port=None, tls_client_ca_file="ca.pem")
    with pytest.raises(ConfigError, match=r"cannot load the TLS certificate /nonexistent/cert\.pem"):
        SimConfig(port=0, web_port=None, tls_cert_file="/nonexistent/cert.pem",
                  tls_key_file="/nonexistent/key.pem").server_tls_context()


# --- `ropsms smsc-sim --tls-*` as a real process -----------------------------------------------------
def _sim_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ropsms.cli", "smsc-sim", *args]


def _child_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, ROPSMS_VAR_DIR=str(tmp_path), PYTHONIOENCODING="utf-8",
               DJANGO_SETTINGS_MODULE="ropsms.settings")
    env.pop("ROPSMS_SIM_CONFIG", None)
    return env


@pytest.mark.slow
def test_smsc_sim_command_serves_mutual_tls(pki, tmp_path):
    port, web_port = free_port(), free_port()
    proc = subprocess.Popen(
        _sim_command("--port", str(port), "--web-port", str(web_port), "--tls-cert", pki["server_cert"],
                     "--tls-key", pki["server_key"], "--tls-client-ca", pki["ca"]),
        env=_child_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_http(f"http://127.0.0.1:{web_port}/api/health", proc=proc)

        async def bind(client_cert: bool) -> int:
            context = ssl.create_default_context(cafile=pki["ca"])
            if client_cert:
                context.load_cert_chain(pki["client_cert"], pki["client_key"])
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=context), 5)
            esme = TestEsme(reader, writer)
            try:
                return (await esme.bind()).status
            finally:
                await esme.close()

        assert asyncio.run(bind(client_cert=True)) == 0
        with pytest.raises((ConnectionError, ssl.SSLError, TimeoutError)):
            asyncio.run(bind(client_cert=False))
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert f"SMPP over TLS on 127.0.0.1:{port}" in out


@pytest.mark.slow
def test_smsc_sim_command_rejects_half_tls_settings(pki, tmp_path):
    done = subprocess.run(_sim_command("--port", "0", "--web-port", "0", "--tls-cert", pki["server_cert"]),
                          env=_child_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "TLS needs both tls_cert_file and tls_key_file" in done.stderr
    done = subprocess.run(_sim_command("--port", "0", "--web-port", "0", "--tls-cert", "/nonexistent/server.pem",
                                       "--tls-key", pki["server_key"]),
                          env=_child_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "cannot load the TLS certificate /nonexistent/server.pem" in done.stderr


def test_tls_context_errors_name_the_setting_and_the_file(pki, tmp_path):
    from cryptography.hazmat.primitives import serialization

    from ropsms.smpp.gateway.link import TlsSetupError, tls_context

    missing = str(tmp_path / "nope.pem")
    with pytest.raises(TlsSetupError, match=r"tls_ca_file '.*nope\.pem' cannot be read: No such file"):
        tls_context(ca_file=missing)
    with pytest.raises(TlsSetupError, match=r"tls_key_file '.*nope\.pem' cannot be read"):
        tls_context(ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=missing)
    with pytest.raises(TlsSetupError, match=r"tls_ca_file .* holds no usable PEM CA certificate"):
        tls_context(ca_file=pki["client_key"])
    with pytest.raises(TlsSetupError, match="are not a matching PEM certificate and key"):
        tls_context(cert_file=pki["client_cert"], key_file=pki["server_key"])
    key = serialization.load_pem_private_key(Path(pki["client_key"]).read_bytes(), None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(TlsSetupError, match="the key file is encrypted"):  # never a password prompt
        tls_context(cert_file=pki["client_cert"], key_file=str(encrypted))
    context = tls_context(ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_key"])
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert tls_context().cert_store_stats()["x509_ca"] >= 0  # empty ca_file: the system's CAs
