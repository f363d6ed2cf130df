"""Template context for every page: the portal user's unit, roles and the navigation they may use."""

from __future__ import annotations

from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    from ropsms.portal.access import RIGHTS, nav_for, portal_user

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    pu = portal_user(user)
    return {"portal_user": pu, "portal_nav": nav_for(pu), "portal_rights": {r for r in RIGHTS if pu.has(r)}}
