"""Recruitment: upload with a row report, invitations in the applicant's language, YES/NO replies, reminders."""

from __future__ import annotations

import io
from datetime import time, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ropsms.messaging.inbound import receive
from ropsms.messaging.models import Message
from ropsms.ops.models import AuditEntry
from ropsms.portal.models import InterviewSession, Invitation
from ropsms.portal.recruitment import parse_reply, send_due_reminders
from ropsms.portal.tests.conftest import login

pytestmark = pytest.mark.django_db

CSV = (
    "name,mobile,language,civil_id\n"
    "سالم الحارثي,9123 4567,ar,12345678\n"
    "Ahmed Al Amri,+968 9234 5678,en,\n"
    "Bad Number,1234,ar,\n"
    ",92222222,ar,\n"
    "Dup,91234567,ar,\n"
    "Wrong Lang,93333333,fr,\n"
    "\n"
)


@pytest.fixture
def session(org):
    return InterviewSession.objects.create(
        org_unit=org.A2, title="Constables 2027", date=timezone.localdate() + timedelta(days=1), time=time(9, 0),
        venue_en="Academy, Nizwa", venue_ar="الأكاديمية، نزوى", bring_en="civil ID", bring_ar="البطاقة الشخصية",
        created_by=org.recruiter)


def upload(client, session, name, data):
    return client.post(f"/recruitment/{session.pk}/", {"action": "upload",
                                                       "file": SimpleUploadedFile(name, data)})


@pytest.mark.pg
def test_csv_upload_reports_every_row(client, org, session):
    resp = upload(login(client, org.recruiter), session, "applicants.csv", CSV.encode("utf-8-sig"))
    page = resp.content.decode()
    report = resp.context["report"]
    assert [(r.row, r.ok) for r in report] == [(2, True), (3, True), (4, False), (5, False), (6, False), (7, False)]
    assert "not a valid Omani mobile number" in report[2].message
    assert "name is empty" in report[3].message
    assert "earlier row" in report[4].message
    assert "ar or en" in report[5].message
    assert "2 of 6 rows added" in page
    assert session.invitations.count() == 2
    assert AuditEntry.objects.filter(action="recruitment.upload").exists()


def test_xlsx_upload(client, org, session):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Name", "Mobile", "Language"])
    ws.append(["Talal", 92345678, "en"])
    ws.append(["مريم", "٩٣٤٥٦٧٨٩", "ar"])  # Arabic-Indic digits
    buf = io.BytesIO()
    wb.save(buf)
    resp = upload(login(client, org.recruiter), session, "a.xlsx", buf.getvalue())
    assert [r.ok for r in resp.context["report"]] == [True, True]
    assert sorted(session.invitations.values_list("applicant__mobile", flat=True)) == ["+96892345678", "+96893456789"]


def test_bad_file_is_a_clear_error(client, org, session):
    resp = upload(login(client, org.recruiter), session, "a.pdf", b"%PDF")
    assert "Upload a .csv or .xlsx file" in resp.content.decode()
    resp = upload(client, session, "a.csv", b"who,phone\nx,91234567\n")
    assert "columns name and mobile" in resp.content.decode()


def test_other_department_cannot_open_the_session(client, org, session):
    from django.contrib.auth import get_user_model

    from ropsms.portal.models import Profile

    other = get_user_model().objects.create_user(username="rec_b", password="x-Long-pass-123")
    Profile.objects.create(user=other, org_unit=org.B, roles=["recruitment"])
    assert login(client, other).get(f"/recruitment/{session.pk}/").status_code == 404


def _invite(client, org, session):
    c = login(client, org.recruiter)
    upload(c, session, "applicants.csv", CSV.encode())
    c.post(f"/recruitment/{session.pk}/", {"action": "invite"})
    return c


@pytest.mark.pg
def test_invitations_are_in_the_applicants_language(client, org, session):
    _invite(client, org, session)
    ar = Message.objects.get(to="+96891234567")
    en = Message.objects.get(to="+96892345678")
    assert ar.text.startswith("السيد/ة سالم الحارثي") and "الأكاديمية، نزوى" in ar.text and ar.encoding == "ucs2"
    assert en.text.startswith("Dear Ahmed Al Amri") and "Academy, Nizwa" in en.text and "Reply 1" in en.text
    assert set(session.invitations.values_list("status", flat=True)) == {"pending"}
    assert en.producer == "portal:A2"


@pytest.mark.pg
def test_yes_and_no_replies_are_recorded_and_shown(client, org, session, monkeypatch):
    from ropsms.messaging import inbound

    handled = []
    monkeypatch.setattr(inbound, "_handler", lambda mo: handled.append(mo.text) or "commands engine")
    c = _invite(client, org, session)
    mo = receive(msisdn="+96891234567", to="90085", text=" نعم ")
    assert mo.handler_result.endswith("confirmed")
    mo = receive(msisdn="+96892345678", to="90085", text="2")
    assert mo.handler_result.endswith("declined")
    # A number without a pending invitation, and a text that is no answer, go to the commands engine.
    receive(msisdn="+96899999999", to="90085", text="YES")
    receive(msisdn="+96891234567", to="90085", text="FINE 12345")
    assert handled == ["YES", "FINE 12345"]
    inv = {i.applicant.mobile: i for i in Invitation.objects.select_related("applicant")}
    assert inv["+96891234567"].status == "confirmed" and inv["+96892345678"].status == "declined"
    # The applicant is thanked in their language.
    assert Message.objects.filter(to="+96891234567", text__startswith="شكرا").exists()
    page = c.get(f"/recruitment/{session.pk}/").content.decode()
    assert 'data-summary="confirmed">1<' in page and 'data-summary="declined">1<' in page


def test_reply_words():
    assert parse_reply("1") is True and parse_reply("Yes") is True and parse_reply("نعم.") is True
    assert parse_reply("١") is True  # Arabic-Indic one
    assert parse_reply("2") is False and parse_reply("no") is False and parse_reply("لا") is False
    assert parse_reply("maybe") is None and parse_reply("") is None


@pytest.mark.pg
def test_reminder_the_day_before_goes_once_to_those_who_confirmed(client, org, session):
    _invite(client, org, session)
    receive(msisdn="+96891234567", to="90085", text="1")
    receive(msisdn="+96892345678", to="90085", text="NO")
    assert send_due_reminders() == 1
    assert send_due_reminders() == 0  # idempotent
    reminders = Message.objects.filter(text__startswith="تذكير")
    assert [m.to for m in reminders] == ["+96891234567"]
    # Not for a session further away.
    session.date = timezone.localdate() + timedelta(days=3)
    session.save()
    Invitation.objects.update(reminded_at=None)
    assert send_due_reminders() == 0
