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
