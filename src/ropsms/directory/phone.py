"""Mobile numbers: parse what people type, validate with `phonenumbers`, store E.164.

Omani numbers are accepted the way people write them: `91234567`, `9123 4567`, `+968 9123 4567`,
`0096891234567`, `96891234567`, in Latin, Arabic-Indic or Persian digits. The common case (an
Omani mobile) takes a regex fast path built from phonenumbers' own metadata, so bulk sends do not
pay for a full parse per row; everything else goes through `phonenumbers.parse`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from django.conf import settings
from phonenumbers import PhoneNumberType

# Arabic-Indic (U+0660..0669) and extended/Persian (U+06F0..06F9) digits to ASCII.
_DIGITS = {**{0x0660 + i: str(i) for i in range(10)}, **{0x06F0 + i: str(i) for i in range(10)}}
_SEPARATORS = re.compile(r"[\s\-\.\(\)\u200e\u200f\u202a-\u202e\u00a0]")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


class InvalidNumber(ValueError):
    """A number that cannot be used as an SMS destination, with a message a clerk understands."""


@dataclass(frozen=True, slots=True)
class MobileNumber:
    """A validated mobile number in E.164 form (`+96891234567`)."""

    e164: str

    def __str__(self) -> str:
        return self.e164

    @property
    def national(self) -> str:
        """The national form (`91234567` for an Omani number), for display to local users."""
        cc = "+" + _country_code()
        return self.e164[len(cc):] if self.e164.startswith(cc) else self.e164

    @property
    def is_local(self) -> bool:
        return self.e164.startswith("+" + _country_code())


def to_ascii_digits(text: str) -> str:
    """Replace Arabic-Indic and Persian digits with ASCII ones; leave everything else."""
    return text.translate(_DIGITS)


@lru_cache(maxsize=1)
def _country_code() -> str:
    return str(settings.ROPSMS["COUNTRY_CODE"])


@lru_cache(maxsize=1)
def _local_mobile_re() -> re.Pattern[str]:
    """Regex for a local mobile's national number, taken from phonenumbers' metadata."""
    meta = phonenumbers.PhoneMetadata.metadata_for_region(settings.ROPSMS["REGION"])
    return re.compile(rf"(?:{meta.mobile.national_number_pattern})")


def _clean(raw: str) -> str:
    return _SEPARATORS.sub("", to_ascii_digits(str(raw)).strip())


def parse_mobile(raw: str, *, allow_foreign: bool = False) -> MobileNumber:
    """Parse a number as typed and return it in E.164, or raise `InvalidNumber`.

    Local numbers must be mobile numbers (SMS cannot reach a fixed line). Foreign numbers are
    refused unless the caller allows them (e.g. an API client with international sending).
    """
    if raw is None or not str(raw).strip():
        raise InvalidNumber("The mobile number is empty.")
    cleaned = _clean(raw)
    cc = _country_code()
    digits = cleaned
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    else:
        digits = digits if digits.startswith(cc) and len(digits) > 8 else cc + digits
    if digits.isdigit() and digits.startswith(cc):
        national = digits[len(cc):]
        if _local_mobile_re().fullmatch(national):
            return MobileNumber("+" + digits)
    return _parse_slow(str(raw).strip(), cleaned, allow_foreign)


@lru_cache(maxsize=65536)
def _parse_slow(raw: str, cleaned: str, allow_foreign: bool) -> MobileNumber:
    region = settings.ROPSMS["REGION"]
    candidate = "+" + cleaned[2:] if cleaned.startswith("00") else cleaned
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        raise InvalidNumber(f"'{raw}' is not a valid mobile number.") from None
    is_local = number.country_code == int(_country_code())
    if is_local:
        if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in _MOBILE_TYPES:
            raise InvalidNumber(
                f"'{raw}' is not a valid Omani mobile number: it must have 8 digits and start with 7 or 9."
            )
    else:
        if not allow_foreign:
            raise InvalidNumber(f"'{raw}' is a foreign number; only Omani mobile numbers are accepted here.")
        if not phonenumbers.is_valid_number(number):
            raise InvalidNumber(f"'{raw}' is not a valid mobile number.")
        if phonenumbers.number_type(number) not in _MOBILE_TYPES:
            raise InvalidNumber(f"'{raw}' is not a mobile number, so it cannot receive SMS.")
    return MobileNumber(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def is_valid_mobile(raw: str, *, allow_foreign: bool = False) -> bool:
    try:
        parse_mobile(raw, allow_foreign=allow_foreign)
    except InvalidNumber:
        return False
    return True
