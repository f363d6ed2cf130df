"""Log-in events into the audit trail (successes, failures, log-outs are in views)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from ropsms.ops.audit import record


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs) -> None:
    record(actor=f"user:{user.get_username()}", action="user.login", ip=_ip(request))


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs) -> None:
    record(actor=f"user:{str(credentials.get('username', ''))[:100]}", action="user.login_failed", ip=_ip(request))
