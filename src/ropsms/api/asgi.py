"""Serve the integration API's paths through Django's WSGI handler on a small, long-lived thread pool.

Why: Django's ASGI handler runs each request's sync code (all our middleware and views are sync) in
a thread of its own, made for that request and ended after it. Every API call then paid for a new
thread and, since database connections belong to a thread, a new SQLite connection (PRAGMAs and
Django's SQL functions registered again): more CPU than the API request itself. Here the API's
requests run on a few persistent threads (`ROPSMS_API_THREADS`) (a2wsgi's WSGI-in-ASGI bridge) that keep their
connections (CONN_MAX_AGE), still served by uvicorn. Every other path (portal, admin, static) stays
on Django's ASGI handler unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

PREFIXES = ("/api/v1/", "/cgi-bin/")


def api_threads() -> int:
    """SQLite takes one writer at a time, and threads of one process share the GIL: one thread per
    process measured best there (run more uvicorn workers to use more cores). PostgreSQL requests
    wait on the network, so a few threads overlap them."""
    from django.conf import settings

    default = "4" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "1"
    return max(1, int(os.environ.get("ROPSMS_API_THREADS", default)))

Asgi = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def with_api_threads(django_asgi: Asgi) -> Asgi:
    from a2wsgi import WSGIMiddleware
    from django.core.wsgi import get_wsgi_application

    api = WSGIMiddleware(get_wsgi_application(), workers=api_threads())

    async def application(scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith(PREFIXES):
            await api(scope, receive, send)
        else:
            await django_asgi(scope, receive, send)

    return application
