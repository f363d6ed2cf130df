"""`ropsms smpp-server`: integrators bind as ESMEs with their API client credentials.

system_id = the client's username (slug), password = its API key (the whole key: this server does not
hold SMPP 3.4's 9-octet password limit, which would leave too little entropy). A transmitter or
transceiver bind needs the `send` scope. submit_sm goes through `messaging.send()` with producer
`api:<slug>`, so quotas, sender IDs and opt-outs are the same as over REST; the message id in
submit_sm_resp is the gateway's message id (decimal). With registered_delivery set, a receipt goes
back as deliver_sm (esm_class 0x04, receipt text plus receipted_message_id / message_state TLVs)
on a receiver or transceiver bind of that client once the message reaches a final state; receipts
wait (in the `Callback` table) while the client has no such bind.

schedule_delivery_time and validity_period are honoured (absolute or relative SMPP times; validity
from one minute to 7 days). Long texts: send them in message_payload, or as UDH-concatenated parts
(reassembled here; the receipt refers to the id answered for the part that completed the message).

query_sm answers the state of one of the client's own messages (needs the `read` scope, any bind);
cancel_sm cancels one that has not left yet through `messaging.cancel()` (needs `send`, a transmitter
or transceiver bind). Another client's message id is answered as if it did not exist.

The PDUs are the shared sans-I/O codec `ropsms.smpp.pdu`; this module is the thin asyncio layer and
the mapping to `send()`. DB work runs in worker threads (`asyncio.to_thread`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import close_old_connections
from django.utils import timezone

from ropsms.api import callbacks, services
from ropsms.api.errors import ApiError
from ropsms.api.keys import authenticate_login
from ropsms.api.limits import take_token
from ropsms.api.models import ApiClient, Callback
from ropsms.directory.phone import InvalidNumber, parse_mobile
from ropsms.messaging.models import FINAL_STATES, Message, State
from ropsms.ops.audit import mask, record
from ropsms.smpp.pdu import (
    MESSAGE_STATE,
    STATE_STAT,
    STATUS,
    BadPdu,
    Pdu,
    PduDecoder,
    PduStreamError,
    decode_short_message,
    encode,
    format_receipt,
    split_udh,
)

log = logging.getLogger(__name__)

SYSTEM_ID = "ropsms"
RECEIPT_RETRY = timedelta(seconds=60)
# Our states as SMPP 3.4 message_state (receipts and query_sm_resp): everything not final is ENROUTE.
SMPP_STATE = {State.SCHEDULED: MESSAGE_STATE.ENROUTE, State.QUEUED: MESSAGE_STATE.ENROUTE,
              State.SENDING: MESSAGE_STATE.ENROUTE, State.SUBMITTED: MESSAGE_STATE.ENROUTE,
              State.DELIVERED: MESSAGE_STATE.DELIVERED, State.EXPIRED: MESSAGE_STATE.EXPIRED,
              State.CANCELLED: MESSAGE_STATE.DELETED, State.UNDELIVERABLE: MESSAGE_STATE.UNDELIVERABLE,
              State.FAILED: MESSAGE_STATE.UNDELIVERABLE, State.REJECTED: MESSAGE_STATE.REJECTED}
ERROR_STATUS = {"invalid_number": STATUS.ESME_RINVDSTADR, "invalid_sender": STATUS.ESME_RINVSRCADR,
                "sender_not_allowed": STATUS.ESME_RINVSRCADR, "empty_text": STATUS.ESME_RINVMSGLEN,
                "too_long": STATUS.ESME_RINVMSGLEN, "quota": STATUS.ESME_RMSGQFUL,
                "invalid_validity": STATUS.ESME_RINVEXPIRY, "invalid_priority": STATUS.ESME_RINVPRTFLG}
BIND_MODES = {"bind_transmitter": "tx", "bind_receiver": "rx", "bind_transceiver": "trx"}


def _priority(flag: int) -> str:
    return "urgent" if flag >= 2 else "normal"


def smpp_time(value: str, now: datetime) -> datetime | None:
    """An SMPP 3.4 time (section 7.1.1): absolute `YYMMDDhhmmsstnnp` (p is + or -, nn quarter hours
    from UTC) or relative `YYMMDDhhmmss000R`. Empty means none; anything else raises ValueError."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) != 16 or not value[:15].isdigit() or value[15] not in "+-R":
        raise ValueError(f"bad SMPP time {value!r}")
    yy, mo, dd, hh, mi, ss = (int(value[i:i + 2]) for i in range(0, 12, 2))
    if value[15] == "R":
        return now + timedelta(days=yy * 365 + mo * 30 + dd, hours=hh, minutes=mi, seconds=ss)
    offset = timedelta(minutes=15 * int(value[13:15]))
    tz = dt_timezone(offset if value[15] == "+" else -offset)
    return datetime(2000 + yy, mo, dd, hh, mi, ss, int(value[12]) * 100000, tzinfo=tz)


def smpp_absolute(value: datetime) -> str:
    """`value` as an SMPP 3.4 absolute time `YYMMDDhhmmsstnnp`, in the gateway's local time zone."""
    local = timezone.localtime(value)
    offset = local.utcoffset() or timedelta(0)
    quarters = int(abs(offset).total_seconds() // 900)
    return f"{local:%y%m%d%H%M%S}{local.microsecond // 100000}{quarters:02d}{'-' if offset < timedelta(0) else '+'}"


@dataclass
class Submitted:
    status: int
    message_id: str = ""


@dataclass
class _Parts:
    total: int
    parts: dict[int, str] = field(default_factory=dict)


def submit(client: ApiClient, pdu: Pdu, parts: dict[tuple, _Parts]) -> Submitted:
    """Map one submit_sm to `send()` (runs in a worker thread)."""
    close_old_connections()
    p = pdu.params
    data = p.get("short_message") or b""
    if not data and "message_payload" in pdu.tlvs:
        data = pdu.tlvs["message_payload"]
    if isinstance(data, str):
        data = data.encode("latin-1", "replace")
    dest = str(p.get("destination_addr") or "")
    if int(p.get("esm_class") or 0) & 0x40:
        info, data = split_udh(bytes(data))
        if info and info["total"] > 1:
            key = (dest, info["ref"], info["total"])
            entry = parts.setdefault(key, _Parts(total=info["total"]))
            entry.parts[info["seq"]] = decode_short_message(data, int(p.get("data_coding") or 0))
            if len(entry.parts) < entry.total:
                return Submitted(STATUS.ESME_ROK, f"part-{info['ref']}-{info['seq']}")
            del parts[key]
            text = "".join(entry.parts[i] for i in sorted(entry.parts))
        else:
            text = decode_short_message(data, int(p.get("data_coding") or 0))
    else:
        text = decode_short_message(bytes(data), int(p.get("data_coding") or 0))
    wait = take_token(client.pk, client.rate_limit)
    if wait:
        return Submitted(STATUS.ESME_RTHROTTLED)
    now = timezone.now()
    try:
        scheduled = smpp_time(str(p.get("schedule_delivery_time") or ""), now)
    except ValueError:
        return Submitted(STATUS.ESME_RINVSCHED)
    try:
        expires = smpp_time(str(p.get("validity_period") or ""), scheduled or now)
    except ValueError:
        return Submitted(STATUS.ESME_RINVEXPIRY)
    validity = None
    if expires is not None:
        minutes = int((expires - (scheduled or now)).total_seconds() // 60)
        if not 1 <= minutes <= 10080:
            return Submitted(STATUS.ESME_RINVEXPIRY)
        validity = minutes
    meta: dict[str, Any] = {"interface": "smpp"}
    if int(p.get("registered_delivery") or 0) & 0x03:
        meta["smpp_receipt"] = True
    try:
        msg = services.send_message(client=client, to=dest, text=text, sender=str(p.get("source_addr") or "") or None,
                                    priority=_priority(int(p.get("priority_flag") or 0)), meta=meta,
                                    callback_url="", validity_minutes=validity, scheduled_for=scheduled)
    except ApiError as exc:
        log.info("SMPP submit from %s to %s refused: %s", client.slug, mask(dest), exc.code)
        return Submitted(ERROR_STATUS.get(exc.code, STATUS.ESME_RSUBMITFAIL))
    return Submitted(STATUS.ESME_ROK, str(msg.pk))


_MESSAGE_ID = re.compile(r"[0-9]{1,18}")
MAX_CANCEL_ALL = 1000  # a cancel_sm without message_id cancels at most this many messages


def _message_pk(value: Any) -> int | None:
    """Our message ids are decimal `Message.pk`s (leading zeros tolerated); anything else is no id."""
    value = str(value or "").strip()
    return int(value) if _MESSAGE_ID.fullmatch(value) else None


def _network_error(code: str) -> int:
    """query_sm_resp's one-octet error_code: the network error when we hold it as a number, else 0."""
    return int(code) if code.isascii() and code.isdigit() and int(code) <= 255 else 0


def query(client: ApiClient, pdu: Pdu) -> Pdu:
    """Answer query_sm from the database (runs in a worker thread)."""
    close_old_connections()
    pk = _message_pk(pdu.params.get("message_id"))
    if pk is None:
        return pdu.response(STATUS.ESME_RINVMSGID)
    msg = (Message.objects.filter(pk=pk, producer=client.producer)
           .only("pk", "state", "done_at", "error_code").first())
    if msg is None:  # absent or another client's: the same answer, so ids reveal nothing
        return pdu.response(STATUS.ESME_RQUERYFAIL)
    final = msg.state in FINAL_STATES
    return pdu.response(STATUS.ESME_ROK, message_id=str(msg.pk),
                        final_date=smpp_absolute(msg.done_at) if final and msg.done_at else "",
                        message_state=int(SMPP_STATE.get(msg.state, MESSAGE_STATE.UNKNOWN)),
                        error_code=_network_error(msg.error_code) if final else 0)


def _same_number(given: str, e164: str) -> bool:
    try:
        return parse_mobile(given, allow_foreign=True).e164 == e164
    except InvalidNumber:
        return False


def cancel(client: ApiClient, pdu: Pdu, ip: str) -> Pdu:
    """Answer cancel_sm through `services.cancel_message` (runs in a worker thread).

    With a message_id: that message, if the source/destination given (optional) match it. Without
    one (SMPP 3.4 4.9.1): every message of this client to destination_addr (and from source_addr if
    given) that has not left yet. Anything not cancelled is ESME_RCANCELFAIL."""
    close_old_connections()
    p = pdu.params
    raw_id = str(p.get("message_id") or "").strip()
    source, dest = str(p.get("source_addr") or "").strip(), str(p.get("destination_addr") or "").strip()
    if raw_id:
        pk = _message_pk(raw_id)
        if pk is None:
            return pdu.response(STATUS.ESME_RINVMSGID)
        msg = Message.objects.filter(pk=pk, producer=client.producer).only("pk", "to", "source").first()
        if msg is None or (source and source != msg.source) or (dest and not _same_number(dest, msg.to)):
            return pdu.response(STATUS.ESME_RCANCELFAIL)
        pks = [msg.pk]
    else:
        if not dest:
            return pdu.response(STATUS.ESME_RINVMSGID)
        try:
            to = parse_mobile(dest, allow_foreign=True).e164
        except InvalidNumber:
            return pdu.response(STATUS.ESME_RINVDSTADR)
        qs = Message.objects.filter(producer=client.producer, to=to, state__in=[State.SCHEDULED, State.QUEUED])
        if source:
            qs = qs.filter(source=source)
        pks = list(qs.order_by("pk").values_list("pk", flat=True)[:MAX_CANCEL_ALL])
    cancelled = 0
    for pk in pks:
        try:
            services.cancel_message(client=client, message_id=pk, via="smpp", ip=ip or None)
            cancelled += 1
        except ApiError:  # left meanwhile (claimed by the gateway) or final
            pass
    if not cancelled:
        return pdu.response(STATUS.ESME_RCANCELFAIL)
    return pdu.response(STATUS.ESME_ROK)


def receipt_pdu(msg: Message, sequence: int) -> Pdu:
    state = int(SMPP_STATE.get(msg.state, MESSAGE_STATE.UNKNOWN))
    text = format_receipt(message_id=str(msg.pk), submitted=1, delivered=1 if state == 2 else 0,
                          stat=STATE_STAT.get(state, "UNKNOWN"), err=msg.error_code[:3] or 0,
                          text=msg.text[:20], done_at=timezone.localtime(msg.done_at or timezone.now()),
                          submit_at=timezone.localtime(msg.created_at))
    return Pdu("deliver_sm", sequence, 0, {
        "source_addr_ton": 1, "source_addr_npi": 1, "source_addr": msg.to.lstrip("+"),
        "dest_addr_ton": 0, "dest_addr_npi": 0, "destination_addr": msg.source, "esm_class": 0x04,
        "data_coding": 0, "short_message": text.encode("ascii", "replace")},
        {"receipted_message_id": str(msg.pk), "message_state": state})


class Connection:
    """One ESME's TCP connection."""

    def __init__(self, server: SmppServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.decoder = PduDecoder()
        self.client: ApiClient | None = None
        self.mode = ""
        self._seq = 0
        self.awaiting: dict[int, int] = {}  # deliver_sm sequence -> Callback id
        self.parts: dict[tuple, _Parts] = {}
        peername = writer.get_extra_info("peername") or ("", 0)
        self.peer, self.peer_host = f"{peername[0]}:{peername[1]}", str(peername[0])

    @property
    def receives(self) -> bool:
        return self.client is not None and self.mode in ("rx", "trx")

    def next_seq(self) -> int:
        self._seq = self._seq % 0x7FFFFFFF + 1
        return self._seq

    def send(self, pdu: Pdu) -> None:
        self.writer.write(encode(pdu))

    async def run(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                try:
                    items = self.decoder.feed(data)
                except PduStreamError as exc:
                    log.warning("SMPP %s: %s; closing", self.peer, exc)
                    break
                for item in items:
                    if not await self.handle(item):
                        await self.writer.drain()
                        return
                await self.writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.server.forget(self)
            with contextlib.suppress(Exception):
                self.writer.close()

    async def handle(self, item: Pdu | BadPdu) -> bool:
        """Answer one PDU; return False to close the connection."""
        if isinstance(item, BadPdu):
            self.send(item.nack())
            return True
        pdu = item
        if pdu.command == "deliver_sm_resp":
            cb_id = self.awaiting.pop(pdu.sequence, None)
            if cb_id is not None:
                await asyncio.to_thread(_receipt_answered, cb_id, pdu.status)
            return True
        if pdu.is_response:
            return True
        if pdu.command in BIND_MODES:
            await self._bind(pdu)
            return True
        if pdu.command == "enquire_link":
            self.send(pdu.response())
            return True
        if pdu.command == "unbind":
            self.send(pdu.response())
            return False
        if pdu.command == "submit_sm":
            if self.client is None or self.mode == "rx":
                self.send(pdu.response(STATUS.ESME_RINVBNDSTS, message_id=""))
                return True
            result = await asyncio.to_thread(submit, self.client, pdu, self.parts)
            self.send(pdu.response(result.status, message_id=result.message_id))
            return True
        if pdu.command == "query_sm":
            if self.client is None or "read" not in self.client.scope_list():
                self.send(pdu.response(STATUS.ESME_RINVBNDSTS))
                return True
            self.send(await asyncio.to_thread(query, self.client, pdu))
            return True
        if pdu.command == "cancel_sm":
            if self.client is None or self.mode == "rx" or "send" not in self.client.scope_list():
                self.send(pdu.response(STATUS.ESME_RINVBNDSTS))
                return True
            self.send(await asyncio.to_thread(cancel, self.client, pdu, self.peer_host))
            return True
        self.send(Pdu("generic_nack", pdu.sequence, STATUS.ESME_RINVCMDID))
        return True

    async def _bind(self, pdu: Pdu) -> None:
        if self.client is not None:
            self.send(pdu.response(STATUS.ESME_RALYBND, system_id=SYSTEM_ID))
            return
        mode = BIND_MODES[pdu.command]
        system_id, password = str(pdu.params.get("system_id") or ""), str(pdu.params.get("password") or "")
        client = await asyncio.to_thread(_login, system_id, password, self.peer_host)
        if client is None:
            self.send(pdu.response(STATUS.ESME_RBINDFAIL, system_id=SYSTEM_ID))
            return
        if mode in ("tx", "trx") and "send" not in client.scope_list():
            self.send(pdu.response(STATUS.ESME_RBINDFAIL, system_id=SYSTEM_ID))
            return
        self.client, self.mode = client, mode
        self.server.remember(self)
        self.send(pdu.response(STATUS.ESME_ROK, system_id=SYSTEM_ID))
        if self.receives:
            self.server.wake()


def _login(system_id: str, password: str, host: str) -> ApiClient | None:
    close_old_connections()
    client = authenticate_login(system_id, password)
    if client is not None and not client.allows_address(host):
        client = None
    record(actor=f"api:{system_id[:40]}" if client else "anonymous", action="api.smpp.bind" if client
           else "api.smpp.bind_failed", target=system_id[:40], ip=host or None)
    return client


def _receipt_answered(cb_id: int, status: int) -> None:
    close_old_connections()
    if status == STATUS.ESME_ROK:
        Callback.objects.filter(pk=cb_id).update(state=Callback.State.DONE, done_at=timezone.now(), last_error="")
    else:
        Callback.objects.filter(pk=cb_id).update(last_error=f"deliver_sm_resp status 0x{status:08X}")


def _due_receipts(client_ids: list[int], limit: int = 500) -> list[tuple[Callback, Message]]:
    """Claim due SMPP receipts of bound clients (safe with two servers: claimed by bumping attempts)."""
    close_old_connections()
    callbacks.enqueue_final()
    now = timezone.now()
    out = []
    rows = (Callback.objects.filter(kind="smpp", state=Callback.State.PENDING, client_id__in=client_ids,
                                    next_attempt_at__lte=now).select_related("message")[:limit])
    for cb in rows:
        if Callback.objects.filter(pk=cb.pk, attempts=cb.attempts).update(attempts=cb.attempts + 1,
                                                                          next_attempt_at=now + RECEIPT_RETRY):
            out.append((cb, cb.message))
    return out


class SmppServer:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 2776, poll_seconds: float = 1.0) -> None:
        self.host, self.port, self.poll_seconds = host, port, poll_seconds
        self.connections: set[Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._tasks.add(asyncio.create_task(self._receipts()))
        log.info("SMPP server for API clients on %s:%s", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._server:
            self._server.close()
        for conn in list(self.connections):
            conn.writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        task = asyncio.current_task()
        if task:
            self._tasks.add(task)
        try:
            await conn.run()
        finally:
            if task:
                self._tasks.discard(task)

    def remember(self, conn: Connection) -> None:
        self.connections.add(conn)

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)

    def wake(self) -> None:
        self._wake.set()

    async def _receipts(self) -> None:
        """Send receipts of final messages to the clients' receiver/transceiver binds."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            self._wake.clear()
            receivers: dict[int, list[Connection]] = {}
            for conn in self.connections:
                if conn.receives and conn.client is not None:
                    receivers.setdefault(conn.client.pk, []).append(conn)
            if not receivers:
                continue
            try:
                due = await asyncio.to_thread(_due_receipts, list(receivers))
            except Exception:  # a DB hiccup must not end the loop; the next turn retries
                log.exception("SMPP receipts: could not load due receipts")
                continue
            for i, (cb, msg) in enumerate(due):
                conns = receivers.get(cb.client_id or 0) or []
                if not conns:
                    continue
                conn = conns[i % len(conns)]
                seq = conn.next_seq()
                conn.awaiting[seq] = cb.pk
                conn.send(receipt_pdu(msg, seq))
            for conns in receivers.values():
                for conn in conns:
                    with contextlib.suppress(ConnectionError):
                        await conn.writer.drain()
