"""`ropsms demo-data`: load the demo data of every app that has a `demo` module (idempotent)."""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

# Order matters: people and units first, then what refers to them.
ORDER = ["ops", "directory", "messaging", "smpp", "eservices", "staff", "portal", "api"]


class Command(BaseCommand):
    help = "Load demo data (people, units, registry records, operators, ...). Safe to run twice."

    def handle(self, *args, **opts):
        for label in ORDER:
            if not apps.is_installed(f"ropsms.{label}"):
                continue
            try:
                module = import_module(f"ropsms.{label}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"ropsms.{label}.demo":
                    raise
                continue
            with transaction.atomic():
                module.load(self.stdout)
        self.stdout.write("demo data loaded")
