from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ropsms.portal"
    label = "portal"
    verbose_name = "Portal"
