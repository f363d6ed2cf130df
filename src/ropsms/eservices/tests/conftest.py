"""Fixtures for the pull-service tests: the documented demo people, and a way to text 90085."""

from __future__ import annotations

import pytest

from ropsms.eservices.models import Exchange
from ropsms.messaging import inbound
from ropsms.messaging.models import Message


@pytest.fixture
def registry(db):
    from ropsms.eservices.demo import load_fixed

    return load_fixed()


@pytest.fixture
def ask(db):
    """`ask("91234567", "FINES 12345 AB")` -> the reply text (None if no reply), via inbound.receive()."""

    def _ask(number: str, text: str) -> str | None:
        mo = inbound.receive(msisdn="968" + number, to="90085", text=text)
        exchange = Exchange.objects.get(mo=mo)
        return exchange.reply.text if exchange.reply_id else None

    _ask.last = lambda: Exchange.objects.order_by("-pk").first()
    _ask.replies = lambda number: list(Message.objects.filter(to="+968" + number).order_by("pk"))
    return _ask
