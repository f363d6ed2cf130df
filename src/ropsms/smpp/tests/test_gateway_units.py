"""Sans-I/O parts of the gateway, without sockets: session, throttle, correlator, MO, routing, ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ropsms.messaging import encoding
from ropsms.smpp import outbox
from ropsms.smpp.gateway.correlate import Ack, Correlator
from ropsms.smpp.gateway.ids import normalise, readings, variants
from ropsms.smpp.gateway.mo import MoAssembler
from ropsms.smpp.gateway.routing import RouteEntry, Router
from ropsms.smpp.gateway.session import (
    BindFailed,
    Bound,
    Closed,
    MoIn,
    PeerError,
    ReceiptIn,
    Session,
    SubmitLost,
    SubmitResult,
    classify,
)
from ropsms.smpp.gateway.session import State as S
from ropsms.smpp.gateway.throttle import TokenBucket
from ropsms.smpp.pdu import STATUS, BadPdu, Pdu, concat_udh, format_receipt

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def bound_session(**kw) -> Session:
    s = Session(mode=kw.pop("mode", "trx"), system_id="ropsms", password="secret", window=kw.pop("window", 2),
                enquire_interval=kw.pop("enquire_interval", 30), response_timeout=kw.pop("response_timeout", 10))
    bind = s.bind(0.0)
    assert bind.command == "bind_transceiver" and bind.params["password"] == "secret"
    out, events = s.receive(Pdu("bind_transceiver_resp", bind.sequence, 0, {"system_id": "SMSC"}), 0.1)
    assert out == [] and events == [Bound("SMSC")] and s.state is S.BOUND
    return s


class TestSession:
    def test_bind_refused_closes(self):
        s = Session(mode="tx", system_id="x", password="bad")
        bind = s.bind(0.0)
        assert bind.command == "bind_transmitter"
        _, events = s.receive(Pdu("bind_transmitter_resp", bind.sequence, STATUS.ESME_RINVPASWD), 0.1)
        assert isinstance(events[0], BindFailed) and isinstance(events[1], Closed) and s.state is S.CLOSED

    def test_window_limits_outstanding_submits_and_responses_free_it(self):
        s = bound_session(window=2)
        a = s.submit("a", {"destination_addr": "1"}, None, 1.0)
        b = s.submit("b", {"destination_addr": "2"}, None, 1.0)
        assert not s.window_free and s.in_flight == 2 and a.sequence != b.sequence
        with pytest.raises(RuntimeError):
            s.submit("c", {}, None, 1.0)
        _, events = s.receive(Pdu("submit_sm_resp", b.sequence, 0, {"message_id": "0A"}), 1.1)
        assert events == [SubmitResult("b", 0, "0A")] and s.window_free
        _, events = s.receive(Pdu("submit_sm_resp", a.sequence, STATUS.ESME_RTHROTTLED), 1.2)
        assert events == [SubmitResult("a", STATUS.ESME_RTHROTTLED, "")]

    def test_timeouts_and_abort_return_every_outstanding_submit(self):
        s = bound_session(window=3, response_timeout=5)
        s.submit("old", {}, None, 1.0)
        s.submit("new", {}, None, 5.0)
        _, events = s.tick(6.5)
        assert events == [SubmitLost("old", "timeout")]
        assert s.abort("link closed") == [SubmitLost("new", "link closed")] and s.in_flight == 0

    def test_enquire_link_both_ways_and_a_silent_peer_closes_the_link(self):
        s = bound_session(enquire_interval=30, response_timeout=10)
        out, _ = s.receive(Pdu("enquire_link", 77), 1.0)
        assert out == [Pdu("enquire_link_resp", 77)]
        assert s.tick(20.0) == ([], [])
        out, _ = s.tick(31.0)
        assert [p.command for p in out] == ["enquire_link"]
        s.receive(Pdu("enquire_link_resp", out[0].sequence), 31.5)
        out, _ = s.tick(62.0)
        assert [p.command for p in out] == ["enquire_link"]
        _, events = s.tick(73.0)
        assert events == [Closed("no answer to enquire_link")] and s.state is S.CLOSED

    def test_bad_and_unknown_pdus_get_generic_nack_and_never_raise(self):
        s = bound_session()
        out, events = s.receive(BadPdu(9, 0x777, STATUS.ESME_RINVCMDID, "unknown command"), 1.0)
        assert out == [Pdu("generic_nack", 9, STATUS.ESME_RINVCMDID)] and isinstance(events[0], PeerError)
        out, _ = s.receive(Pdu("query_sm", 10, 0, {"message_id": "1"}), 1.0)
        assert out == [Pdu("generic_nack", 10, STATUS.ESME_RINVCMDID)]
        out, events = s.receive(Pdu("submit_sm_resp", 999, 0, {"message_id": "x"}), 1.0)
        assert out == [] and isinstance(events[0], PeerError)

    def test_generic_nack_for_a_submit_is_a_transient_error(self):
        s = bound_session()
        sub = s.submit("a", {}, None, 1.0)
        _, events = s.receive(Pdu("generic_nack", sub.sequence, STATUS.ESME_RINVCMDLEN), 1.1)
        assert events == [SubmitResult("a", STATUS.ESME_RINVCMDLEN, "")]

    def test_receipts_by_tlv_or_text_and_mo_are_told_apart_and_answered_by_the_owner(self):
        s = bound_session()
        by_tlv = Pdu("deliver_sm", 5, 0, {"esm_class": 0x04, "short_message": b""},
                     {"receipted_message_id": "00AB", "message_state": 5, "network_error_code": b"\x03\x00\x01"})
        out, events = s.receive(by_tlv, 1.0)
        assert out == []  # the answer waits until the receipt is stored
        assert events == [ReceiptIn("00AB", "undeliverable", "030001", Pdu("deliver_sm_resp", 5))]
        text = format_receipt(message_id="171", stat="EXPIRED", err=4, text="hi", done_at=NOW, submit_at=NOW)
        _, events = s.receive(Pdu("deliver_sm", 6, 0, {"esm_class": 0x04, "short_message": text.encode()}), 1.0)
        assert (events[0].message_id, events[0].state, events[0].error_code) == ("171", "expired", "004")
        enroute = format_receipt(message_id="5", stat="ENROUTE", done_at=NOW, submit_at=NOW)
        _, events = s.receive(Pdu("deliver_sm", 7, 0, {"esm_class": 0x04, "short_message": enroute.encode()}), 1.0)
        assert events[0].state is None  # intermediate: not final
        mo = Pdu("deliver_sm", 8, 0, {"esm_class": 0, "source_addr": "96891234567", "short_message": b"HI"})
        _, events = s.receive(mo, 1.0)
        assert events == [MoIn(mo, Pdu("deliver_sm_resp", 8))]

    def test_graceful_unbind(self):
        s = bound_session()
        unbind = s.unbind(1.0)
        assert unbind.command == "unbind" and s.state is S.UNBINDING
        _, events = s.receive(Pdu("unbind_resp", unbind.sequence), 1.1)
        assert events == [Closed("unbound")]

    def test_error_classes(self):
        assert classify(0) == "ok"
        assert classify(STATUS.ESME_RTHROTTLED) == classify(STATUS.ESME_RMSGQFUL) == "throttle"
        assert classify(STATUS.ESME_RSYSERR) == classify(STATUS.ESME_RX_T_APPN) == "transient"
        assert classify(STATUS.ESME_RINVDSTADR) == classify(STATUS.ESME_RX_P_APPN) == "permanent"


def test_token_bucket_rate_and_back_off():
    bucket = TokenBucket(10, burst=2, now=0.0)
    assert bucket.delay(0.0) == 0 and bucket.delay(0.0) == 0
    assert bucket.delay(0.0) == pytest.approx(0.1)
    assert bucket.delay(0.1) == 0
    bucket.penalise(1.0, pause=1.0)
    assert bucket.current_rate == 5 and bucket.delay(1.5) == pytest.approx(0.5)
    assert bucket.delay(2.0) > 0  # empty after the penalty
    bucket.delay(12.0)
    assert bucket.current_rate == 10  # recovered


def test_ids_normalise_and_readings():
    assert normalise(" 000AbC\x00") == "abc" and normalise("000") == "0" and normalise(b"12") == "12"
    assert variants("0001A") == ("1a", "26")
    assert variants("26") == ("26", "38", "1a")
    assert readings("ff") == [("exact", "ff"), ("hex2dec", "255")]


class TestCorrelator:
    def test_receipt_after_and_before_resp_duplicates_and_worst_part(self):
        c = Correlator()
        ops = c.register(message_id=1, operator="Op", ids=["0A1"], at=NOW, now=0.0)
        assert ops == []
        ack = Ack(lambda: None)
        ops = c.receipt(operator="Op", raw_id="a1", state="delivered", error_code="", at=NOW, now=1.0, ack=ack)
        assert ops == [outbox.Final(1, "delivered", NOW), ack]
        assert c.receipt(operator="Op", raw_id="A1", state="rejected", error_code="", at=NOW, now=1.0) == []
        # Three parts; one receipt comes before its submit_sm_resp.
        assert c.receipt(operator="Op", raw_id="B3", state="delivered", error_code="", at=NOW, now=2.0) == []
        ops = c.register(message_id=2, operator="Op", ids=["b1", "b2", "b3"], at=NOW, now=2.1)
        assert ops == [outbox.PartState("Op", "b3", "delivered")]
        c.receipt(operator="Op", raw_id="b1", state="delivered", error_code="", at=NOW, now=2.2)
        ops = c.receipt(operator="Op", raw_id="b2", state="undeliverable", error_code="001", at=NOW, now=2.3)
        assert ops[0].message_id == 2 and ops[0].state == "undeliverable" and ops[0].error_code == "001"

    def test_learned_reading_prevents_cross_format_mismatch(self):
        c = Correlator()
        c.register(message_id=1, operator="Op", ids=["6e"], at=NOW, now=0.0)
        c.receipt(operator="Op", raw_id="6e", state="delivered", error_code="", at=NOW, now=0.1)  # learns exact
        c.register(message_id=2, operator="Op", ids=["111"], at=NOW, now=0.2)
        # A redelivered receipt for hex 6f (=111 decimal) from before a restart: not message 2's.
        ops = c.receipt(operator="Op", raw_id="6f", state="delivered", error_code="", at=NOW, now=0.3,
                        outstanding=False)
        assert ops == [outbox.Receipt("Op", ("6f", "111"), "delivered", "", NOW)]
        assert c.by_op[("Op", "111")][0].message_id == 2

    def test_decimal_receipts_for_hex_ids_are_learned(self):
        c = Correlator()
        c.register(message_id=1, operator="Op", ids=["1F4"], at=NOW, now=0.0)
        ops = c.receipt(operator="Op", raw_id="500", state="delivered", error_code="", at=NOW, now=0.1)
        assert ops == [outbox.Final(1, "delivered", NOW)] and c.learned("Op") == "dec2hex"  # the receipt's reading

    def test_unclaimed_early_receipts_go_to_the_database(self):
        c = Correlator(early_seconds=5)
        c.receipt(operator="Op", raw_id="77", state="expired", error_code="", at=NOW, now=0.0)
        assert c.sweep(3.0) == []
        assert c.sweep(6.0) == [outbox.Receipt("Op", ("77", "119", "4d"), "expired", "", NOW)]


def test_mo_reassembly_udh_sar_and_gsm_ucs2():
    asm = MoAssembler(timeout=60)
    text = "مرحبا " * 30
    parts = encoding.split(text).parts
    pdus = [Pdu("deliver_sm", i, 0, {"source_addr": "96891234567", "source_addr_ton": 1, "destination_addr": "90085",
                                    "esm_class": 0x40, "data_coding": 8,
                                    "short_message": concat_udh(7, len(parts), i + 1) + p.encode("utf-16-be")})
            for i, p in enumerate(parts)]
    assert [asm.add(p, 0.0) for p in reversed(pdus[1:])] == [None] * (len(parts) - 1)
    done = asm.add(pdus[0], 0.0)
    assert done.text == text and done.source == "+96891234567" and done.parts == len(parts)
    sar = [Pdu("deliver_sm", i, 0, {"source_addr": "91234567", "short_message": s.encode()},
               {"sar_msg_ref_num": 300, "sar_total_segments": 2, "sar_segment_seqnum": i + 1})
           for i, s in enumerate(["FINE ", "12345"])]
    assert asm.add(sar[0], 0.0) is None
    assert asm.add(sar[1], 0.0).text == "FINE 12345"
    assert asm.add(Pdu("deliver_sm", 1, 0, {"source_addr": "9", "short_message": b"lonely", "esm_class": 0x40,
                                            }), 0.0).text == "lonely"  # a UDH that does not parse is kept as text
    asm.add(Pdu("deliver_sm", 1, 0, {"source_addr": "1", "esm_class": 0x40,
                                     "short_message": concat_udh(1, 2, 1) + b"half"}), 0.0)
    assert [m.text for m in asm.expire(61.0)] == ["half"]


def test_router_prefixes_priorities_ported_numbers_and_failover_order():
    router = Router(routes=[RouteEntry("", 5, "Backup"), RouteEntry("9689", 0, "Omantel"),
                            RouteEntry("9687", 0, "Ooredoo"), RouteEntry("9689", 1, "Ooredoo")],
                    binds_by_operator={"Omantel": ["om-1", "om-2"], "Ooredoo": ["oo-1"], "Backup": ["bk"]},
                    ported={"96891111111": "Ooredoo"})
    assert router.binds_for("+96891234567") == ("om-1", "om-2", "oo-1", "bk")
    assert router.binds_for("+96871234567") == ("oo-1", "bk")
    assert router.binds_for("+96891111111") == ("oo-1", "om-1", "om-2", "bk")
    assert router.binds_for("+447700900123") == ("bk",)
