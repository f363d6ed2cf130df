"""The `sql` connector: one configured query per command against another database, with a timeout.

Configuration (`DataSource.queries`), per query name, either one SQL string whose rows are the
records (an `owner_mobile` column names who may see them; no rows = not found), or
`{"subject": "...", "records": "..."}` where the subject query's first row says the thing exists
(its columns fill the template, its `owner_mobile` the privacy check) and the records query lists
the lines (an empty list is then "no fines", not "not found"). Parameters are written `:name`.

URLs: `sqlite:///relative.db`, `sqlite:////absolute/path.db`, `postgres://user:pass@host:5432/db`.
Oracle and others would plug in here with their DB-API driver the same way.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from ropsms.eservices.connectors.base import LookupResult, SourceUnavailable, UnknownQuery, owner_numbers

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def _to_pyformat(sql: str) -> str:
    """`:name` -> `%(name)s` for psycopg (a literal `%` is doubled first)."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


class SqlConnector:
    def __init__(self, *, url: str, queries: Mapping[str, Any], timeout: float) -> None:
        self.url = url
        self.queries = queries
        self.timeout = timeout
        self.scheme = urlsplit(url).scheme.lower()
        if self.scheme not in {"sqlite", "postgres", "postgresql"}:
            raise SourceUnavailable(f"unsupported SQL URL scheme {self.scheme!r}")

    def lookup(self, query: str, params: dict[str, str]) -> LookupResult:
        spec = self.queries.get(query)
        if not spec:
            raise UnknownQuery(f"no SQL configured for query {query!r}")
        try:
            if isinstance(spec, Mapping):
                subject = self._run(spec["subject"], params)
                if not subject:
                    return LookupResult(found=False)
                records = self._run(spec["records"], params) if spec.get("records") else []
                fields = dict(subject[0])
            else:
                records = self._run(str(spec), params)
                if not records:
                    return LookupResult(found=False)
                subject, fields = records, dict(records[0])
        except SourceUnavailable:
            raise
        except Exception as exc:  # any driver error is "the source is unwell", never a crash
            raise SourceUnavailable(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        owners = owner_numbers(row.get("owner_mobile") for row in subject)
        fields.pop("owner_mobile", None)
        for row in records:
            row.pop("owner_mobile", None)
        return LookupResult(found=True, owners=owners, fields=fields, records=records)

    def expiring(self, kind: str, start: date, end: date) -> list[dict[str, Any]]:
        """`queries["expiring:<kind>"]`: SQL with `:start` and `:end` (ISO dates), rows with
        `owner_mobile` and `expiry`."""
        return self._feed(f"expiring:{kind}", {"start": start.isoformat(), "end": end.isoformat()})

    def changes(self, kind: str, cursor: str) -> tuple[list[dict[str, Any]], str]:
        """`queries["changes:<kind>"]`: SQL with `:cursor`, rows in order with a `cursor` column
        (e.g. an update timestamp or a sequence number, as text); the last one is the next cursor."""
        rows = self._feed(f"changes:{kind}", {"cursor": cursor})
        return rows, (str(rows[-1]["cursor"]) if rows else cursor)

    def _feed(self, name: str, params: dict[str, str]) -> list[dict[str, Any]]:
        sql = self.queries.get(name)
        if not sql:
            raise UnknownQuery(f"no SQL configured for {name!r}")
        try:
            return self._run(str(sql), params)
        except SourceUnavailable:
            raise
        except Exception as exc:
            raise SourceUnavailable(f"{type(exc).__name__}: {str(exc)[:200]}") from None

    def _run(self, sql: str, params: dict[str, str]) -> list[dict[str, Any]]:
        if self.scheme == "sqlite":
            return self._run_sqlite(sql, params)
        return self._run_postgres(sql, params)

    def _run_sqlite(self, sql: str, params: dict[str, str]) -> list[dict[str, Any]]:
        path = self.url.split("://", 1)[1][1:]  # sqlite:///x.db -> x.db ; sqlite:////abs -> /abs
        deadline = time.monotonic() + self.timeout
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=self.timeout)
        except sqlite3.Error as exc:
            raise SourceUnavailable(f"cannot open {path}: {exc}") from None
        try:
            conn.row_factory = sqlite3.Row
            # Abort a query that runs past the deadline (sqlite has no statement timeout of its own).
            conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 1000)
            wanted = set(_NAMED.findall(sql))
            rows = conn.execute(sql, {k: v for k, v in params.items() if k in wanted}).fetchall()
            return [dict(r) for r in rows]
        except sqlite3.OperationalError as exc:
            if time.monotonic() > deadline:
                raise SourceUnavailable(f"query timed out after {self.timeout}s") from None
            raise SourceUnavailable(f"sqlite error: {exc}") from None
        finally:
            conn.close()

    def _run_postgres(self, sql: str, params: dict[str, str]) -> list[dict[str, Any]]:
        import psycopg

        wanted = set(_NAMED.findall(sql))
        try:
            conn = _pg_connection(self.url, self.timeout)
        except psycopg.Error as exc:
            raise SourceUnavailable(f"cannot connect: {type(exc).__name__}") from None
        try:
            return list(conn.execute(_to_pyformat(sql), {k: v for k, v in params.items() if k in wanted}))
        except psycopg.errors.QueryCanceled:
            raise SourceUnavailable(f"query timed out after {self.timeout}s") from None
        except psycopg.Error as exc:
            _drop_pg_connection(self.url, self.timeout)  # it may be broken; the next call reconnects
            raise SourceUnavailable(f"postgres error: {type(exc).__name__}") from None


# One PostgreSQL connection per thread and source, kept open: connecting (TCP + authentication)
# costs more than the query. A failed connection is dropped and made again on the next call.
_local = threading.local()


def _pg_connection(url: str, timeout: float):
    import psycopg
    from psycopg.rows import dict_row

    conns = _local.__dict__.setdefault("conns", {})
    conn = conns.get((url, timeout))
    if conn is None or conn.closed:
        ms = max(1, int(timeout * 1000))
        conn = psycopg.connect(url, connect_timeout=max(1, round(timeout)), autocommit=True,
                               options=f"-c statement_timeout={ms} -c default_transaction_read_only=on",
                               row_factory=dict_row)
        conns[(url, timeout)] = conn
    return conn


def _drop_pg_connection(url: str, timeout: float) -> None:
    conn = _local.__dict__.get("conns", {}).pop((url, timeout), None)
    if conn is not None:
        conn.close()


def close_connections() -> None:
    """Close this thread's kept connections (tests, shutdown)."""
    for conn in _local.__dict__.pop("conns", {}).values():
        conn.close()
