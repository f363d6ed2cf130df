"""Request and response shapes of the REST API (they are the OpenAPI schema integrators read)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Schema
from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator

PriorityName = Literal["urgent", "normal", "bulk"]
StateName = Literal["scheduled", "queued", "sending", "submitted", "delivered", "undeliverable", "expired",
                    "rejected", "failed", "cancelled"]
Url = Annotated[str, Field(max_length=1000, pattern=r"^[hH][tT][tT][pP][sS]?://[^\s]+$",
                           description="http:// or https:// URL")]


class Error(Schema):
    field: str = Field(description="The input field at fault, '' when it is not one field")
    code: str = Field(description="Machine-readable reason, e.g. invalid_number, scope, quota")
    message: str = Field(description="What went wrong and what to do, in plain English")


_lax_datetime = TypeAdapter(datetime)


def _iso_datetime(value: Any) -> Any:
    """Input is strict (a number is not a string, "1" is not 1); a time must be an ISO 8601 string.
    A time without a UTC offset is read in the gateway's time zone (Asia/Muscat by default)."""
    if isinstance(value, str):
        parsed = _lax_datetime.validate_python(value)
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        return parsed
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_iso_datetime)]


class _In(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


class MessageIn(_In):
    to: str = Field(min_length=1, max_length=40, description="Mobile number: 9xxxxxxx, +968 9xxx xxxx, 00968...",
                    examples=["+96891234567"])
    text: str = Field(min_length=1, max_length=1600, examples=["Your visa application V123 has been approved."])
    sender: str | None = Field(None, max_length=16, description="Sender ID; default the short code 90085")
    priority: PriorityName = "normal"
    validity_minutes: int | None = Field(None, ge=1, le=10080, description="Give up after this long (default 48 h)")
    scheduled_at: IsoDatetime | None = Field(None, description="Send later (ISO 8601 with time zone)")
    client_ref: str = Field("", max_length=100, description="Your own reference, searchable with ?client_ref=")
    callback_url: Url | None = Field(None, description="Where to POST the delivery callback")


class MessageAccepted(Schema):
    id: int
    state: StateName
    parts: int = Field(description="Number of SMS parts the text takes")
    encoding: Literal["gsm", "ucs2"]
    client_ref: str


class HistoryStep(Schema):
    state: str
    at: datetime


class MessageOut(Schema):
    id: int
    to: str
    text: str
    sender: str
    state: StateName
    parts: int
    encoding: str
    priority: PriorityName
    client_ref: str
    batch_id: int | None
    created_at: datetime
    scheduled_for: datetime | None
    valid_until: datetime
    submitted_at: datetime | None
    done_at: datetime | None
    error_code: str
    error_text: str
    callback_url: str
    history: list[HistoryStep]


class MessageList(Schema):
    items: list[MessageOut]
    next_before_id: int | None = Field(description="Pass as before_id to get the next (older) page")


class BatchRow(_In):
    to: str = Field(min_length=1, max_length=40)
    text: str | None = Field(None, min_length=1, max_length=1600)
    values: dict[str, str | int | float] | None = Field(None, description="Template values for this recipient")
    client_ref: str = Field("", max_length=100)


class BatchIn(_In):
    messages: list[BatchRow] | None = Field(None, max_length=10000,
                                            description="Per-recipient rows (own text, or values for `template`)")
    to: list[str] | None = Field(None, max_length=10000, description="Many recipients of one `text`")
    text: str | None = Field(None, min_length=1, max_length=1600)
    template: str | None = Field(None, min_length=1, max_length=1600,
                                 description="Text with {placeholders} filled from each row's `values`")
    name: str = Field("", max_length=200)
    sender: str | None = Field(None, max_length=16)
    priority: PriorityName = "bulk"
    validity_minutes: int | None = Field(None, ge=1, le=10080)
    scheduled_at: IsoDatetime | None = None
    callback_url: Url | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> BatchIn:
        if (self.messages is None) == (self.to is None):
            raise ValueError("give either `messages` (rows) or `to` (a list of numbers with one `text`)")
        if self.to is not None and self.text is None:
            raise ValueError("`to` needs a `text` shared by every recipient")
        if self.template is not None and self.text is not None:
            raise ValueError("give `text` or `template`, not both")
        if self.template is not None and self.messages is None:
            raise ValueError("`template` needs `messages` rows with their `values`")
        return self


class RowError(Schema):
    index: int = Field(description="0-based position of the row in the request")
    to: str
    code: str
    message: str


class BatchAccepted(Schema):
    id: int
    name: str
    accepted: int = Field(description="Messages written (queued + refused)")
    queued: int
    refused: int = Field(description="Written as rejected: the recipient opted out")
    rejected_rows: int = Field(description="Rows that could not become messages (see errors)")
    errors: list[RowError]


class BatchStatus(Schema):
    id: int
    name: str
    total: int
    created_at: datetime
    pending: int
    counts: dict[str, int]


class EventIn(_In):
    type: str = Field(min_length=1, max_length=60, examples=["visa.status_changed"])
    id: str = Field("", max_length=100, description="The source system's event id: a repeated id is not re-sent")
    data: dict[str, Any] = Field(examples=[{"application_no": "V2026-0001", "status": "approved",
                                            "mobile": "+96891234567", "language": "ar"}])


class EventOut(Schema):
    id: int
    type: str
    outcome: Literal["sent", "ignored", "failed"]
    detail: str
    message_id: int | None


class Health(Schema):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "error"]
    queued: int | None


class InboundOut(Schema):
    id: int
    sender: str = Field(alias="from")
    to: str
    text: str
    keyword: str
    received_at: datetime

    model_config = ConfigDict(populate_by_name=True)
