"""The ESME side of one SMPP session, sans-I/O: PDUs and clock ticks in, PDUs and events out.

No sockets and no asyncio here (the h11 style), so every protocol rule is unit-tested directly:
binding, the submit window, responses matched by sequence number, enquire_link both ways,
generic_nack for what we cannot read, receipts told apart from MO, timeouts. `link.py` is the
thin layer that moves the bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ropsms.smpp.pdu import STAT_STATE, STATUS, BadPdu, Pdu, parse_receipt

BIND_COMMAND = {"trx": "bind_transceiver", "tx": "bind_transmitter", "rx": "bind_receiver"}

# message_state -> Message.state (None: not final, e.g. ENROUTE / ACCEPTED)
RECEIPT_STATE: dict[int, str | None] = {1: None, 2: "delivered", 3: "expired", 4: "undeliverable",
                                        5: "undeliverable", 6: None, 7: "undeliverable", 8: "rejected"}

THROTTLE = frozenset({STATUS.ESME_RTHROTTLED, STATUS.ESME_RMSGQFUL})
TRANSIENT = frozenset({STATUS.ESME_RSYSERR, STATUS.ESME_RX_T_APPN, STATUS.ESME_RSUBMITFAIL,
                       STATUS.ESME_RUNKNOWNERR, STATUS.ESME_RINVBNDSTS, STATUS.ESME_RDELIVERYFAILURE})


def classify(status: int) -> str:
    """'ok', 'throttle' (slow down, retry), 'transient' (retry with backoff) or 'permanent'."""
    if status == 0:
        return "ok"
    if status in THROTTLE:
        return "throttle"
    if status in TRANSIENT:
        return "transient"
    return "permanent"


def status_code(status: int) -> str:
    try:
        return STATUS(status).name
    except ValueError:
        return f"0x{status:08x}"


class State(enum.Enum):
    OPEN = "open"
    BINDING = "binding"
    BOUND = "bound"
    UNBINDING = "unbinding"
    CLOSED = "closed"


# --- events ----------------------------------------------------------------------------------
@dataclass(slots=True)
class Bound:
    system_id: str


@dataclass(slots=True)
class BindFailed:
    status: int


@dataclass(slots=True)
class SubmitResult:
    ref: Any
    status: int
    message_id: str


@dataclass(slots=True)
class SubmitLost:
    """No answer (timeout) or the link closed with the submit outstanding."""

    ref: Any
    reason: str


@dataclass(slots=True)
class ReceiptIn:
    message_id: str
    state: str | None  # final Message.state, or None for an intermediate receipt
    error_code: str
    ack: Pdu | None = None  # the deliver_sm_resp: send it once the receipt is stored


@dataclass(slots=True)
class MoIn:
    pdu: Pdu
    ack: Pdu | None = None  # the deliver_sm_resp: send it once the MO is stored


@dataclass(slots=True)
class Closed:
    reason: str


@dataclass(slots=True)
class PeerError:
    """Something odd from the peer that we answered and survived (counted, logged once)."""

    reason: str


class Session:
    """One bind's protocol state. Call `bind()`, then feed `receive()` and `tick()`."""

    def __init__(self, *, mode: str, system_id: str, password: str, system_type: str = "",
                 address_range: str = "", window: int = 64, enquire_interval: float = 30.0,
                 response_timeout: float = 10.0) -> None:
        if mode not in BIND_COMMAND:
            raise ValueError(f"bind mode must be one of {sorted(BIND_COMMAND)}, not {mode!r}")
        self.mode = mode
        self._bind_params = {"system_id": system_id, "password": password, "system_type": system_type,
                             "interface_version": 0x34, "addr_ton": 0, "addr_npi": 0,
                             "address_range": address_range}
        self.window = max(1, int(window))
        self.enquire_interval = enquire_interval
        self.response_timeout = response_timeout
        self.state = State.OPEN
        self._seq = 0
        self._bind_seq = -1
        self._bind_at = 0.0
        self._outstanding: dict[int, tuple[Any, float]] = {}  # seq -> (ref, sent at), oldest first
        self._enquire: tuple[int, float] | None = None
        self._unbind_seq = -1
        self.last_rx = 0.0

    # --- outgoing ----------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq = self._seq + 1 if self._seq < 0x7FFFFFFF else 1
        return self._seq

    def bind(self, now: float) -> Pdu:
        if self.state is not State.OPEN:
            raise RuntimeError(f"bind() in state {self.state.value}")
        self.state = State.BINDING
        self._bind_seq, self._bind_at, self.last_rx = self._next_seq(), now, now
        return Pdu(BIND_COMMAND[self.mode], self._bind_seq, 0, dict(self._bind_params))

    @property
    def can_transmit(self) -> bool:
        return self.mode != "rx"

    @property
    def in_flight(self) -> int:
        return len(self._outstanding)

    @property
    def window_free(self) -> bool:
        return self.state is State.BOUND and self.can_transmit and len(self._outstanding) < self.window

    def submit(self, ref: Any, params: dict[str, Any], tlvs: dict[str, Any] | None, now: float) -> Pdu:
        """A submit_sm for `ref` (the caller's handle, returned in SubmitResult/SubmitLost)."""
        if not self.window_free:
            raise RuntimeError("submit() without a free window slot on a bound transmitter")
        seq = self._next_seq()
        self._outstanding[seq] = (ref, now)
        return Pdu("submit_sm", seq, 0, params, tlvs or {})

    def unbind(self, now: float) -> Pdu | None:
        if self.state is not State.BOUND:
            return None
        self.state = State.UNBINDING
        self._unbind_seq = self._next_seq()
        self._enquire = (self._unbind_seq, now)  # reuse the response timer
        return Pdu("unbind", self._unbind_seq)

    def abort(self, reason: str) -> list[Any]:
        """The link is gone: every outstanding submit is lost (the caller re-queues them)."""
        lost = [SubmitLost(ref, reason) for ref, _ in self._outstanding.values()]
        self._outstanding.clear()
        self.state = State.CLOSED
        return lost

    # --- incoming ----------------------------------------------------------------------------
    def receive(self, item: Pdu | BadPdu, now: float) -> tuple[list[Pdu], list[Any]]:
        """Handle one decoded item from the peer; return (PDUs to send, events)."""
        self.last_rx = now
        if isinstance(item, BadPdu):
            if item.command_id & 0x80000000:  # a broken response: nothing to answer
                return [], [PeerError(f"unreadable response: {item.reason}")]
            return [item.nack()], [PeerError(item.reason)]
        pdu = item
        handler = _HANDLERS.get(pdu.command)
        if handler is None:
            if pdu.is_response:
                return [], [PeerError(f"unexpected {pdu.command}")]
            return [Pdu("generic_nack", pdu.sequence, STATUS.ESME_RINVCMDID)], [
                PeerError(f"unsupported {pdu.command}")]
        return handler(self, pdu, now)

    def _on_bind_resp(self, pdu: Pdu, now: float):
        if pdu.sequence != self._bind_seq or self.state is not State.BINDING:
            return [], [PeerError(f"unexpected {pdu.command}")]
        if pdu.status:
            self.state = State.CLOSED
            return [], [BindFailed(pdu.status), Closed(f"bind refused: {status_code(pdu.status)}")]
        self.state = State.BOUND
        return [], [Bound(pdu.params.get("system_id", ""))]

    def _on_submit_resp(self, pdu: Pdu, now: float):
        entry = self._outstanding.pop(pdu.sequence, None)
        if entry is None:
            return [], [PeerError(f"submit_sm_resp for unknown sequence {pdu.sequence}")]
        return [], [SubmitResult(entry[0], pdu.status, pdu.params.get("message_id", "") or "")]

    def _on_generic_nack(self, pdu: Pdu, now: float):
        entry = self._outstanding.pop(pdu.sequence, None)
        if entry is not None:  # the peer could not read our submit_sm: treat as a transient error
            return [], [SubmitResult(entry[0], pdu.status or STATUS.ESME_RSYSERR, "")]
        if self._enquire and self._enquire[0] == pdu.sequence:
            self._enquire = None
        return [], [PeerError(f"generic_nack status {status_code(pdu.status)}")]

    def _on_enquire_link(self, pdu: Pdu, now: float):
        return [pdu.response()], []

    def _on_enquire_link_resp(self, pdu: Pdu, now: float):
        if self._enquire and self._enquire[0] == pdu.sequence:
            self._enquire = None
        return [], []

    def _on_unbind(self, pdu: Pdu, now: float):
        self.state = State.CLOSED
        return [pdu.response()], [Closed("the SMSC unbound")]

    def _on_unbind_resp(self, pdu: Pdu, now: float):
        self.state = State.CLOSED
        return [], [Closed("unbound")]

    def _on_deliver_sm(self, pdu: Pdu, now: float):
        if self.state is not State.BOUND or self.mode == "tx":
            return [pdu.response(STATUS.ESME_RINVBNDSTS)], [PeerError("deliver_sm while not bound as receiver")]
        # The answer is not sent here: the owner sends `ack` once the receipt / MO is in the database,
        # so a crash before that makes the SMSC deliver it again instead of losing it.
        receipt = parse_receipt_pdu(pdu)
        if receipt is None:
            return [], [MoIn(pdu, pdu.response())]
        receipt.ack = pdu.response()
        return [], [receipt]

    def _on_outbind(self, pdu: Pdu, now: float):
        return [], [PeerError("outbind ignored (we bind out ourselves)")]

    # --- time --------------------------------------------------------------------------------
    def tick(self, now: float) -> tuple[list[Pdu], list[Any]]:
        """Timers: bind/enquire/unbind answers overdue, submits timed out, enquire_link due."""
        out: list[Pdu] = []
        events: list[Any] = []
        if self.state is State.BINDING and now - self._bind_at > self.response_timeout:
            self.state = State.CLOSED
            return [], [Closed("no answer to bind")]
        if self._enquire and now - self._enquire[1] > self.response_timeout:
            self.state = State.CLOSED
            return [], [Closed("no answer to enquire_link" if self._unbind_seq < 0 else "no answer to unbind")]
        if self._outstanding:
            expired = [seq for seq, (_, at) in self._outstanding.items() if now - at > self.response_timeout]
            for seq in expired:
                ref, _ = self._outstanding.pop(seq)
                events.append(SubmitLost(ref, "timeout"))
        if (self.state is State.BOUND and self._enquire is None
                and now - self.last_rx >= self.enquire_interval):
            seq = self._next_seq()
            self._enquire = (seq, now)
            out.append(Pdu("enquire_link", seq))
        return out, events


_HANDLERS = {
    "bind_transceiver_resp": Session._on_bind_resp,
    "bind_transmitter_resp": Session._on_bind_resp,
    "bind_receiver_resp": Session._on_bind_resp,
    "submit_sm_resp": Session._on_submit_resp,
    "generic_nack": Session._on_generic_nack,
    "enquire_link": Session._on_enquire_link,
    "enquire_link_resp": Session._on_enquire_link_resp,
    "unbind": Session._on_unbind,
    "unbind_resp": Session._on_unbind_resp,
    "deliver_sm": Session._on_deliver_sm,
    "outbind": Session._on_outbind,
}


def parse_receipt_pdu(pdu: Pdu) -> ReceiptIn | None:
    """A ReceiptIn if this deliver_sm is a delivery receipt, else None (it is an MO).

    TLVs first (receipted_message_id, message_state); the receipt text fills in what is missing.
    """
    esm = pdu.params.get("esm_class", 0) or 0
    tlvs = pdu.tlvs
    if (esm & 0x3C) not in (0x04, 0x08, 0x20) and "receipted_message_id" not in tlvs:
        return None
    message_id = tlvs.get("receipted_message_id") or ""
    state_code = tlvs.get("message_state")
    error = ""
    if not message_id or state_code is None:
        raw = pdu.params.get("short_message") or tlvs.get("message_payload") or b""
        fields = parse_receipt(raw.decode("latin-1") if isinstance(raw, bytes) else str(raw))
        message_id = message_id or fields.get("id", "")
        if state_code is None:
            state_code = STAT_STATE.get(fields.get("stat", ""), 7)
        error = fields.get("err", "")
    elif state_code != 2:  # only a failure needs its error code from the text
        raw = pdu.params.get("short_message") or b""
        if raw:
            error = parse_receipt(raw.decode("latin-1")).get("err", "")
    if not error and isinstance(tlvs.get("network_error_code"), bytes):
        error = tlvs["network_error_code"].hex()
    if error and error.strip("0") == "":
        error = ""
    return ReceiptIn(message_id, RECEIPT_STATE.get(int(state_code), "undeliverable"), error)
