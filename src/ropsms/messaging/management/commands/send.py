"""`ropsms send --to 91234567 --text "..."`: queue one message through messaging.send()."""

from django.core.management.base import BaseCommand, CommandError

from ropsms.messaging.errors import SendError
from ropsms.messaging.models import Priority
from ropsms.messaging.services import send
from ropsms.ops.audit import mask, record


class Command(BaseCommand):
    help = "Queue one SMS and print its id."

    def add_arguments(self, parser):
        parser.add_argument("--to", required=True, help="mobile number, e.g. 91234567 or +96891234567")
        parser.add_argument("--text", required=True)
        parser.add_argument("--from", dest="source", default=None, help="sender ID (default: the short code)")
        parser.add_argument("--priority", choices=["urgent", "normal", "bulk"], default="normal")
        parser.add_argument("--foreign", action="store_true", help="allow a non-Omani number")

    def handle(self, *args, **opts):
        try:
            msg = send(to=opts["to"], text=opts["text"], source=opts["source"], producer="cli",
                       priority=Priority[opts["priority"].upper()], allow_foreign=opts["foreign"])
        except SendError as exc:
            raise CommandError(str(exc)) from None
        record(actor="cli", action="message.send", target=f"message:{msg.pk}", to=mask(msg.to))
        self.stdout.write(str(msg.pk))
        if msg.state == "rejected":
            self.stderr.write(f"message {msg.pk} was refused: {msg.error_text}")
