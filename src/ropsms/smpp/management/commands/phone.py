"""`ropsms phone --from 91234567 "TEXT"`: text the service as a virtual phone and print the reply.

Talks to the running SMSC simulator's control API (POST /api/mo, then polls the phone's
conversation), so the message goes the whole way: simulator -> SMPP deliver_sm -> gateway ->
MO handler -> messaging.send() -> gateway -> submit_sm -> the phone's inbox.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Send an SMS as a virtual phone through the SMSC simulator and print the reply it gets."

    def add_arguments(self, parser):
        parser.add_argument("text", help="the message (Arabic or English)")
        parser.add_argument("--from", dest="sender", required=True, help="the phone number, e.g. 91234567")
        parser.add_argument("--to", default=None, help="destination (default: the short code)")
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a reply (default 10)")
        parser.add_argument("--url", default=None,
                            help="the simulator's web address (default http://SIM_HOST:SIM_WEB_PORT)")
        parser.add_argument("--json", action="store_true", help="print the replies as JSON")

    def handle(self, *args, **opts):
        r = settings.ROPSMS
        base = (opts["url"] or f"http://{r.get('SIM_HOST', '127.0.0.1')}:{r.get('SIM_WEB_PORT', 8025)}").rstrip("/")
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(encoding="utf-8", errors="replace")  # Arabic on any terminal
        before = self._call(base, "GET", f"/api/phones/{quote(opts['sender'])}")
        last_id = max((m["id"] for m in before["messages"]), default=0)
        body = {"from": opts["sender"], "text": opts["text"]}
        if opts["to"]:
            body["to"] = opts["to"]
        sent = self._call(base, "POST", "/api/mo", body)
        msisdn = sent["msisdn"]
        if not opts["json"]:
            self.stdout.write(f"sent from {msisdn} to {sent['entry']['peer']} ({sent['entry']['parts']} part(s)); "
                              f"waiting up to {opts['timeout']:g}s for a reply...")
        replies = self._wait(base, msisdn, last_id, opts["timeout"])
        if opts["json"]:
            self.stdout.write(json.dumps(replies, ensure_ascii=False))
        for m in [] if opts["json"] else replies:
            self.stdout.write(f"reply from {m['peer']}: {m['text']}")
        if not replies:
            raise CommandError(f"no reply within {opts['timeout']:g}s (is the gateway running? "
                               f"see the phones page at {base}/)")

    def _wait(self, base: str, msisdn: str, last_id: int, timeout: float) -> list[dict]:
        """Collect MT messages that arrive after ours; stop 1 s after the first one (more may follow)."""
        deadline = time.monotonic() + timeout
        replies: list[dict] = []
        while time.monotonic() < deadline:
            data = self._call(base, "GET", f"/api/phones/{quote(msisdn)}?since={last_id}")
            for m in data["messages"]:
                last_id = max(last_id, m["id"])
                if m["direction"] == "mt":
                    replies.append(m)
            if replies:
                deadline = min(deadline, time.monotonic() + 1.0)
            time.sleep(0.2)
        return replies

    def _call(self, base: str, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(base + path, data=data, method=method,  # noqa: S310 - http(s) URL we build
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise CommandError(f"the simulator refused: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CommandError(f"cannot reach the SMSC simulator at {base} ({getattr(exc, 'reason', exc)}); "
                               "start it with `ropsms smsc-sim` or `ropsms run`") from None
