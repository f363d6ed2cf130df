"""The portal's business actions: broadcasts (compose, approve, cancel), quotas, and delivery reports.

Every outbound SMS goes through `messaging.services.send_many()` with producer `portal:<unit code>`
and the broadcast title as the batch name; every sensitive action is written to the audit trail.
Recruitment lives in `recruitment.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ropsms.directory.models import Group, OrgUnit, Person
from ropsms.directory.phone import InvalidNumber, parse_mobile
from ropsms.messaging import services as messaging
from ropsms.messaging.models import Message, State
from ropsms.ops.audit import mask, record
from ropsms.portal.access import PortalUser
from ropsms.portal.models import Broadcast, UnitPolicy
from ropsms.portal.ranks import rank_name

PRODUCER_PREFIX = "portal:"
DEFAULT_THRESHOLD = 200
_ARABIC = re.compile(r"[\u0600-\u06FF]")
_NUMBER_SPLIT = re.compile(r"[\n,;،]+")


class PortalError(ValueError):
    """An action the user asked for cannot be done; the message says why and what to do."""


def producer_for(unit: OrgUnit) -> str:
    return f"{PRODUCER_PREFIX}{unit.code}"


# --- recipients ---------------------------------------------------------------------------------

@dataclass
class Selection:
    """What the sender picked on the compose page."""

    staff: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)
    numbers: str = ""

    def as_json(self) -> dict:
        return {"staff": self.staff, "groups": self.groups, "units": self.units, "numbers": self.numbers}

    @classmethod
    def from_json(cls, data: dict) -> Selection:
        return cls(staff=list(data.get("staff", [])), groups=list(data.get("groups", [])),
                   units=list(data.get("units", [])), numbers=data.get("numbers", ""))


@dataclass
class Resolved:
    """The recipients a selection reaches: staff (one per mobile) and pasted numbers, with the rows refused."""

    people: list[Person]
    numbers: list[str]
    invalid: list[tuple[str, str]]  # (as typed, why)

    @property
    def count(self) -> int:
        return len(self.people) + len(self.numbers)


def visible_staff(pu: PortalUser):
    staff = Person.objects.filter(kind=Person.Kind.STAFF, active=True).select_related("org_unit")
    if pu.is_system_admin:
        return staff
    if pu.unit is None:
        return staff.none()
    return staff.filter(org_unit__path__startswith=pu.unit.path)


def visible_groups(pu: PortalUser):
    groups = Group.objects.select_related("owner_unit")
    if pu.is_system_admin:
        return groups
    if pu.unit is None:
        return groups.none()
    return groups.filter(owner_unit__path__startswith=pu.unit.path)


def resolve(pu: PortalUser, selection: Selection) -> Resolved:
    """Turn a selection into recipients, refusing anything outside the user's units (PortalError)."""
    staff_scope = visible_staff(pu)
    units = list(OrgUnit.objects.filter(pk__in=selection.units))
    groups = list(Group.objects.filter(pk__in=selection.groups).select_related("owner_unit"))
    if len(units) != len(set(selection.units)) or any(not pu.can_see_unit(u) for u in units):
        raise PortalError(_("You can only send to your own unit and the units below it."))
    if len(groups) != len(set(selection.groups)) or any(not pu.can_see_unit(g.owner_unit) for g in groups):
        raise PortalError(_("You can only use the groups of your own unit and the units below it."))
    chosen = staff_scope.filter(pk__in=selection.staff)
    if chosen.count() != len(set(selection.staff)):
        raise PortalError(_("You can only send to staff of your own unit and the units below it."))
    q = Q(pk__in=selection.staff)
    for unit in units:
        q |= Q(org_unit__path__startswith=unit.path)
    people: dict[str, Person] = {}
    if selection.staff or units:
        for p in staff_scope.filter(q).exclude(mobile=""):
            people.setdefault(p.mobile, p)
    for group in groups:
        # A group's members are reached only where the sender may see them.
        for p in group.people().filter(pk__in=staff_scope.values("pk")).exclude(mobile=""):
            people.setdefault(p.mobile, p)
    numbers: list[str] = []
    invalid: list[tuple[str, str]] = []
    for raw in _NUMBER_SPLIT.split(selection.numbers or ""):
        raw = raw.strip()
        if not raw:
            continue
        try:
            e164 = parse_mobile(raw).e164
        except InvalidNumber as exc:
            invalid.append((raw, str(exc)))
            continue
        if e164 not in people and e164 not in numbers:
            numbers.append(e164)
    ordered = sorted(people.values(), key=lambda p: (p.org_unit.path if p.org_unit else "", p.name_en))
    return Resolved(people=ordered, numbers=numbers, invalid=invalid)


def personalise(text: str, person: Person | None) -> str:
    """Fill `{name}` and `{rank}` in the language the text is written in (Arabic text, Arabic names)."""
    if "{" not in text:
        return text
    arabic = bool(_ARABIC.search(text))
    lang = "ar" if arabic else "en"
    name = person.name(lang) if person else ""
    rank = rank_name(person.rank, lang) if person else ""
    return text.replace("{name}", name).replace("{rank}", rank).replace("  ", " ").strip()


def preview(resolved: Resolved, text: str, limit: int = 5) -> list[tuple[str, str]]:
    """The first messages as they will arrive: (recipient label, text)."""
    rows: list[tuple[str, str]] = []
    for p in resolved.people[:limit]:
        rows.append((f"{p.name_en} ({mask(p.mobile)})", personalise(text, p)))
    for n in resolved.numbers[: max(0, limit - len(rows))]:
        rows.append((mask(n), personalise(text, None)))
    return rows


# --- policies and quotas ------------------------------------------------------------------------

def policy_for(unit: OrgUnit) -> UnitPolicy | None:
    """The nearest policy up the tree from `unit` (its own first)."""
    ids = [int(x) for x in unit.path.strip("/").split("/") if x]
    policies = {p.org_unit_id: p for p in UnitPolicy.objects.filter(org_unit_id__in=ids).select_related("org_unit")}
    for pk in reversed(ids):
        if pk in policies:
            return policies[pk]
    return None


def approval_threshold(unit: OrgUnit) -> int:
    policy = policy_for(unit)
    return policy.approval_threshold if policy else DEFAULT_THRESHOLD


def month_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def quota_usage(unit: OrgUnit) -> tuple[int, int, OrgUnit | None]:
    """(used this month, quota, unit whose quota applies) for the quota that covers `unit`; quota 0 = none."""
    policy = policy_for(unit)
    while policy is not None and not policy.monthly_quota:
        parent = policy.org_unit.parent
        policy = policy_for(parent) if parent else None
    if policy is None:
        return 0, 0, None
    codes = list(policy.org_unit.subtree().values_list("code", flat=True))
    used = (Message.objects.filter(producer__in=[producer_for_code(c) for c in codes], created_at__gte=month_start())
            .exclude(state__in=[State.REJECTED, State.CANCELLED]).count())
    return used, policy.monthly_quota, policy.org_unit


def producer_for_code(code: str) -> str:
    return f"{PRODUCER_PREFIX}{code}"


def quota_policy(producer: str, count: int) -> None:
    """Registered with `messaging`: refuse a portal send that would pass its unit's monthly quota."""
    if not producer.startswith(PRODUCER_PREFIX) or count <= 0:
        return
    unit = OrgUnit.objects.filter(code=producer[len(PRODUCER_PREFIX):]).first()
    if unit is None:
        return
    if connection.in_atomic_block:
        # Two broadcasts of the same quota unit at once: the second waits for the first to commit
        # (a row lock on PostgreSQL; SQLite already serialises writers), so both cannot pass.
        _used, _quota, owner = quota_usage(unit)
        if owner is not None:
            list(UnitPolicy.objects.select_for_update().filter(org_unit=owner).values_list("pk", flat=True))
    used, quota, owner = quota_usage(unit)
    if quota and used + count > quota:
        raise messaging.SendError(
            _("The monthly quota of %(unit)s is %(quota)d messages; %(used)d are used and this broadcast "
              "needs %(count)d. Ask your unit administrator to raise the quota or wait for next month.")
            % {"unit": owner.name_en if owner else unit.name_en, "quota": quota, "used": used, "count": count},
            code="quota", field="recipients")


# --- broadcasts ---------------------------------------------------------------------------------

def create_broadcast(*, pu: PortalUser, unit: OrgUnit, title: str, text: str, selection: Selection,
                     scheduled_for: datetime | None = None, ip: str | None = None) -> Broadcast:
    """Record a broadcast and send it now, or hold it for an approver if it is above the unit's threshold."""
    if not pu.has("compose") or not pu.can_see_unit(unit):
        raise PortalError(_("You may not send for this unit."))
    title, text = title.strip(), text.replace("\r\n", "\n").strip()  # count like the browser does
    if not title:
        raise PortalError(_("Give the broadcast a title."))
    if not text:
        raise PortalError(_("Write the message text."))
    if scheduled_for and scheduled_for <= timezone.now():
        raise PortalError(_("The scheduled time is in the past; choose a later time or send now."))
    resolved = resolve(pu, selection)
    if resolved.count == 0:
        raise PortalError(_("Choose at least one recipient with a mobile number."))
    used, quota, _owner = quota_usage(unit)
    if quota and used + resolved.count > quota:
        raise PortalError(_("This broadcast needs %(count)d messages but only %(left)d are left in the "
                            "monthly quota.") % {"count": resolved.count, "left": max(0, quota - used)})
    threshold = approval_threshold(unit)
    # One transaction: a send refused at the door (e.g. the quota, raced) leaves no broadcast behind.
    with transaction.atomic():
        broadcast = Broadcast.objects.create(
            title=title[:200], org_unit=unit, created_by=pu.user, text=text, selection=selection.as_json(),
            recipient_count=resolved.count, scheduled_for=scheduled_for)
        record(actor=pu.actor, action="broadcast.create", target=f"broadcast:{broadcast.pk}", unit=unit.code,
               ip=ip, recipients=resolved.count, needs_approval=resolved.count > threshold,
               scheduled_for=scheduled_for.isoformat() if scheduled_for else None)
        if resolved.count <= threshold:
            _dispatch(broadcast, pu, resolved, ip=ip)
    return broadcast


def _dispatch(broadcast: Broadcast, pu: PortalUser, resolved: Resolved, *, ip: str | None) -> None:
    recipients: list[messaging.Recipient] = [
        messaging.Recipient(to=p.mobile, text=personalise(broadcast.text, p), client_ref=f"person:{p.pk}")
        for p in resolved.people
    ] + [messaging.Recipient(to=n, text=personalise(broadcast.text, None)) for n in resolved.numbers]
    try:
        result = messaging.send_many(
            recipients=recipients, producer=producer_for(broadcast.org_unit), batch_name=broadcast.title,
            scheduled_for=broadcast.scheduled_for, idempotency_key=f"broadcast:{broadcast.pk}",
            meta={"broadcast": broadcast.pk})
    except messaging.SendError as exc:
        raise PortalError(str(exc)) from None
    Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.SENT, batch=result.batch,
                                                     sent_at=timezone.now())
    broadcast.status, broadcast.batch = Broadcast.Status.SENT, result.batch
    record(actor=pu.actor, action="broadcast.send", target=f"broadcast:{broadcast.pk}",
           unit=broadcast.org_unit.code, ip=ip, batch=result.batch.pk, queued=result.queued,
           refused=result.refused, errors=len(result.errors))


def _decidable(pu: PortalUser, broadcast_id: int) -> Broadcast:
    broadcast = Broadcast.objects.select_for_update().select_related("org_unit").get(pk=broadcast_id)
    if not pu.has("approve") or not pu.can_see_unit(broadcast.org_unit):
        raise PortalError(_("You may not approve broadcasts of this unit."))
    if broadcast.status != Broadcast.Status.PENDING:
        raise PortalError(_("This broadcast is no longer waiting for approval."))
    if broadcast.created_by_id == pu.user.pk and not pu.is_system_admin:
        raise PortalError(_("A broadcast must be approved by someone other than its author."))
    return broadcast


def approve(*, pu: PortalUser, broadcast_id: int, note: str = "", ip: str | None = None) -> Broadcast:
    """Approve a held broadcast and send it, to the recipients its selection reaches now."""
    with transaction.atomic():
        broadcast = _decidable(pu, broadcast_id)
        if broadcast.scheduled_for and broadcast.scheduled_for <= timezone.now():
            broadcast.scheduled_for = None  # approved after its time: send now
        Broadcast.objects.filter(pk=broadcast.pk).update(decided_by=pu.user, decided_at=timezone.now(),
                                                         decision_note=note[:300],
                                                         scheduled_for=broadcast.scheduled_for)
        record(actor=pu.actor, action="broadcast.approve", target=f"broadcast:{broadcast.pk}",
               unit=broadcast.org_unit.code, ip=ip)
        author = _author(broadcast)
        resolved = resolve(author, Selection.from_json(broadcast.selection))
        _dispatch(broadcast, pu, resolved, ip=ip)
    return broadcast


def _author(broadcast: Broadcast) -> PortalUser:
    from ropsms.portal.access import portal_user

    return portal_user(broadcast.created_by)


def reject(*, pu: PortalUser, broadcast_id: int, note: str = "", ip: str | None = None) -> Broadcast:
    with transaction.atomic():
        broadcast = _decidable(pu, broadcast_id)
        Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.REJECTED, decided_by=pu.user,
                                                         decided_at=timezone.now(), decision_note=note[:300])
        record(actor=pu.actor, action="broadcast.reject", target=f"broadcast:{broadcast.pk}",
               unit=broadcast.org_unit.code, ip=ip)
    broadcast.refresh_from_db()
    return broadcast


def cancel(*, pu: PortalUser, broadcast_id: int, ip: str | None = None) -> int:
    """Cancel what has not left yet (a held broadcast, or the scheduled/queued messages). Returns how many."""
    broadcast = Broadcast.objects.select_related("org_unit").get(pk=broadcast_id)
    if not pu.can_see_unit(broadcast.org_unit) or not (pu.has("compose") or pu.has("approve")):
        raise PortalError(_("You may not cancel broadcasts of this unit."))
    cancelled = 0
    if broadcast.status == Broadcast.Status.PENDING:
        Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.CANCELLED)
    elif broadcast.status == Broadcast.Status.SENT and broadcast.batch_id:
        ids = Message.objects.filter(batch_id=broadcast.batch_id,
                                     state__in=[State.SCHEDULED, State.QUEUED]).values_list("pk", flat=True)
        reason = f"cancelled by {pu.user.get_username()}"
        cancelled = sum(1 for pk in list(ids) if messaging.cancel(message_id=pk, reason=reason))
        if cancelled and not Message.objects.filter(batch_id=broadcast.batch_id).exclude(
                state=State.CANCELLED).exists():
            Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.CANCELLED)
    else:
        raise PortalError(_("This broadcast cannot be cancelled."))
    record(actor=pu.actor, action="broadcast.cancel", target=f"broadcast:{broadcast.pk}",
           unit=broadcast.org_unit.code, ip=ip, cancelled=cancelled)
    return cancelled


def visible_broadcasts(pu: PortalUser):
    qs = Broadcast.objects.select_related("org_unit", "created_by", "batch")
    if pu.is_system_admin:
        return qs
    if pu.unit is None:
        return qs.none()
    return qs.filter(org_unit__path__startswith=pu.unit.path)


# --- delivery reports ---------------------------------------------------------------------------

DONE_STATES = [State.DELIVERED, State.UNDELIVERABLE, State.EXPIRED, State.REJECTED, State.FAILED, State.CANCELLED]


def progress(broadcast: Broadcast) -> dict:
    """Counts per state and the share that reached a final state, for the live progress bar."""
    counts = broadcast.batch.counts() if broadcast.batch_id else {s.value: 0 for s in State}
    total = sum(counts.values())
    done = sum(counts[s.value] for s in DONE_STATES)
    return {"status": broadcast.status, "total": total, "done": done, "delivered": counts[State.DELIVERED.value],
            "percent": round(100 * done / total) if total else 0, "counts": counts,
            "finished": bool(total) and done == total}


REPORT_COLUMNS = ["to", "name", "unit", "state", "parts", "created", "submitted", "final state at", "error code",
                  "error"]


def report_messages(broadcast: Broadcast):
    if not broadcast.batch_id:
        return Message.objects.none()
    return Message.objects.filter(batch_id=broadcast.batch_id).order_by("pk")


def report_rows(broadcast: Broadcast, msgs=None):
    """Per-recipient rows for the report and its exports (names from the staff directory).

    `msgs` is a slice of `report_messages()` (one page on screen); the exports take them all.
    """
    msgs = report_messages(broadcast) if msgs is None else msgs
    is_query = hasattr(msgs, "values_list")
    refs = msgs.values_list("client_ref", flat=True) if is_query else [m.client_ref for m in msgs]
    person_ids = [int(ref.split(":", 1)[1]) for ref in refs if ref.startswith("person:")]
    people: dict[int, Person] = {}
    for start in range(0, len(person_ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = person_ids[start : start + 900]
        people.update({p.pk: p for p in Person.objects.filter(pk__in=chunk).select_related("org_unit")})
    for m in (msgs.iterator(chunk_size=2000) if is_query else msgs):
        p = people.get(int(m.client_ref.split(":", 1)[1])) if m.client_ref.startswith("person:") else None
        yield {"to": m.to, "name": p.name_en if p else "", "name_ar": p.name_ar if p else "",
               "unit": p.org_unit.code if p and p.org_unit else "",
               "state": m.state, "parts": m.parts_count, "created": m.created_at, "submitted": m.submitted_at,
               "final state at": m.done_at, "error code": m.error_code, "error": m.error_text,
               "updated": m.done_at or m.submitted_at or m.sending_at or m.created_at,
               "state_label": str(State(m.state).label)}


def short_code() -> str:
    return settings.ROPSMS["SHORT_CODE"]


# --- portal users -------------------------------------------------------------------------------

def grantable_roles(pu: PortalUser) -> list[str]:
    """Roles this user may give: a unit administrator gives any role but system administrator."""
    from ropsms.portal.models import Role

    if pu.is_system_admin:
        return list(Role.values)
    if "unit_admin" in pu.roles:
        return [r for r in Role.values if r != Role.SYSTEM_ADMIN]
    return []


def create_user(*, pu: PortalUser, username: str, unit: OrgUnit, roles: list[str], employee_no: str = "",
                ip: str | None = None) -> tuple[object, str]:
    """Create a portal user in one of `pu`'s units; returns (user, generated password) to hand over once."""
    import secrets

    from django.contrib.auth import get_user_model

    from ropsms.portal.models import Profile

    if not pu.can_see_unit(unit) or not set(roles) <= set(grantable_roles(pu)) or not roles:
        raise PortalError(_("You may not give these roles in this unit."))
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise PortalError(_("That username is taken."))
    person = None
    if employee_no:
        person = visible_staff(pu).filter(employee_no=employee_no).first()
        if person is None:
            raise PortalError(_("No staff member with that employee number in your units."))
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password)
        Profile.objects.create(user=user, org_unit=unit, roles=sorted(roles), person=person)
        record(actor=pu.actor, action="user.create", target=f"user:{username}", unit=unit.code, ip=ip,
               roles=sorted(roles))
    return user, password


def visible_profiles(pu: PortalUser):
    from ropsms.portal.models import Profile

    qs = Profile.objects.select_related("user", "org_unit", "person").order_by("org_unit__path", "user__username")
    if pu.is_system_admin:
        return qs
    return qs.filter(org_unit__path__startswith=pu.unit.path) if pu.unit else qs.none()
