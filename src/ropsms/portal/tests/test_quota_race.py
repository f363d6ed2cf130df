"""Two broadcasts against one unit quota at the same moment cannot both pass it (PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from ropsms.directory.models import OrgUnit
from ropsms.messaging.models import Message
from ropsms.portal import services as svc
from ropsms.portal.access import portal_user
from ropsms.portal.models import Profile, UnitPolicy


@pytest.mark.pg
@pytest.mark.django_db(transaction=True)
def test_concurrent_broadcasts_respect_the_quota():
    if connection.vendor != "postgresql":
        pytest.skip("needs a server database with concurrent connections (SQLite serialises writers anyway)")
    unit = OrgUnit.objects.create(code="Q", name_en="Q", name_ar="ق", kind="directorate")
    UnitPolicy.objects.create(org_unit=unit, approval_threshold=100, monthly_quota=5)
    users = []
    for name in ("q1", "q2"):
        u = get_user_model().objects.create_user(username=name, password="x-Long-pass-123")
        Profile.objects.create(user=u, org_unit=unit, roles=["sender"])
        users.append(u)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def send(user, numbers: str) -> None:
        try:
            pu = portal_user(get_user_model().objects.get(pk=user.pk))
            barrier.wait(timeout=10)
            svc.create_broadcast(pu=pu, unit=unit, title=user.username, text="x",
                                 selection=svc.Selection(numbers=numbers))
            outcomes.append("sent")
        except svc.PortalError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(users[0], "91000001,91000002,91000003")),
               threading.Thread(target=send, args=(users[1], "92000001,92000002,92000003"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["refused", "sent"]
    assert Message.objects.count() == 3
