"""The gateway over TCP against the bundled SMSC simulator (issue 3 "Tests")."""

from __future__ import annotations

import asyncio

import pytest

from ropsms.messaging.models import InboundMessage, Message
from ropsms.messaging.services import send, send_many
from ropsms.smpp.models import MessagePart
from ropsms.smpp.pdu import STATUS
from ropsms.smpp.tests.gateway_helpers import (
    all_final,
    make_operator,
    run,
    simulator,
    until_all_final,
    wait_bound,
    wait_until,
    with_gateway,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ARABIC = ("شرطة عمان السلطانية: تم تجديد رخصة القيادة الخاصة بكم بنجاح، ويرجى مراجعة أقرب مركز "
          "للشرطة لاستلام البطاقة الجديدة خلال ثلاثين يوما من تاريخ هذه الرسالة. شكرا لكم")


@pytest.fixture(autouse=True)
def _loop_may_use_orm(monkeypatch):
    # The in-process gateway (inline_db) and the simulator share the test's event loop thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def numbers(n: int, start: int = 91000100) -> list[str]:
    return [f"+968{start + i}" for i in range(n)]


@pytest.mark.pg
def test_send_submit_receipt_final_states():
    async def main():
        sim = simulator()
        await sim.start()
        make_operator("Simulator", sim.port)
        ok = send(to="91234567", text="Your licence is renewed", producer="test")
        bad = send(to="91230000", text="Your licence is renewed", producer="test")  # sim: ...0000 undeliverable
        old = send(to="91234568", text="too late", producer="test")
        Message.objects.filter(pk=old.pk).update(valid_until=old.created_at)

        gw = await until_all_final(sim)
        return sim, gw, ok, bad, old

    sim, gw, ok, bad, old = run(main)
    ok.refresh_from_db()
    bad.refresh_from_db()
    old.refresh_from_db()
    assert ok.state == "delivered" and ok.route == "simulator" and ok.operator_message_id
    assert ok.submitted_at and ok.done_at
    assert bad.state == "undeliverable" and bad.error_code
    assert old.state == "expired" and "validity" in old.error_text
    assert [e.text for e in sim.inbox("+96891234567")] == ["Your licence is renewed"]
    assert MessagePart.objects.filter(message_id=ok.pk, bind="simulator").count() == 1
    assert gw.runners["simulator"].counters["submit_sm"] == 2


@pytest.mark.pg
def test_concatenated_arabic_reaches_the_phone_whole():
    async def main():
        sim = simulator()
        await sim.start()
        make_operator("Simulator", sim.port)
        msg = send(to="92345678", text=ARABIC, producer="test")
        assert msg.encoding == "ucs2" and msg.parts_count >= 3

        async def body(gw):
            assert await wait_until(all_final())
        await with_gateway(body)
        await sim.stop()
        return sim, msg

    sim, msg = run(main)
    msg.refresh_from_db()
    assert msg.state == "delivered"
    inbox = sim.inbox("92345678")
    assert len(inbox) == 1 and inbox[0].text == ARABIC and inbox[0].parts == msg.parts_count
    parts = MessagePart.objects.filter(message_id=msg.pk)
    assert sorted(p.index for p in parts) == list(range(msg.parts_count))
    assert len({p.op_id for p in parts}) == msg.parts_count


def test_throttling_slows_down_and_loses_nothing():
    async def main():
        sim = simulator(throttle_tps=40)
        await sim.start()
        make_operator("Simulator", sim.port, tps=1000, window=16)
        send_many(recipients=numbers(120), text="bulk notice", producer="test")

        gw = await until_all_final(sim, timeout=30)
        return sim, gw

    sim, gw = run(main)
    runner = gw.runners["simulator"]
    assert sim.stats["throttled"] > 0 and runner.counters["throttled"] == sim.stats["throttled"]
    assert Message.objects.filter(state="delivered").count() == 120
    assert runner.bucket.factor < 1.0 or runner.bucket.rate == 1000  # it backed off at some point


@pytest.mark.pg
def test_link_dropped_mid_window_reconnects_and_loses_nothing():
    async def main():
        sim = simulator(drop_after=40)
        await sim.start()
        make_operator("Simulator", sim.port, window=32, tps=5000)
        send_many(recipients=numbers(200), text="drop test", producer="test")

        gw = await until_all_final(sim, timeout=30)
        return sim, gw

    sim, gw = run(main)
    runner = gw.runners["simulator"]
    assert sim.stats["drops"] >= 1 and runner.counters["reconnects"] >= 1 and runner.counters["binds"] >= 2
    assert Message.objects.filter(state="delivered").count() == 200
    for number in numbers(200):  # every phone got its message (duplicates only from the dropped window)
        assert 1 <= len(sim.inbox(number)) <= 2


@pytest.mark.pg
@pytest.mark.parametrize(("id_format", "receipt_id_format"), [("hex", None), ("HEX0", "decimal"), ("decimal0", "hex")])
def test_receipt_before_submit_resp_and_odd_id_formats(id_format, receipt_id_format):
    async def main():
        sim = simulator(receipt_before_resp=True, id_format=id_format, receipt_id_format=receipt_id_format,
                        first_id=0x1F0)
        await sim.start()
        make_operator("Simulator", sim.port)
        send_many(recipients=numbers(30), text="early receipt", producer="test")
        send(to="93000000", text="undeliverable one", producer="test")

        gw = await until_all_final(sim)
        return gw

    gw = run(main)
    assert Message.objects.filter(state="delivered").count() == 30
    assert Message.objects.get(to="+96893000000").state == "undeliverable"
    assert gw.correlator.early_held >= 30


def test_receipts_by_text_only_and_duplicates_change_nothing():
    async def main():
        sim = simulator(receipt_tlvs=False)
        await sim.start()
        make_operator("Simulator", sim.port)
        msg = send(to="94000000", text="text receipt", producer="test")  # ...0000: undeliverable

        async def body(gw):
            assert await wait_until(all_final())
            runner = gw.runners["simulator"]
            part = MessagePart.objects.get(message_id=msg.pk)
            from ropsms.smpp.gateway.session import ReceiptIn
            gw.on_receipt(runner, ReceiptIn(part.raw_id, "delivered", ""))  # a duplicate with another state
            await asyncio.sleep(0.1)
            return gw
        gw = await with_gateway(body)
        await sim.stop()
        return gw, msg

    _gw, msg = run(main)
    msg.refresh_from_db()
    assert msg.state == "undeliverable"


def test_permanent_and_transient_errors():
    async def main():
        sim = simulator()
        await sim.start()
        make_operator("Simulator", sim.port)
        sim.set_faults(rules=[{"match": "suffix:13", "submit_status": int(STATUS.ESME_RINVDSTADR)},
                              {"match": "suffix:14", "submit_status": int(STATUS.ESME_RSYSERR)}])
        rejected = send(to="91000013", text="x", producer="test")
        failed = send(to="91000014", text="y", producer="test")
        fine = send(to="91000015", text="z", producer="test")

        async def body(gw):
            assert await wait_until(all_final())
        await with_gateway(body, max_retries=2)
        await sim.stop()
        return sim, rejected, failed, fine

    _sim, rejected, failed, fine = run(main)
    for m in (rejected, failed, fine):
        m.refresh_from_db()
    assert (rejected.state, rejected.error_code) == ("rejected", "ESME_RINVDSTADR")
    assert (failed.state, failed.error_code) == ("failed", "ESME_RSYSERR")
    assert fine.state == "delivered"


def test_malformed_pdus_from_the_peer_do_not_kill_the_link():
    async def main():
        sim = simulator()
        await sim.start()
        make_operator("Simulator", sim.port)

        async def body(gw):
            assert await wait_bound(gw)
            assert sim.send_malformed(6, "mixed") == 6
            await asyncio.sleep(0.3)
            send_many(recipients=numbers(20), text="after garbage", producer="test")
            assert await wait_until(all_final())
            sim.send_malformed(1, "bad_length")  # cannot be framed: the link must drop and come back
            await asyncio.sleep(0.3)
            send_many(recipients=numbers(20, 92000100), text="after reconnect", producer="test")
            assert await wait_until(all_final())
        gw = await with_gateway(body)
        await sim.stop()
        return sim, gw

    _sim, gw = run(main)
    runner = gw.runners["simulator"]
    assert runner.counters["peer_errors"] >= 6
    assert runner.counters["reconnects"] == 1
    assert Message.objects.filter(state="delivered").count() == 40


def test_failover_to_the_next_route_when_a_bind_is_down_and_ported_numbers():
    async def main():
        # Receipts are matched per operator: each operator has its own account at the SMSC.
        sim = simulator(accounts={"ropsms": "secret", "ported": "secret"})
        await sim.start()
        # Dead first choice (nothing listens there), then the simulator.
        make_operator("Dead", 9, prefix="968", priority=0, reconnect_min_seconds=5, reconnect_max_seconds=5)
        make_operator("Backup", sim.port, prefix="968", priority=1)
        make_operator("Ported", sim.port, bind="ported-bind", prefix="99", priority=0, system_id="ported")
        from ropsms.smpp.models import Operator, PortedNumber
        PortedNumber.objects.create(msisdn="96891111111", operator=Operator.objects.get(name="Ported"))
        a = send(to="91234567", text="via backup", producer="test")
        b = send(to="91111111", text="ported", producer="test")

        async def body(gw):
            assert await wait_until(all_final())
        await with_gateway(body)
        await sim.stop()
        return a, b

    a, b = run(main)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.state, a.route) == ("delivered", "backup")
    assert (b.state, b.route) == ("delivered", "ported-bind")


def test_mo_is_reassembled_and_handed_to_inbound():
    async def main():
        sim = simulator()
        await sim.start()
        make_operator("Simulator", sim.port)

        async def body(gw):
            assert await wait_bound(gw)
            sim.send_mo("91234567", "FINE 12345")
            sim.send_mo("92345678", ARABIC)
            sim.send_mo("+447700900123", "hello " * 40, concat="sar")
            assert await wait_until(lambda: InboundMessage.objects.count() == 3)
        await with_gateway(body)
        await sim.stop()

    run(main)
    by_from = {m.msisdn: m for m in InboundMessage.objects.all()}
    assert by_from["+96891234567"].text == "FINE 12345"
    assert by_from["+96891234567"].operator == "Simulator" and by_from["+96891234567"].bind == "simulator"
    assert by_from["+96892345678"].text == ARABIC
    assert by_from["+447700900123"].text == "hello " * 40


def test_transmitter_receiver_pair_carries_submits_and_receipts():
    async def main():
        sim = simulator()
        await sim.start()
        make_operator("Simulator", sim.port, mode="pair")
        send_many(recipients=numbers(10), text="pair", producer="test")

        async def body(gw):
            assert await wait_until(all_final())
            modes = sorted(s["mode"] for s in sim.bound_sessions())
            assert modes == ["receiver", "transmitter"], modes
        gw = await with_gateway(body)
        await sim.stop()
        return gw

    gw = run(main)
    assert Message.objects.filter(state="delivered").count() == 10
    assert gw.runners["simulator"].counters["receipts"] == 10


def test_graceful_stop_mid_batch_answers_in_flight_and_returns_the_rest():
    async def main():
        sim = simulator(receipt_delay=0.01)
        await sim.start()
        make_operator("Simulator", sim.port, tps=100, window=8)
        send_many(recipients=numbers(300), text="stop test", producer="test")

        async def body(gw):
            assert await wait_until(lambda: sim.stats["submits_accepted"] >= 30)
        await with_gateway(body)
        accepted = sim.stats["submits_accepted"]
        await sim.stop()
        return accepted

    accepted = run(main)
    counts = {s: Message.objects.filter(state=s).count() for s in ("sending", "queued", "submitted", "delivered")}
    assert counts["sending"] == 0  # nothing left leased by a stopped gateway
    assert counts["queued"] == 300 - accepted  # everything not sent is back in the queue, untouched
    assert counts["submitted"] + counts["delivered"] == accepted
    assert not Message.objects.filter(state="queued").exclude(attempts=0).exists()


def test_a_bind_held_by_another_node_is_taken_over_when_its_lease_lapses():
    async def main():
        sim = simulator()
        await sim.start()
        bind = make_operator("Simulator", sim.port)
        from ropsms.smpp import outbox
        assert outbox.acquire_binds(owner="ghost", bind_ids=[bind.pk], lease_seconds=1.5)  # a node that then died
        msg = send(to="91234567", text="after takeover", producer="test")

        async def body(gw):
            await asyncio.sleep(0.5)
            assert sim.bound_sessions() == [] and "simulator" not in gw.runners  # not ours yet
            assert await wait_until(all_final(), timeout=15)
            assert len(sim.bound_sessions()) == 1
        await with_gateway(body, bind_lease_seconds=3.0)
        await sim.stop()
        return msg

    msg = run(main)
    msg.refresh_from_db()
    assert msg.state == "delivered"
