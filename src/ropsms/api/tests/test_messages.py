"""POST/GET /messages and the error shapes around them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ropsms.api.models import ApiKey
from ropsms.messaging.models import Message, OptOut, State

pytestmark = [pytest.mark.django_db]


@pytest.mark.pg
def test_send_one_message(api):
    r = api.post("/messages", {"to": "9123 4567", "text": "Your visa V1 is approved", "client_ref": "V1",
                               "callback_url": "https://evisa.example.om/cb"})
    assert r.status_code == 201, r.content
    body = r.json()
    msg = Message.objects.get(pk=body["id"])
    assert body == {"id": msg.pk, "state": "queued", "parts": 1, "encoding": "gsm", "client_ref": "V1"}
    assert msg.producer == "api:evisa" and msg.to == "+96891234567"
    assert msg.meta["callback_url"] == "https://evisa.example.om/cb"


def test_arabic_long_message_parts(api):
    r = api.post("/messages", {"to": "91234567", "text": "مرحبا " * 30})
    assert r.status_code == 201
    assert r.json()["encoding"] == "ucs2" and r.json()["parts"] == 3


def test_get_message_with_history(api):
    mid = api.post("/messages", {"to": "91234567", "text": "hi", "client_ref": "abc"}).json()["id"]
    r = api.get(f"/messages/{mid}")
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "queued" and body["to"] == "+96891234567"
    assert [s["state"] for s in body["history"]] == ["created", "queued"]
    listing = api.get("/messages", client_ref="abc").json()
    assert [m["id"] for m in listing["items"]] == [mid]
    assert api.get("/messages", client_ref="nope").json()["items"] == []
    assert api.get("/messages", state="delivered").json()["items"] == []


def test_other_clients_messages_are_invisible(api, client, make_client):
    _, other_key = make_client("ecustoms")
    mid = api.post("/messages", {"to": "91234567", "text": "hi"}).json()["id"]
    r = client.get(f"/api/v1/messages/{mid}", headers={"Authorization": f"Bearer {other_key}"})
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_scheduled_and_options(api):
    later = (timezone.now() + timedelta(days=10)).isoformat()
    r = api.post("/messages", {"to": "91234567", "text": "later", "scheduled_at": later,
                               "priority": "urgent", "validity_minutes": 60})
    assert r.status_code == 201 and r.json()["state"] == "scheduled"
    msg = Message.objects.get(pk=r.json()["id"])
    assert msg.priority == 0 and (msg.valid_until - msg.due_at).total_seconds() == 3600


def test_cancel_a_message_that_has_not_left(api, client, make_client):
    later = (timezone.now() + timedelta(days=1)).isoformat()
    mid = api.post("/messages", {"to": "91234567", "text": "later", "scheduled_at": later}).json()["id"]
    _, other_key = make_client("ecustoms")
    other = client.post(f"/api/v1/messages/{mid}/cancel", headers={"Authorization": f"Bearer {other_key}"})
    assert other.status_code == 404  # never says whose it is
    _, reader = make_client("callcentre", scopes="read")
    read_only = client.post(f"/api/v1/messages/{mid}/cancel", headers={"Authorization": f"Bearer {reader}"})
    assert read_only.status_code == 403 and read_only.json()["code"] == "scope"
    r = api.post(f"/messages/{mid}/cancel", {})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert Message.objects.get(pk=mid).state == State.CANCELLED
    again = api.post(f"/messages/{mid}/cancel", {})
    assert again.status_code == 409 and again.json()["code"] == "not_cancellable"
    sent = api.post("/messages", {"to": "91234567", "text": "now"}).json()["id"]
    Message.objects.filter(pk=sent).update(state=State.SUBMITTED)  # the gateway has it
    assert api.post(f"/messages/{sent}/cancel", {}).status_code == 409
    assert Message.objects.get(pk=sent).state == State.SUBMITTED
    from ropsms.ops.models import AuditEntry

    entry = AuditEntry.objects.get(action="api.message.cancel")
    assert entry.target == f"message:{mid}" and "91234567" not in str(entry.detail)


@pytest.mark.parametrize(("body", "status", "field", "code"), [
    ({"to": "9123", "text": "hi"}, 422, "to", "invalid_number"),
    ({"to": "91234567", "text": "   "}, 422, "text", "empty_text"),
    ({"to": "91234567", "text": "x" * 1601}, 422, "text", "string_too_long"),
    ({"to": "91234567"}, 422, "text", "missing"),
    ({"to": "91234567", "text": "hi", "priority": "high"}, 422, "priority", "literal_error"),
    ({"to": "91234567", "text": "hi", "validity_minutes": 0}, 422, "validity_minutes", "greater_than_equal"),
    ({"to": "91234567", "text": "hi", "callback_url": "ftp://x"}, 422, "callback_url", "string_pattern_mismatch"),
    ({"to": "91234567", "text": "hi", "surprise": 1}, 422, "surprise", "extra_forbidden"),
    ({"to": "91234567", "text": "hi", "sender": "ROP"}, 403, "sender", "sender_not_allowed"),
    ({"to": 91234567, "text": "hi"}, 422, "to", "string_type"),
])
def test_errors_are_precise(api, body, status, field, code):
    r = api.post("/messages", body)
    assert r.status_code == status, r.content
    err = r.json()
    assert set(err) == {"field", "code", "message"}
    assert (err["field"], err["code"]) == (field, code)
    assert err["message"]
    assert Message.objects.count() == 0


def test_allowed_sender(client, make_client):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(allowed_senders="ROP\nROP-Visa")
    r = Api(client, key).post("/messages", {"to": "91234567", "text": "hi", "sender": "ROP-Visa"})
    assert r.status_code == 201
    assert Message.objects.get().source == "ROP-Visa"


def test_bad_json_and_not_json(api):
    r = api.post("/messages", "{not json")
    assert r.status_code == 400 and r.json()["code"] == "bad_request"
    r = api.post("/messages", "[1, 2]")
    assert r.status_code == 422


def test_auth_errors(client, api):
    r = client.post("/api/v1/messages", data={"to": "1"}, content_type="application/json")
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    assert r["WWW-Authenticate"] == "Bearer"
    r = client.get("/api/v1/messages", headers={"Authorization": "Bearer rop_0000000000_nope"})
    assert r.status_code == 401
    r = client.get("/api/v1/messages", headers={"Authorization": api.key[:-1] + "x"})
    assert r.status_code == 401
    r = client.get("/api/v1/messages", headers={"X-API-Key": api.key})
    assert r.status_code == 200


def test_revoked_and_expired_keys(api):
    ApiKey.objects.update(revoked_at="2020-01-01T00:00:00Z")
    assert api.get("/messages").status_code == 401


def test_scopes(client, make_client):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(scopes="read")
    r = Api(client, key).post("/messages", {"to": "91234567", "text": "hi"})
    assert r.status_code == 403 and r.json()["code"] == "scope"
    r = Api(client, key).post("/events", {"type": "visa.status_changed", "data": {}})
    assert r.status_code == 403
    r = Api(client, key).post("/batches", {"to": ["91234567"], "text": "x"})
    assert r.status_code == 403


def test_ip_allow_list(client, make_client):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(ip_allowlist="10.0.0.0/8")
    r = Api(client, key).get("/messages")
    assert r.status_code == 403 and r.json()["code"] == "ip_not_allowed"
    _, key2 = make_client("local", ip_allowlist="10.0.0.0/8\n127.0.0.1")
    assert Api(client, key2).get("/messages").status_code == 200


def test_rate_limit_429_with_retry_after(client, make_client):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(rate_limit=2)
    api = Api(client, key)
    codes = [api.get("/messages").status_code for _ in range(5)]
    assert codes[:2] == [200, 200] and 429 in codes
    r = api.get("/messages")
    assert r.status_code == 429 and int(r["Retry-After"]) >= 1 and r.json()["code"] == "rate_limited"


@pytest.mark.pg
def test_daily_quota_429(client, make_client):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(daily_quota=2)
    api = Api(client, key)
    assert [api.post("/messages", {"to": "91234567", "text": "x"}).status_code for _ in range(2)] == [201, 201]
    r = api.post("/messages", {"to": "91234567", "text": "x"})
    assert r.status_code == 429 and r.json()["code"] == "quota" and int(r["Retry-After"]) > 0
    assert Message.objects.count() == 2


def test_opted_out_is_written_rejected(api):
    OptOut.objects.create(msisdn="+96891234567")
    r = api.post("/messages", {"to": "91234567", "text": "hi"})
    assert r.status_code == 201 and r.json()["state"] == State.REJECTED


def test_body_too_large_413(api):
    r = api.post("/messages", {"to": "91234567", "text": "x" * 70000})
    assert r.status_code == 413 and r.json()["code"] == "too_large"


def test_health_needs_no_key(client):
    r = client.get("/api/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_docs_page_is_served_without_cdn(client):
    r = client.get("/api/docs")
    assert r.status_code == 200
    html = r.content.decode()
    assert "swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/messages" in schema["paths"]
    static = client.get("/static/ninja/swagger-ui-bundle.js")
    assert static.status_code == 200
