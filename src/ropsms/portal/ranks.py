"""Police ranks in English and Arabic, so `{rank}` is filled in the language of the message."""

from __future__ import annotations

RANKS: list[tuple[str, str]] = [
    ("Lieutenant General", "فريق"),
    ("Major General", "لواء"),
    ("Brigadier", "عميد"),
    ("Colonel", "عقيد"),
    ("Lieutenant Colonel", "مقدم"),
    ("Major", "رائد"),
    ("Captain", "نقيب"),
    ("Lieutenant", "ملازم أول"),
    ("Second Lieutenant", "ملازم ثاني"),
    ("Warrant Officer", "وكيل"),
    ("Sergeant", "رقيب"),
    ("Corporal", "عريف"),
    ("Lance Corporal", "نائب عريف"),
    ("Constable", "شرطي"),
    ("Civilian", "موظف مدني"),
]
_AR = dict(RANKS)
_EN = {ar: en for en, ar in RANKS}


def rank_name(rank: str, language: str) -> str:
    """The rank in `language`, whichever language it is stored in (unknown ranks as stored)."""
    if not rank:
        return ""
    if language.startswith("ar"):
        return _AR.get(rank, rank)
    return _EN.get(rank, rank)
