"""Domain events pushed by source systems (POST /events) and the alert rules that turn them into SMS.

Event types (the `type` field) and their `data`:

* `visa.status_changed`: application_no, status (received | approved | rejected | more_info_required |
  issued), mobile, language (ar | en), optional applicant_name
* `offence.recorded`: offence_no, plate, amount (OMR, up to 3 decimals), mobile, language, optional
  location, optional recorded_at
* `appointment.created` / `appointment.moved` / `appointment.cancelled`: appointment_id, mobile,
  language, place, at (the new time; not needed for cancelled), optional previous_at (moved)

Each type is validated by its own schema; a valid event is stored, then the rule for its type
renders a bilingual text in the recipient's language and calls `messaging.send()`. Other apps may
take over or add types with `register_rule(type, schema, rule)` (e.g. eservices' own alert rules).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field

Language = Literal["ar", "en"]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    mobile: str = Field(min_length=1, max_length=40, description="The recipient's mobile number")
    language: Language = "ar"


class VisaStatusChanged(_Data):
    application_no: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9\-/]+$")
    status: Literal["received", "approved", "rejected", "more_info_required", "issued"]
    applicant_name: str = Field("", max_length=100)


class OffenceRecorded(_Data):
    offence_no: str = Field(min_length=1, max_length=30, pattern=r"^[A-Za-z0-9\-/]+$")
    plate: str = Field(min_length=1, max_length=20)
    amount: Decimal = Field(ge=0, le=100000, decimal_places=3, description="Fine in Omani rials")
    location: str = Field("", max_length=100)
    recorded_at: datetime | None = None


class AppointmentEvent(_Data):
    appointment_id: str = Field(min_length=1, max_length=40)
    place: str = Field(min_length=1, max_length=100)
    at: datetime | None = None
    previous_at: datetime | None = None


@dataclass
class Alert:
    """What a rule decided: the text to send (None: nothing to send) and a short reason."""

    text: str | None
    detail: str = ""


Rule = Callable[[BaseModel, str], Alert]


@dataclass
class EventType:
    schema: type[BaseModel]
    rule: Rule
    description: str


_VISA = {
    "received": ("تم استلام طلب التأشيرة رقم {no}. سنبلغكم بأي تحديث. شرطة عمان السلطانية",
                 "Your visa application {no} has been received. We will tell you of any update. ROP"),
    "approved": ("تمت الموافقة على طلب التأشيرة رقم {no}. شرطة عمان السلطانية",
                 "Your visa application {no} has been approved. ROP"),
    "rejected": ("نأسف، لم تتم الموافقة على طلب التأشيرة رقم {no}. شرطة عمان السلطانية",
                 "We regret that visa application {no} was not approved. ROP"),
    "more_info_required": ("طلب التأشيرة رقم {no} يحتاج إلى معلومات إضافية، يرجى مراجعة بوابة التأشيرات.",
                           "Visa application {no} needs more information: please check the eVisa portal. ROP"),
    "issued": ("تم إصدار التأشيرة للطلب رقم {no}. شرطة عمان السلطانية",
               "The visa for application {no} has been issued. ROP"),
}


def _local(at: datetime | None) -> str:
    if at is None:
        return ""
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M")


def visa_rule(data: VisaStatusChanged, language: str) -> Alert:
    ar, en = _VISA[data.status]
    return Alert((ar if language == "ar" else en).format(no=data.application_no), f"visa {data.status}")


def offence_rule(data: OffenceRecorded, language: str) -> Alert:
    amount = f"{data.amount:.3f}"
    where = f" ({data.location})" if data.location else ""
    if language == "ar":
        text = (f"تم تسجيل مخالفة مرورية رقم {data.offence_no} على المركبة {data.plate}{where}، "
                f"الغرامة {amount} ر.ع. شرطة عمان السلطانية")
    else:
        text = (f"Traffic offence {data.offence_no} recorded for vehicle {data.plate}{where}. "
                f"Fine: OMR {amount}. ROP")
    return Alert(text, "offence")


def appointment_rule(kind: str) -> Rule:
    def rule(data: AppointmentEvent, language: str) -> Alert:
        when = _local(data.at)
        if kind != "cancelled" and not when:
            return Alert(None, "no appointment time given")
        texts = {
            "created": (f"تم حجز موعدكم في {data.place} بتاريخ {when}.",
                        f"Your appointment at {data.place} is booked for {when}."),
            "moved": (f"تم تغيير موعدكم في {data.place} إلى {when}.",
                      f"Your appointment at {data.place} has moved to {when}."),
            "cancelled": (f"تم إلغاء موعدكم في {data.place}.",
                          f"Your appointment at {data.place} has been cancelled."),
        }
        ar, en = texts[kind]
        return Alert(ar if language == "ar" else en, f"appointment {kind}")

    return rule


EVENT_TYPES: dict[str, EventType] = {
    "visa.status_changed": EventType(VisaStatusChanged, visa_rule, "A visa application's status changed."),
    "offence.recorded": EventType(OffenceRecorded, offence_rule, "A traffic offence was recorded."),
    "appointment.created": EventType(AppointmentEvent, appointment_rule("created"), "An appointment was booked."),
    "appointment.moved": EventType(AppointmentEvent, appointment_rule("moved"), "An appointment was moved."),
    "appointment.cancelled": EventType(AppointmentEvent, appointment_rule("cancelled"),
                                       "An appointment was cancelled."),
}


def register_rule(type_: str, *, schema: type[BaseModel], rule: Rule, description: str = "") -> None:
    """Add or replace the handling of an event type (call from an AppConfig.ready())."""
    EVENT_TYPES[type_] = EventType(schema, rule, description)
