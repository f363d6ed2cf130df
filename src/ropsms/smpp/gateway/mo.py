"""Reassemble concatenated MO messages (UDH 8/16-bit references and sar_* TLVs), sans-I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

from ropsms.smpp.pdu import Pdu, decode_short_message, split_udh


@dataclass(slots=True)
class MoMessage:
    source: str
    destination: str
    text: str
    parts: int = 1


@dataclass(slots=True)
class _Pending:
    started: float
    total: int
    texts: dict[int, str] = field(default_factory=dict)


class MoAssembler:
    """Feed each MO deliver_sm; get a MoMessage when a message is complete."""

    def __init__(self, *, timeout: float = 300.0) -> None:
        self.timeout = timeout
        self._pending: dict[tuple[str, str, int, int], _Pending] = {}

    def add(self, pdu: Pdu, now: float) -> MoMessage | None:
        params, tlvs = pdu.params, pdu.tlvs
        source = params.get("source_addr", "") or ""
        if params.get("source_addr_ton") == 1 and source.isdigit():
            source = "+" + source  # international number: keep its country code
        destination = params.get("destination_addr", "") or ""
        data = params.get("short_message") or tlvs.get("message_payload") or b""
        coding = params.get("data_coding", 0) or 0
        info = None
        if (params.get("esm_class", 0) or 0) & 0x40:
            info, data = split_udh(data)
        if info is None and "sar_msg_ref_num" in tlvs and "sar_total_segments" in tlvs:
            info = {"ref": tlvs["sar_msg_ref_num"], "total": tlvs["sar_total_segments"],
                    "seq": tlvs.get("sar_segment_seqnum", 1)}
        text = decode_short_message(data, coding)
        if info is None or info["total"] <= 1:
            return MoMessage(source, destination, text)
        key = (source, destination, info["ref"], info["total"])
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(now, info["total"])
        pending.texts[info["seq"]] = text
        if len(pending.texts) < pending.total:
            return None
        del self._pending[key]
        return MoMessage(source, destination, "".join(pending.texts[i] for i in sorted(pending.texts)),
                         pending.total)

    def expire(self, now: float) -> list[MoMessage]:
        """Incomplete messages older than the timeout, delivered as far as they got (never lost)."""
        out = []
        for key, pending in list(self._pending.items()):
            if now - pending.started > self.timeout:
                del self._pending[key]
                out.append(MoMessage(key[0], key[1], "".join(pending.texts[i] for i in sorted(pending.texts)),
                                     len(pending.texts)))
        return out
