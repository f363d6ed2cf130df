"""The one door out: validation, opt-outs, idempotency, bulk writes (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ropsms.messaging.errors import SendError
from ropsms.messaging.models import Batch, Message, OptOut, Priority, State
from ropsms.messaging.services import Recipient, cancel, register_quota_policy, release_scheduled, send, send_many

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.pg]


def test_send_normalises_and_queues():
    msg = send(to="9123 4567", text="Your licence expires on 2027-01-01", producer="test")
    msg.refresh_from_db()
    assert msg.to == "+96891234567"
    assert msg.state == State.QUEUED and msg.queued_at is not None
    assert msg.encoding == "gsm" and msg.parts == ["Your licence expires on 2027-01-01"]
    assert msg.source == "90085"
    assert msg.valid_until - msg.due_at == timedelta(hours=48)


def test_arabic_goes_ucs2_and_splits():
    text = "تنتهي رخصة القيادة الخاصة بكم قريباً، يرجى تجديدها لدى شرطة عمان السلطانية. " * 3
    msg = send(to="+96891234567", text=text, producer="test")
    assert msg.encoding == "ucs2"
    assert msg.parts_count == len(msg.parts) > 1
    assert "".join(msg.parts) == text


def test_invalid_number_is_one_clear_error():
    with pytest.raises(SendError, match="'9123' is not a valid Omani mobile number") as info:
        send(to="9123", text="hi", producer="test")
    assert info.value.code == "invalid_number" and info.value.field == "to"
    assert Message.objects.count() == 0


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"text": ""}, "empty_text"),
    ({"text": "x" * 2000}, "too_long"),
    ({"source": "THIS-IS-FAR-TOO-LONG"}, "invalid_sender"),
    ({"priority": 7}, "invalid_priority"),
    ({"validity": timedelta(days=30)}, "invalid_validity"),
])
def test_bad_input(kwargs, code):
    with pytest.raises(SendError) as info:
        send(**{"to": "91234567", "text": "hi", "producer": "test", **kwargs})
    assert info.value.code == code


def test_opted_out_number_is_refused_on_record():
    OptOut.objects.create(msisdn="+96891234567", reason="asked to stop by SMS")
    msg = send(to="91234567", text="hello", producer="test")
    msg.refresh_from_db()
    assert msg.state == State.REJECTED and msg.error_code == "opted_out"
    assert "asked to stop by SMS" in msg.error_text
    assert msg.done_at is not None


def test_bulk_only_opt_out_still_gets_urgent():
    OptOut.objects.create(msisdn="+96891234567", scope=OptOut.Scope.BULK)
    assert send(to="91234567", text="urgent", producer="t", priority=Priority.URGENT).state == State.QUEUED
    assert send(to="91234567", text="promo", producer="t", priority=Priority.BULK).state == State.REJECTED


def test_idempotency_key_returns_first_message():
    first = send(to="91234567", text="hi", producer="api:evisa", idempotency_key="abc-1")
    again = send(to="91234567", text="hi", producer="api:evisa", idempotency_key="abc-1")
    other_producer = send(to="91234567", text="hi", producer="api:ecustoms", idempotency_key="abc-1")
    assert again.pk == first.pk
    assert other_producer.pk != first.pk
    assert Message.objects.count() == 2


def test_scheduled_message_waits_then_is_released():
    later = timezone.now() + timedelta(hours=1)
    msg = send(to="91234567", text="tomorrow", producer="t", scheduled_for=later)
    assert msg.state == State.SCHEDULED and msg.due_at == later
    assert release_scheduled() == 0
    assert release_scheduled(now=later + timedelta(seconds=1)) == 1
    msg.refresh_from_db()
    assert msg.state == State.QUEUED


def test_cancel_only_before_it_leaves():
    msg = send(to="91234567", text="x", producer="t")
    assert cancel(message_id=msg.pk)
    assert not cancel(message_id=msg.pk)
    msg.refresh_from_db()
    assert msg.state == State.CANCELLED


def test_quota_policy_can_refuse():
    def policy(producer, n):
        if producer == "portal:unit-9" and n > 2:
            raise SendError("Your unit's monthly quota is used up.", code="quota")

    register_quota_policy(policy)
    with pytest.raises(SendError, match="quota"):
        send_many(recipients=["91234567", "92234567", "93234567"], text="hi", producer="portal:unit-9")
    assert Message.objects.count() == 0


def test_send_many_reports_bad_rows_and_writes_the_rest():
    OptOut.objects.create(msisdn="+96893234567")
    result = send_many(
        recipients=["91234567", "9123", Recipient(to="92234567", text="personal"), "93234567", {"to": "x"}],
        text="shared", producer="portal:hr", batch_name="test",
    )
    assert result.queued == 2 and result.refused == 1
    assert [(e.index, e.code) for e in result.errors] == [(1, "invalid_number"), (4, "invalid_number")]
    assert result.batch.total == 3
    counts = result.batch.counts()
    assert counts["queued"] == 2 and counts["rejected"] == 1
    assert Message.objects.get(to="+96892234567").text == "personal"


def test_send_many_strict_writes_nothing_on_a_bad_row():
    with pytest.raises(SendError, match="Row 2"):
        send_many(recipients=["91234567", "12"], text="x", producer="t", strict=True)
    assert Message.objects.count() == 0 and Batch.objects.count() == 0


def test_send_many_idempotent():
    a = send_many(recipients=["91234567", "92234567"], text="x", producer="api:c", idempotency_key="k")
    b = send_many(recipients=["91234567", "92234567"], text="x", producer="api:c", idempotency_key="k")
    assert a.batch.pk == b.batch.pk and b.queued == 2
    assert Message.objects.count() == 2


def test_send_many_fifty_thousand():
    numbers = [f"9{i:07d}" for i in range(1_000_000, 1_050_000)]
    result = send_many(recipients=numbers, text="Salary for November has been credited.", producer="staff:payroll")
    assert result.queued == 50_000 and not result.errors
    assert Message.objects.filter(batch=result.batch, state=State.QUEUED).count() == 50_000
    assert Message.objects.filter(to="+96891049999").exists()


def test_reply_to_own_question_goes_through_an_opt_out():
    OptOut.objects.create(msisdn="+96891234567", reason="STOP")
    unasked = send(to="91234567", text="alert", producer="t")
    reply = send(to="91234567", text="Your fines: none", producer="eservices:pull", in_reply_to=42)
    assert unasked.state == State.REJECTED
    assert reply.state == State.QUEUED and reply.meta["in_reply_to"] == 42
