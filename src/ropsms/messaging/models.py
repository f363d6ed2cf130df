"""The outbox: every SMS the gateway sends is a `Message` row first (ARCHITECTURE.md "One door out").

The database is the queue. A message is written by `messaging.send()` / `send_many()` and then
moves through its lifecycle, each step stamped:

    scheduled -> queued -> sending -> submitted -> delivered | undeliverable | expired | rejected
                   \\-> rejected (refused at the door: opted out, ...)      \\-> failed (gave up)
    scheduled/queued -> cancelled

The gateway claims `queued` rows whose time has come with a lease (`lease_owner`, `lease_until`),
so a crashed node's claims return to the queue.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class State(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    SUBMITTED = "submitted", _("submitted")
    DELIVERED = "delivered", _("delivered")
    UNDELIVERABLE = "undeliverable", _("undeliverable")
    EXPIRED = "expired", _("expired")
    REJECTED = "rejected", _("rejected")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


FINAL_STATES = frozenset(
    {State.DELIVERED, State.UNDELIVERABLE, State.EXPIRED, State.REJECTED, State.FAILED, State.CANCELLED}
)
PENDING_STATES = frozenset({State.SCHEDULED, State.QUEUED, State.SENDING, State.SUBMITTED})


class Priority(models.IntegerChoices):
    """Lower drains first: urgent before normal before bulk."""

    URGENT = 0, _("urgent")
    NORMAL = 1, _("normal")
    BULK = 2, _("bulk")


class Batch(models.Model):
    """A group of messages sent together (a broadcast, an API batch, an alert run)."""

    name = models.CharField(_("name"), max_length=200, blank=True)
    producer = models.CharField(_("producer"), max_length=100, db_index=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    total = models.PositiveIntegerField(_("messages"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        constraints = [
            models.UniqueConstraint(fields=["producer", "idempotency_key"], name="batch_idempotency_unique")
        ]

    def __str__(self) -> str:
        return self.name or f"Batch {self.pk}"

    def counts(self) -> dict[str, int]:
        """Live number of messages in each state (all states present, zero where none)."""
        rows = self.messages.values("state").annotate(n=models.Count("id")).order_by()
        found = {row["state"]: row["n"] for row in rows}
        return {state.value: found.get(state.value, 0) for state in State}


class Message(models.Model):
    """One outbound SMS (which may travel as several concatenated parts)."""

    # Who and what
    to = models.CharField(_("to"), max_length=20, help_text=_("E.164"))
    text = models.TextField(_("text"))
    encoding = models.CharField(_("encoding"), max_length=4)  # gsm | ucs2
    parts = models.JSONField(_("parts"), default=list)  # the text of each part, in order
    parts_count = models.PositiveSmallIntegerField(_("parts"), default=1)
    source = models.CharField(_("sender"), max_length=16)  # short code or alphanumeric sender ID
    producer = models.CharField(_("producer"), max_length=100, db_index=True)
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="messages")
    client_ref = models.CharField(_("client reference"), max_length=100, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.NORMAL)
    meta = models.JSONField(default=dict, blank=True)  # producer's own data (callback URL, template, ...)

    # Lifecycle
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(_("created"))
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"))  # when the gateway may take it (schedule, retry backoff)
    valid_until = models.DateTimeField(_("valid until"))
    sending_at = models.DateTimeField(_("sending"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    done_at = models.DateTimeField(_("final state at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)

    # Transport
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    route = models.CharField(_("route"), max_length=64, blank=True)  # the bind that took it
    operator_message_id = models.CharField(_("operator message id"), max_length=65, blank=True)
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error_text = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            # The gateway's claim query: due queued messages, most urgent first.
            models.Index(fields=["state", "priority", "due_at"], name="msg_claim_idx"),
            models.Index(fields=["batch", "state"], name="msg_batch_state_idx"),
            models.Index(fields=["to", "created_at"], name="msg_to_idx"),
            models.Index(fields=["operator_message_id"], name="msg_opid_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["producer", "idempotency_key"], name="msg_idempotency_unique")
        ]

    def __str__(self) -> str:
        return f"#{self.pk} to {self.to} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def history(self) -> list[tuple[str, object]]:
        """The steps this message went through, in order, as (step, timestamp)."""
        steps = [
            ("created", self.created_at),
            ("scheduled for", self.scheduled_for),
            ("queued", self.queued_at),
            ("sending", self.sending_at),
            ("submitted", self.submitted_at),
            (self.state, self.done_at),
        ]
        return [(name, at) for name, at in steps if at is not None]


class OptOut(models.Model):
    """A number that asked not to receive messages (all, or only bulk/marketing-like traffic)."""

    class Scope(models.TextChoices):
        ALL = "all", _("all messages")
        BULK = "bulk", _("bulk messages only")

    msisdn = models.CharField(_("number"), max_length=20, unique=True)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.ALL)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("since"), auto_now_add=True)

    class Meta:
        verbose_name = _("opt-out")
        verbose_name_plural = _("opt-outs")

    def __str__(self) -> str:
        return self.msisdn


class InboundMessage(models.Model):
    """An MO (mobile-originated) SMS received on the short code, after reassembly."""

    msisdn = models.CharField(_("from"), max_length=20, db_index=True)
    to = models.CharField(_("to"), max_length=20)
    text = models.TextField(_("text"))
    received_at = models.DateTimeField(_("received"), db_index=True)
    operator = models.CharField(_("operator"), max_length=64, blank=True)
    bind = models.CharField(_("bind"), max_length=64, blank=True)
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)
    handler_result = models.CharField(_("result"), max_length=200, blank=True)
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")

    def __str__(self) -> str:
        return f"MO #{self.pk} from {self.msisdn}"
