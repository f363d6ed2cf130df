"""The commands engine: the registered MO handler for the short code.

For each MO: check blocks and rate limits, parse the text against the configured commands, run the
command (look up through its connector, check privacy, render), send exactly one reply through
`messaging.send()` and record the exchange. Nothing in here raises to the caller: a failure gets
the citizen an apology and is logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ropsms.directory.models import Person
from ropsms.directory.phone import InvalidNumber, parse_mobile
from ropsms.eservices import conf
from ropsms.eservices.connectors import SourceUnavailable, connector_for
from ropsms.eservices.identifiers import fingerprint, masked
from ropsms.eservices.models import Block, Command, Exchange, Feedback
from ropsms.eservices.normalize import has_arabic, has_latin
from ropsms.eservices.parsing import STAMP_COLUMNS, Parsed, catalogue, parse, strip_keyword
from ropsms.eservices.replies import paginate, render, system
from ropsms.messaging import inbound
from ropsms.messaging.bulk import insert_rows
from ropsms.messaging.errors import SendError
from ropsms.messaging.models import InboundMessage, Message, Priority
from ropsms.messaging.services import send
from ropsms.ops import audit
from ropsms.ops.audit import mask

log = logging.getLogger(__name__)
PRODUCER = "eservices:pull"
R = Exchange.Result


@dataclass
class Outcome:
    result: str
    language: str
    text: str | None  # None: no reply (a notice was already sent)
    command: Command | None = None
    params: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    note: str = ""
    audit: dict[str, str] = field(default_factory=dict)  # written with the reply, in one transaction


def handle_mo(mo: InboundMessage) -> str:
    """The MO handler (`inbound.register_handler`): returns a short result for the MO log."""
    started = time.perf_counter()
    now = timezone.now()
    try:
        msisdn = parse_mobile(mo.msisdn, allow_foreign=True).e164
    except InvalidNumber:
        log.warning("MO #%s from an unusable number %s: no reply possible", mo.pk, mask(mo.msisdn))
        with transaction.atomic():
            _record(mo, mo.msisdn, Outcome(R.ERROR, "ar", None, note="bad sender"), None, started, now)
            inbound.mark_handled(mo, "eservices: sender number unusable, no reply")
        return mo.handler_result
    try:
        outcome = _dispatch(mo, msisdn, now)
    except Exception:
        log.exception("pull command failed for MO #%s from %s", mo.pk, mask(msisdn))
        outcome = Outcome(R.ERROR, _guess_language(mo.text), system("error", _guess_language(mo.text)))
    # One write transaction for the audit entry, the reply, the exchange and the MO's outcome: on
    # SQLite every separate write is a separate wait for the database lock, which the gateway wants too.
    with transaction.atomic():
        if outcome.audit:
            audit.record(**outcome.audit)
        reply = _reply(msisdn, outcome, mo)
        _record(mo, msisdn, outcome, reply, started, now)
        code = outcome.command.code if outcome.command else "-"
        note = f" [{outcome.note}]" if outcome.note else ""
        inbound.mark_handled(mo, f"eservices: {outcome.result} ({code}){note}"
                                 + (f", reply #{reply.pk}" if reply else ", no reply"))
    return mo.handler_result


def _guess_language(text: str) -> str:
    return "en" if has_latin(text) and not has_arabic(text) else "ar"


def _reply(msisdn: str, outcome: Outcome, mo: InboundMessage) -> Message | None:
    if outcome.text is None:
        return None
    try:
        return send(to=msisdn, text=outcome.text, producer=PRODUCER, source=settings.ROPSMS["SHORT_CODE"],
                    priority=Priority.URGENT, allow_foreign=True, in_reply_to=mo.pk,
                    meta={"mo": mo.pk, "command": outcome.command.code if outcome.command else ""})
    except SendError as exc:
        log.error("reply to MO #%s could not be queued (%s)", mo.pk, exc.code)  # the text names the number
        return None


def _record(mo: InboundMessage, msisdn: str, outcome: Outcome, reply: Message | None, started: float,
            now: datetime) -> None:
    """One `Exchange` row per MO. Written with the outbox's fast insert (no model instance, no
    per-field machinery): this runs for every MO, and `Model.save()` cost more than the write."""
    insert_rows(Exchange, [{
        "mo_id": mo.pk, "msisdn": msisdn[:20], "command_id": outcome.command.pk if outcome.command else None,
        "language": outcome.language, "param_masked": masked(outcome.params) if outcome.params else "",
        "param_hash": fingerprint(outcome.params) if outcome.params else "", "result": outcome.result,
        "reply_id": reply.pk if reply else None, "latency_ms": int((time.perf_counter() - started) * 1000),
        "pending_pages": outcome.pending, "created_at": now,
    }])


# --- the steps --------------------------------------------------------------------------------------


def _dispatch(mo: InboundMessage, msisdn: str, now: datetime) -> Outcome:
    language = _guess_language(mo.text)
    counts = _counts(msisdn, now)
    limited = _limits(msisdn, now, language, counts)
    if limited is not None:
        return limited
    parsed = parse(mo.text, stamp=counts.stamp)
    language = parsed.language
    if parsed.problem:
        return _problem(parsed)
    cmd = parsed.command
    assert cmd is not None
    if cmd.action == Command.Action.HELP:
        pages = _help(language)
        return Outcome(R.HELP, language, pages[0], cmd, pending=pages[1:])
    if cmd.action == Command.Action.MORE:
        return _more(msisdn, now, language, cmd)
    if cmd.action == Command.Action.FEEDBACK:
        return _feedback(mo, msisdn, parsed)
    return _query(msisdn, now, parsed)


_QUIET = (R.SILENCED, R.RATE_LIMITED, R.BLOCKED)
_LIMITS_SQL = (
    "SELECT"  # noqa: S608 - constant SQL (the stamp columns too), no input
    " (SELECT COUNT(*) FROM eservices_exchange WHERE msisdn = %s AND created_at > %s AND result NOT IN (%s, %s, %s)),"
    " (SELECT COUNT(*) FROM eservices_exchange WHERE msisdn = %s AND created_at > %s AND result NOT IN (%s, %s, %s)),"
    " (SELECT id FROM eservices_block WHERE msisdn = %s AND until > %s ORDER BY until DESC LIMIT 1),"
    f" {STAMP_COLUMNS}"
)


class _Counts(NamedTuple):
    per_minute: int
    per_day: int
    block_id: int | None
    stamp: tuple  # the commands' version stamp (see `parsing.catalogue`)


def _counts(msisdn: str, now: datetime) -> _Counts:
    """One round trip (this runs for every MO): the number's recent commands, its block if any,
    and the commands' version stamp."""
    minute, day = now - timedelta(minutes=1), now - timedelta(days=1)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(_LIMITS_SQL, [msisdn, adapt(minute), *_QUIET, msisdn, adapt(day), *_QUIET, msisdn, adapt(now)])
        per_minute, per_day, block_id, *stamp = cursor.fetchone()
    return _Counts(per_minute, per_day, block_id, tuple(stamp))


def _limits(msisdn: str, now: datetime, language: str, counts: _Counts) -> Outcome | None:
    """Blocked numbers and per-number rate limits; the notice is sent once, then silence."""
    minute, day = now - timedelta(minutes=1), now - timedelta(days=1)
    per_minute, per_day, block_id = counts.per_minute, counts.per_day, counts.block_id
    if block_id is not None:
        if not Block.objects.filter(pk=block_id, notified=False).update(notified=True):
            return Outcome(R.SILENCED, language, None, note="blocked")
        return Outcome(R.BLOCKED, language, system("blocked", language), note="blocked")
    for count, since, limit, note in ((per_minute, minute, conf.get("PER_MINUTE"), "minute"),
                                      (per_day, day, conf.get("PER_DAY"), "day")):
        if count < limit:
            continue
        log.info("rate limit (%s) for %s", note, mask(msisdn))
        noticed = Exchange.objects.filter(msisdn=msisdn, result=R.RATE_LIMITED, created_at__gt=since).exists()
        if noticed:
            return Outcome(R.SILENCED, language, None, note=note)
        return Outcome(R.RATE_LIMITED, language, system("rate_limited", language), note=note)
    return None


def _problem(parsed: Parsed) -> Outcome:
    language = parsed.language
    if parsed.problem == "invalid" and parsed.command is not None:
        cmd = parsed.command
        return Outcome(R.INVALID, language, system("invalid", language, keyword=_keyword(cmd, language),
                                                  example=_example(cmd, language)), cmd)
    if parsed.suggestion is not None:
        cmd = parsed.suggestion
        key = "ambiguous" if parsed.problem == "ambiguous" else "did_you_mean"
        return Outcome(R.UNKNOWN, language, system(key, language, keyword=_keyword(cmd, language),
                                                  example=_example(cmd, language)))
    return Outcome(R.UNKNOWN, language, system("unknown", language))


def _keyword(cmd: Command, language: str) -> str:
    words = [w for w, lang in cmd.keywords() if lang == language] or [w for w, _ in cmd.keywords()]
    return words[0] if words else cmd.code


def _example(cmd: Command, language: str) -> str:
    example = cmd.example or _keyword(cmd, language)
    if language == "ar":
        # "FINES 12345 AB" -> "مخالفات 12345 AB": the keyword in Arabic, the identifier as written.
        first_en = _keyword(cmd, "en")
        if example.upper().startswith(first_en.upper()):
            example = _keyword(cmd, "ar") + example[len(first_en):]
    return example


def _help(language: str) -> list[str]:
    cat = catalogue()
    lines = []
    for cmd in sorted(cat.commands.values(), key=lambda c: (c.order, c.code)):
        text = cmd.text("help", language)
        if text:
            lines.append(f"{_example(cmd, language)}: {text}")
    return paginate(system("help_head", language), lines, language, conf.get("MAX_REPLY_PARTS"))


def _more(msisdn: str, now: datetime, language: str, cmd: Command) -> Outcome:
    since = now - timedelta(minutes=conf.get("MORE_MINUTES"))
    last = (Exchange.objects.filter(msisdn=msisdn, created_at__gt=since)
            .exclude(result__in=[R.SILENCED, R.RATE_LIMITED, R.BLOCKED, R.MORE, R.UNKNOWN])
            .order_by("-created_at", "-pk").first())
    # The pages waiting: on the last exchange, or on the MORE that consumed part of them.
    holder = (Exchange.objects.filter(msisdn=msisdn, created_at__gt=since).exclude(pending_pages=[])
              .order_by("-created_at", "-pk").first())
    if holder is None or (last is not None and holder.created_at < last.created_at):
        return Outcome(R.MORE, language, system("no_more", language), cmd)
    pages = list(holder.pending_pages)
    Exchange.objects.filter(pk=holder.pk).update(pending_pages=[])
    return Outcome(R.MORE, holder.language, pages[0], cmd, pending=pages[1:])


def _feedback(mo: InboundMessage, msisdn: str, parsed: Parsed) -> Outcome:
    cmd, language = parsed.command, parsed.language
    text = strip_keyword(mo.text, parsed.keyword) or parsed.params.get("text", "")
    text = "".join(c for c in text if c in "\n\t" or c.isprintable())  # no NULs or controls in the inbox
    person = Person.objects.filter(mobile=msisdn).order_by("pk").first()
    fb = Feedback.objects.create(msisdn=msisdn, person=person, text=text[:2000], language=language, mo=mo)
    fb.ticket = f"FB{timezone.localdate():%y%m}{fb.pk:05d}"
    Feedback.objects.filter(pk=fb.pk).update(ticket=fb.ticket)
    audit.record(actor=f"msisdn:{mask(msisdn)}", action="eservices.feedback", target=f"feedback:{fb.pk}")
    log.info("feedback %s filed from %s", fb.ticket, mask(msisdn))
    return Outcome(R.FEEDBACK, language, system("feedback", language, ticket=fb.ticket), cmd,
                   params={"text": text})


def _query(msisdn: str, now: datetime, parsed: Parsed) -> Outcome:
    cmd, language, params = parsed.command, parsed.language, parsed.params
    assert cmd is not None
    if cmd.source is None:
        log.error("command %s has no data source configured", cmd.code)
        return Outcome(R.BUSY, language, system("busy", language), cmd, params)
    started = time.perf_counter()
    try:
        found = connector_for(cmd.source).lookup(cmd.query, params)
    except SourceUnavailable as exc:
        elapsed = time.perf_counter() - started
        log.warning("ALERT data source %s unavailable for %s after %.2fs: %s", cmd.source.name, cmd.code, elapsed,
                    exc)
        return Outcome(R.BUSY, language, system("busy", language), cmd, params,
                       audit=_audit(msisdn, cmd, params, "busy"))
    allowed = found.found and (cmd.public or msisdn in found.owners)
    if not allowed:
        _check_probing(msisdn, now, params)
        return Outcome(R.NEUTRAL, language, system("neutral", language), cmd, params,
                       audit=_audit(msisdn, cmd, params, "refused"))
    pages = render(cmd, language, {**params, **found.fields}, found.records, conf.get("MAX_REPLY_PARTS"))
    return Outcome(R.ANSWERED, language, pages[0], cmd, params, pending=pages[1:],
                   audit=_audit(msisdn, cmd, params, "answered"))


def _audit(msisdn: str, cmd: Command, params: dict[str, str], result: str) -> dict[str, str]:
    """Every query is audited: who (masked), which command, the identifier (masked), the outcome."""
    return {"actor": f"msisdn:{mask(msisdn)}", "action": "eservices.query", "target": f"command:{cmd.code}",
            "result": result, "param": masked(params)}


def _check_probing(msisdn: str, now: datetime, params: dict[str, str]) -> None:
    """A number asking about many identifiers it does not own is blocked for a while and reported."""
    since = now - timedelta(minutes=conf.get("PROBE_WINDOW_MINUTES"))
    refused = set(Exchange.objects.filter(msisdn=msisdn, result=R.NEUTRAL, created_at__gt=since)
                  .exclude(param_hash="").values_list("param_hash", flat=True).distinct())
    refused.add(fingerprint(params))
    if len(refused) < conf.get("PROBE_LIMIT"):
        return
    if Block.objects.filter(Q(msisdn=msisdn) & Q(until__gt=now)).exists():
        return
    until = now + timedelta(hours=conf.get("BLOCK_HOURS"))
    Block.objects.create(msisdn=msisdn, created_at=now, until=until,
                         reason=f"asked about {len(refused)} identifiers it does not own within "
                                f"{conf.get('PROBE_WINDOW_MINUTES')} minutes")
    audit.record(actor="system", action="eservices.block", target=f"msisdn:{mask(msisdn)}",
                 identifiers=len(refused), until=until.isoformat())
    log.warning("ALERT blocked %s until %s: probing %d identifiers", mask(msisdn), until.isoformat(), len(refused))
