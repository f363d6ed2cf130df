"""Template helpers for portal pages."""

from django import template
from django.utils.translation import get_language

from ropsms.portal.ranks import rank_name

register = template.Library()


@register.filter
def rank_label(rank: str) -> str:
    """A rank in the page's language (`{{ person.rank|rank_label }}`)."""
    return rank_name(rank, get_language() or "en")
