"""`GET /metrics`: the Prometheus page (see `ops.metrics`).

Not for everyone: the figures describe the service's load and health. A scraper proves itself with
`Authorization: Bearer <ROPSMS_METRICS_TOKEN>`, or comes from a network in
`ROPSMS_METRICS_ALLOW_NETWORKS` (default: this host only).
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import CollectorRegistry

from ropsms.ops.metrics import DatabaseCollector

_registry = CollectorRegistry(auto_describe=False)
_registry.register(DatabaseCollector())


def _allowed(request: HttpRequest) -> bool:
    token = settings.ROPSMS["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n) for n in settings.ROPSMS["METRICS_ALLOW_NETWORKS"])


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return JsonResponse({"field": "", "code": "forbidden", "message": "Metrics are for the monitoring system: "
                             "send its bearer token (ROPSMS_METRICS_TOKEN) or scrape from an allowed network "
                             "(ROPSMS_METRICS_ALLOW_NETWORKS)."}, status=403)
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)  # read by Prometheus 2 and 3
