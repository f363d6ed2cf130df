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
        started, error = time.perf_counter(), ""
        try:
            job.func()
        except Exception as exc:
            log.exception("scheduled job %s failed; it will run again at its next turn", job.name)
            error = f"{type(exc).__name__}: {exc}"
        _record_run(job.name, int((time.perf_counter() - started) * 1000), error)
        ran.append(job.name)
    return ran


def _record_run(name: str, duration_ms: int, error: str) -> None:
    """One row per job (`ops.JobRun`), read by /metrics. Never stops the scheduler."""
    from django.db.models import F
    from django.utils import timezone

    from ropsms.ops.models import JobRun

    try:
        values = {"last_run_at": timezone.now(), "last_ok": not error, "last_error": error[:300],
                  "duration_ms": duration_ms}
        updated = JobRun.objects.filter(name=name).update(**values, failures=F("failures") + 1 if error else 0)
        if not updated:
            JobRun.objects.create(name=name, failures=1 if error else 0, **values)
    except Exception:
        log.exception("could not record the run of job %s", name)
        close_old_connections()


def _release_scheduled_messages() -> None:
    from ropsms.messaging.services import release_scheduled

    release_scheduled()


register_job("messaging.release_scheduled", every=timedelta(seconds=5), func=_release_scheduled_messages)
