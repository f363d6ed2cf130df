"""The gateway's only door to the database: claim messages, write results, match receipts.

Everything here is synchronous and meant to run on the gateway's one database thread (the
asyncio side never touches the ORM). Hot paths use plain SQL through Django's connection:

* `claim()`   one statement moves due `queued` rows to `sending` with a lease and returns them;
              PostgreSQL adds `FOR UPDATE SKIP LOCKED` so several gateway nodes share one outbox.
* `apply()`   one transaction for a batch of results (submitted, final states, retries, part
              states, receipts to resolve from the database), written with `executemany`.
* leases      `renew_message_leases()`, `requeue_expired_leases()`, `acquire_binds()`.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ropsms.messaging.models import Message, State
from ropsms.smpp.models import BindLease, GatewayStatus, MessagePart, PendingReceipt

log = logging.getLogger(__name__)

MSG = Message._meta.db_table
PART = MessagePart._meta.db_table
PENDING = PendingReceipt._meta.db_table

# Best first: a concatenated message takes the worst state among its parts.
STATE_RANK = {State.DELIVERED.value: 0, State.EXPIRED.value: 1, State.UNDELIVERABLE.value: 2,
              State.REJECTED.value: 3}
RECEIPT_FINAL = frozenset(STATE_RANK)
OPEN_STATES = (State.QUEUED.value, State.SENDING.value, State.SUBMITTED.value)


def worst(states: Iterable[str]) -> str:
    return max(states, key=lambda s: STATE_RANK.get(s, 3))


def _db_time(value: datetime) -> Any:
    """A datetime as the backend stores it (SQLite: naive UTC text; PostgreSQL: aware)."""
    if connection.vendor == "sqlite" and value.tzinfo is not None:
        # What Django's adapt_datetimefield_value produces, without its per-call overhead (hot path).
        if value.utcoffset():
            value = value.astimezone(UTC)
        return str(value.replace(tzinfo=None))
    return connection.ops.adapt_datetimefield_value(value)


def _py_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_datetime(str(value))
    if parsed is None:  # pragma: no cover - the column is never empty
        raise ValueError(f"unreadable timestamp {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(slots=True)
class Claimed:
    """A message the gateway now holds a lease on."""

    id: int
    to: str
    source: str
    encoding: str
    parts: list[str]
    priority: int
    valid_until: datetime
    attempts: int  # including this one


@dataclass(slots=True)
class ClaimResult:
    messages: list[Claimed] = field(default_factory=list)
    expired: int = 0
    exhausted: int = 0


def release_scheduled(now: datetime) -> int:
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {MSG} SET state=%s, queued_at=%s WHERE state=%s AND due_at<=%s",  # noqa: S608
                    [State.QUEUED.value, _db_time(now), State.SCHEDULED.value, _db_time(now)])
        return cur.rowcount


def requeue_expired_leases(now: datetime) -> int:
    """Claims whose owner stopped renewing (a crashed node) go back to the queue."""
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {MSG} SET state=%s, lease_owner='', lease_until=NULL "  # noqa: S608
                    "WHERE state=%s AND lease_until<%s",
                    [State.QUEUED.value, State.SENDING.value, _db_time(now)])
        return cur.rowcount


def expire_unanswered(*, grace: timedelta = timedelta(hours=1), now: datetime | None = None) -> int:
    """Submitted messages whose receipt never came, long after their validity: `expired`, said why."""
    now = now or timezone.now()
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {MSG} SET state=%s, done_at=%s, error_code=%s, error_text=%s "  # noqa: S608
                    "WHERE state=%s AND valid_until<%s",
                    [State.EXPIRED.value, _db_time(now), "no_receipt",
                     "No delivery receipt came from the operator before the validity period ended.",
                     State.SUBMITTED.value, _db_time(now - grace)])
        return cur.rowcount


def requeue_stale_claims(*, node: str, owner: str, mine: str | None = None) -> int:
    """At start-up: claims of an earlier process of this node (killed, crashed) go back to the queue
    now rather than when their lease runs out (`owner` is this process, spared). At exit, `mine`
    returns this process's own claims."""
    with connection.cursor() as cur:
        if mine is not None:
            cur.execute(f"UPDATE {MSG} SET state=%s, lease_owner='', lease_until=NULL "  # noqa: S608
                        "WHERE state=%s AND lease_owner=%s", [State.QUEUED.value, State.SENDING.value, mine])
        else:
            cur.execute(f"UPDATE {MSG} SET state=%s, lease_owner='', lease_until=NULL "  # noqa: S608
                        "WHERE state=%s AND lease_owner LIKE %s AND lease_owner<>%s",
                        [State.QUEUED.value, State.SENDING.value, node.replace("%", "_") + "/%", owner])
        return cur.rowcount


def renew_message_leases(*, owner: str, lease_seconds: float, now: datetime | None = None) -> int:
    now = now or timezone.now()
    with connection.cursor() as cur:
        cur.execute(f"UPDATE {MSG} SET lease_until=%s WHERE state=%s AND lease_owner=%s",  # noqa: S608
                    [_db_time(now + timedelta(seconds=lease_seconds)), State.SENDING.value, owner])
        return cur.rowcount


def claim(*, owner: str, limit: int, lease_seconds: float = 60.0, max_attempts: int = 5,
          now: datetime | None = None) -> ClaimResult:
    """Lease up to `limit` due messages, most urgent first, and return the sendable ones.

    Claimed messages past `valid_until` are set `expired`; those claimed more than
    `max_attempts` times (e.g. a message that crashed its gateway repeatedly) are set `failed`.
    """
    now = now or timezone.now()
    result = ClaimResult()
    if limit <= 0:
        return result
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = (
        f"UPDATE {MSG} SET state=%s, lease_owner=%s, lease_until=%s, sending_at=%s, "  # noqa: S608
        "attempts=attempts+1 "
        f"WHERE id IN (SELECT id FROM {MSG} WHERE state=%s AND due_at<=%s "
        f"ORDER BY priority, due_at, id LIMIT %s{lock}) "
        'RETURNING id, "to", source, encoding, parts, priority, valid_until, attempts, due_at'
    )
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, [State.SENDING.value, owner, _db_time(now + timedelta(seconds=lease_seconds)),
                          _db_time(now), State.QUEUED.value, _db_time(now), int(limit)])
        rows = cur.fetchall()
        expired, exhausted = [], []
        for mid, to, source, enc, parts, priority, valid_until, attempts, _due_at in sorted(
                rows, key=lambda r: (r[5], str(r[8]), r[0])):
            valid_until = _py_time(valid_until)
            if valid_until <= now:
                expired.append(mid)
                continue
            if attempts > max_attempts:
                exhausted.append(mid)
                continue
            if isinstance(parts, str):
                parts = json.loads(parts)
            result.messages.append(Claimed(mid, to, source, enc, parts, priority, valid_until, attempts))
        stamp = _db_time(now)
        if expired:
            cur.executemany(
                f"UPDATE {MSG} SET state=%s, done_at=%s, error_code=%s, error_text=%s, lease_owner='', "  # noqa: S608
                "lease_until=NULL WHERE id=%s",
                [(State.EXPIRED.value, stamp, "validity",
                  "Not sent: its validity period ended before it could leave.", mid) for mid in expired])
        if exhausted:
            cur.executemany(
                f"UPDATE {MSG} SET state=%s, done_at=%s, error_code=%s, error_text=%s, lease_owner='', "  # noqa: S608
                "lease_until=NULL WHERE id=%s",
                [(State.FAILED.value, stamp, "attempts",
                  f"Gave up after {max_attempts} attempts.", mid) for mid in exhausted])
    result.expired, result.exhausted = len(expired), len(exhausted)
    return result


# --- batched writes --------------------------------------------------------------------------

@dataclass(slots=True)
class Submitted:
    """Every part of a message was accepted by the SMSC."""

    message_id: int
    at: datetime
    bind: str
    operator: str
    parts: list[tuple[int, str, str]]  # (index, normalised id, raw id)


@dataclass(slots=True)
class Final:
    """A message reached a final state (from a receipt, a rejection, or giving up)."""

    message_id: int
    state: str
    at: datetime
    error_code: str = ""
    error_text: str = ""


@dataclass(slots=True)
class Retry:
    """Give the message back to the queue (transient error, no bind up, shutting down)."""

    message_id: int
    due_at: datetime
    error_code: str = ""
    error_text: str = ""
    count_attempt: bool = True


@dataclass(slots=True)
class PartState:
    """A receipt for one part of a concatenated message that is not final yet."""

    operator: str
    op_id: str
    state: str


@dataclass(slots=True)
class Receipt:
    """A receipt the gateway could not match in memory: resolve it against `MessagePart`."""

    operator: str
    variants: tuple[str, ...]
    state: str
    error_code: str
    at: datetime


@dataclass(slots=True)
class ApplyResult:
    finals: int = 0
    receipts_matched: int = 0
    receipts_pending: int = 0
    # Message ids now final, so the caller can forget them.
    done: list[int] = field(default_factory=list)


def apply(ops: Sequence[Any], *, owner: str) -> ApplyResult:
    """Write one batch of results in a single transaction (order of kinds is fixed, see below)."""
    submitted = [op for op in ops if type(op) is Submitted]
    finals = [op for op in ops if type(op) is Final]
    retries = [op for op in ops if type(op) is Retry]
    part_states = [op for op in ops if type(op) is PartState]
    receipts = [op for op in ops if type(op) is Receipt]
    out = ApplyResult()
    with transaction.atomic(), connection.cursor() as cur:
        if submitted:
            _update_many(cur, "state=%s, submitted_at=v.at, route=v.route, operator_message_id=v.opid, "
                         "lease_owner='', lease_until=NULL, error_code='', error_text=''",
                         [State.SUBMITTED.value], "m.state IN (%s, %s)", [State.SENDING.value, State.QUEUED.value],
                         ("id", "at", "route", "opid"), ("bigint", "timestamptz", "text", "text"),
                         [(op.message_id, _db_time(op.at), op.bind, op.parts[0][2][:65]) for op in submitted])
            part_rows = [(op.message_id, idx, op.operator, norm[:65], raw[:65], op.bind, "", _db_time(op.at))
                         for op in submitted for idx, norm, raw in op.parts]
            columns = f"message_id, {connection.ops.quote_name('index')}, operator, op_id, raw_id, bind, state, " \
                      "submitted_at"
            if connection.vendor == "postgresql":
                cur.execute(f"INSERT INTO {PART} ({columns}) SELECT * FROM unnest(%s::bigint[], "  # noqa: S608
                            "%s::smallint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
                            "%s::timestamptz[])", [list(col) for col in zip(*part_rows, strict=True)])
            else:
                cur.executemany(f"INSERT INTO {PART} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                                part_rows)
            receipts.extend(_take_pending(cur, {(r[2], r[3]) for r in part_rows}))
        if part_states:
            cur.executemany(f"UPDATE {PART} SET state=%s WHERE op_id=%s AND operator=%s",  # noqa: S608
                            [(op.state, op.op_id, op.operator) for op in part_states])
        if finals:
            _update_many(cur, "state=v.state, done_at=v.at, error_code=v.code, error_text=v.text, lease_owner='', "
                         "lease_until=NULL", [], "m.state IN (%s, %s, %s)", list(OPEN_STATES),
                         ("id", "state", "at", "code", "text"), ("bigint", "text", "timestamptz", "text", "text"),
                         [(op.message_id, op.state, _db_time(op.at), op.error_code[:32], op.error_text[:300])
                          for op in finals])
            out.finals += len(finals)
            out.done.extend(op.message_id for op in finals)
        if retries:
            cur.executemany(
                f"UPDATE {MSG} SET state=%s, due_at=%s, error_code=%s, error_text=%s, lease_owner='', "  # noqa: S608
                "lease_until=NULL, attempts=attempts-%s WHERE id=%s AND state=%s AND lease_owner=%s",
                [(State.QUEUED.value, _db_time(op.due_at), op.error_code[:32], op.error_text[:300],
                  0 if op.count_attempt else 1, op.message_id, State.SENDING.value, owner) for op in retries])
        for receipt in receipts:
            _resolve_receipt(cur, receipt, out)
    return out


def _update_many(cur, assignments: str, assign_params: list, condition: str, condition_params: list,
                 names: tuple[str, ...], pg_types: tuple[str, ...], rows: list[tuple]) -> None:
    """UPDATE messages by id with per-row values `v.<name>`.

    PostgreSQL: one `UPDATE ... FROM unnest(arrays)` (a round trip per row is what costs there).
    SQLite: `executemany` of the per-row statement, which is cheapest in-process.
    """
    if connection.vendor == "postgresql":
        # One statement per batch with one array per column: a short query text psycopg parses once.
        arrays = ", ".join(f"%s::{t}[]" for t in pg_types)
        cur.execute(f"UPDATE {MSG} AS m SET {assignments} FROM unnest({arrays}) "  # noqa: S608
                    f"AS v({', '.join(names)}) WHERE m.id = v.id AND {condition}",
                    [*assign_params, *(list(col) for col in zip(*rows, strict=True)), *condition_params])
        return
    # SQLite: the same statement per row, v.<name> becoming a placeholder (textual order kept).
    tokens = re.findall(r"%s|v\.\w+", assignments)
    sets = re.sub(r"v\.\w+", "%s", assignments)
    sql = f"UPDATE {MSG} SET {sets} WHERE id=%s AND {condition.replace('m.', '')}"  # noqa: S608
    params = []
    for row in rows:
        literal = iter(assign_params)
        values = [next(literal) if piece == "%s" else row[names.index(piece[2:])] for piece in tokens]
        params.append((*values, row[0], *condition_params))
    cur.executemany(sql, params)


def _take_pending(cur, keys: set[tuple[str, str]]) -> list[Receipt]:
    """Receipts stored before their part was known, now matchable: remove and return them.

    A pending receipt may have written the id in the other base, so every reading is looked up.
    """
    if not keys:
        return []
    cur.execute(f"SELECT 1 FROM {PENDING} LIMIT 1")  # noqa: S608 - usually empty: one cheap look
    if cur.fetchone() is None:
        return []
    from ropsms.smpp.gateway.ids import variants

    wanted: dict[tuple[str, str], str] = {}  # (operator, a reading) -> the part's normalised id
    for operator, op_id in keys:
        for reading in variants(op_id):
            wanted.setdefault((operator, reading), op_id)
    ids = sorted({reading for _, reading in wanted})
    found: list[Receipt] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        cur.execute(f"SELECT id, operator, op_id, state, error_code, received_at FROM {PENDING} "  # noqa: S608
                    f"WHERE op_id IN ({', '.join(['%s'] * len(chunk))})", chunk)
        for pk, operator, op_id, state, code, at in cur.fetchall():
            part_id = wanted.get((operator, op_id))
            if part_id is not None:
                cur.execute(f"DELETE FROM {PENDING} WHERE id=%s", [pk])  # noqa: S608
                found.append(Receipt(operator, (part_id,), state, code, _py_time(at)))
    return found


def _resolve_receipt(cur, receipt: Receipt, out: ApplyResult) -> None:
    """Match a receipt to its part by id (trying each reading), then finish the message if all parts are."""
    row = None
    for candidate in receipt.variants:
        cur.execute(f"SELECT id, message_id FROM {PART} WHERE op_id=%s AND operator=%s "  # noqa: S608
                    "ORDER BY id DESC LIMIT 1", [candidate, receipt.operator])
        row = cur.fetchone()
        if row:
            break
    if row is None:
        cur.execute(f"INSERT INTO {PENDING} (operator, op_id, state, error_code, received_at) "  # noqa: S608
                    "VALUES (%s, %s, %s, %s, %s)",
                    [receipt.operator, receipt.variants[0], receipt.state, receipt.error_code[:32],
                     _db_time(receipt.at)])
        out.receipts_pending += 1
        return
    part_pk, message_id = row
    out.receipts_matched += 1
    cur.execute(f"UPDATE {PART} SET state=%s WHERE id=%s", [receipt.state, part_pk])  # noqa: S608
    cur.execute(f'SELECT parts_count FROM {MSG} WHERE id=%s', [message_id])  # noqa: S608
    msg = cur.fetchone()
    if msg is None:
        return
    cur.execute(f'SELECT {connection.ops.quote_name("index")}, state FROM {PART} WHERE message_id=%s',  # noqa: S608
                [message_id])
    by_index: dict[int, list[str]] = defaultdict(list)
    for idx, state in cur.fetchall():
        if state:
            by_index[idx].append(state)
    if len(by_index) < msg[0]:
        return
    # A part re-sent after a crash may have two rows: it arrived if either copy did.
    state = worst(min(states, key=lambda s: STATE_RANK.get(s, 3)) for states in by_index.values())
    code = "" if state == State.DELIVERED.value else receipt.error_code
    text = "" if state == State.DELIVERED.value else f"Receipt from the operator: {state} (error {code or '-'})."
    cur.execute(f"UPDATE {MSG} SET state=%s, done_at=%s, error_code=%s, error_text=%s, lease_owner='', "  # noqa: S608
                "lease_until=NULL WHERE id=%s AND state IN (%s, %s, %s)",
                [state, _db_time(receipt.at), code[:32], text[:300], message_id, *OPEN_STATES])
    if cur.rowcount:
        out.finals += 1
        out.done.append(message_id)


def purge_pending_receipts(*, older_than: timedelta = timedelta(days=3)) -> int:
    return PendingReceipt.objects.filter(received_at__lt=timezone.now() - older_than).delete()[0]


# --- bind ownership --------------------------------------------------------------------------

def acquire_binds(*, owner: str, bind_ids: Iterable[int], lease_seconds: float,
                  now: datetime | None = None) -> set[int]:
    """Take or renew the lease of each bind that is free, expired or already ours; return those held."""
    now = now or timezone.now()
    until = now + timedelta(seconds=lease_seconds)
    held: set[int] = set()
    for bind_id in bind_ids:
        BindLease.objects.get_or_create(bind_id=bind_id, defaults={"owner": "", "until": None})
        with transaction.atomic():
            from django.db.models import Q

            n = (BindLease.objects.filter(bind_id=bind_id)
                 .filter(Q(owner=owner) | Q(owner="") | Q(until__isnull=True) | Q(until__lt=now))
                 .update(owner=owner, until=until))
        if n:
            held.add(bind_id)
    return held


def release_binds(*, owner: str, bind_ids: Iterable[int] | None = None) -> int:
    qs = BindLease.objects.filter(owner=owner)
    if bind_ids is not None:
        qs = qs.filter(bind_id__in=list(bind_ids))
    return qs.update(owner="", until=None)


def write_status(*, node: str, rows: dict[str, tuple[bool, dict]]) -> None:
    now = timezone.now()
    for bind, (connected, counters) in rows.items():
        GatewayStatus.objects.update_or_create(
            node=node, bind=bind, defaults={"connected": connected, "counters": counters, "updated_at": now})
