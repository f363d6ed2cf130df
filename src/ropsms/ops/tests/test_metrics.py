"""GET /metrics: the database's picture of the service, in the Prometheus text format, for the
monitoring system only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ropsms.api.models import Callback
from ropsms.eservices.models import Block, Command, DataSource, Exchange
from ropsms.messaging.models import InboundMessage, Message, State
from ropsms.messaging.services import send
from ropsms.ops import scheduler
from ropsms.smpp.models import GatewayStatus

pytestmark = [pytest.mark.django_db, pytest.mark.pg]


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics", headers=headers)
    assert r.status_code == 200, r.content[:300]
    assert r["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(r.content.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_the_figures_follow_the_database(client, settings):
    now = timezone.now()
    queued = [send(to="91234567", text=f"m{i}", producer="test").pk for i in range(3)]
    Message.objects.filter(pk=queued[0]).update(state=State.SUBMITTED)
    Message.objects.filter(pk=queued[1]).update(due_at=now - timedelta(seconds=120))
    send(to="91234567", text="later", producer="test", scheduled_for=now + timedelta(hours=1))
    GatewayStatus.objects.create(node="gw1", bind="omantel-1", connected=True, updated_at=now,
                                 counters={"submit_sm": 120, "resp_err": 3, "up": True, "links": {"trx": True}})
    GatewayStatus.objects.create(node="gw2", bind="ooredoo-1", connected=True, updated_at=now - timedelta(minutes=5),
                                 counters={})
    source = DataSource.objects.create(name="ropdb", kind=DataSource.Kind.HTTP, url="http://127.0.0.1:9/")
    cmd = Command.objects.filter(action=Command.Action.QUERY).first()
    Command.objects.filter(pk=cmd.pk).update(source=source)
    for result, age in (("busy", 1), ("busy", 2), ("answered", 1), ("answered", 30)):
        Exchange.objects.create(msisdn="+96891234567", command=cmd, language="en", result=result,
                                created_at=now - timedelta(minutes=age))
    Block.objects.create(msisdn="+96878000001", created_at=now, until=now + timedelta(hours=1), reason="probing")
    Block.objects.create(msisdn="+96878000002", created_at=now - timedelta(days=2), until=now - timedelta(days=1),
                         reason="probing")
    # An MO stored three minutes ago that no handler finished (the worker died), and a fresh one.
    InboundMessage.objects.create(msisdn="+96891234567", to="90085", text="FINES 1",
                                  received_at=now - timedelta(minutes=3))
    InboundMessage.objects.create(msisdn="+96891234567", to="90085", text="HELP", received_at=now, handled_at=now)
    msg = Message.objects.get(pk=queued[2])
    Callback.objects.create(message=msg, kind="webhook", url="https://x.example/", state="failed", next_attempt_at=now)

    m = scrape(client)
    assert m[("ropsms_outbox_messages", (("state", "queued"),))] == 2
    assert m[("ropsms_outbox_messages", (("state", "submitted"),))] == 1
    assert m[("ropsms_outbox_messages", (("state", "scheduled"),))] == 1
    assert 110 <= m[("ropsms_outbox_oldest_queued_seconds", ())] < 600
    assert m[("ropsms_bind_up", (("bind", "omantel-1"), ("node", "gw1")))] == 1
    assert m[("ropsms_bind_up", (("bind", "ooredoo-1"), ("node", "gw2")))] == 0  # its gateway stopped reporting
    assert m[("ropsms_bind_counter", (("bind", "omantel-1"), ("name", "submit_sm"), ("node", "gw1")))] == 120
    assert ("ropsms_bind_counter", (("bind", "omantel-1"), ("name", "up"), ("node", "gw1"))) not in m
    assert m[("ropsms_pull_exchanges_recent", (("result", "busy"),))] == 2
    assert m[("ropsms_pull_exchanges_recent", (("result", "answered"),))] == 1  # the 30-minute-old one is not recent
    assert m[("ropsms_pull_source_busy_recent", (("source", "ropdb"),))] == 2
    assert m[("ropsms_pull_blocked_numbers", ())] == 1
    assert m[("ropsms_mo_unhandled", ())] == 1 and m[("ropsms_mo_received_recent", ())] == 2
    assert m[("ropsms_callbacks", (("state", "failed"),))] == 1
    assert m[("ropsms_callbacks", (("state", "pending"),))] == 0


@pytest.mark.django_db(transaction=True)  # the scheduler closes connections left in a transaction
def test_scheduler_jobs_report_their_last_run_and_failures(client, monkeypatch):
    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("source down")

    monkeypatch.setattr(scheduler, "_jobs", {})
    scheduler.register_job("test.ok", every=timedelta(seconds=1), func=lambda: None)
    scheduler.register_job("test.broken", every=timedelta(seconds=1), func=broken)
    scheduler.run_due(now=0)
    scheduler.run_due(now=10)
    m = scrape(client)
    assert m[("ropsms_scheduler_job_failures", (("job", "test.broken"),))] == 2
    assert m[("ropsms_scheduler_job_failures", (("job", "test.ok"),))] == 0
    assert 0 <= m[("ropsms_scheduler_job_age_seconds", (("job", "test.ok"),))] < 60
    assert len(calls) == 2


def test_only_the_monitoring_system_may_read_them(client, settings):
    settings.ROPSMS = {**settings.ROPSMS, "METRICS_TOKEN": "s3cret-token", "METRICS_ALLOW_NETWORKS": ["127.0.0.1/32"]}
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    other = client.get("/metrics", REMOTE_ADDR="10.9.8.7")
    assert other.status_code == 403 and other.json()["code"] == "forbidden"
    assert client.get("/metrics", REMOTE_ADDR="10.9.8.7", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.9.8.7",
                      headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    assert client.post("/metrics").status_code in (403, 405)
