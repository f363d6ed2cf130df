"""Delivery callbacks: signed POSTs to a real local HTTP server, retries with backoff, re-send, Kannel dlr-url."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.utils import timezone

from ropsms.api import callbacks
from ropsms.api.models import Callback
from ropsms.messaging.models import Message, State

pytestmark = [pytest.mark.django_db(transaction=True)]


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers with `status`."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self, body: bytes) -> None:
                outer.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                       "body": body})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                self._record(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            def do_GET(self):
                self._record(b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _finish(msg_id: int, state: str = State.DELIVERED) -> None:
    """What the gateway does when a receipt comes in."""
    now = timezone.now()
    Message.objects.filter(pk=msg_id).update(state=state, submitted_at=now, done_at=now, operator_message_id="A1B2")


@pytest.mark.pg
def test_signed_callback_is_delivered_once(api, receiver):
    mid = api.post("/messages", {"to": "91234567", "text": "hi", "client_ref": "R1",
                                 "callback_url": receiver.url + "/dlr"}).json()["id"]
    callbacks.run_job()
    assert receiver.requests == []  # not final yet
    _finish(mid)
    callbacks.run_job()
    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    secret = api.client_obj.webhook_secret
    ts, sig = req["headers"]["X-Ropsms-Timestamp"], req["headers"]["X-Ropsms-Signature"]
    assert callbacks.verify(secret, ts, req["body"], sig)
    assert not callbacks.verify(secret, ts, req["body"] + b" ", sig)
    assert not callbacks.verify("whsec_other", ts, req["body"], sig)
    assert not callbacks.verify(secret, str(int(ts) - 3600), req["body"], sig)
    body = json.loads(req["body"])
    assert body["id"] == mid and body["state"] == "delivered" and body["client_ref"] == "R1"
    callbacks.run_job()
    assert len(receiver.requests) == 1
    assert Callback.objects.get().state == Callback.State.DONE


def test_readme_verification_example(api, receiver):
    """The receiver-side code shown in the README verifies a real callback."""
    import hashlib
    import hmac
    import time

    def verify(secret: str, headers: dict, body: bytes) -> bool:  # as in the README
        ts = headers["X-Ropsms-Timestamp"]
        expected = "v1=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers["X-Ropsms-Signature"]) and abs(time.time() - int(ts)) < 300

    mid = api.post("/messages", {"to": "91234567", "text": "hi", "callback_url": receiver.url}).json()["id"]
    _finish(mid, State.UNDELIVERABLE)
    callbacks.run_job()
    req = receiver.requests[0]
    assert verify(api.client_obj.webhook_secret, req["headers"], req["body"])


def test_client_default_url_and_retry_with_backoff(client, make_client, receiver):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(callback_url=receiver.url + "/default")
    mid = Api(client, key).post("/messages", {"to": "91234567", "text": "hi"}).json()["id"]
    _finish(mid, State.EXPIRED)
    receiver.status = 500
    callbacks.run_job()
    cb = Callback.objects.get()
    assert cb.state == Callback.State.PENDING and cb.attempts == 1 and cb.last_status == 500
    assert cb.next_attempt_at > timezone.now() + timedelta(seconds=20)
    callbacks.run_job()
    assert len(receiver.requests) == 1  # backoff: not yet due
    receiver.status = 204
    Callback.objects.update(next_attempt_at=timezone.now())
    callbacks.run_job()
    assert Callback.objects.get().state == Callback.State.DONE and len(receiver.requests) == 2
    assert receiver.requests[1]["path"] == "/default"


def test_gives_up_then_resend_from_admin(api, receiver, admin_client):
    receiver.status = 503
    mid = api.post("/messages", {"to": "91234567", "text": "hi", "callback_url": receiver.url}).json()["id"]
    _finish(mid)
    callbacks.enqueue_final()
    for _ in range(callbacks.MAX_ATTEMPTS):
        Callback.objects.update(next_attempt_at=timezone.now())
        callbacks.deliver_due()
    cb = Callback.objects.get()
    assert cb.state == Callback.State.FAILED and cb.attempts == callbacks.MAX_ATTEMPTS
    page = admin_client.get("/admin/api/callback/?state=failed")
    assert page.status_code == 200 and b"HTTP 503" in page.content
    receiver.status = 200
    r = admin_client.post("/admin/api/callback/", {"action": "resend", "_selected_action": [cb.pk]})
    assert r.status_code == 302
    callbacks.deliver_due()
    assert Callback.objects.get().state == Callback.State.DONE


def test_unreachable_url_is_recorded(api):
    mid = api.post("/messages", {"to": "91234567", "text": "hi", "callback_url": "http://127.0.0.1:9/x"}).json()["id"]
    _finish(mid)
    callbacks.run_job()
    cb = Callback.objects.get()
    assert cb.state == Callback.State.PENDING and "Connect" in cb.last_error


@pytest.mark.pg
def test_messages_without_callback_or_other_producers_are_ignored(api, receiver):
    from ropsms.messaging.services import send

    mid = api.post("/messages", {"to": "91234567", "text": "hi"}).json()["id"]
    other = send(to="91234567", text="x", producer="portal:hr", meta={"callback_url": receiver.url})
    _finish(mid)
    _finish(other.pk)
    callbacks.run_job()
    assert Callback.objects.count() == 0 and receiver.requests == []


def test_kannel_dlr_url_placeholders(client, make_client, receiver):
    _, key = make_client("legacy")
    dlr = receiver.url + "/dlr?type=%d&to=%p&from=%P&id=%I&ts=%T"
    r = client.get("/cgi-bin/sendsms", {"username": "legacy", "password": key, "to": "91234567", "text": "hello",
                                        "dlr-url": dlr, "dlr-mask": "3"})
    assert r.status_code == 202 and r.content == b"0: Accepted for delivery"
    msg = Message.objects.get()
    _finish(msg.pk, State.UNDELIVERABLE)
    callbacks.run_job()
    req = receiver.requests[0]
    assert req["method"] == "GET"
    q = parse_qs(urlparse(req["path"]).query)
    assert q["type"] == ["2"] and q["to"] == ["+96891234567"] and q["from"] == ["90085"] and q["id"] == [str(msg.pk)]


def test_kannel_dlr_mask_filters_outcomes(client, make_client, receiver):
    _, key = make_client("legacy")
    client.get("/cgi-bin/sendsms", {"username": "legacy", "password": key, "to": "91234567", "text": "hello",
                                    "dlr-url": receiver.url + "/?t=%d", "dlr-mask": "1"})
    _finish(Message.objects.get().pk, State.UNDELIVERABLE)
    callbacks.run_job()
    assert receiver.requests == []
    assert Callback.objects.get().state == Callback.State.DONE


@pytest.mark.pg
def test_callbacks_go_out_concurrently(api):
    """An endpoint that answers only once 4 requests wait at the same time: posted one after another
    they would all time out; posted concurrently, all 4 succeed. So one slow endpoint cannot hold up
    the other clients' callbacks for the length of its timeouts."""
    barrier = threading.Barrier(4, timeout=10)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                barrier.wait()
                self.send_response(204)
            except threading.BrokenBarrierError:
                self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cb"
        for i in range(4):
            _finish(api.post("/messages", {"to": "91234567", "text": f"m{i}", "callback_url": url}).json()["id"])
        callbacks.enqueue_final()
        with httpx.Client(timeout=15.0) as http:
            assert callbacks.deliver_due(client=http) == 4
        assert Callback.objects.filter(state=Callback.State.DONE).count() == 4
    finally:
        server.shutdown()
        server.server_close()
