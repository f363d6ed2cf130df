"""MO handling in worker processes, so the commands engine never competes with the SMPP links for
the gateway's GIL.

The gateway hands each reassembled MO to a small pool of processes (spawned, each with Django set
up and the apps' MO handler registered). A worker stores the MO and dispatches it through
`messaging.inbound.receive()`; only when that returned does the gateway answer the deliver_sm, so
an MO that was not stored is delivered again by the SMSC. When the future completes in the gateway,
the claim loop is woken at once, so the reply the handler queued leaves without waiting for a poll.
"""

from __future__ import annotations

import os


def init() -> None:
    """Process initialiser: set up Django once per worker."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
    import django

    django.setup()


def ready() -> int:
    """Warm-up call: returns the worker's pid once Django is loaded."""
    return os.getpid()


def store_and_dispatch(source: str, destination: str, text: str, operator: str, bind: str, parts: int) -> None:
    """Store one MO and hand it to the interceptors / MO handler. Raises if it could not be stored."""
    from django.db import close_old_connections

    from ropsms.directory.phone import InvalidNumber, parse_mobile
    from ropsms.messaging import inbound

    try:
        msisdn = parse_mobile(source, allow_foreign=True).e164
    except InvalidNumber:
        msisdn = source
    try:
        inbound.receive(msisdn=msisdn, to=destination, text=text, operator=operator, bind=bind,
                        meta={"parts": parts} if parts > 1 else None)
    except Exception:
        close_old_connections()  # drop a broken connection before the next MO
        raise
