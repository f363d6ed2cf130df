"""A minimal asyncio ESME on `ropsms.smpp.pdu`, for tests of the simulator and of SMPP servers.

Not the gateway: no windowing, retries or persistence; just enough to drive a server over TCP.

    esme = await TestEsme.connect("127.0.0.1", sim.port)
    resp = await esme.bind("transceiver", "ropsms", "secret")
    resps = await esme.submit("91234567", "مرحبا")     # split, UDH, UCS-2 as needed
    receipt = await esme.next_pdu("deliver_sm")          # answered with deliver_sm_resp automatically
    await esme.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from ropsms.smpp.pdu import BadPdu, Pdu, PduDecoder, PduStreamError, concat_udh, encode


class TestEsme:
    __test__ = False  # not a pytest test class

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, auto_ack: bool = True):
        self.reader, self.writer = reader, writer
        self.auto_ack = auto_ack
        self.decoder = PduDecoder()
        self.inbox: asyncio.Queue[Pdu | BadPdu] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.seen: list[str] = []  # every PDU received, in arrival order (command name or "bad")
        self._seq = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, host: str, port: int, **kw: Any) -> TestEsme:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, **kw)

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                for item in self.decoder.feed(data):
                    self.seen.append(item.command if isinstance(item, Pdu) else "bad")
                    if isinstance(item, Pdu) and item.is_response and item.sequence in self._waiting:
                        fut = self._waiting.pop(item.sequence)
                        if not fut.done():
                            fut.set_result(item)
                        continue
                    if self.auto_ack and isinstance(item, Pdu) and item.command in ("deliver_sm", "enquire_link"):
                        self.send(item.response(**({"message_id": ""} if item.command == "deliver_sm" else {})))
                    elif self.auto_ack and isinstance(item, BadPdu):
                        self.send(item.nack())
                    await self.inbox.put(item)
        except (ConnectionError, PduStreamError):
            pass
        finally:
            self.closed.set()
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    def send(self, pdu: Pdu) -> None:
        self.writer.write(encode(pdu))

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def request(self, pdu: Pdu, timeout: float = 5.0) -> Pdu:
        """Send a request and wait for the response with the same sequence number."""
        if not pdu.sequence:
            pdu.sequence = next(self._seq)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[pdu.sequence] = fut
        self.send(pdu)
        return await asyncio.wait_for(fut, timeout)

    async def bind(self, mode: str = "transceiver", system_id: str = "ropsms", password: str = "secret") -> Pdu:  # noqa: S107 - the demo bind
        return await self.request(Pdu(f"bind_{mode}", 0, params={
            "system_id": system_id, "password": password, "interface_version": 0x34}))

    def submit_pdus(self, destination: str, text: str, *, source: str = "90085", registered_delivery: int = 1,
                    concat: str = "udh", ref: int = 42) -> list[Pdu]:
        from ropsms.messaging import encoding

        split = encoding.split(text)
        total = len(split.parts)
        out = []
        for i, part in enumerate(split.parts, start=1):
            body = encoding.encode(part, split.encoding)
            params = {"source_addr_ton": 5, "source_addr": source, "dest_addr_ton": 1, "dest_addr_npi": 1,
                      "destination_addr": destination, "registered_delivery": registered_delivery,
                      "data_coding": split.data_coding, "short_message": body}
            tlvs: dict[str, Any] = {}
            if total > 1 and concat == "udh":
                params["esm_class"] = 0x40
                params["short_message"] = concat_udh(ref, total, i) + body
            elif total > 1:
                tlvs = {"sar_msg_ref_num": ref, "sar_total_segments": total, "sar_segment_seqnum": i}
            out.append(Pdu("submit_sm", 0, params=params, tlvs=tlvs))
        return out

    async def submit(self, destination: str, text: str, **kw: Any) -> list[Pdu]:
        """Submit a text (split as the gateway would); return the submit_sm_resp of every part."""
        return [await self.request(p) for p in self.submit_pdus(destination, text, **kw)]

    async def next_pdu(self, command: str | None = None, timeout: float = 5.0) -> Pdu | BadPdu:
        """The next PDU the server sent us (optionally: the next with this command), skipping others."""
        async with asyncio.timeout(timeout):
            while True:
                item = await self.inbox.get()
                if command is None or (isinstance(item, Pdu) and item.command == command):
                    return item

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
