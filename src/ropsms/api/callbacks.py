"""Delivery callbacks: tell a client's system when its message reached a final state.

The gateway knows nothing of API clients; it only moves `Message.state`. A scheduler job
(`api.callbacks`, every few seconds) finds API messages with a callback URL in a final state that
have no `Callback` row yet, creates the rows, and posts the due ones with httpx:

    POST <callback_url>
    Content-Type: application/json
    X-Ropsms-Timestamp: 1767225600
    X-Ropsms-Signature: v1=<hex HMAC-SHA256(webhook secret, "<timestamp>." + raw body)>
    X-Ropsms-Delivery: <callback id>

A 2xx answer ends it; anything else is retried with exponential backoff (30 s, 1 min, 2 min, ...
capped at 1 h) up to `MAX_ATTEMPTS`, then marked failed, visible and re-sendable in the admin.
Kannel-style `dlr-url`s (from /cgi-bin/sendsms) are fetched with GET after placeholder expansion.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ropsms.api import destinations
from ropsms.api.models import ApiClient, Callback
from ropsms.messaging.models import FINAL_STATES, Message, State
from ropsms.ops.audit import record

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
TIMEOUT = 5.0
CONCURRENCY = 8
SCAN_LIMIT = 1000
SEND_LIMIT = 200
LOOKBACK = timedelta(days=3)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does (the README shows the same in a few lines)."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(msg: Message) -> dict[str, Any]:
    return {
        "event": "message.final", "id": msg.pk, "client_ref": msg.client_ref, "batch_id": msg.batch_id,
        "to": msg.to, "state": msg.state, "parts": msg.parts_count, "error_code": msg.error_code,
        "error_text": msg.error_text,
        "submitted_at": msg.submitted_at.isoformat() if msg.submitted_at else None,
        "done_at": msg.done_at.isoformat() if msg.done_at else None,
    }


# --- Kannel dlr-url ------------------------------------------------------------------------------

KANNEL_DLR_TYPE = {State.DELIVERED: 1}  # 1 delivered to phone; everything else final is 2 (non-delivered)


def kannel_dlr_type(state: str) -> int:
    return KANNEL_DLR_TYPE.get(state, 2)


def expand_kannel_url(template: str, msg: Message) -> str:
    """Expand Kannel's dlr-url placeholders: %d type, %p receiver, %P sender, %t time, %T epoch,
    %A reply text, %I our message id, %F operator id, %% a percent sign."""
    done = msg.done_at or timezone.now()
    values = {
        "d": str(kannel_dlr_type(msg.state)), "p": msg.to, "P": msg.source,
        "t": timezone.localtime(done).strftime("%Y-%m-%d %H:%M:%S"), "T": str(int(done.timestamp())),
        "A": f"{msg.state} {msg.error_code}".strip(), "I": str(msg.pk), "F": msg.operator_message_id, "%": "%",
    }
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch == "%" and i + 1 < len(template) and template[i + 1] in values:
            value = values[template[i + 1]]
            out.append("%" if value == "%" else quote(value, safe=""))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# --- the job ------------------------------------------------------------------------------------

def enqueue_final(*, now=None, limit: int = SCAN_LIMIT) -> int:
    """Create `Callback` rows for API messages that reached a final state and want a callback."""
    now = now or timezone.now()
    recent = Q(done_at__gte=now - LOOKBACK) | Q(done_at__isnull=True, created_at__gte=now - LOOKBACK)
    candidates = (Message.objects.filter(recent, producer__startswith="api:", state__in=list(FINAL_STATES),
                                         api_callback__isnull=True)
                  .filter(meta__has_any_keys=["callback_url", "kannel_dlr_url", "smpp_receipt"])
                  .only("id", "producer", "meta", "state")[:limit])
    clients = {c.slug: c.pk for c in ApiClient.objects.only("id", "slug")}
    rows = []
    for msg in candidates:
        meta = msg.meta or {}
        if meta.get("kannel_dlr_url"):
            mask = int(meta.get("kannel_dlr_mask") or 3)
            if not mask & kannel_dlr_type(msg.state):
                kind, url = "kannel", ""  # the client did not ask for this outcome: record it as done
            else:
                kind, url = "kannel", meta["kannel_dlr_url"]
        elif meta.get("smpp_receipt"):
            kind, url = "smpp", ""
        else:
            kind, url = "webhook", meta["callback_url"]
        rows.append(Callback(message_id=msg.pk, client_id=clients.get(msg.producer[4:]), kind=kind, url=url,
                             next_attempt_at=now, state=Callback.State.PENDING if url or kind == "smpp"
                             else Callback.State.DONE, done_at=None if url or kind == "smpp" else now))
    if not rows:
        return 0
    try:
        with transaction.atomic():
            Callback.objects.bulk_create(rows, ignore_conflicts=True)
    except IntegrityError:  # another node got there first; the rows exist
        pass
    return len(rows)


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))


def deliver_due(*, now=None, limit: int = SEND_LIMIT, client: httpx.Client | None = None) -> int:
    """Post the callbacks that are due; return how many succeeded."""
    now = now or timezone.now()
    due = list(Callback.objects.filter(state=Callback.State.PENDING, kind__in=["webhook", "kannel"],
                                       next_attempt_at__lte=now)
               .select_related("message", "client").order_by("next_attempt_at")[:limit])
    if not due:
        return 0
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False,
                                  headers={"User-Agent": "ropsms-callbacks/1"},
                                  limits=httpx.Limits(max_connections=CONCURRENCY * 2))
    try:
        if len(due) == 1:
            return _attempt(http, due[0])
        # Several at once, so one client's slow or dead endpoint does not hold up everyone's callbacks.
        with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="callbacks") as pool:
            return sum(pool.map(lambda cb: _in_thread(http, cb), due))
    finally:
        if own:
            http.close()


def _in_thread(http: httpx.Client, cb: Callback) -> int:
    try:
        return _attempt(http, cb)
    finally:
        connection.close()  # this worker thread's own database connection


def _attempt(http: httpx.Client, cb: Callback) -> int:
    # Claim the row for this attempt (safe when two schedulers run): bump the next attempt first.
    claimed = Callback.objects.filter(pk=cb.pk, state=Callback.State.PENDING, attempts=cb.attempts).update(
        attempts=cb.attempts + 1, next_attempt_at=timezone.now() + _backoff(cb.attempts + 1))
    if not claimed:
        return 0
    cb.attempts += 1
    status, error = None, ""
    try:
        # To the address that was checked, the name kept for Host and TLS (see api/destinations.py).
        target = destinations.pin(expand_kannel_url(cb.url, cb.message) if cb.kind == "kannel" else cb.url)
        headers, tls = {"Host": target.host_header}, {"sni_hostname": target.server_name}
        if cb.kind == "kannel":
            resp = http.get(target.url, headers=headers, extensions=tls)
        else:
            body = json.dumps(payload(cb.message), separators=(",", ":"), ensure_ascii=False).encode()
            ts = str(int(time.time()))
            secret = cb.client.webhook_secret if cb.client else ""
            resp = http.post(target.url, content=body, extensions=tls, headers={
                **headers, "Content-Type": "application/json", "X-Ropsms-Timestamp": ts,
                "X-Ropsms-Signature": sign(secret, ts, body), "X-Ropsms-Delivery": str(cb.pk)})
        status = resp.status_code
        if 200 <= status < 300:
            Callback.objects.filter(pk=cb.pk).update(state=Callback.State.DONE, done_at=timezone.now(),
                                                     last_status=status, last_error="")
            return 1
        error = f"HTTP {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    except destinations.Refused as exc:  # also for a name that now resolves to an internal address
        error = f"not allowed: {exc}"[:300]
        log.warning("callback %s for message #%s refused: %s", cb.pk, cb.message_id, exc)
    except ValueError as exc:  # a URL httpx cannot use
        error = f"bad URL: {exc}"[:300]
    gave_up = cb.attempts >= MAX_ATTEMPTS
    Callback.objects.filter(pk=cb.pk).update(
        last_status=status, last_error=error[:300],
        state=Callback.State.FAILED if gave_up else Callback.State.PENDING)
    log.info("callback %s for message #%s failed (attempt %s): %s", cb.pk, cb.message_id, cb.attempts, error)
    return 0


def resend(*, callback_ids: list[int], actor: str) -> int:
    """Admin action: try these callbacks again now (failed or pending)."""
    n = Callback.objects.filter(pk__in=callback_ids, kind__in=["webhook", "kannel"]).update(
        state=Callback.State.PENDING, attempts=0, next_attempt_at=timezone.now())
    record(actor=actor, action="api.callback.resend", target=",".join(map(str, callback_ids[:20])), count=n)
    return n


def run_job() -> None:
    enqueue_final()
    deliver_due()
