"""End to end over SMPP: the simulator's virtual phones text 90085, the gateway (in-process, on the
test database) hands each MO to the engine and submits the reply back to the phone."""

from __future__ import annotations

import pytest

from ropsms.eservices.models import Exchange
from ropsms.smpp.tests.gateway_helpers import make_operator, run, simulator, wait_bound, wait_until, with_gateway

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _loop_may_use_orm(monkeypatch):
    # The in-process gateway (inline_db) and the simulator share the test's event loop thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def test_owner_gets_fines_in_both_languages_and_a_stranger_learns_nothing(registry):
    conversations: dict[str, list[str]] = {}

    async def main():
        sim = simulator()
        await sim.start()
        make_operator("Simulator", sim.port)

        async def body(gw):
            assert await wait_bound(gw)
            for number, text in [("91234567", "FINES 12345 AB"), ("91234567", "مخالفات ١٢٣٤٥ أ ب"),
                                 ("99887766", "fines 12345 ab"), ("99887766", "FNIES 12345 AB")]:
                before = len(sim.inbox(number))
                sim.send_mo(number, text)
                assert await wait_until(lambda n=number, b=before: len(sim.inbox(n)) > b, timeout=15)
            for number in ("91234567", "99887766"):
                conversations[number] = [e.text for e in sim.inbox(number)]

        await with_gateway(body)
        await sim.stop()

    run(main)
    english, arabic = conversations["91234567"]
    assert english.startswith("Vehicle 12345 AB: 3 unpaid fine(s), total 75.000 OMR:")
    assert "Muscat Expressway, Bawshar 50.000 OMR" in english
    assert arabic.startswith("المركبة 12345 AB: عدد المخالفات غير المدفوعة 3، المجموع 75.000 ر.ع:")
    neutral, typo = conversations["99887766"]
    assert neutral.startswith("No information can be sent") and "OMR" not in neutral
    assert typo.startswith("Sorry, this command is not known. Did you mean FINES?")
    assert Exchange.objects.count() == 4
    assert all(e.reply.state in {"submitted", "delivered"} for e in Exchange.objects.select_related("reply"))
