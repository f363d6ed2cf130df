import pytest

from ropsms.directory.phone import InvalidNumber, MobileNumber, parse_mobile

GOOD = [
    ("91234567", "+96891234567"),
    ("9123 4567", "+96891234567"),
    ("9123-4567", "+96891234567"),
    ("+968 9123 4567", "+96891234567"),
    ("0096891234567", "+96891234567"),
    ("00968 9123 4567", "+96891234567"),
    ("96891234567", "+96891234567"),
    ("٩١٢٣٤٥٦٧", "+96891234567"),
    ("۹۱۲۳۴۵۶۷", "+96891234567"),
    ("+٩٦٨ ٩١٢٣ ٤٥٦٧", "+96891234567"),
    ("72123456", "+96872123456"),
    (" 99887766 ", "+96899887766"),
]

BAD = [
    ("9123", "'9123' is not a valid Omani mobile number"),
    ("", "empty"),
    ("   ", "empty"),
    ("24123456", "not a valid Omani mobile number"),  # fixed line
    ("912345678", "not a valid Omani mobile number"),  # 9 digits
    ("81234567", "not a valid Omani mobile number"),
    ("abcdefgh", "not a valid"),
    ("+447911123456", "foreign number"),
]


@pytest.mark.parametrize(("raw", "e164"), GOOD)
def test_accepts_what_people_type(raw, e164):
    assert parse_mobile(raw) == MobileNumber(e164)


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_refuses_with_a_clear_message(raw, message):
    with pytest.raises(InvalidNumber, match=message):
        parse_mobile(raw)


def test_foreign_numbers_only_when_allowed():
    assert parse_mobile("+44 7911 123456", allow_foreign=True).e164 == "+447911123456"
    assert parse_mobile("00447911123456", allow_foreign=True).e164 == "+447911123456"
    with pytest.raises(InvalidNumber, match="not a mobile"):
        parse_mobile("+44 20 7946 0958", allow_foreign=True)  # London fixed line


def test_national_form():
    assert parse_mobile("+96891234567").national == "91234567"
    assert parse_mobile("+96891234567").is_local
