"""The gateway's outbox interface: claims, leases, expiry, batched writes, receipts in the database.

Marked `pg`: `make test` runs these again on PostgreSQL (FOR UPDATE SKIP LOCKED there).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from ropsms.messaging.models import Message, Priority
from ropsms.messaging.services import send, send_many
from ropsms.smpp import outbox
from ropsms.smpp.gateway.ids import variants
from ropsms.smpp.models import Bind, MessagePart, Operator, PendingReceipt

pytestmark = [pytest.mark.pg, pytest.mark.django_db]


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def test_claim_takes_due_messages_most_urgent_first_with_a_lease():
    bulk = send(to="91000101", text="bulk", producer="t", priority=Priority.BULK)
    normal = send(to="91000102", text="normal", producer="t")
    urgent = send(to="91000103", text="urgent", producer="t", priority=Priority.URGENT)
    future = send(to="91000104", text="later", producer="t", scheduled_for=later(3600))
    soon = send(to="91000105", text="scheduled, now due", producer="t", scheduled_for=later(1))
    assert soon.state == "scheduled"

    got = outbox.claim(owner="a/1", limit=2, lease_seconds=30)
    assert [m.id for m in got.messages] == [urgent.pk, normal.pk]
    assert got.messages[0].parts == ["urgent"] and got.messages[0].attempts == 1
    row = Message.objects.get(pk=urgent.pk)
    assert row.state == "sending" and row.lease_owner == "a/1" and row.lease_until > timezone.now()

    assert outbox.release_scheduled(later(2)) == 1  # `soon` is due two seconds from now, `future` is not
    got = outbox.claim(owner="b/1", limit=10, now=later(2))
    assert {m.id for m in got.messages} == {bulk.pk, soon.pk}
    assert Message.objects.get(pk=future.pk).state == "scheduled"


def test_expired_leases_return_to_the_queue_and_attempts_are_counted():
    msg = send(to="91000111", text="x", producer="t")
    assert len(outbox.claim(owner="dead/1", limit=10, lease_seconds=5).messages) == 1
    assert outbox.claim(owner="other/1", limit=10).messages == []  # leased: nobody else takes it
    assert outbox.requeue_expired_leases(timezone.now()) == 0
    assert outbox.requeue_expired_leases(later(6)) == 1
    again = outbox.claim(owner="other/1", limit=10, now=later(6))
    assert [m.id for m in again.messages] == [msg.pk] and again.messages[0].attempts == 2


def test_renewed_leases_do_not_expire_and_stale_claims_of_a_restarted_node_return():
    msg = send(to="91000121", text="x", producer="t")
    outbox.claim(owner="node/1", limit=10, lease_seconds=5)
    assert outbox.renew_message_leases(owner="node/1", lease_seconds=60) == 1
    assert outbox.requeue_expired_leases(later(6)) == 0
    assert outbox.requeue_stale_claims(node="node", owner="node/2") == 1
    assert Message.objects.get(pk=msg.pk).state == "queued"


def test_claim_expires_what_is_past_its_validity_and_fails_what_was_tried_too_often():
    old = send(to="91000131", text="old", producer="t")
    Message.objects.filter(pk=old.pk).update(valid_until=timezone.now() - timedelta(seconds=1))
    tired = send(to="91000132", text="tired", producer="t")
    Message.objects.filter(pk=tired.pk).update(attempts=5)
    fine = send(to="91000133", text="fine", producer="t")
    got = outbox.claim(owner="a/1", limit=10, max_attempts=5)
    assert [m.id for m in got.messages] == [fine.pk] and (got.expired, got.exhausted) == (1, 1)
    old.refresh_from_db()
    tired.refresh_from_db()
    assert old.state == "expired" and old.error_code == "validity" and "validity" in old.error_text
    assert tired.state == "failed" and tired.error_code == "attempts"


def test_apply_writes_results_in_one_batch():
    a, b, c = (send(to=f"9100014{i}", text="x", producer="t") for i in range(3))
    outbox.claim(owner="me/1", limit=10)
    now = timezone.now()
    result = outbox.apply([
        outbox.Submitted(a.pk, now, "bind-1", "Op", [(0, "1a", "001A")]),
        outbox.Final(b.pk, "rejected", now, "ESME_RINVDSTADR", "Refused by the operator."),
        outbox.Retry(c.pk, now + timedelta(seconds=30), "no_bind", "No bind is up.", count_attempt=False),
    ], owner="me/1")
    assert result.finals == 1
    a.refresh_from_db()
    b.refresh_from_db()
    c.refresh_from_db()
    assert (a.state, a.route, a.operator_message_id, a.lease_owner) == ("submitted", "bind-1", "001A", "")
    assert (b.state, b.error_code) == ("rejected", "ESME_RINVDSTADR")
    assert (c.state, c.attempts, c.error_code) == ("queued", 0, "no_bind") and c.due_at > now
    part = MessagePart.objects.get(message_id=a.pk)
    assert (part.op_id, part.raw_id, part.operator) == ("1a", "001A", "Op")
    # A retry from a node that no longer holds the lease changes nothing.
    outbox.claim(owner="me/1", limit=10, now=now + timedelta(seconds=31))
    outbox.apply([outbox.Retry(c.pk, now, "x", "y")], owner="someone-else/1")
    assert Message.objects.get(pk=c.pk).state == "sending"


def test_receipts_in_the_database_match_any_id_form_wait_when_early_and_take_the_worst_part():
    long_text = "word " * 70  # 350 GSM characters: three parts
    msg = send(to="91000151", text=long_text, producer="t")
    assert msg.parts_count == 3
    outbox.claim(owner="me/1", limit=10)
    now = timezone.now()
    # A receipt for part 3 arrives before anything is stored (written as decimal, sent as hex).
    early = outbox.apply([outbox.Receipt("Op", variants(str(0xABC3)), "delivered", "", now)], owner="me/1")
    assert early.receipts_pending == 1 and PendingReceipt.objects.count() == 1
    outbox.apply([outbox.Submitted(msg.pk, now, "bind-1", "Op",
                                   [(0, "abc1", "ABC1"), (1, "abc2", "0ABC2"), (2, "abc3", "ABC3")])], owner="me/1")
    assert PendingReceipt.objects.count() == 0  # matched as soon as its part was known
    assert Message.objects.get(pk=msg.pk).state == "submitted"
    outbox.apply([outbox.Receipt("Op", variants("00ABC1"), "delivered", "", now)], owner="me/1")
    outbox.apply([outbox.Receipt("Op", variants("abc2"), "undeliverable", "001", now)], owner="me/1")
    msg.refresh_from_db()
    assert (msg.state, msg.error_code) == ("undeliverable", "001")
    # A late duplicate saying "delivered" changes nothing.
    outbox.apply([outbox.Receipt("Op", variants("abc2"), "delivered", "", now)], owner="me/1")
    assert Message.objects.get(pk=msg.pk).state == "undeliverable"


def test_bind_leases_have_one_owner_until_it_stops_renewing():
    op = Operator.objects.create(name="Op")
    bind = Bind.objects.create(operator=op, name="b1", host="127.0.0.1", port=1, system_id="x")
    assert outbox.acquire_binds(owner="n1", bind_ids=[bind.pk], lease_seconds=10) == {bind.pk}
    assert outbox.acquire_binds(owner="n2", bind_ids=[bind.pk], lease_seconds=10) == set()
    assert outbox.acquire_binds(owner="n1", bind_ids=[bind.pk], lease_seconds=10) == {bind.pk}  # renewal
    assert outbox.acquire_binds(owner="n2", bind_ids=[bind.pk], lease_seconds=10, now=later(11)) == {bind.pk}
    assert outbox.release_binds(owner="n2") == 1
    assert outbox.acquire_binds(owner="n1", bind_ids=[bind.pk], lease_seconds=10) == {bind.pk}


@pytest.mark.django_db(transaction=True)
def test_two_claimers_at_once_never_take_the_same_row():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL (SQLite serialises writers; the PostgreSQL run covers this)")
    send_many(recipients=[f"+9689{1000000 + i}" for i in range(600)], text="x", producer="t")
    taken: dict[str, list[int]] = {"a/1": [], "b/1": []}
    barrier = threading.Barrier(2)

    def claimer(owner: str) -> None:
        try:
            barrier.wait()
            while True:
                got = outbox.claim(owner=owner, limit=25)
                if not got.messages:
                    return
                taken[owner].extend(m.id for m in got.messages)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(owner,)) for owner in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    both = taken["a/1"] + taken["b/1"]
    assert len(both) == 600 and len(set(both)) == 600
    assert taken["a/1"] and taken["b/1"]  # both really worked
    assert Message.objects.filter(lease_owner="a/1").count() == len(taken["a/1"])


def test_submitted_messages_without_a_receipt_expire_after_their_validity():
    msg = send(to="91000161", text="x", producer="t", validity=timedelta(hours=1))
    outbox.claim(owner="me/1", limit=10)
    outbox.apply([outbox.Submitted(msg.pk, timezone.now(), "b", "Op", [(0, "1", "1")])], owner="me/1")
    assert outbox.expire_unanswered(now=later(3600)) == 0  # still within validity + grace
    assert outbox.expire_unanswered(now=later(2 * 3600 + 60)) == 1
    msg.refresh_from_db()
    assert (msg.state, msg.error_code) == ("expired", "no_receipt") and "receipt" in msg.error_text
