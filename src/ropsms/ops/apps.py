from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "ropsms.ops"
    label = "ops"
    verbose_name = "Operations and audit"
