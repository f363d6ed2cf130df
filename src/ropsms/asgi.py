"""ASGI entry point (served by uvicorn through `ropsms web`).

The integration API's paths run on a small persistent thread pool (see `ropsms.api.asgi`); the rest
goes through Django's ASGI handler.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ropsms.settings")
application = get_asgi_application()

from ropsms.api.asgi import with_api_threads  # noqa: E402 (needs Django set up first)

application = with_api_threads(application)
