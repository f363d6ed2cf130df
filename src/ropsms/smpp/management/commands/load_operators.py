"""`ropsms load-operators FILE`: create/update operators, binds, routes and ported numbers."""

from django.core.management.base import BaseCommand, CommandError

from ropsms.ops.audit import record
from ropsms.smpp.operators import OperatorFileError, load, read_file


class Command(BaseCommand):
    help = "Load operators, binds, routes and ported numbers from a YAML or TOML file (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, **opts):
        try:
            counts = load(read_file(opts["file"]))
        except OperatorFileError as exc:
            raise CommandError(str(exc)) from None
        record(actor="cli", action="smpp.load_operators", target=str(opts["file"]), **counts)
        self.stdout.write(", ".join(f"{n} {k}" for k, n in counts.items()) + " loaded")
