"""The simulator's web port: the "virtual phones" page and a small JSON control API.

A deliberately tiny HTTP/1.1 server on asyncio streams (stdlib only, one request per connection),
running in the simulator's own event loop so the API sees the live state without locks.

    GET  /                        the virtual phones page
    GET  /api/phones              numbers with a conversation, most recent first
    GET  /api/phones/{msisdn}     that number's conversation (?since=<entry id> for new ones only)
    POST /api/mo                  {"from": "91234567", "text": "...", "to": "90085", "concat": "udh|sar"}
    GET  /api/faults              current behaviour switches
    POST /api/faults              {"throttle_tps": 10, "receipt_before_resp": true, "drop_now": true,
                                   "malformed": 2, "malformed_kind": "bad_tlv", "outcomes": {...}, ...}
    GET  /api/stats               counters
    GET  /api/sessions            bound ESMEs
    POST /api/reset               forget phones, counters and pending receipts

POST bodies must be JSON with `Content-Type: application/json`: a browser cannot send that
cross-origin without a CORS preflight (which this server never grants), so another web page
cannot drive the simulator. It listens on 127.0.0.1 by default and is a development tool.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from .config import ConfigError
from .phones import canonical_number
from .smsc import NoGatewayBound

if TYPE_CHECKING:
    from .smsc import Simulator

log = logging.getLogger("ropsms.smpp.simulator.web")
HERE = Path(__file__).resolve().parent
STATIC = {
    "phones.css": ("text/css; charset=utf-8", HERE / "static" / "phones.css"),
    "phones.js": ("text/javascript; charset=utf-8", HERE / "static" / "phones.js"),
}
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           413: "Payload Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error"}
MAX_BODY = 256 * 1024


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class WebServer:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._server: asyncio.base_events.Server | None = None

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._handle, host, port, reuse_address=True)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                status, ctype, payload = await asyncio.wait_for(self._request(reader), timeout=15)
            except HttpError as exc:
                status, ctype, payload = exc.status, "application/json", _json({"error": exc.message})
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
                return
            except Exception:  # a bug must not take the simulator down
                log.exception("web request failed")
                status, ctype, payload = 500, "application/json", _json({"error": "internal error"})
            head = (
                f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}\r\n"
                f"Content-Type: {ctype}\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n"
                "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                "Referrer-Policy: same-origin\r\n"
                "Content-Security-Policy: default-src 'self'; img-src 'self' data:; frame-ancestors 'none'\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + payload)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            raise HttpError(400, "malformed request line") from None
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        length = _int(headers.get("content-length") or 0, "Content-Length")
        if length > MAX_BODY:
            raise HttpError(413, f"request body larger than {MAX_BODY} bytes")
        body = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        return self.route(method, unquote(url.path), parse_qs(url.query), headers, body)

    # ------------------------------------------------------------------ routing
    def route(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[int, str, bytes]:
        sim = self.sim
        if method == "GET":
            if path in ("/", "/phones"):
                return 200, "text/html; charset=utf-8", self._page()
            if path.startswith("/static/") and path[8:] in STATIC:
                ctype, file = STATIC[path[8:]]
                return 200, ctype, file.read_bytes()
            if path == "/api/phones":
                return _ok({"phones": sim.phones.numbers()})
            if path.startswith("/api/phones/"):
                number = canonical_number(path[len("/api/phones/"):], sim.config.country_code)
                since = _int(query.get("since", ["0"])[0], "since")
                entries = sim.phones.conversation(number, since)
                return _ok({"msisdn": number, "messages": [e.as_dict() for e in entries]})
            if path == "/api/faults":
                return _ok(sim.config.runtime_dict())
            if path == "/api/stats":
                return _ok(sim.snapshot())
            if path == "/api/sessions":
                return _ok({"sessions": sim.bound_sessions()})
            if path == "/api/health":
                return _ok({"ok": True, "smpp_port": sim.port})
            raise HttpError(404, f"no such page: {path}")
        if method != "POST":
            raise HttpError(405, "use GET or POST")
        if not headers.get("content-type", "").startswith("application/json"):
            raise HttpError(415, "send JSON with Content-Type: application/json")
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise HttpError(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise HttpError(400, "the body must be a JSON object")
        if path == "/api/mo":
            return self._mo(data)
        if path == "/api/faults":
            return self._faults(data)
        if path == "/api/reset":
            sim.reset()
            return _ok({"ok": True})
        raise HttpError(404, f"no such endpoint: POST {path}")

    def _mo(self, data: dict[str, Any]) -> tuple[int, str, bytes]:
        sender = str(data.get("from") or "").strip()
        text = data.get("text")
        if not sender or not isinstance(text, str) or not text.strip():
            raise HttpError(400, 'give "from" (the phone number) and "text"')
        concat = data.get("concat", "udh")
        if concat not in ("udh", "sar"):
            raise HttpError(400, 'concat must be "udh" or "sar"')
        try:
            entry = self.sim.send_mo(sender, text, to=(str(data["to"]) if data.get("to") else None),
                                     system_id=data.get("system_id"), concat=concat)
        except NoGatewayBound as exc:
            raise HttpError(409, f"{exc}: start the gateway (ropsms gateway) and try again") from None
        except ValueError as exc:  # no digits, or TooManyParts
            raise HttpError(400, str(exc)) from None
        msisdn = canonical_number(sender, self.sim.config.country_code)
        return _ok({"ok": True, "msisdn": msisdn, "entry": entry.as_dict()})

    def _faults(self, data: dict[str, Any]) -> tuple[int, str, bytes]:
        sim = self.sim
        data = dict(data)
        actions: dict[str, Any] = {}
        if data.pop("drop_now", False):
            actions["dropped"] = sim.drop_all()
        malformed = data.pop("malformed", 0)
        kind = data.pop("malformed_kind", "mixed")
        if kind not in ("mixed", "unknown_command", "bad_tlv", "bad_length"):
            raise HttpError(400, "malformed_kind must be mixed, unknown_command, bad_tlv or bad_length")
        if malformed:
            actions["malformed_sent"] = sim.send_malformed(_int(malformed, "malformed"), kind)
        try:
            current = sim.set_faults(**data) if data else sim.config.runtime_dict()
        except (ConfigError, TypeError) as exc:
            raise HttpError(400, str(exc)) from None
        return _ok({**current, **actions})

    def _page(self) -> bytes:
        html = (HERE / "templates" / "phones.html").read_text(encoding="utf-8")
        return html.replace("{{ short_code }}", self.sim.config.short_code).encode("utf-8")


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")


def _ok(data: Any) -> tuple[int, str, bytes]:
    return 200, "application/json; charset=utf-8", _json(data)


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HttpError(400, f"{name} must be a whole number") from None
