from datetime import timedelta

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ropsms.api"
    label = "api"
    verbose_name = "Integration API"

    def ready(self) -> None:
        from ropsms.api import callbacks, inbound, limits, services
        from ropsms.messaging.inbound import register_interceptor
        from ropsms.messaging.services import register_quota_policy
        from ropsms.ops.scheduler import register_job

        register_quota_policy(limits.quota_policy)
        register_interceptor(inbound.claim)
        register_job("api.callbacks", every=timedelta(seconds=2), func=callbacks.run_job)
        register_job("api.purge_idempotency", every=timedelta(hours=1), func=services.purge_idempotency)
