"""`ropsms status ID`: a message's state and the steps it went through."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ropsms.messaging.models import Message


class Command(BaseCommand):
    help = "Show a message's state and history."

    def add_arguments(self, parser):
        parser.add_argument("message_id", type=int)

    def handle(self, *args, **opts):
        try:
            msg = Message.objects.get(pk=opts["message_id"])
        except Message.DoesNotExist:
            raise CommandError(f"There is no message {opts['message_id']}.") from None
        out = self.stdout
        out.write(f"message {msg.pk} to {msg.to}: {msg.state}")
        out.write(f"  {msg.parts_count} part(s), {msg.encoding}, from {msg.source}, producer {msg.producer}")
        for step, at in msg.history():
            out.write(f"  {timezone.localtime(at):%Y-%m-%d %H:%M:%S}  {step}")
        if msg.route:
            out.write(f"  route {msg.route}, operator id {msg.operator_message_id or '-'}")
        if msg.error_code or msg.error_text:
            out.write(f"  error {msg.error_code}: {msg.error_text}")
