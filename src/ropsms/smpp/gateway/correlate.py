"""Match delivery receipts to submitted parts, in memory, sans-I/O (the database is the fallback).

A message is registered once every part has its operator id. A receipt is looked up by the
normalised id and, failing that, its hex/decimal readings (`ids.variants`). A receipt that comes
before its submit_sm_resp is kept in `early` and applied when the id is registered; one that
matches nothing for a while is handed to the database (`outbox.Receipt`), which matches it
against `MessagePart` or stores it as a `PendingReceipt`. Duplicates change nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ropsms.smpp import outbox
from ropsms.smpp.gateway.ids import normalise, variants


@dataclass(slots=True)
class Ack:
    """Run `send` after the ops before it are committed (the deliver_sm_resp of a stored receipt)."""

    send: Callable[[], Any]


@dataclass(slots=True)
class Tracked:
    message_id: int
    operator: str
    keys: list[str]
    states: list[str | None]
    born: float


class Correlator:
    def __init__(self, *, early_seconds: float = 10.0, keep_seconds: float = 6 * 3600.0) -> None:
        self.early_seconds = early_seconds
        self.keep_seconds = keep_seconds
        self.by_op: dict[tuple[str, str], tuple[Tracked, int]] = {}
        self.early: dict[tuple[str, str], tuple[str, str, datetime, float, Ack | None]] = {}
        self._order: deque[Tracked] = deque()
        self.duplicates = 0
        self.matched = 0
        self.early_held = 0

    def register(self, *, message_id: int, operator: str, ids: list[str], at: datetime,
                 now: float) -> list:
        """All parts of a message were accepted with these raw ids; returns ops for early receipts."""
        keys = [normalise(raw) for raw in ids]
        tracked = Tracked(message_id, operator, keys, [None] * len(keys), now)
        for idx, key in enumerate(keys):
            if key:
                self.by_op[(operator, key)] = (tracked, idx)
        self._order.append(tracked)
        ops: list = []
        if self.early:
            for idx, raw in enumerate(ids):
                for candidate in variants(raw):
                    held = self.early.pop((operator, candidate), None)
                    if held is not None:
                        state, code, when, _, ack = held
                        ops.extend(self._apply(tracked, idx, state, code, when))
                        if ack is not None:
                            ops.append(ack)
                        break
        return ops

    def receipt(self, *, operator: str, raw_id: str, state: str | None, error_code: str, at: datetime,
                now: float, ack: Ack | None = None) -> list:
        """Ops to write for one receipt, `ack` after them (held back with a receipt that came early)."""
        if state is None:
            return [ack] if ack else []
        found = None
        for candidate in variants(raw_id):
            found = self.by_op.get((operator, candidate))
            if found is not None:
                break
        if found is None:
            key = normalise(raw_id)
            if key:
                self.early_held += 1
                previous = self.early.get((operator, key))
                self.early[(operator, key)] = (state, error_code, at, now, ack)
                if previous is not None and previous[4] is not None:
                    return [previous[4]]  # a repeated early receipt: answer the older copy
                return []
            return [ack] if ack else []
        tracked, idx = found
        ops = self._apply(tracked, idx, state, error_code, at)
        if ack is not None:
            ops.append(ack)
        return ops

    def _apply(self, tracked: Tracked, idx: int, state: str, code: str, at: datetime) -> list:
        if tracked.states[idx] is not None:
            self.duplicates += 1
            return []
        self.matched += 1
        tracked.states[idx] = state
        if any(s is None for s in tracked.states):
            return [outbox.PartState(tracked.operator, tracked.keys[idx], state)]
        for key in tracked.keys:
            self.by_op.pop((tracked.operator, key), None)
        final = outbox.worst(s for s in tracked.states if s)
        if final == "delivered":
            return [outbox.Final(tracked.message_id, final, at)]
        return [outbox.Final(tracked.message_id, final, at, code,
                             f"Receipt from the operator: {final} (error {code or '-'}).")]

    def sweep(self, now: float) -> list:
        """Early receipts nobody claimed go to the database; very old registrations are forgotten."""
        ops: list = []
        for key, (state, code, at, born, ack) in list(self.early.items()):
            if now - born > self.early_seconds:
                del self.early[key]
                ops.append(outbox.Receipt(key[0], variants(key[1]), state, code, at))
                if ack is not None:
                    ops.append(ack)
        while self._order and now - self._order[0].born > self.keep_seconds:
            tracked = self._order.popleft()
            for key in tracked.keys:
                entry = self.by_op.get((tracked.operator, key))
                if entry is not None and entry[0] is tracked:
                    del self.by_op[(tracked.operator, key)]
        # Finished messages are already out of by_op; drop them from the age queue cheaply.
        while self._order and all(s is not None for s in self._order[0].states):
            self._order.popleft()
        return ops
