"""Pull services on the short code: configured commands, the demo registry, the exchange log, feedback.

Commands are rows, not code (issue 4): an administrator adds or edits a `Command` in the admin
and the engine picks it up on the next MO (the engine's cache is keyed on a version stamp).
The registry models (vehicles, licences, passports, visas, resident cards, visa applications,
violations) are the *demo* data source; production reads the police systems through the `sql`
or `http` connectors configured as `DataSource` rows.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from ropsms.directory.models import OrgUnit, Person


class DataSource(models.Model):
    """Where a command's answer comes from (ARCHITECTURE.md "Data sources")."""

    class Kind(models.TextChoices):
        DEMO = "demo", _("demo registry (this database)")
        SQL = "sql", _("SQL database")
        HTTP = "http", _("HTTP / JSON service")

    name = models.SlugField(_("name"), max_length=50, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    url = models.CharField(_("URL"), max_length=500, blank=True,
                           help_text=_("sqlite:///path/file.db, postgres://user:pass@host/db, or https://host/base"))
    timeout_seconds = models.DecimalField(_("timeout (seconds)"), max_digits=5, decimal_places=2, default=3)
    queries = models.JSONField(
        _("queries"), default=dict, blank=True,
        help_text=_("query name -> SQL (named :params) or HTTP path template ({param}); see the README"),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("data source")
        verbose_name_plural = _("data sources")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class Command(models.Model):
    """One pull service: keywords, parameter pattern, where the answer comes from, reply templates."""

    class Action(models.TextChoices):
        QUERY = "query", _("look up and reply")
        HELP = "help", _("list the commands")
        FEEDBACK = "feedback", _("file feedback / complaint")
        MORE = "more", _("send the next page of the last reply")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_ar = models.CharField(_("name (Arabic)"), max_length=100)
    keywords_en = models.CharField(_("keywords (English)"), max_length=300,
                                   help_text=_("comma-separated, e.g. FINES, FINE, VIOLATIONS"))
    keywords_ar = models.CharField(_("keywords (Arabic)"), max_length=300, help_text=_("comma-separated"))
    action = models.CharField(_("action"), max_length=10, choices=Action.choices, default=Action.QUERY)
    param_pattern = models.CharField(
        _("parameter pattern"), max_length=300, blank=True,
        help_text=_("regular expression matched against the normalised parameter (lower case, ASCII digits); "
                    "named groups become the query's parameters. Empty: no parameter."),
    )
    example = models.CharField(_("example"), max_length=100, blank=True, help_text=_("e.g. FINES 12345 AB"))
    source = models.ForeignKey(DataSource, null=True, blank=True, on_delete=models.PROTECT, related_name="commands")
    query = models.CharField(_("query name"), max_length=60, blank=True)
    public = models.BooleanField(
        _("public"), default=False,
        help_text=_("Public answers go to any number; private ones only to the registered owner's number."),
    )
    reply_en = models.TextField(_("reply (English)"), blank=True, help_text=_("{field} placeholders"))
    reply_ar = models.TextField(_("reply (Arabic)"), blank=True)
    item_en = models.CharField(_("line per record (English)"), max_length=300, blank=True)
    item_ar = models.CharField(_("line per record (Arabic)"), max_length=300, blank=True)
    empty_en = models.CharField(_("reply when there are no records (English)"), max_length=300, blank=True)
    empty_ar = models.CharField(_("reply when there are no records (Arabic)"), max_length=300, blank=True)
    help_en = models.CharField(_("help text (English)"), max_length=200, blank=True)
    help_ar = models.CharField(_("help text (Arabic)"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    order = models.PositiveSmallIntegerField(_("order in HELP"), default=100)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("command")
        verbose_name_plural = _("commands")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.code

    def keywords(self) -> list[tuple[str, str]]:
        """[(keyword, language)] as written by the administrator."""
        out = [(k.strip(), "en") for k in self.keywords_en.split(",") if k.strip()]
        out += [(k.strip(), "ar") for k in self.keywords_ar.split(",") if k.strip()]
        return out

    def text(self, field: str, language: str) -> str:
        return getattr(self, f"{field}_{'ar' if language == 'ar' else 'en'}") or getattr(self, f"{field}_en")


# --- the demo registry -------------------------------------------------------------------------


class Vehicle(models.Model):
    plate_number = models.CharField(_("plate number"), max_length=5)
    plate_code = models.CharField(_("plate letters"), max_length=2, help_text=_("Latin letters, e.g. AB"))
    owner = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="vehicles")
    make = models.CharField(_("make"), max_length=40)
    model = models.CharField(_("model"), max_length=40)
    year = models.PositiveSmallIntegerField(_("year"))
    registration_expiry = models.DateField(_("registration (mulkiya) expiry"))

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        constraints = [models.UniqueConstraint(fields=["plate_number", "plate_code"], name="vehicle_plate_unique")]

    def __str__(self) -> str:
        return f"{self.plate_number} {self.plate_code}"


class DrivingLicence(models.Model):
    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="driving_licence")
    number = models.CharField(_("licence number"), max_length=12, unique=True)
    categories = models.CharField(_("categories"), max_length=20, default="Light")
    expiry = models.DateField(_("expiry"))

    class Meta:
        verbose_name = _("driving licence")
        verbose_name_plural = _("driving licences")

    def __str__(self) -> str:
        return self.number


class Passport(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="passports")
    number = models.CharField(_("passport number"), max_length=12, unique=True)
    expiry = models.DateField(_("expiry"))

    class Meta:
        verbose_name = _("passport")
        verbose_name_plural = _("passports")

    def __str__(self) -> str:
        return self.number


class IdentityCard(models.Model):
    """The Omani ID card (citizens) or resident card (expatriates); its number is the civil ID."""

    person = models.OneToOneField(Person, on_delete=models.CASCADE, related_name="id_card")
    resident = models.BooleanField(_("resident card"), default=False)
    expiry = models.DateField(_("expiry"))

    class Meta:
        verbose_name = _("ID / resident card")
        verbose_name_plural = _("ID / resident cards")

    def __str__(self) -> str:
        return f"card of person {self.person_id}"


class Visa(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="visas")
    number = models.CharField(_("visa number"), max_length=12, unique=True)
    kind_en = models.CharField(_("type (English)"), max_length=40)
    kind_ar = models.CharField(_("type (Arabic)"), max_length=40)
    expiry = models.DateField(_("expiry"))

    class Meta:
        verbose_name = _("visa")
        verbose_name_plural = _("visas")

    def __str__(self) -> str:
        return self.number


class VisaApplication(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("received")
        UNDER_REVIEW = "under_review", _("under review")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        ISSUED = "issued", _("issued")

    number = models.CharField(_("application number"), max_length=16, unique=True)
    passport_number = models.CharField(_("passport number"), max_length=12)
    applicant_name = models.CharField(_("applicant"), max_length=120)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    submitted_on = models.DateField(_("submitted"))
    updated_on = models.DateField(_("updated"))

    class Meta:
        verbose_name = _("visa application")
        verbose_name_plural = _("visa applications")

    def __str__(self) -> str:
        return self.number


class Violation(models.Model):
    reference = models.CharField(_("reference"), max_length=16, unique=True)
    vehicle = models.ForeignKey(Vehicle, null=True, blank=True, on_delete=models.CASCADE, related_name="violations")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.CASCADE, related_name="violations",
                               help_text=_("the person (or company) liable"))
    committed_at = models.DateTimeField(_("date"))
    place_en = models.CharField(_("place (English)"), max_length=80)
    place_ar = models.CharField(_("place (Arabic)"), max_length=80)
    offence_en = models.CharField(_("offence (English)"), max_length=80)
    offence_ar = models.CharField(_("offence (Arabic)"), max_length=80)
    amount = models.DecimalField(_("amount (OMR)"), max_digits=9, decimal_places=3)
    paid = models.BooleanField(_("paid"), default=False)

    class Meta:
        verbose_name = _("traffic violation")
        verbose_name_plural = _("traffic violations")
        ordering = ["committed_at"]

    def __str__(self) -> str:
        return self.reference


# --- what happened --------------------------------------------------------------------------------


class Exchange(models.Model):
    """One MO and what the engine did with it: the audit record of every query."""

    class Result(models.TextChoices):
        ANSWERED = "answered", _("answered")
        NEUTRAL = "neutral", _("neutral reply (not found or not the owner)")
        INVALID = "invalid", _("parameter not understood")
        UNKNOWN = "unknown", _("unknown command")
        HELP = "help", _("help")
        FEEDBACK = "feedback", _("feedback filed")
        MORE = "more", _("next page")
        BUSY = "busy", _("data source busy")
        RATE_LIMITED = "rate_limited", _("rate limited (notice sent)")
        BLOCKED = "blocked", _("blocked (notice sent)")
        SILENCED = "silenced", _("rate limited or blocked (no reply: notice already sent)")
        ERROR = "error", _("internal error (apology sent)")

    mo = models.OneToOneField("messaging.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="exchange")
    msisdn = models.CharField(_("from"), max_length=20)
    command = models.ForeignKey(Command, null=True, blank=True, on_delete=models.SET_NULL, related_name="exchanges")
    language = models.CharField(_("language"), max_length=2)
    param_masked = models.CharField(_("parameter (masked)"), max_length=60, blank=True)
    param_hash = models.CharField(max_length=24, blank=True, db_index=True)  # HMAC: counts distinct identifiers
    result = models.CharField(_("result"), max_length=16, choices=Result.choices)
    reply = models.ForeignKey("messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)
    pending_pages = models.JSONField(default=list, blank=True)  # the rest of a long reply, for MORE
    created_at = models.DateTimeField(_("when"), db_index=True)

    class Meta:
        verbose_name = _("exchange")
        verbose_name_plural = _("exchanges")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["msisdn", "created_at"], name="exch_msisdn_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.result}"


class Block(models.Model):
    """A number blocked from pull services for a while (probing many identifiers)."""

    msisdn = models.CharField(_("number"), max_length=20, db_index=True)
    reason = models.CharField(_("reason"), max_length=200)
    created_at = models.DateTimeField(_("since"))
    until = models.DateTimeField(_("until"), db_index=True)
    notified = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("blocked number")
        verbose_name_plural = _("blocked numbers")

    def __str__(self) -> str:
        return f"{self.msisdn} until {self.until:%Y-%m-%d %H:%M}"


class Feedback(models.Model):
    """Feedback or a complaint sent with FB / شكوى; the portal's complaints inbox works on these."""

    class Status(models.TextChoices):
        NEW = "new", _("new")
        ASSIGNED = "assigned", _("assigned")
        IN_PROGRESS = "in_progress", _("in progress")
        RESOLVED = "resolved", _("resolved")
        CLOSED = "closed", _("closed")

    ticket = models.CharField(_("ticket"), max_length=20, unique=True, null=True, blank=True)
    msisdn = models.CharField(_("citizen's number"), max_length=20, db_index=True)
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback")
    text = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=2)
    mo = models.ForeignKey("messaging.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL,
                           related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.NEW, db_index=True)
    unit = models.ForeignKey(OrgUnit, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback",
                             verbose_name=_("assigned unit"))
    note = models.TextField(_("internal note"), blank=True)
    created_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.ticket or f"feedback {self.pk}"
