"""Match delivery receipts to submitted parts, in memory, sans-I/O (the database is the fallback).

A message is registered once every part has its operator id. A receipt is looked up by the
normalised id and, failing that, its hex/decimal readings (`ids.variants`). A receipt that comes
before its submit_sm_resp is kept in `early` and applied when the id is registered; one that
matches nothing for a while is handed to the database (`outbox.Receipt`), which matches it
against `MessagePart` or stores it as a `PendingReceipt`. Duplicates change nothing.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ropsms.smpp import outbox
from ropsms.smpp.gateway.ids import normalise, readings, variants


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
        self.kinds: dict[str, Counter[str]] = {}  # operator -> how its receipts wrote matched ids
        self._learned: dict[str, str] = {}
        self.duplicates = 0
        self.matched = 0
        self.early_held = 0

    def learned(self, operator: str) -> str | None:
        """The id reading this operator's receipts use ("exact", "hex2dec", "dec2hex"), once seen."""
        return self._learned.get(operator)

    def _learn(self, operator: str, kind: str) -> None:
        counts = self.kinds.setdefault(operator, Counter())
        counts[kind] += 1
        if self._learned.get(operator) != kind:
            self._learned[operator] = counts.most_common(1)[0][0]

    def _allowed(self, operator: str, kind: str) -> bool:
        learned = self.learned(operator)
        return learned is None or kind == learned or (kind == "exact" and learned == "exact")

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
                # The early receipt wrote the id its own way: its reading of *our* id is the inverse.
                for kind, candidate in readings(raw):
                    inverse = {"hex2dec": "dec2hex", "dec2hex": "hex2dec"}.get(kind, kind)
                    if not self._allowed(operator, inverse):
                        continue
                    held = self.early.pop((operator, candidate), None)
                    if held is not None:
                        state, code, when, _, ack = held
                        self._learn(operator, inverse)
                        ops.extend(self._apply(tracked, idx, state, code, when))
                        if ack is not None:
                            ops.append(ack)
                        break
        return ops

    def receipt(self, *, operator: str, raw_id: str, state: str | None, error_code: str, at: datetime,
                now: float, ack: Ack | None = None, outstanding: bool | Callable[[], bool] = True) -> list:
        """Ops to write for one receipt, `ack` after them.

        Unknown ids are held briefly in case their submit_sm_resp is on its way (only while submits
        are outstanding: a receipt redelivered after a restart goes straight to the database).
        """
        if state is None:
            return [ack] if ack else []
        found = None
        for kind, candidate in readings(raw_id):
            if not self._allowed(operator, kind):
                continue
            found = self.by_op.get((operator, candidate))
            if found is not None:
                self._learn(operator, kind)
                break
        if found is None:
            key = normalise(raw_id)
            if not key:
                return [ack] if ack else []
            if not (outstanding() if callable(outstanding) else outstanding):
                ops: list = [outbox.Receipt(operator, variants(key), state, error_code, at)]
                return [*ops, ack] if ack else ops
            self.early_held += 1
            previous = self.early.get((operator, key))
            self.early[(operator, key)] = (state, error_code, at, now, ack)
            if previous is not None and previous[4] is not None:
                return [previous[4]]  # a repeated early receipt: answer the older copy
            return []
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
