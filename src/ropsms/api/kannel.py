"""Kannel-compatible `GET/POST /cgi-bin/sendsms` for systems already written against Kannel's smsbox.

Parameters as Kannel takes them: username (or user) = the API client's username (slug), password
(or pass) = its API key, to (several separated by spaces or '+'), text, from, coding (0 GSM, 1 8-bit,
2 UCS-2; the gateway picks the encoding from the text anyway), charset (of `text`, default UTF-8),
validity / deferred (minutes), priority (0-3), dlr-url with Kannel's %-placeholders and dlr-mask
(1 delivered, 2 failed; default 3 when a dlr-url is given). Answers are Kannel's plain-text lines:
`0: Accepted for delivery` (202), `3: Queued for later delivery` (202), or an error with its status.
"""

from __future__ import annotations

import codecs
import math
from datetime import timedelta
from urllib.parse import parse_qsl

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ropsms.api import destinations, services
from ropsms.api.errors import ApiError
from ropsms.api.keys import authenticate_login
from ropsms.api.limits import take_token
from ropsms.messaging.models import State

MAX_RECIPIENTS = 100
KANNEL_PRIORITY = {"0": "bulk", "1": "normal", "2": "urgent", "3": "urgent"}


def _reply(text: str, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _raw_params(request: HttpRequest) -> dict[str, bytes]:
    """Parameters as raw bytes, so a `text` in another charset (UTF-16BE for coding=2) can be decoded."""
    raw = request.META.get("QUERY_STRING", "")
    params: dict[str, bytes] = {}
    if request.method == "POST":
        if request.content_type == "application/x-www-form-urlencoded":
            raw = raw + "&" + request.body.decode("latin-1")
        else:  # multipart form: Django has decoded it as UTF-8 already
            params = {k: v.encode("utf-8") for k, v in request.POST.items()}
    params.update((k, v.encode("latin-1")) for k, v in parse_qsl(raw, keep_blank_values=True, encoding="latin-1"))
    return params


def _param(params: dict[str, bytes], *names: str) -> str | None:
    for name in names:
        if name in params:
            return params[name].decode("utf-8", "replace")
    return None


def _int(value: str | None, name: str, low: int, high: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"Invalid '{name}' value, rejected") from None
    if not low <= number <= high:
        raise ValueError(f"Invalid '{name}' value, rejected")
    return number


@csrf_exempt
@require_http_methods(["GET", "POST"])
def sendsms(request: HttpRequest) -> HttpResponse:
    try:
        params = _raw_params(request)
    except Exception:  # malformed form body: still a Kannel-style answer, never a 500
        return _reply("Malformed request, rejected", 400)
    client = authenticate_login(_param(params, "username", "user") or "", _param(params, "password", "pass") or "")
    if client is None:
        return _reply("Authorization failed for sendsms", 403)
    if not client.allows_address(request.META.get("REMOTE_ADDR", "")):
        return _reply("Authorization failed for sendsms", 403)
    if "send" not in client.scope_list():
        return _reply("Authorization failed for sendsms", 403)
    wait = take_token(client.pk, client.rate_limit)
    if wait:
        return _reply("Too many requests, rejected", 429, {"Retry-After": str(max(1, math.ceil(wait)))})

    to = (_param(params, "to") or "").replace("+", " ").split()
    if _param(params, "to") is None:
        return _reply("Missing receiver number, rejected", 400)
    if not to:
        return _reply("Empty receiver number not allowed, rejected", 400)
    if len(to) > MAX_RECIPIENTS:
        return _reply(f"Too many receivers (at most {MAX_RECIPIENTS}), rejected", 400)
    charset = _param(params, "charset") or "UTF-8"
    try:
        codecs.lookup(charset)
        text_raw = params.get("text")
        text = text_raw.decode(charset) if text_raw is not None else None
        coding = _int(_param(params, "coding"), "coding", 0, 2)
        validity = _int(_param(params, "validity"), "validity", 1, 10080)
        deferred = _int(_param(params, "deferred"), "deferred", 0, 10080)
        dlr_mask = _int(_param(params, "dlr-mask", "dlr_mask"), "dlr-mask", 0, 31)
        priority = KANNEL_PRIORITY.get(_param(params, "priority") or "1")
        if priority is None:
            raise ValueError("Invalid 'priority' value, rejected")
    except LookupError:
        return _reply(f"Unknown charset '{charset}', rejected", 400)
    except UnicodeDecodeError:
        return _reply(f"Text is not valid {charset}, rejected", 400)
    except ValueError as exc:
        return _reply(str(exc), 400)
    if not text:
        return _reply("Missing text, rejected", 400)
    dlr_url = _param(params, "dlr-url", "dlr_url") or ""
    if dlr_url and not dlr_url.lower().startswith(("http://", "https://")):
        return _reply("Invalid 'dlr-url', rejected", 400)
    try:
        if dlr_url:
            destinations.check_url(dlr_url.replace("%", "0"))  # placeholders may sit in the host part
    except destinations.Refused as exc:
        return _reply(f"'dlr-url' not allowed: {exc}, rejected", 400)
    meta = {"interface": "kannel", "kannel_coding": coding}
    if dlr_url and (dlr_mask is None or dlr_mask & 3):
        meta.update(kannel_dlr_url=dlr_url, kannel_dlr_mask=dlr_mask if dlr_mask is not None else 3)
    scheduled = timezone.now() + timedelta(minutes=deferred) if deferred else None

    queued_later = False
    for number in to:
        try:
            msg = services.send_message(client=client, to=number, text=text, sender=_param(params, "from"),
                                        priority=priority, validity_minutes=validity, scheduled_for=scheduled,
                                        meta=meta, callback_url="")
        except ApiError as exc:
            status = {403: 403, 429: 429}.get(exc.status, 400)
            headers = exc.headers if exc.status == 429 else None
            return _reply(f"{exc.message} ({exc.code}), rejected", status, headers)
        queued_later = queued_later or msg.state == State.SCHEDULED
    if queued_later:
        return _reply("3: Queued for later delivery", 202)
    return _reply("0: Accepted for delivery", 202)
