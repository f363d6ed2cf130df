"""Periodic jobs for `ropsms scheduler` (ARCHITECTURE.md "Processes").

Apps register jobs in `AppConfig.ready()`:

    from ropsms.ops.scheduler import register_job
    register_job("recruitment.reminders", every=timedelta(minutes=5), func=send_due_reminders)

Each job runs in its turn; a failing job is logged and retried at its next turn, never stopping
the others. Jobs must be idempotent (safe to run twice, or on two nodes at once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import close_old_connections

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    every: timedelta
    func: Callable[[], object]
    next_run: float = 0.0


_jobs: dict[str, Job] = {}


def register_job(name: str, *, every: timedelta, func: Callable[[], object]) -> None:
    _jobs[name] = Job(name=name, every=every, func=func)


def jobs() -> list[Job]:
    return list(_jobs.values())


def run_due(now: float | None = None) -> list[str]:
    """Run every job whose turn has come; return the names that ran."""
    now = time.monotonic() if now is None else now
    ran = []
    for job in list(_jobs.values()):
        if job.next_run > now:
            continue
        job.next_run = now + job.every.total_seconds()
        close_old_connections()
        try:
            job.func()
        except Exception:
            log.exception("scheduled job %s failed; it will run again at its next turn", job.name)
        ran.append(job.name)
    return ran


def _release_scheduled_messages() -> None:
    from ropsms.messaging.services import release_scheduled

    release_scheduled()


register_job("messaging.release_scheduled", every=timedelta(seconds=5), func=_release_scheduled_messages)
