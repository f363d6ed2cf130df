from datetime import timedelta

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ropsms.portal"
    label = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from ropsms.messaging.inbound import register_interceptor
        from ropsms.messaging.services import register_quota_policy
        from ropsms.ops.scheduler import register_job
        from ropsms.portal import signals  # noqa: F401  (log-in audit receivers)
        from ropsms.portal.recruitment import reply_interceptor, send_due_reminders
        from ropsms.portal.services import quota_policy

        register_quota_policy(quota_policy)
        register_interceptor(reply_interceptor)
        register_job("portal.interview_reminders", every=timedelta(minutes=10), func=send_due_reminders)
