"""MO intake: where the transport hands over SMS received on the short code.

The gateway calls `receive()` for each (reassembled) MO. It is stored first, then offered to the
reply interceptors (apps waiting for an answer from that number, e.g. an interview invitation's
YES/NO or an appointment's cancel), and otherwise to the one registered MO handler (the commands
engine). The transport never imports those apps: they register themselves in `AppConfig.ready()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import connection
from django.utils import timezone

from ropsms.messaging.bulk import insert_one
from ropsms.messaging.models import InboundMessage
from ropsms.ops.audit import mask

log = logging.getLogger(__name__)

MoHandler = Callable[[InboundMessage], str]
Interceptor = Callable[[InboundMessage], str | None]

_MARK_HANDLED = "UPDATE messaging_inboundmessage SET handled_at = %s, handler_result = %s WHERE id = %s"
_handler: MoHandler | None = None
_interceptors: list[Interceptor] = []


def register_handler(handler: MoHandler) -> None:
    """Set the MO handler (the commands engine). It returns a short result text for the MO log."""
    global _handler
    _handler = handler


def register_interceptor(interceptor: Interceptor) -> None:
    """Add a reply interceptor: it returns a result text if it handled the MO, else None."""
    if interceptor not in _interceptors:
        _interceptors.append(interceptor)


def receive(*, msisdn: str, to: str, text: str, operator: str = "", bind: str = "",
            received_at: datetime | None = None, meta: dict | None = None) -> InboundMessage:
    """Store one MO and dispatch it. Never raises for a handler's failure: the MO stays on record."""
    # NUL cannot be stored in a PostgreSQL text column; a phone can still send one (GSM '@' is 0x00
    # in some gateways' decoding). Keep the rest of the text rather than refuse the MO.
    # A lone UTF-16 surrogate (from a broken UCS-2 part) cannot be stored either: same treatment.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").replace("\x00", "\ufffd")
    values = {"msisdn": msisdn, "to": to, "text": text, "operator": operator, "bind": bind,
              "received_at": received_at or timezone.now(), "meta": meta or {}}
    mo = InboundMessage(pk=insert_one(InboundMessage, values), **values)  # fast path: one row per SMS
    mo._state.adding, mo._state.db = False, "default"
    result = "stored (no MO handler registered)"
    try:
        for interceptor in list(_interceptors):
            handled = interceptor(mo)
            if handled:
                result = handled
                break
        else:
            if _handler is not None:
                result = _handler(mo)
    except Exception:  # one bad MO must not stop intake; it stays stored with the failure noted
        log.exception("MO handler failed for MO #%s from %s", mo.pk, mask(msisdn))
        mo.handled_at, result = None, "handler error"  # whatever the handler marked was rolled back
    if mo.handled_at is None:
        mark_handled(mo, result)
    return mo


def mark_handled(mo: InboundMessage, result: str) -> None:
    """Record the MO's outcome. A handler may call this inside its own write transaction (one
    write per MO instead of two); `receive()` then does not write it again."""
    mo.handled_at, mo.handler_result = timezone.now(), result[:200]
    with connection.cursor() as cursor:  # plain SQL: the ORM's update() cost more than the write
        cursor.execute(_MARK_HANDLED,
                       [connection.ops.adapt_datetimefield_value(mo.handled_at), mo.handler_result, mo.pk])
