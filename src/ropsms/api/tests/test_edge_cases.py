"""Odd input found while hunting for 5xx: each must get a 4xx with a clear reason."""

from __future__ import annotations

import pytest

from ropsms.messaging.models import Message, State

pytestmark = [pytest.mark.django_db]


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "sNaN", "1e1000000", 1e308, "-1"])
def test_event_amounts_refused(api, amount):
    r = api.post("/events", {"type": "offence.recorded", "data": {"offence_no": "1", "plate": "1 A", "amount": amount,
                                                                  "mobile": "91234567"}})
    assert r.status_code == 422 and r.json()["field"] == "data.amount"


@pytest.mark.parametrize(("at", "status"), [
    ("2027-13-01T00:00:00", 422),
    ("9999-12-31T23:59:59+14:00", 422),  # more than a year ahead
    ("0001-01-01T00:00:00-12:00", 201),  # in the past: now
    ("2026-01-01", 201),  # a date alone is its midnight, local time (here: in the past)
])
def test_scheduled_times(api, at, status):
    r = api.post("/messages", {"to": "91234567", "text": "x", "scheduled_at": at})
    assert r.status_code == status, r.content
    if status == 201:
        assert Message.objects.get().state == State.QUEUED


def test_time_without_offset_is_local(api):
    from datetime import timedelta

    from django.utils import timezone

    local = (timezone.localtime() + timedelta(days=30)).replace(hour=8, minute=0, second=0, microsecond=0)
    r = api.post("/messages", {"to": "91234567", "text": "x", "scheduled_at": local.strftime("%Y-%m-%dT%H:%M:%S")})
    assert r.status_code == 201, r.content
    msg = Message.objects.get()
    assert msg.state == State.SCHEDULED
    assert msg.scheduled_for == local  # 08:00 in Asia/Muscat, whatever the server's clock zone


def test_odd_headers_and_bodies(api, client):
    assert client.get("/api/v1/messages", headers={"Authorization": "Bearer " + "x" * 100000}).status_code == 401
    assert client.get("/api/v1/messages", headers={"Authorization": "Bearer rop_" + "é" * 10 + "_x"}).status_code == 401
    r = api.post("/messages", {"to": "91234567", "text": "x"}, headers={"Idempotency-Key": "k" * 300})
    assert r.status_code == 422 and r.json()["field"] == "Idempotency-Key"
    r = api.post("/messages", b'{"to": "91234567", "text": "\\ud800"}')  # a lone surrogate
    assert r.status_code == 422 and r.json()["field"] == "text"
    assert api.post("/messages", b"\xff\xfe garbage").status_code == 400
    assert api.get("/messages/99999999999999999999").status_code in (404, 422)
    assert api.get("/messages", limit="abc").status_code == 422
    assert api.get("/messages", clientref="x").json()["code"] == "unknown_parameter"


def test_kannel_odd_input(client):
    assert client.get("/cgi-bin/sendsms?username=%ff&password=%fe&to=%00&text=%ff").status_code == 403
    r = client.post("/cgi-bin/sendsms", data=b"\xff\xfe=\x00", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 403
    assert client.put("/cgi-bin/sendsms").status_code == 405
