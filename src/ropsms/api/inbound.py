"""MO messages for keywords that an API client owns.

A client with keywords (admin: "inbound keywords") reads the SMS whose first word is one of them
through GET /api/v1/inbound. Such an MO is claimed here, as a reply interceptor, so the pull-command
engine does not also answer it ("unknown command"): the owning system replies through the API.
"""

from __future__ import annotations

import time

from ropsms.messaging.models import InboundMessage

_CACHE_SECONDS = 5.0
_owners: tuple[float, dict[str, str]] = (0.0, {})


def keyword_owners() -> dict[str, str]:
    """KEYWORD -> client slug, for active clients (remembered for a few seconds)."""
    global _owners
    now = time.monotonic()
    if now - _owners[0] < _CACHE_SECONDS:
        return _owners[1]
    from ropsms.api.models import ApiClient

    owners: dict[str, str] = {}
    for client in ApiClient.objects.filter(active=True).exclude(keywords="").only("slug", "keywords"):
        for kw in client.keyword_list():
            owners.setdefault(kw, client.slug)
    _owners = (now, owners)
    return owners


def forget_owners() -> None:
    global _owners
    _owners = (0.0, {})


def claim(mo: InboundMessage) -> str | None:
    """Interceptor: 'api:<slug>' when the MO's first word is a keyword an API client owns, else None."""
    words = (mo.text or "").strip().split(maxsplit=1)
    if not words:
        return None
    slug = keyword_owners().get(words[0].upper())
    return f"api:{slug} (keyword {words[0].upper()})" if slug else None
