"""The SMPP server interface over real TCP, with a small ESME client on the shared codec."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from ropsms.api.models import Callback
from ropsms.api.smpp_server import SmppServer
from ropsms.messaging.models import Message, State
from ropsms.smpp.pdu import STATUS, Pdu, PduDecoder, concat_udh, encode, parse_receipt

pytestmark = [pytest.mark.django_db(transaction=True)]


class Esme:
    """Just enough of an ESME: send a PDU, wait for the next PDU of a given command."""

    def __init__(self, reader, writer):
        self.reader, self.writer, self.decoder, self.seq, self.inbox = reader, writer, PduDecoder(), 0, []

    @classmethod
    async def connect(cls, port):
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def request(self, command, **params) -> Pdu:
        self.seq += 1
        tlvs = params.pop("tlvs", {})
        self.writer.write(encode(Pdu(command, self.seq, 0, params, tlvs)))
        await self.writer.drain()
        return await self.expect(command + "_resp", generic=True)

    async def expect(self, command, generic=False, timeout=10.0) -> Pdu:
        async def wait():
            while True:
                for i, pdu in enumerate(self.inbox):
                    if pdu.command == command or (generic and pdu.command == "generic_nack"):
                        return self.inbox.pop(i)
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("closed")
                self.inbox.extend(self.decoder.feed(data))

        return await asyncio.wait_for(wait(), timeout)

    async def close(self):
        self.writer.close()


def run(scenario):
    async def main():
        server = SmppServer(host="127.0.0.1", port=0, poll_seconds=0.2)
        port = await server.start()
        try:
            return await scenario(port)
        finally:
            await server.close()

    try:
        return asyncio.run(main())
    finally:
        gc.collect()  # the finished worker threads' DB connections: closed now, not at teardown


def test_bind_submit_and_receipt(make_client):
    _, key = make_client("callcentre")

    async def scenario(port):
        esme = await Esme.connect(port)
        bound = await esme.request("bind_transceiver", system_id="callcentre", password=key, interface_version=0x34)
        assert bound.status == STATUS.ESME_ROK and bound.params["system_id"] == "ropsms"
        resp = await esme.request("submit_sm", source_addr="90085", destination_addr="96891234567",
                                  short_message=b"Hello over SMPP", registered_delivery=1)
        assert resp.status == STATUS.ESME_ROK
        msg_id = resp.params["message_id"]
        msg = await asyncio.to_thread(Message.objects.get, pk=int(msg_id))
        assert msg.producer == "api:callcentre" and msg.text == "Hello over SMPP" and msg.to == "+96891234567"
        # The gateway delivers it; the server sends the receipt as deliver_sm.
        now = timezone.now()
        await asyncio.to_thread(lambda: Message.objects.filter(pk=msg.pk).update(
            state=State.DELIVERED, submitted_at=now, done_at=now))
        receipt = await esme.expect("deliver_sm")
        assert receipt.params["esm_class"] == 0x04
        assert receipt.tlvs["receipted_message_id"] == msg_id and receipt.tlvs["message_state"] == 2
        parsed = parse_receipt(receipt.params["short_message"].decode())
        assert parsed["id"] == msg_id and parsed["stat"] == "DELIVRD"
        esme.writer.write(encode(receipt.response()))
        await esme.writer.drain()
        for _ in range(50):
            cb = await asyncio.to_thread(Callback.objects.get, message_id=msg.pk)
            if cb.state == Callback.State.DONE:
                break
            await asyncio.sleep(0.05)
        assert cb.state == Callback.State.DONE and cb.kind == "smpp"
        unbound = await esme.request("unbind")
        assert unbound.status == 0
        await esme.close()

    run(scenario)


def test_ucs2_and_concatenated_parts(make_client):
    _, key = make_client("ecustoms")

    async def scenario(port):
        esme = await Esme.connect(port)
        await esme.request("bind_transmitter", system_id="ecustoms", password=key)
        r = await esme.request("submit_sm", destination_addr="+96892345678", data_coding=8,
                               short_message="مرحبا بكم".encode("utf-16-be"))
        assert r.status == 0
        first = await esme.request("submit_sm", destination_addr="92345678", esm_class=0x40,
                                   short_message=concat_udh(7, 2, 1) + b"Part one, ")
        second = await esme.request("submit_sm", destination_addr="92345678", esm_class=0x40,
                                    short_message=concat_udh(7, 2, 2) + b"part two.")
        assert first.status == second.status == 0
        texts = await asyncio.to_thread(lambda: sorted(Message.objects.values_list("text", flat=True)))
        assert texts == ["Part one, part two.", "مرحبا بكم"]
        payload = await esme.request("submit_sm", destination_addr="92345678",
                                     tlvs={"message_payload": b"x" * 300})
        assert payload.status == 0
        await esme.close()

    run(scenario)


def test_refusals(make_client):
    _, key = make_client("epolice", scopes="read", daily_quota=1)
    _, key2 = make_client("evisa", daily_quota=1)

    async def scenario(port):
        esme = await Esme.connect(port)
        r = await esme.request("submit_sm", destination_addr="92345678", short_message=b"x")
        assert r.status == STATUS.ESME_RINVBNDSTS  # not bound
        r = await esme.request("bind_transmitter", system_id="epolice", password="wrong")
        assert r.status == STATUS.ESME_RBINDFAIL
        r = await esme.request("bind_transmitter", system_id="evisa", password=key)  # someone else's key
        assert r.status == STATUS.ESME_RBINDFAIL
        r = await esme.request("bind_transmitter", system_id="epolice", password=key)  # no send scope
        assert r.status == STATUS.ESME_RBINDFAIL
        r = await esme.request("bind_receiver", system_id="epolice", password=key)
        assert r.status == 0
        r = await esme.request("submit_sm", destination_addr="92345678", short_message=b"x")
        assert r.status == STATUS.ESME_RINVBNDSTS  # receiver cannot submit
        r = await esme.request("query_sm", message_id="1")  # read scope: may ask, but it is not theirs
        assert r.command == "query_sm_resp" and r.status == STATUS.ESME_RQUERYFAIL
        r = await esme.request("cancel_sm", message_id="1")  # a receiver bind (and no send scope)
        assert r.command == "cancel_sm_resp" and r.status == STATUS.ESME_RINVBNDSTS
        r = await esme.request("replace_sm", message_id="1")
        assert r.command == "generic_nack" and r.status == STATUS.ESME_RINVCMDID
        r = await esme.request("enquire_link")
        assert r.status == 0
        await esme.close()

        esme = await Esme.connect(port)
        await esme.request("bind_transceiver", system_id="evisa", password=key2)
        r = await esme.request("submit_sm", destination_addr="123", short_message=b"x")
        assert r.status == STATUS.ESME_RINVDSTADR
        r = await esme.request("submit_sm", destination_addr="92345678", source_addr="SPOOF", short_message=b"x")
        assert r.status == STATUS.ESME_RINVSRCADR
        r = await esme.request("submit_sm", destination_addr="92345678", short_message=b"")
        assert r.status == STATUS.ESME_RINVMSGLEN
        r = await esme.request("submit_sm", destination_addr="92345678", short_message=b"one")
        assert r.status == 0
        r = await esme.request("submit_sm", destination_addr="92345678", short_message=b"two")
        assert r.status == STATUS.ESME_RMSGQFUL  # daily quota of 1
        # A garbage frame gets generic_nack and the session lives on.
        esme.writer.write(b"\x00\x00\x00\x10\x00\x00\x00\x99\x00\x00\x00\x00\x00\x00\x00\x2a")
        nack = await esme.expect("generic_nack")
        assert nack.sequence == 0x2a
        r = await esme.request("enquire_link")
        assert r.status == 0
        await esme.close()
        assert await asyncio.to_thread(Message.objects.count) == 1

    run(scenario)


def test_smpp_times():
    from datetime import datetime, timedelta

    from ropsms.api.smpp_server import smpp_time

    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert smpp_time("", now) is None
    assert smpp_time("000001020000000R", now) == now + timedelta(days=1, hours=2)
    assert smpp_time("261204160000016+", now) == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # 16:00 at +04:00
    for bad in ("2612041600", "26120416000001x+", "261332160000016+"):
        with pytest.raises(ValueError):
            smpp_time(bad, now)


def test_validity_and_schedule_over_smpp(make_client):
    _, key = make_client("ecustoms")

    async def scenario(port):
        esme = await Esme.connect(port)
        await esme.request("bind_transmitter", system_id="ecustoms", password=key)
        r = await esme.request("submit_sm", destination_addr="92345678", short_message=b"later",
                               schedule_delivery_time="000000010000000R", validity_period="000000020000000R")
        assert r.status == 0
        msg = await asyncio.to_thread(Message.objects.get, pk=int(r.params["message_id"]))
        assert msg.state == State.SCHEDULED
        assert msg.valid_until - msg.due_at == timedelta(hours=2)
        r = await esme.request("submit_sm", destination_addr="92345678", short_message=b"x",
                               validity_period="000010000000000R")  # ten days: more than 7
        assert r.status == STATUS.ESME_RINVEXPIRY
        r = await esme.request("submit_sm", destination_addr="92345678", short_message=b"x",
                               schedule_delivery_time="garbage")
        assert r.status == STATUS.ESME_RINVSCHED
        await esme.close()

    run(scenario)


def test_smpp_ip_allow_list(make_client):
    _, key = make_client("far", ip_allowlist="10.9.9.0/24")

    async def scenario(port):
        esme = await Esme.connect(port)
        r = await esme.request("bind_transceiver", system_id="far", password=key)
        assert r.status == STATUS.ESME_RBINDFAIL
        await esme.close()

    run(scenario)


@pytest.mark.pg
def test_query_and_cancel(make_client):
    from ropsms.api.smpp_server import smpp_time
    from ropsms.ops.models import AuditEntry

    _, key = make_client("callcentre")
    _, other_key = make_client("evisa")
    _, send_only_key = make_client("eroads", scopes="send")

    async def scenario(port):
        other = await Esme.connect(port)
        await other.request("bind_transmitter", system_id="evisa", password=other_key)
        r = await other.request("submit_sm", destination_addr="92345678", short_message=b"not yours",
                                schedule_delivery_time="000001000000000R")
        others_id = r.params["message_id"]

        esme = await Esme.connect(port)
        await esme.request("bind_transceiver", system_id="callcentre", password=key)
        r = await esme.request("query_sm", message_id="1")  # before any message of ours: unknown
        assert r.status == STATUS.ESME_RQUERYFAIL
        r = await esme.request("submit_sm", destination_addr="96891234567", short_message=b"status?")
        mid = r.params["message_id"]
        q = await esme.request("query_sm", message_id=mid, source_addr="90085")
        assert q.command == "query_sm_resp" and q.status == STATUS.ESME_ROK
        assert q.params == {"message_id": mid, "final_date": "", "message_state": 1, "error_code": 0}  # ENROUTE
        q = await esme.request("query_sm", message_id="000" + mid)  # leading zeros are the same id
        assert q.status == 0 and q.params["message_id"] == mid

        # The gateway delivers it: DELIVERED, with the time it happened.
        done = timezone.now().replace(microsecond=0)
        await asyncio.to_thread(lambda: Message.objects.filter(pk=int(mid)).update(
            state=State.DELIVERED, submitted_at=done, done_at=done))
        q = await esme.request("query_sm", message_id=mid)
        assert q.status == 0 and q.params["message_state"] == 2 and q.params["error_code"] == 0
        assert smpp_time(q.params["final_date"], done) == done

        # Someone else's message is answered exactly like a missing one; garbage is not an id.
        q = await esme.request("query_sm", message_id=others_id)
        assert q.status == STATUS.ESME_RQUERYFAIL and q.params["final_date"] == ""
        q = await esme.request("query_sm", message_id="99999999")
        assert q.status == STATUS.ESME_RQUERYFAIL
        for garbage in ("abc", "", "12x", "-3", "9" * 30):
            q = await esme.request("query_sm", message_id=garbage)
            assert q.command == "query_sm_resp" and q.status == STATUS.ESME_RINVMSGID, garbage

        # A scheduled message can be cancelled (addresses, when given, must match it).
        r = await esme.request("submit_sm", destination_addr="96892345678", short_message=b"tomorrow",
                               schedule_delivery_time="000001000000000R")
        later = r.params["message_id"]
        c = await esme.request("cancel_sm", message_id=later, destination_addr="96899999999")
        assert c.command == "cancel_sm_resp" and c.status == STATUS.ESME_RCANCELFAIL
        c = await esme.request("cancel_sm", message_id=later, source_addr="OTHER")
        assert c.status == STATUS.ESME_RCANCELFAIL
        assert (await asyncio.to_thread(Message.objects.get, pk=int(later))).state == State.SCHEDULED
        c = await esme.request("cancel_sm", service_type="CMT", message_id=later, source_addr="90085",
                               destination_addr="92345678")
        assert c.command == "cancel_sm_resp" and c.status == STATUS.ESME_ROK
        msg = await asyncio.to_thread(Message.objects.get, pk=int(later))
        assert msg.state == State.CANCELLED and msg.done_at is not None
        q = await esme.request("query_sm", message_id=later)
        assert q.status == 0 and q.params["message_state"] == 4 and q.params["final_date"]  # DELETED
        c = await esme.request("cancel_sm", message_id=later)  # twice: nothing left to cancel
        assert c.status == STATUS.ESME_RCANCELFAIL

        # Delivered, another client's, absent: not cancellable; garbage is not an id.
        for refused in (mid, others_id, "99999999"):
            c = await esme.request("cancel_sm", message_id=refused)
            assert c.status == STATUS.ESME_RCANCELFAIL, refused
        c = await esme.request("cancel_sm", message_id="abc")
        assert c.status == STATUS.ESME_RINVMSGID
        assert (await asyncio.to_thread(Message.objects.get, pk=int(others_id))).state == State.SCHEDULED

        # No message_id: every not-yet-sent message of ours to that number (SMPP 3.4 4.9.1).
        ids = []
        for text in (b"one", b"two"):
            r = await esme.request("submit_sm", destination_addr="92345678", short_message=text,
                                   schedule_delivery_time="000001000000000R")
            ids.append(int(r.params["message_id"]))
        c = await esme.request("cancel_sm", destination_addr="+96892345678")
        assert c.status == 0
        states = await asyncio.to_thread(lambda: dict(Message.objects.filter(
            pk__in=[*ids, int(others_id)]).values_list("pk", "state")))
        assert states == {ids[0]: State.CANCELLED, ids[1]: State.CANCELLED, int(others_id): State.SCHEDULED}
        c = await esme.request("cancel_sm", destination_addr="92345678")
        assert c.status == STATUS.ESME_RCANCELFAIL
        c = await esme.request("cancel_sm")
        assert c.status == STATUS.ESME_RINVMSGID

        # A failure carries the network error when we hold it as a number.
        await asyncio.to_thread(lambda: Message.objects.filter(pk=int(mid)).update(
            state=State.UNDELIVERABLE, error_code="011"))
        q = await esme.request("query_sm", message_id=mid)
        assert q.params["message_state"] == 5 and q.params["error_code"] == 11

        # Scopes: query needs `read`.
        lean = await Esme.connect(port)
        await lean.request("bind_transmitter", system_id="eroads", password=send_only_key)
        q = await lean.request("query_sm", message_id=mid)
        assert q.status == STATUS.ESME_RINVBNDSTS
        for conn in (esme, other, lean):
            await conn.close()

        audit = await asyncio.to_thread(lambda: list(AuditEntry.objects.filter(action="api.message.cancel")
                                                     .order_by("pk").values("actor", "target", "detail")))
        assert [a["target"] for a in audit] == [f"message:{i}" for i in (int(later), *ids)]
        assert all(a["actor"] == "api:callcentre" and a["detail"]["via"] == "smpp" for a in audit)
        assert audit[0]["detail"]["to"] == "*********678" and "96892345678" not in str(audit)

    run(scenario)
