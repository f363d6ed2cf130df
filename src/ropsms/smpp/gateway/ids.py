"""Operator message ids: one canonical form, plus the other readings a receipt may use.

SMSCs are inconsistent: the submit_sm_resp may say `0001A2F` and the receipt `1a2f`, or one side
gives hex and the other the same number in decimal. We store and key ids by `normalise()` and, when
an exact match fails, try `variants()` (hex read as decimal and decimal read as hex).
"""

from __future__ import annotations

_HEX = frozenset("0123456789abcdef")


def normalise(value: str | bytes | None) -> str:
    """Lower-case, surrounding blanks and NULs removed, leading zeros stripped ("000" -> "0")."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    text = value.strip().strip("\x00").strip().lower()
    stripped = text.lstrip("0")
    return stripped or ("0" if text else "")


def variants(value: str | bytes | None) -> tuple[str, ...]:
    """The normalised id first, then its hex<->decimal readings (no duplicates)."""
    norm = normalise(value)
    if not norm:
        return ()
    out = [norm]
    if len(norm) <= 32 and set(norm) <= _HEX:
        as_decimal = str(int(norm, 16))
        if as_decimal not in out:
            out.append(as_decimal)
        if norm.isdigit():
            as_hex = format(int(norm), "x")
            if as_hex not in out:
                out.append(as_hex)
    return tuple(out)


def readings(value: str | bytes | None) -> list[tuple[str, str]]:
    """Like `variants()` but says which reading each is: "exact", "hex2dec" or "dec2hex".

    The correlator learns, per operator, which reading its receipts use, so a decimal id is not
    matched to the message whose hex id happens to have the same digits.
    """
    norm = normalise(value)
    if not norm:
        return []
    out = [("exact", norm)]
    if len(norm) <= 32 and set(norm) <= _HEX:
        as_decimal = str(int(norm, 16))
        if as_decimal != norm:
            out.append(("hex2dec", as_decimal))
        if norm.isdigit():
            as_hex = format(int(norm), "x")
            if as_hex != norm:
                out.append(("dec2hex", as_hex))
    return out
