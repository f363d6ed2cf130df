"""Virtual phones: what each number received (MT) and sent (MO), and reassembly of long messages.

Kept in memory: the simulator is a development and test tool, and a restart is a clean slate.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

_DIGITS = {**{0x0660 + i: str(i) for i in range(10)}, **{0x06F0 + i: str(i) for i in range(10)}}


def canonical_number(value: str, country_code: str = "968") -> str:
    """One key per phone whatever way the number is written: digits only, international form.

    `91234567`, `+968 9123 4567`, `0096891234567` and `96891234567` are all `96891234567`;
    short codes (`90085`) and other short numbers stay as they are.
    """
    digits = "".join(ch for ch in value.translate(_DIGITS) if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    if len(digits) == 8 and digits[0] in "79" and country_code == "968":
        digits = country_code + digits
    return digits


@dataclass(slots=True)
class Entry:
    """One message in a phone's conversation. direction: "mt" (the phone received it) or "mo" (sent)."""

    id: int
    direction: str
    peer: str  # the other party (the short code / sender id)
    text: str
    encoding: str  # "gsm", "ucs2", "other"
    parts: int
    at: float
    message_ids: list[str] = field(default_factory=list)  # SMSC ids of the parts (MT)
    state: str = "accepted"  # MT: accepted -> delivered / undeliverable / expired / rejected; MO: sent / acked

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Phones:
    """Per-number conversations, bounded per number."""

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self._boxes: dict[str, deque[Entry]] = {}
        self._ids = itertools.count(1)
        self.by_message_id: dict[str, Entry] = {}

    def add(self, number: str, *, direction: str, peer: str, text: str, encoding: str, parts: int = 1,
            message_ids: list[str] | None = None, state: str | None = None) -> Entry:
        box = self._boxes.get(number)
        if box is None:
            box = self._boxes[number] = deque(maxlen=self.limit)
        if len(box) == box.maxlen:
            for mid in box[0].message_ids:
                self.by_message_id.pop(mid, None)
        entry = Entry(next(self._ids), direction, peer, text, encoding, parts, time.time(),
                      list(message_ids or ()), state or ("accepted" if direction == "mt" else "sent"))
        box.append(entry)
        for mid in entry.message_ids:
            self.by_message_id[mid] = entry
        return entry

    def numbers(self) -> list[dict[str, Any]]:
        out = []
        for number, box in self._boxes.items():
            if box:
                last = box[-1]
                out.append({"msisdn": number, "count": len(box), "last_at": last.at,
                            "last_text": last.text[:80], "last_direction": last.direction, "last_id": last.id})
        out.sort(key=lambda r: r["last_at"], reverse=True)
        return out

    def conversation(self, number: str, since: int = 0) -> list[Entry]:
        return [e for e in self._boxes.get(number, ()) if e.id > since]

    def received(self, number: str) -> list[Entry]:
        """MT messages the phone got (whatever their receipt outcome)."""
        return [e for e in self._boxes.get(number, ()) if e.direction == "mt"]

    def clear(self) -> None:
        self._boxes.clear()
        self.by_message_id.clear()


class Reassembler:
    """Collects the parts of concatenated messages (UDH or sar_* TLVs) until all have arrived.

    Parts are keyed by (source, destination, reference, total); an incomplete message older than
    `max_age` seconds is dropped (counted in `abandoned`) so lost parts cannot pile up.
    """

    def __init__(self, max_age: float = 600.0) -> None:
        self.max_age = max_age
        self._pending: dict[tuple, tuple[float, dict[int, Any]]] = {}
        self.abandoned = 0

    def add(self, key: tuple, total: int, seq: int, item: Any) -> list[Any] | None:
        """Store one part; return all parts in order once the message is complete, else None."""
        now = time.monotonic()
        started, parts = self._pending.get(key, (now, {}))
        parts[seq] = item
        if len(parts) >= total and all(i in parts for i in range(1, total + 1)):
            self._pending.pop(key, None)
            return [parts[i] for i in range(1, total + 1)]
        self._pending[key] = (started, parts)
        if len(self._pending) > 1000:
            self._expire(now)
        return None

    def _expire(self, now: float) -> None:
        for key, (started, _) in list(self._pending.items()):
            if now - started > self.max_age:
                del self._pending[key]
                self.abandoned += 1

    @property
    def pending(self) -> int:
        return len(self._pending)
