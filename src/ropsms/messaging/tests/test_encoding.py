"""Encoding and splitting as properties: any text splits into parts that fit and join back."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ropsms.messaging import encoding
from ropsms.messaging.encoding import LIMITS, TooManyParts, choose_encoding, decode, encode, gsm_costs, split

GSM_CHARS = sorted(gsm_costs())
EXTENSION_CHARS = [c for c, cost in gsm_costs().items() if cost == 2]

texts = st.one_of(
    st.text(alphabet=st.sampled_from(GSM_CHARS), min_size=1, max_size=1600),
    st.text(alphabet=st.sampled_from([*EXTENSION_CHARS, "a", "b"]), min_size=1, max_size=900),
    st.text(min_size=1, max_size=700),  # anything: Arabic, emoji (surrogate pairs), controls
    st.text(alphabet=st.sampled_from("مرحبا بكم في شرطة عمان السلطانية ٠١٢٣٤٥٦٧٨٩😀€"), min_size=1, max_size=700),
)


def octet_cost(part: str, enc: str) -> int:
    data = encode(part, enc)
    return len(data) if enc == "gsm" else len(data) // 2  # septets (one per octet unpacked) / UTF-16 units


@settings(max_examples=300, deadline=None)
@given(texts)
def test_parts_join_back_and_fit(text):
    result = split(text)
    single, multi = LIMITS[result.encoding]
    assert "".join(result.parts) == text
    limit = single if len(result.parts) == 1 else multi
    for part in result.parts:
        assert part, "no empty parts"
        # Each part survives its own encoding round trip: no cut escape pair or surrogate pair.
        assert decode(encode(part, result.encoding), result.encoding) == part
        assert octet_cost(part, result.encoding) <= limit


@settings(max_examples=200, deadline=None)
@given(texts)
def test_gsm_chosen_exactly_when_every_character_fits(text):
    fits = all(c in gsm_costs() for c in text)
    assert (choose_encoding(text) == "gsm") == fits


@pytest.mark.parametrize(("text", "enc", "parts"), [
    ("a" * 160, "gsm", 1),
    ("a" * 161, "gsm", 2),
    ("a" * 306, "gsm", 2),
    ("a" * 307, "gsm", 3),
    ("€" * 80, "gsm", 1),  # 160 septets
    ("€" * 81, "gsm", 2),
    ("م" * 70, "ucs2", 1),
    ("م" * 71, "ucs2", 2),
    ("م" * 134, "ucs2", 2),
    ("م" * 135, "ucs2", 3),
])
def test_limits(text, enc, parts):
    result = split(text)
    assert (result.encoding, len(result.parts)) == (enc, parts)


def test_escape_pair_never_cut():
    text = "a" * 152 + "€" + "b" * 20
    parts = split(text).parts
    assert parts[0] == "a" * 152 and parts[1].startswith("€")


def test_surrogate_pair_never_cut():
    text = "م" * 66 + "😀" + "x" * 20
    parts = split(text).parts
    assert parts[0] == "م" * 66 and parts[1].startswith("😀")


def test_part_cap():
    with pytest.raises(TooManyParts, match="at most 3"):
        split("a" * 1000, max_parts=3)
    assert len(encoding.split("a" * 459, max_parts=3).parts) == 3
