from __future__ import annotations

import json
import os
import tempfile

import pytest
from django.db import connections

from ropsms.api import keys, limits
from ropsms.api.inbound import forget_owners
from ropsms.api.keys import issue_key
from ropsms.api.models import ApiClient

# Concurrent-retry tests need real SQLite locking (busy timeout, WAL); Django's default in-memory
# shared-cache test database answers "table is locked" at once instead. So the SQLite test database
# is a temporary file (set before the test database is created; ROPSMS_SQLITE_TEST_PATH still wins).
_db = connections.databases["default"]
if "sqlite" in _db["ENGINE"] and not _db.setdefault("TEST", {}).get("NAME"):
    _db["TEST"]["NAME"] = os.path.join(tempfile.gettempdir(), f"ropsms-test-{os.getpid()}.sqlite3")


@pytest.fixture(autouse=True)
def _callbacks_to_this_host(settings):
    """The tests' callback receivers listen on 127.0.0.1, which the gateway refuses by default."""
    settings.ROPSMS = {**settings.ROPSMS, "CALLBACK_ALLOW_NETWORKS": ["127.0.0.0/8"]}


@pytest.fixture(autouse=True)
def _fresh_buckets(monkeypatch):
    """Tests change clients and keys behind the API's back: no in-process key cache here
    (test_keys_cache covers the cache itself)."""
    monkeypatch.setattr(keys, "CACHE_SECONDS", 0.0)
    keys.forget_cached_keys()
    forget_owners()
    limits.reset_buckets()
    yield
    limits.reset_buckets()
    forget_owners()  # other apps' tests must not see this test's keyword owners
    keys.forget_cached_keys()


@pytest.fixture
def make_client(db):
    def make(slug="evisa", **fields):
        fields.setdefault("scopes", "send,batch,events,read")
        fields.setdefault("rate_limit", 0)
        client = ApiClient.objects.create(name=slug.title(), slug=slug, **fields)
        issued = issue_key(client=client, actor="test")
        client.refresh_from_db()
        return client, issued.key

    return make


class Api:
    """A small wrapper over Django's test client speaking JSON with a bearer key."""

    def __init__(self, http, key):
        self.http, self.key = http, key

    def _headers(self, headers):
        h = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        h.update(headers or {})
        return h

    def post(self, path, body, headers=None):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.http.post(f"/api/v1{path}", data=data, content_type="application/json",
                              headers=self._headers(headers))

    def get(self, path, headers=None, **params):
        return self.http.get(f"/api/v1{path}", params, headers=self._headers(headers))


@pytest.fixture
def api(client, make_client):
    c, key = make_client()
    wrapper = Api(client, key)
    wrapper.client_obj = c
    return wrapper
