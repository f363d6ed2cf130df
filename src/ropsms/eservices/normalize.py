"""Make what people type comparable: case, spacing, punctuation, digits and Arabic letter variants.

`normalize("  مُخالفـــات  ١٢٣٤٥ أ.ب ")` -> `"مخالفات 12345 ا ب"`. Keywords in the configuration are
normalised the same way, so matching is a plain comparison of token lists.
"""

from __future__ import annotations

import re
import unicodedata

from ropsms.directory.phone import to_ascii_digits

_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed]")
_TATWEEL = "\u0640"
_LETTERS = str.maketrans({
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",  # alef variants
    "ى": "ي", "ی": "ي", "ئ": "ي",  # alef maqsura, Persian ya, ya with hamza
    "ة": "ه",  # ta marbuta
    "ؤ": "و",
    "ک": "ك",  # Persian kaf
    "٫": ".", "،": ",", "؛": ";", "؟": "?",
})
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_ARABIC_LETTER = re.compile("[\u0621-\u064a\u066e-\u06d3]")
_LATIN_LETTER = re.compile("[A-Za-z]")


def normalize(text: str) -> str:
    """Lower case, ASCII digits, Arabic letters without diacritics/tatweel and with one alef, ya, ha;
    punctuation becomes a space; runs of spaces become one."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    text = to_ascii_digits(text).replace(_TATWEEL, "")
    text = _DIACRITICS.sub("", text).translate(_LETTERS).casefold()
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    return " ".join(text.split())


def has_arabic(text: str) -> bool:
    return bool(_ARABIC_LETTER.search(text or ""))


def has_latin(text: str) -> bool:
    return bool(_LATIN_LETTER.search(text or ""))
