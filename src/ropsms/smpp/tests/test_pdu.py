"""The sans-I/O SMPP codec: round trips, framing, malformed input, UDH, receipts, message ids."""

from __future__ import annotations

import struct
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ropsms.smpp.pdu import (
    CMD,
    CMD_NAME,
    LAYOUT,
    STATUS,
    TLV,
    BadPdu,
    Pdu,
    PduDecoder,
    PduStreamError,
    concat_udh,
    decode_frame,
    decode_short_message,
    encode,
    format_receipt,
    message_id_variants,
    normalise_message_id,
    parse_receipt,
    split_udh,
)

ARABIC = "مرحبا، رسالتك وصلت"


def one(data: bytes):
    out = PduDecoder().feed(data)
    assert len(out) == 1
    return out[0]


def submit(seq: int = 1, **extra) -> Pdu:
    params = {
        "service_type": "", "source_addr_ton": 5, "source_addr_npi": 0, "source_addr": "90085",
        "dest_addr_ton": 1, "dest_addr_npi": 1, "destination_addr": "96891234567", "esm_class": 0,
        "protocol_id": 0, "priority_flag": 1, "schedule_delivery_time": "", "validity_period": "261231235959000+",
        "registered_delivery": 1, "replace_if_present_flag": 0, "data_coding": 8, "sm_default_msg_id": 0,
        "short_message": ARABIC[:10].encode("utf-16-be"),
    }
    params.update(extra)
    return Pdu("submit_sm", seq, params=params)


# ----------------------------------------------------------------------------- round trips
ROUND_TRIPS = [
    Pdu("bind_transceiver", 1, params={"system_id": "ropsms", "password": "secret", "system_type": "OTA",
                                       "interface_version": 0x34, "addr_ton": 1, "addr_npi": 1,
                                       "address_range": "^9"}),
    Pdu("bind_transmitter", 2, params={"system_id": "a", "password": "b", "system_type": "",
                                       "interface_version": 0x34, "addr_ton": 0, "addr_npi": 0, "address_range": ""}),
    Pdu("bind_receiver", 3, params={"system_id": "a", "password": "b", "system_type": "",
                                    "interface_version": 0x34, "addr_ton": 0, "addr_npi": 0, "address_range": ""}),
    Pdu("bind_transceiver_resp", 1, params={"system_id": "SMSC"}, tlvs={"sc_interface_version": 0x34}),
    Pdu("bind_transmitter_resp", 2, params={"system_id": "SMSC"}),
    Pdu("bind_receiver_resp", 3, params={"system_id": "SMSC"}),
    submit(4),
    submit(5, esm_class=0x40, short_message=concat_udh(7, 2, 1) + b"hello"),
    Pdu("submit_sm_resp", 4, params={"message_id": "0001A2b"}),
    Pdu("deliver_sm", 6, params={**submit().params, "esm_class": 4, "data_coding": 0,
                                 "short_message": b"id:1 stat:DELIVRD"},
        tlvs={"receipted_message_id": "1A2B", "message_state": 2, "network_error_code": b"\x03\x00\x00",
              "user_message_reference": 513, "sar_msg_ref_num": 300, "sar_total_segments": 3,
              "sar_segment_seqnum": 2, 0x1401: b"\x01\x02"}),
    Pdu("deliver_sm_resp", 6, params={"message_id": ""}),
    Pdu("enquire_link", 7),
    Pdu("enquire_link_resp", 7),
    Pdu("unbind", 8),
    Pdu("unbind_resp", 8),
    Pdu("generic_nack", 9, status=STATUS.ESME_RINVCMDID),
    Pdu("outbind", 10, params={"system_id": "smsc", "password": "pw"}),
    Pdu("query_sm", 11, params={"message_id": "abc", "source_addr_ton": 5, "source_addr_npi": 0,
                                "source_addr": "90085"}),
    Pdu("query_sm_resp", 11, params={"message_id": "abc", "final_date": "261204120000000+",
                                     "message_state": 2, "error_code": 0}),
    Pdu("cancel_sm", 13, params={"service_type": "CMT", "message_id": "12345", "source_addr_ton": 5,
                                 "source_addr_npi": 0, "source_addr": "90085", "dest_addr_ton": 1,
                                 "dest_addr_npi": 1, "destination_addr": "96891234567"}),
    Pdu("cancel_sm_resp", 13),
    Pdu("data_sm", 12, params={"service_type": "", "source_addr_ton": 1, "source_addr_npi": 1,
                               "source_addr": "96891234567", "dest_addr_ton": 5, "dest_addr_npi": 0,
                               "destination_addr": "90085", "esm_class": 0, "registered_delivery": 0,
                               "data_coding": 8},
        tlvs={"message_payload": ARABIC.encode("utf-16-be")}),
    Pdu("data_sm_resp", 12, params={"message_id": "xyz"}),
]


@pytest.mark.parametrize("pdu", ROUND_TRIPS, ids=lambda p: p.command)
def test_round_trip(pdu):
    data = encode(pdu)
    assert struct.unpack(">I", data[:4])[0] == len(data)
    back = one(data)
    assert isinstance(back, Pdu)
    assert back.command == pdu.command and back.sequence == pdu.sequence and back.status == pdu.status
    expected = {name: ("" if kind == "c" else 0 if kind == "i" else b"") for name, kind in LAYOUT[pdu.command]}
    expected.update(pdu.params)
    assert back.params == expected
    assert back.tlvs == pdu.tlvs
    assert encode(back) == data


def test_missing_params_encode_as_zero_values():
    back = one(encode(Pdu("submit_sm", 1, params={"destination_addr": "96891234567"})))
    assert back.params["source_addr"] == "" and back.params["esm_class"] == 0
    assert back.params["short_message"] == b"" and back.params["destination_addr"] == "96891234567"


def test_failed_response_has_no_body_and_decodes_with_zero_values():
    data = encode(Pdu("submit_sm_resp", 3, status=STATUS.ESME_RTHROTTLED))
    assert len(data) == 16
    back = one(data)
    assert back.status == STATUS.ESME_RTHROTTLED and back.params == {"message_id": ""}


def test_failed_query_and_cancel_responses_are_header_only():
    for command, status in (("query_sm", STATUS.ESME_RQUERYFAIL), ("cancel_sm", STATUS.ESME_RCANCELFAIL)):
        data = encode(Pdu(command, 5, params={"message_id": "7"}).response(status))
        assert len(data) == 16 and struct.unpack(">I", data[4:8])[0] == CMD[command + "_resp"]
        back = one(data)
        assert (back.command, back.sequence, back.status) == (command + "_resp", 5, status)
    back = one(encode(Pdu("query_sm_resp", 5, STATUS.ESME_RQUERYFAIL)))
    assert back.params == {"message_id": "", "final_date": "", "message_state": 0, "error_code": 0}


def test_response_helper_and_known_command_ids():
    req = submit(42)
    resp = req.response(message_id="9")
    assert (resp.command, resp.sequence, resp.params) == ("submit_sm_resp", 42, {"message_id": "9"})
    assert resp.is_response and not req.is_response
    assert CMD["submit_sm"] == 4 and CMD["deliver_sm_resp"] == 0x80000005 and CMD_NAME[0x15] == "enquire_link"
    assert TLV["receipted_message_id"][0] == 0x001E and TLV["message_state"][0] == 0x0427


def test_encode_rejects_unknown_command_and_oversized_short_message():
    with pytest.raises(ValueError, match="unknown SMPP command"):
        encode(Pdu("submit_everything", 1))
    with pytest.raises(ValueError, match="message_payload"):
        encode(submit(short_message=b"x" * 255))
    with pytest.raises(ValueError, match="unknown TLV"):
        encode(Pdu("submit_sm", 1, tlvs={"no_such_tlv": 1}))


# ----------------------------------------------------------------------------- framing
def test_framing_across_split_reads():
    data = encode(submit(1)) + encode(Pdu("enquire_link", 2))
    dec = PduDecoder()
    got = []
    for i in range(len(data)):
        got += dec.feed(data[i:i + 1])
    assert [p.command for p in got] == ["submit_sm", "enquire_link"]
    assert dec.pending == 0


def test_several_pdus_in_one_read_and_a_tail():
    pdus = [submit(i) for i in range(1, 51)]
    data = b"".join(encode(p) for p in pdus)
    tail = encode(Pdu("unbind", 99))
    dec = PduDecoder()
    got = dec.feed(data + tail[:10])
    assert [p.sequence for p in got] == list(range(1, 51))
    assert dec.pending == 10
    assert dec.feed(tail[10:])[0].command == "unbind"
    assert dec.pending == 0


@given(st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=20))
def test_framing_any_chunking(cuts):
    data = b"".join(encode(p) for p in ROUND_TRIPS)
    dec = PduDecoder()
    got, pos = [], 0
    for c in cuts:
        got += dec.feed(data[pos:pos + c])
        pos += c
    got += dec.feed(data[pos:])
    assert [(p.command, p.sequence) for p in got] == [(p.command, p.sequence) for p in ROUND_TRIPS]


# ----------------------------------------------------------------------------- malformed input
def frame(command_id: int, body: bytes, seq: int = 5) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, 0, seq) + body


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (frame(0x00000777, b""), STATUS.ESME_RINVCMDID),  # unknown command
        (frame(CMD["bind_transceiver"], b"ropsms"), STATUS.ESME_RINVMSGLEN),  # C-string without NUL
        (frame(CMD["submit_sm"], encode(submit())[16:-3]), STATUS.ESME_RINVMSGLEN),  # sm_length too long
        (frame(CMD["submit_sm"], encode(submit())[16:] + b"\x04\x27\x00"), STATUS.ESME_RINVOPTPARSTREAM),
        (frame(CMD["submit_sm"], encode(submit())[16:] + b"\x04\x27\x00\x05\x02"), STATUS.ESME_RINVOPTPARSTREAM),
    ],
    ids=["unknown-command", "unterminated-string", "sm-length", "short-tlv-header", "tlv-overrun"],
)
def test_malformed_frames_become_badpdu(data, status):
    dec = PduDecoder()
    got = dec.feed(data + encode(Pdu("enquire_link", 6)))
    bad = got[0]
    assert isinstance(bad, BadPdu)
    assert bad.sequence == 5 and bad.status == status and bad.reason
    nack = bad.nack()
    assert (nack.command, nack.sequence, nack.status) == ("generic_nack", 5, status)
    # the stream goes on: the next PDU is decoded normally
    assert got[1].command == "enquire_link"


@pytest.mark.parametrize("length", [0, 15, 64 * 1024 + 1, 0xFFFFFFFF])
def test_impossible_length_raises_stream_error(length):
    with pytest.raises(PduStreamError):
        PduDecoder().feed(struct.pack(">IIII", length, 4, 0, 1))


@given(st.binary(max_size=300))
def test_garbage_never_crashes_the_decoder(blob):
    dec = PduDecoder()
    try:
        for item in dec.feed(blob):
            assert isinstance(item, Pdu | BadPdu)
    except PduStreamError:
        pass


# ----------------------------------------------------------------------------- UDH and text
def test_concat_udh_and_split_8bit():
    udh = concat_udh(300, 3, 2)
    assert udh == bytes([5, 0, 3, 300 & 0xFF, 3, 2])
    info, body = split_udh(udh + b"body")
    assert info == {"ref": 44, "total": 3, "seq": 2} and body == b"body"


def test_split_udh_16bit_reference_and_other_ies():
    sm = bytes([12, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x08, 0x04, 0x12, 0x34, 0x04, 0x01]) + b"x"
    info, body = split_udh(sm)
    assert info == {"ref": 0x1234, "total": 4, "seq": 1} and body == b"x"


def test_split_udh_without_concat_or_broken():
    info, body = split_udh(bytes([4, 0x05, 0x02, 0x0B, 0x84]) + b"port")
    assert info is None and body == b"port"
    assert split_udh(bytes([9, 0, 3, 1])) == (None, bytes([9, 0, 3, 1]))
    assert split_udh(b"") == (None, b"")


def test_decode_short_message():
    assert decode_short_message(ARABIC.encode("utf-16-be"), 8) == ARABIC
    from ropsms.messaging import encoding

    assert decode_short_message(encoding.encode("Hello @ {ok} €", "gsm"), 0) == "Hello @ {ok} €"
    assert decode_short_message(b"caf\xe9", 3) == "café"
    assert decode_short_message(b"\xd8\x00", 8) == "\ufffd"  # a lone surrogate does not raise


# ----------------------------------------------------------------------------- receipts
def test_format_and_parse_receipt():
    text = format_receipt(message_id="1A2B", submitted=1, delivered=1, stat="DELIVRD", err=0,
                          text="Your fine is 20 OMR and more", done_at=datetime(2026, 12, 4, 10, 5),
                          submit_at=datetime(2026, 12, 4, 10, 4))
    assert text == ("id:1A2B sub:001 dlvrd:001 submit date:2612041004 done date:2612041005 "
                    "stat:DELIVRD err:000 text:Your fine is 20 OMR ")
    parsed = parse_receipt(text)
    assert parsed == {"id": "1A2B", "sub": "001", "dlvrd": "001", "submit_date": "2612041004",
                      "done_date": "2612041005", "stat": "DELIVRD", "err": "000", "text": "Your fine is 20 OMR "}


def test_parse_receipt_is_tolerant():
    assert parse_receipt("id:00ff SUBMIT_DATE:2612041004 Stat:undeliv ERR:1") == {
        "id": "00ff", "submit_date": "2612041004", "stat": "UNDELIV", "err": "1"}
    odd = parse_receipt("id:7 sub:1 dlvrd:0 stat:EXPIRED err:0 text:stat:DELIVRD id:9")
    assert odd["stat"] == "EXPIRED" and odd["id"] == "7" and odd["text"] == "stat:DELIVRD id:9"
    assert parse_receipt("not a receipt") == {}


# ----------------------------------------------------------------------------- message ids
@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("1A2B", "1a2b"), ("0001a2b", "1a2b"), ("  00123\0", "123"), ("000", "0"), ("0", "0"), ("", ""),
     ("AbC-12", "abc-12")],
)
def test_normalise_message_id(raw, canonical):
    assert normalise_message_id(raw) == canonical


def test_message_id_variants_match_hex_and_decimal_forms():
    def same(a, b):
        return bool(message_id_variants(a) & message_id_variants(b))

    assert same("1A2B", "6699")          # hex response, decimal receipt
    assert same("12345", "3039")         # decimal response, hex receipt
    assert same("00000FF", "ff")         # leading zeros and case
    assert same("0255", "255")
    assert not same("1a2b", "1a2c")
    assert not same("abc-1", "abc-2")
    assert message_id_variants("xyz") == {"xyz"}


# ----------------------------------------------------------------------------- fast GSM 03.38
def test_gsm_fast_path_agrees_with_the_gsm0338_codec():
    import codecs

    from ropsms.messaging.encoding import gsm_costs
    from ropsms.smpp.pdu import gsm_decode, gsm_encode

    alphabet = "".join(sorted(gsm_costs()))
    reference = codecs.encode(alphabet, "gsm03.38")
    assert gsm_encode(alphabet) == reference
    assert gsm_decode(reference) == alphabet == codecs.decode(reference, "gsm03.38")
    text = "Fine: 20.000 OMR {ref #7} [a|b] ~x^ € @home_ $5 ¡Hola! ÄÖÑÜ§¿äöñüà\n"
    assert gsm_encode(text) == codecs.encode(text, "gsm03.38")
    assert gsm_decode(gsm_encode(text)) == text
    with pytest.raises(ValueError, match="'`'"):
        gsm_encode("back`tick")
    with pytest.raises(ValueError, match="'م'"):
        gsm_encode("abc مرحبا")
    with pytest.raises(ValueError):
        gsm_decode(b"\x80")


_cstr = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x7E), max_size=20)
_octet = st.integers(min_value=0, max_value=255)


@given(
    command=st.sampled_from(["submit_sm", "deliver_sm"]),
    sequence=st.integers(min_value=1, max_value=0x7FFFFFFF),
    source=_cstr, destination=_cstr, esm=_octet, coding=_octet,
    short_message=st.binary(max_size=254),
    ref=st.integers(min_value=0, max_value=0xFFFF), state=st.integers(min_value=1, max_value=8), rid=_cstr,
)
def test_random_messages_round_trip(command, sequence, source, destination, esm, coding, short_message, ref,
                                    state, rid):
    pdu = Pdu(command, sequence, params={"source_addr": source, "destination_addr": destination, "esm_class": esm,
                                         "data_coding": coding, "short_message": short_message},
              tlvs={"sar_msg_ref_num": ref, "message_state": state, "receipted_message_id": rid})
    back = one(encode(pdu))
    assert {k: back.params[k] for k in pdu.params} == pdu.params
    assert back.tlvs == pdu.tlvs and back.sequence == sequence


@given(st.binary(max_size=120), st.sampled_from([4, 5]))
def test_fast_sm_decoder_agrees_with_the_table_decoder(body, command_id):
    from ropsms.smpp.pdu import _decode_table

    frame = struct.pack(">IIII", 16 + len(body), command_id, 0, 3) + body
    assert decode_frame(frame) == _decode_table(frame)


@pytest.mark.parametrize("pdu", [p for p in ROUND_TRIPS if p.command in ("submit_sm", "deliver_sm")],
                         ids=lambda p: p.command)
def test_fast_sm_encoder_agrees_with_the_table_encoder(pdu):
    from ropsms.smpp.pdu import _decode_table

    data = encode(pdu)
    assert _decode_table(data) == decode_frame(data)
    # the generic encoder runs when the fast one declines (here: a bytearray short_message)
    odd = Pdu(pdu.command, pdu.sequence, pdu.status,
              {**pdu.params, "short_message": bytearray(pdu.params["short_message"])}, pdu.tlvs)
    assert encode(odd) == data


def test_fast_sm_decoder_agrees_on_every_truncation_and_extension():
    from ropsms.smpp.pdu import _decode_table

    body = encode(ROUND_TRIPS[9])[16:]  # a deliver_sm with many TLVs
    for cut in range(len(body) + 1):
        for tail in (b"", b"\x00", b"\x04\x27\x00\x01\x02", b"\x04\x27\x00\x05"):
            chunk = body[:cut] + tail
            frame = struct.pack(">IIII", 16 + len(chunk), 5, 0, 3) + chunk
            assert decode_frame(frame) == _decode_table(frame), (cut, tail)
