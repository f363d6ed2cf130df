"""The REST API (django-ninja) at /api/v1, with Swagger UI at /api/docs. Views only translate HTTP."""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from ninja import Header, NinjaAPI, Query
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.responses import Status
from ninja.security import HttpBearer

from ropsms.api import services
from ropsms.api.errors import ApiError
from ropsms.api.events import EVENT_TYPES
from ropsms.api.keys import authenticate
from ropsms.api.limits import take_token
from ropsms.api.models import ApiClient
from ropsms.api.schemas import (
    BatchAccepted,
    BatchIn,
    BatchStatus,
    Error,
    EventIn,
    EventOut,
    Health,
    InboundOut,
    MessageAccepted,
    MessageIn,
    MessageList,
    MessageOut,
    StateName,
)
from ropsms.messaging.models import Message, State

log = logging.getLogger(__name__)

# Swagger UI sets inline styles and shows data: images; everything else comes from this origin.
DOCS_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
BODY_LIMIT = 64 * 1024
BATCH_BODY_LIMIT = 8 * 1024 * 1024

DESCRIPTION = f"""
Send SMS through the ROP gateway (short code {settings.ROPSMS['SHORT_CODE']}) and follow their delivery.

**Authentication**: `Authorization: Bearer <API key>` (click *Authorize*). Keys are issued in the admin,
one API client per system, and shown once.

**Errors** are JSON `{{"field", "code", "message"}}` with the status that fits: 400 unreadable body,
401 no/invalid key, 403 scope / sender ID / IP not allowed, 404 not yours or absent, 409 same
Idempotency-Key still running, 413 body too large, 422 invalid input, 429 rate limit or daily quota
(with `Retry-After`).

**Retries**: send an `Idempotency-Key` header on POSTs; a retry with the same key (for 48 h) returns the
first answer and sends nothing new.

**Delivery callbacks**: give `callback_url` (or set a default on the client); when the message reaches a
final state the gateway POSTs JSON signed with `X-Ropsms-Signature: v1=HMAC-SHA256(secret, timestamp + "." + body)`.

**Event types** for POST /events: {", ".join(f"`{t}`" for t in EVENT_TYPES)}.
"""


class ClientKey(HttpBearer):
    """Bearer API key (or `X-API-Key`), then the client's IP allow-list, body size and rate limit."""

    openapi_description = "API key issued in the admin (rop_...)"

    def __call__(self, request: HttpRequest) -> ApiClient | None:
        _check_size(request)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else request.headers.get("X-API-Key", "").strip()
        return self.authenticate(request, key)

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = authenticate(token)
        if client is None:
            raise ApiError(401, "unauthorized", "Missing or invalid API key: send 'Authorization: Bearer <key>' "
                           "with a key issued in the admin.", headers={"WWW-Authenticate": "Bearer"})
        if not client.allows_address(request.META.get("REMOTE_ADDR", "")):
            raise ApiError(403, "ip_not_allowed", "This API client may not be used from this address.")
        wait = take_token(client.pk, client.rate_limit)
        if wait:
            raise ApiError(429, "rate_limited", f"Rate limit of {client.rate_limit} requests per second reached.",
                           headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return client


def _check_size(request: HttpRequest) -> None:
    limit = BATCH_BODY_LIMIT if request.path.rstrip("/").endswith("/batches") else BODY_LIMIT
    raw = request.META.get("CONTENT_LENGTH") or "0"
    try:
        length = int(raw)
    except ValueError:
        raise ApiError(400, "bad_request", "Invalid Content-Length header.") from None
    if length > limit:
        raise ApiError(413, "too_large", f"The request body is {length} bytes; the limit here is {limit}.")


api = NinjaAPI(title="ropsms integration API", version="1.0", description=DESCRIPTION, urls_namespace="api-v1",
               docs_url=None, openapi_url="/openapi.json", auth=ClientKey())

ERRORS = {code: Error for code in (400, 401, 403, 404, 409, 413, 422, 429)}


def _respond(request: HttpRequest, status: int, body: dict, headers: dict[str, str] | None = None) -> HttpResponse:
    response = api.create_response(request, body, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return _respond(request, exc.status, exc.body(), exc.headers)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header", "payload")]
    message = str(first.get("msg", "Invalid input."))
    if loc:
        message = f"{'.'.join(loc)}: {message}"
    if len(exc.errors) > 1:
        message += f" (and {len(exc.errors) - 1} more problem(s))"
    return _respond(request, 422, {"field": ".".join(loc), "code": str(first.get("type", "invalid")),
                                   "message": message})


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _respond(request, 401, {"field": "", "code": "unauthorized", "message": "Missing or invalid API key."},
                    {"WWW-Authenticate": "Bearer"})


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    message = "The request body is not valid JSON." if exc.status_code == 400 else str(exc)
    return _respond(request, exc.status_code, {"field": "", "code": "bad_request", "message": message})


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, 404, {"field": "", "code": "not_found", "message": "Not found."})


def _client(request: HttpRequest, scope: str, query: tuple[str, ...] = ()) -> ApiClient:
    """The authenticated client, if it has `scope`. Unknown query parameters are refused, so a typo
    such as `?clientref=` is an error rather than a silently unfiltered list."""
    client: ApiClient = request.auth  # type: ignore[attr-defined]
    services.require_scope(client, scope)
    unknown = sorted(set(request.GET) - set(query))
    if unknown:
        raise ApiError(422, "unknown_parameter", f"Unknown query parameter '{unknown[0][:40]}'; known: "
                       f"{', '.join(query) or 'none'}.", field=unknown[0][:40])
    return client


def _fp(request: HttpRequest) -> str:
    return services.fingerprint(request.method or "", request.path, request.body)


@api.post("/messages", response={201: MessageAccepted, **ERRORS}, summary="Send one SMS", tags=["messages"])
def post_message(request: HttpRequest, payload: MessageIn,
                 idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200)):
    """Queue one SMS. Returns its id and how many SMS parts it takes. Needs scope `send`."""
    client = _client(request, "send")

    def produce():
        msg = services.send_message(
            client=client, to=payload.to, text=payload.text, sender=payload.sender, priority=payload.priority,
            validity_minutes=payload.validity_minutes, scheduled_for=payload.scheduled_at,
            client_ref=payload.client_ref, callback_url=payload.callback_url, idempotency_key=idempotency_key)
        return 201, {"id": msg.pk, "state": msg.state, "parts": msg.parts_count, "encoding": msg.encoding,
                     "client_ref": msg.client_ref}

    return Status(*services.run_idempotent(client=client, key=idempotency_key, fingerprint=_fp(request),
                                           produce=produce))


@api.get("/messages/{message_id}", response={200: MessageOut, **ERRORS}, summary="A message's state and history",
         tags=["messages"])
def get_message(request: HttpRequest, message_id: int):
    """State, error if any, and each step with its time. Needs scope `read`."""
    client = _client(request, "read")
    if not 0 < message_id < 2**63:
        raise ApiError(404, "not_found", f"No message {message_id} sent by this client.", field="id")
    msg = services.get_message(client=client, message_id=message_id)
    return Status(200, services.message_dict(msg))


@api.post("/messages/{message_id}/cancel", response={200: MessageOut, **ERRORS}, summary="Cancel a message",
          tags=["messages"])
def cancel_message(request: HttpRequest, message_id: int):
    """Cancel a message that has not left yet (scheduled, or queued and not yet taken by the gateway).
    409 `not_cancellable` once it has left or is final. Needs scope `send`. Audited."""
    client = _client(request, "send")
    if not 0 < message_id < 2**63:
        raise ApiError(404, "not_found", f"No message {message_id} sent by this client.", field="id")
    msg = services.cancel_message(client=client, message_id=message_id, via="rest",
                                  ip=request.META.get("REMOTE_ADDR"))
    return Status(200, services.message_dict(msg))


@api.get("/messages", response={200: MessageList, **ERRORS}, summary="Find messages", tags=["messages"])
def list_messages(request: HttpRequest, client_ref: str | None = Query(None, max_length=100),
                  state: StateName | None = None, batch_id: int | None = Query(None, ge=1, lt=2**63),
                  before_id: int | None = Query(None, ge=1, lt=2**63), limit: int = Query(100, ge=1, le=500)):
    """Your messages, newest first, filtered by your reference, state or batch. Needs scope `read`."""
    client = _client(request, "read", ("client_ref", "state", "batch_id", "before_id", "limit"))
    items = services.list_messages(client=client, client_ref=client_ref, state=state, batch_id=batch_id,
                                   before_id=before_id, limit=limit)
    return Status(200, {"items": [services.message_dict(m) for m in items],
                        "next_before_id": items[-1].pk if len(items) == limit else None})


@api.post("/batches", response={201: BatchAccepted, **ERRORS}, summary="Send a batch", tags=["batches"])
def post_batch(request: HttpRequest, payload: BatchIn,
               idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200)):
    """Up to 10,000 messages: rows with their own text, one `text` to many `to`, or a `template`
    with per-row `values`. Bad rows are listed in `errors` (by index); the rest are queued. Needs scope `batch`."""
    client = _client(request, "batch")

    def produce():
        rows = ([{"to": n} for n in payload.to] if payload.to is not None
                else services.iter_rows(payload.messages or []))
        return 201, services.send_batch(
            client=client, rows=rows, text=payload.text, template=payload.template, sender=payload.sender,
            priority=payload.priority, validity_minutes=payload.validity_minutes,
            scheduled_for=payload.scheduled_at, name=payload.name, callback_url=payload.callback_url,
            idempotency_key=idempotency_key)

    return Status(*services.run_idempotent(client=client, key=idempotency_key, fingerprint=_fp(request),
                                           produce=produce))


@api.get("/batches/{batch_id}", response={200: BatchStatus, **ERRORS}, summary="A batch's live counts",
         tags=["batches"])
def get_batch(request: HttpRequest, batch_id: int):
    """How many of the batch's messages are in each state now. Needs scope `read` or `batch`."""
    client: ApiClient = request.auth  # type: ignore[attr-defined]
    _client(request, "read" if "read" in client.scope_list() else "batch")
    if not 0 < batch_id < 2**63:
        raise ApiError(404, "not_found", f"No batch {batch_id} sent by this client.", field="id")
    return Status(200, services.batch_status(client=client, batch_id=batch_id))


EVENT_EXAMPLES = {
    "visa": {"summary": "visa.status_changed", "value": {
        "type": "visa.status_changed", "id": "evisa-2026-000123",
        "data": {"application_no": "V2026-0001", "status": "approved", "mobile": "+96891234567", "language": "ar"}}},
    "offence": {"summary": "offence.recorded", "value": {
        "type": "offence.recorded", "id": "rop-traffic-88812",
        "data": {"offence_no": "T-88812", "plate": "12345 AB", "amount": "15.000", "location": "Al Khoud",
                 "mobile": "92345678", "language": "en"}}},
    "appointment": {"summary": "appointment.moved", "value": {
        "type": "appointment.moved", "id": "appt-5511-2",
        "data": {"appointment_id": "5511", "place": "Seeb police station", "at": "2027-01-03T09:30:00+04:00",
                 "previous_at": "2027-01-02T09:30:00+04:00", "mobile": "93456789", "language": "ar"}}},
}


@api.post("/events", response={201: EventOut, 200: EventOut, **ERRORS}, summary="Push a domain event",
          tags=["events"],
          openapi_extra={"requestBody": {"content": {"application/json": {"examples": EVENT_EXAMPLES}}}})
def post_event(request: HttpRequest, payload: EventIn,
               idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200)):
    """A source system reports something that happened (see the event types above); the alert rule of
    its type sends the SMS in the recipient's language. A repeated event `id` is not sent again (200).
    Needs scope `events`."""
    client = _client(request, "events")

    def produce():
        event, created = services.record_event(client=client, type_=payload.type, event_id=payload.id,
                                               data=payload.data)
        body = {"id": event.pk, "type": event.type, "outcome": event.outcome, "detail": event.detail,
                "message_id": event.message_id}
        return 201 if created else 200, body

    return Status(*services.run_idempotent(client=client, key=idempotency_key, fingerprint=_fp(request),
                                           produce=produce))


@api.get("/inbound", response={200: list[InboundOut], **ERRORS}, summary="MO messages for your keywords", by_alias=True,
         tags=["inbound"])
def get_inbound(request: HttpRequest, since_id: int = Query(0, ge=0, lt=2**63), limit: int = Query(100, ge=1, le=500)):
    """SMS received on the short code whose first word is one of your client's keywords (set in the admin),
    oldest first after `since_id`. Needs scope `read`."""
    client = _client(request, "read", ("since_id", "limit"))
    return Status(200, services.inbound_for(client=client, since_id=since_id, limit=limit))


@api.get("/health", auth=None, response={200: Health, 503: Health}, summary="Is the gateway up", tags=["health"])
def health(request: HttpRequest):
    """No key needed. `queued` is the number of messages waiting in the outbox."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        queued = Message.objects.filter(state=State.QUEUED).count()
    except Exception:  # the point of a health check is to say so, not to crash
        log.exception("health check: database error")
        return Status(503, {"status": "degraded", "database": "error", "queued": None})
    return Status(200, {"status": "ok", "database": "ok", "queued": queued})


@require_GET
def docs(request: HttpRequest) -> HttpResponse:
    """Swagger UI from django-ninja's bundled static files (works offline, nothing from a CDN)."""
    response = Swagger(settings={"persistAuthorization": True}).render_page(request, api)
    response["Content-Security-Policy"] = DOCS_POLICY
    return response
