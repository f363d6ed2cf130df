"""Housekeeping for the pull service, run by `ropsms scheduler` (registered in `EservicesConfig.ready()`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from ropsms.eservices import conf
from ropsms.eservices.models import Block, Exchange

log = logging.getLogger(__name__)


def purge_old_records(*, now: datetime | None = None) -> dict[str, int]:
    """Delete exchanges past the retention period and blocks that ended a week ago (idempotent)."""
    now = now or timezone.now()
    exchanges = Exchange.objects.filter(created_at__lt=now - timedelta(days=conf.get("RETENTION_DAYS"))).delete()[0]
    blocks = Block.objects.filter(until__lt=now - timedelta(days=7)).delete()[0]
    if exchanges or blocks:
        log.info("pull-service retention: %d exchanges and %d ended blocks deleted", exchanges, blocks)
    return {"exchanges": exchanges, "blocks": blocks}
