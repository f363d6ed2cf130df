"""The `demo` connector: the registry models in the project's own database (seeded by demo.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from ropsms.directory.models import Person
from ropsms.eservices.connectors.base import NOT_FOUND, LookupResult, UnknownQuery, owner_numbers
from ropsms.eservices.models import (
    DrivingLicence,
    IdentityCard,
    Passport,
    Vehicle,
    Violation,
    Visa,
    VisaApplication,
)

_PLATE_FINES_SQL = (
    "SELECT v.plate_number, v.plate_code, p.mobile, f.reference, f.committed_at, f.place_en, f.place_ar, "
    "f.offence_en, f.offence_ar, f.amount "
    "FROM eservices_vehicle v JOIN directory_person p ON p.id = v.owner_id "
    "LEFT JOIN eservices_violation f ON f.vehicle_id = v.id AND f.paid = %s "
    "WHERE v.plate_number = %s AND v.plate_code = %s ORDER BY f.committed_at"
)


_CATEGORIES_AR = {"Light": "خفيفة", "Heavy": "ثقيلة", "Motorcycle": "دراجة نارية",
                  "Light, Motorcycle": "خفيفة، دراجة نارية"}


def _aware(when: datetime | str) -> datetime:
    """Plain SQL gives SQLite's stored UTC time as a naive datetime (or text); PostgreSQL's is aware."""
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return when if timezone.is_aware(when) else when.replace(tzinfo=UTC)


def _status(expiry: date, *, masculine: bool = False) -> dict[str, str]:
    """Valid or expired; Arabic agrees with the noun (رخصة سارية, جواز ساري)."""
    today = timezone.localdate()
    if expiry < today:
        return {"status_en": "expired", "status_ar": "منتهي" if masculine else "منتهية"}
    return {"status_en": "valid", "status_ar": "ساري" if masculine else "سارية"}


def _fines(qs) -> list[dict[str, Any]]:
    rows = []
    for v in qs.filter(paid=False).order_by("committed_at"):
        when = timezone.localtime(v.committed_at)
        rows.append({"date": f"{when:%d/%m/%Y}", "place_en": v.place_en, "place_ar": v.place_ar,
                     "offence_en": v.offence_en, "offence_ar": v.offence_ar, "amount": v.amount,
                     "reference": v.reference})
    return rows


def _one(qs):
    """The first row without `.first()`'s ORDER BY id, which can make SQLite scan instead of using the index."""
    return next(iter(qs.order_by()[:1]), None)


def _person(civil_id: str) -> Person | None:
    return _one(Person.objects.filter(civil_id=civil_id))


class DemoConnector:
    def lookup(self, query: str, params: dict[str, str]) -> LookupResult:
        handler: Callable[[dict[str, str]], LookupResult] | None = getattr(self, f"q_{query}", None)
        if handler is None:
            raise UnknownQuery(f"the demo source has no query {query!r}")
        return handler(params)

    def _vehicle(self, params: dict[str, str]) -> Vehicle | None:
        return _one(Vehicle.objects.select_related("owner")
                    .filter(plate_number=params.get("number", "").lstrip("0"), plate_code=params.get("letters", "")))

    def q_violations_by_plate(self, params: dict[str, str]) -> LookupResult:
        # The most asked question, so plain SQL in one round trip: the vehicle, its owner's number and
        # its unpaid fines (LEFT JOIN: a vehicle without fines is found, with no records).
        with connection.cursor() as cursor:
            cursor.execute(_PLATE_FINES_SQL, [False, params.get("number", "").lstrip("0"), params.get("letters", "")])
            rows = cursor.fetchall()
        if not rows:
            return NOT_FOUND
        number, code, mobile = rows[0][:3]
        records = [{"date": f"{timezone.localtime(_aware(when)):%d/%m/%Y}", "place_en": pe, "place_ar": pa,
                    "offence_en": oe, "offence_ar": oa, "amount": Decimal(str(amount)), "reference": ref}
                   for _, _, _, ref, when, pe, pa, oe, oa, amount in rows if ref is not None]
        return LookupResult(found=True, owners=owner_numbers([mobile]), fields={"plate": f"{number} {code}"},
                            records=records)

    def q_violations_by_civil_id(self, params: dict[str, str]) -> LookupResult:
        person = _person(params["civil_id"])
        if person is None or person.kind == Person.Kind.COMPANY:
            return NOT_FOUND
        return LookupResult(found=True, owners=owner_numbers([person.mobile]), fields={"civil_id": person.civil_id},
                            records=_fines(Violation.objects.filter(person=person)))

    def q_violations_by_cr(self, params: dict[str, str]) -> LookupResult:
        company = _one(Person.objects.filter(cr_number=params["cr_number"], kind=Person.Kind.COMPANY))
        if company is None:
            return NOT_FOUND
        qs = Violation.objects.filter(vehicle__owner=company) | Violation.objects.filter(person=company)
        return LookupResult(found=True, owners=owner_numbers([company.mobile]),
                            fields={"cr_number": company.cr_number, "company_en": company.name_en,
                                    "company_ar": company.name_ar or company.name_en},
                            records=_fines(qs.distinct()))

    def q_vehicle_registration(self, params: dict[str, str]) -> LookupResult:
        vehicle = self._vehicle(params)
        if vehicle is None:
            return NOT_FOUND
        return LookupResult(found=True, owners=owner_numbers([vehicle.owner.mobile]), fields={
            "plate": str(vehicle), "make": vehicle.make, "model": vehicle.model,
            "expiry": f"{vehicle.registration_expiry:%d/%m/%Y}", **_status(vehicle.registration_expiry)})

    def q_driving_licence(self, params: dict[str, str]) -> LookupResult:
        lic = _one(DrivingLicence.objects.select_related("person").filter(person__civil_id=params["civil_id"]))
        if lic is None:
            return NOT_FOUND
        return LookupResult(found=True, owners=owner_numbers([lic.person.mobile]), fields={
            "expiry": f"{lic.expiry:%d/%m/%Y}", "categories_en": lic.categories,
            "categories_ar": _CATEGORIES_AR.get(lic.categories, lic.categories), **_status(lic.expiry)})

    def q_passport(self, params: dict[str, str]) -> LookupResult:
        pp = (Passport.objects.select_related("person").filter(person__civil_id=params["civil_id"])
              .order_by("-expiry").first())
        if pp is None:
            return NOT_FOUND
        return LookupResult(found=True, owners=owner_numbers([pp.person.mobile]), fields={
            "passport": pp.number, "expiry": f"{pp.expiry:%d/%m/%Y}", **_status(pp.expiry, masculine=True)})

    def q_visa(self, params: dict[str, str]) -> LookupResult:
        visa = (Visa.objects.select_related("person").filter(person__civil_id=params["civil_id"])
                .order_by("-expiry").first())
        if visa is None:
            return NOT_FOUND
        return LookupResult(found=True, owners=owner_numbers([visa.person.mobile]), fields={
            "kind_en": visa.kind_en, "kind_ar": visa.kind_ar, "expiry": f"{visa.expiry:%d/%m/%Y}",
            **_status(visa.expiry)})

    def q_id_card(self, params: dict[str, str]) -> LookupResult:
        card = _one(IdentityCard.objects.select_related("person").filter(person__civil_id=params["civil_id"]))
        if card is None:
            return NOT_FOUND
        kind = ({"card_en": "resident card", "card_ar": "بطاقة الإقامة"} if card.resident
                else {"card_en": "ID card", "card_ar": "البطاقة الشخصية"})
        return LookupResult(found=True, owners=owner_numbers([card.person.mobile]), fields={
            **kind, "expiry": f"{card.expiry:%d/%m/%Y}", **_status(card.expiry)})

    def q_visa_application(self, params: dict[str, str]) -> LookupResult:
        app = _one(VisaApplication.objects.filter(number=params["application"], passport_number=params["passport"]))
        if app is None:
            return NOT_FOUND
        labels = {
            "received": "تم الاستلام", "under_review": "قيد الدراسة", "approved": "تمت الموافقة",
            "rejected": "مرفوض", "issued": "صدرت التأشيرة",
        }
        return LookupResult(found=True, fields={
            "application": app.number, "status_en": str(app.get_status_display()), "status_ar": labels[app.status],
            "updated": f"{app.updated_on:%d/%m/%Y}"})

    # --- for alert rules ----------------------------------------------------------------------------

    _EXPIRING = {
        "driving_licence": (DrivingLicence, "person", "expiry"),
        "passport": (Passport, "person", "expiry"),
        "visa": (Visa, "person", "expiry"),
        "id_card": (IdentityCard, "person", "expiry"),
        "vehicle_registration": (Vehicle, "owner", "registration_expiry"),
    }

    def expiring(self, kind: str, start: date, end: date) -> list[dict[str, Any]]:
        if kind not in self._EXPIRING:
            raise UnknownQuery(f"the demo source cannot list expiring {kind!r}")
        model, owner, column = self._EXPIRING[kind]
        rows = (model.objects.filter(**{f"{column}__gte": start, f"{column}__lte": end})
                .exclude(**{f"{owner}__mobile": ""}).order_by(column, "pk")
                .values("pk", column, f"{owner}__mobile", f"{owner}__language", f"{owner}__name_en",
                        f"{owner}__name_ar"))
        return [{"id": r["pk"], "expiry": r[column], "owner_mobile": r[f"{owner}__mobile"],
                 "language": r[f"{owner}__language"], "name_en": r[f"{owner}__name_en"],
                 "name_ar": r[f"{owner}__name_ar"]} for r in rows]

    def changes(self, kind: str, cursor: str) -> tuple[list[dict[str, Any]], str]:
        """Visa applications updated after the cursor (`YYYY-MM-DD:pk`), oldest first."""
        if kind != "visa_application":
            raise UnknownQuery(f"the demo source has no change feed for {kind!r}")
        qs = VisaApplication.objects.order_by("updated_on", "pk")
        if cursor:
            day, _, pk = cursor.partition(":")
            after = date.fromisoformat(day)
            qs = qs.filter(Q(updated_on__gt=after) | Q(updated_on=after, pk__gt=int(pk or 0)))
        apps = list(qs[:1000])
        rows = [{"application": a.number, "passport": a.passport_number, "status": a.status,
                 "updated": a.updated_on} for a in apps]
        return rows, (f"{apps[-1].updated_on.isoformat()}:{apps[-1].pk}" if apps else cursor)

