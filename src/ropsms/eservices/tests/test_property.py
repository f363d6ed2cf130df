"""Property: whatever a citizen types, the engine sends exactly one reply and never raises."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ropsms.eservices.models import Exchange
from ropsms.messaging import inbound
from ropsms.messaging.models import Message

pytestmark = [pytest.mark.django_db, pytest.mark.pg]
# NUL cannot be stored in a PostgreSQL text column (the MO itself would be refused by inbound.receive).
_ANY = st.characters(blacklist_characters="\x00")

WORDS = ["FINES", "مخالفات", "12345", "AB", "أ ب", "١٢٣٤٥", "MORE", "المزيد", "HELP", "مساعدة", "FB", "شكوى",
         "VISA STATUS", "ID", "REG", "ـــ", "!!", "  ", "\n", "EV2026123456", "K1234567", "FINES CR", "1234567"]
texts = st.one_of(
    st.text(alphabet=_ANY, max_size=300),
    st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
    st.text(alphabet=st.characters(min_codepoint=0x0600, max_codepoint=0x06FF), max_size=40),
)


@given(text=texts, sender=st.sampled_from(["91234567", "92345678", "99887766", "71234567"]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_text_gets_exactly_one_reply(registry, django_settings_no_limits, text, sender):
    before = Message.objects.count()
    mo = inbound.receive(msisdn="968" + sender, to="90085", text=text)
    assert mo.handler_result.startswith("eservices: ")
    exchange = Exchange.objects.get(mo=mo)
    assert exchange.result != "error"
    assert Message.objects.count() == before + 1
    reply = Message.objects.latest("pk")
    assert exchange.reply_id == reply.pk and reply.to == "+968" + sender and reply.text.strip()


@pytest.fixture
def django_settings_no_limits(settings):
    settings.ROPSMS_ESERVICES = {"PER_MINUTE": 10**6, "PER_DAY": 10**6, "PROBE_LIMIT": 10**6}
    return settings
