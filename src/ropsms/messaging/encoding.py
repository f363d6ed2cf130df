"""Choose an SMS encoding and split text into parts that each fit one SMS.

GSM 03.38 (7-bit) when every character is in the default alphabet or its extension table
(extension characters cost two septets: ESC + char); otherwise UCS-2 (UTF-16BE), so Arabic works.
Limits per part: 160 septets alone / 153 with a concatenation UDH; 70 / 67 UTF-16 code units.
A GSM escape pair or a UTF-16 surrogate pair is never cut in two. The character tables come from
the `gsm0338` package, which also provides the codec the transport uses to encode the bytes.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from gsm0338.charset import BASIC_CHARACTER_SET, BASIC_CHARACTER_SET_EXTENSION

Encoding = Literal["gsm", "ucs2"]
GSM_CODEC = "gsm03.38"
LIMITS: dict[str, tuple[int, int]] = {"gsm": (160, 153), "ucs2": (70, 67)}
DATA_CODING = {"gsm": 0x00, "ucs2": 0x08}


class TooManyParts(ValueError):
    """The text would need more parts than allowed."""


@lru_cache(maxsize=1)
def gsm_costs() -> dict[str, int]:
    """Septets each GSM-encodable character costs: 1 in the default alphabet, 2 in the extension."""
    import unicodedata

    costs = {unicodedata.lookup(name): 2 for key, name in BASIC_CHARACTER_SET_EXTENSION.items() if key != 0x1B}
    # The escape code itself is not a character a user can send; it only prefixes extension chars.
    for key, name in BASIC_CHARACTER_SET.items():
        if key == 0x1B:
            continue
        try:
            costs[unicodedata.lookup(name)] = 1
        except KeyError:  # a control name unicodedata does not know
            continue
    return costs


def fits_gsm(text: str) -> bool:
    costs = gsm_costs()
    return all(ch in costs for ch in text)


def choose_encoding(text: str) -> Encoding:
    return "gsm" if fits_gsm(text) else "ucs2"


def _units(text: str, encoding: Encoding) -> list[tuple[str, int]]:
    """Split text into unbreakable units with their cost in the encoding's counting unit."""
    if encoding == "gsm":
        costs = gsm_costs()
        return [(ch, costs[ch]) for ch in text]
    # UCS-2 on the wire is UTF-16: a character outside the BMP is a surrogate pair (2 units).
    return [(ch, 2 if ord(ch) > 0xFFFF else 1) for ch in text]


def length(text: str, encoding: Encoding | None = None) -> int:
    """Length in septets (GSM) or UTF-16 code units (UCS-2)."""
    encoding = encoding or choose_encoding(text)
    if encoding == "gsm":
        costs = gsm_costs()
        return sum(costs[ch] for ch in text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


@dataclass(frozen=True, slots=True)
class Split:
    encoding: Encoding
    parts: list[str]
    units: int  # septets or UTF-16 units in the whole text

    @property
    def data_coding(self) -> int:
        return DATA_CODING[self.encoding]


def split(text: str, *, max_parts: int | None = None, encoding: Encoding | None = None) -> Split:
    """Pick the encoding and cut the text into parts; raise `TooManyParts` above `max_parts`."""
    encoding = encoding or choose_encoding(text)
    single, multi = LIMITS[encoding]
    total = length(text, encoding)
    if total <= single:
        parts = [text]
    else:
        parts, current, used = [], [], 0
        for ch, cost in _units(text, encoding):
            if used + cost > multi:
                parts.append("".join(current))
                current, used = [], 0
            current.append(ch)
            used += cost
        if current:
            parts.append("".join(current))
    if max_parts is not None and len(parts) > max_parts:
        raise TooManyParts(
            f"The text is too long: it needs {len(parts)} SMS parts ({total} "
            f"{'characters' if encoding == 'gsm' else 'UCS-2 characters'}) and at most {max_parts} are allowed."
        )
    return Split(encoding=encoding, parts=parts, units=total)


def encode(text: str, encoding: Encoding) -> bytes:
    """The octets of a part as they go into short_message (unpacked GSM septets, or UTF-16BE)."""
    if encoding == "gsm":
        return codecs.encode(text, GSM_CODEC)
    return text.encode("utf-16-be")


def decode(data: bytes, encoding: Encoding) -> str:
    if encoding == "gsm":
        return codecs.decode(data, GSM_CODEC)
    return data.decode("utf-16-be")
