"""The commands engine end to end from `inbound.receive()`: every shipped command in both languages,
privacy, MORE paging, feedback, rate limits and the probing block."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ropsms.eservices.models import Block, Command, Exchange, Feedback
from ropsms.messaging import inbound
from ropsms.messaging.models import InboundMessage, Message, Priority
from ropsms.ops.models import AuditEntry

pytestmark = [pytest.mark.django_db, pytest.mark.pg]

AHMED, FATMA, RAJESH, NOOR, STRANGER = "91234567", "92345678", "71234567", "93456789", "99887766"


def test_fines_by_plate_in_english_itemised(registry, ask):
    reply = ask(AHMED, "FINES 12345 AB")
    assert reply.splitlines()[0] == "Vehicle 12345 AB: 3 unpaid fine(s), total 75.000 OMR:"
    lines = reply.splitlines()[1:]
    assert len(lines) == 3  # the paid fine is not listed
    assert lines[0].startswith("1) ") and "Sultan Qaboos Street, Al Khuwair 15.000 OMR" in lines[0]
    assert "Muscat Expressway, Bawshar 50.000 OMR" in lines[1]
    msg = Message.objects.get(text=reply)
    assert msg.to == "+96891234567" and msg.source == "90085"
    assert msg.producer == "eservices:pull" and msg.priority == Priority.URGENT


def test_fines_by_plate_in_arabic(registry, ask):
    reply = ask(AHMED, "مخالفات ١٢٣٤٥ أ ب")
    assert reply.startswith("المركبة 12345 AB: عدد المخالفات غير المدفوعة 3، المجموع 75.000 ر.ع:")
    assert "شارع السلطان قابوس، الخوير 15.000 ر.ع" in reply
    assert "طريق مسقط السريع، بوشر 50.000 ر.ع" in reply


def test_stranger_learns_nothing(registry, ask):
    """The same neutral reply whether the plate exists or not: nothing about existence leaks."""
    existing = ask(STRANGER, "FINES 12345 AB")
    missing = ask(STRANGER, "FINES 54321 ZZ")
    assert existing == missing
    assert "12345" not in existing and "OMR" not in existing and "Ahmed" not in existing
    other_owner = ask(FATMA, "FINES 12345 AB")
    assert other_owner == existing
    assert ask(STRANGER, "مخالفات ١٢٣٤٥ أ ب") == ask(STRANGER, "مخالفات ٩٩٩٩ ي ي")
    assert Exchange.objects.filter(msisdn="+96899887766", result="neutral").count() == 4


def test_fines_by_civil_id_and_by_cr(registry, ask):
    assert ask(AHMED, "FINES ID 12345678").startswith("Civil ID 12345678: 3 unpaid fine(s), total 75.000 OMR:")
    assert ask(AHMED, "مخالفات مدني ١٢٣٤٥٦٧٨").startswith("الرقم المدني 12345678: عدد المخالفات غير المدفوعة 3")
    company = ask(NOOR, "FINES CR 1234567")
    assert company.startswith("Al Noor Trading LLC (CR 1234567): 2 unpaid fine(s), total 35.000 OMR:")
    assert ask(NOOR, "مخالفات شركة 1234567").startswith("شركة النور للتجارة ش.م.م (س.ت 1234567)")
    assert ask(AHMED, "FINES CR 1234567") == ask(STRANGER, "FINES CR 7654321")  # neutral


def test_no_fines_is_said_plainly_to_the_owner(registry, ask):
    assert ask(RAJESH, "FINES ID 123456789") == "There are no unpaid traffic fines for civil ID 123456789."


def test_expiry_commands_in_both_languages(registry, ask):
    today = timezone.localdate()
    reg = ask(FATMA, "REG 777 HH")
    assert reg == (f"Registration of vehicle 777 HH (Nissan Patrol) is expired, expiry date "
                   f"{today - timedelta(days=12):%d/%m/%Y}.")
    assert ask(FATMA, "ملكية ٧٧٧ هـ هـ").startswith("ملكية المركبة 777 HH (Nissan Patrol) منتهية")
    assert ask(AHMED, "LICENCE 12345678") == (
        f"Your driving licence (Light) is valid, expiry date {today + timedelta(days=25):%d/%m/%Y}.")
    assert ask(AHMED, "رخصة 12345678").startswith("رخصة القيادة (خفيفة) سارية")
    assert ask(AHMED, "PASSPORT 12345678").startswith("Passport 09876543 is valid")
    assert ask(AHMED, "جواز 12345678").startswith("جواز السفر 09876543 ساري،")
    assert ask(RAJESH, "VISA 123456789").startswith("Your employment visa is valid, expiry date")
    assert ask(RAJESH, "تأشيرة 123456789").startswith("التأشيرة (عمل) سارية")
    assert ask(AHMED, "ID 12345678").startswith("Your ID card is valid")
    assert ask(RAJESH, "ID 123456789").startswith("Your resident card is valid")
    assert ask(FATMA, "بطاقة 23456789").startswith("البطاقة الشخصية منتهية")
    # Private: someone else's number gets the neutral reply for each of these.
    neutral = ask(STRANGER, "FINES 54321 ZZ")
    for text in ["REG 777 HH", "LICENCE 12345678", "PASSPORT 12345678", "VISA 123456789", "ID 12345678"]:
        assert ask(STRANGER, text) == neutral


def test_visa_application_status_is_public_but_needs_both_numbers(registry, ask):
    assert ask(STRANGER, "VISA STATUS EV2026123456 K1234567").startswith(
        "Visa application EV2026123456: under review (updated ")
    assert ask(STRANGER, "حالة التأشيرة EV2026123456 K1234567").startswith("طلب التأشيرة EV2026123456: قيد الدراسة")
    wrong_passport = ask(STRANGER, "VISA STATUS EV2026123456 K7654321")
    assert "under review" not in wrong_passport and wrong_passport == ask(STRANGER, "FINES 54321 ZZ")


def test_help_lists_commands_in_the_senders_language(registry, ask):
    english = ask(STRANGER, "help")
    assert english.startswith("ROP services on 90085:") and "FINES 12345 AB: traffic fines of your vehicle" in english
    arabic = ask(STRANGER, "مساعدة")
    assert arabic.startswith("خدمات شرطة عمان السلطانية على 90085:") and "مخالفات 12345 AB: مخالفات مركبتك" in arabic
    assert "المزيد" in arabic  # the list is longer than one reply: MORE gives the rest
    pages = [arabic]
    while "المزيد للباقي" in pages[-1]:
        pages.append(ask(STRANGER, "المزيد"))
    assert len(pages) <= 4 and "مساعدة: هذه القائمة" in pages[-1]


def test_more_pages_through_a_long_reply(registry, ask):
    first = ask(FATMA, "FINES 777 HH")
    assert first.startswith("Vehicle 777 HH: 12 unpaid fine(s), total 810.000 OMR:")
    assert first.endswith("Send MORE for the rest.")
    assert Message.objects.get(text=first).parts_count <= 4
    seen = [line for line in first.splitlines()[1:-1]]
    for _ in range(5):
        page = ask(FATMA, "more")
        if page.startswith("There is nothing more"):
            break
        seen += [line for line in page.splitlines() if line[0].isdigit()]
    assert [int(line.split(")")[0]) for line in seen] == list(range(1, 13))
    assert ask(FATMA, "MORE") == "There is nothing more to send. Send HELP for the list of services."


def test_more_after_another_question_does_not_resume_the_old_list(registry, ask):
    ask(FATMA, "FINES 777 HH")
    ask(FATMA, "ID 23456789")
    assert ask(FATMA, "more").startswith("There is nothing more")


def test_typo_gets_did_you_mean_in_the_senders_language(registry, ask):
    assert ask(AHMED, "FNIES 12345 AB") == (
        "Sorry, this command is not known. Did you mean FINES? Example: FINES 12345 AB")
    assert ask(AHMED, "مخالفت ١٢٣٤٥ أ ب") == "عذرا، الأمر غير معروف. هل تقصد مخالفات؟ مثال: مخالفات 12345 AB"
    assert ask(AHMED, "xyzzy") == "Sorry, this command is not known. Send HELP to 90085 for the list of services."
    assert ask(AHMED, "FINES") == "Please send FINES followed by the details. Example: FINES 12345 AB"


def test_feedback_files_a_ticket(registry, ask):
    reply = ask(AHMED, "FB The traffic light at Al Khuwair is broken")
    fb = Feedback.objects.get()
    assert reply == f"Thank you. Your feedback is registered with ticket number {fb.ticket}."
    assert fb.text == "The traffic light at Al Khuwair is broken" and fb.status == "new" and fb.unit is None
    assert fb.msisdn == "+96891234567" and fb.person == registry["ahmed"] and fb.mo is not None
    arabic = ask(STRANGER, "شكوى الازدحام شديد عند دوار برج الصحوة")
    fb2 = Feedback.objects.get(msisdn="+96899887766")
    assert arabic == f"شكرا لك. تم تسجيل ملاحظتك برقم التذكرة {fb2.ticket}."
    assert fb2.text == "الازدحام شديد عند دوار برج الصحوة" and fb2.person is None and fb2.ticket != fb.ticket


def test_every_exchange_is_recorded_and_audited_with_masked_identifiers(registry, ask):
    ask(AHMED, "FINES 12345 AB")
    ex = Exchange.objects.get()
    assert ex.result == "answered" and ex.command.code == "fines-plate" and ex.language == "en"
    assert ex.reply is not None and ex.mo.text == "FINES 12345 AB"
    assert ex.param_masked == "***45 **" and len(ex.param_hash) == 24
    entry = AuditEntry.objects.get(action="eservices.query")
    assert entry.detail["result"] == "answered" and "12345" not in str(entry.detail) and "91234567" not in entry.actor
    ask(STRANGER, "FINES 12345 AB")
    assert AuditEntry.objects.filter(action="eservices.query", detail__result="refused").count() == 1


def test_rate_limit_sends_one_notice_then_silence(registry, ask, settings):
    settings.ROPSMS_ESERVICES = {"PER_MINUTE": 3, "PER_DAY": 100}
    replies = [ask(STRANGER, "help") for _ in range(6)]
    assert all(r.startswith("ROP services") for r in replies[:3])
    assert replies[3] == "You have sent too many requests. Please wait a while and try again."
    assert replies[4] is None and replies[5] is None
    assert Message.objects.filter(to="+96899887766").count() == 4
    assert InboundMessage.objects.filter(msisdn="96899887766").count() == 6  # every MO is on record
    # Another number is not affected.
    assert ask(AHMED, "help").startswith("ROP services")


def test_rate_limit_window_passes(registry, ask, settings):
    settings.ROPSMS_ESERVICES = {"PER_MINUTE": 2, "PER_DAY": 100}
    ask(STRANGER, "help"), ask(STRANGER, "help")
    assert ask(STRANGER, "help").startswith("You have sent too many")
    Exchange.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert ask(STRANGER, "help").startswith("ROP services")


def test_daily_limit(registry, ask, settings):
    settings.ROPSMS_ESERVICES = {"PER_MINUTE": 100, "PER_DAY": 3}
    for _ in range(3):
        ask(AHMED, "help")
        Exchange.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    assert ask(AHMED, "help").startswith("You have sent too many")


def test_probing_many_identifiers_blocks_the_number(registry, ask, settings, caplog):
    settings.ROPSMS_ESERVICES = {"PROBE_LIMIT": 4, "PER_MINUTE": 100}
    neutral = ask(STRANGER, "FINES 12345 AB")
    for plate in ["11111 AA", "22222 BB", "33333 CC"]:
        assert ask(STRANGER, f"FINES {plate}") == neutral
    block = Block.objects.get(msisdn="+96899887766")
    assert block.until > timezone.now() + timedelta(hours=23)
    assert AuditEntry.objects.filter(action="eservices.block").exists()
    assert any("blocked" in r.message and "99887766" not in r.message for r in caplog.records)
    assert ask(STRANGER, "FINES 12345 AB").startswith("Requests from this number are suspended")
    assert ask(STRANGER, "help") is None  # notice sent once
    # Asking about the same identifier again and again is not probing.
    for _ in range(6):
        ask(FATMA, "FINES 12345 AB")
    assert not Block.objects.filter(msisdn="+96892345678").exists()


def test_new_and_edited_commands_work_without_restart(registry, ask):
    assert ask(AHMED, "PLATE 12345 AB").startswith("Sorry, this command is not known")
    Command.objects.create(
        code="plate-check", name_en="Plate check", name_ar="فحص اللوحة", keywords_en="PLATE, CHECK",
        keywords_ar="لوحة", param_pattern=Command.objects.get(code="fines-plate").param_pattern,
        source=Command.objects.get(code="fines-plate").source, query="vehicle_registration",
        reply_en="{plate}: {make} {model}", reply_ar="{plate}: {make} {model}", example="PLATE 12345 AB")
    assert ask(AHMED, "PLATE 12345 AB") == "12345 AB: Toyota Land Cruiser"
    cmd = Command.objects.get(code="plate-check")
    cmd.reply_en = "Vehicle {plate} is a {make}."
    cmd.save()
    assert ask(AHMED, "plate 12345 ab") == "Vehicle 12345 AB is a Toyota."
    cmd.enabled = False
    cmd.save()
    assert ask(AHMED, "plate 12345 ab").startswith("Sorry, this command is not known")


def test_an_interceptor_that_claims_the_mo_takes_it_from_the_engine(registry, ask):
    def interviews(mo):
        return "portal: interview answer" if mo.text.strip().upper() in {"YES", "NO"} else None

    inbound.register_interceptor(interviews)
    try:
        mo = inbound.receive(msisdn="96891234567", to="90085", text="YES")
        assert mo.handler_result == "portal: interview answer"
        assert not Exchange.objects.filter(mo=mo).exists()
        assert ask(AHMED, "help").startswith("ROP services")
    finally:
        inbound._interceptors.remove(interviews)


def test_a_failing_command_still_gets_an_apology(registry, ask, monkeypatch):
    from ropsms.eservices import engine

    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(engine, "_query", boom)
    assert ask(AHMED, "FINES 12345 AB") == "Sorry, your request could not be processed. Please try again later."
    assert Exchange.objects.get().result == "error"


def test_two_commands_matching_the_same_text_get_a_question_not_a_guess(registry, ask):
    plate = Command.objects.get(code="fines-plate")
    Command.objects.create(code="tow", name_en="Towed vehicle", name_ar="مركبة مسحوبة", keywords_en="FINES",
                           keywords_ar="سحب", param_pattern=plate.param_pattern, source=plate.source,
                           query="vehicle_registration", reply_en="{plate}", reply_ar="{plate}", example="TOW 1 A")
    reply = ask(AHMED, "FINES 12345 AB")
    assert reply.startswith("Your message fits more than one service. Did you mean ")
    assert Exchange.objects.get().result == "unknown"


def test_retention_purges_old_exchanges_and_ended_blocks(registry, ask, settings):
    from ropsms.eservices.services import purge_old_records
    from ropsms.ops.scheduler import jobs

    assert "eservices.retention" in {job.name for job in jobs()}
    settings.ROPSMS_ESERVICES = {"RETENTION_DAYS": 30}
    ask(AHMED, "help")
    ask(FATMA, "help")
    Exchange.objects.filter(msisdn="+96891234567").update(created_at=timezone.now() - timedelta(days=31))
    now = timezone.now()
    Block.objects.create(msisdn="+96899887766", reason="test", created_at=now - timedelta(days=10),
                         until=now - timedelta(days=8))
    assert purge_old_records() == {"exchanges": 1, "blocks": 1}
    assert list(Exchange.objects.values_list("msisdn", flat=True)) == ["+96892345678"]
    assert purge_old_records() == {"exchanges": 0, "blocks": 0}


def test_an_mo_from_an_unusable_number_is_recorded_without_a_reply(registry):
    mo = inbound.receive(msisdn="ABC", to="90085", text="FINES 12345 AB")
    assert mo.handler_result == "eservices: sender number unusable, no reply"
    exchange = Exchange.objects.get(mo=mo)
    assert exchange.result == "error" and exchange.reply is None
    assert not Message.objects.exists()


def test_handling_the_same_mo_twice_does_not_send_a_second_reply(registry, ask):
    from ropsms.eservices.engine import handle_mo

    ask(AHMED, "help")
    mo = InboundMessage.objects.get()
    with pytest.raises(Exception):  # noqa: B017 - the one-exchange-per-MO constraint
        handle_mo(mo)
    assert Message.objects.count() == 1 and Exchange.objects.count() == 1


def test_an_opted_out_citizen_still_gets_the_answer_to_their_own_question(registry, ask):
    """Opting out stops alerts sent unasked; it must not swallow the reply to a command."""
    from ropsms.messaging.models import OptOut, State

    OptOut.objects.create(msisdn="+968" + AHMED, reason="STOP")
    reply = ask(AHMED, "FINES 12345 AB")
    assert reply and reply.startswith("Vehicle 12345 AB")
    assert Message.objects.get(text=reply).state == State.QUEUED
