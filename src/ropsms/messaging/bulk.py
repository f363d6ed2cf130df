"""Fast INSERTs for the outbox and the other per-SMS tables.

Django's `bulk_create` and `save()` prepare every value of every row through the field machinery
and compile the SQL anew each time, which costs more than the write itself when rows are written
by the tens of thousands (`send_many`) or one per SMS on a latency path (MO intake, replies, audit).
Here the SQL is built once per model, plain values (str, int, None) pass straight through, and
each distinct value that needs preparing (timestamps, JSON) is prepared once per call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models
from django.utils import timezone

_COPY_FROM = 20  # rows: below this, INSERT is quicker than COPY on PostgreSQL


@dataclass(frozen=True)
class _Plan:
    fields: list[models.Field]
    insert: str          # INSERT ... VALUES (...)
    returning: str       # the same, RETURNING the primary key
    copy: str            # COPY ... FROM STDIN (PostgreSQL)
    now_fields: frozenset[str]  # auto_now / auto_now_add attnames
    defaults: dict[str, Any]    # field defaults, computed once (only ever read and serialised)


@cache
def _plan(model: type[models.Model], vendor: str) -> _Plan:
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    table, cols = qn(meta.db_table), ", ".join(qn(f.column) for f in fields)
    insert = f"INSERT INTO {table} ({cols}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
    return _Plan(fields=fields, insert=insert, returning=f"{insert} RETURNING {qn(meta.pk.column)}",
                 copy=f"COPY {table} ({cols}) FROM STDIN",
                 now_fields=frozenset(f.attname for f in fields
                                      if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)),
                 defaults={f.attname: f.get_default() for f in fields})


def _row(plan: _Plan, row: Mapping[str, Any], cache_: dict[tuple[str, Any], Any], now: Any) -> list[Any]:
    out = []
    for f in plan.fields:
        if f.attname in row:
            value = row[f.attname]
        elif f.attname in plan.now_fields:
            value = now
        else:
            value = plan.defaults[f.attname]
        if value is None or (isinstance(value, (int, str)) and not isinstance(value, bool)):
            out.append(value)
            continue
        key = (f.attname, id(value) if isinstance(value, (list, dict)) else value)
        try:
            out.append(cache_[key])
        except KeyError:
            cache_[key] = prepared = f.get_db_prep_save(value, connection)
            out.append(prepared)
    return out


def insert_rows(model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, batch_size: int = 5000) -> int:
    """Insert `rows` (dicts keyed by attname; missing keys take the field default) and return the count.

    Must be called inside a transaction. No primary keys are returned. On PostgreSQL the rows go
    through COPY, several times faster than pipelined INSERTs; elsewhere, and for a few rows (COPY
    costs extra round trips), through `executemany`.
    """
    if not rows:
        return 0
    plan = _plan(model, connection.vendor)
    cache_: dict[tuple[str, Any], Any] = {}
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= _COPY_FROM:
            with cursor.cursor.copy(plan.copy) as copy:
                for row in rows:
                    copy.write_row(_row(plan, row, cache_, now))
        else:
            for start in range(0, len(rows), batch_size):
                cursor.executemany(plan.insert, [_row(plan, r, cache_, now) for r in rows[start : start + batch_size]])
    return len(rows)


def insert_one(model: type[models.Model], values: Mapping[str, Any]) -> int:
    """INSERT one row and return its primary key, without building and saving a model instance.

    Missing values take the field default; `auto_now` / `auto_now_add` fields get the current time.
    """
    plan = _plan(model, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(plan.returning, _row(plan, values, {}, timezone.now()))
        return cursor.fetchone()[0]
