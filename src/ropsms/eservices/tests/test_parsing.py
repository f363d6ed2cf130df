"""Tolerant parsing: case, spacing, punctuation, digits, Arabic letter variants, keyword order, typos."""

import pytest

from ropsms.eservices.normalize import normalize
from ropsms.eservices.parsing import parse, strip_keyword

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("raw", "expected"), [
    ("  FiNeS   12345-ab!! ", "fines 12345 ab"),
    ("مُخالفـــات ١٢٣٤٥ أ.ب", "مخالفات 12345 ا ب"),
    ("۱۲۳۴۵", "12345"),  # Persian digits
    ("إقامة", "اقامه"),
    ("مساعدة؟", "مساعده"),
    ("ﻣﺨﺎﻟﻔﺎﺕ", "مخالفات"),  # presentation forms
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize(("text", "code", "params", "language"), [
    ("FINES 12345 AB", "fines-plate", {"number": "12345", "letters": "AB"}, "en"),
    ("fines 12345ab", "fines-plate", {"number": "12345", "letters": "AB"}, "en"),
    ("  Fines,   12345 - ab .", "fines-plate", {"number": "12345", "letters": "AB"}, "en"),
    ("fines AB 12345", "fines-plate", {"number": "12345", "letters": "AB"}, "en"),
    ("12345 AB fines", "fines-plate", {"number": "12345", "letters": "AB"}, "en"),
    ("مخالفات ١٢٣٤٥ أ ب", "fines-plate", {"number": "12345", "letters": "AB"}, "ar"),
    ("مخالفـــات ۱۲۳۴۵ اب", "fines-plate", {"number": "12345", "letters": "AB"}, "ar"),
    ("مُخَالَفَات 12345 AB", "fines-plate", {"number": "12345", "letters": "AB"}, "ar"),
    ("١٢٣٤٥ أ ب مخالفات", "fines-plate", {"number": "12345", "letters": "AB"}, "ar"),
    ("FINES ID 12345678", "fines-civil-id", {"civil_id": "12345678"}, "en"),
    ("مخالفات مدني ١٢٣٤٥٦٧٨", "fines-civil-id", {"civil_id": "12345678"}, "ar"),
    ("fines cr 1234567", "fines-cr", {"cr_number": "1234567"}, "en"),
    ("مخالفات شركه 1234567", "fines-cr", {"cr_number": "1234567"}, "ar"),
    ("reg 777 hh", "vehicle-registration", {"number": "777", "letters": "HH"}, "en"),
    ("ملكيه ٧٧٧ ه ه", "vehicle-registration", {"number": "777", "letters": "HH"}, "ar"),
    ("licence 12345678", "driving-licence", {"civil_id": "12345678"}, "en"),
    ("رخصه 12345678", "driving-licence", {"civil_id": "12345678"}, "ar"),
    ("رخصة القيادة 12345678", "driving-licence", {"civil_id": "12345678"}, "ar"),
    ("passport 12345678", "passport", {"civil_id": "12345678"}, "en"),
    ("جواز السفر 12345678", "passport", {"civil_id": "12345678"}, "ar"),
    ("visa 123456789", "visa", {"civil_id": "123456789"}, "en"),
    ("تاشيرة 123456789", "visa", {"civil_id": "123456789"}, "ar"),
    ("ID 12345678", "id-card", {"civil_id": "12345678"}, "en"),
    ("الإقامة 123456789", "id-card", {"civil_id": "123456789"}, "ar"),
    ("visa status ev2026123456 k1234567", "visa-application",
     {"application": "EV2026123456", "passport": "K1234567"}, "en"),
    ("حالة التأشيرة EV2026123456 K1234567", "visa-application",
     {"application": "EV2026123456", "passport": "K1234567"}, "ar"),
    ("help", "help", {}, "en"),
    ("مساعدة", "help", {}, "ar"),
    ("more", "more", {}, "en"),
    ("المزيد", "more", {}, "ar"),
])
def test_parse_table(text, code, params, language):
    parsed = parse(text)
    assert parsed.problem == ""
    assert parsed.command.code == code
    assert parsed.params == params
    assert parsed.language == language


@pytest.mark.parametrize(("text", "suggested"), [
    ("FNIES 12345 AB", "fines-plate"),
    ("fins 12345 ab", "fines-plate"),
    ("passprt 12345678", "passport"),
    ("مخالفت 12345 AB", "fines-plate"),
    ("HLEP", "help"),
])
def test_typo_suggests_the_closest_command(text, suggested):
    parsed = parse(text)
    assert parsed.problem == "unknown"
    assert parsed.suggestion is not None and parsed.suggestion.code == suggested


def test_keyword_without_a_valid_parameter_is_invalid_not_unknown():
    parsed = parse("FINES 123456789")  # a plate needs letters
    assert parsed.problem == "invalid" and parsed.command.code == "fines-plate"


def test_nonsense_is_unknown_without_suggestion():
    parsed = parse("qwertyuiop zxcvbnm")
    assert parsed.problem == "unknown" and parsed.suggestion is None


def test_feedback_keeps_the_citizens_words():
    assert strip_keyword("FB: The road to Nizwa, km 42!", "fb") == "The road to Nizwa, km 42!"
    assert strip_keyword("شكـوى   الإشارة معطلة في الخوير", "شكوي") == "الإشارة معطلة في الخوير"
