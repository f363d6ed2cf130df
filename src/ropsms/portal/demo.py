"""Demo data for the portal: an org (directorates > departments > sections, Arabic and English),
a few hundred staff with ranks and demo mobiles, groups, templates, unit policies, an interview
session, and a few portal users per role. Safe to run twice (everything is get-or-create).

The superuser `admin` (from ops/demo.py) gets the system-administrator role. The other users'
generated passwords are written to var/demo-portal-users.txt (and printed the first time).
"""

from __future__ import annotations

import random
import secrets
from datetime import time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from ropsms.directory.models import Group, OrgUnit, Person
from ropsms.portal.models import Applicant, InterviewSession, Invitation, MessageTemplate, Profile, UnitPolicy
from ropsms.portal.ranks import RANKS

# (code, English, Arabic, children)
ORG = [
    ("DGO", "Directorate General of Operations", "المديرية العامة للعمليات", [
        ("DGO-PAT", "Patrols Department", "إدارة الدوريات", [
            ("DGO-PAT-N", "North Patrols Section", "قسم دوريات الشمال"),
            ("DGO-PAT-S", "South Patrols Section", "قسم دوريات الجنوب"),
        ]),
        ("DGO-OPS", "Operations Room Department", "إدارة غرفة العمليات", [
            ("DGO-OPS-SH", "Shift Supervision Section", "قسم الإشراف على المناوبات"),
        ]),
    ]),
    ("DGT", "Directorate General of Traffic", "المديرية العامة للمرور", [
        ("DGT-LIC", "Licensing Department", "إدارة الترخيص", [
            ("DGT-LIC-D", "Driving Licences Section", "قسم رخص القيادة"),
            ("DGT-LIC-V", "Vehicle Registration Section", "قسم تسجيل المركبات"),
        ]),
        ("DGT-SAF", "Road Safety Department", "إدارة السلامة المرورية", [
            ("DGT-SAF-A", "Awareness Section", "قسم التوعية"),
        ]),
    ]),
    ("DGHR", "Directorate General of Human Resources", "المديرية العامة للموارد البشرية", [
        ("DGHR-REC", "Recruitment Department", "إدارة التجنيد", [
            ("DGHR-REC-I", "Interviews Section", "قسم المقابلات"),
        ]),
        ("DGHR-PAY", "Payroll Department", "إدارة الرواتب", [
            ("DGHR-PAY-S", "Salaries Section", "قسم الرواتب"),
        ]),
    ]),
]

FIRST = [("Ahmed", "أحمد"), ("Mohammed", "محمد"), ("Salim", "سالم"), ("Khalid", "خالد"), ("Said", "سعيد"),
         ("Hamad", "حمد"), ("Sultan", "سلطان"), ("Nasser", "ناصر"), ("Ali", "علي"), ("Hilal", "هلال"),
         ("Yousuf", "يوسف"), ("Talal", "طلال"), ("Fatma", "فاطمة"), ("Aisha", "عائشة"), ("Maryam", "مريم"),
         ("Zainab", "زينب"), ("Badar", "بدر"), ("Faisal", "فيصل"), ("Majid", "ماجد"), ("Issa", "عيسى")]
FAMILY = [("Al Balushi", "البلوشي"), ("Al Harthy", "الحارثي"), ("Al Hinai", "الهنائي"), ("Al Busaidi", "البوسعيدي"),
          ("Al Rawahi", "الرواحي"), ("Al Kindi", "الكندي"), ("Al Maskari", "المسكري"), ("Al Siyabi", "السيابي"),
          ("Al Amri", "العامري"), ("Al Shukaili", "الشكيلي"), ("Al Farsi", "الفارسي"), ("Al Mahrouqi", "المحروقي")]
STAFF_PER_SECTION = 32
DEMO_USERS = [  # username, unit code, roles
    ("dgo.sender", "DGO-PAT", ["sender"]),
    ("north.sender", "DGO-PAT-N", ["sender"]),
    ("dgo.approver", "DGO", ["approver"]),
    ("dgo.unitadmin", "DGO", ["unit_admin", "sender"]),
    ("traffic.sender", "DGT", ["sender"]),
    ("traffic.approver", "DGT", ["approver"]),
    ("hr.recruitment", "DGHR-REC", ["recruitment"]),
    ("hr.finance", "DGHR-PAY", ["finance"]),
    ("hospital.clerk", "DGHR", ["hospital"]),
    ("pr.officer", "DGO", ["public_relations"]),
    ("ops.monitor", "DGO", ["operations"]),
]


def users_file():
    return settings.VAR_DIR / "demo-portal-users.txt"


def _units(stdout) -> dict[str, OrgUnit]:
    units: dict[str, OrgUnit] = {}

    def make(code, en, ar, kind, parent):
        unit, _ = OrgUnit.objects.get_or_create(code=code, defaults={"name_en": en, "name_ar": ar, "kind": kind,
                                                                     "parent": parent})
        units[code] = unit
        return unit

    for code, en, ar, depts in ORG:
        d = make(code, en, ar, OrgUnit.Kind.DIRECTORATE, None)
        for dcode, den, dar, sections in depts:
            dep = make(dcode, den, dar, OrgUnit.Kind.DEPARTMENT, d)
            for scode, sen, sar in sections:
                make(scode, sen, sar, OrgUnit.Kind.SECTION, dep)
    return units


def _staff(units: dict[str, OrgUnit]) -> int:
    rng = random.Random(90085)
    ranks = [en for en, _ in RANKS]
    made = 0
    n = 0
    for unit in units.values():
        per = STAFF_PER_SECTION if unit.kind == OrgUnit.Kind.SECTION else 6
        for _i in range(per):
            n += 1
            emp = f"DEMO{n:05d}"
            if Person.objects.filter(employee_no=emp).exists():
                continue
            (fe, fa), (se, sa), (le, la) = rng.choice(FIRST), rng.choice(FIRST), rng.choice(FAMILY)
            rank = rng.choice(ranks[2:6]) if unit.kind != OrgUnit.Kind.SECTION and _i == 0 else rng.choice(ranks[5:])
            Person.objects.create(kind=Person.Kind.STAFF, name_en=f"{fe} {se} {le}", name_ar=f"{fa} {sa} {la}",
                                  language=rng.choice(["ar", "ar", "ar", "en"]), mobile=f"+968991{n:05d}",
                                  employee_no=emp, rank=rank, org_unit=unit)
            made += 1
    return made


def _groups(units):
    dgo = units["DGO"]
    g, created = Group.objects.get_or_create(name_en="Operations officers", owner_unit=dgo, defaults={
        "name_ar": "ضباط العمليات", "kind": Group.Kind.DYNAMIC,
        "ranks": ["Major", "Captain", "Lieutenant", "Second Lieutenant"]})
    if created:
        g.units.set([dgo])
    g, created = Group.objects.get_or_create(name_en="North patrol shift A", owner_unit=units["DGO-PAT-N"], defaults={
        "name_ar": "دورية الشمال - المناوبة أ", "kind": Group.Kind.STATIC})
    if created:
        g.members.set(Person.objects.filter(org_unit=units["DGO-PAT-N"]).order_by("pk")[:12])
    g, created = Group.objects.get_or_create(name_en="Licensing counter staff", owner_unit=units["DGT-LIC"], defaults={
        "name_ar": "موظفو كاونتر الترخيص", "kind": Group.Kind.DYNAMIC})
    if created:
        g.units.set([units["DGT-LIC-D"], units["DGT-LIC-V"]])


def _templates(units):
    for code, name, text in [
        ("DGO", "Shift change (AR)", "{rank} {name}: تم تعديل جدول المناوبة، يرجى مراجعة غرفة العمليات."),
        ("DGO", "Shift change (EN)", "{rank} {name}: the duty roster has changed, please check the operations room."),
        ("DGT", "Training day", "{rank} {name}: يوم تدريبي للسلامة المرورية يوم الأحد الساعة 8 صباحا."),
        ("DGHR", "Salary credited", "{name}: your salary for this month has been credited."),
    ]:
        MessageTemplate.objects.get_or_create(org_unit=units[code], name=name, defaults={"text": text})


def _policies(units):
    UnitPolicy.objects.get_or_create(org_unit=units["DGO"], defaults={"approval_threshold": 100,
                                                                      "monthly_quota": 20000})
    UnitPolicy.objects.get_or_create(org_unit=units["DGT"], defaults={"approval_threshold": 50,
                                                                      "monthly_quota": 10000})
    UnitPolicy.objects.get_or_create(org_unit=units["DGHR"], defaults={"approval_threshold": 200,
                                                                       "monthly_quota": 0})


def _interviews(units, admin):
    unit = units["DGHR-REC-I"]
    day = timezone.localdate() + timedelta(days=3)
    session, created = InterviewSession.objects.get_or_create(
        org_unit=unit, title="Constable intake 2027", defaults={
            "date": day, "time": time(9, 0), "venue_en": "ROP Academy, Nizwa, Hall 2",
            "venue_ar": "أكاديمية السلطان قابوس لعلوم الشرطة، نزوى، القاعة 2",
            "bring_en": "civil ID card, certificates, 2 photos", "bring_ar": "البطاقة الشخصية والشهادات وصورتان",
            "created_by": admin})
    if created:
        for i, (name, lang) in enumerate([("سالم بن علي الحارثي", "ar"), ("Ahmed Said Al Amri", "en"),
                                          ("مريم بنت خالد الكندية", "ar"), ("يوسف حمد البلوشي", "ar"),
                                          ("Talal Nasser Al Farsi", "en")]):
            a, _ = Applicant.objects.get_or_create(org_unit=unit, mobile=f"+9689920{i + 11:04d}",
                                                   defaults={"name": name, "language": lang})
            Invitation.objects.get_or_create(session=session, applicant=a)


def _feedback(units):
    try:
        from ropsms.eservices.models import Feedback
    except ImportError:
        return
    for ticket, msisdn, text, lang, unit in [
        ("DEMO-FB-1", "+96899300011", "الإشارة الضوئية عند دوار البرج معطلة منذ يومين", "ar", None),
        ("DEMO-FB-2", "+96899300012", "Thank you for the quick help at the Seeb licensing counter.", "en", "DGT"),
        ("DEMO-FB-3", "+96899300013", "شكوى: تأخر تجديد الرخصة أكثر من أسبوع", "ar", None),
    ]:
        Feedback.objects.get_or_create(ticket=ticket, defaults={
            "msisdn": msisdn, "text": text, "language": lang, "unit": units.get(unit) if unit else None,
            "status": "assigned" if unit else "new"})


def load(stdout) -> None:
    User = get_user_model()
    units = _units(stdout)
    made = _staff(units)
    _groups(units)
    _templates(units)
    _policies(units)
    _feedback(units)
    admin = User.objects.filter(username="admin").first()
    if admin is not None:
        Profile.objects.update_or_create(user=admin, defaults={"org_unit": units["DGO"], "roles": ["system_admin"]})
        _interviews(units, admin)
    path = users_file()
    lines = []
    for username, code, roles in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None or not path.exists():
            password = secrets.token_urlsafe(9)
            user = user or User(username=username)
            user.set_password(password)
            user.save()
            lines.append(f"{username} {password} {code} {','.join(roles)}")
        Profile.objects.update_or_create(user=user, defaults={"org_unit": units[code], "roles": roles})
    if lines:
        mode = "a" if path.exists() else "w"
        with path.open(mode) as fh:
            fh.write("\n".join(lines) + "\n")
        path.chmod(0o600)
        stdout.write(f"portal: {made} demo staff; portal users (username password unit roles) in {path}:")
        for line in lines:
            stdout.write(f"  {line}")
