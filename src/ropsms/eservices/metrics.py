"""In-process counters for the pull service (busy sources, blocks, ...).

The durable figures are in the `Exchange` table (one row per MO with its result); these counters
are for a metrics endpoint of the running process (`counters()`), e.g. the ops Prometheus page.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[str] = Counter()


def increment(name: str, by: int = 1) -> None:
    with _lock:
        _counts[name] += by


def counters() -> dict[str, int]:
    with _lock:
        return dict(_counts)
