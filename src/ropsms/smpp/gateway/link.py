"""The thin socket layer: one TCP (or TLS) connection carrying one `Session`, reconnecting forever.

It reads bytes, feeds the decoder and the session, writes what the session answers and passes
the session's events to its owner (`BindRunner`). Reconnects use exponential backoff with jitter;
a broken stream (impossible length) closes the link, an unreadable PDU only earns a generic_nack.

TLS: `tls_context()` builds the client context from the bind's own files (a private CA bundle, a
client certificate for mutual TLS). It is rebuilt on every connection attempt, so a renewed
certificate is picked up at the next reconnect, and a missing file is a logged, retried link
failure (with back-off) rather than a crash: the outbox keeps the messages meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ropsms.smpp.gateway.session import Closed, Session
from ropsms.smpp.gateway.session import State as SessionState
from ropsms.smpp.pdu import Pdu, PduDecoder, PduStreamError, encode

log = logging.getLogger("ropsms.smpp.gateway")

TICK = 0.25


class TlsSetupError(OSError):
    """The bind's TLS files cannot be used; the message names the setting and the file."""


def _readable(setting: str, path: str) -> str:
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise TlsSetupError(f"{setting} {path!r} cannot be read: {exc.strerror or exc}") from None
    return path


def _no_password() -> bytes:
    raise TlsSetupError("the key file is encrypted; give an unencrypted key (readable only by the gateway user)")


def tls_context(*, ca_file: str = "", cert_file: str = "", key_file: str = "") -> ssl.SSLContext:
    """A client context that always verifies the SMSC's certificate and host name.

    `ca_file` empty trusts the system's CAs; given, only that PEM bundle (an operator's private CA).
    `cert_file` + `key_file` present a client certificate (mutual TLS).
    """
    cafile = _readable("tls_ca_file", ca_file) if ca_file else None
    try:
        context = ssl.create_default_context(cafile=cafile)
    except ssl.SSLError as exc:
        raise TlsSetupError(f"tls_ca_file {ca_file!r} holds no usable PEM CA certificate: {exc}") from None
    if cert_file or key_file:
        if not (cert_file and key_file):
            raise TlsSetupError("tls_cert_file and tls_key_file go together (both or neither)")
        _readable("tls_cert_file", cert_file)
        _readable("tls_key_file", key_file)
        try:
            context.load_cert_chain(cert_file, key_file, password=_no_password)
        except ssl.SSLError as exc:
            raise TlsSetupError(f"tls_cert_file {cert_file!r} / tls_key_file {key_file!r} are not a matching "
                                f"PEM certificate and key: {exc}") from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class Link:
    """One connection of a bind (a transceiver, or one half of a transmitter/receiver pair)."""

    def __init__(self, *, name: str, mode: str, host: str, port: int, tls: bool,
                 make_session: Callable[[str], Session], on_event: Callable[[Link, Any], None],
                 on_down: Callable[[Link, list], None], on_reconnect: Callable[[Link], None],
                 backoff_min: float, backoff_max: float, connect_timeout: float, tls_ca_file: str = "",
                 tls_cert_file: str = "", tls_key_file: str = "", tls_server_name: str = "") -> None:
        self.name, self.mode, self.host, self.port, self.tls = name, mode, host, port, tls
        self.tls_files = {"ca_file": tls_ca_file, "cert_file": tls_cert_file, "key_file": tls_key_file}
        self.tls_server_name = tls_server_name
        self._make_session, self._on_event, self._on_down = make_session, on_event, on_down
        self._on_reconnect = on_reconnect
        self.backoff_min, self.backoff_max = max(0.05, backoff_min), max(backoff_min, backoff_max)
        self.connect_timeout = connect_timeout
        self.session: Session | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._served = asyncio.Event()
        self.connects = 0
        self.last_error = ""  # why the link last went down (shown with the bind's status, in the admin)
        self.last_error_at: datetime | None = None
        self._out: list[bytes] = []

    @property
    def bound(self) -> bool:
        return self.session is not None and self.session.state is SessionState.BOUND

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"link {self.name}/{self.mode}")

    def write(self, data: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    def send_soon(self, data: bytes) -> None:
        """Queue bytes and write everything queued in this loop iteration with one call."""
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush_out)
        self._out.append(data)

    def _flush_out(self) -> None:
        out, self._out = self._out, []
        if out:
            self.write(b"".join(out))

    def send(self, pdus: list[Pdu]) -> None:
        if pdus:
            self.write(b"".join(encode(p) for p in pdus))

    async def drain(self) -> None:
        writer = self._writer
        if writer is not None and not writer.is_closing():
            with contextlib.suppress(ConnectionError, OSError):
                await writer.drain()

    async def close(self, *, unbind: bool = True, timeout: float = 3.0) -> None:
        """Unbind politely (if bound), wait briefly for unbind_resp, then close for good."""
        self._stopping = True
        session = self.session
        if unbind and session is not None and session.state is SessionState.BOUND:
            self._served.clear()
            self.send([p for p in [session.unbind(time.monotonic())] if p is not None])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._served.wait(), timeout)
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        backoff = self.backoff_min
        while not self._stopping:
            was_bound = False
            reason = "closed"
            try:
                was_bound = await self._serve()
            except asyncio.CancelledError:
                reason = "stopped"
                self._lost(reason)
                raise
            except PduStreamError as exc:
                reason = f"unframeable stream: {exc}"
            except TlsSetupError as exc:
                reason = f"TLS setup failed: {exc}"
                log.error("bind %s/%s: TLS setup failed: %s", self.name, self.mode, exc)
            except ssl.SSLCertVerificationError as exc:
                reason = (f"the SMSC's TLS certificate was not accepted ({exc.verify_message}); "
                          "check tls_ca_file and tls_server_name")
                log.error("bind %s/%s: %s", self.name, self.mode, reason)
            except (OSError, EOFError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # a bug must not end the reconnect loop
                log.exception("bind %s/%s: unexpected error", self.name, self.mode)
                reason = repr(exc)
            self._lost(reason)
            if self._stopping:
                break
            self.last_error, self.last_error_at = reason[:300], datetime.now(UTC)
            if was_bound:
                backoff = self.backoff_min
            delay = backoff * random.uniform(0.5, 1.0)
            backoff = min(self.backoff_max, backoff * 2)
            log.warning("bind %s/%s: link down (%s); reconnecting in %.1fs", self.name, self.mode, reason, delay)
            self._on_reconnect(self)
            await asyncio.sleep(delay)

    def _lost(self, reason: str) -> None:
        self._out = []
        session, self.session = self.session, None
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        self._served.set()
        if session is not None:
            self._on_down(self, session.abort(reason))

    async def _serve(self) -> bool:
        """One connection's life. Returns whether it got bound."""
        tls: dict[str, Any] = {}
        if self.tls:
            tls = {"ssl": tls_context(**self.tls_files), "server_hostname": self.tls_server_name or self.host}
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, **tls), self.connect_timeout)
        self.connects += 1
        session = self._make_session(self.mode)
        self.session, self._writer = session, writer
        self.send([session.bind(time.monotonic())])
        ticker = asyncio.create_task(self._tick(session))
        decoder = PduDecoder()
        bound = False
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    hint = ""
                    if self.tls and not bound:
                        hint = (" before bind_resp (over TLS: if the SMSC requires a client certificate, "
                                "set tls_cert_file and tls_key_file)")
                    raise EOFError(f"connection closed by the SMSC{hint}")
                now = time.monotonic()
                out: list[Pdu] = []
                for item in decoder.feed(data):
                    pdus, events = session.receive(item, now)
                    out.extend(pdus)
                    for event in events:
                        self._dispatch(event)
                if out:
                    self.send(out)
                bound = bound or session.state is SessionState.BOUND
                if session.state is SessionState.CLOSED:
                    return bound
        finally:
            ticker.cancel()

    def _dispatch(self, event: Any) -> None:
        try:
            self._on_event(self, event)
        except Exception:  # one bad event must not stop the link
            log.exception("bind %s/%s: error handling %s", self.name, self.mode, type(event).__name__)
        if isinstance(event, Closed):
            log.info("bind %s/%s: %s", self.name, self.mode, event.reason)

    async def _tick(self, session: Session) -> None:
        while True:
            await asyncio.sleep(TICK)
            pdus, events = session.tick(time.monotonic())
            self.send(pdus)
            for event in events:
                self._dispatch(event)
            if session.state is SessionState.CLOSED and self._writer is not None:
                self._writer.close()
                return
