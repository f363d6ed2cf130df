"""`ropsms gateway`: run the SMPP gateway until SIGTERM / Ctrl-C (then unbind gracefully)."""

from __future__ import annotations

import asyncio
import os
import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from ropsms.smpp.gateway.engine import Gateway, GatewayConfig


class Command(BaseCommand):
    help = "Run the SMPP gateway: drain the outbox over the configured binds, apply receipts, take MO."

    def add_arguments(self, parser):
        parser.add_argument("--node", help="this node's name in leases (default host:pid)")
        parser.add_argument("--bind", action="append", dest="binds", help="only this bind (repeatable)")
        parser.add_argument("--poll", type=float, default=0.02, help="outbox poll interval in seconds")
        parser.add_argument("--mo-processes", type=int,
                            default=int(os.environ.get("ROPSMS_GATEWAY_MO_PROCESSES", "-1")),
                            help="worker processes that store and handle MO (0: threads in this process; "
                                 "default 1 on SQLite, whose writers queue anyway, 2 on PostgreSQL)")
        parser.add_argument("--batch", type=int, default=1000, help="messages claimed per query at most")
        parser.add_argument("--lease", type=float, default=60.0, help="message lease in seconds")
        parser.add_argument("--status-file", default=str(settings.VAR_DIR / "gateway-status.json"),
                            help="JSON file with the counters, rewritten every few seconds ('' for none)")

    def handle(self, *args, **opts):
        from pathlib import Path

        status_file = Path(opts["status_file"]) if opts["status_file"] else None
        config = GatewayConfig(poll_interval=opts["poll"], claim_batch=opts["batch"], lease_seconds=opts["lease"],
                               binds=opts["binds"], status_file=status_file, mo_processes=opts["mo_processes"])
        if opts["node"]:
            config.node = opts["node"]
        asyncio.run(self._run(Gateway(config)))

    async def _run(self, gateway: Gateway) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await gateway.run(stop)
