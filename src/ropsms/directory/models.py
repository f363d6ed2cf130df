"""People, their mobile numbers, and the organisation's units.

A `Person` is anyone the gateway messages by name: a citizen, a resident (expatriate), a company
(through its contact number) or a member of staff. Mobile numbers are stored in E.164 with what we
know of their health (verified, bounces), because wrong or changed numbers are a daily problem.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrgUnit(models.Model):
    """A directorate, department or section. `path` (`/1/4/9/`) makes "this unit and below" one query."""

    class Kind(models.TextChoices):
        DIRECTORATE = "directorate", _("directorate")
        DEPARTMENT = "department", _("department")
        SECTION = "section", _("section")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_ar = models.CharField(_("name (Arabic)"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")

    class Meta:
        verbose_name = _("organisation unit")
        verbose_name_plural = _("organisation units")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name_en

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        path = (self.parent.path if self.parent else "/") + f"{self.pk}/"
        if path != self.path:
            self.path = path
            OrgUnit.objects.filter(pk=self.pk).update(path=path)
            for child in self.children.all():
                child.save()

    def subtree(self) -> models.QuerySet[OrgUnit]:
        """This unit and every unit below it."""
        return OrgUnit.objects.filter(path__startswith=self.path)

    def name(self, language: str = "en") -> str:
        return self.name_ar if language.startswith("ar") else self.name_en


class Person(models.Model):
    class Kind(models.TextChoices):
        CITIZEN = "citizen", _("citizen")
        RESIDENT = "resident", _("resident")
        COMPANY = "company", _("company")
        STAFF = "staff", _("staff")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, db_index=True)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_ar = models.CharField(_("name (Arabic)"), max_length=200, blank=True)
    civil_id = models.CharField(_("civil ID / resident card"), max_length=12, null=True, blank=True, unique=True)
    cr_number = models.CharField(_("commercial registration"), max_length=12, null=True, blank=True, unique=True)
    nationality = models.CharField(_("nationality"), max_length=2, default="OM")
    language = models.CharField(_("language"), max_length=2, choices=[("ar", "العربية"), ("en", "English")],
                                default="ar")
    mobile = models.CharField(_("mobile"), max_length=20, blank=True, db_index=True)  # E.164
    mobile_verified_at = models.DateTimeField(_("mobile verified"), null=True, blank=True)
    mobile_confirmed_at = models.DateTimeField(_("mobile re-confirmed"), null=True, blank=True)
    bounce_count = models.PositiveSmallIntegerField(_("bounces"), default=0)
    # Staff only
    employee_no = models.CharField(_("employee number"), max_length=20, null=True, blank=True, unique=True)
    rank = models.CharField(_("rank"), max_length=60, blank=True)
    org_unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.name_en

    def name(self, language: str = "en") -> str:
        return self.name_ar if language.startswith("ar") and self.name_ar else self.name_en


class Group(models.Model):
    """A named set of staff to message at once: a static list, or dynamic (by units and/or ranks).

    A dynamic group is re-evaluated at send time, so people who join a unit are included. The
    group belongs to an org unit (`owner_unit`): only users of that unit or above may use it.
    """

    class Kind(models.TextChoices):
        STATIC = "static", _("static list")
        DYNAMIC = "dynamic", _("dynamic (by unit / rank)")

    name_en = models.CharField(_("name (English)"), max_length=200)
    name_ar = models.CharField(_("name (Arabic)"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.STATIC)
    owner_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="groups",
                                   verbose_name=_("owner unit"))
    members = models.ManyToManyField(Person, blank=True, related_name="member_of", verbose_name=_("members"))
    # Dynamic: staff in any of these units (and below) whose rank is in `ranks` (empty = any rank).
    units = models.ManyToManyField(OrgUnit, blank=True, related_name="in_groups", verbose_name=_("units"))
    ranks = models.JSONField(_("ranks"), default=list, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["name_en"]

    def __str__(self) -> str:
        return self.name_en

    def name(self, language: str = "en") -> str:
        return self.name_ar if language.startswith("ar") and self.name_ar else self.name_en

    def people(self) -> models.QuerySet[Person]:
        """The active staff this group reaches now."""
        staff = Person.objects.filter(kind=Person.Kind.STAFF, active=True)
        if self.kind == self.Kind.STATIC:
            return staff.filter(pk__in=self.members.values("pk"))
        q = models.Q()
        for unit in self.units.all():
            q |= models.Q(org_unit__path__startswith=unit.path)
        if not q:
            return staff.none()
        staff = staff.filter(q)
        if self.ranks:
            staff = staff.filter(rank__in=list(self.ranks))
        return staff
