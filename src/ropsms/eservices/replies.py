"""Reply texts: the fixed system replies in both languages, template filling, and paging for MORE."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ropsms.eservices.models import Command
from ropsms.messaging import encoding

SYSTEM = {
    "neutral": {
        "en": "No information can be sent for this request to this number. Details are sent only to the "
              "mobile number registered to the owner. Check the number you sent and try again.",
        "ar": "لا يمكن إرسال معلومات عن هذا الطلب إلى هذا الرقم. ترسل التفاصيل فقط إلى رقم الهاتف المسجل "
              "باسم المالك. تأكد من الرقم المرسل وحاول مرة أخرى.",
    },
    "busy": {
        "en": "The service is busy, please try again later.",
        "ar": "الخدمة مشغولة حاليا، يرجى المحاولة لاحقا.",
    },
    "error": {
        "en": "Sorry, your request could not be processed. Please try again later.",
        "ar": "عذرا، تعذر تنفيذ طلبك. يرجى المحاولة لاحقا.",
    },
    "rate_limited": {
        "en": "You have sent too many requests. Please wait a while and try again.",
        "ar": "لقد أرسلت طلبات كثيرة. يرجى الانتظار قليلا ثم المحاولة مرة أخرى.",
    },
    "blocked": {
        "en": "Requests from this number are suspended for a period because of unusual activity. "
              "Call 9999 or visit any ROP service centre.",
        "ar": "تم إيقاف الطلبات من هذا الرقم مؤقتا بسبب نشاط غير معتاد. اتصل على 9999 أو راجع أقرب مركز خدمات "
              "للشرطة.",
    },
    "unknown": {
        "en": "Sorry, this command is not known. Send HELP to 90085 for the list of services.",
        "ar": "عذرا، الأمر غير معروف. أرسل مساعدة إلى 90085 لمعرفة الخدمات.",
    },
    "did_you_mean": {
        "en": "Sorry, this command is not known. Did you mean {keyword}? Example: {example}",
        "ar": "عذرا، الأمر غير معروف. هل تقصد {keyword}؟ مثال: {example}",
    },
    "ambiguous": {
        "en": "Your message fits more than one service. Did you mean {keyword}? Example: {example}",
        "ar": "رسالتك تناسب أكثر من خدمة. هل تقصد {keyword}؟ مثال: {example}",
    },
    "invalid": {
        "en": "Please send {keyword} followed by the details. Example: {example}",
        "ar": "يرجى إرسال {keyword} متبوعا بالبيانات. مثال: {example}",
    },
    "more_hint": {"en": "Send MORE for the rest.", "ar": "أرسل المزيد للباقي."},
    "no_more": {
        "en": "There is nothing more to send. Send HELP for the list of services.",
        "ar": "لا يوجد المزيد. أرسل مساعدة لمعرفة الخدمات.",
    },
    "help_head": {"en": "ROP services on 90085:", "ar": "خدمات شرطة عمان السلطانية على 90085:"},
    "feedback": {
        "en": "Thank you. Your feedback is registered with ticket number {ticket}.",
        "ar": "شكرا لك. تم تسجيل ملاحظتك برقم التذكرة {ticket}.",
    },
}

_FIELD = re.compile(r"\{(\w+)\}")


def system(key: str, language: str, **values: Any) -> str:
    return fill(SYSTEM[key]["ar" if language == "ar" else "en"], values)


def money(value: Any) -> str:
    """Omani rials with three decimals (baisa), from a Decimal or anything that reads as one."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount.quantize(Decimal('0.001'))}"


def localise(values: dict[str, Any], language: str) -> dict[str, Any]:
    """`place_en`/`place_ar` -> `place` in the reply's language (English when Arabic is missing)."""
    out = dict(values)
    other = "en" if language == "ar" else "ar"
    for suffix in (other, language):  # the reply's language last, so it wins where both are given
        for key, value in values.items():
            if key.endswith(f"_{suffix}") and value not in (None, ""):
                out[key[:-3]] = value
    if "amount" in out:
        out["amount"] = money(out["amount"])
    return out


def fill(template: str, values: dict[str, Any]) -> str:
    """`{name}` placeholders only (no attribute access: templates are edited in the admin)."""
    return _FIELD.sub(lambda m: str(values.get(m.group(1), "")), template or "").strip()


def parts(text: str) -> int:
    return len(encoding.split(text).parts)


def paginate(header: str, lines: list[str], language: str, max_parts: int) -> list[str]:
    """Split a long reply into pages of at most `max_parts` SMS parts, whole lines only; every page
    but the last ends with "send MORE for the rest"."""
    hint = system("more_hint", language)
    pages: list[list[str]] = []
    current: list[str] = [header] if header else []
    for line in lines:
        fits = parts("\n".join([*current, line, hint])) <= max_parts
        if fits or not current or (len(current) == 1 and header and not pages):
            current.append(line)
        else:
            pages.append(current)
            current = [line]
    pages.append(current)
    texts = ["\n".join(p) for p in pages]
    return [t + "\n" + hint for t in texts[:-1]] + texts[-1:]


def render(command: Command, language: str, fields: dict[str, Any], records: list[dict[str, Any]],
           max_parts: int) -> list[str]:
    """The pages of the reply to a query (usually one)."""
    values = localise(fields, language)
    if command.item_en or command.item_ar:
        if not records:
            return [fill(command.text("empty", language), values)]
        amounts = []
        for r in records:
            try:
                amounts.append(Decimal(str(r["amount"])))
            except (KeyError, InvalidOperation):
                continue
        values.update(count=len(records), total=money(sum(amounts, Decimal("0"))))
        header = fill(command.text("reply", language), values)
        lines = [fill(command.text("item", language), {**values, **localise(r, language), "n": i})
                 for i, r in enumerate(records, 1)]
        return paginate(header, lines, language, max_parts)
    text = fill(command.text("reply", language), values)
    return paginate("", text.split("\n"), language, max_parts) if parts(text) > max_parts else [text]
