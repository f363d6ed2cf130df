"""The SMSC side: an asyncio SMPP 3.4 server built on `ropsms.smpp.pdu`.

One `Session` (an `asyncio.Protocol`, cheaper than streams) per TCP connection. Everything a
session answers while handling one read is written with one `transport.write`. Delayed receipts
sit in a timer wheel (one `call_at` per 20 ms bucket, not one task or sleep per message), so the
instant-receipt mode used by benchmarks costs no timer at all.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import random
import socket
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from ropsms.smpp.pdu import (
    CMD,
    STATUS,
    BadPdu,
    Pdu,
    PduDecoder,
    PduStreamError,
    concat_udh,
    decode_short_message,
    encode,
    format_receipt,
    split_udh,
)

from .config import OUTCOME_RECEIPT, SimConfig, format_id
from .phones import Phones, Reassembler, canonical_number

log = logging.getLogger("ropsms.smpp.simulator")

TICK = 0.02  # timer-wheel bucket, seconds
RETRY_STATUSES = {STATUS.ESME_RX_T_APPN, STATUS.ESME_RMSGQFUL, STATUS.ESME_RTHROTTLED}
_NOT_FROM_ESME = {"deliver_sm", "outbind", "alert_notification"}


class NoGatewayBound(RuntimeError):
    """An MO cannot be delivered: no ESME is bound as receiver or transceiver."""


def _encoding_name(data_coding: int) -> str:
    return {0: "gsm", 8: "ucs2"}.get(data_coding, "other")


class Session(asyncio.Protocol):
    """One ESME connection: bind state, its outgoing buffer and the deliver_sm it still owes an answer."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.decoder = PduDecoder()
        self.transport: asyncio.Transport | None = None
        self.mode: str | None = None  # transmitter / receiver / transceiver once bound
        self.system_id = ""
        self.peer = ""
        self.out: list[bytes] = []
        self.closed = False
        self._seq = 0
        self._flush_pending = False
        self.awaiting: dict[int, tuple[str, Pdu, Any]] = {}  # seq -> (kind, pdu, extra) of our deliver_sm
        self._enquire: asyncio.TimerHandle | None = None
        self.connected_at = time.time()

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else "?"
        self.sim.sessions.add(self)
        self.sim.stats["connections"] += 1
        self._schedule_enquire()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.sim._session_gone(self)
        if self._enquire:
            self._enquire.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            items = self.decoder.feed(data)
        except PduStreamError as exc:
            self.sim.stats["bad_streams"] += 1
            log.warning("closing %s: %s", self.peer, exc)
            self.flush()
            self.abort()
            return
        handlers = self.HANDLERS
        for item in items:
            if self.closed:
                return
            if item.__class__ is BadPdu:
                self.sim.stats["bad_pdus"] += 1
                self.write(item.nack())
                continue
            handler = handlers.get(item.command)
            if handler is None:
                self._unexpected(item)
            else:
                handler(self, item)
        self.flush()

    # ------------------------------------------------------------------ output
    def write(self, pdu: Pdu) -> None:
        self.out.append(encode(pdu))

    def flush(self) -> None:
        self._flush_pending = False
        if self.out and not self.closed:
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def next_sequence(self) -> int:
        self._seq = self._seq + 1 if self._seq < 0x7FFFFFFF else 1
        return self._seq

    def send_request(self, pdu: Pdu, kind: str, extra: Any = None) -> None:
        """Send an SMSC-originated PDU (deliver_sm, enquire_link) and remember it until answered."""
        pdu.sequence = self.next_sequence()
        self.awaiting[pdu.sequence] = (kind, pdu, extra)
        self.out.append(encode(pdu))
        if not self._flush_pending:
            self._flush_pending = True
            self.sim.loop.call_soon(self.flush)

    def send_raw(self, data: bytes) -> None:
        self.out.append(data)
        self.flush()

    def abort(self) -> None:
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.abort()

    @property
    def can_receive(self) -> bool:
        return self.mode in ("receiver", "transceiver") and not self.closed

    def describe(self) -> dict[str, Any]:
        return {"peer": self.peer, "system_id": self.system_id, "mode": self.mode,
                "connected_at": self.connected_at, "awaiting": len(self.awaiting)}

    # ------------------------------------------------------------------ handlers
    def on_bind(self, pdu: Pdu) -> None:
        sim = self.sim
        mode = pdu.command[5:]
        system_id = pdu.params.get("system_id", "")
        if self.mode is not None:
            status = STATUS.ESME_RALYBND
        else:
            expected = sim.config.accounts.get(system_id)
            if expected is None:
                status = STATUS.ESME_RINVSYSID
            elif not hmac.compare_digest(expected.encode(), pdu.params.get("password", "").encode()):
                status = STATUS.ESME_RINVPASWD
            else:
                status = STATUS.ESME_ROK
        if status:
            sim.stats["binds_failed"] += 1
            log.info("bind %s as %r from %s refused: %s", mode, system_id, self.peer, STATUS(status).name)
            self.write(pdu.response(status))
            return
        self.mode, self.system_id = mode, system_id
        sim.stats["binds"] += 1
        log.info("bound %s as %r from %s", mode, system_id, self.peer)
        resp = pdu.response(system_id=sim.config.system_id)
        resp.tlvs["sc_interface_version"] = 0x34
        self.write(resp)
        if self.can_receive:
            sim._receiver_bound(self)

    def on_submit(self, pdu: Pdu) -> None:
        if self.mode not in ("transmitter", "transceiver"):
            self.write(pdu.response(STATUS.ESME_RINVBNDSTS))
            return
        self.sim._submit(self, pdu)

    def on_query(self, pdu: Pdu) -> None:
        if self.mode not in ("transmitter", "transceiver"):
            self.write(pdu.response(STATUS.ESME_RINVBNDSTS))
            return
        mid = pdu.params.get("message_id", "")
        record = self.sim.messages.get(mid)
        if record is None:
            self.write(pdu.response(STATUS.ESME_RQUERYFAIL))
            return
        state, final_date = record[1], record[2]
        self.write(pdu.response(message_id=mid, final_date=final_date, message_state=state, error_code=0))

    def on_cancel_or_replace(self, pdu: Pdu) -> None:
        status = STATUS.ESME_RCANCELFAIL if pdu.command == "cancel_sm" else STATUS.ESME_RREPLACEFAIL
        self.write(pdu.response(STATUS.ESME_RINVBNDSTS if self.mode is None else status))

    def on_enquire_link(self, pdu: Pdu) -> None:
        self.sim.stats["enquire_links_received"] += 1
        self.write(pdu.response())

    def on_unbind(self, pdu: Pdu) -> None:
        self.write(pdu.response())
        self.flush()
        self.sim._session_gone(self)  # give undelivered work back before the socket closes
        self.closed = True
        self.transport.close()

    def on_response(self, pdu: Pdu) -> None:
        sim = self.sim
        pending = self.awaiting.pop(pdu.sequence, None)
        if pdu.command == "generic_nack":
            sim.stats["nacks_received"] += 1
        if pending is None:
            if pdu.command != "generic_nack":
                sim.stats["unexpected_responses"] += 1
            return
        kind, sent, extra = pending
        if kind == "enquire_link":
            sim.stats["enquire_link_resps"] += 1
            return
        if pdu.status == 0 and pdu.command == "deliver_sm_resp":
            if kind == "receipt":
                sim.stats["receipts_acked"] += 1
            else:
                sim.stats["mo_acked"] += 1
                if extra is not None:
                    extra.state = "acked"
            return
        sim.stats[f"{kind}_refused"] += 1
        if pdu.status in RETRY_STATUSES:
            sim._schedule(1.0, self.system_id, kind, sent, extra)
        elif kind == "mo" and extra is not None:
            extra.state = f"refused 0x{pdu.status:x}"

    def _unexpected(self, pdu: Pdu) -> None:
        if pdu.command in _NOT_FROM_ESME:
            self.write(Pdu("generic_nack", pdu.sequence, STATUS.ESME_RINVCMDID))
        elif pdu.is_response:
            self.on_response(pdu)
        elif self.mode is None:
            self.write(pdu.response(STATUS.ESME_RINVBNDSTS))
        else:
            self.write(Pdu("generic_nack", pdu.sequence, STATUS.ESME_RINVCMDID))

    HANDLERS: dict[str, Callable[[Session, Pdu], None]] = {
        "bind_transmitter": on_bind,
        "bind_receiver": on_bind,
        "bind_transceiver": on_bind,
        "submit_sm": on_submit,
        "data_sm": on_submit,
        "query_sm": on_query,
        "cancel_sm": on_cancel_or_replace,
        "replace_sm": on_cancel_or_replace,
        "enquire_link": on_enquire_link,
        "unbind": on_unbind,
        "deliver_sm_resp": on_response,
        "enquire_link_resp": on_response,
        "generic_nack": on_response,
    }

    # ------------------------------------------------------------------ our own enquire_link
    def _schedule_enquire(self) -> None:
        interval = self.sim.config.enquire_link_interval
        if interval > 0:
            self._enquire = self.sim.loop.call_later(interval, self._send_enquire)

    def _send_enquire(self) -> None:
        if self.closed:
            return
        if self.mode is not None:
            self.sim.stats["enquire_links_sent"] += 1
            self.send_request(Pdu("enquire_link", 0), "enquire_link")
        self._schedule_enquire()


class Simulator:
    """The SMSC simulator: SMPP server, virtual phones and (optionally) the web/control server."""

    def __init__(self, config: SimConfig | None = None, **overrides: Any) -> None:
        self.config = config or SimConfig()
        if overrides:
            self.config.update(overrides, runtime_only=False)
        self.rng = random.Random(self.config.seed)
        self.phones = Phones(self.config.inbox_limit)
        self.reassembler = Reassembler()
        self.sessions: set[Session] = set()
        self.stats: dict[str, int] = defaultdict(int)
        self.messages: dict[str, list] = {}  # message id -> [destination, message_state, final_date]
        self._receivers: dict[str, list[Session]] = defaultdict(list)
        self._undelivered: dict[str, deque] = defaultdict(deque)  # system_id -> (kind, pdu, extra)
        self._rr = 0
        self._next_id = self.config.first_id
        self._wheel: dict[int, list] = {}
        self._buckets: dict[str, list[float]] = {}  # throttle: system_id -> [tokens, last refill]
        self._drop_left = self.config.drop_after + 1 if self.config.drop_after else 0
        self._server: asyncio.base_events.Server | None = None
        self._web = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None
        self.web_port: int | None = None
        self.started_at = 0.0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        cfg = self.config
        self._server = await self.loop.create_server(lambda: Session(self), cfg.host, cfg.port,
                                                     reuse_address=True, ssl=cfg.server_tls_context())
        self.port = self._server.sockets[0].getsockname()[1]
        self.web_port = None
        if cfg.web_port is not None:
            from .web import WebServer

            self._web = WebServer(self)
            self.web_port = await self._web.start(cfg.host, cfg.web_port)
        self.started_at = time.time()
        log.info("SMSC simulator listening on %s:%s%s (web %s)", cfg.host, self.port,
                 (" over TLS" + (", client certificates required" if cfg.tls_client_ca_file else ""))
                 if cfg.tls else "", self.web_port)

    async def stop(self) -> None:
        if self._web is not None:
            await self._web.stop()
        if self._server is not None:
            self._server.close()
            for session in list(self.sessions):
                session.abort()
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # ------------------------------------------------------------------ control (tests, web API)
    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change behaviour while running (names as in SimConfig.RUNTIME); returns the new values."""
        self.config.update(changes)
        if "drop_after" in changes:  # answer that many, drop at the next one
            self._drop_left = self.config.drop_after + 1 if self.config.drop_after else 0
        return self.config.runtime_dict()

    def drop_all(self) -> int:
        """Drop every connection now, without unbind (as a network failure would)."""
        count = 0
        for session in list(self.sessions):
            session.flush()  # what was already answered goes out first
            session.abort()
            count += 1
        self.stats["drops"] += count
        return count

    def send_malformed(self, count: int = 1, kind: str = "mixed") -> int:
        """Send `count` malformed PDUs to every bound session; the ESME should answer generic_nack.

        kinds: "unknown_command" (a request with command_id 0x00000777), "bad_tlv" (a deliver_sm
        whose TLV runs past the end), "mixed" (alternating), "bad_length" (an impossible
        command_length: the ESME has to drop the link).
        """
        sent = 0
        for session in list(self.sessions):
            if session.mode is None or session.closed:
                continue
            for i in range(count):
                k = kind if kind != "mixed" else ("unknown_command", "bad_tlv")[i % 2]
                session.send_raw(self._malformed(session, k))
                sent += 1
        self.stats["malformed_sent"] += sent
        return sent

    def _malformed(self, session: Session, kind: str) -> bytes:
        seq = session.next_sequence()
        if kind == "unknown_command":
            return (16).to_bytes(4, "big") + (0x777).to_bytes(4, "big") + bytes(4) + seq.to_bytes(4, "big")
        if kind == "bad_length":
            return (8).to_bytes(4, "big") + CMD["deliver_sm"].to_bytes(4, "big") + bytes(4) + seq.to_bytes(4, "big")
        body = encode(Pdu("deliver_sm", seq, params={"source_addr": "96890000000", "destination_addr": "90085",
                                                     "short_message": b"x"}))[16:] + b"\x04\x27\x00\x09\x02"
        return (16 + len(body)).to_bytes(4, "big") + CMD["deliver_sm"].to_bytes(4, "big") + bytes(4) \
            + seq.to_bytes(4, "big") + body

    def bound_sessions(self) -> list[dict[str, Any]]:
        return [s.describe() for s in self.sessions if s.mode is not None]

    def inbox(self, msisdn: str) -> list:
        """The MT messages a phone received (reassembled), oldest first."""
        return self.phones.received(canonical_number(msisdn, self.config.country_code))

    def conversation(self, msisdn: str, since: int = 0) -> list:
        return self.phones.conversation(canonical_number(msisdn, self.config.country_code), since)

    def snapshot(self) -> dict[str, Any]:
        data = dict(self.stats)
        data.update(
            sessions=len(self.sessions), bound=sum(1 for s in self.sessions if s.mode),
            receipts_scheduled=sum(len(v) for v in self._wheel.values()),
            undelivered=sum(len(v) for v in self._undelivered.values()),
            unacknowledged=sum(len(s.awaiting) for s in self.sessions),
            reassembly_pending=self.reassembler.pending, uptime=round(time.time() - self.started_at, 1),
        )
        return data

    def reset(self) -> None:
        """Forget phones, counters and pending receipts (tests)."""
        self.phones.clear()
        self.stats.clear()
        self.messages.clear()
        self._wheel.clear()
        self._undelivered.clear()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll `predicate` every 10 ms until it is true or `timeout` passes; return its last value."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # ------------------------------------------------------------------ MO
    def send_mo(self, sender: str, text: str, *, to: str | None = None, system_id: str | None = None,
                concat: str = "udh"):
        """Send `text` as a phone to the bound gateway (deliver_sm, split and UCS-2 as needed).

        Raises NoGatewayBound when no receiver is bound; returns the conversation Entry.
        concat: "udh" (UDH in short_message) or "sar" (sar_* TLVs) for long texts.
        """
        from ropsms.messaging import encoding

        session = self._pick_receiver(system_id)
        if session is None:
            raise NoGatewayBound("no gateway is bound as receiver or transceiver"
                                 + (f" for {system_id!r}" if system_id else ""))
        number = canonical_number(sender, self.config.country_code)
        if not number:
            raise ValueError("the sender number has no digits")
        to = to or self.config.short_code
        split = encoding.split(text, max_parts=10)
        total = len(split.parts)
        ref = self.rng.randrange(1, 256)
        entry = self.phones.add(number, direction="mo", peer=to, text=text, encoding=split.encoding, parts=total)
        for i, part in enumerate(split.parts, start=1):
            body = encoding.encode(part, split.encoding)
            params = {"source_addr_ton": 1, "source_addr_npi": 1, "source_addr": number, "destination_addr": to,
                      "data_coding": split.data_coding, "esm_class": 0, "short_message": body}
            tlvs: dict[str, Any] = {}
            if total > 1 and concat == "udh":
                params["esm_class"] = 0x40
                params["short_message"] = concat_udh(ref, total, i) + body
            elif total > 1:
                tlvs = {"sar_msg_ref_num": ref, "sar_total_segments": total, "sar_segment_seqnum": i}
            pdu = Pdu("deliver_sm", 0, params=params, tlvs=tlvs)
            session.send_request(pdu, "mo", entry)
            self.stats["mo_sent"] += 1
        self.stats["mo_messages"] += 1
        return entry

    # ------------------------------------------------------------------ submit
    def _take_token(self, system_id: str, tps: int) -> bool:
        now = time.monotonic()
        bucket = self._buckets.get(system_id)
        if bucket is None:
            bucket = self._buckets[system_id] = [float(tps), now]
        tokens = min(float(tps), bucket[0] + (now - bucket[1]) * tps)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        return False

    def _outcome(self, number: str) -> tuple[str | None, int]:
        """(outcome, submit_status) for a destination: the first matching rule, else the ratios."""
        cfg = self.config
        for rule in cfg.rules:
            if rule.matches(number):
                if rule.submit_status:
                    return None, rule.submit_status
                return rule.outcome, 0
        outcomes = cfg.outcomes
        if len(outcomes) == 1:
            return next(iter(outcomes)), 0
        pick = self.rng.random() * sum(outcomes.values())
        for name, weight in outcomes.items():
            pick -= weight
            if pick < 0:
                return name, 0
        return name, 0

    def _submit(self, session: Session, pdu: Pdu) -> None:
        cfg = self.config
        stats = self.stats
        stats["submits"] += 1
        if self._drop_left:
            self._drop_left -= 1
            if self._drop_left == 0:
                cfg.drop_after = 0
                log.info("drop_after reached: dropping every connection")
                self.drop_all()
                return
        if cfg.drop_probability and self.rng.random() < cfg.drop_probability:
            stats["drops"] += 1
            session.abort()
            return
        if cfg.submit_status:
            stats["submits_rejected"] += 1
            session.write(pdu.response(cfg.submit_status))
            return
        if cfg.throttle_tps and not self._take_token(session.system_id, cfg.throttle_tps):
            stats["throttled"] += 1
            session.write(pdu.response(STATUS.ESME_RTHROTTLED))
            return
        params = pdu.params
        destination = params.get("destination_addr", "")
        number = canonical_number(destination, cfg.country_code)
        if not number:
            stats["submits_rejected"] += 1
            session.write(pdu.response(STATUS.ESME_RINVDSTADR))
            return
        outcome, status = self._outcome(number)
        if status:
            stats["submits_rejected"] += 1
            session.write(pdu.response(status))
            return

        # the message: text, concatenation info
        sm = params.get("short_message", b"")
        tlvs = pdu.tlvs
        if not sm and "message_payload" in tlvs:
            sm = tlvs["message_payload"]
        concat = None
        if params.get("esm_class", 0) & 0x40:
            concat, sm = split_udh(sm)
        elif "sar_msg_ref_num" in tlvs:
            concat = {"ref": tlvs["sar_msg_ref_num"], "total": tlvs.get("sar_total_segments", 1),
                      "seq": tlvs.get("sar_segment_seqnum", 1)}
        data_coding = params.get("data_coding", 0)
        text = decode_short_message(sm, data_coding)

        n = self._next_id
        self._next_id += 1
        message_id = format_id(n, cfg.id_format)
        receipt_id = format_id(n, cfg.receipt_id_format) if cfg.receipt_id_format else message_id
        source = params.get("source_addr", "")
        self.messages[message_id] = [number, 6, ""]  # ACCEPTED until the outcome is due
        if len(self.messages) > 200_000:
            del self.messages[next(iter(self.messages))]
        stats["submits_accepted"] += 1

        if concat and concat["total"] > 1:
            parts = self.reassembler.add((session.system_id, source, number, concat["ref"], concat["total"]),
                                         concat["total"], concat["seq"], (text, message_id))
            if parts is not None:
                self.phones.add(number, direction="mt", peer=source, text="".join(t for t, _ in parts),
                                encoding=_encoding_name(data_coding), parts=len(parts),
                                message_ids=[m for _, m in parts])
                stats["messages_reassembled"] += 1
        else:
            self.phones.add(number, direction="mt", peer=source, text=text, encoding=_encoding_name(data_coding),
                            message_ids=[message_id])

        registered = params.get("registered_delivery", 0) & 0x03
        wants_receipt = registered == 1 or (registered == 2 and outcome != "delivered")
        receipt = None
        if wants_receipt:
            state, stat, err = OUTCOME_RECEIPT[outcome]
            now = time.strftime("%y%m%d%H%M")
            rtext = format_receipt(message_id=receipt_id, submitted=1, delivered=int(state == 2), stat=stat,
                                   err=err, text=text[:20], done_at=now, submit_at=now)
            rtlvs: dict[str, Any] = {}
            if cfg.receipt_tlvs:
                rtlvs = {"receipted_message_id": receipt_id, "message_state": state}
                if err:
                    rtlvs["network_error_code"] = bytes((3, 0, err))
            receipt = Pdu("deliver_sm", 0, params={
                "source_addr_ton": params.get("dest_addr_ton", 0), "source_addr_npi": params.get("dest_addr_npi", 0),
                "source_addr": destination, "dest_addr_ton": params.get("source_addr_ton", 0),
                "dest_addr_npi": params.get("source_addr_npi", 0), "destination_addr": source,
                "esm_class": 0x04, "data_coding": 0, "short_message": rtext.encode("ascii", "replace"),
            }, tlvs=rtlvs)

        resp = pdu.response(message_id=message_id)
        if cfg.receipt_before_resp:
            self._complete(session.system_id, message_id, outcome, receipt)
            session.flush()
            self._flush_receivers(session.system_id)
            session.write(resp)
        elif cfg.receipt_delay <= 0:
            session.write(resp)
            self._complete(session.system_id, message_id, outcome, receipt)
        else:
            session.write(resp)
            self._schedule(cfg.receipt_delay, session.system_id, "outcome", receipt, (message_id, outcome))

    # ------------------------------------------------------------------ receipts and delivery
    def _complete(self, system_id: str, message_id: str, outcome: str, receipt: Pdu | None) -> None:
        """The message's outcome is due: record it and send the receipt if one was asked for."""
        state = OUTCOME_RECEIPT[outcome][0]
        record = self.messages.get(message_id)
        if record is not None:
            record[1] = state
            record[2] = time.strftime("%y%m%d%H%M%S") + "000+"
        entry = self.phones.by_message_id.get(message_id)
        if entry is not None and entry.state in ("accepted", "delivered"):
            entry.state = outcome
        self.stats[f"outcome_{outcome}"] += 1
        if receipt is not None:
            self._deliver(system_id, "receipt", receipt, None)

    def _deliver(self, system_id: str, kind: str, pdu: Pdu, extra: Any) -> None:
        session = self._pick_receiver(system_id)
        if session is None:
            self._undelivered[system_id].append((kind, pdu, extra))
            return
        session.send_request(pdu, kind, extra)
        if kind == "receipt":
            self.stats["receipts_sent"] += 1
        else:
            self.stats["mo_sent"] += 1

    def _flush_receivers(self, system_id: str) -> None:
        for s in self._receivers.get(system_id, ()):
            s.flush()

    def _pick_receiver(self, system_id: str | None) -> Session | None:
        if system_id is None:
            candidates = [s for group in self._receivers.values() for s in group if not s.closed]
        else:
            candidates = [s for s in self._receivers.get(system_id, ()) if not s.closed]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        self._rr += 1
        return candidates[self._rr % len(candidates)]

    def _schedule(self, delay: float, system_id: str, kind: str, pdu: Pdu | None, extra: Any) -> None:
        """Put work in the timer wheel: one loop timer per TICK bucket, however many messages."""
        key = math.ceil((self.loop.time() + delay) / TICK)
        bucket = self._wheel.get(key)
        if bucket is None:
            bucket = self._wheel[key] = []
            self.loop.call_at(key * TICK, self._fire, key)
        bucket.append((system_id, kind, pdu, extra))

    def _fire(self, key: int) -> None:
        for system_id, kind, pdu, extra in self._wheel.pop(key, ()):
            if kind == "outcome":
                message_id, outcome = extra
                self._complete(system_id, message_id, outcome, pdu)
            else:
                self._deliver(system_id, kind, pdu, extra)

    def _receiver_bound(self, session: Session) -> None:
        self._receivers[session.system_id].append(session)
        queue = self._undelivered.get(session.system_id)
        while queue:
            kind, pdu, extra = queue.popleft()
            session.send_request(pdu, kind, extra)
            self.stats["receipts_sent" if kind == "receipt" else "mo_sent"] += 1
            self.stats["redelivered"] += 1

    def _session_gone(self, session: Session) -> None:
        """A connection closed: forget it, and give back what it never acknowledged."""
        self.sessions.discard(session)
        group = self._receivers.get(session.system_id)
        if group and session in group:
            group.remove(session)
        pending, session.awaiting = session.awaiting, {}
        for kind, pdu, extra in pending.values():
            if kind in ("receipt", "mo"):
                self._deliver(session.system_id, kind, pdu, extra)
