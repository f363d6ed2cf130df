"""MO intake: stored first, then interceptors, then the handler; a failing handler loses nothing."""

import pytest

from ropsms.messaging import inbound
from ropsms.messaging.models import InboundMessage

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pg]


@pytest.fixture
def restore_dispatch():
    handler, interceptors = inbound._handler, list(inbound._interceptors)
    yield
    inbound._handler = handler
    inbound._interceptors[:] = interceptors


def test_nul_is_kept_visible_not_refused(restore_dispatch):
    inbound._interceptors[:] = []
    inbound.register_handler(lambda mo: "seen")
    mo = inbound.receive(msisdn="+96891234567", to="90085", text="HELP\x00me \ud800 😀")
    stored = InboundMessage.objects.get(pk=mo.pk)
    assert stored.text == "HELP\ufffdme \ufffd 😀" and stored.handler_result == "seen"


def test_interceptor_first_and_handler_failure_is_recorded(restore_dispatch):
    inbound._interceptors[:] = []
    inbound.register_interceptor(lambda mo: "interview" if mo.text == "YES" else None)

    def broken(mo):
        raise RuntimeError("boom")

    inbound.register_handler(broken)
    yes = inbound.receive(msisdn="+96891234567", to="90085", text="YES")
    other = inbound.receive(msisdn="+96891234567", to="90085", text="FINES 123 A")
    assert InboundMessage.objects.get(pk=yes.pk).handler_result == "interview"
    assert InboundMessage.objects.get(pk=other.pk).handler_result == "handler error"
