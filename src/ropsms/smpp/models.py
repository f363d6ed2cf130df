"""Operators, binds, routes and the gateway's own bookkeeping (ARCHITECTURE.md "transport").

Configuration (what an operator gives us): `Operator`, `Bind`, `Route`, `PortedNumber`.
Runtime state the gateway keeps in the database so several nodes and restarts agree:
`BindLease` (one owner per bind), `MessagePart` (each part's operator message id, for receipt
correlation), `PendingReceipt` (a receipt that arrived before we knew its id) and `GatewayStatus`
(counters per bind, for humans and the ops app).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Operator(models.Model):
    """A mobile network operator (or aggregator) whose SMSC we bind to."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("operator")
        verbose_name_plural = _("operators")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Bind(models.Model):
    """One SMPP account at an operator's SMSC. Its `name` is what `Message.route` records."""

    class Mode(models.TextChoices):
        TRANSCEIVER = "trx", _("transceiver (one connection)")
        PAIR = "pair", _("transmitter + receiver (two connections)")
        TRANSMITTER = "tx", _("transmitter only")
        RECEIVER = "rx", _("receiver only")

    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="binds")
    name = models.CharField(_("name"), max_length=64, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0, help_text=_("lower is tried first"))
    host = models.CharField(_("host"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=2775, validators=[MaxValueValidator(65535)])
    tls = models.BooleanField(_("TLS"), default=False)
    # TLS settings (used only when `tls` is on). Certificate and hostname checks are always on.
    tls_ca_file = models.CharField(
        _("TLS CA file"), max_length=500, blank=True,
        help_text=_("PEM file of the CA(s) that signed the SMSC's certificate; empty = the system's CAs"))
    tls_cert_file = models.CharField(
        _("TLS client certificate"), max_length=500, blank=True,
        help_text=_("PEM client certificate for mutual TLS (with its key file); empty = none"))
    tls_key_file = models.CharField(
        _("TLS client key"), max_length=500, blank=True,
        help_text=_("PEM private key of the client certificate (unencrypted)"))
    tls_server_name = models.CharField(
        _("TLS server name"), max_length=255, blank=True,
        help_text=_("name to verify in the SMSC's certificate when host is an IP address; empty = host"))
    system_id = models.CharField(_("system_id"), max_length=16)
    # Stored as given: the gateway must present it to the SMSC, so it cannot be hashed. Never logged.
    password = models.CharField(_("password"), max_length=9, blank=True)
    system_type = models.CharField(_("system_type"), max_length=13, blank=True)
    mode = models.CharField(_("bind mode"), max_length=4, choices=Mode.choices, default=Mode.TRANSCEIVER)
    address_range = models.CharField(_("address range"), max_length=41, blank=True,
                                     help_text=_("regular expression of MO destinations we receive"))
    source_addresses = models.CharField(
        _("source addresses"), max_length=200, blank=True,
        help_text=_("comma-separated senders this bind may use; empty allows any"))
    tps = models.PositiveIntegerField(_("messages per second"), default=100, validators=[MinValueValidator(1)])
    window = models.PositiveIntegerField(_("window"), default=64, validators=[MinValueValidator(1)],
                                         help_text=_("outstanding submit_sm without a response"))
    enquire_link_seconds = models.PositiveIntegerField(_("enquire_link interval (s)"), default=30)
    response_timeout_seconds = models.PositiveIntegerField(_("response timeout (s)"), default=10)
    reconnect_min_seconds = models.FloatField(_("reconnect backoff min (s)"), default=1.0)
    reconnect_max_seconds = models.FloatField(_("reconnect backoff max (s)"), default=60.0)

    class Meta:
        verbose_name = _("bind")
        verbose_name_plural = _("binds")
        ordering = ["operator__name", "order", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_mode_display()} {self.system_id}@{self.host}:{self.port})"

    def clean(self) -> None:
        super().clean()
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            missing = "tls_key_file" if self.tls_cert_file else "tls_cert_file"
            raise ValidationError({missing: _("a client certificate needs both tls_cert_file and tls_key_file "
                                              "(or neither)")})
        given = [f for f in ("tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name") if getattr(self, f)]
        if given and not self.tls:
            raise ValidationError({"tls": _("%(fields)s set but TLS is off: turn TLS on or clear them")
                                   % {"fields": ", ".join(given)}})

    @property
    def can_transmit(self) -> bool:
        return self.mode != self.Mode.RECEIVER

    def allows_source(self, source: str) -> bool:
        allowed = [s.strip() for s in self.source_addresses.split(",") if s.strip()]
        return not allowed or source in allowed


class Route(models.Model):
    """Destination prefix -> operator. Longest prefix wins, then priority; the rest are failover."""

    prefix = models.CharField(_("prefix"), max_length=16, blank=True,
                              validators=[RegexValidator(r"^\d*$", _("digits only, with country code"))],
                              help_text=_("E.164 digits without '+', e.g. 9689; empty matches every number"))
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="routes")
    priority = models.PositiveSmallIntegerField(_("priority"), default=0, help_text=_("lower is tried first"))
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        ordering = ["-prefix", "priority"]
        constraints = [models.UniqueConstraint(fields=["prefix", "operator"], name="smpp_route_unique")]

    def __str__(self) -> str:
        return f"{self.prefix or '*'} -> {self.operator}"


class PortedNumber(models.Model):
    """A number that moved to another operator (overrides the prefix routes)."""

    msisdn = models.CharField(_("number"), max_length=20, unique=True, help_text=_("E.164 digits without '+'"))
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="ported_numbers")
    ported_at = models.DateTimeField(_("ported"), auto_now_add=True)

    class Meta:
        verbose_name = _("ported number")
        verbose_name_plural = _("ported numbers")

    def __str__(self) -> str:
        return f"{self.msisdn} -> {self.operator}"


class BindLease(models.Model):
    """Which gateway node owns a bind; another node takes it over when `until` passes."""

    bind = models.OneToOneField(Bind, on_delete=models.CASCADE, primary_key=True, related_name="lease")
    owner = models.CharField(max_length=64, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("bind lease")

    def __str__(self) -> str:
        return f"{self.bind_id} owned by {self.owner or '-'} until {self.until}"


class MessagePart(models.Model):
    """One submitted part of a Message with the id the SMSC gave it (normalised for matching)."""

    message_id = models.BigIntegerField(db_index=True)  # messaging.Message pk (no FK: the hot path stays lean)
    index = models.PositiveSmallIntegerField(default=0)
    operator = models.CharField(max_length=64)
    op_id = models.CharField(max_length=65)  # normalised, see ropsms.smpp.gateway.ids
    raw_id = models.CharField(max_length=65)
    bind = models.CharField(max_length=64)
    state = models.CharField(max_length=16, blank=True)  # final state from its receipt, '' until then
    submitted_at = models.DateTimeField()

    class Meta:
        verbose_name = _("message part")
        indexes = [models.Index(fields=["op_id", "operator"], name="smpp_part_opid_idx")]

    def __str__(self) -> str:
        return f"message {self.message_id} part {self.index + 1}: {self.raw_id}"


class PendingReceipt(models.Model):
    """A receipt we could not match yet (it came before its submit_sm_resp was stored)."""

    operator = models.CharField(max_length=64)
    op_id = models.CharField(max_length=65, db_index=True)
    state = models.CharField(max_length=16)
    error_code = models.CharField(max_length=32, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        verbose_name = _("pending receipt")

    def __str__(self) -> str:
        return f"{self.operator}:{self.op_id} {self.state}"


class GatewayStatus(models.Model):
    """Counters of one bind on one node, rewritten every few seconds by the gateway."""

    node = models.CharField(max_length=64)
    bind = models.CharField(max_length=64)
    connected = models.BooleanField(default=False)
    updated_at = models.DateTimeField()
    counters = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("gateway status")
        verbose_name_plural = _("gateway status")
        constraints = [models.UniqueConstraint(fields=["node", "bind"], name="smpp_status_unique")]

    def __str__(self) -> str:
        return f"{self.node}/{self.bind}"
