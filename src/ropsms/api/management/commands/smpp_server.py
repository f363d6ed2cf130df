"""`ropsms smpp-server`: the SMPP server interface for API clients (see ropsms.api.smpp_server)."""

import asyncio
import os
import signal

from django.core.management.base import BaseCommand

from ropsms.api.smpp_server import SmppServer


class Command(BaseCommand):
    help = "Accept SMPP binds from API clients (system_id = username, password = API key)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("ROPSMS_API_SMPP_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("ROPSMS_API_SMPP_PORT", "2776")))

    def handle(self, *args, **opts):
        asyncio.run(self._serve(opts["host"], opts["port"]))

    async def _serve(self, host: str, port: int) -> None:
        server = SmppServer(host=host, port=port)
        port = await server.start()
        self.stdout.write(f"smpp-server: listening on {host}:{port}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.close()
