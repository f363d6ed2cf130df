"""The gateway process: drain the outbox over SMPP binds, apply receipts, hand MO to the app.

Shape (one asyncio loop, one database thread, a small pool of MO worker processes):

    claim loop --(Claimed)--> route --> BindRunner queue --> token bucket --> window --> submit_sm
    Link reader --> Session --> SubmitResult / ReceiptIn / MoIn --> Writer (batched SQL) | MO thread

Invariants: a message claimed by this node is in `holding` until exactly one of Submitted, Final
or Retry was handed to the writer (then `done`), so nothing is lost and nothing answered twice;
on shutdown whatever is still held goes back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import multiprocessing
import os
import random
import socket
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from django.db import close_old_connections, connections

from ropsms.messaging import encoding
from ropsms.ops.audit import mask
from ropsms.smpp import outbox
from ropsms.smpp.gateway import mo_worker
from ropsms.smpp.gateway.correlate import Ack, Correlator
from ropsms.smpp.gateway.ids import normalise
from ropsms.smpp.gateway.link import Link
from ropsms.smpp.gateway.mo import MoAssembler, MoMessage
from ropsms.smpp.gateway.routing import Router
from ropsms.smpp.gateway.session import (
    BindFailed,
    Bound,
    MoIn,
    PeerError,
    ReceiptIn,
    Session,
    SubmitLost,
    SubmitResult,
    classify,
    status_code,
)
from ropsms.smpp.gateway.throttle import TokenBucket
from ropsms.smpp.pdu import concat_udh, encode

log = logging.getLogger("ropsms.smpp.gateway")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class GatewayConfig:
    # Stable per host, so a restarted gateway takes its binds back at once (two gateways on one
    # host need different names). Message leases add the process id: see Gateway.owner.
    node: str = field(default_factory=socket.gethostname)
    poll_interval: float = 0.02       # seconds between outbox polls when idle
    claim_batch: int = 1000
    lease_seconds: float = 60.0       # message lease; renewed while held
    bind_lease_seconds: float = 15.0  # bind ownership lease; renewed every third of it
    flush_interval: float = 0.005     # writer: flush pending results this often...
    flush_max: int = 2000             # ...or when this many are waiting
    max_attempts: int = 5             # claims of one message (crash loops end here)
    max_retries: int = 3              # transient errors / timeouts within one claim
    max_throttled: int = 200          # throttle answers for one part before giving up
    drain_timeout: float = 10.0       # on shutdown, wait this long for outstanding responses
    early_receipt_seconds: float = 10.0
    status_interval: float = 5.0
    log_interval: float = 30.0
    status_file: Path | None = None
    binds: list[str] | None = None    # only these bind names (default: every enabled bind)
    retry_backoff: float = 1.0        # first transient retry delay (doubles, with jitter)
    # Tests on the in-memory SQLite test database: run database calls and MO handling inline on the
    # loop's thread (that database cannot be shared with other threads). Never in production.
    inline_db: bool = False
    # MO handling runs in this many worker processes (the engine's CPU then does not slow the links);
    # 0 runs it on two threads of the gateway process instead; -1 picks by database: one on SQLite
    # (its writers queue on one lock; measured at 200 MO/s: p99 15-22 ms with one, 32 ms with two),
    # two on PostgreSQL.
    mo_processes: int = -1


@dataclass(frozen=True)
class BindConfig:
    id: int
    name: str
    operator: str
    mode: str
    host: str
    port: int
    tls: bool
    system_id: str
    password: str = field(repr=False)
    system_type: str
    address_range: str
    sources: tuple[str, ...]
    tps: int
    window: int
    enquire_link: float
    response_timeout: float
    backoff_min: float
    backoff_max: float
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_server_name: str = ""

    @classmethod
    def from_model(cls, b: Any) -> BindConfig:
        return cls(b.id, b.name, b.operator.name, b.mode, b.host, b.port, b.tls, b.system_id, b.password,
                   b.system_type, b.address_range,
                   tuple(s.strip() for s in b.source_addresses.split(",") if s.strip()), b.tps, b.window,
                   float(b.enquire_link_seconds), float(b.response_timeout_seconds),
                   b.reconnect_min_seconds, b.reconnect_max_seconds, b.tls_ca_file, b.tls_cert_file,
                   b.tls_key_file, b.tls_server_name)


def load_binds(names: list[str] | None = None) -> list[BindConfig]:
    from ropsms.smpp.models import Bind

    qs = Bind.objects.filter(enabled=True, operator__enabled=True).select_related("operator")
    if names:
        qs = qs.filter(name__in=names)
    return [BindConfig.from_model(b) for b in qs]


def source_address(source: str) -> tuple[int, int, str]:
    """(ton, npi, address): alphanumeric sender, short code, or international number."""
    digits = source.lstrip("+")
    if not digits.isdigit():
        return 5, 0, source
    if len(digits) <= 8:
        return 3, 0, digits
    return 1, 1, digits


@lru_cache(maxsize=1024)
def validity_period(until: datetime) -> str:
    """SMPP absolute time in UTC: YYMMDDhhmmsstnnp (cached: a bulk send shares one validity)."""
    return until.astimezone(UTC).strftime("%y%m%d%H%M%S") + "000+"


@lru_cache(maxsize=4096)
def encode_part(text: str, enc: str) -> bytes:
    """The octets of one part (cached: the GSM codec is slow and bulk sends repeat their text)."""
    return encoding.encode(text, enc)


class OutMsg:
    """A claimed message while this node holds it."""

    __slots__ = ("c", "coding", "done", "esm", "ids", "payloads", "ref", "retries", "runner", "throttles")

    def __init__(self, claimed: outbox.Claimed) -> None:
        self.c = claimed
        self.payloads: list[bytes] = []
        self.ids: list[str | None] = [None] * len(claimed.parts)
        self.retries = 0
        self.throttles = 0
        self.done = False
        self.runner: BindRunner | None = None
        self.ref = 0
        self.esm = 0
        self.coding = encoding.DATA_CODING.get(claimed.encoding, 0)

    def prepare(self, ref: int) -> None:
        if self.payloads:
            return
        self.ref = ref
        enc = self.c.encoding
        parts = self.c.parts or [""]
        if len(parts) == 1:
            self.payloads = [encode_part(parts[0], enc)]
        else:
            self.esm = 0x40
            total = len(parts)
            self.payloads = [concat_udh(ref, total, i + 1) + encode_part(p, enc) for i, p in enumerate(parts)]

    @property
    def accepted_any(self) -> bool:
        return any(i is not None for i in self.ids)


class Db:
    """The gateway's one database thread: the ORM is synchronous, the event loop must not wait on it."""

    def __init__(self, *, inline: bool = False) -> None:
        self.inline = inline
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-db")
        # PostgreSQL: claims get their own thread and connection, so they never queue behind a
        # batch of writes. SQLite has one writer at a time anyway: one thread does both.
        self._claims = self._pool
        if not inline and connections["default"].vendor == "postgresql":
            self._claims = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-claim")

    async def call(self, fn, *args, lane: str = "write", **kwargs):
        if self.inline:
            return fn(*args, **kwargs)
        pool = self._claims if lane == "claim" else self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, partial(self._run, fn, *args, **kwargs))

    @staticmethod
    def _run(fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:
            close_old_connections()
            raise

    def close(self) -> None:
        for pool in {self._pool, self._claims}:
            if not self.inline:
                pool.submit(connections.close_all).result()
            pool.shutdown(wait=True)


class Writer:
    """Collects results and writes them in one transaction every few milliseconds."""

    def __init__(self, db: Db, owner: str, interval: float, max_items: int) -> None:
        self.db, self.owner, self.interval, self.max_items = db, owner, interval, max_items
        self._ops: list = []
        self._acks: list[Ack] = []  # sent once everything added before them is committed
        self._kick = asyncio.Event()
        self.flushes = 0
        self.written = 0
        self.finals = 0

    def add(self, op: Any) -> None:
        if type(op) is Ack:
            self._acks.append(op)
            return
        self._ops.append(op)
        if len(self._ops) >= self.max_items:
            self._kick.set()

    def extend(self, ops: list) -> None:
        for op in ops:
            self.add(op)

    @property
    def pending(self) -> int:
        return len(self._ops)

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self.interval)
            self._kick.clear()
            await self.flush()

    async def flush(self, *, attempts: int = 1000) -> None:
        while (self._ops or self._acks) and attempts > 0:
            ops, self._ops = self._ops, []
            acks, self._acks = self._acks, []
            if ops:
                try:
                    result = await self.db.call(outbox.apply, ops, owner=self.owner)
                except Exception:
                    attempts -= 1
                    log.exception("writing %d results failed; retrying", len(ops))
                    self._ops = ops + self._ops
                    self._acks = acks + self._acks
                    await asyncio.sleep(0.5)
                    continue
                self.flushes += 1
                self.written += len(ops)
                self.finals += result.finals
            for ack in acks:
                try:
                    ack.send()
                except Exception:
                    log.exception("sending a deliver_sm_resp failed")


class BindRunner:
    """One bind: its link(s), send queue, token bucket and counters."""

    def __init__(self, gw: Gateway, cfg: BindConfig) -> None:
        self.gw, self.cfg = gw, cfg
        self.name, self.operator = cfg.name, cfg.operator
        self.queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
        self._seq = itertools.count()
        self.bucket = TokenBucket(cfg.tps, now=time.monotonic())
        self.counters: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._refs = itertools.cycle(range(1, 256))
        self.parked: list = []  # jobs of partly accepted messages waiting for this bind to come back
        modes = {"trx": ["trx"], "tx": ["tx"], "rx": ["rx"], "pair": ["tx", "rx"]}[cfg.mode]
        self.links = [Link(name=cfg.name, mode=m, host=cfg.host, port=cfg.port, tls=cfg.tls,
                           make_session=self._session, on_event=self._on_event, on_down=self._on_down,
                           on_reconnect=self._on_reconnect, backoff_min=cfg.backoff_min,
                           backoff_max=cfg.backoff_max, connect_timeout=cfg.response_timeout,
                           tls_ca_file=cfg.tls_ca_file, tls_cert_file=cfg.tls_cert_file,
                           tls_key_file=cfg.tls_key_file, tls_server_name=cfg.tls_server_name) for m in modes]
        self.tx = next((link for link in self.links if link.mode in ("trx", "tx")), None)
        self._sender: asyncio.Task | None = None
        self.stopping = False

    def _session(self, mode: str) -> Session:
        c = self.cfg
        return Session(mode=mode, system_id=c.system_id, password=c.password, system_type=c.system_type,
                       address_range=c.address_range, window=c.window, enquire_interval=c.enquire_link,
                       response_timeout=c.response_timeout)

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        for link in self.links:
            link.start()
        if self.tx is not None:
            self._sender = asyncio.create_task(self._send_loop(), name=f"sender {self.name}")

    @property
    def up(self) -> bool:
        return not self.stopping and self.tx is not None and self.tx.bound

    @property
    def in_flight(self) -> int:
        return self.tx.session.in_flight if self.tx is not None and self.tx.session is not None else 0

    @property
    def capacity(self) -> int:
        target = max(2 * self.cfg.window, min(self.cfg.tps, 4000))
        return max(0, target - self.queue.qsize() - self.in_flight)

    def allows(self, source: str) -> bool:
        return not self.cfg.sources or source in self.cfg.sources

    def put(self, msg: OutMsg, indices: list[int]) -> None:
        msg.runner = self
        msg.prepare(next(self._refs))
        self.queue.put_nowait((msg.c.priority, next(self._seq), msg, indices))

    def take_queue(self) -> list[tuple[OutMsg, list[int]]]:
        jobs = []
        while not self.queue.empty():
            _, _, msg, indices = self.queue.get_nowait()
            jobs.append((msg, indices))
        return jobs

    async def stop_sending(self) -> None:
        self.stopping = True
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sender

    async def close(self) -> None:
        for link in self.links:
            await link.close()

    # --- sending -------------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        while True:
            _, _, msg, indices = await self.queue.get()
            if msg.done:
                continue
            for pos, idx in enumerate(indices):
                while (delay := self.bucket.delay(time.monotonic())) > 0:
                    await asyncio.sleep(delay)
                while not (self.up and self.tx.session.window_free):
                    if not self.up:
                        break
                    self._wake.clear()
                    await self._wake.wait()
                if not self.up:
                    self.gw.reroute(msg, indices[pos:], exclude=self)
                    break
                if msg.done:
                    break
                self._submit(msg, idx)
            if self.tx is not None and self.tx._writer is not None and \
                    self.tx._writer.transport.get_write_buffer_size() > 1 << 20:
                await self.tx.drain()

    def _submit(self, msg: OutMsg, idx: int) -> None:
        c = msg.c
        ton, npi, src = source_address(c.source)
        params = {"source_addr_ton": ton, "source_addr_npi": npi, "source_addr": src,
                  "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": c.to.lstrip("+"),
                  "esm_class": msg.esm, "registered_delivery": 1, "data_coding": msg.coding,
                  "validity_period": validity_period(c.valid_until), "short_message": msg.payloads[idx]}
        session = self.tx.session
        self.tx.send_soon(encode(session.submit((msg, idx), params, None, time.monotonic())))
        self.counters["submit_sm"] += 1

    def requeue(self, msg: OutMsg, indices: list[int]) -> None:
        if msg.done:
            return
        if self.stopping:
            self.gw.release(msg, "shutting down", count_attempt=False)
            return
        if self.up:
            self.put(msg, indices)
        else:
            self.gw.reroute(msg, indices, exclude=self)

    # --- events from the links -----------------------------------------------------------------
    def _on_event(self, link: Link, event: Any) -> None:
        kind = type(event)
        if kind is SubmitResult:
            self._on_result(event)
            self._wake.set()
        elif kind is ReceiptIn:
            self.counters["receipts"] += 1
            self.gw.on_receipt(self, event, self._ack_for(link, event.ack))
        elif kind is MoIn:
            self.counters["mo"] += 1
            self.gw.on_mo(self, event.pdu, self._ack_for(link, event.ack))
        elif kind is SubmitLost:
            self.counters["timeouts" if event.reason == "timeout" else "lost"] += 1
            msg, idx = event.ref
            if event.reason == "timeout":
                self.gw.transient(msg, idx, "timeout", "No answer from the SMSC in time.", self)
            self._wake.set()
        elif kind is Bound:
            self.counters["binds"] += 1
            log.info("bind %s/%s: bound to %s:%s", self.name, link.mode, self.cfg.host, self.cfg.port)
            parked, self.parked = self.parked, []
            for msg, indices in parked:
                self.requeue(msg, indices)
            self._wake.set()
        elif kind is BindFailed:
            self.counters["bind_failed"] += 1
            log.error("bind %s/%s: the SMSC refused the bind (%s): check system_id/password",
                      self.name, link.mode, status_code(event.status))
        elif kind is PeerError:
            self.counters["peer_errors"] += 1
            log.warning("bind %s/%s: %s", self.name, link.mode, event.reason)

    @staticmethod
    def _ack_for(link: Link, pdu: Any) -> Ack | None:
        """The deliver_sm_resp, sent later and only on the connection that carried the deliver_sm
        (after a reconnect the SMSC delivers it again, and duplicates change nothing)."""
        if pdu is None:
            return None
        session = link.session
        data = encode(pdu)

        def send() -> None:
            if link.session is session:
                link.send_soon(data)

        return Ack(send)

    def _on_result(self, ev: SubmitResult) -> None:
        msg, idx = ev.ref
        kind = classify(ev.status)
        if kind == "ok":
            self.counters["resp_ok"] += 1
            if not msg.done:
                self.gw.accepted(msg, idx, ev.message_id, self)
            return
        self.counters["resp_err"] += 1
        code = status_code(ev.status)
        if msg.done:
            return
        if kind == "throttle":
            self.counters["throttled"] += 1
            self.bucket.penalise(time.monotonic())
            msg.throttles += 1
            if msg.throttles > self.gw.config.max_throttled:
                self.gw.finish(msg, "failed", code, f"The operator kept throttling ({code}).")
                return
            asyncio.get_running_loop().call_later(0.2 + random.random() * 0.3,
                                                  self.requeue, msg, [idx])
        elif kind == "transient":
            self.gw.transient(msg, idx, code, f"Temporary error from the operator ({code}).", self)
        else:
            self.gw.finish(msg, "rejected", code, f"Refused by the operator ({code}).")

    def _on_down(self, link: Link, lost: list) -> None:
        if link is not self.tx:
            return
        self._wake.set()
        for event in lost:
            msg, idx = event.ref
            self.counters["lost"] += 1
            if not msg.done:
                self.gw.reroute(msg, [idx], exclude=self)
        for msg, indices in self.take_queue():
            if not msg.done:
                self.gw.reroute(msg, indices, exclude=self)

    def _on_reconnect(self, link: Link) -> None:
        self.counters["reconnects"] += 1

    def status(self) -> dict:
        data = dict(self.counters)
        data.update(queued=self.queue.qsize(), in_flight=self.in_flight, tps=self.cfg.tps,
                    rate_now=round(self.bucket.current_rate, 1), up=self.up,
                    links={link.mode: link.bound for link in self.links})
        errors = [link for link in self.links if link.last_error_at is not None]
        if errors:  # the latest reason a link of this bind went down: TLS, credentials, network...
            last = max(errors, key=lambda link: link.last_error_at)
            data.update(last_error=f"{last.mode}: {last.last_error}", last_error_at=last.last_error_at.isoformat())
        return data


class Gateway:
    def __init__(self, config: GatewayConfig | None = None) -> None:
        self.config = config or GatewayConfig()
        self.node = self.config.node  # owns binds
        self.owner = f"{self.node}/{os.getpid()}"  # owns message leases (this process only)
        self.runners: dict[str, BindRunner] = {}
        self.holding: dict[int, OutMsg] = {}
        self.router = Router(routes=[], binds_by_operator={}, ported={})
        self.correlator = Correlator(early_seconds=self.config.early_receipt_seconds)
        self.assembler = MoAssembler()
        self.counters: Counter[str] = Counter()
        self.stopping = False
        self.started_at = time.monotonic()
        self._stop: asyncio.Event | None = None

    # --- running -------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        self._stop = stop or asyncio.Event()
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.db = Db(inline=self.config.inline_db)
        self.mo_pool = self._new_mo_pool()
        if isinstance(self.mo_pool, ProcessPoolExecutor):
            await self._warm_up_mo_workers()
        self.writer = Writer(self.db, self.owner, self.config.flush_interval, self.config.flush_max)
        log.info("gateway %s starting", self.node)
        stale = await self.db.call(outbox.requeue_stale_claims, node=self.node, owner=self.owner)
        if stale:
            log.warning("gateway %s: %d messages claimed by an earlier run of this node went back to the queue",
                        self.node, stale)
        await self._refresh_binds()
        tasks = [asyncio.create_task(self.writer.run(), name="writer"),
                 asyncio.create_task(self._claim_loop(), name="claim"),
                 asyncio.create_task(self._housekeeping(), name="housekeeping")]
        try:
            await self._stop.wait()
        finally:
            await self._shutdown(tasks)

    def _mo_processes(self) -> int:
        if self.config.mo_processes >= 0:
            return self.config.mo_processes
        return 1 if connections["default"].vendor == "sqlite" else 2

    def _new_mo_pool(self) -> ThreadPoolExecutor | ProcessPoolExecutor:
        if self.config.inline_db or self._mo_processes() == 0:
            return ThreadPoolExecutor(max_workers=2, thread_name_prefix="gateway-mo")
        # spawn, not fork: this process already runs threads (database writer, claims).
        return ProcessPoolExecutor(max_workers=self._mo_processes(), initializer=mo_worker.init,
                                   mp_context=multiprocessing.get_context("spawn"))

    async def _warm_up_mo_workers(self) -> None:
        """Start the workers and load Django in them before the first MO arrives."""
        loop = asyncio.get_running_loop()
        try:
            pids = await asyncio.gather(*(loop.run_in_executor(self.mo_pool, mo_worker.ready)
                                          for _ in range(self._mo_processes() * 2)))
            log.info("gateway %s: MO workers ready (pids %s)", self.node, sorted(set(pids)))
        except Exception:
            log.exception("MO workers could not start; MO will wait for them")

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def notify(self) -> None:
        """Thread-safe: new messages are in the outbox (e.g. an MO handler queued a reply)."""
        self.loop.call_soon_threadsafe(self.wake.set)

    async def _shutdown(self, tasks: list[asyncio.Task]) -> None:
        log.info("gateway %s stopping: answering in-flight submits, returning the rest to the queue", self.node)
        self.stopping = True
        claim = tasks[1]
        self.wake.set()
        try:  # let a claim in progress finish: what it took is then given back below
            await asyncio.wait_for(asyncio.shield(claim), 15)
        except (TimeoutError, asyncio.CancelledError, Exception):
            claim.cancel()
        for runner in self.runners.values():
            await runner.stop_sending()
            for msg, _ in runner.take_queue():
                self.release(msg, "gateway stopping", count_attempt=False)
        deadline = time.monotonic() + self.config.drain_timeout
        while any(r.in_flight for r in self.runners.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self.writer.flush(attempts=20)  # answers the receipts already stored, while the links are up
        for runner in self.runners.values():
            await runner.close()  # unbinds; outstanding submits (if any) come back through _on_down
        for msg in list(self.holding.values()):
            self.release(msg, "gateway stopping", count_attempt=False)
        for op in self.correlator.sweep(float("inf")):
            self.writer.add(op)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.writer.flush(attempts=20)
        try:
            # Safety net: nothing stays leased by a process that is going away.
            left = await self.db.call(outbox.requeue_stale_claims, node=self.node, owner="", mine=self.owner)
            if left:
                log.warning("gateway %s: %d claimed messages returned to the queue at exit", self.node, left)
            await self.db.call(outbox.release_binds, owner=self.node)
            await self._write_status(connected=False)
        except Exception:
            log.exception("could not release bind leases")
        self.mo_pool.shutdown(wait=True)
        self.db.close()
        log.info("gateway %s stopped", self.node)

    async def _claim_loop(self) -> None:
        cfg = self.config
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), cfg.poll_interval)
            self.wake.clear()
            if self.stopping:
                return
            capacity = sum(r.capacity for r in self.runners.values() if r.up)
            if capacity <= 0:
                continue
            limit = min(capacity, cfg.claim_batch)
            try:
                result = await self.db.call(outbox.claim, owner=self.owner, limit=limit, lane="claim",
                                            lease_seconds=cfg.lease_seconds, max_attempts=cfg.max_attempts)
            except Exception:
                log.exception("claiming from the outbox failed")
                await asyncio.sleep(1.0)
                continue
            self.counters["claimed"] += len(result.messages)
            self.counters["expired"] += result.expired
            self.counters["exhausted"] += result.exhausted
            for claimed in result.messages:
                msg = OutMsg(claimed)
                self.holding[claimed.id] = msg
                self.reroute(msg, list(range(len(claimed.parts) or 1)), exclude=None)
            if len(result.messages) + result.expired + result.exhausted >= limit:
                self.wake.set()

    async def _housekeeping(self) -> None:
        cfg = self.config
        last = dict.fromkeys(("binds", "leases", "status", "log", "unanswered"), time.monotonic())
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            try:
                await self.db.call(_release_and_requeue)
                if now - last["leases"] >= cfg.lease_seconds / 3:
                    last["leases"] = now
                    await self.db.call(outbox.renew_message_leases, owner=self.owner,
                                       lease_seconds=cfg.lease_seconds)
                if now - last["binds"] >= cfg.bind_lease_seconds / 3:
                    last["binds"] = now
                    await self._refresh_binds()
                if now - last["unanswered"] >= 60:
                    last["unanswered"] = now
                    self.counters["expired_without_receipt"] += await self.db.call(outbox.expire_unanswered)
                self.writer.extend(self.correlator.sweep(now))
                for mo in self.assembler.expire(now):
                    self._dispatch_mo(mo, "", "")
                if now - last["status"] >= cfg.status_interval:
                    last["status"] = now
                    await self._write_status(connected=True)
                if now - last["log"] >= cfg.log_interval:
                    last["log"] = now
                    self._log_summary()
            except Exception:
                log.exception("gateway housekeeping failed; continuing")

    async def _refresh_binds(self) -> None:
        binds = await self.db.call(load_binds, self.config.binds)
        if not binds and not self.counters["warned_no_binds"]:
            self.counters["warned_no_binds"] = 1
            log.warning("no enabled bind to connect: add an operator with a bind and a route in the admin, or run "
                        "`ropsms load-operators FILE` (`ropsms demo-data` adds one for the bundled simulator)")
        self.router = await self.db.call(Router.load)
        held = await self.db.call(outbox.acquire_binds, owner=self.node, bind_ids=[b.id for b in binds],
                                  lease_seconds=self.config.bind_lease_seconds)
        wanted = {b.name: b for b in binds if b.id in held}
        for name, runner in list(self.runners.items()):
            if name not in wanted or wanted[name] != runner.cfg:
                log.info("bind %s: %s", name, "configuration changed" if name in wanted else "no longer ours")
                del self.runners[name]
                await runner.stop_sending()
                for msg, indices in runner.take_queue():
                    self.reroute(msg, indices, exclude=runner)
                await runner.close()
        for name, cfg in wanted.items():
            if name not in self.runners and not self.stopping:
                runner = self.runners[name] = BindRunner(self, cfg)
                runner.start()

    # --- message outcomes ----------------------------------------------------------------------
    def reroute(self, msg: OutMsg, indices: list[int], *, exclude: BindRunner | None) -> None:
        """Give the message (or its remaining parts) to the first bind that is up, else back to the queue."""
        if msg.done:
            return
        if self.stopping:
            self.release(msg, "gateway stopping", count_attempt=False)
            return
        if msg.runner is not None and msg.accepted_any:
            # Parts already with this operator: the rest must follow on a bind of the same operator.
            for runner in self.runners.values():
                if runner is not exclude and runner.up and runner.operator == msg.runner.operator:
                    runner.put(msg, indices)
                    return
            msg.runner.parked.append((msg, indices))
            return
        names = self.router.binds_for(msg.c.to)
        for name in names:
            runner = self.runners.get(name)
            if runner is not None and runner is not exclude and runner.up and runner.allows(msg.c.source):
                runner.put(msg, indices)
                return
        if not names:
            self.release(msg, "No route for this number: add a route (prefix) for it.", code="no_route",
                         delay=30.0, count_attempt=False)
        else:
            self.release(msg, "No bind is up for this route.", code="no_bind", delay=1.0, count_attempt=False)

    def release(self, msg: OutMsg, text: str, *, code: str = "", delay: float = 0.0,
                count_attempt: bool = True) -> None:
        if msg.done:
            return
        msg.done = True
        self.holding.pop(msg.c.id, None)
        self.counters["released"] += 1
        self.writer.add(outbox.Retry(msg.c.id, utcnow() + timedelta(seconds=delay), code, text, count_attempt))

    def finish(self, msg: OutMsg, state: str, code: str, text: str) -> None:
        if msg.done:
            return
        msg.done = True
        self.holding.pop(msg.c.id, None)
        self.counters[state] += 1
        self.writer.add(outbox.Final(msg.c.id, state, utcnow(), code, text))

    def transient(self, msg: OutMsg, idx: int, code: str, text: str, runner: BindRunner) -> None:
        if msg.done:
            return
        msg.retries += 1
        if msg.retries > self.config.max_retries:
            self.finish(msg, "failed", code, f"{text} Gave up after {self.config.max_retries} retries.")
            return
        if not msg.accepted_any:
            for name in self.router.binds_for(msg.c.to):
                other = self.runners.get(name)
                if other is not None and other is not runner and other.up and other.allows(msg.c.source):
                    self.counters["failover"] += 1
                    other.put(msg, [idx])
                    return
        delay = self.config.retry_backoff * (2 ** (msg.retries - 1)) * random.uniform(0.75, 1.25)
        self.loop.call_later(delay, runner.requeue, msg, [idx])

    def accepted(self, msg: OutMsg, idx: int, raw_id: str, runner: BindRunner) -> None:
        msg.ids[idx] = raw_id
        if any(i is None for i in msg.ids):
            return
        msg.done = True
        self.holding.pop(msg.c.id, None)
        now = utcnow()
        ids = [i or "" for i in msg.ids]
        self.writer.add(outbox.Submitted(msg.c.id, now, runner.name, runner.operator,
                                         [(n, normalise(raw), raw) for n, raw in enumerate(ids)]))
        self.counters["submitted"] += 1
        self.writer.extend(self.correlator.register(message_id=msg.c.id, operator=runner.operator, ids=ids,
                                                    at=now, now=time.monotonic()))

    def on_receipt(self, runner: BindRunner, ev: ReceiptIn, ack: Ack | None = None) -> None:
        if not ev.message_id:
            self.counters["receipts_without_id"] += 1
            if ack is not None:
                ack.send()
            return
        def outstanding() -> bool:
            return any(r.in_flight for r in self.runners.values() if r.operator == runner.operator)

        ops = self.correlator.receipt(operator=runner.operator, raw_id=ev.message_id, state=ev.state,
                                      error_code=ev.error_code, at=utcnow(), now=time.monotonic(), ack=ack,
                                      outstanding=outstanding)
        self.writer.extend(ops)

    # --- MO ------------------------------------------------------------------------------------
    def on_mo(self, runner: BindRunner, pdu: Any, ack: Ack | None = None) -> None:
        mo = self.assembler.add(pdu, time.monotonic())
        if mo is None:
            # One part of a longer MO, held in memory until the rest arrives: answer it now.
            if ack is not None:
                ack.send()
            return
        self._dispatch_mo(mo, runner.operator, runner.name, ack)

    def _dispatch_mo(self, mo: MoMessage, operator: str, bind: str, ack: Ack | None = None) -> None:
        self.counters["mo"] += 1
        if self.config.inline_db:
            self.loop.call_soon(self._handle_mo, mo, operator, bind, ack)
        elif isinstance(self.mo_pool, ProcessPoolExecutor):
            self._submit_mo(mo, operator, bind, ack, tries=2)
        else:
            self.mo_pool.submit(self._handle_mo, mo, operator, bind, ack)

    def _submit_mo(self, mo: MoMessage, operator: str, bind: str, ack: Ack | None, tries: int) -> None:
        """Hand an MO to a worker process; a dead worker pool is replaced and the MO handed again."""
        try:
            future = self.mo_pool.submit(mo_worker.store_and_dispatch, mo.source, mo.destination, mo.text,
                                         operator, bind, mo.parts)
        except BrokenProcessPool:
            self._replace_broken_mo_pool()
            if tries > 1:
                self._submit_mo(mo, operator, bind, ack, tries - 1)
            return  # not answered: the SMSC delivers it again

        def done(f: Future) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self.loop.call_soon_threadsafe(self._mo_done, f, mo, operator, bind, ack, tries)

        future.add_done_callback(done)

    def _mo_done(self, future: Future, mo: MoMessage, operator: str, bind: str, ack: Ack | None,
                 tries: int) -> None:
        """On the loop: a worker finished an MO. Answer the SMSC only if it was stored."""
        exc = BrokenProcessPool("cancelled") if future.cancelled() else future.exception()
        if exc is None:
            if ack is not None:
                ack.send()
        elif isinstance(exc, BrokenProcessPool):
            log.error("an MO worker died; starting new workers and handing the MO from %s again",
                      mask(mo.source))
            self._replace_broken_mo_pool()
            if tries > 1 and not self.stopping:
                self._submit_mo(mo, operator, bind, ack, tries - 1)
        else:
            log.error("storing the MO from %s failed (%s); the SMSC will deliver it again", mask(mo.source),
                      type(exc).__name__)
        self.wake.set()  # the handler probably queued a reply: claim it now

    def _replace_broken_mo_pool(self) -> None:
        pool = self.mo_pool
        if isinstance(pool, ProcessPoolExecutor) and getattr(pool, "_broken", False):
            self.mo_pool = self._new_mo_pool()
            pool.shutdown(wait=False, cancel_futures=True)

    def _handle_mo(self, mo: MoMessage, operator: str, bind: str, ack: Ack | None = None) -> None:
        """On an MO thread (or inline in tests): store and dispatch, then answer the SMSC and wake the claim loop."""
        try:
            mo_worker.store_and_dispatch(mo.source, mo.destination, mo.text, operator, bind, mo.parts)
            if ack is not None:  # stored: the SMSC may forget it
                if self.config.inline_db:
                    ack.send()
                else:
                    self.loop.call_soon_threadsafe(ack.send)
        except Exception:  # not stored: no answer, so the SMSC delivers it again
            log.exception("storing the MO from %s failed", mask(mo.source))
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed during shutdown
                self.notify()

    # --- status --------------------------------------------------------------------------------
    def status(self) -> dict:
        return {"node": self.node, "uptime_s": round(time.monotonic() - self.started_at, 1),
                "holding": len(self.holding), "writer_pending": self.writer.pending,
                "writer_flushes": self.writer.flushes, "counters": dict(self.counters),
                "receipts": {"matched": self.correlator.matched, "duplicates": self.correlator.duplicates,
                             "early": self.correlator.early_held, "waiting": len(self.correlator.early)},
                "binds": {name: r.status() for name, r in self.runners.items()}}

    async def _write_status(self, *, connected: bool) -> None:
        data = self.status()
        rows = {name: (connected and r.up, r.status()) for name, r in self.runners.items()}
        await self.db.call(outbox.write_status, node=self.node, rows=rows)
        path = self.config.status_file
        if path is not None:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1, default=str))
            tmp.replace(path)

    def _log_summary(self) -> None:
        for name, r in self.runners.items():
            c = r.counters
            log.info("bind %s: up=%s submit_sm=%d ok=%d err=%d throttled=%d receipts=%d mo=%d reconnects=%d "
                     "in_flight=%d queued=%d", name, r.up, c["submit_sm"], c["resp_ok"], c["resp_err"],
                     c["throttled"], c["receipts"], c["mo"], c["reconnects"], r.in_flight, r.queue.qsize())


def _release_and_requeue() -> None:
    from django.utils import timezone

    now = timezone.now()
    outbox.release_scheduled(now)
    outbox.requeue_expired_leases(now)
