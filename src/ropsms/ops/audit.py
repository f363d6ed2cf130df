"""Write the audit trail. Call `record()` for every sensitive action; it never stores raw personal data."""

from __future__ import annotations

from typing import Any

from ropsms.ops.models import AuditEntry


def mask(value: str, keep: int = 3) -> str:
    """Mask an identifier for logs and audit detail: `+96891234567` -> `********567`."""
    value = str(value or "")
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def record(*, actor: str, action: str, target: str = "", unit: str = "", ip: str | None = None,
           **detail: Any) -> AuditEntry:
    """Append one audit entry. `detail` must already be masked where it names a person."""
    from django.utils import timezone

    from ropsms.messaging.bulk import insert_one

    values = {"at": timezone.now(), "actor": actor, "action": action, "target": target, "unit": unit, "ip": ip,
              "detail": detail}
    entry = AuditEntry(pk=insert_one(AuditEntry, values), **values)  # fast path: written on every query
    entry._state.adding, entry._state.db = False, "default"
    return entry
