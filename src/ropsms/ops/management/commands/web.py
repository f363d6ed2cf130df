"""`ropsms web [--port N]`: serve the web app (portal, API, admin) with uvicorn over ASGI."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web application (ASGI, uvicorn)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.ROPSMS["WEB_PORT"])
        # More processes use more cores (the API measured ~330 req/s with one, ~550 with two, on 2 cores).
        parser.add_argument("--workers", type=int, default=int(os.environ.get("ROPSMS_WEB_WORKERS", "1")))

    def handle(self, *args, **opts):
        import uvicorn

        uvicorn.run("ropsms.asgi:application", host=opts["host"], port=opts["port"], workers=opts["workers"],
                    lifespan="off", log_level="warning", access_log=False, proxy_headers=True)
