"""Pull-service settings: defaults, then `settings.ROPSMS_ESERVICES`, then environment variables."""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS: dict[str, int] = {
    "PER_MINUTE": 10,  # commands per number per minute
    "PER_DAY": 100,  # commands per number per day
    "PROBE_LIMIT": 5,  # distinct identifiers refused (not found / not the owner) ...
    "PROBE_WINDOW_MINUTES": 60,  # ... within this window -> blocked
    "BLOCK_HOURS": 24,
    "MAX_REPLY_PARTS": 4,  # SMS parts per reply; the rest waits for MORE
    "MORE_MINUTES": 60,  # how long MORE can fetch the rest of a reply
    "RETENTION_DAYS": 365,  # exchanges older than this are deleted (the audit trail keeps its own)
}


def get(name: str) -> int:
    """`ROPSMS_PULL_PER_MINUTE=20` in the environment overrides `ROPSMS_ESERVICES["PER_MINUTE"]`."""
    env = os.environ.get(f"ROPSMS_PULL_{name}")
    if env not in (None, ""):
        return int(env)
    return int(getattr(settings, "ROPSMS_ESERVICES", {}).get(name, DEFAULTS[name]))
