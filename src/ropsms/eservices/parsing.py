"""Turn an MO text into (command, parameters, language), tolerantly, or say what was closest.

The configured commands are compiled once per *version stamp* (count and latest `updated_at` of
the `Command` table, read with every MO: the engine reads it in the same query as the rate
limits), so an edit in the admin takes effect on the next MO in every process, with no restart
and no stale cache.
"""

from __future__ import annotations

import difflib
import re
import threading
from dataclasses import dataclass, field

from django.db import connection

from ropsms.eservices.identifiers import canonical
from ropsms.eservices.models import Command
from ropsms.eservices.normalize import has_arabic, has_latin, normalize


@dataclass(frozen=True)
class Keyword:
    tokens: tuple[str, ...]
    language: str
    command_id: int


@dataclass
class Catalogue:
    """The enabled commands, compiled."""

    commands: dict[int, Command]
    patterns: dict[int, re.Pattern[str] | None]
    keywords: list[Keyword]  # longest first


@dataclass
class Parsed:
    command: Command | None
    language: str
    params: dict[str, str] = field(default_factory=dict)
    keyword: str = ""
    problem: str = ""  # "" | "unknown" | "invalid" | "ambiguous"
    suggestion: Command | None = None


_lock = threading.Lock()
_cache: tuple[tuple, Catalogue] | None = None


# Subqueries only, so that the engine can add them to a query of its own (one round trip per MO).
STAMP_COLUMNS = ("(SELECT COUNT(*) FROM eservices_command), (SELECT MAX(updated_at) FROM eservices_command), "
                 "(SELECT MAX(id) FROM eservices_command), (SELECT MAX(updated_at) FROM eservices_datasource)")
_STAMP_SQL = f"SELECT {STAMP_COLUMNS}"


def _stamp() -> tuple:
    """Changes when a command or data source is added, edited (`save()`) or deleted.

    Plain SQL: it runs for every MO, and the ORM's query building would cost more than the query.
    """
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL)
        return tuple(cursor.fetchone())


def catalogue(stamp: tuple | None = None) -> Catalogue:
    """The compiled commands, rebuilt only when the table changed (`stamp`: the `STAMP_COLUMNS`
    just read by the caller; read here when not given)."""
    global _cache
    stamp = tuple(stamp) if stamp is not None else _stamp()
    cached = _cache
    if cached and cached[0] == stamp:
        return cached[1]
    commands = {c.pk: c for c in Command.objects.filter(enabled=True).select_related("source")}
    patterns: dict[int, re.Pattern[str] | None] = {}
    keywords: list[Keyword] = []
    for cmd in commands.values():
        try:
            patterns[cmd.pk] = re.compile(cmd.param_pattern) if cmd.param_pattern else None
        except re.error:
            continue  # a broken pattern disables only its command (the admin form validates too)
        for word, language in cmd.keywords():
            toks = tuple(normalize(word).split())
            if toks:
                keywords.append(Keyword(toks, language, cmd.pk))
    keywords.sort(key=lambda k: -len(k.tokens))
    built = Catalogue(commands=commands, patterns=patterns,
                      keywords=[k for k in keywords if k.command_id in patterns])
    with _lock:
        _cache = (stamp, built)
    return built


def _language(text: str, keyword_language: str | None) -> str:
    if keyword_language:
        return keyword_language
    if has_arabic(text):
        return "ar"
    if has_latin(text):
        return "en"
    return "ar"


def _match_param(cat: Catalogue, cmd_id: int, param_tokens: list[str]) -> dict[str, str] | None:
    pattern = cat.patterns[cmd_id]
    param = " ".join(param_tokens)
    if pattern is None:
        return {} if not param else None
    found = pattern.fullmatch(param)
    if not found:
        return None
    return canonical(found.groupdict())


def parse(text: str, *, stamp: tuple | None = None) -> Parsed:
    """Find the command: keyword first or last, longest keyword wins, the parameter must fit."""
    cat = catalogue(stamp)
    toks = normalize(text).split()
    if not toks:
        return Parsed(command=None, language=_language(text, None), problem="unknown")
    candidates: list[tuple[int, Keyword, dict[str, str]]] = []
    near: list[Keyword] = []  # keyword matched, parameter did not
    for kw in cat.keywords:
        n = len(kw.tokens)
        if candidates and n < len(candidates[0][1].tokens):
            break
        placements = []
        if tuple(toks[:n]) == kw.tokens:
            placements.append(toks[n:])
        if len(toks) > n and tuple(toks[-n:]) == kw.tokens:
            placements.append(toks[:-n])
        for rest in placements:
            params = _match_param(cat, kw.command_id, rest)
            if params is not None:
                candidates.append((kw.command_id, kw, params))
            else:
                near.append(kw)
    distinct = {c[0] for c in candidates}
    if len(distinct) == 1:
        cmd_id, kw, params = candidates[0]
        return Parsed(command=cat.commands[cmd_id], language=_language(text, kw.language), params=params,
                      keyword=" ".join(kw.tokens))
    if len(distinct) > 1:
        kw = candidates[0][1]
        return Parsed(command=None, language=_language(text, kw.language), problem="ambiguous",
                      suggestion=cat.commands[candidates[0][0]])
    if near:
        kw = near[0]
        return Parsed(command=cat.commands[kw.command_id], language=_language(text, kw.language), problem="invalid",
                      keyword=" ".join(kw.tokens))
    return Parsed(command=None, language=_language(text, None), problem="unknown",
                  suggestion=closest(cat, toks))


def closest(cat: Catalogue, toks: list[str]) -> Command | None:
    """"Did you mean": the command whose keyword is closest to the first or last word(s)."""
    by_text: dict[str, int] = {}
    for kw in cat.keywords:
        by_text.setdefault(" ".join(kw.tokens), kw.command_id)
    tries = []
    for n in (1, 2):
        if len(toks) >= n:
            tries += [" ".join(toks[:n]), " ".join(toks[-n:])]
    best, best_score = None, 0.0
    for attempt in tries:
        for word in difflib.get_close_matches(attempt, list(by_text), n=1, cutoff=0.6):
            score = difflib.SequenceMatcher(None, attempt, word).ratio()
            if score > best_score:
                best, best_score = by_text[word], score
    return cat.commands.get(best) if best is not None else None


def strip_keyword(raw: str, keyword: str) -> str:
    """The raw text after a leading keyword (feedback keeps what the citizen wrote, unnormalised)."""
    limit = min(len(raw), 120)
    for i in range(1, limit + 1):
        if normalize(raw[:i]) == keyword and (i == len(raw) or not raw[i].isalnum()):
            rest = raw[i:]
            return rest.lstrip(" \t\r\n:.-,،").strip()
    return raw.strip()
