"""The SMSC simulator over real TCP, driven by a minimal ESME built on the codec."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import httpx
import pytest

from ropsms.smpp.pdu import (
    STATUS,
    BadPdu,
    Pdu,
    encode,
    message_id_variants,
    parse_receipt,
    split_udh,
)
from ropsms.smpp.simulator import SimConfig, Simulator, running_simulator
from ropsms.smpp.simulator.testing import TestEsme

ARABIC_LONG = "عزيزي المواطن، نود إعلامكم بأن رخصة القيادة الخاصة بكم ستنتهي قريباً. يرجى تجديدها عبر الموقع."


def with_sim(test: Callable[[Simulator], Awaitable[None]], **config) -> None:
    """Run an async test body against a fresh simulator on free ports."""

    async def main() -> None:
        sim = Simulator(SimConfig(**{"port": 0, "web_port": 0, "receipt_delay": 0, "enquire_link_interval": 0,
                                     "seed": 1, **config}))
        await sim.start()
        try:
            async with asyncio.timeout(20):
                await test(sim)
        finally:
            await sim.stop()

    asyncio.run(main())


async def bound(sim: Simulator, mode: str = "transceiver", **kw) -> TestEsme:
    esme = await TestEsme.connect("127.0.0.1", sim.port, **kw)
    resp = await esme.bind(mode)
    assert resp.status == 0, resp
    return esme


# ----------------------------------------------------------------------------- binds
def test_bind_checks_credentials_and_state():
    async def body(sim):
        esme = await TestEsme.connect("127.0.0.1", sim.port)
        # nothing but bind before a bind
        resp = await esme.request(Pdu("submit_sm", 0, params={"destination_addr": "91234567"}))
        assert resp.status == STATUS.ESME_RINVBNDSTS
        assert (await esme.bind(system_id="nobody")).status == STATUS.ESME_RINVSYSID
        assert (await esme.bind(system_id="ops", password="wrong")).status == STATUS.ESME_RINVPASWD
        ok = await esme.bind("transceiver", "ops", "s3cret")
        assert ok.status == 0 and ok.params["system_id"] == "ROPSIM" and ok.tlvs["sc_interface_version"] == 0x34
        assert (await esme.bind(system_id="ops", password="s3cret")).status == STATUS.ESME_RALYBND
        await esme.close()

        rx = await bound_as(sim, "receiver", "ops", "s3cret")
        resp = await rx.request(rx.submit_pdus("91234567", "hi")[0])
        assert resp.status == STATUS.ESME_RINVBNDSTS  # a receiver cannot submit
        await rx.close()
        assert sim.stats["binds"] == 2 and sim.stats["binds_failed"] == 3

    with_sim(body, accounts={"ops": "s3cret"})


async def bound_as(sim, mode, system_id, password) -> TestEsme:
    esme = await TestEsme.connect("127.0.0.1", sim.port)
    assert (await esme.bind(mode, system_id, password)).status == 0
    return esme


def test_default_account_matches_the_gateway_demo_bind():
    assert SimConfig().accounts == {"ropsms": "secret"}


# ----------------------------------------------------------------------------- submit and receipts
def test_submit_resp_receipt_gsm():
    async def body(sim):
        esme = await bound(sim)
        [resp] = await esme.submit("+968 9123 4567", "Your fine is 20.000 OMR {ref 7}")
        assert resp.status == 0 and resp.params["message_id"] == "1"
        receipt = await esme.next_pdu("deliver_sm")
        assert receipt.params["esm_class"] == 0x04
        assert receipt.params["source_addr"] == "+968 9123 4567" and receipt.params["destination_addr"] == "90085"
        assert receipt.tlvs["receipted_message_id"] == "1" and receipt.tlvs["message_state"] == 2
        text = parse_receipt(receipt.params["short_message"].decode())
        assert text["id"] == "1" and text["stat"] == "DELIVRD" and text["dlvrd"] == "001"
        [entry] = sim.inbox("91234567")
        assert entry.text == "Your fine is 20.000 OMR {ref 7}" and entry.encoding == "gsm"
        assert entry.state == "delivered" and entry.message_ids == ["1"]
        await sim.wait_until(lambda: sim.stats["receipts_acked"] == 1)
        await esme.close()

    with_sim(body)


def test_per_number_rules_and_no_receipt_when_not_asked():
    async def body(sim):
        esme = await bound(sim)
        await esme.submit("96891230000", "will fail")
        receipt = await esme.next_pdu("deliver_sm")
        assert receipt.tlvs["message_state"] == 5 and receipt.tlvs["network_error_code"] == b"\x03\x00\x01"
        assert parse_receipt(receipt.params["short_message"].decode())["stat"] == "UNDELIV"
        await esme.submit("96891230001", "will expire")
        assert (await esme.next_pdu("deliver_sm")).tlvs["message_state"] == 3
        [refused] = await esme.submit("96877777777", "blocked")
        assert refused.status == STATUS.ESME_RINVDSTADR
        await esme.submit("91234567", "no receipt please", registered_delivery=0)
        await esme.submit("91234567", "failure receipts only", registered_delivery=2)
        await esme.request(Pdu("enquire_link", 0))
        assert esme.seen.count("deliver_sm") == 2
        assert [e.state for e in sim.inbox("91234567")] == ["delivered", "delivered"]

    with_sim(body, rules=[{"match": "suffix:0000", "outcome": "undeliverable"},
                          {"match": "suffix:0001", "outcome": "expired"},
                          {"match": "^9687", "submit_status": STATUS.ESME_RINVDSTADR}])


def test_concatenated_arabic_is_reassembled_udh_and_sar():
    async def body(sim):
        esme = await bound(sim)
        resps = await esme.submit("91234567", ARABIC_LONG, ref=200)
        assert len(resps) == 2 and all(r.status == 0 for r in resps)
        await esme.submit("92222222", ARABIC_LONG * 2, concat="sar", ref=7)
        [one] = sim.inbox("91234567")
        assert one.text == ARABIC_LONG and one.parts == 2 and one.encoding == "ucs2"
        assert one.message_ids == [r.params["message_id"] for r in resps]
        [two] = sim.inbox("92222222")
        assert two.text == ARABIC_LONG * 2 and two.parts == 3
        assert sim.stats["messages_reassembled"] == 2

    with_sim(body)


def test_message_id_formats_differ_between_resp_and_receipt():
    async def body(sim):
        esme = await bound(sim)
        [resp] = await esme.submit("91234567", "hello")
        receipt = await esme.next_pdu("deliver_sm")
        assert resp.params["message_id"] == "00000F4240"  # 1,000,000 in zero-padded upper-case hex
        assert receipt.tlvs["receipted_message_id"] == "1000000"
        assert message_id_variants(resp.params["message_id"]) & message_id_variants(
            receipt.tlvs["receipted_message_id"])

    with_sim(body, id_format="HEX0", receipt_id_format="decimal", first_id=1_000_000)


def test_receipt_text_only_mode():
    async def body(sim):
        esme = await bound(sim)
        await esme.submit("91234567", "hello")
        receipt = await esme.next_pdu("deliver_sm")
        assert receipt.tlvs == {} and parse_receipt(receipt.params["short_message"].decode())["id"] == "1"

    with_sim(body, receipt_tlvs=False)


def test_delayed_receipts_wait_for_a_receiver_bind():
    async def body(sim):
        tx = await bound(sim, "transmitter")
        [resp] = await tx.submit("91234567", "to a TX-only bind")
        await asyncio.sleep(0.1)  # the receipt is due but nobody can take it yet
        assert sim.snapshot()["undelivered"] == 1 and tx.seen == ["bind_transmitter_resp", "submit_sm_resp"]
        rx = await bound(sim, "receiver")
        receipt = await rx.next_pdu("deliver_sm")
        assert receipt.tlvs["receipted_message_id"] == resp.params["message_id"]

    with_sim(body, receipt_delay=0.05)


def test_unacknowledged_receipts_are_sent_again_after_a_drop():
    async def body(sim):
        esme = await bound(sim, auto_ack=False)
        [resp] = await esme.submit("91234567", "hello")
        await esme.next_pdu("deliver_sm")  # received, never answered
        sim.drop_all()
        await asyncio.wait_for(esme.closed.wait(), 5)
        again = await bound(sim)
        receipt = await again.next_pdu("deliver_sm")
        assert receipt.tlvs["receipted_message_id"] == resp.params["message_id"]
        assert sim.stats["redelivered"] == 1 and sim.stats["drops"] == 1

    with_sim(body)


def test_receipt_before_submit_sm_resp():
    async def body(sim):
        esme = await bound(sim)
        [resp] = await esme.submit("91234567", "early receipt")
        assert esme.seen == ["bind_transceiver_resp", "deliver_sm", "submit_sm_resp"]
        receipt = await esme.next_pdu("deliver_sm")
        assert receipt.tlvs["receipted_message_id"] == resp.params["message_id"]

    with_sim(body, receipt_before_resp=True, receipt_delay=5)


def test_throttling_answers_rthrottled_above_the_limit():
    async def body(sim):
        esme = await bound(sim)
        pdus = [esme.submit_pdus("91234567", f"msg {i}")[0] for i in range(20)]
        resps = await asyncio.gather(*(esme.request(p) for p in pdus))
        statuses = [r.status for r in resps]
        assert statuses.count(STATUS.ESME_RTHROTTLED) >= 10
        assert 1 <= statuses.count(0) <= 10
        assert sim.stats["throttled"] == statuses.count(STATUS.ESME_RTHROTTLED)
        assert len(sim.inbox("91234567")) == statuses.count(0)  # throttled ones were not accepted

    with_sim(body, throttle_tps=5)


def test_drop_after_n_submits_leaves_the_rest_unanswered():
    async def body(sim):
        sim.set_faults(drop_after=3)
        esme = await bound(sim)
        pdus = [esme.submit_pdus("91234567", f"msg {i}")[0] for i in range(5)]
        results = await asyncio.gather(*(esme.request(p) for p in pdus), return_exceptions=True)
        assert [isinstance(r, Pdu) for r in results] == [True, True, True, False, False]
        assert sim.config.drop_after == 0  # one-shot

    with_sim(body)


# ----------------------------------------------------------------------------- malformed input both ways
def test_garbage_gets_generic_nack_and_the_link_survives():
    async def body(sim):
        esme = await bound(sim)
        esme.send_raw(struct.pack(">IIII", 16, 0x00000777, 0, 99))
        nack = await esme.next_pdu("generic_nack")
        assert nack.sequence == 99 and nack.status == STATUS.ESME_RINVCMDID
        bad_tlv = esme.submit_pdus("91234567", "x")[0]
        raw = encode(bad_tlv)[16:] + b"\x04\x27\x00\x09"
        esme.send_raw(struct.pack(">IIII", 16 + len(raw), 4, 0, 100) + raw)
        nack = await esme.next_pdu("generic_nack")
        assert nack.sequence == 100 and nack.status == STATUS.ESME_RINVOPTPARSTREAM
        assert (await esme.request(Pdu("enquire_link", 0))).command == "enquire_link_resp"
        # an impossible command_length cannot be framed: the simulator closes the link
        esme.send_raw(struct.pack(">IIII", 8, 4, 0, 102))
        await asyncio.wait_for(esme.closed.wait(), 5)
        assert sim.stats["bad_pdus"] == 2 and sim.stats["bad_streams"] == 1

    with_sim(body)


def test_simulator_sends_malformed_pdus_and_enquire_links_on_request():
    async def body(sim):
        esme = await bound(sim)
        assert sim.send_malformed(2) == 2
        first, second = await esme.next_pdu(), await esme.next_pdu()
        assert isinstance(first, BadPdu) and first.status == STATUS.ESME_RINVCMDID
        assert isinstance(second, BadPdu) and second.status == STATUS.ESME_RINVOPTPARSTREAM
        await sim.wait_until(lambda: sim.stats["nacks_received"] == 2)
        assert sim.stats["nacks_received"] == 2
        assert (await esme.next_pdu("enquire_link")).command == "enquire_link"
        await sim.wait_until(lambda: sim.stats["enquire_link_resps"] >= 1)
        assert sim.stats["enquire_link_resps"] >= 1

    with_sim(body, enquire_link_interval=0.05)


def test_query_sm_reports_the_state():
    async def body(sim):
        esme = await bound(sim)
        [resp] = await esme.submit("91234567", "hello")
        mid = resp.params["message_id"]
        answer = await esme.request(Pdu("query_sm", 0, params={"message_id": mid, "source_addr": "90085"}))
        assert answer.status == 0 and answer.params["message_state"] == 2
        unknown = await esme.request(Pdu("query_sm", 0, params={"message_id": "nope"}))
        assert unknown.status == STATUS.ESME_RQUERYFAIL

    with_sim(body)


# ----------------------------------------------------------------------------- MO and the control API
def test_mo_through_the_control_api():
    async def body(sim):
        base = f"http://127.0.0.1:{sim.web_port}"
        async with httpx.AsyncClient(base_url=base) as http:
            r = await http.post("/api/mo", json={"from": "91234567", "text": "hi"})
            assert r.status_code == 409 and "no gateway" in r.json()["error"]

            esme = await bound(sim)
            r = await http.post("/api/mo", json={"from": "٩١٢٣٤٥٦٧", "text": ARABIC_LONG})
            assert r.status_code == 200 and r.json()["msisdn"] == "96891234567"
            parts = [await esme.next_pdu("deliver_sm") for _ in range(2)]
            assert {p.params["source_addr"] for p in parts} == {"96891234567"}
            assert {p.params["destination_addr"] for p in parts} == {"90085"}
            assert all(p.params["data_coding"] == 8 and p.params["esm_class"] == 0x40 for p in parts)
            bodies = sorted((split_udh(p.params["short_message"]) for p in parts), key=lambda x: x[0]["seq"])
            assert bodies[0][0]["total"] == 2 and bodies[0][0]["ref"] == bodies[1][0]["ref"]
            assert b"".join(b for _, b in bodies).decode("utf-16-be") == ARABIC_LONG

            r = await http.post("/api/mo", json={"from": "91234567", "text": "FINE 123", "concat": "sar"})
            [short] = [await esme.next_pdu("deliver_sm")]
            assert short.params["short_message"] == b"FINE 123" and short.tlvs == {}

            convo = (await http.get("/api/phones/91234567")).json()
            assert [m["direction"] for m in convo["messages"]] == ["mo", "mo"]
            await sim.wait_until(lambda: sim.stats["mo_acked"] == 3)
            assert (await http.get("/api/phones/91234567")).json()["messages"][0]["state"] == "acked"
            phones = (await http.get("/api/phones")).json()["phones"]
            assert phones[0]["msisdn"] == "96891234567" and phones[0]["count"] == 2
            since = convo["messages"][0]["id"]
            assert len((await http.get(f"/api/phones/91234567?since={since}")).json()["messages"]) == 1

            # bad requests get clear errors
            r = await http.post("/api/mo", content=b'{"from":"1","text":"x"}', headers={"Content-Type": "text/plain"})
            assert r.status_code == 415
            assert (await http.post("/api/mo", json={"from": "91234567"})).status_code == 400
            assert (await http.post("/api/mo", json={"from": "abc", "text": "x"})).status_code == 400
            assert (await http.get("/api/nothing")).status_code == 404
            stats = (await http.get("/api/stats")).json()
            assert stats["mo_messages"] == 2 and stats["bound"] == 1
            assert (await http.get("/api/sessions")).json()["sessions"][0]["system_id"] == "ropsms"

    with_sim(body)


def test_faults_api():
    async def body(sim):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sim.web_port}") as http:
            r = await http.post("/api/faults", json={"throttle_tps": 7, "receipt_before_resp": True,
                                                     "outcomes": {"delivered": 3, "expired": 1}})
            assert r.status_code == 200 and r.json()["throttle_tps"] == 7
            assert sim.config.receipt_before_resp is True and sim.config.outcomes == {"delivered": 3, "expired": 1}
            r = await http.post("/api/faults", json={"outcomes": {"lost": 1}})
            assert r.status_code == 400 and "unknown outcome" in r.json()["error"]
            assert sim.config.outcomes == {"delivered": 3, "expired": 1}  # unchanged after a bad request
            assert (await http.post("/api/faults", json={"port": 1})).status_code == 400
            esme = await bound(sim)
            r = await http.post("/api/faults", json={"malformed": 1, "malformed_kind": "unknown_command"})
            assert r.json()["malformed_sent"] == 1
            assert isinstance(await esme.next_pdu(), BadPdu)
            r = await http.post("/api/faults", json={"drop_now": True})
            assert r.json()["dropped"] == 1
            await asyncio.wait_for(esme.closed.wait(), 5)
            assert (await http.get("/api/faults")).json()["throttle_tps"] == 7
            assert (await http.post("/api/reset", json={})).status_code == 200
            assert sim.stats.get("drops", 0) == 0

    with_sim(body)


def test_outcome_ratios_are_followed():
    async def body(sim):
        esme = await bound(sim)
        pdus = [esme.submit_pdus(f"9{i:07d}", "x")[0] for i in range(2, 202)]
        await asyncio.gather(*(esme.request(p) for p in pdus))
        delivered, undeliverable = sim.stats["outcome_delivered"], sim.stats["outcome_undeliverable"]
        assert delivered + undeliverable == 200
        assert 60 <= undeliverable <= 140  # 50/50 with a fixed seed; never all one way

    with_sim(body, outcomes={"delivered": 1, "undeliverable": 1}, rules=[])


def test_running_simulator_in_a_thread():
    import socket

    with running_simulator(receipt_delay=0) as sim:
        assert sim.port and sim.web_port
        with socket.create_connection(("127.0.0.1", sim.port), timeout=5):
            pass
        with pytest.raises(Exception, match="no gateway"):
            sim.call(sim.send_mo, "91234567", "hi")


# ----------------------------------------------------------------------------- configuration
def test_config_parsing_and_validation(monkeypatch, tmp_path):
    from ropsms.smpp.simulator import ConfigError
    from ropsms.smpp.simulator.config import from_environment, parse_accounts, parse_rule

    assert parse_accounts("ropsms:secret, backup:p:w") == {"ropsms": "secret", "backup": "p:w"}
    with pytest.raises(ConfigError, match="system_id:password"):
        parse_accounts("justaname")
    rule = parse_rule("0000=undeliverable")
    assert rule.match == "suffix:0000" and rule.matches("96891230000") and not rule.matches("96891230001")
    assert parse_rule("^9687=ESME_RINVDSTADR").submit_status == STATUS.ESME_RINVDSTADR
    assert parse_rule("prefix:9689=0x45").submit_status == 0x45
    with pytest.raises(ConfigError, match="neither an outcome"):
        parse_rule("0000=vanished")
    with pytest.raises(ConfigError, match="valid regex"):
        parse_rule("([=expired")
    with pytest.raises(ConfigError, match="id_format"):
        SimConfig(id_format="octal")
    with pytest.raises(ConfigError, match="not all zero"):
        SimConfig(outcomes={"delivered": 0})
    with pytest.raises(ConfigError, match="at least one account"):
        SimConfig(accounts={})

    yaml_file = tmp_path / "sim.yaml"
    yaml_file.write_text("id_format: decimal\nrules:\n  - {match: 'suffix:99', outcome: expired}\n")
    monkeypatch.setenv("ROPSMS_SIM_CONFIG", str(yaml_file))
    monkeypatch.setenv("ROPSMS_SIM_ACCOUNTS", "a:1,b:2")
    monkeypatch.setenv("ROPSMS_SIM_RECEIPT_DELAY", "0.25")
    config = SimConfig(**from_environment({"port": 0}))
    assert config.accounts == {"a": "1", "b": "2"} and config.id_format == "decimal"
    assert config.receipt_delay == 0.25 and config.rules[0].matches("123499")
    assert "1" not in str(config.as_dict()["accounts"])  # passwords are never echoed
