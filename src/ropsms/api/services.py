"""The API's business actions as plain functions (views only translate HTTP).

Everything goes out through `messaging.send()` / `send_many()` with producer `api:<slug>`; the
callback URL (the request's, else the client's default) rides along in the message's `meta`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import pydantic
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from ninja.responses import NinjaJSONEncoder

from ropsms.api import destinations
from ropsms.api.errors import ApiError, from_send_error
from ropsms.api.events import EVENT_TYPES
from ropsms.api.models import ApiClient, Event, IdempotencyRecord
from ropsms.messaging.errors import SendError
from ropsms.messaging.models import Batch, InboundMessage, Message, Priority
from ropsms.messaging.services import Recipient, send, send_many
from ropsms.messaging.services import cancel as cancel_queued
from ropsms.ops.audit import mask, record

PRIORITIES = {"urgent": Priority.URGENT, "normal": Priority.NORMAL, "bulk": Priority.BULK}
PRIORITY_NAMES = {v: k for k, v in PRIORITIES.items()}
MAX_BATCH = 10_000
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]{0,39})\}")


# --- checks shared by every interface -----------------------------------------------------------

def require_scope(client: ApiClient, scope: str) -> None:
    if scope not in client.scope_list():
        raise ApiError(403, "scope", f"This API client may not use '{scope}': ask the gateway administrators "
                       f"to add the scope to client '{client.slug}'.")


def check_sender(client: ApiClient, sender: str | None) -> str | None:
    """A sender ID must be the short code or one of the client's allowed sender IDs."""
    if not sender or sender == settings.ROPSMS["SHORT_CODE"]:
        return None
    if sender not in client.sender_list():
        allowed = ", ".join([settings.ROPSMS["SHORT_CODE"], *client.sender_list()])
        raise ApiError(403, "sender_not_allowed", f"Sender ID '{sender}' is not allowed for this client; "
                       f"allowed: {allowed}.", field="sender")
    return sender


def _meta(client: ApiClient, callback_url: str | None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {k: v for k, v in extra.items() if v not in (None, "")}
    url = callback_url or client.callback_url
    if url:
        check_callback_url(url, field="callback_url")
        meta["callback_url"] = url
    return meta


def check_callback_url(url: str, *, field: str) -> None:
    """422 for a callback to an address the gateway must not call (see `api.destinations`)."""
    try:
        destinations.check_url(url)
    except destinations.Refused as exc:
        raise ApiError(422, "callback_url_not_allowed", f"{exc}.", field=field) from None


def _validity(minutes: int | None) -> timedelta | None:
    return None if minutes is None else timedelta(minutes=minutes)


MAX_SCHEDULE_AHEAD = timedelta(days=366)


def _schedule(at: datetime | None) -> datetime | None:
    """A time in the past means now; more than a year ahead is refused (it is surely a mistake)."""
    if at is None:
        return None
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    ahead = at - timezone.now()
    if ahead > MAX_SCHEDULE_AHEAD:
        raise ApiError(422, "invalid_schedule", "scheduled_at is more than a year ahead.", field="scheduled_at")
    return at if ahead.total_seconds() > 0 else None


# --- sending ------------------------------------------------------------------------------------

def send_message(*, client: ApiClient, to: str, text: str, sender: str | None = None, priority: str = "normal",
                 validity_minutes: int | None = None, scheduled_for: datetime | None = None, client_ref: str = "",
                 callback_url: str | None = None, idempotency_key: str | None = None,
                 meta: dict[str, Any] | None = None) -> Message:
    source = check_sender(client, sender)
    try:
        return send(to=to, text=text, producer=client.producer, source=source, priority=PRIORITIES[priority],
                    validity=_validity(validity_minutes), scheduled_for=_schedule(scheduled_for), client_ref=client_ref,
                    idempotency_key=idempotency_key, meta=_meta(client, callback_url, **(meta or {})))
    except SendError as exc:
        raise from_send_error(exc) from None


def render_template(template: str, values: dict[str, Any]) -> str:
    """Fill `{name}` placeholders from `values` (no attribute access, unlike str.format)."""
    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise SendError(f"No value for placeholder {{{name}}}.", code="missing_value", field="values")
        return str(values[name])

    return _PLACEHOLDER.sub(fill, template)


def send_batch(*, client: ApiClient, rows: list[dict[str, Any]], text: str | None = None,
               template: str | None = None, sender: str | None = None, priority: str = "bulk",
               validity_minutes: int | None = None, scheduled_for: datetime | None = None, name: str = "",
               callback_url: str | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
    """Queue a batch. `rows` are dicts with `to` and optionally `text`, `values`, `client_ref`.

    Rows that cannot become messages are returned in `errors` with their index; the rest are sent.
    """
    source = check_sender(client, sender)
    if not rows:
        raise ApiError(422, "empty_batch", "The batch has no recipients.", field="messages")
    if len(rows) > MAX_BATCH:
        raise ApiError(422, "too_many", f"A batch holds at most {MAX_BATCH} messages; this one has {len(rows)}.")
    recipients: list[Recipient] = []
    index_of: list[int] = []
    errors: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        body = row.get("text")
        if template is not None:
            try:
                body = render_template(template, row.get("values") or {})
            except SendError as exc:
                errors.append({"index": index, "to": str(row.get("to", "")), "code": exc.code, "message": str(exc)})
                continue
        recipients.append(Recipient(to=str(row.get("to", "")), text=body, client_ref=row.get("client_ref") or ""))
        index_of.append(index)
    try:
        result = send_many(recipients=recipients, text=text, producer=client.producer, source=source,
                           priority=PRIORITIES[priority], validity=_validity(validity_minutes),
                           scheduled_for=_schedule(scheduled_for), batch_name=name,
                           idempotency_key=idempotency_key,
                           meta=_meta(client, callback_url))
    except SendError as exc:
        raise from_send_error(exc) from None
    for err in result.errors:
        errors.append({"index": index_of[err.index], "to": err.to, "code": err.code, "message": err.message})
    errors.sort(key=lambda e: e["index"])
    record(actor=client.producer, action="api.batch.send", target=f"batch:{result.batch.pk}",
           accepted=result.accepted, errors=len(errors))
    return {"id": result.batch.pk, "name": result.batch.name, "accepted": result.accepted, "queued": result.queued,
            "refused": result.refused, "rejected_rows": len(errors), "errors": errors}


# --- reading ------------------------------------------------------------------------------------

def message_dict(msg: Message) -> dict[str, Any]:
    return {
        "id": msg.pk, "to": msg.to, "text": msg.text, "sender": msg.source, "state": msg.state,
        "parts": msg.parts_count, "encoding": msg.encoding, "priority": PRIORITY_NAMES.get(msg.priority, "normal"),
        "client_ref": msg.client_ref, "batch_id": msg.batch_id, "created_at": msg.created_at,
        "scheduled_for": msg.scheduled_for, "valid_until": msg.valid_until, "submitted_at": msg.submitted_at,
        "done_at": msg.done_at, "error_code": msg.error_code, "error_text": msg.error_text,
        "callback_url": (msg.meta or {}).get("callback_url", ""),
        "history": [{"state": step, "at": at} for step, at in msg.history()],
    }


def get_message(*, client: ApiClient, message_id: int) -> Message:
    msg = Message.objects.filter(pk=message_id, producer=client.producer).first()
    if msg is None:
        raise ApiError(404, "not_found", f"No message {message_id} sent by this client.", field="id")
    return msg


def cancel_message(*, client: ApiClient, message_id: int, via: str, ip: str | None = None) -> Message:
    """Cancel one of the client's messages that has not left yet (scheduled or queued), through
    `messaging.cancel()`, whose conditional update loses cleanly to a gateway that has just claimed it.
    404 when the message is not this client's (never say whose it is), 409 when it has left or is final.
    Audited with the number masked; `via` names the interface (e.g. "smpp")."""
    msg = get_message(client=client, message_id=message_id)
    if not cancel_queued(message_id=msg.pk, reason=f"cancelled by API client {client.slug} ({via})"):
        raise ApiError(409, "not_cancellable", f"Message {msg.pk} has already left or is final: it cannot be "
                       "cancelled.", field="id")
    record(actor=client.producer, action="api.message.cancel", target=f"message:{msg.pk}", ip=ip,
           to=mask(msg.to), via=via)
    msg.refresh_from_db()
    return msg


def list_messages(*, client: ApiClient, client_ref: str | None = None, state: str | None = None,
                  batch_id: int | None = None, before_id: int | None = None, limit: int = 100) -> list[Message]:
    qs = Message.objects.filter(producer=client.producer)
    if client_ref:
        qs = qs.filter(client_ref=client_ref)
    if state:
        qs = qs.filter(state=state)
    if batch_id is not None:
        qs = qs.filter(batch_id=batch_id)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    return list(qs.order_by("-pk")[:limit])


def batch_status(*, client: ApiClient, batch_id: int) -> dict[str, Any]:
    batch = Batch.objects.filter(pk=batch_id, producer=client.producer).first()
    if batch is None:
        raise ApiError(404, "not_found", f"No batch {batch_id} sent by this client.", field="id")
    counts = batch.counts()
    return {"id": batch.pk, "name": batch.name, "total": batch.total, "created_at": batch.created_at,
            "counts": counts, "pending": sum(counts[s] for s in ("scheduled", "queued", "sending", "submitted"))}


def inbound_for(*, client: ApiClient, since_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    """MO messages whose first word is one of the client's keywords, oldest first after `since_id`."""
    keywords = client.keyword_list()
    if not keywords:
        return []
    found: list[dict[str, Any]] = []
    qs = InboundMessage.objects.filter(pk__gt=since_id).order_by("pk")
    cond = Q()
    for kw in keywords:
        cond |= Q(text__istartswith=kw)
    for mo in qs.filter(cond)[: limit * 4]:
        words = mo.text.strip().split(maxsplit=1)
        if words and words[0].upper() in keywords:
            found.append({"id": mo.pk, "from": mo.msisdn, "to": mo.to, "text": mo.text, "keyword": words[0].upper(),
                          "received_at": mo.received_at})
            if len(found) >= limit:
                break
    return found


# --- events -------------------------------------------------------------------------------------

def record_event(*, client: ApiClient, type_: str, event_id: str, data: dict[str, Any]) -> tuple[Event, bool]:
    """Validate an event for its type, store it and send the SMS its rule asks for (one transaction).

    Returns (event, created): an event id already seen returns the first event, sending nothing.
    """
    kind = EVENT_TYPES.get(type_)
    if kind is None:
        raise ApiError(422, "unknown_event_type", f"Unknown event type '{type_}'; known: "
                       f"{', '.join(sorted(EVENT_TYPES))}.", field="type")
    try:
        parsed = kind.schema.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ApiError(422, "invalid", f"data.{where}: {first.get('msg')}", field=f"data.{where}".rstrip(".")) from None
    if event_id:
        existing = Event.objects.filter(client=client, type=type_, event_id=event_id).first()
        if existing:
            return existing, False
    alert = kind.rule(parsed, getattr(parsed, "language", "ar"))
    try:
        with transaction.atomic():
            event = Event.objects.create(client=client, type=type_, event_id=event_id,
                                         payload=parsed.model_dump(mode="json"),
                                         outcome=Event.Outcome.SENT if alert.text else Event.Outcome.IGNORED,
                                         detail=alert.detail[:300])
            if alert.text:
                msg = send(to=parsed.mobile, text=alert.text, producer=client.producer, priority=Priority.NORMAL,
                           client_ref=f"event:{event.pk}", meta=_meta(client, None, event=type_))
                event.message_id = msg.pk
                Event.objects.filter(pk=event.pk).update(message_id=msg.pk)
    except SendError as exc:
        err = from_send_error(exc)
        if exc.field == "to":
            err.field = "data.mobile"
        raise err from None
    except IntegrityError:
        existing = Event.objects.filter(client=client, type=type_, event_id=event_id).first()
        if existing is None:
            raise
        return existing, False
    record(actor=client.producer, action="api.event", target=f"event:{event.pk}", type=type_,
           mobile=mask(parsed.mobile))
    return event, True


# --- idempotency --------------------------------------------------------------------------------

def fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


def run_idempotent(*, client: ApiClient, key: str | None, fingerprint: str,
                   produce: Callable[[], tuple[int, Any]], wait_seconds: float = 15.0) -> tuple[int, Any]:
    """Run `produce` once per (client, Idempotency-Key); a retry gets the first answer back.

    The key is claimed by inserting its row first (unique per client), so of concurrent retries
    exactly one runs; the others wait for its answer. Errors the client can fix by retrying
    unchanged (429, 5xx) are not remembered.
    """
    if not key:
        return produce()
    if len(key) > 200:
        raise ApiError(422, "invalid", "The Idempotency-Key header is at most 200 characters.",
                       field="Idempotency-Key")
    for _ in range(3):
        try:
            with transaction.atomic():
                rec = IdempotencyRecord.objects.create(client=client, key=key, fingerprint=fingerprint)
        except IntegrityError:
            answer = _await_first(client, key, fingerprint, wait_seconds)
            if answer is not None:
                return answer
            continue  # the first attempt failed and let go of the key: try to claim it
        return _produce_and_store(rec, produce)
    raise ApiError(409, "in_progress", "A request with this Idempotency-Key is being processed; retry shortly.",
                   headers={"Retry-After": "1"})


def _produce_and_store(rec: IdempotencyRecord, produce: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
    try:
        status, body = produce()
    except ApiError as exc:
        if exc.status == 429:
            IdempotencyRecord.objects.filter(pk=rec.pk).delete()
        else:
            IdempotencyRecord.objects.filter(pk=rec.pk).update(status_code=exc.status, response=exc.body())
        raise
    except BaseException:
        IdempotencyRecord.objects.filter(pk=rec.pk).delete()
        raise
    stored = json.loads(json.dumps(body, cls=NinjaJSONEncoder))
    IdempotencyRecord.objects.filter(pk=rec.pk).update(status_code=status, response=stored)
    return status, stored


def _await_first(client: ApiClient, key: str, fp: str, wait_seconds: float) -> tuple[int, Any] | None:
    deadline = time.monotonic() + wait_seconds
    delay = 0.01
    while True:
        rec = IdempotencyRecord.objects.filter(client=client, key=key).first()
        if rec is None:
            return None
        if rec.fingerprint != fp:
            raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was already used for a different "
                           "request; use a new key for a new request.", field="Idempotency-Key")
        if rec.status_code is not None:
            if rec.status_code >= 400:
                body = rec.response or {}
                raise ApiError(rec.status_code, body.get("code", "error"), body.get("message", ""),
                               field=body.get("field", ""))
            return rec.status_code, rec.response
        if time.monotonic() > deadline:
            raise ApiError(409, "in_progress", "A request with this Idempotency-Key is still being processed; "
                           "retry shortly.", headers={"Retry-After": "1"})
        time.sleep(delay)
        delay = min(0.2, delay * 2)


def purge_idempotency(*, older_than: timedelta = timedelta(days=2)) -> int:
    """Scheduler job: idempotency keys are remembered for 48 hours."""
    n, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return n


def iter_rows(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [item if isinstance(item, dict) else item.model_dump() for item in items]
