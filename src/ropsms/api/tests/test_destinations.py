"""Where callbacks may go: loopback, link-local (cloud metadata) and the like are refused at the
door and again, resolved, at every attempt; the request goes to the address that was checked."""

from __future__ import annotations

import ipaddress

import pytest

from ropsms.api import callbacks, destinations
from ropsms.api.models import ApiClient, Callback
from ropsms.api.tests.test_callbacks import _finish, receiver  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def strict(settings):
    """The production default: no network allowed beyond the rules."""
    settings.ROPSMS = {**settings.ROPSMS, "CALLBACK_ALLOW_NETWORKS": [], "CALLBACK_PRIVATE": "allow"}
    return settings


@pytest.mark.parametrize(("address", "allowed"), [
    ("127.0.0.1", False), ("127.8.8.8", False), ("::1", False), ("::ffff:127.0.0.1", False),
    ("169.254.169.254", False), ("fe80::1", False), ("0.0.0.0", False), ("::", False),  # noqa: S104 - data, not a bind
    ("224.0.0.1", False), ("240.0.0.1", False),
    ("10.20.30.40", True), ("192.168.1.10", True), ("172.16.0.5", True), ("fd00::5", True),
    ("8.8.8.8", True), ("2001:4860:4860::8888", True),
])
def test_address_rules(strict, address, allowed):
    ip = ipaddress.ip_address(address)
    if allowed:
        destinations.check_address(ip)
    else:
        with pytest.raises(destinations.Refused):
            destinations.check_address(ip)


def test_private_networks_can_be_refused_and_chosen_networks_allowed(strict):
    strict.ROPSMS = {**strict.ROPSMS, "CALLBACK_PRIVATE": "deny"}
    with pytest.raises(destinations.Refused, match="private"):
        destinations.check_address(ipaddress.ip_address("10.20.30.40"))
    destinations.check_address(ipaddress.ip_address("8.8.8.8"))
    strict.ROPSMS = {**strict.ROPSMS, "CALLBACK_ALLOW_NETWORKS": ["10.20.0.0/16", "127.0.0.1/32"]}
    destinations.check_address(ipaddress.ip_address("10.20.30.40"))
    destinations.check_address(ipaddress.ip_address("127.0.0.1"))
    with pytest.raises(destinations.Refused):
        destinations.check_address(ipaddress.ip_address("10.21.0.1"))


def test_a_name_is_resolved_once_and_every_address_checked(strict):
    def resolver(answers):
        return lambda host, port: answers

    target = destinations.pin("https://evisa.rop.internal:8443/dlr?x=1", resolver(["10.0.0.5"]))
    assert target.url == "https://10.0.0.5:8443/dlr?x=1"
    assert target.host_header == "evisa.rop.internal:8443" and target.server_name == "evisa.rop.internal"
    v6 = destinations.pin("http://evisa.rop.internal/", resolver(["fd00::5"]))
    assert v6.url == "http://[fd00::5]/" and v6.host_header == "evisa.rop.internal"
    with pytest.raises(destinations.Refused, match="link-local"):  # one bad address among good ones
        destinations.pin("http://mixed.example/", resolver(["8.8.8.8", "169.254.169.254"]))
    with pytest.raises(destinations.Refused, match="no address"):
        destinations.pin("http://empty.example/", resolver([]))


def test_the_api_refuses_internal_callback_urls(api, strict):
    for url in ("http://169.254.169.254/latest/meta-data", "http://127.0.0.1:8000/admin/",
                "http://localhost:5432/", "http://[::1]/", "http://[::ffff:127.0.0.1]/"):
        r = api.post("/messages", {"to": "91234567", "text": "hi", "callback_url": url})
        assert r.status_code == 422, url
        assert r.json()["code"] == "callback_url_not_allowed" and r.json()["field"] == "callback_url"
    ok = api.post("/messages", {"to": "91234567", "text": "hi", "callback_url": "https://evisa.rop.internal/dlr"})
    assert ok.status_code == 201
    batch = api.post("/batches", {"text": "hi", "to": ["91234567"], "callback_url": "http://0.0.0.0/"})
    assert batch.status_code == 422 and batch.json()["code"] == "callback_url_not_allowed"


def test_kannel_dlr_url_and_client_default_are_checked(client, make_client, strict):
    api_client, key = make_client()
    r = client.get("/cgi-bin/sendsms", {"username": api_client.slug, "password": key, "to": "91234567",
                                        "text": "x", "dlr-url": "http://127.0.0.1:9/dlr?s=%d"})
    assert r.status_code == 400 and b"not allowed" in r.content
    api_client.callback_url = "http://169.254.169.254/"
    with pytest.raises(Exception, match="link-local"):
        api_client.full_clean()
    ApiClient.objects.filter(pk=api_client.pk).update(callback_url="http://169.254.169.254/")  # set behind the form
    r = client.post("/api/v1/messages", {"to": "91234567", "text": "x"}, content_type="application/json",
                    headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 422 and r.json()["code"] == "callback_url_not_allowed"


def test_a_callback_refused_at_send_time_is_not_made(api, receiver, settings):  # noqa: F811
    """Accepted while the receiver's network was allowed; the rule changed before the attempt:
    nothing reaches the receiver, and the refusal is on the callback for the admin to see."""
    mid = api.post("/messages", {"to": "91234567", "text": "hi", "callback_url": receiver.url + "/dlr"}).json()["id"]
    _finish(mid)
    settings.ROPSMS = {**settings.ROPSMS, "CALLBACK_ALLOW_NETWORKS": []}
    callbacks.run_job()
    assert receiver.requests == []
    cb = Callback.objects.get(message_id=mid)
    assert cb.state == Callback.State.PENDING and cb.attempts == 1
    assert cb.last_error.startswith("not allowed: callbacks to loopback addresses")


def test_the_request_goes_to_the_checked_address_with_the_name_as_host(api, receiver):  # noqa: F811
    port = receiver.url.rsplit(":", 1)[1]
    mid = api.post("/messages", {"to": "91234567", "text": "hi",
                                 "callback_url": f"http://localhost:{port}/dlr"}).json()["id"]
    _finish(mid)
    callbacks.run_job()
    assert len(receiver.requests) == 1
    assert receiver.requests[0]["headers"]["Host"] == f"localhost:{port}"
    assert receiver.requests[0]["path"] == "/dlr"
