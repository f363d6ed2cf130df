"""API keys: issue, rotate, revoke, authenticate.

A key looks like `rop_<prefix>_<secret>`: the 10-character prefix is stored in clear to find the
row, the whole key is stored only as its SHA-256 digest. Why SHA-256 and not argon2: the secret is
256 bits from `secrets`, so a stolen digest cannot be brute-forced whatever the hash speed, while a
deliberately slow hash (argon2, ~50 ms) on every API request would cap a 2-core node at a few dozen
requests per second. Argon2 stays the right choice for human passwords (Django's hasher does that).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ropsms.api.models import ApiClient, ApiKey
from ropsms.ops.audit import record

KEY_PREFIX = "rop_"
_LAST_USED_EVERY = timedelta(minutes=1)
# Authenticated keys are remembered in this process for a few seconds (the hot path of every request
# is then one dict lookup and one SHA-256). Revoking or rotating in this process clears it at once;
# other processes follow within CACHE_SECONDS.
CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, ApiKey]] = {}
_cache_lock = threading.Lock()


def forget_cached_keys() -> None:
    with _cache_lock:
        _cache.clear()


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class IssuedKey:
    client: ApiClient
    key: str  # the only time the secret exists in clear


def _new_key(client: ApiClient) -> IssuedKey:
    while True:
        prefix = secrets.token_hex(5)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    ApiKey.objects.create(client=client, prefix=prefix, digest=digest(key))
    return IssuedKey(client=client, key=key)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def issue_key(*, client: ApiClient, actor: str, overlap: timedelta | None = None) -> IssuedKey:
    """Give `client` a new key. Its existing keys keep working for `overlap` (None: indefinitely)."""
    now = timezone.now()
    with transaction.atomic():
        if overlap is not None:
            ApiKey.objects.filter(client=client, revoked_at__isnull=True).filter(
                expires_at__isnull=True).update(expires_at=now + overlap)
            ApiKey.objects.filter(client=client, revoked_at__isnull=True, expires_at__gt=now + overlap).update(
                expires_at=now + overlap)
        if not client.webhook_secret:
            client.webhook_secret = new_webhook_secret()
            ApiClient.objects.filter(pk=client.pk).update(webhook_secret=client.webhook_secret)
        issued = _new_key(client)
    forget_cached_keys()
    record(actor=actor, action="api.key.issue", target=client.producer,
           overlap_hours=None if overlap is None else overlap.total_seconds() / 3600)
    return issued


def rotate_webhook_secret(*, client: ApiClient, actor: str) -> str:
    client.webhook_secret = new_webhook_secret()
    ApiClient.objects.filter(pk=client.pk).update(webhook_secret=client.webhook_secret)
    record(actor=actor, action="api.webhook_secret.rotate", target=client.producer)
    return client.webhook_secret


def revoke_keys(*, client: ApiClient, actor: str) -> int:
    """Revoke every key of `client` at once."""
    n = ApiKey.objects.filter(client=client, revoked_at__isnull=True).update(revoked_at=timezone.now())
    forget_cached_keys()
    record(actor=actor, action="api.key.revoke", target=client.producer, keys=n)
    return n


def authenticate(key: str) -> ApiClient | None:
    """The active client owning `key`, or None. Constant-time comparison of the digest."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    prefix, sep, _ = key[len(KEY_PREFIX):].partition("_")
    if not sep:
        return None
    row = _lookup(prefix)
    if row is None or not hmac.compare_digest(row.digest, digest(key)):
        return None
    now = timezone.now()
    if not row.usable(now) or not row.client.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > _LAST_USED_EVERY:
        row.last_used_at = now
        ApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.client


def _lookup(prefix: str) -> ApiKey | None:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(prefix)
    if hit and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    row = ApiKey.objects.select_related("client").filter(prefix=prefix).first()
    if row is not None:
        with _cache_lock:
            if len(_cache) > 10000:
                _cache.clear()
            _cache[prefix] = (now, row)
    return row


def authenticate_login(username: str, password: str) -> ApiClient | None:
    """For the legacy interfaces (Kannel, SMPP): username is the client's slug, password its key."""
    client = authenticate(password)
    if client is None or not hmac.compare_digest(client.slug.encode(), str(username).encode()):
        return None
    return client
