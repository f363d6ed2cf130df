"""Kannel-compatible /cgi-bin/sendsms, and the admin: key shown once, rotation with overlap, revocation."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from ropsms.api.keys import authenticate, digest
from ropsms.api.models import ApiClient, ApiKey
from ropsms.messaging.models import Message, State
from ropsms.ops.models import AuditEntry

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def legacy(make_client):
    return make_client("legacy")


def test_kannel_get_accepted(client, legacy):
    _, key = legacy
    r = client.get("/cgi-bin/sendsms", {"username": "legacy", "password": key, "to": "+96891234567",
                                        "text": "Hello from Kannel", "from": "90085"})
    assert (r.status_code, r.content) == (202, b"0: Accepted for delivery")
    msg = Message.objects.get()
    assert msg.producer == "api:legacy" and msg.text == "Hello from Kannel" and msg.meta["interface"] == "kannel"


def test_kannel_post_form_and_user_pass_aliases(client, legacy):
    _, key = legacy
    r = client.post("/cgi-bin/sendsms", {"user": "legacy", "pass": key, "to": "91234567 92345678",
                                         "text": "مرحبا"})
    assert r.status_code == 202
    assert Message.objects.filter(encoding="ucs2").count() == 2


def test_kannel_ucs2_charset(client, legacy):
    _, key = legacy
    raw = quote("مرحبا".encode("utf-16-be"), safe="")
    r = client.get(f"/cgi-bin/sendsms?username=legacy&password={key}&to=91234567&coding=2&charset=UTF-16BE&text={raw}")
    assert r.status_code == 202, r.content
    assert Message.objects.get().text == "مرحبا"


def test_kannel_deferred_is_queued_for_later(client, legacy):
    _, key = legacy
    r = client.get("/cgi-bin/sendsms", {"username": "legacy", "password": key, "to": "91234567", "text": "x",
                                        "deferred": "30"})
    assert (r.status_code, r.content) == (202, b"3: Queued for later delivery")
    assert Message.objects.get().state == State.SCHEDULED


@pytest.mark.parametrize(("params", "status", "text"), [
    ({"username": "legacy", "password": "wrong", "to": "91234567", "text": "x"}, 403,
     b"Authorization failed for sendsms"),
    ({"username": "other", "password": "KEY", "to": "91234567", "text": "x"}, 403, b"Authorization failed for sendsms"),
    ({"username": "legacy", "password": "KEY", "text": "x"}, 400, b"Missing receiver number, rejected"),
    ({"username": "legacy", "password": "KEY", "to": " ", "text": "x"}, 400,
     b"Empty receiver number not allowed, rejected"),
    ({"username": "legacy", "password": "KEY", "to": "91234567"}, 400, b"Missing text, rejected"),
    ({"username": "legacy", "password": "KEY", "to": "123", "text": "x"}, 400, None),
    ({"username": "legacy", "password": "KEY", "to": "91234567", "text": "x", "from": "SPOOF"}, 403, None),
    ({"username": "legacy", "password": "KEY", "to": "91234567", "text": "x", "coding": "7"}, 400,
     b"Invalid 'coding' value, rejected"),
    ({"username": "legacy", "password": "KEY", "to": "91234567", "text": "x", "charset": "nope"}, 400, None),
    ({"username": "legacy", "password": "KEY", "to": "91234567", "text": "x", "dlr-url": "file:///etc"}, 400, None),
])
def test_kannel_errors(client, legacy, params, status, text):
    _, key = legacy
    params = {k: (key if v == "KEY" else v) for k, v in params.items()}
    r = client.get("/cgi-bin/sendsms", params)
    assert r.status_code == status, r.content
    if text:
        assert r.content == text
    assert Message.objects.count() == 0


def test_kannel_quota_429(client, make_client):
    _, key = make_client("legacy", daily_quota=1)
    params = {"username": "legacy", "password": key, "to": "91234567", "text": "x"}
    assert client.get("/cgi-bin/sendsms", params).status_code == 202
    r = client.get("/cgi-bin/sendsms", params)
    assert r.status_code == 429 and "Retry-After" in r


def test_admin_add_shows_key_once_and_stores_only_hash(admin_client):
    r = admin_client.post("/admin/api/apiclient/add/", {
        "name": "eVisa", "slug": "evisa", "active": "on", "scopes": "send,read", "allowed_senders": "",
        "ip_allowlist": "", "daily_quota": "1000", "rate_limit": "10", "callback_url": "", "keywords": "",
        "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0", "keys-MIN_NUM_FORMS": "0", "keys-MAX_NUM_FORMS": "1000"})
    assert r.status_code == 200, r.content[:2000]
    html = r.content.decode()
    key = re.search(r'id="api-key-evisa"[^>]*>([^<]+)<', html).group(1)
    secret = re.search(r'id="webhook-secret-evisa"[^>]*>([^<]+)<', html).group(1)
    assert "no-store" in r["Cache-Control"]
    client_obj = ApiClient.objects.get(slug="evisa")
    assert client_obj.webhook_secret == secret
    row = ApiKey.objects.get(client=client_obj)
    assert row.digest == digest(key) and key not in row.digest and key.startswith(f"rop_{row.prefix}_")
    assert authenticate(key) == client_obj
    change = admin_client.get(f"/admin/api/apiclient/{client_obj.pk}/change/").content.decode()
    assert key not in change and secret not in change
    assert AuditEntry.objects.filter(action="api.client.create").exists()
    assert AuditEntry.objects.filter(action="api.key.issue").exists()


def test_rotation_keeps_old_key_for_overlap_then_revoke(admin_client, make_client):
    c, old = make_client("epolice")
    r = admin_client.post("/admin/api/apiclient/", {"action": "rotate_keys", "_selected_action": [c.pk]})
    assert r.status_code == 200
    new = re.search(r'id="api-key-epolice"[^>]*>([^<]+)<', r.content.decode()).group(1)
    assert authenticate(old) == c and authenticate(new) == c
    old_row = ApiKey.objects.get(prefix=old.split("_")[1])
    assert old_row.expires_at - timezone.now() > timedelta(hours=23)
    ApiKey.objects.filter(pk=old_row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert authenticate(old) is None and authenticate(new) == c
    admin_client.post("/admin/api/apiclient/", {"action": "revoke_keys", "_selected_action": [c.pk]})
    assert authenticate(new) is None
    assert AuditEntry.objects.filter(action="api.key.revoke").exists()


def test_inactive_client_cannot_authenticate(make_client):
    c, key = make_client()
    ApiClient.objects.filter(pk=c.pk).update(active=False)
    assert authenticate(key) is None


def test_keys_cache_and_revocation_clears_it(make_client, monkeypatch):
    from ropsms.api import keys

    monkeypatch.setattr(keys, "CACHE_SECONDS", 60.0)
    c, key = make_client()
    assert authenticate(key) == c
    ApiKey.objects.update(revoked_at=timezone.now())  # behind the cache's back: still cached
    assert authenticate(key) == c
    keys.forget_cached_keys()
    assert authenticate(key) is None
    c2, key2 = make_client("other")
    assert authenticate(key2) == c2
    keys.revoke_keys(client=c2, actor="test")  # the service clears the cache itself
    assert authenticate(key2) is None


def test_admin_changelist_shows_usage(admin_client, api):
    api.post("/messages", {"to": "91234567", "text": "x"})
    page = admin_client.get("/admin/api/apiclient/")
    assert page.status_code == 200 and b"evisa" in page.content
    assert b'<td class="field-sent_today">1</td>' in page.content


def test_admin_refuses_bad_allow_list_and_scopes(admin_client):
    form = {"name": "X", "slug": "x", "active": "on", "scopes": "send,root", "allowed_senders": "",
            "ip_allowlist": "10.0.0.0/8\nnot-an-ip", "daily_quota": "0", "rate_limit": "0", "callback_url": "",
            "keywords": "", "keys-TOTAL_FORMS": "0", "keys-INITIAL_FORMS": "0", "keys-MIN_NUM_FORMS": "0",
            "keys-MAX_NUM_FORMS": "1000"}
    r = admin_client.post("/admin/api/apiclient/add/", form)
    assert r.status_code == 200 and b"Not an address or network: not-an-ip" in r.content
    assert not ApiClient.objects.exists()


def test_bad_allow_list_entry_saved_anyway_allows_nothing(make_client, client):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(ip_allowlist="not-an-ip")
    assert Api(client, key).get("/messages").status_code == 403
