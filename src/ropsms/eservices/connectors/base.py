"""The connector interface and its result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from ropsms.directory.phone import InvalidNumber, parse_mobile


class SourceUnavailable(Exception):
    """The data source did not answer in time or answered nonsense: the citizen is told to retry."""


class UnknownQuery(SourceUnavailable):
    """The command names a query the source does not have (a configuration error)."""


@dataclass
class LookupResult:
    """What a source knows about one identifier.

    `found` False means nothing to tell; `owners` are the E.164 numbers registered to the person,
    vehicle owner or company the answer is about (privacy); `fields` fill the reply template and
    `records` its per-record lines (e.g. one per fine).
    """

    found: bool
    owners: set[str] = field(default_factory=set)
    fields: dict[str, Any] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)


NOT_FOUND = LookupResult(found=False)


class Connector(Protocol):
    """The three questions a data source answers (ARCHITECTURE.md "Data sources").

    * `lookup`: one identifier (plate, civil ID, CR, application) -> what the citizen may be told.
    * `expiring`: records of a kind (`driving_licence`, `passport`, ...) expiring between two dates,
      each a dict with at least `owner_mobile` and `expiry` (for expiry alerts).
    * `changes`: records of a kind changed after `cursor` (opaque text, "" for the start), and the
      cursor to pass next time (for status-change alerts, e.g. visa applications).
    """

    def lookup(self, query: str, params: dict[str, str]) -> LookupResult: ...

    def expiring(self, kind: str, start: date, end: date) -> list[dict[str, Any]]: ...

    def changes(self, kind: str, cursor: str) -> tuple[list[dict[str, Any]], str]: ...


def owner_numbers(values: Iterable[Any]) -> set[str]:
    """Normalise whatever the source stores as a mobile number; unusable values are ignored."""
    out = set()
    for value in values:
        if not value:
            continue
        try:
            out.add(parse_mobile(str(value), allow_foreign=True).e164)
        except InvalidNumber:
            continue
    return out
