from django.apps import AppConfig


class EservicesConfig(AppConfig):
    name = "ropsms.eservices"
    label = "eservices"
    verbose_name = "E-services"
