from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "ropsms.staff"
    label = "staff"
    verbose_name = "Staff services"
