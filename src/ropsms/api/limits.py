"""Per-client rate limit (token bucket, in process) and daily quota (counted in the database).

The rate limit protects this web process from a runaway client; it is kept in memory per process
(with N uvicorn workers a client gets up to N times its rate). The daily quota is a business limit,
so it is counted in the database, shared by every process and node, and checked by the outbox
itself through `register_quota_policy`: the REST API, Kannel and SMPP all pay from one purse.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ropsms.messaging.errors import SendError

_buckets: dict[int, tuple[float, float]] = {}  # client id -> (tokens, last refill)
_lock = threading.Lock()


def take_token(client_id: int, rate: int) -> float:
    """Take one request token; return 0 if allowed, else the seconds to wait (for Retry-After).

    Burst size equals one second's worth of requests (at least 1).
    """
    if rate <= 0:
        return 0.0
    now = time.monotonic()
    with _lock:
        tokens, last = _buckets.get(client_id, (float(rate), now))
        tokens = min(float(rate), tokens + (now - last) * rate)
        if tokens >= 1:
            _buckets[client_id] = (tokens - 1, now)
            return 0.0
        _buckets[client_id] = (tokens, now)
        return (1 - tokens) / rate


def reset_buckets() -> None:
    with _lock:
        _buckets.clear()
    _clients.clear()


def seconds_until_tomorrow(now: datetime | None = None) -> int:
    local = timezone.localtime(now or timezone.now())
    tomorrow = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, math.ceil((tomorrow - local).total_seconds()))


class QuotaExceeded(SendError):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, code="quota", field="")
        self.retry_after = retry_after


def quota_policy(producer: str, count: int) -> None:
    """Registered with the outbox: refuse a send that would take an API client over its daily quota."""
    if not producer.startswith("api:") or count <= 0:
        return
    client = _client_quota(producer[4:])
    if client is None:
        return
    day = timezone.localdate()
    quota = client.daily_quota
    if quota and count > quota:
        raise QuotaExceeded(f"This request has {count} messages but the daily quota is {quota}.",
                            retry_after=seconds_until_tomorrow())
    if _take(client.id, day, count, quota):
        return
    used = _used(client.id, day)
    raise QuotaExceeded(
        f"Daily quota reached: {used} of {quota} messages sent today; "
        f"{max(0, quota - used)} left, this request needs {count}.",
        retry_after=seconds_until_tomorrow())


# Plain SQL: this runs for every message sent through the API, and the ORM's update machinery
# costs more than the statement. The conditional UPDATE is atomic on SQLite and PostgreSQL alike.
_TAKE = "UPDATE api_dailyusage SET count = count + %s WHERE client_id = %s AND day = %s"


def _take(client_id: int, day, count: int, quota: int) -> bool:
    """Add `count` to today's usage unless that passes `quota` (0: no limit); True if taken."""
    from ropsms.api.models import DailyUsage

    sql, params = _TAKE, [count, client_id, day]
    if quota:
        sql, params = sql + " AND count <= %s", [*params, quota - count]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount:
            return True
    # No row for today yet, or the quota is spent: creating the row tells which.
    try:
        with transaction.atomic():
            DailyUsage.objects.create(client_id=client_id, day=day, count=count)
        return True
    except IntegrityError:  # the row exists (maybe created a moment ago by another request)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return bool(cursor.rowcount)


def _used(client_id: int, day) -> int:
    from ropsms.api.models import DailyUsage

    return DailyUsage.objects.filter(client_id=client_id, day=day).values_list("count", flat=True).first() or 0


_clients: dict[str, tuple[float, Any]] = {}


def _client_quota(slug: str):
    """The client's id and quota, remembered for a few seconds (read on every message sent)."""
    from ropsms.api.models import ApiClient

    now = time.monotonic()
    hit = _clients.get(slug)
    if hit and now - hit[0] < 5.0:
        return hit[1]
    client = ApiClient.objects.filter(slug=slug).only("id", "daily_quota").first()
    _clients[slug] = (now, client)
    return client
