"""API clients and their keys, idempotency records, pushed events, and delivery callbacks.

One `ApiClient` per integrating system (eVisa, ePolice, eCustoms, a call centre). Its messages are
sent with producer `api:<slug>`, so the outbox knows whose they are without knowing about us.
"""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

SCOPES = ("send", "batch", "events", "read")


def _lines(value: str) -> list[str]:
    return [item.strip() for item in value.replace(",", "\n").splitlines() if item.strip()]


class ApiClient(models.Model):
    """An integrating system: what it may do, from where, how much, and where its callbacks go."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("username"), max_length=40, unique=True,
                            help_text=_("Identifies the client: producer api:<slug>, Kannel username, SMPP system_id."))
    active = models.BooleanField(_("active"), default=True)
    scopes = models.CharField(_("scopes"), max_length=100, default="send,read",
                              help_text=_("Comma-separated: send, batch, events, read."))
    allowed_senders = models.TextField(_("allowed sender IDs"), blank=True,
                                       help_text=_("One per line. Empty: only the short code."))
    ip_allowlist = models.TextField(_("IP allow-list"), blank=True,
                                    help_text=_("Addresses or networks (CIDR), one per line. Empty: any address."))
    daily_quota = models.PositiveIntegerField(_("daily quota (messages)"), default=10000,
                                              help_text=_("0 means no daily limit."))
    rate_limit = models.PositiveIntegerField(_("rate limit (requests/second)"), default=50,
                                             help_text=_("0 means no rate limit."))
    callback_url = models.URLField(_("default callback URL"), blank=True, max_length=500)
    webhook_secret = models.CharField(_("webhook signing secret"), max_length=100, blank=True, editable=False)
    keywords = models.CharField(_("inbound keywords"), max_length=200, blank=True,
                                help_text=_("MO keywords this client may read through GET /inbound (comma-separated)."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")

    def __str__(self) -> str:
        return self.name

    @property
    def producer(self) -> str:
        return f"api:{self.slug}"

    def scope_list(self) -> set[str]:
        return {s for s in _lines(self.scopes) if s in SCOPES}

    def sender_list(self) -> list[str]:
        return _lines(self.allowed_senders)

    def keyword_list(self) -> list[str]:
        return [k.upper() for k in _lines(self.keywords)]

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The allow-list's networks; an entry that is not one (saved around `clean()`) allows nothing."""
        out = []
        for item in _lines(self.ip_allowlist):
            try:
                out.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                out.append(ipaddress.ip_network("0.0.0.0/32"))
        return out

    def clean(self) -> None:
        bad = []
        for item in _lines(self.ip_allowlist):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                bad.append(item)
        if bad:
            raise ValidationError({"ip_allowlist": _("Not an address or network: %(bad)s") % {"bad": ", ".join(bad)}})
        if self.callback_url:
            from ropsms.api.destinations import Refused, check_url

            try:
                check_url(self.callback_url)
            except Refused as exc:
                raise ValidationError({"callback_url": str(exc)}) from None
        unknown = {s for s in _lines(self.scopes)} - set(SCOPES)
        if unknown:
            raise ValidationError({"scopes": _("Unknown scope(s): %(s)s. Use: send, batch, events, read.")
                                   % {"s": ", ".join(sorted(unknown))}})

    def allows_address(self, address: str) -> bool:
        """Whether a request from `address` may use this client (an empty allow-list allows any)."""
        networks = self.networks()
        if not networks:
            return True
        try:
            addr = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(addr in net for net in networks)


class ApiKey(models.Model):
    """One key of a client. Stored as SHA-256 of a 256-bit random secret, found by its public prefix.

    Rotation issues a new key and gives the old ones an `expires_at` (the overlap period);
    revocation stamps `revoked_at` and takes effect at once.
    """

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys")
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.prefix}…"

    def usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class DailyUsage(models.Model):
    """Messages a client sent on one day (Asia/Muscat), for its daily quota."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "day"], name="api_usage_unique")]

    def __str__(self) -> str:
        return f"{self.client_id} {self.day}: {self.count}"


class IdempotencyRecord(models.Model):
    """The first answer to a request made with an `Idempotency-Key`; retries get it back."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)  # method, path and body hash
    status_code = models.PositiveSmallIntegerField(null=True)  # null while the first request runs
    response = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="api_idempotency_unique")]

    def __str__(self) -> str:
        return self.key


class Event(models.Model):
    """A domain event pushed by a source system (POST /events), kept with what it became."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("SMS queued")
        IGNORED = "ignored", _("no rule matched")
        FAILED = "failed", _("could not send")

    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(_("type"), max_length=60, db_index=True)
    event_id = models.CharField(_("source event id"), max_length=100, blank=True)
    payload = models.JSONField(_("payload"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    message_id = models.BigIntegerField(_("message"), null=True, blank=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(fields=["client", "type", "event_id"], condition=~models.Q(event_id=""),
                                    name="api_event_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class Callback(models.Model):
    """The delivery callback of one message that reached a final state (one row per message)."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        DONE = "done", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    message = models.OneToOneField("messaging.Message", on_delete=models.CASCADE, related_name="api_callback")
    client = models.ForeignKey(ApiClient, null=True, on_delete=models.CASCADE, related_name="callbacks")
    kind = models.CharField(max_length=8, default="webhook")  # webhook | kannel | smpp
    url = models.CharField(_("URL"), max_length=1000, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), db_index=True)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    done_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery callback")
        verbose_name_plural = _("delivery callbacks")
        indexes = [models.Index(fields=["kind", "state", "next_attempt_at"], name="api_cb_due_idx")]

    def __str__(self) -> str:
        return f"callback for message #{self.message_id}"
