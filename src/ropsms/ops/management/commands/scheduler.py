"""`ropsms scheduler`: run the registered periodic jobs until stopped."""

import signal
import time

from django.core.management.base import BaseCommand

from ropsms.ops import scheduler


class Command(BaseCommand):
    help = "Run periodic jobs (scheduled messages, reminders, expiry scans, re-confirmation, retention)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and exit")

    def handle(self, *args, **opts):
        if opts["once"]:
            for job in scheduler.jobs():
                job.next_run = 0
            self.stdout.write("ran: " + ", ".join(scheduler.run_due()))
            return
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"scheduler: {len(scheduler.jobs())} jobs")
        while not stopping:
            scheduler.run_due()
            time.sleep(1)
