"""Shared set-up for the gateway tests: the bundled simulator on a free port, a gateway in-process.

The gateway runs with `inline_db=True` because the test database (in-memory SQLite) cannot be
shared with another thread; the threaded path is exercised by the kill -9 test and the benchmark,
which run `ropsms gateway` as a real process on a SQLite file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.db import connections

from ropsms.messaging.models import Message
from ropsms.smpp.gateway.engine import Gateway, GatewayConfig
from ropsms.smpp.models import Bind, Operator, Route
from ropsms.smpp.simulator.smsc import Simulator


def make_operator(name: str, port: int, *, bind: str | None = None, prefix: str = "", priority: int = 0,
                  **bind_fields: Any) -> Bind:
    operator, _ = Operator.objects.get_or_create(name=name)
    Route.objects.get_or_create(prefix=prefix, operator=operator, defaults={"priority": priority})
    fields = {"host": "127.0.0.1", "port": port, "system_id": "ropsms", "password": "secret", "tps": 2000,
              "window": 32, "response_timeout_seconds": 3, "reconnect_min_seconds": 0.1,
              "reconnect_max_seconds": 0.5, "enquire_link_seconds": 5}
    fields.update(bind_fields)
    return Bind.objects.create(operator=operator, name=bind or name.lower(), **fields)


def simulator(**overrides: Any) -> Simulator:
    settings = {"port": 0, "web_port": None, "receipt_delay": 0.02, "seed": 7, "enquire_link_interval": 0}
    settings.update(overrides)
    return Simulator(**settings)


async def wait_until(predicate: Callable[[], bool], timeout: float = 15.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


def all_final(ids: list[int] | None = None) -> Callable[[], bool]:
    def check() -> bool:
        qs = Message.objects.all() if ids is None else Message.objects.filter(pk__in=ids)
        return not qs.exclude(state__in=["delivered", "undeliverable", "expired", "rejected", "failed"]).exists()
    return check


async def with_gateway(body: Callable[[Gateway], Awaitable[Any]], **config: Any) -> Gateway:
    settings = {"inline_db": True, "poll_interval": 0.01, "bind_lease_seconds": 3.0, "status_interval": 60.0,
                "retry_backoff": 0.05, "drain_timeout": 3.0}
    settings.update(config)
    gateway = Gateway(GatewayConfig(**settings))
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    try:
        await body(gateway)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    return gateway


async def until_all_final(sim: Simulator, timeout: float = 15.0, **config: Any) -> Gateway:
    """Run a gateway until every message is final (asserted), then stop the simulator."""

    async def body(gw: Gateway) -> None:
        assert await wait_until(all_final(), timeout=timeout), "not every message reached a final state"

    gateway = await with_gateway(body, **config)
    await sim.stop()
    return gateway


async def wait_bound(gateway: Gateway, count: int = 1, timeout: float = 10.0) -> bool:
    return await wait_until(lambda: sum(1 for r in gateway.runners.values() if r.up) >= count, timeout)


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    """asyncio.run(main()) on the test's own database connection (the in-memory test database
    cannot be opened a second time without locking against the test's transaction)."""
    conn = connections["default"]

    async def wrapper() -> Any:
        connections["default"] = conn
        return await main()

    return asyncio.run(wrapper())
