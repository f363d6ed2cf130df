"""HTTP-level tests: who sees and sends what, approval, quotas, cancel, reports, security headers."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from ropsms.messaging.encoding import gsm_costs
from ropsms.messaging.models import Message, State
from ropsms.ops.models import AuditEntry
from ropsms.portal.models import Broadcast, UnitPolicy
from ropsms.portal.tests.conftest import login

pytestmark = pytest.mark.django_db


def compose(client, **data):
    payload = {"title": "Test", "text": "Hello {rank} {name}", "action": "send"}
    payload.update(data)
    return client.post("/compose/", payload)


@pytest.mark.pg
def test_staff_directory_shows_only_own_unit_and_below(client, org):
    page = login(client, org.sender_a1).get("/staff/").content.decode()
    assert "A1 Person 0" in page
    assert "A2 Person 0" not in page and "B Person 0" not in page
    page = login(client, org.sender_a).get("/staff/").content.decode()
    assert "A1 Person 0" in page and "A2 Person 0" in page and "B Person 0" not in page


@pytest.mark.pg
def test_send_to_own_group_queues_personalised_messages(client, org):
    resp = compose(login(client, org.sender_a1), unit=org.A1.pk, groups=[org.group_a1.pk],
                   text="{rank} {name}: اجتماع الساعة 9")
    b = Broadcast.objects.get()
    assert resp.status_code == 302 and resp["Location"] == f"/broadcasts/{b.pk}/"
    assert b.status == "sent" and b.recipient_count == 3
    msgs = Message.objects.filter(batch=b.batch).order_by("to")
    assert {m.producer for m in msgs} == {"portal:A1"}
    assert b.batch.name == "Test"
    assert msgs[0].text == "نقيب شخص A1 0: اجتماع الساعة 9"  # Arabic text gets the Arabic rank and name
    assert msgs[0].encoding == "ucs2"
    assert AuditEntry.objects.filter(action="broadcast.send", target=f"broadcast:{b.pk}").exists()


@pytest.mark.pg
def test_cannot_send_for_or_to_another_department(client, org):
    c = login(client, org.sender_a1)
    resp = compose(c, unit=org.A1.pk, units=[org.A2.pk])
    assert resp.status_code == 200  # form redisplayed with an error
    resp = compose(c, unit=org.A1.pk, groups=[org.group_b.pk])
    assert resp.status_code == 200
    resp = compose(c, unit=org.A2.pk, numbers="91234567")  # acting for a unit outside their own
    assert resp.status_code == 200
    resp = compose(c, unit=org.A1.pk, staff=[org.staff["B"][0].pk])
    assert resp.status_code == 200
    assert not Broadcast.objects.exists() and not Message.objects.exists()


@pytest.mark.pg
def test_broadcast_of_another_unit_is_invisible(client, org):
    compose(login(client, org.sender_b), unit=org.B.pk, groups=[org.group_b.pk])
    b = Broadcast.objects.get()
    c = login(client, org.sender_a1)
    assert c.get(f"/broadcasts/{b.pk}/").status_code == 404
    assert c.get(f"/broadcasts/{b.pk}/progress.json").status_code == 404
    assert c.get(f"/broadcasts/{b.pk}/report.csv").status_code == 404
    assert "B static" not in c.get("/compose/").content.decode()
    assert f"/broadcasts/{b.pk}/" not in c.get("/broadcasts/").content.decode()


def test_role_without_right_gets_403_page(client, org):
    c = login(client, org.sender_a1)
    for url in ("/recruitment/", "/approvals/", "/groups/", "/complaints/", "/policy/"):
        resp = c.get(url)
        assert resp.status_code == 403, url
        assert "403" in resp.content.decode()
    c = login(client, org.recruiter)
    assert c.get("/compose/").status_code == 403
    assert c.post("/compose/", {"title": "x", "text": "y", "unit": org.A2.pk, "numbers": "91234567"}).status_code == 403
    assert not Message.objects.exists()


def test_anonymous_is_sent_to_login(client, org):
    resp = client.get("/compose/")
    assert resp.status_code == 302 and resp["Location"].startswith("/login/")


@pytest.mark.pg
def test_above_threshold_waits_for_an_approver_of_that_unit(client, org):
    UnitPolicy.objects.create(org_unit=org.A, approval_threshold=4)
    compose(login(client, org.sender_a), unit=org.A.pk, units=[org.A.pk])  # 6 staff > 4
    b = Broadcast.objects.get()
    assert b.status == "pending" and not Message.objects.exists()
    # The author cannot approve; an approver of another directorate cannot even see it.
    assert login(client, org.sender_a).post(f"/broadcasts/{b.pk}/approve/").status_code == 403
    assert login(client, org.approver_b).post(f"/broadcasts/{b.pk}/approve/").status_code == 404
    assert Broadcast.objects.get().status == "pending"
    c = login(client, org.approver_a)
    assert f"/broadcasts/{b.pk}/" in c.get("/approvals/").content.decode()
    c.post(f"/broadcasts/{b.pk}/approve/", {"note": "ok"})
    b.refresh_from_db()
    assert b.status == "sent" and b.decided_by == org.approver_a
    assert Message.objects.filter(batch=b.batch).count() == 6
    assert AuditEntry.objects.filter(action="broadcast.approve", actor="user:approver_a").exists()
    # Twice is refused (no second batch).
    c.post(f"/broadcasts/{b.pk}/approve/")
    assert Message.objects.count() == 6


def test_reject_sends_nothing(client, org):
    UnitPolicy.objects.create(org_unit=org.A, approval_threshold=1)
    compose(login(client, org.sender_a), unit=org.A.pk, units=[org.A1.pk])
    b = Broadcast.objects.get()
    login(client, org.approver_a).post(f"/broadcasts/{b.pk}/reject/", {"note": "not now"})
    b.refresh_from_db()
    assert b.status == "rejected" and b.decision_note == "not now" and not Message.objects.exists()


@pytest.mark.pg
def test_monthly_quota_refuses_a_broadcast_that_would_pass_it(client, org):
    UnitPolicy.objects.create(org_unit=org.A, approval_threshold=100, monthly_quota=5)
    c = login(client, org.sender_a)
    compose(c, unit=org.A.pk, units=[org.A1.pk])  # 3 messages
    assert Message.objects.count() == 3
    resp = compose(c, title="Second", unit=org.A.pk, units=[org.A2.pk])  # 3 more > 5
    assert resp.status_code == 200 and "quota" in resp.content.decode()
    assert Message.objects.count() == 3 and Broadcast.objects.count() == 1
    # Sub-units share the directorate's quota.
    compose(login(client, org.sender_a1), unit=org.A1.pk, numbers="91234567\n92345678\n93456789")
    assert Message.objects.count() == 3


@pytest.mark.pg
def test_quota_policy_also_guards_send_many_directly(org):
    from ropsms.messaging.services import SendError, send_many

    UnitPolicy.objects.create(org_unit=org.B, monthly_quota=2)
    with pytest.raises(SendError) as exc:
        send_many(recipients=["91234567", "92345678", "93456789"], text="x", producer="portal:B")
    assert exc.value.code == "quota"


@pytest.mark.pg
def test_scheduled_broadcast_can_be_cancelled(client, org):
    later = (timezone.localtime() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    c = login(client, org.sender_a1)
    compose(c, unit=org.A1.pk, groups=[org.group_a1.pk], scheduled_for=later)
    b = Broadcast.objects.get()
    assert set(Message.objects.values_list("state", flat=True)) == {State.SCHEDULED}
    c.post(f"/broadcasts/{b.pk}/cancel/")
    assert set(Message.objects.values_list("state", flat=True)) == {State.CANCELLED}
    b.refresh_from_db()
    assert b.status == "cancelled"
    assert AuditEntry.objects.filter(action="broadcast.cancel").exists()


def test_preview_shows_first_messages_and_approval_notice(client, org):
    UnitPolicy.objects.create(org_unit=org.A, approval_threshold=2)
    resp = login(client, org.sender_a).post("/compose/", {
        "title": "T", "text": "Dear {rank} {name}", "unit": org.A.pk, "units": [org.A1.pk],
        "numbers": "91234567, 12", "action": "preview"})
    page = resp.content.decode()
    assert "Dear Captain A1 Person 0" in page
    assert "approver" in page and "12" in page  # invalid pasted number listed
    assert not Broadcast.objects.exists()


def test_progress_and_exports(client, org):
    c = login(client, org.sender_a1)
    compose(c, unit=org.A1.pk, groups=[org.group_a1.pk])
    b = Broadcast.objects.get()
    Message.objects.filter(pk=Message.objects.first().pk).update(state=State.DELIVERED, done_at=timezone.now())
    p = c.get(f"/broadcasts/{b.pk}/progress.json").json()
    assert p["total"] == 3 and p["done"] == 1 and p["counts"]["delivered"] == 1 and not p["finished"]
    resp = c.get(f"/broadcasts/{b.pk}/report.csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][0] == "to" and len(rows) == 4 and {r[3] for r in rows[1:]} == {"delivered", "queued"}
    resp = c.get(f"/broadcasts/{b.pk}/report.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    assert wb.active.max_row == 4
    assert AuditEntry.objects.filter(action="broadcast.export").count() == 2
    page = c.get(f"/broadcasts/{b.pk}/").content.decode()
    assert "<progress" in page and 'data-bar="delivered"' in page


def test_pages_carry_a_strict_csp_and_no_inline_script(client, org):
    c = login(client, org.sender_a1)
    for url in ("/", "/compose/", "/staff/", "/broadcasts/", "/login/"):
        resp = c.get(url)
        csp = resp["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        for tag in re.findall(r"<script[^>]*>", resp.content.decode()):
            assert "src=" in tag or 'type="application/json"' in tag, tag


def test_compose_page_exposes_the_server_gsm_table(client, org):
    page = login(client, org.sender_a1).get("/compose/").content.decode()
    raw = re.search(r'<script id="gsm-table" type="application/json">(.*?)</script>', page, re.S).group(1)
    table = json.loads(raw)
    assert table["costs"] == gsm_costs()
    assert table["limits"] == {"gsm": [160, 153], "ucs2": [70, 67]}


def test_login_locks_out_after_repeated_failures(client, org):
    for _ in range(5):
        client.post("/login/", {"username": "sender_a1", "password": "wrong"})
    resp = client.post("/login/", {"username": "sender_a1", "password": "a-Long-pass-123"})
    assert resp.status_code == 429
    assert "locked" in resp.content.decode().lower()


def test_login_works_and_is_csrf_protected(org):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    assert c.post("/login/", {"username": "sender_a1", "password": "a-Long-pass-123"}).status_code == 403
    page = c.get("/login/")
    token = page.cookies["csrftoken"].value
    resp = c.post("/login/", {"username": "sender_a1", "password": "a-Long-pass-123", "csrfmiddlewaretoken": token})
    assert resp.status_code == 302 and c.get("/").status_code == 200


def test_admin_role_must_enrol_two_factor(client, org):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    c = login(client, org.unit_admin)
    resp = c.get("/groups/")
    assert resp.status_code == 302 and resp["Location"] == "/account/two-factor/"
    page = c.get("/account/two-factor/").content.decode()
    assert "<svg" in page
    device = TOTPDevice.objects.get(user=org.unit_admin)
    wrong = f"{(totp(device.bin_key) + 1) % 1000000:06d}"
    assert c.post("/account/two-factor/", {"token": wrong}).status_code == 200
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows down guessing after a wrong code
    c.post("/account/two-factor/", {"token": f"{totp(device.bin_key):06d}"})
    assert c.get("/groups/").status_code == 200


def test_language_switcher_gives_an_arabic_rtl_page(client, org):
    c = login(client, org.sender_a1)
    c.post("/i18n/setlang/", {"language": "ar", "next": "/"})
    page = c.get("/").content.decode()
    assert '<html lang="ar" dir="rtl">' in page


def test_arabic_pages_are_translated(client, org):
    c = login(client, org.sender_a1)
    c.post("/i18n/setlang/", {"language": "ar", "next": "/"})
    page = c.get("/").content.decode()
    assert "لوحة المعلومات" in page and "رسالة جماعية جديدة" in page


def test_logins_and_user_changes_are_audited(client, org, admin_user):
    client.post("/login/", {"username": "sender_a1", "password": "wrong"})
    client.post("/login/", {"username": "sender_a1", "password": "a-Long-pass-123"})
    actions = list(AuditEntry.objects.filter(actor="user:sender_a1").values_list("action", flat=True))
    assert "user.login_failed" in actions and "user.login" in actions
    c = login(client, admin_user)
    resp = c.post(f"/admin/auth/user/{org.sender_b.pk}/change/", {
        "username": "sender_b", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "10:00:00",
        "first_name": "Badr", "last_name": "", "email": ""})
    assert resp.status_code == 302
    assert AuditEntry.objects.filter(action="user.change", target="user:sender_b", actor="user:admin").exists()


def test_audit_page_shows_own_units_only(client, org):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    compose(login(client, org.sender_b), unit=org.B.pk, groups=[org.group_b.pk], title="B news")
    compose(login(client, org.sender_a1), unit=org.A1.pk, groups=[org.group_a1.pk], title="A1 news")
    from django.contrib.auth import get_user_model

    from ropsms.portal.models import Profile

    ops = get_user_model().objects.create_user(username="ops_a", password="x-Long-pass-123")
    Profile.objects.create(user=ops, org_unit=org.A, roles=["operations"])
    c = login(client, ops)
    assert c.get("/audit/").status_code == 302  # operations must use two-factor first
    device = TOTPDevice.objects.create(user=ops, name="t", confirmed=True)
    from django.test import RequestFactory
    from django_otp import login as otp_login

    request = RequestFactory().get("/")
    request.session = c.session
    request.user = ops
    otp_login(request, device)
    request.session.save()
    page = c.get("/audit/?action=broadcast").content.decode()
    assert "A1" in page and ">B<" not in page
    assert login(client, org.sender_a1).get("/audit/").status_code == 403


def _verified(client, user):
    """Log in an admin-role user with a confirmed TOTP device, as if they had typed a code."""
    from django.test import RequestFactory
    from django_otp import login as otp_login
    from django_otp.plugins.otp_totp.models import TOTPDevice

    login(client, user)
    device = TOTPDevice.objects.create(user=user, name="t", confirmed=True)
    request = RequestFactory().get("/")
    request.session = client.session
    request.user = user
    otp_login(request, device)
    request.session.save()
    return client


def test_unit_admin_creates_users_only_in_own_units_and_not_system_admins(client, org):
    c = _verified(client, org.unit_admin)
    page = c.get("/users/").content.decode()
    assert "sender_a1" in page and "sender_b" not in page
    assert 'value="system_admin"' not in page
    resp = c.post("/users/", {"username": "new_a2", "unit": org.A2.pk, "roles": ["sender"],
                              "person": org.staff["A2"][0].employee_no})
    assert resp.context["created"][0] == "new_a2"
    from ropsms.portal.models import Profile

    p = Profile.objects.get(user__username="new_a2")
    assert p.org_unit == org.A2 and p.roles == ["sender"] and p.person == org.staff["A2"][0]
    assert AuditEntry.objects.filter(action="user.create", target="user:new_a2").exists()
    c.post("/users/", {"username": "new_b", "unit": org.B.pk, "roles": ["sender"]})
    c.post("/users/", {"username": "root2", "unit": org.A.pk, "roles": ["system_admin"]})
    assert not Profile.objects.filter(user__username__in=["new_b", "root2"]).exists()
    assert login(client, org.sender_a1).get("/users/").status_code == 403


def test_password_change_is_audited(client, org):
    c = login(client, org.sender_a1)
    resp = c.post("/account/password/", {"old_password": "a-Long-pass-123", "new_password1": "An0ther-long-pass!",
                                         "new_password2": "An0ther-long-pass!"})
    assert resp.status_code == 302
    org.sender_a1.refresh_from_db()
    assert org.sender_a1.check_password("An0ther-long-pass!")
    assert AuditEntry.objects.filter(action="user.password_change", actor="user:sender_a1").exists()


def test_approval_that_would_pass_the_quota_is_refused_and_stays_pending(client, org):
    policy = UnitPolicy.objects.create(org_unit=org.A, approval_threshold=2, monthly_quota=100)
    compose(login(client, org.sender_a), unit=org.A.pk, units=[org.A1.pk])
    b = Broadcast.objects.get()
    policy.monthly_quota = 2
    policy.save()
    resp = login(client, org.approver_a).post(f"/broadcasts/{b.pk}/approve/", follow=True)
    assert "quota" in resp.content.decode()
    b.refresh_from_db()
    assert b.status == "pending" and b.batch is None and not Message.objects.exists()


def test_optional_two_factor_once_enrolled_is_asked_at_log_in(client, org):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    c = login(client, org.sender_a1)
    assert c.get("/compose/").status_code == 200  # not required for a sender
    c.get("/account/two-factor/")
    device = TOTPDevice.objects.get(user=org.sender_a1)
    c.post("/account/two-factor/", {"token": f"{totp(device.bin_key):06d}"})
    assert "is on" in c.get("/account/two-factor/").content.decode()
    c.post("/logout/")
    c = login(client, org.sender_a1)
    resp = c.get("/compose/")
    assert resp.status_code == 302 and resp["Location"] == "/account/two-factor/verify/?next=%2Fcompose%2F"
