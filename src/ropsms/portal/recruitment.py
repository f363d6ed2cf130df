"""Recruitment interviews: applicants uploaded from CSV/XLSX, invitations in each applicant's
language, their YES/NO replies (a reply interceptor), and a reminder the day before.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ropsms.directory.phone import InvalidNumber, parse_mobile, to_ascii_digits
from ropsms.messaging import services as messaging
from ropsms.messaging.models import InboundMessage, Priority
from ropsms.ops.audit import mask, record
from ropsms.portal.access import PortalUser
from ropsms.portal.models import Applicant, InterviewSession, Invitation
from ropsms.portal.services import PortalError, producer_for

MAX_UPLOAD_ROWS = 5000
YES = {"1", "yes", "y", "ok", "نعم", "ن", "اي", "أي", "موافق"}
NO = {"2", "no", "n", "لا", "ل"}

INVITE = {
    "en": ("Dear {name}, you are invited to an interview for {title} on {date} at {time}, {venue}. "
           "Please bring: {bring}. Reply 1 (YES) to confirm or 2 (NO) to decline."),
    "ar": ("السيد/ة {name}، أنت مدعو لمقابلة {title} يوم {date} الساعة {time} في {venue}. "
           "يرجى إحضار: {bring}. للتأكيد أرسل 1 (نعم) أو 2 (لا) للاعتذار."),
}
REMINDER = {
    "en": "Reminder: your interview for {title} is tomorrow {date} at {time}, {venue}. Please bring: {bring}.",
    "ar": "تذكير: مقابلتك ل{title} غدا {date} الساعة {time} في {venue}. يرجى إحضار: {bring}.",
}
ACK = {
    ("en", True): "Thank you {name}, your attendance on {date} at {time} is confirmed.",
    ("en", False): "Thank you {name}, we have recorded that you will not attend.",
    ("ar", True): "شكرا {name}، تم تأكيد حضورك يوم {date} الساعة {time}.",
    ("ar", False): "شكرا {name}، تم تسجيل اعتذارك عن الحضور.",
}


@dataclass
class RowReport:
    row: int  # as in the file (header is row 1)
    ok: bool
    message: str
    name: str = ""


def _read_rows(filename: str, data: bytes) -> list[dict[str, str]]:
    """Rows of a CSV (UTF-8, with or without BOM) or XLSX file as dicts keyed by lower-case header."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:
            raise PortalError(_("The file is not a readable XLSX workbook (%(err)s).") % {"err": exc}) from None
        rows = list(wb.active.iter_rows(values_only=True))
        if not rows:
            return []
        header = [str(h or "").strip().lower() for h in rows[0]]
        return [{header[i]: "" if v is None else str(v).strip() for i, v in enumerate(r) if i < len(header)}
                for r in rows[1:]]
    if name.endswith(".csv") or name.endswith(".txt"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PortalError(_("The CSV file must be saved as UTF-8.")) from None
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None:
            return []
        reader.fieldnames = [f.strip().lower() for f in reader.fieldnames]
        return [{k: (v or "").strip() for k, v in r.items() if k} for r in reader]
    raise PortalError(_("Upload a .csv or .xlsx file."))


def upload_applicants(*, pu: PortalUser, session: InterviewSession, filename: str, data: bytes,
                      ip: str | None = None) -> list[RowReport]:
    """Add the file's applicants to `session`; a row-by-row report says what happened to each row.

    Columns: name (required), mobile (required), language (ar/en, default ar), civil_id (optional).
    Bad rows are reported and skipped; good rows are kept (nothing is lost for a typo elsewhere).
    """
    _check(pu, session)
    rows = _read_rows(filename, data)
    if not rows:
        raise PortalError(_("The file has no rows under its header (name, mobile, language)."))
    if len(rows) > MAX_UPLOAD_ROWS:
        raise PortalError(_("At most %(n)d applicants per file.") % {"n": MAX_UPLOAD_ROWS})
    if "mobile" not in rows[0] or "name" not in rows[0]:
        raise PortalError(_("The header must have the columns name and mobile (and optionally language, civil_id)."))
    report: list[RowReport] = []
    seen: set[str] = set()
    with transaction.atomic():
        for index, row in enumerate(rows, start=2):
            name = row.get("name", "").strip()
            if not name and not row.get("mobile"):
                continue
            if not name:
                report.append(RowReport(index, False, _("the name is empty")))
                continue
            try:
                mobile = parse_mobile(row.get("mobile", "")).e164
            except InvalidNumber as exc:
                report.append(RowReport(index, False, str(exc), name))
                continue
            lang = (row.get("language") or "ar").strip().lower()[:2]
            lang = {"ع": "ar", "عر": "ar"}.get(lang, lang)
            if lang not in {"ar", "en"}:
                report.append(RowReport(index, False, _("language must be ar or en"), name))
                continue
            if mobile in seen:
                report.append(RowReport(index, False, _("the same mobile number is on an earlier row"), name))
                continue
            seen.add(mobile)
            applicant, _created = Applicant.objects.update_or_create(
                org_unit=session.org_unit, mobile=mobile,
                defaults={"name": name, "language": lang,
                          "civil_id": to_ascii_digits(row.get("civil_id", ""))[:12]})
            _inv, new = Invitation.objects.get_or_create(session=session, applicant=applicant)
            report.append(RowReport(index, True, _("added") if new else _("already invited to this session"), name))
        record(actor=pu.actor, action="recruitment.upload", target=f"interview:{session.pk}",
               unit=session.org_unit.code, ip=ip, rows=len(report), added=sum(r.ok for r in report))
    return report


def _check(pu: PortalUser, session: InterviewSession) -> None:
    if not pu.has("recruitment") or not pu.can_see_unit(session.org_unit):
        raise PortalError(_("You may not manage this interview session."))


def _fields(session: InterviewSession, lang: str, name: str) -> dict[str, str]:
    return {"name": name, "title": session.title, "date": session.date.strftime("%d/%m/%Y"),
            "time": session.time.strftime("%H:%M"), "venue": session.venue_ar if lang == "ar" else session.venue_en,
            "bring": (session.bring_ar if lang == "ar" else session.bring_en) or "-"}


def invitation_text(invitation: Invitation) -> str:
    a = invitation.applicant
    return INVITE[a.language].format(**_fields(invitation.session, a.language, a.name))


def send_invitations(*, pu: PortalUser, session: InterviewSession, ip: str | None = None) -> int:
    """Send the invitations not sent yet, each in its applicant's language. Returns how many were queued."""
    _check(pu, session)
    todo = list(session.invitations.filter(status=Invitation.Status.NEW).select_related("applicant", "session"))
    if not todo:
        return 0
    recipients = [messaging.Recipient(to=i.applicant.mobile, text=invitation_text(i), client_ref=f"invitation:{i.pk}")
                  for i in todo]
    with transaction.atomic():
        return _send_invitations(pu, session, todo, recipients, ip)


def _send_invitations(pu: PortalUser, session: InterviewSession, todo: list[Invitation],
                      recipients: list[messaging.Recipient], ip: str | None) -> int:
    try:
        result = messaging.send_many(recipients=recipients, producer=producer_for(session.org_unit),
                                     batch_name=f"{session.title} {session.date}", priority=Priority.NORMAL,
                                     meta={"interview": session.pk})
    except messaging.SendError as exc:
        raise PortalError(str(exc)) from None
    by_ref = dict(result.batch.messages.values_list("client_ref", "pk"))
    now = timezone.now()
    for inv in todo:
        Invitation.objects.filter(pk=inv.pk).update(status=Invitation.Status.PENDING, sent_at=now,
                                                    message_id=by_ref.get(f"invitation:{inv.pk}"))
    record(actor=pu.actor, action="recruitment.invite", target=f"interview:{session.pk}",
           unit=session.org_unit.code, ip=ip, invited=len(todo), batch=result.batch.pk)
    return len(todo)


def parse_reply(text: str) -> bool | None:
    """True for yes (1, YES, نعم), False for no (2, NO, لا), None for anything else."""
    word = re.sub(r"[\s\.\!\u061f\?،,]+", " ", to_ascii_digits(text or "")).strip().lower()
    word = word.split(" ")[0] if word else ""
    if word in YES:
        return True
    if word in NO:
        return False
    return None


def reply_interceptor(mo: InboundMessage) -> str | None:
    """Registered with `messaging.inbound`: take YES/NO from a number with a pending invitation."""
    answer = parse_reply(mo.text)
    if answer is None:
        return None
    today = timezone.localdate()
    inv = (Invitation.objects.filter(applicant__mobile=mo.msisdn, status=Invitation.Status.PENDING,
                                     session__date__gte=today)
           .select_related("applicant", "session", "session__org_unit").order_by("-sent_at").first())
    if inv is None:
        return None
    status = Invitation.Status.CONFIRMED if answer else Invitation.Status.DECLINED
    Invitation.objects.filter(pk=inv.pk).update(status=status, replied_at=mo.received_at, reply_text=mo.text[:160])
    a = inv.applicant
    ack = ACK[(a.language, answer)].format(**_fields(inv.session, a.language, a.name))
    # The answer is recorded; a refused acknowledgement (e.g. quota) must not lose it.
    with contextlib.suppress(messaging.SendError):
        messaging.send(to=a.mobile, text=ack, producer=producer_for(inv.session.org_unit),
                       idempotency_key=f"interview-ack:{inv.pk}:{mo.pk}", meta={"interview": inv.session_id},
                       in_reply_to=mo.pk)
    record(actor="system", action=f"recruitment.reply.{status}", target=f"invitation:{inv.pk}",
           unit=inv.session.org_unit.code, msisdn=mask(mo.msisdn))
    return f"interview invitation {inv.pk}: {status}"


def send_due_reminders(now=None) -> int:
    """Remind the applicants who confirmed, the day before their interview (idempotent: each once)."""
    tomorrow = timezone.localdate(now) + timedelta(days=1)
    sent = 0
    due = Invitation.objects.filter(status=Invitation.Status.CONFIRMED, reminded_at__isnull=True,
                                    session__date=tomorrow).select_related("applicant", "session",
                                                                           "session__org_unit")
    for inv in due:
        # Claim first so two schedulers never both remind.
        if not Invitation.objects.filter(pk=inv.pk, reminded_at__isnull=True).update(reminded_at=timezone.now()):
            continue
        a = inv.applicant
        try:
            messaging.send(to=a.mobile, text=REMINDER[a.language].format(**_fields(inv.session, a.language, a.name)),
                           producer=producer_for(inv.session.org_unit), idempotency_key=f"interview-reminder:{inv.pk}",
                           meta={"interview": inv.session_id})
        except messaging.SendError:
            Invitation.objects.filter(pk=inv.pk).update(reminded_at=None)
            continue
        sent += 1
    if sent:
        record(actor="system", action="recruitment.remind", target=f"date:{tomorrow}", reminded=sent)
    return sent


def summary(session: InterviewSession) -> dict[str, int]:
    counts = {s.value: 0 for s in Invitation.Status}
    for status in session.invitations.values_list("status", flat=True):
        counts[status] += 1
    return counts
