from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ropsms.api"
    label = "api"
    verbose_name = "Integration API"
