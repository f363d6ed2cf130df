"""ASGI entry point (served by uvicorn through `ropsms web`)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
application = get_asgi_application()
