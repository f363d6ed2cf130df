"""`send()` and `send_many()`: the one door out (ARCHITECTURE.md).

Every outbound SMS, whoever asks for it, is written here: the number normalised to E.164, opt-outs
checked (a refused message is still written, as `rejected` with the reason), quotas checked, the
text encoded and split, and the rows written in one transaction. The gateway then drains them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ropsms.directory.phone import InvalidNumber, parse_mobile
from ropsms.messaging import encoding
from ropsms.messaging.bulk import insert_one, insert_rows
from ropsms.messaging.errors import SendError
from ropsms.messaging.models import Batch, Message, OptOut, Priority, State

__all__ = ["SendError", "SendManyResult", "cancel", "register_quota_policy", "send", "send_many"]

# A quota policy is called with (producer, number of messages) before anything is written and
# raises SendError(code="quota") to refuse. Apps that own quotas (portal units, API clients) register.
QuotaPolicy = Callable[[str, int], None]
_quota_policies: list[QuotaPolicy] = []

_MESSAGE_FIELDS = [f for f in Message._meta.concrete_fields if not f.primary_key]
_ALNUM_SENDER = re.compile(r"^[A-Za-z0-9 ._\-&]{1,11}$")
_NUMERIC_SENDER = re.compile(r"^\+?\d{1,15}$")


def register_quota_policy(policy: QuotaPolicy) -> None:
    if policy not in _quota_policies:
        _quota_policies.append(policy)


def _check_quotas(producer: str, count: int) -> None:
    for policy in _quota_policies:
        policy(producer, count)


def _validate_source(source: str | None) -> str:
    if not source:
        return settings.ROPSMS["SHORT_CODE"]
    source = source.strip()
    if _NUMERIC_SENDER.match(source) or (_ALNUM_SENDER.match(source) and any(c.isalpha() for c in source)):
        return source
    raise SendError(
        f"'{source}' is not a valid sender: use the short code, a number of up to 15 digits, "
        "or a name of up to 11 Latin letters and digits.",
        code="invalid_sender",
        field="source",
    )


@lru_cache(maxsize=4096)
def _split(text: str, max_parts: int) -> encoding.Split:
    return encoding.split(text, max_parts=max_parts)


def _prepare_text(text: str | None) -> encoding.Split:
    if text is None or not str(text).strip():
        raise SendError("The message text is empty.", code="empty_text", field="text")
    try:
        return _split(str(text), int(settings.ROPSMS["MAX_PARTS"]))
    except encoding.TooManyParts as exc:
        raise SendError(str(exc), code="too_long", field="text") from None


def _number(to: str, allow_foreign: bool) -> str:
    try:
        return parse_mobile(to, allow_foreign=allow_foreign).e164
    except InvalidNumber as exc:
        raise SendError(str(exc), code="invalid_number", field="to") from None


def _opted_out(numbers: Iterable[str], priority: int) -> dict[str, str]:
    """Map each opted-out number among `numbers` to the reason it is refused."""
    numbers = list(set(numbers))
    found: dict[str, str] = {}
    for start in range(0, len(numbers), 900):
        rows = OptOut.objects.filter(msisdn__in=numbers[start : start + 900]).values_list("msisdn", "scope", "reason")
        for msisdn, scope, reason in rows:
            if scope == OptOut.Scope.ALL or priority == Priority.BULK:
                found[msisdn] = reason or "the recipient has opted out"
    return found


def _build(*, now: datetime, to: str, split: encoding.Split, text: str, source: str, producer: str,
           priority: int, validity: timedelta, scheduled_for: datetime | None, batch: Batch | None,
           client_ref: str, idempotency_key: str | None, meta: Mapping[str, Any] | None,
           refused: str | None) -> dict[str, Any]:
    """The field values of one new Message (a dict, so bulk sends need not build model objects)."""
    start = scheduled_for if scheduled_for and scheduled_for > now else now
    values: dict[str, Any] = {
        "to": to, "text": text, "encoding": split.encoding, "parts": split.parts, "parts_count": len(split.parts),
        "source": source, "producer": producer, "batch_id": batch.pk if batch else None,
        "client_ref": client_ref or "", "idempotency_key": idempotency_key, "priority": priority,
        "meta": meta if meta is not None else {}, "created_at": now, "due_at": start,
        "valid_until": start + validity, "scheduled_for": scheduled_for,
    }
    if refused:
        values.update(state=State.REJECTED.value, done_at=now, error_code="opted_out",
                      error_text=f"Not sent: {refused}."[:300])
    elif scheduled_for and scheduled_for > now:
        values["state"] = State.SCHEDULED.value
    else:
        values.update(state=State.QUEUED.value, queued_at=now)
    return values


def _validity(validity: timedelta | None) -> timedelta:
    if validity is None:
        return timedelta(hours=int(settings.ROPSMS["DEFAULT_VALIDITY_HOURS"]))
    if validity <= timedelta(0) or validity > timedelta(days=7):
        raise SendError("The validity period must be between one second and 7 days.", code="invalid_validity",
                        field="validity")
    return validity


def _priority(priority: int) -> int:
    if priority not in Priority.values:
        raise SendError(f"Unknown priority {priority!r}: use urgent (0), normal (1) or bulk (2).",
                        code="invalid_priority", field="priority")
    return int(priority)


def send(*, to: str, text: str, producer: str, source: str | None = None, priority: int = Priority.NORMAL,
         validity: timedelta | None = None, scheduled_for: datetime | None = None, batch: Batch | None = None,
         client_ref: str = "", idempotency_key: str | None = None, allow_foreign: bool = False,
         meta: Mapping[str, Any] | None = None, in_reply_to: int | None = None) -> Message:
    """Queue one SMS and return its `Message`.

    Raises `SendError` for input that cannot become a message. An opted-out recipient is not an
    error: the message is written as `rejected` with the reason, so the refusal is on record.
    A reply to the recipient's own SMS (`in_reply_to`: the MO's id) is sent despite an opt-out:
    opting out stops what we send unasked, not the answer to a question the citizen just asked.
    With an `idempotency_key`, a retried call returns the first message and writes nothing new.
    """
    if idempotency_key:
        existing = Message.objects.filter(producer=producer, idempotency_key=idempotency_key).first()
        if existing:
            return existing
    number = _number(to, allow_foreign)
    split = _prepare_text(text)
    source = _validate_source(source)
    priority = _priority(priority)
    validity = _validity(validity)
    refused = None if in_reply_to else _opted_out([number], priority).get(number)
    if in_reply_to:
        meta = {**(meta or {}), "in_reply_to": in_reply_to}
    now = timezone.now()
    msg = Message(**_build(now=now, to=number, split=split, text=str(text), source=source, producer=producer,
                 priority=priority, validity=validity, scheduled_for=scheduled_for, batch=batch,
                 client_ref=client_ref, idempotency_key=idempotency_key, meta=dict(meta or {}),
                 refused=refused))
    if not refused:
        _check_quotas(producer, 1)

    def insert() -> None:
        msg.pk = insert_one(Message, {f.attname: getattr(msg, f.attname) for f in _MESSAGE_FIELDS})
        msg._state.adding, msg._state.db = False, "default"
        if batch is not None:
            Batch.objects.filter(pk=batch.pk).update(total=F("total") + 1)

    try:
        if batch is None and not idempotency_key:
            insert()  # one statement, atomic by itself: no transaction or savepoint round trips
        else:
            with transaction.atomic():
                insert()
    except IntegrityError:
        if idempotency_key:
            existing = Message.objects.filter(producer=producer, idempotency_key=idempotency_key).first()
            if existing:
                return existing
        raise
    return msg



@dataclass
class Recipient:
    """One row of a `send_many()` call: a number and, optionally, its own text and data."""

    to: str
    text: str | None = None
    client_ref: str = ""
    meta: Mapping[str, Any] | None = None


@dataclass
class RowError:
    index: int
    to: str
    code: str
    message: str


@dataclass
class SendManyResult:
    batch: Batch
    queued: int = 0
    refused: int = 0  # written as rejected (opted out)
    errors: list[RowError] = field(default_factory=list)  # rows that could not become messages

    @property
    def accepted(self) -> int:
        return self.queued + self.refused


def send_many(*, recipients: Iterable[Recipient | str | Mapping[str, Any]], producer: str,
              text: str | None = None, source: str | None = None, priority: int = Priority.BULK,
              validity: timedelta | None = None, scheduled_for: datetime | None = None,
              batch_name: str = "", idempotency_key: str | None = None, allow_foreign: bool = False,
              strict: bool = False, meta: Mapping[str, Any] | None = None) -> SendManyResult:
    """Queue many messages as one `Batch`, in one transaction, with bulk inserts.

    Each recipient is a number (with the shared `text`) or a `Recipient`/dict with its own text.
    Rows that cannot become messages (bad number, empty text) are reported in `errors` with their
    index and reason; with `strict=True` the first such row raises `SendError` and nothing is written.
    With an `idempotency_key`, a retried call returns the first batch and writes nothing new.
    """
    if idempotency_key:
        existing = Batch.objects.filter(producer=producer, idempotency_key=idempotency_key).first()
        if existing:
            return _result_for_existing(existing)
    source = _validate_source(source)
    priority = _priority(priority)
    validity = _validity(validity)
    now = timezone.now()
    shared_split = _prepare_text(text) if text is not None else None

    rows: list[tuple[str, str, encoding.Split, str, Mapping[str, Any] | None]] = []
    errors: list[RowError] = []
    for index, item in enumerate(recipients):
        rec = _as_recipient(item)
        try:
            number = _number(rec.to, allow_foreign)
            if rec.text is None:
                if shared_split is None:
                    raise SendError("The message text is empty.", code="empty_text", field="text")
                body, split = str(text), shared_split
            else:
                body, split = rec.text, _prepare_text(rec.text)
        except SendError as exc:
            if strict:
                raise SendError(f"Row {index + 1}: {exc}", code=exc.code, field=exc.field) from None
            errors.append(RowError(index=index, to=str(rec.to), code=exc.code, message=str(exc)))
            continue
        rows.append((number, body, split, rec.client_ref, rec.meta))

    refused = _opted_out((r[0] for r in rows), priority)
    _check_quotas(producer, len(rows) - sum(1 for r in rows if r[0] in refused))
    result_meta = dict(meta or {})
    chunk = int(settings.ROPSMS["SEND_MANY_CHUNK"])
    with transaction.atomic():
        batch = Batch.objects.create(name=batch_name, producer=producer, idempotency_key=idempotency_key,
                                     total=len(rows))
        result = SendManyResult(batch=batch, errors=errors)
        for start in range(0, len(rows), chunk):
            values = []
            for number, body, split, client_ref, row_meta in rows[start : start + chunk]:
                reason = refused.get(number)
                values.append(_build(
                    now=now, to=number, split=split, text=body, source=source, producer=producer,
                    priority=priority, validity=validity, scheduled_for=scheduled_for, batch=batch,
                    client_ref=client_ref, idempotency_key=None,
                    meta={**result_meta, **row_meta} if row_meta else result_meta, refused=reason,
                ))
                if reason:
                    result.refused += 1
                else:
                    result.queued += 1
            insert_rows(Message, values)
    return result



def _as_recipient(item: Recipient | str | Mapping[str, Any]) -> Recipient:
    if isinstance(item, Recipient):
        return item
    if isinstance(item, Mapping):
        return Recipient(to=str(item.get("to", "")), text=item.get("text"),
                         client_ref=str(item.get("client_ref", "") or ""), meta=item.get("meta"))
    return Recipient(to=str(item))


def _result_for_existing(batch: Batch) -> SendManyResult:
    counts = batch.counts()
    return SendManyResult(batch=batch, queued=batch.total - counts[State.REJECTED], refused=counts[State.REJECTED])


def cancel(*, message_id: int, reason: str = "cancelled by the sender") -> bool:
    """Cancel a message that has not left yet (scheduled or queued). Returns whether it was cancelled."""
    now = timezone.now()
    n = Message.objects.filter(pk=message_id, state__in=[State.SCHEDULED, State.QUEUED]).update(
        state=State.CANCELLED, done_at=now, error_text=reason[:300]
    )
    return n == 1


def release_scheduled(*, now: datetime | None = None) -> int:
    """Move scheduled messages whose time has come to queued (run by the scheduler and the gateway)."""
    now = now or timezone.now()
    return Message.objects.filter(state=State.SCHEDULED, due_at__lte=now).update(state=State.QUEUED, queued_at=now)
