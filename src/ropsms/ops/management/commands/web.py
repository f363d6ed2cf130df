"""`ropsms web [--port N]`: serve the web app (portal, API, admin) with uvicorn over ASGI."""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the web application (ASGI, uvicorn)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=settings.ROPSMS["WEB_PORT"])
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args, **opts):
        import uvicorn

        uvicorn.run("ropsms.asgi:application", host=opts["host"], port=opts["port"], workers=opts["workers"],
                    lifespan="off", log_level="warning", access_log=False, proxy_headers=True)
