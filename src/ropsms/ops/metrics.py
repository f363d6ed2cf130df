"""Figures for Prometheus (`GET /metrics`), read from the database at scrape time.

Every process of the gateway writes its state to the database (the outbox, `GatewayStatus`, the
exchange log, callbacks, `JobRun`), so one scrape of the web app sees all nodes and processes;
in-process counters would show only the web process. Each query uses an index and touches only
pending rows or the last few minutes, so a scrape stays cheap with millions of messages.

What to alert on (README, *Operations*): `ropsms_bind_up == 0`, a growing
`ropsms_outbox_oldest_queued_seconds`, `ropsms_mo_unhandled > 0`,
`ropsms_pull_source_busy_recent > 0`, `ropsms_scheduler_job_age_seconds` far above the job's
period, `ropsms_callbacks{state="failed"}` rising.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RECENT = timedelta(minutes=5)
BIND_STALE_SECONDS = 30.0  # the gateway rewrites its status every 5 s: older means it stopped


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        yield from _outbox(now)
        yield from _binds(now)
        yield from _mo(now)
        yield from _pull(now)
        yield from _callbacks()
        yield from _jobs(now)


def _outbox(now) -> Iterator[GaugeMetricFamily]:
    from ropsms.messaging.models import PENDING_STATES, Message, State

    pending = GaugeMetricFamily("ropsms_outbox_messages", "Messages not yet final, by state", labels=["state"])
    counts = dict(Message.objects.filter(state__in=PENDING_STATES).values_list("state").annotate(n=Count("id")))
    for state in sorted(PENDING_STATES):
        pending.add_metric([state], counts.get(state, 0))
    yield pending
    oldest = Message.objects.filter(state=State.QUEUED, due_at__lte=now).aggregate(at=Min("due_at"))["at"]
    yield GaugeMetricFamily("ropsms_outbox_oldest_queued_seconds",
                            "How long the oldest due message has waited in the queue (0: none waiting)",
                            value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


def _binds(now) -> Iterator[GaugeMetricFamily]:
    from ropsms.smpp.models import GatewayStatus

    up = GaugeMetricFamily("ropsms_bind_up", "1 when the bind is connected and its gateway reported lately",
                           labels=["node", "bind"])
    age = GaugeMetricFamily("ropsms_bind_status_age_seconds", "Seconds since the gateway last reported this bind",
                            labels=["node", "bind"])
    counters = GaugeMetricFamily("ropsms_bind_counter", "The gateway's counters for the bind since it started "
                                 "(submit_sm, resp_ok, resp_err, throttled, receipts, mo, reconnects, in_flight, "
                                 "queued, ...)", labels=["node", "bind", "name"])
    for row in GatewayStatus.objects.order_by("node", "bind"):
        seconds = max(0.0, (now - row.updated_at).total_seconds())
        up.add_metric([row.node, row.bind], 1 if row.connected and seconds < BIND_STALE_SECONDS else 0)
        age.add_metric([row.node, row.bind], seconds)
        for name, value in sorted((row.counters or {}).items()):
            if isinstance(value, int | float) and not isinstance(value, bool):
                counters.add_metric([row.node, row.bind, name], value)
    yield from (up, age, counters)


def _mo(now) -> Iterator[GaugeMetricFamily]:
    from ropsms.messaging.models import InboundMessage

    recent = InboundMessage.objects.filter(received_at__gte=now - RECENT)
    yield GaugeMetricFamily("ropsms_mo_received_recent", "MO received in the last 5 minutes", value=recent.count())
    stuck = InboundMessage.objects.filter(received_at__gte=now - timedelta(days=1),
                                          received_at__lt=now - timedelta(minutes=1), handled_at=None)
    yield GaugeMetricFamily("ropsms_mo_unhandled", "MO stored over a minute ago (within a day) and still not handled",
                            value=stuck.count())


def _pull(now) -> Iterator[GaugeMetricFamily]:
    from ropsms.eservices.models import Block, Exchange

    recent = Exchange.objects.filter(created_at__gte=now - RECENT)
    results = GaugeMetricFamily("ropsms_pull_exchanges_recent", "Pull commands answered in the last 5 minutes, "
                                "by result", labels=["result"])
    counts = dict(recent.values_list("result").annotate(n=Count("id")))
    for result in Exchange.Result.values:
        results.add_metric([result], counts.get(result, 0))
    yield results
    busy = GaugeMetricFamily("ropsms_pull_source_busy_recent", "Pull commands answered 'service busy' in the last "
                             "5 minutes because their data source failed or timed out", labels=["source"])
    rows = (recent.filter(result=Exchange.Result.BUSY).values_list("command__source__name")
            .annotate(n=Count("id")))
    for source, n in sorted(rows, key=lambda r: r[0] or ""):
        busy.add_metric([source or "(none)"], n)
    yield busy
    yield GaugeMetricFamily("ropsms_pull_blocked_numbers", "Numbers blocked now for probing others' identifiers",
                            value=Block.objects.filter(until__gt=now).count())


def _callbacks() -> Iterator[GaugeMetricFamily]:
    from ropsms.api.models import Callback

    family = GaugeMetricFamily("ropsms_callbacks", "Delivery callbacks waiting or given up", labels=["state"])
    counts = dict(Callback.objects.filter(state__in=[Callback.State.PENDING, Callback.State.FAILED])
                  .values_list("state").annotate(n=Count("id")))
    for state in (Callback.State.PENDING, Callback.State.FAILED):
        family.add_metric([state.value], counts.get(state, 0))
    yield family


def _jobs(now) -> Iterator[GaugeMetricFamily]:
    from ropsms.ops.models import JobRun

    age = GaugeMetricFamily("ropsms_scheduler_job_age_seconds", "Seconds since the job last ran", labels=["job"])
    failing = GaugeMetricFamily("ropsms_scheduler_job_failures", "Failed runs in a row (0: the last run succeeded)",
                                labels=["job"])
    for run in JobRun.objects.order_by("name"):
        age.add_metric([run.name], max(0.0, (now - run.last_run_at).total_seconds()))
        failing.add_metric([run.name], run.failures)
    yield from (age, failing)
