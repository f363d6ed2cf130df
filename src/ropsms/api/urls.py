"""/api/v1 (REST), /api/docs (Swagger UI) and the Kannel-compatible /cgi-bin/sendsms."""

from django.urls import path

from ropsms.api import kannel
from ropsms.api.views import api, docs

urlpatterns = [
    path("api/v1/", api.urls),
    path("api/docs", docs, name="api-docs"),
    path("cgi-bin/sendsms", kannel.sendsms, name="kannel-sendsms"),
]
