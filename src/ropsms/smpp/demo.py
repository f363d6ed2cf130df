"""Demo data: one operator "Simulator" bound to the bundled SMSC simulator, with a catch-all route."""

from django.conf import settings

from ropsms.smpp.models import Bind, Operator, Route


def load(stdout) -> None:
    operator, _ = Operator.objects.get_or_create(name="Simulator", defaults={"notes": "the bundled SMSC simulator"})
    bind, created = Bind.objects.get_or_create(name="simulator", defaults={
        "operator": operator, "host": settings.ROPSMS["SIM_HOST"], "port": settings.ROPSMS["SIM_PORT"],
        "system_id": "ropsms", "password": "secret", "mode": Bind.Mode.TRANSCEIVER, "tps": 500, "window": 64,
        "reconnect_min_seconds": 0.5, "reconnect_max_seconds": 10.0})
    if not created and (bind.host, bind.port) != (settings.ROPSMS["SIM_HOST"], settings.ROPSMS["SIM_PORT"]):
        bind.host, bind.port = settings.ROPSMS["SIM_HOST"], settings.ROPSMS["SIM_PORT"]
        bind.save(update_fields=["host", "port"])
    Route.objects.get_or_create(prefix="", operator=operator)
    if created:
        stdout.write(f"SMPP: operator Simulator, bind 'simulator' -> {bind.host}:{bind.port}, catch-all route")
