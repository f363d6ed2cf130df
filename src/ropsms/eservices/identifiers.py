"""Identifier formats (ARCHITECTURE.md "Local facts"): default parameter patterns and canonical forms.

Patterns apply to the *normalised* parameter (see `normalize`): lower case, ASCII digits, Arabic
letters without variants, single spaces. Each `Command` carries its own pattern (pre-filled from
these defaults, editable in the admin); named groups become the query parameters, and a group whose
name ends in `_b` is an alternative spelling of the group without it (e.g. letters before digits).
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings

from ropsms.ops.audit import mask

_AR = "\u0621-\u064a"
PLATE = (rf"^(?:(?P<number>\d{{1,5}}) ?(?P<letters>[a-z]{{1,2}}|[{_AR}] ?[{_AR}]?)"
         rf"|(?P<letters_b>[a-z]{{1,2}}|[{_AR}] ?[{_AR}]?) ?(?P<number_b>\d{{1,5}}))$")
CIVIL_ID = r"^(?P<civil_id>\d{1,9})$"
CR_NUMBER = r"^(?P<cr_number>\d{7})$"
VISA_APPLICATION = r"^(?P<application>[a-z0-9]{6,16}) (?P<passport>[a-z0-9]{6,12})$"
FREE_TEXT = r"^(?P<text>.+)$"

# Arabic plate letters (after normalisation) and their Latin codes on Omani plates.
PLATE_LETTERS = {
    "ا": "A", "ب": "B", "ج": "J", "د": "D", "ه": "H", "و": "W", "ر": "R", "س": "S", "ط": "T",
    "ع": "E", "ك": "K", "ل": "L", "م": "M", "ن": "N", "ي": "Y", "ص": "C", "ف": "F", "ق": "Q", "ز": "Z",
}


def canonical(params: dict[str, str | None]) -> dict[str, str]:
    """Merge `_b` alternatives, turn plate letters into their Latin code, upper-case identifiers."""
    out: dict[str, str] = {}
    for name, value in params.items():
        if value is None:
            continue
        base = name[:-2] if name.endswith("_b") else name
        if out.get(base):
            continue
        if base == "letters":
            value = "".join(PLATE_LETTERS.get(c, c) for c in value.replace(" ", "")).upper()
        elif base in {"application", "passport"}:
            value = value.upper()
        out[base] = value
    return out


def masked(params: dict[str, str]) -> str:
    """For logs and the exchange record: never the identifier in clear."""
    if "text" in params:
        return f"<{len(params['text'])} chars>"
    return " ".join(mask(v, keep=2) for k, v in params.items())[:60]


def fingerprint(params: dict[str, str]) -> str:
    """A keyed hash of the identifier: counts distinct identifiers a number asks about, reveals none."""
    raw = "|".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "text")
    if not raw:
        return ""
    return hmac.new(settings.SECRET_KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()[:24]
