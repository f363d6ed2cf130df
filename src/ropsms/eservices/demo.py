"""Demo registry for `ropsms demo-data`: a few fixed people for the README's walk-through, then
thousands of generated Omani records (names, plates, civil IDs, CR numbers, fines in OMR).

Fixed (see README "Pull services on 90085"):
* 91234567 Ahmed Al-Balushi, civil ID 12345678: vehicle 12345 AB with 3 unpaid fines (and one paid),
  driving licence, passport, ID card.
* 92345678 Fatma Al-Harthi, civil ID 23456789: vehicle 777 HH with 12 unpaid fines (MORE paging).
* 71234567 Rajesh Kumar, resident card 123456789: employment visa, visa application EV2026123456
  with passport K1234567.
* 93456789 Al Noor Trading LLC, CR 1234567: vehicle 2222 AA with 2 fines.
* 99887766 is a stranger: registered to nothing.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings

from ropsms.directory.models import Person
from ropsms.eservices.models import (
    DrivingLicence,
    IdentityCard,
    Passport,
    Vehicle,
    Violation,
    Visa,
    VisaApplication,
)

TZ = ZoneInfo(settings.TIME_ZONE)
STRANGER = "+96899887766"

PLACES = [
    ("Sultan Qaboos Street, Al Khuwair", "شارع السلطان قابوس، الخوير"),
    ("Muscat Expressway, Bawshar", "طريق مسقط السريع، بوشر"),
    ("Al Mouj Street, Seeb", "شارع الموج، السيب"),
    ("Burj Al Sahwa roundabout", "دوار برج الصحوة"),
    ("Nizwa - Bahla road", "طريق نزوى - بهلاء"),
    ("Sohar Corniche", "كورنيش صحار"),
    ("Salalah, 23 July Street", "صلالة، شارع 23 يوليو"),
    ("Sur, Al Bandar Road", "صور، طريق البندر"),
    ("Ibri, Main Road", "عبري، الطريق الرئيسي"),
    ("Ruwi High Street", "شارع روي التجاري"),
    ("Barka, Batinah Highway", "بركاء، طريق الباطنة السريع"),
    ("Qurum, Sayh Al Malih Street", "القرم، شارع سيح المالح"),
]
OFFENCES = [
    ("Speeding", "تجاوز السرعة", Decimal("15.000")),
    ("Speeding (over 35 km/h)", "تجاوز السرعة بأكثر من 35 كم/س", Decimal("50.000")),
    ("Red light", "تجاوز الإشارة الحمراء", Decimal("300.000")),
    ("Parking", "وقوف خاطئ", Decimal("10.000")),
    ("Mobile phone while driving", "استخدام الهاتف أثناء القيادة", Decimal("15.000")),
    ("Seat belt", "عدم ربط حزام الأمان", Decimal("10.000")),
    ("Expired registration", "انتهاء ملكية المركبة", Decimal("20.000")),
]
FIRST = [("Ahmed", "أحمد"), ("Mohammed", "محمد"), ("Salim", "سالم"), ("Said", "سعيد"), ("Khalid", "خالد"),
         ("Hamad", "حمد"), ("Sultan", "سلطان"), ("Yousuf", "يوسف"), ("Ali", "علي"), ("Nasser", "ناصر"),
         ("Fatma", "فاطمة"), ("Aisha", "عائشة"), ("Maryam", "مريم"), ("Shamsa", "شمسة"), ("Zainab", "زينب"),
         ("Muna", "منى"), ("Huda", "هدى"), ("Badriya", "بدرية"), ("Talal", "طلال"), ("Hilal", "هلال")]
FAMILY = [("Al-Balushi", "البلوشي"), ("Al-Harthi", "الحارثي"), ("Al-Hinai", "الهنائي"), ("Al-Rawahi", "الرواحي"),
          ("Al-Busaidi", "البوسعيدي"), ("Al-Kindi", "الكندي"), ("Al-Maawali", "المعولي"), ("Al-Siyabi", "السيابي"),
          ("Al-Shukaili", "الشكيلي"), ("Al-Riyami", "الريامي"), ("Al-Ghafri", "الغافري"), ("Al-Amri", "العامري"),
          ("Al-Farsi", "الفارسي"), ("Al-Mahrouqi", "المحروقي"), ("Al-Wahaibi", "الوهيبي")]
EXPATS = [("Rajesh Kumar", "IN"), ("Mohammed Rafiq", "PK"), ("Maria Santos", "PH"), ("Abdul Karim", "BD"),
          ("Suresh Nair", "IN"), ("Ahmed Hassan", "EG"), ("Anil Perera", "LK"), ("John Mathew", "IN"),
          ("Imran Khan", "PK"), ("Grace Dela Cruz", "PH")]
COMPANY = [("Al Noor Trading LLC", "شركة النور للتجارة ش.م.م"), ("Muscat Logistics SAOC", "مسقط للخدمات اللوجستية"),
           ("Dhofar Contracting LLC", "ظفار للمقاولات ش.م.م"), ("Batinah Transport Co", "الباطنة للنقل"),
           ("Sharqiya Building Materials", "الشرقية لمواد البناء"), ("Oman Fleet Services", "عمان لخدمات الأساطيل")]
CARS = [("Toyota", "Land Cruiser"), ("Toyota", "Camry"), ("Nissan", "Patrol"), ("Hyundai", "Elantra"),
        ("Kia", "Sportage"), ("Mitsubishi", "Pajero"), ("Lexus", "LX570"), ("Ford", "Ranger"), ("Honda", "Accord"),
        ("Isuzu", "D-Max")]
MOBILE_PREFIXES = ["91", "92", "93", "94", "95", "96", "97", "98", "99", "71", "72", "78", "79"]
LETTER_CODES = ["A", "B", "D", "H", "J", "K", "M", "R", "S", "T", "W", "Y"]


def _at(d: date, hour: int = 10) -> datetime:
    return datetime(d.year, d.month, d.day, hour, 15, tzinfo=TZ)


def load_fixed(today: date | None = None) -> dict[str, Person]:
    """The documented demo people and their records (idempotent; used by the tests too)."""
    today = today or date.today()
    people: dict[str, Person] = {}

    def person(key: str, **values) -> Person:
        lookup = {"civil_id": values["civil_id"]} if values.get("civil_id") else {"cr_number": values["cr_number"]}
        p, _ = Person.objects.get_or_create(**lookup, defaults=values)
        people[key] = p
        return p

    ahmed = person("ahmed", kind="citizen", name_en="Ahmed bin Salim Al-Balushi", name_ar="أحمد بن سالم البلوشي",
                   civil_id="12345678", mobile="+96891234567", language="ar")
    fatma = person("fatma", kind="citizen", name_en="Fatma bint Said Al-Harthi", name_ar="فاطمة بنت سعيد الحارثية",
                   civil_id="23456789", mobile="+96892345678", language="en")
    rajesh = person("rajesh", kind="resident", name_en="Rajesh Kumar", name_ar="راجيش كومار",
                    civil_id="123456789", mobile="+96871234567", nationality="IN", language="en")
    noor = person("noor", kind="company", name_en="Al Noor Trading LLC", name_ar="شركة النور للتجارة ش.م.م",
                  cr_number="1234567", mobile="+96893456789", nationality="OM")

    def vehicle(number, code, owner, make, model, year, expiry):
        v, _ = Vehicle.objects.get_or_create(plate_number=number, plate_code=code, defaults={
            "owner": owner, "make": make, "model": model, "year": year, "registration_expiry": expiry})
        return v

    v1 = vehicle("12345", "AB", ahmed, "Toyota", "Land Cruiser", 2021, today + timedelta(days=40))
    v2 = vehicle("777", "HH", fatma, "Nissan", "Patrol", 2019, today - timedelta(days=12))
    v3 = vehicle("2222", "AA", noor, "Isuzu", "D-Max", 2022, today + timedelta(days=200))
    fines = [
        (v1, ahmed, "OM-F-0000001", 30, 0, 0, False), (v1, ahmed, "OM-F-0000002", 21, 1, 1, False),
        (v1, ahmed, "OM-F-0000003", 5, 4, 3, False), (v1, ahmed, "OM-F-0000004", 300, 2, 5, True),
        (v3, noor, "OM-F-0000005", 9, 10, 0, False), (v3, noor, "OM-F-0000006", 3, 5, 6, False),
    ] + [(v2, fatma, f"OM-F-00001{i:02d}", 10 + 7 * i, i % len(PLACES), i % len(OFFENCES), False)
         for i in range(12)]
    for veh, who, ref, days_ago, place, offence, paid in fines:
        pe, pa = PLACES[place]
        oe, oa, amount = OFFENCES[offence]
        Violation.objects.get_or_create(reference=ref, defaults={
            "vehicle": veh, "person": who, "committed_at": _at(today - timedelta(days=days_ago)), "place_en": pe,
            "place_ar": pa, "offence_en": oe, "offence_ar": oa, "amount": amount, "paid": paid})
    DrivingLicence.objects.get_or_create(person=ahmed, defaults={"number": "DL12345678",
                                                                 "expiry": today + timedelta(days=25)})
    DrivingLicence.objects.get_or_create(person=rajesh, defaults={"number": "DL123456789",
                                                                  "expiry": today + timedelta(days=400)})
    Passport.objects.get_or_create(number="09876543", defaults={"person": ahmed, "expiry": today + timedelta(days=700)})
    Passport.objects.get_or_create(number="K1234567", defaults={"person": rajesh, "expiry": today + timedelta(days=90)})
    IdentityCard.objects.get_or_create(person=ahmed, defaults={"expiry": today + timedelta(days=1000)})
    IdentityCard.objects.get_or_create(person=fatma, defaults={"expiry": today - timedelta(days=3)})
    IdentityCard.objects.get_or_create(person=rajesh, defaults={"resident": True, "expiry": today + timedelta(days=60)})
    Visa.objects.get_or_create(number="V20240001", defaults={"person": rajesh, "kind_en": "employment",
                                                             "kind_ar": "عمل", "expiry": today + timedelta(days=60)})
    VisaApplication.objects.get_or_create(number="EV2026123456", defaults={
        "passport_number": "K1234567", "applicant_name": "Rajesh Kumar", "status": "under_review",
        "submitted_on": today - timedelta(days=6), "updated_on": today - timedelta(days=1)})
    return people


def _generate(rng: random.Random, today: date, people_count: int = 3000) -> dict[str, int]:
    """Bulk-create the generated registry (one INSERT per table per chunk)."""
    taken_ids = set(Person.objects.exclude(civil_id=None).values_list("civil_id", flat=True))
    taken_cr = set(Person.objects.exclude(cr_number=None).values_list("cr_number", flat=True))
    taken_mobiles = set(Person.objects.values_list("mobile", flat=True)) | {STRANGER}
    taken_plates = set(Vehicle.objects.values_list("plate_number", "plate_code"))

    def unique(fn, taken):
        while True:
            value = fn()
            if value not in taken:
                taken.add(value)
                return value

    people = []
    for i in range(people_count):
        mobile = unique(lambda: f"+968{rng.choice(MOBILE_PREFIXES)}{rng.randint(100000, 999999)}", taken_mobiles)
        if i % 50 == 0:
            en, ar = rng.choice(COMPANY)
            cr = unique(lambda: str(rng.randint(1000000, 9999999)), taken_cr)
            people.append(Person(kind="company", name_en=f"{en} ({cr})", name_ar=ar, cr_number=cr, mobile=mobile))
        elif i % 4 == 0:
            name, nat = rng.choice(EXPATS)
            cid = unique(lambda: str(rng.randint(100000000, 999999999)), taken_ids)
            people.append(Person(kind="resident", name_en=name, name_ar="", civil_id=cid, nationality=nat,
                                 language="en", mobile=mobile))
        else:
            (fe, fa), (le, la) = rng.choice(FIRST), rng.choice(FAMILY)
            cid = unique(lambda: str(rng.randint(10000000, 99999999)), taken_ids)
            people.append(Person(kind="citizen", name_en=f"{fe} {le}", name_ar=f"{fa} {la}", civil_id=cid,
                                 language=rng.choice(["ar", "ar", "en"]), mobile=mobile))
    Person.objects.bulk_create(people, batch_size=500)
    # bulk_create sets primary keys on SQLite and PostgreSQL; re-read to be safe on any backend.
    created = list(Person.objects.filter(mobile__in=[p.mobile for p in people]))
    vehicles, licences, passports, cards, visas, apps = [], [], [], [], [], []
    for p in created:
        for _ in range(1 if p.kind != "company" else 4):
            if p.kind == "resident" and rng.random() < 0.5:
                break
            number, code = unique(lambda: (str(rng.randint(1, 99999)),
                                           rng.choice(LETTER_CODES) + rng.choice(["", *LETTER_CODES])), taken_plates)
            make, model = rng.choice(CARS)
            vehicles.append(Vehicle(plate_number=number, plate_code=code, owner=p, make=make, model=model,
                                    year=rng.randint(2008, 2025),
                                    registration_expiry=today + timedelta(days=rng.randint(-60, 365))))
        if p.kind == "company":
            continue
        licences.append(DrivingLicence(person=p, number=f"DL{p.civil_id}",
                                       expiry=today + timedelta(days=rng.randint(-30, 3650))))
        cards.append(IdentityCard(person=p, resident=p.kind == "resident",
                                  expiry=today + timedelta(days=rng.randint(-30, 1800))))
        prefix = {"IN": "K", "PK": "AB", "PH": "P", "BD": "BN", "EG": "A", "LK": "N"}.get(p.nationality, "")
        passport_no = f"{prefix}{rng.randint(1000000, 9999999)}" if prefix else f"{p.civil_id[-8:]:0>8}"
        passports.append(Passport(person=p, number=f"{passport_no}{p.pk % 10}",
                                  expiry=today + timedelta(days=rng.randint(-90, 3650))))
        if p.kind == "resident":
            visas.append(Visa(person=p, number=f"V{p.pk:08d}", kind_en="employment", kind_ar="عمل",
                              expiry=today + timedelta(days=rng.randint(-30, 730))))
            if rng.random() < 0.3:
                apps.append(VisaApplication(number=f"EV{today.year}{p.pk:06d}", passport_number=f"{passport_no}"
                            f"{p.pk % 10}", applicant_name=p.name_en, status=rng.choice(VisaApplication.Status.values),
                            submitted_on=today - timedelta(days=rng.randint(5, 30)),
                            updated_on=today - timedelta(days=rng.randint(0, 4))))
    Vehicle.objects.bulk_create(vehicles, batch_size=500)
    vehicles = list(Vehicle.objects.filter(owner__in=created).select_related(None))
    violations = []
    for v in vehicles:
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 5])):
            pe, pa = rng.choice(PLACES)
            oe, oa, amount = rng.choice(OFFENCES)
            violations.append(Violation(
                reference=f"TV-{len(violations) + 1:08d}", vehicle=v, person_id=v.owner_id,
                committed_at=_at(today - timedelta(days=rng.randint(1, 400)), rng.randint(6, 23)),
                place_en=pe, place_ar=pa, offence_en=oe, offence_ar=oa, amount=amount, paid=rng.random() < 0.3))
    for model, rows in ((DrivingLicence, licences), (IdentityCard, cards), (Passport, passports), (Visa, visas),
                        (VisaApplication, apps), (Violation, violations)):
        model.objects.bulk_create(rows, batch_size=500)
    return {"people": len(created), "vehicles": len(vehicles), "violations": len(violations),
            "visa applications": len(apps)}


def load(stdout) -> None:
    """`ropsms demo-data`: idempotent (the generated part is made once, marked by the fixed people)."""
    already = Person.objects.filter(civil_id="12345678").exists()
    load_fixed()
    if already and Vehicle.objects.count() > 100:
        return
    counts = _generate(random.Random(90085), date.today())
    stdout.write("eservices demo registry: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
