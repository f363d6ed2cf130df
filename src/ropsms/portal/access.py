"""Who may do what, and where: roles grant rights; a user sees only their unit and the units below.

A `PortalUser` wraps the Django user with their `Profile`. Superusers without a profile act as
system administrators. Views ask `require(request, right)` (403 page otherwise) and scope every
query with `visible_units()` / `can_see_unit()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ropsms.directory.models import OrgUnit

# Rights and the roles that hold them.
RIGHTS: dict[str, set[str]] = {
    "view": {"sender", "unit_admin", "approver", "recruitment", "finance", "hospital", "public_relations",
             "operations", "system_admin"},
    "compose": {"sender", "unit_admin", "finance", "hospital", "system_admin"},
    "approve": {"approver", "system_admin"},
    "reports": {"sender", "unit_admin", "approver", "finance", "hospital", "operations", "system_admin"},
    "staff": {"sender", "unit_admin", "approver", "finance", "hospital", "operations", "system_admin"},
    "groups": {"unit_admin", "system_admin"},
    "templates": {"sender", "unit_admin", "finance", "hospital", "system_admin"},
    "recruitment": {"recruitment", "system_admin"},
    "complaints": {"public_relations", "system_admin"},
    "policy": {"unit_admin", "system_admin"},
    "audit": {"operations", "system_admin"},
    "users": {"unit_admin", "system_admin"},
}
# Roles whose accounts must use two-factor authentication (TOTP).
ADMIN_ROLES = {"unit_admin", "system_admin", "operations"}


@dataclass
class PortalUser:
    user: object
    unit: OrgUnit | None
    roles: set[str] = field(default_factory=set)

    @property
    def is_system_admin(self) -> bool:
        return "system_admin" in self.roles

    @property
    def needs_otp(self) -> bool:
        return bool(self.roles & ADMIN_ROLES)

    def has(self, right: str) -> bool:
        return bool(self.roles & RIGHTS.get(right, set()))

    @cached_property
    def _paths(self) -> tuple[str, ...]:
        return (self.unit.path,) if self.unit else ()

    def visible_units(self) -> QuerySet[OrgUnit]:
        """The units this user may see and act for: their own and below (all, for a system admin)."""
        if self.is_system_admin:
            return OrgUnit.objects.all()
        if self.unit is None:
            return OrgUnit.objects.none()
        return self.unit.subtree()

    def can_see_unit(self, unit: OrgUnit | None) -> bool:
        if unit is None:
            return False
        return self.is_system_admin or any(unit.path.startswith(p) for p in self._paths)

    @property
    def actor(self) -> str:
        return f"user:{self.user.get_username()}"


def portal_user(user) -> PortalUser:
    """The portal view of a Django user (cached on the user object for the request)."""
    cached = getattr(user, "_portal_user", None)
    if cached is not None:
        return cached
    from ropsms.portal.models import Profile

    profile = Profile.objects.select_related("org_unit").filter(user=user).first() if user.pk else None
    if profile is not None:
        roles = set(profile.roles)
        pu = PortalUser(user=user, unit=profile.org_unit, roles=roles)
    elif getattr(user, "is_superuser", False):
        pu = PortalUser(user=user, unit=OrgUnit.objects.filter(parent=None).first(), roles={"system_admin"})
    else:
        pu = PortalUser(user=user, unit=None, roles=set())
    user._portal_user = pu
    return pu


def require(request: HttpRequest, right: str) -> PortalUser:
    """The request's portal user if they hold `right`; otherwise a 403 page."""
    pu = portal_user(request.user)
    if not pu.has(right):
        raise PermissionDenied(_("Your role does not allow this page."))
    return pu


# (url name, label, right) in menu order
NAV = [
    ("portal:dashboard", _("Dashboard"), "view"),
    ("portal:compose", _("Compose"), "compose"),
    ("portal:broadcasts", _("Broadcasts"), "reports"),
    ("portal:approvals", _("Approvals"), "approve"),
    ("portal:staff", _("Staff"), "staff"),
    ("portal:groups", _("Groups"), "groups"),
    ("portal:templates", _("Templates"), "templates"),
    ("portal:recruitment", _("Recruitment"), "recruitment"),
    ("portal:complaints", _("Complaints"), "complaints"),
    ("portal:users", _("Users"), "users"),
    ("portal:audit", _("Audit"), "audit"),
]


def nav_for(pu: PortalUser) -> list[tuple[str, str]]:
    return [(name, label) for name, label, right in NAV if pu.has(right)]
