"""The audit trail: one row for every sensitive action, whoever did it (user, API client, system)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.CharField(_("who"), max_length=150, db_index=True)  # "user:ali", "api:evisa", "system"
    action = models.CharField(_("action"), max_length=100, db_index=True)  # "message.send", "user.change"
    target = models.CharField(_("target"), max_length=200, blank=True)  # "message:123", "batch:9"
    unit = models.CharField(_("unit"), max_length=100, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)  # never personal data in clear

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"


class JobRun(models.Model):
    """The last run of each scheduler job, so that a stalled or failing scheduler shows on /metrics
    (a scheduler that died writes nothing: the age of `last_run_at` grows)."""

    name = models.CharField(_("job"), max_length=100, unique=True)
    last_run_at = models.DateTimeField(_("last run"))
    last_ok = models.BooleanField(_("last run succeeded"), default=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    failures = models.PositiveIntegerField(_("failures in a row"), default=0)

    class Meta:
        verbose_name = _("scheduler job")
        verbose_name_plural = _("scheduler jobs")

    def __str__(self) -> str:
        return self.name
