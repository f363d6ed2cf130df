"""A strict Content-Security-Policy (Django 5.2 has none built in).

Portal pages load scripts, styles and images only from this origin: no inline script, no inline
style, no CDN. JSON handed to scripts travels in `<script type="application/json">` (`json_script`),
which the browser never executes. Paths in `ROPSMS_CSP_EXEMPT_PREFIXES` (default: the API, whose
interactive docs are the API app's business) are left alone, as is a response that set its own policy.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Django's admin still writes a few inline style attributes; its pages get the same policy but those.
ADMIN_POLICY = POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.exempt = tuple(getattr(settings, "ROPSMS_CSP_EXEMPT_PREFIXES", ("/api/",)))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" in response or request.path.startswith(self.exempt):
            return response
        admin = "/admin/" in request.path[:12]
        response["Content-Security-Policy"] = ADMIN_POLICY if admin else POLICY
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response
