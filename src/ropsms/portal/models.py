"""The portal's data: who may do what where (profiles, roles, unit policies), templates, broadcasts,
and the recruitment interview invitations.

Messages themselves live in the outbox (`messaging.Message`); a `Broadcast` only records who asked
for what, who approved it, and the `Batch` its messages belong to.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from ropsms.directory.models import OrgUnit, Person
from ropsms.messaging.models import Batch, Message


class Role(models.TextChoices):
    SENDER = "sender", _("sender")
    UNIT_ADMIN = "unit_admin", _("unit administrator")
    APPROVER = "approver", _("approver")
    RECRUITMENT = "recruitment", _("recruitment")
    FINANCE = "finance", _("finance")
    HOSPITAL = "hospital", _("hospital")
    PUBLIC_RELATIONS = "public_relations", _("public relations")
    OPERATIONS = "operations", _("operations")
    SYSTEM_ADMIN = "system_admin", _("system administrator")


class Profile(models.Model):
    """A portal user: the Django user, the org unit they act for, the staff member they are, their roles."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_profile")
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="portal_users",
                                 verbose_name=_("unit"))
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               verbose_name=_("staff member"))
    roles = models.JSONField(_("roles"), default=list, blank=True)

    class Meta:
        verbose_name = _("portal user")
        verbose_name_plural = _("portal users")

    def __str__(self) -> str:
        return f"{self.user} ({self.org_unit.code})"


class UnitPolicy(models.Model):
    """Per-unit limits. The nearest policy up the tree applies; its quota covers its whole subtree."""

    org_unit = models.OneToOneField(OrgUnit, on_delete=models.CASCADE, related_name="portal_policy",
                                    verbose_name=_("unit"))
    approval_threshold = models.PositiveIntegerField(
        _("approval threshold"), default=200,
        help_text=_("Broadcasts to more recipients than this wait for an approver."))
    monthly_quota = models.PositiveIntegerField(
        _("monthly quota"), default=0, help_text=_("Messages per calendar month for the unit and below; 0 = no limit."))

    class Meta:
        verbose_name = _("unit policy")
        verbose_name_plural = _("unit policies")

    def __str__(self) -> str:
        return f"{self.org_unit.code}: >{self.approval_threshold} needs approval, quota {self.monthly_quota}"


class MessageTemplate(models.Model):
    """Reusable text with placeholders `{name}` and `{rank}`, filled per recipient."""

    org_unit = models.ForeignKey(OrgUnit, on_delete=models.CASCADE, related_name="message_templates",
                                 verbose_name=_("unit"))
    name = models.CharField(_("name"), max_length=120)
    text = models.TextField(_("text"))

    class Meta:
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Broadcast(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for approval")
        SENT = "sent", _("sent")
        REJECTED = "rejected", _("rejected")
        CANCELLED = "cancelled", _("cancelled")

    title = models.CharField(_("title"), max_length=200)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="broadcasts",
                                 verbose_name=_("unit"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("text"))
    # What the sender chose: {"staff": [ids], "groups": [ids], "units": [ids], "numbers": "pasted text"}
    selection = models.JSONField(default=dict)
    recipient_count = models.PositiveIntegerField(_("recipients"), default=0)
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    batch = models.OneToOneField(Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="broadcast")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class InterviewSession(models.Model):
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="interview_sessions",
                                 verbose_name=_("unit"))
    title = models.CharField(_("title"), max_length=200)
    date = models.DateField(_("date"))
    time = models.TimeField(_("time"))
    venue_en = models.CharField(_("venue (English)"), max_length=200)
    venue_ar = models.CharField(_("venue (Arabic)"), max_length=200)
    bring_en = models.CharField(_("what to bring (English)"), max_length=300, blank=True)
    bring_ar = models.CharField(_("what to bring (Arabic)"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("interview session")
        verbose_name_plural = _("interview sessions")
        ordering = ["-date", "-time"]

    def __str__(self) -> str:
        return f"{self.title} {self.date}"


class Applicant(models.Model):
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="applicants")
    name = models.CharField(_("name"), max_length=200)
    mobile = models.CharField(_("mobile"), max_length=20, db_index=True)  # E.164
    language = models.CharField(_("language"), max_length=2, choices=[("ar", "العربية"), ("en", "English")],
                                default="ar")
    civil_id = models.CharField(_("civil ID"), max_length=12, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("applicant")
        verbose_name_plural = _("applicants")
        constraints = [models.UniqueConstraint(fields=["org_unit", "mobile"], name="applicant_once_per_unit")]

    def __str__(self) -> str:
        return self.name


class Invitation(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("not sent yet")
        PENDING = "pending", _("no answer")
        CONFIRMED = "confirmed", _("confirmed")
        DECLINED = "declined", _("declined")

    session = models.ForeignKey(InterviewSession, on_delete=models.CASCADE, related_name="invitations")
    applicant = models.ForeignKey(Applicant, on_delete=models.CASCADE, related_name="invitations")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW,
                              db_index=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(_("invited"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied"), null=True, blank=True)
    reply_text = models.CharField(_("reply"), max_length=160, blank=True)
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [models.UniqueConstraint(fields=["session", "applicant"], name="invitation_once")]

    def __str__(self) -> str:
        return f"{self.applicant} @ {self.session}"


class ComplaintReply(models.Model):
    """An SMS reply to a citizen's feedback (eservices `Feedback`), sent from the complaints inbox."""

    feedback = models.ForeignKey("eservices.Feedback", on_delete=models.CASCADE, related_name="portal_replies")
    text = models.TextField(_("reply"))
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("complaint reply")
        verbose_name_plural = _("complaint replies")
        ordering = ["sent_at"]

    def __str__(self) -> str:
        return f"reply to feedback {self.feedback_id}"
