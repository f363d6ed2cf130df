"""Idempotency-Key: a retry returns the first answer and writes nothing new, also under concurrent retries."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from ropsms.api.models import IdempotencyRecord
from ropsms.messaging.models import Batch, Message

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pg]


def test_retry_returns_first_answer(api):
    body = {"to": "91234567", "text": "once"}
    first = api.post("/messages", body, headers={"Idempotency-Key": "k1"})
    again = api.post("/messages", body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert Message.objects.count() == 1
    other = api.post("/messages", body, headers={"Idempotency-Key": "k2"})
    assert other.json()["id"] != first.json()["id"]


def test_same_key_different_body_is_422(api):
    api.post("/messages", {"to": "91234567", "text": "a"}, headers={"Idempotency-Key": "k"})
    r = api.post("/messages", {"to": "91234567", "text": "b"}, headers={"Idempotency-Key": "k"})
    assert r.status_code == 422 and r.json()["code"] == "idempotency_key_reused"
    assert Message.objects.count() == 1


def test_error_answers_are_replayed_but_429_is_not(client, make_client):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(daily_quota=1)
    api = Api(client, key)
    bad = api.post("/messages", {"to": "12", "text": "a"}, headers={"Idempotency-Key": "bad"})
    assert bad.status_code == 422
    assert api.post("/messages", {"to": "12", "text": "a"}, headers={"Idempotency-Key": "bad"}).json() == bad.json()
    assert api.post("/messages", {"to": "91234567", "text": "a"}).status_code == 201
    over = api.post("/messages", {"to": "91234567", "text": "b"}, headers={"Idempotency-Key": "q"})
    assert over.status_code == 429
    assert not IdempotencyRecord.objects.filter(key="q").exists()  # a retry tomorrow may succeed


def _concurrent(key: str, path: str, body: dict, n: int = 8) -> list[tuple[int, dict]]:
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def worker():
        try:
            barrier.wait()
            r = Client().post(f"/api/v1{path}", data=json.dumps(body), content_type="application/json",
                              headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "same-key"})
            with lock:
                results.append((r.status_code, r.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_retries_create_one_message(make_client):
    _, key = make_client()
    results = _concurrent(key, "/messages", {"to": "91234567", "text": "exactly once"})
    assert len(results) == 8
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert Message.objects.count() == 1


def test_concurrent_batch_retries_create_one_batch(make_client):
    _, key = make_client()
    results = _concurrent(key, "/batches", {"to": [f"9123{i:04d}" for i in range(200)], "text": "once"}, n=6)
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert Batch.objects.count() == 1 and Message.objects.count() == 200


def test_concurrent_first_sends_of_the_day_are_not_refused(make_client):
    """Regression: several requests racing to create today's usage row; none may be told the quota is spent."""
    from ropsms.api.models import DailyUsage

    _, key = make_client(daily_quota=0)
    results = []
    barrier = threading.Barrier(6)

    def worker(i):
        try:
            barrier.wait()
            r = Client().post("/api/v1/messages", data=json.dumps({"to": "91234567", "text": f"m{i}"}),
                              content_type="application/json", headers={"Authorization": f"Bearer {key}"})
            results.append(r.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [201] * 6
    assert DailyUsage.objects.get().count == 6
