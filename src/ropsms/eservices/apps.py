from django.apps import AppConfig


class EservicesConfig(AppConfig):
    name = "ropsms.eservices"
    label = "eservices"
    verbose_name = "E-services"

    def ready(self) -> None:
        # The commands engine is the one MO handler; reply interceptors (portal) run before it.
        from ropsms.eservices.engine import handle_mo
        from ropsms.messaging import inbound

        inbound.register_handler(handle_mo)

        from datetime import timedelta

        from ropsms.eservices.services import purge_old_records
        from ropsms.ops.scheduler import register_job

        register_job("eservices.retention", every=timedelta(hours=1), func=purge_old_records)
