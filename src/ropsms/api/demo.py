"""Demo data: one API client ("demo") with every scope, its key saved in var/demo-api-key.txt.

Idempotent: a second run keeps the client and its key. In a real installation clients are made in
the admin, where the key is shown once and never saved anywhere.
"""

from __future__ import annotations

from django.conf import settings

from ropsms.api.keys import issue_key
from ropsms.api.models import ApiClient


def key_file():
    return settings.VAR_DIR / "demo-api-key.txt"


def load(stdout) -> None:
    client, created = ApiClient.objects.get_or_create(slug="demo", defaults={
        "name": "Demo integrator", "scopes": "send,batch,events,read", "allowed_senders": "ROP",
        "daily_quota": 10000, "rate_limit": 50, "keywords": "HELPDESK"})
    path = key_file()
    if not created and path.exists():
        return
    issued = issue_key(client=client, actor="demo-data")
    path.write_text(f"{issued.key}\n")
    path.chmod(0o600)
    stdout.write(f"demo API client 'demo': key saved in {path}")
