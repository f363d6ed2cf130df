"""The commands shipped with ropsms, installed by a data migration (and re-installable from the admin).

They are ordinary `Command` rows afterwards: administrators edit keywords, templates and patterns,
or point a command at another data source (`sql`, `http`) without touching code.
"""

from __future__ import annotations

from typing import Any

from ropsms.eservices import identifiers as ids

_FINE_ITEM_EN = "{n}) {date} {place} {amount} OMR"
_FINE_ITEM_AR = "{n}) {date} {place} {amount} ر.ع"

COMMANDS: list[dict[str, Any]] = [
    {
        "code": "fines-plate", "order": 10, "name_en": "Traffic fines by plate", "name_ar": "المخالفات برقم اللوحة",
        "keywords_en": "FINES, FINE, VIOLATIONS, TRAFFIC", "keywords_ar": "مخالفات, مخالفة, المخالفات",
        "param_pattern": ids.PLATE, "example": "FINES 12345 AB", "query": "violations_by_plate",
        "reply_en": "Vehicle {plate}: {count} unpaid fine(s), total {total} OMR:",
        "reply_ar": "المركبة {plate}: عدد المخالفات غير المدفوعة {count}، المجموع {total} ر.ع:",
        "item_en": _FINE_ITEM_EN, "item_ar": _FINE_ITEM_AR,
        "empty_en": "Vehicle {plate} has no unpaid traffic fines.",
        "empty_ar": "لا توجد مخالفات مرورية غير مدفوعة على المركبة {plate}.",
        "help_en": "traffic fines of your vehicle", "help_ar": "مخالفات مركبتك",
    },
    {
        "code": "fines-civil-id", "order": 11, "name_en": "Traffic fines by civil ID",
        "name_ar": "المخالفات بالرقم المدني",
        "keywords_en": "FINES ID, FINESID, FINE ID", "keywords_ar": "مخالفات مدني, مخالفات الرقم المدني",
        "param_pattern": ids.CIVIL_ID, "example": "FINES ID 12345678", "query": "violations_by_civil_id",
        "reply_en": "Civil ID {civil_id}: {count} unpaid fine(s), total {total} OMR:",
        "reply_ar": "الرقم المدني {civil_id}: عدد المخالفات غير المدفوعة {count}، المجموع {total} ر.ع:",
        "item_en": _FINE_ITEM_EN, "item_ar": _FINE_ITEM_AR,
        "empty_en": "There are no unpaid traffic fines for civil ID {civil_id}.",
        "empty_ar": "لا توجد مخالفات مرورية غير مدفوعة على الرقم المدني {civil_id}.",
        "help_en": "your traffic fines by civil ID", "help_ar": "مخالفاتك بالرقم المدني",
    },
    {
        "code": "fines-cr", "order": 12, "name_en": "Company traffic fines by CR number",
        "name_ar": "مخالفات الشركات بالسجل التجاري",
        "keywords_en": "FINES CR, FINESCR, CR FINES", "keywords_ar": "مخالفات سجل, مخالفات شركة, مخالفات السجل التجاري",
        "param_pattern": ids.CR_NUMBER, "example": "FINES CR 1234567", "query": "violations_by_cr",
        "reply_en": "{company} (CR {cr_number}): {count} unpaid fine(s), total {total} OMR:",
        "reply_ar": "{company} (س.ت {cr_number}): عدد المخالفات غير المدفوعة {count}، المجموع {total} ر.ع:",
        "item_en": _FINE_ITEM_EN, "item_ar": _FINE_ITEM_AR,
        "empty_en": "There are no unpaid traffic fines for CR {cr_number}.",
        "empty_ar": "لا توجد مخالفات مرورية غير مدفوعة على السجل التجاري {cr_number}.",
        "help_en": "your company's traffic fines", "help_ar": "مخالفات مركبات شركتك",
    },
    {
        "code": "vehicle-registration", "order": 20, "name_en": "Vehicle registration expiry",
        "name_ar": "انتهاء ملكية المركبة",
        "keywords_en": "REG, MULKIYA, REGISTRATION", "keywords_ar": "ملكية, ملكيه, تسجيل",
        "param_pattern": ids.PLATE, "example": "REG 12345 AB", "query": "vehicle_registration",
        "reply_en": "Registration of vehicle {plate} ({make} {model}) is {status}, expiry date {expiry}.",
        "reply_ar": "ملكية المركبة {plate} ({make} {model}) {status}، تاريخ الانتهاء {expiry}.",
        "help_en": "vehicle registration expiry", "help_ar": "تاريخ انتهاء ملكية المركبة",
    },
    {
        "code": "driving-licence", "order": 30, "name_en": "Driving licence expiry", "name_ar": "انتهاء رخصة القيادة",
        "keywords_en": "LICENCE, LICENSE, DL", "keywords_ar": "رخصة, رخصة قيادة, رخصة القيادة",
        "param_pattern": ids.CIVIL_ID, "example": "LICENCE 12345678", "query": "driving_licence",
        "reply_en": "Your driving licence ({categories}) is {status}, expiry date {expiry}.",
        "reply_ar": "رخصة القيادة ({categories}) {status}، تاريخ الانتهاء {expiry}.",
        "help_en": "driving licence expiry (civil ID)", "help_ar": "انتهاء رخصة القيادة (الرقم المدني)",
    },
    {
        "code": "passport", "order": 40, "name_en": "Passport expiry", "name_ar": "انتهاء جواز السفر",
        "keywords_en": "PASSPORT, PP", "keywords_ar": "جواز, جواز سفر, جواز السفر",
        "param_pattern": ids.CIVIL_ID, "example": "PASSPORT 12345678", "query": "passport",
        "reply_en": "Passport {passport} is {status}, expiry date {expiry}.",
        "reply_ar": "جواز السفر {passport} {status}، تاريخ الانتهاء {expiry}.",
        "help_en": "passport expiry (civil ID)", "help_ar": "انتهاء جواز السفر (الرقم المدني)",
    },
    {
        "code": "visa", "order": 50, "name_en": "Visa expiry", "name_ar": "انتهاء التأشيرة",
        "keywords_en": "VISA", "keywords_ar": "تأشيرة, تاشيرة, فيزا",
        "param_pattern": ids.CIVIL_ID, "example": "VISA 123456789", "query": "visa",
        "reply_en": "Your {kind} visa is {status}, expiry date {expiry}.",
        "reply_ar": "التأشيرة ({kind}) {status}، تاريخ الانتهاء {expiry}.",
        "help_en": "visa expiry (resident card number)", "help_ar": "انتهاء التأشيرة (رقم بطاقة الإقامة)",
    },
    {
        "code": "id-card", "order": 60, "name_en": "ID / resident card expiry", "name_ar": "انتهاء البطاقة",
        "keywords_en": "ID, CARD, RC", "keywords_ar": "بطاقة, البطاقة, بطاقة مدنية, اقامة, الإقامة",
        "param_pattern": ids.CIVIL_ID, "example": "ID 12345678", "query": "id_card",
        "reply_en": "Your {card} is {status}, expiry date {expiry}.",
        "reply_ar": "{card} {status}، تاريخ الانتهاء {expiry}.",
        "help_en": "ID or resident card expiry", "help_ar": "انتهاء البطاقة الشخصية أو الإقامة",
    },
    {
        "code": "visa-application", "order": 70, "name_en": "Visa application status", "name_ar": "حالة طلب التأشيرة",
        "keywords_en": "VISA STATUS, VSTATUS, EVISA", "keywords_ar": "حالة تأشيرة, حالة التأشيرة, طلب تأشيرة",
        "param_pattern": ids.VISA_APPLICATION, "example": "VISA STATUS EV2026123456 K1234567",
        "query": "visa_application", "public": True,
        "reply_en": "Visa application {application}: {status} (updated {updated}).",
        "reply_ar": "طلب التأشيرة {application}: {status} (آخر تحديث {updated}).",
        "help_en": "visa application status (application and passport number)",
        "help_ar": "حالة طلب التأشيرة (رقم الطلب ورقم الجواز)",
    },
    {
        "code": "feedback", "order": 80, "name_en": "Feedback / complaint", "name_ar": "ملاحظة / شكوى",
        "keywords_en": "FB, FEEDBACK, COMPLAINT", "keywords_ar": "شكوى, ملاحظة, اقتراح",
        "action": "feedback", "param_pattern": ids.FREE_TEXT, "example": "FB your message",
        "help_en": "send us feedback", "help_ar": "أرسل ملاحظتك أو شكواك",
    },
    {
        "code": "help", "order": 90, "name_en": "Help", "name_ar": "مساعدة",
        "keywords_en": "HELP, INFO", "keywords_ar": "مساعدة, مساعده, خدمات", "action": "help",
        "example": "HELP", "help_en": "this list", "help_ar": "هذه القائمة",
    },
    {
        "code": "more", "order": 95, "name_en": "More", "name_ar": "المزيد",
        "keywords_en": "MORE, NEXT", "keywords_ar": "المزيد, مزيد, التالي", "action": "more", "example": "MORE",
    },
]


def install(Command, DataSource) -> int:
    """Create the demo data source and any shipped command that does not exist yet (by code)."""
    demo, _ = DataSource.objects.get_or_create(name="demo", defaults={"kind": "demo"})
    created = 0
    for spec in COMMANDS:
        values = {**spec}
        if values.get("action", "query") == "query":
            values["source"] = demo
        _, was_created = Command.objects.get_or_create(code=spec["code"], defaults=values)
        created += was_created
    return created
