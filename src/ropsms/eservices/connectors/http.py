"""The `http` connector: JSON over HTTP(S) with a timeout.

`DataSource.url` is the base (`https://traffic.example.om/api`); `queries` maps a query name to a
path template with `{param}` placeholders (URL-quoted), e.g. `"/violations?plate={number}{letters}"`.
The service answers 200 with

    {"found": true, "owner_mobiles": ["+96891234567"], "fields": {...}, "records": [{...}, ...]}

or 404 (= not found). Anything else (timeout, refused, 5xx, not JSON) is `SourceUnavailable`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx

from ropsms.eservices.connectors.base import LookupResult, SourceUnavailable, UnknownQuery, owner_numbers

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _money(row: dict[str, Any]) -> dict[str, Any]:
    """JSON has no decimals: an amount given as a string or number becomes a Decimal here."""
    if "amount" in row:
        try:
            row["amount"] = Decimal(str(row["amount"]))
        except InvalidOperation:
            raise SourceUnavailable("the source sent an amount that is not a number") from None
    return row


class HttpConnector:
    def __init__(self, *, url: str, queries: Mapping[str, Any], timeout: float) -> None:
        self.url = url.rstrip("/")
        self.queries = queries
        self.timeout = timeout

    def _get(self, name: str, params: dict[str, str]) -> dict[str, Any] | None:
        """GET the configured path; the JSON object, or None for 404."""
        template = self.queries.get(name)
        if not template:
            raise UnknownQuery(f"no HTTP path configured for {name!r}")
        path = _PLACEHOLDER.sub(lambda m: quote(str(params.get(m.group(1), "")), safe=""), str(template))
        try:
            response = httpx.get(self.url + path, timeout=self.timeout, follow_redirects=False,
                                 headers={"Accept": "application/json"})
        except httpx.TimeoutException:
            raise SourceUnavailable(f"no answer within {self.timeout}s") from None
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"{type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SourceUnavailable(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise SourceUnavailable("the answer is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("records", []), list):
            raise SourceUnavailable("the answer is not in the expected shape")
        return body

    def expiring(self, kind: str, start: date, end: date) -> list[dict[str, Any]]:
        """`queries["expiring:<kind>"]`, e.g. `/licences/expiring?from={start}&to={end}` -> `{"records": [...]}`."""
        body = self._get(f"expiring:{kind}", {"start": start.isoformat(), "end": end.isoformat()})
        return [dict(r) for r in (body or {}).get("records") or [] if isinstance(r, dict)]

    def changes(self, kind: str, cursor: str) -> tuple[list[dict[str, Any]], str]:
        """`queries["changes:<kind>"]`, e.g. `/applications/changes?after={cursor}` ->
        `{"records": [...], "cursor": "..."}`."""
        body = self._get(f"changes:{kind}", {"cursor": cursor}) or {}
        rows = [dict(r) for r in body.get("records") or [] if isinstance(r, dict)]
        return rows, str(body.get("cursor") or cursor)

    def lookup(self, query: str, params: dict[str, str]) -> LookupResult:
        body = self._get(query, params)
        if body is None:
            return LookupResult(found=False)
        if not body.get("found", True):
            return LookupResult(found=False)
        return LookupResult(found=True, owners=owner_numbers(body.get("owner_mobiles") or []),
                            fields=dict(body.get("fields") or {}),
                            records=[_money(dict(r)) for r in body.get("records") or [] if isinstance(r, dict)])
