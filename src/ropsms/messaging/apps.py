from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "ropsms.messaging"
    label = "messaging"
    verbose_name = "Messaging"
