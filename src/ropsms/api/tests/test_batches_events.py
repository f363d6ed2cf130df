"""POST/GET /batches, POST /events, GET /inbound."""

from __future__ import annotations

import pytest

from ropsms.api.inbound import forget_owners
from ropsms.api.models import Event
from ropsms.messaging.inbound import receive
from ropsms.messaging.models import Batch, Message

pytestmark = [pytest.mark.django_db]


@pytest.mark.pg
def test_batch_one_text_many_recipients_with_row_errors(api):
    r = api.post("/batches", {"to": ["91234567", "123", "92345678"], "text": "Road closed", "name": "roads"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["accepted"] == 2 and body["queued"] == 2 and body["rejected_rows"] == 1
    assert body["errors"][0]["index"] == 1 and body["errors"][0]["code"] == "invalid_number"
    batch = Batch.objects.get(pk=body["id"])
    assert batch.producer == "api:evisa" and batch.messages.count() == 2
    status = api.get(f"/batches/{batch.pk}").json()
    assert status["total"] == 2 and status["counts"]["queued"] == 2 and status["pending"] == 2


def test_batch_rows_with_own_text(api):
    rows = [{"to": "91234567", "text": "one", "client_ref": "a"}, {"to": "92345678", "text": "اثنان"}]
    r = api.post("/batches", {"messages": rows})
    assert r.status_code == 201
    texts = dict(Message.objects.values_list("client_ref", "text"))
    assert texts["a"] == "one" and "اثنان" in texts.values()


def test_batch_template_with_values(api):
    rows = [{"to": "91234567", "values": {"name": "Salim", "no": "V1"}},
            {"to": "92345678", "values": {"name": "Aisha"}},
            {"to": "93456789", "values": {"name": "Zayed", "no": 7}}]
    r = api.post("/batches", {"template": "Dear {name}, application {no} is ready.", "messages": rows})
    assert r.status_code == 201
    body = r.json()
    assert body["queued"] == 2
    assert body["errors"] == [{"index": 1, "to": "92345678", "code": "missing_value",
                               "message": "No value for placeholder {no}."}]
    assert sorted(Message.objects.values_list("text", flat=True)) == [
        "Dear Salim, application V1 is ready.", "Dear Zayed, application 7 is ready."]


def test_template_cannot_reach_attributes(api):
    r = api.post("/batches", {"template": "{name.__class__}", "messages": [{"to": "91234567",
                                                                            "values": {"name": "x"}}]})
    assert r.status_code == 201
    assert Message.objects.get().text == "{name.__class__}"


@pytest.mark.parametrize("body", [
    {"text": "x"},
    {"to": ["91234567"]},
    {"to": ["91234567"], "messages": [{"to": "91234567", "text": "x"}], "text": "x"},
    {"template": "{a}", "to": ["91234567"]},
    {"to": [], "text": "x"},
    {"to": ["91234567"] * 10001, "text": "x"},
])
def test_batch_shape_errors(api, body):
    r = api.post("/batches", body)
    assert r.status_code == 422, r.content
    assert r.json()["message"]
    assert Message.objects.count() == 0


def test_batch_of_ten_thousand(api):
    numbers = [f"9123{i:04d}" for i in range(10000)]
    r = api.post("/batches", {"to": numbers, "text": "Eid Mubarak"})
    assert r.status_code == 201
    assert r.json()["queued"] == 10000


@pytest.mark.pg
def test_batch_quota_refuses_whole_batch(client, make_client):
    from ropsms.api.tests.conftest import Api

    _, key = make_client(daily_quota=5)
    r = Api(client, key).post("/batches", {"to": [f"9123456{i}" for i in range(6)], "text": "x"})
    assert r.status_code == 429 and r.json()["code"] == "quota"
    assert Message.objects.count() == 0


def test_batch_other_client_404(api, client, make_client):
    bid = api.post("/batches", {"to": ["91234567"], "text": "x"}).json()["id"]
    _, key = make_client("epolice")
    r = client.get(f"/api/v1/batches/{bid}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 404
    assert api.get("/batches/999999").status_code == 404


@pytest.mark.pg
def test_visa_event_becomes_sms_in_their_language(api):
    r = api.post("/events", {"type": "visa.status_changed", "id": "evt-1",
                             "data": {"application_no": "V2026-77", "status": "approved",
                                      "mobile": "+96891234567", "language": "ar"}})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["outcome"] == "sent"
    msg = Message.objects.get(pk=body["message_id"])
    assert "V2026-77" in msg.text and "الموافقة" in msg.text and msg.encoding == "ucs2"
    assert Event.objects.get().payload["status"] == "approved"
    again = api.post("/events", {"type": "visa.status_changed", "id": "evt-1",
                                 "data": {"application_no": "V2026-77", "status": "approved",
                                          "mobile": "+96891234567", "language": "ar"}})
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Message.objects.count() == 1


def test_offence_and_appointment_events_english(api):
    r = api.post("/events", {"type": "offence.recorded", "data": {
        "offence_no": "T-1", "plate": "12345 AB", "amount": "15.500", "mobile": "92345678", "language": "en"}})
    assert r.status_code == 201
    assert Message.objects.get(pk=r.json()["message_id"]).text.endswith("Fine: OMR 15.500. ROP")
    r = api.post("/events", {"type": "appointment.moved", "data": {
        "appointment_id": "A9", "place": "Seeb police station", "at": "2027-01-03T09:30:00+04:00",
        "mobile": "92345678", "language": "en"}})
    assert r.status_code == 201
    assert "moved to 2027-01-03 09:30" in Message.objects.get(pk=r.json()["message_id"]).text
    r = api.post("/events", {"type": "appointment.created", "data": {
        "appointment_id": "A9", "place": "Seeb", "mobile": "92345678", "language": "en"}})
    assert r.status_code == 201 and r.json()["outcome"] == "ignored" and r.json()["message_id"] is None


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"type": "visa.exploded", "data": {}}, "type", "unknown_event_type"),
    ({"type": "visa.status_changed", "data": {"application_no": "V1", "status": "maybe", "mobile": "91234567"}},
     "data.status", "invalid"),
    ({"type": "visa.status_changed", "data": {"application_no": "V1", "status": "approved", "mobile": "12"}},
     "data.mobile", "invalid_number"),
    ({"type": "offence.recorded", "data": {"offence_no": "1", "plate": "1 A", "amount": "1.2345",
                                          "mobile": "91234567"}}, "data.amount", "invalid"),
    ({"type": "visa.status_changed"}, "data", "missing"),
])
def test_event_validation(api, body, field, code):
    r = api.post("/events", body)
    assert r.status_code == 422, r.content
    assert (r.json()["field"], r.json()["code"]) == (field, code)
    assert Event.objects.count() == 0 and Message.objects.count() == 0


def test_inbound_for_owned_keywords(api, client, make_client):
    receive(msisdn="+96891234567", to="90085", text="TRACK C123 status")
    receive(msisdn="+96891234567", to="90085", text="FINE 12345")
    receive(msisdn="+96891234567", to="90085", text="trackX nope")
    assert api.get("/inbound").json() == []  # no keywords configured
    api.client_obj.keywords = "track, customs"
    api.client_obj.save()
    forget_owners()
    claimed = receive(msisdn="+96892345678", to="90085", text="customs status C9")
    assert claimed.handler_result == "api:evisa (keyword CUSTOMS)"  # the pull engine does not answer it too
    assert receive(msisdn="+96892345678", to="90085", text="FINE 1").handler_result != claimed.handler_result
    items = [i for i in api.get("/inbound").json() if i["keyword"] == "TRACK"]
    assert [(i["keyword"], i["text"]) for i in items] == [("TRACK", "TRACK C123 status")]
    assert items[0]["from"] == "+96891234567"
    after = api.get("/inbound", since_id=items[0]["id"]).json()
    assert [i["keyword"] for i in after] == ["CUSTOMS"]
    assert api.get("/inbound", since_id=after[-1]["id"]).json() == []


def test_documented_event_examples_work(api):
    from ropsms.api.views import EVENT_EXAMPLES

    for example in EVENT_EXAMPLES.values():
        r = api.post("/events", example["value"])
        assert r.status_code == 201, (example["summary"], r.content)
        assert r.json()["outcome"] == "sent"
