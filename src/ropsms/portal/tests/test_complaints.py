"""Complaints inbox on eservices Feedback: scoping, assignment, status, SMS reply, audit."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from ropsms.eservices.models import Feedback
from ropsms.messaging.models import Message
from ropsms.ops.models import AuditEntry
from ropsms.portal.models import Profile
from ropsms.portal.tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def pr(org):
    u = get_user_model().objects.create_user(username="pr_a", password="x-Long-pass-123")
    Profile.objects.create(user=u, org_unit=org.A, roles=["public_relations"])
    return u


@pytest.fixture
def items(org):
    return {
        "new": Feedback.objects.create(ticket="FB-1", msisdn="+96891112222", text="الشارع مظلم", language="ar"),
        "a1": Feedback.objects.create(ticket="FB-2", msisdn="+96891113333", text="Slow service", language="en",
                                      unit=org.A1, status="assigned"),
        "b": Feedback.objects.create(ticket="FB-3", msisdn="+96891114444", text="Other", language="en",
                                     unit=org.B, status="assigned"),
    }


@pytest.mark.pg
def test_inbox_shows_unassigned_and_own_units_only(client, org, pr, items):
    page = login(client, pr).get("/complaints/").content.decode()
    assert "FB-1" in page and "FB-2" in page and "FB-3" not in page
    assert client.get(f"/complaints/{items['b'].pk}/").status_code == 404
    assert login(client, org.sender_a).get("/complaints/").status_code == 403


@pytest.mark.pg
def test_assign_to_a_directorate_and_reply_by_sms(client, org, pr, items):
    c = login(client, pr)
    fb = items["new"]
    c.post(f"/complaints/{fb.pk}/", {"action": "update", "unit": org.A.pk, "status": "new", "note": "lights"})
    fb.refresh_from_db()
    assert fb.unit == org.A and fb.status == "assigned" and fb.note == "lights"
    c.post(f"/complaints/{fb.pk}/", {"action": "reply", "text": "شكرا، تم إبلاغ الجهة المختصة"})
    msg = Message.objects.get(to="+96891112222")
    assert msg.producer == "portal:A" and msg.encoding == "ucs2"
    assert "شكرا" in c.get(f"/complaints/{fb.pk}/").content.decode()
    c.post(f"/complaints/{fb.pk}/", {"action": "update", "unit": org.A.pk, "status": "resolved", "note": ""})
    fb.refresh_from_db()
    assert fb.status == "resolved" and fb.resolved_at is not None
    actions = set(AuditEntry.objects.filter(target=f"feedback:{fb.pk}").values_list("action", flat=True))
    assert actions == {"complaint.update", "complaint.reply"}
    assert "91112222" not in str(list(AuditEntry.objects.values_list("detail", flat=True)))


def test_cannot_assign_to_a_department_of_another_directorate(client, org, pr, items):
    from ropsms.directory.models import OrgUnit

    b_dept = OrgUnit.objects.create(code="B1", name_en="B1", name_ar="ب1", kind="department", parent=org.B)
    fb = items["new"]
    login(client, pr).post(f"/complaints/{fb.pk}/", {"action": "update", "unit": b_dept.pk, "status": "new"})
    fb.refresh_from_db()
    assert fb.unit is None
