"""Fast multi-row INSERT for the outbox.

Django's `bulk_create` prepares every value of every row through the field machinery, which costs
more than the write itself for tens of thousands of rows. Here each distinct value that needs
preparing (timestamps, JSON) is prepared once, plain values pass straight through, and the rows go
to the driver's `executemany` (psycopg 3 pipelines it; SQLite runs it in one statement loop).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models


def insert_rows(model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, batch_size: int = 5000) -> int:
    """Insert `rows` (dicts keyed by attname; missing keys take the field default) and return the count.

    Must be called inside a transaction. No primary keys are returned.
    """
    if not rows:
        return 0
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (names from the model, quoted)
        qn(model._meta.db_table), ", ".join(qn(f.column) for f in fields), ", ".join(["%s"] * len(fields))
    )
    cache: dict[tuple[str, Any], Any] = {}

    def prep(field: models.Field, value: Any) -> Any:
        if value is None or (isinstance(value, (int, str)) and not isinstance(value, bool)):
            return value
        key = (field.attname, id(value) if isinstance(value, (list, dict)) else value)
        try:
            return cache[key]
        except KeyError:
            cache[key] = prepared = field.get_db_prep_save(value, connection)
            return prepared

    defaults = {f.attname: f.get_default() for f in fields}

    def params(chunk: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        return [[prep(f, row[f.attname] if f.attname in row else defaults[f.attname]) for f in fields]
                for row in chunk]

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is several times faster than pipelined INSERTs on PostgreSQL.
            copy_sql = "COPY {} ({}) FROM STDIN".format(
                qn(model._meta.db_table), ", ".join(qn(f.column) for f in fields))
            with cursor.cursor.copy(copy_sql) as copy:
                for start in range(0, len(rows), batch_size):
                    for row in params(rows[start : start + batch_size]):
                        copy.write_row(row)
        else:
            for start in range(0, len(rows), batch_size):
                cursor.executemany(sql, params(rows[start : start + batch_size]))
    return len(rows)


def insert_one(model: type[models.Model], values: Mapping[str, Any]) -> int:
    """INSERT one row and return its primary key, without building and saving a model instance.

    For hot paths that write a row per SMS (MO intake, replies, audit entries): Django's `save()`
    compiles the INSERT anew each time, which costs several times the write itself. Missing values
    take the field default; `auto_now` / `auto_now_add` fields get the current time.
    """
    from django.utils import timezone

    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    now = None
    params = []
    for f in fields:
        if f.attname in values:
            value = values[f.attname]
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now = now or timezone.now()
        else:
            value = f.get_default()
        params.append(f.get_db_prep_save(value, connection))
    qn = connection.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({}) RETURNING {}".format(  # noqa: S608 (names from the model, quoted)
        qn(meta.db_table), ", ".join(qn(f.column) for f in fields), ", ".join(["%s"] * len(fields)),
        qn(meta.pk.column))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]
