"""A small org for the portal tests: directorate A (departments A1, A2) and directorate B."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from ropsms.directory.models import Group, OrgUnit, Person
from ropsms.portal.models import Profile


class Org:
    pass


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    """argon2 is the production hasher; tests create many users, so they hash quickly."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(db):
    o = Org()
    mk = OrgUnit.objects.create
    o.A = mk(code="A", name_en="Directorate A", name_ar="المديرية أ", kind="directorate")
    o.A1 = mk(code="A1", name_en="Department A1", name_ar="الإدارة أ1", kind="department", parent=o.A)
    o.A2 = mk(code="A2", name_en="Department A2", name_ar="الإدارة أ2", kind="department", parent=o.A)
    o.B = mk(code="B", name_en="Directorate B", name_ar="المديرية ب", kind="directorate")
    n = 0
    o.staff = {}
    for unit in (o.A1, o.A2, o.B):
        people = []
        for i in range(3):
            n += 1
            people.append(Person.objects.create(
                kind="staff", name_en=f"{unit.code} Person {i}", name_ar=f"شخص {unit.code} {i}",
                mobile=f"+96891{n:06d}", rank="Captain" if i == 0 else "Sergeant", org_unit=unit,
                employee_no=f"T{n:04d}"))
        o.staff[unit.code] = people
    o.group_a1 = Group.objects.create(name_en="A1 all", kind="dynamic", owner_unit=o.A1)
    o.group_a1.units.set([o.A1])
    o.group_b = Group.objects.create(name_en="B static", kind="static", owner_unit=o.B)
    o.group_b.members.set(o.staff["B"])
    User = get_user_model()

    def user(name, unit, roles):
        u = User.objects.create_user(username=name, password="a-Long-pass-123")
        Profile.objects.create(user=u, org_unit=unit, roles=roles)
        return u

    o.sender_a1 = user("sender_a1", o.A1, ["sender"])
    o.sender_a = user("sender_a", o.A, ["sender"])
    o.approver_a = user("approver_a", o.A, ["approver"])
    o.approver_b = user("approver_b", o.B, ["approver"])
    o.sender_b = user("sender_b", o.B, ["sender"])
    o.recruiter = user("recruiter", o.A2, ["recruitment"])
    o.unit_admin = user("unitadmin_a", o.A, ["unit_admin"])
    return o


def login(client, user):
    client.force_login(user)
    return client
