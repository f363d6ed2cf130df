from django.apps import AppConfig


class SmppConfig(AppConfig):
    name = "ropsms.smpp"
    label = "smpp"
    verbose_name = "SMPP transport"
