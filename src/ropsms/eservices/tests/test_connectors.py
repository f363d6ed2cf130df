"""The sql connector against a separate SQLite file and a PostgreSQL database, the http connector
against a local server; slow or failing sources get the citizen "busy", a log line and a counter."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from ropsms.eservices.connectors import SourceUnavailable, connector_for
from ropsms.eservices.models import Command, DataSource, Exchange

pytestmark = pytest.mark.django_db

AHMED, STRANGER = "91234567", "99887766"
BUSY = "The service is busy, please try again later."

SUBJECT_SQL = ("SELECT owner_mobile, plate_number || ' ' || plate_code AS plate FROM vehicles "
               "WHERE plate_number = :number AND plate_code = :letters")
RECORDS_SQL = ("SELECT fine_date AS date, place_en, place_ar, amount FROM fines "
               "WHERE plate_number = :number AND plate_code = :letters ORDER BY fine_date")
SCHEMA = [
    "CREATE TABLE vehicles (plate_number TEXT, plate_code TEXT, owner_mobile TEXT)",
    "CREATE TABLE fines (plate_number TEXT, plate_code TEXT, fine_date TEXT, place_en TEXT, place_ar TEXT, "
    "amount NUMERIC(9,3))",
    "INSERT INTO vehicles VALUES ('12345', 'AB', '9123 4567')",
    "INSERT INTO vehicles VALUES ('500', 'K', '92223333')",
    "INSERT INTO fines VALUES ('12345', 'AB', '2026-10-01', 'Seeb', 'السيب', 20.5)",
    "INSERT INTO fines VALUES ('12345', 'AB', '2026-11-02', 'Sohar', 'صحار', 100)",
]


def use_source(source: DataSource, query: str = "violations_by_plate") -> None:
    """Point the shipped FINES command at this source (an admin edit, taken up on the next MO)."""
    cmd = Command.objects.get(code="fines-plate")
    cmd.source, cmd.query = source, query
    cmd.save()


@pytest.fixture
def sqlite_source(tmp_path):
    path = tmp_path / "traffic.db"
    with sqlite3.connect(path) as conn:
        for statement in SCHEMA:
            conn.execute(statement)
    return DataSource.objects.create(
        name="traffic-sqlite", kind="sql", url=f"sqlite:///{path}", timeout_seconds=1,
        queries={"violations_by_plate": {"subject": SUBJECT_SQL, "records": RECORDS_SQL},
                 "flat": RECORDS_SQL.replace("SELECT ", "SELECT (SELECT owner_mobile FROM vehicles v WHERE "
                                             "v.plate_number = fines.plate_number) AS owner_mobile, "
                                             "plate_number || ' ' || plate_code AS plate, "),
                 "slow": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                         "SELECT max(x) AS owner_mobile FROM c WHERE :number = :number",
                 "broken": "SELECT nothing FROM nowhere WHERE :number = 1"})


def test_sql_sqlite_answers_the_owner_itemised(sqlite_source, ask):
    use_source(sqlite_source)
    reply = ask(AHMED, "FINES 12345 AB")
    assert reply.splitlines() == [
        "Vehicle 12345 AB: 2 unpaid fine(s), total 120.500 OMR:",
        "1) 2026-10-01 Seeb 20.500 OMR",
        "2) 2026-11-02 Sohar 100.000 OMR",
    ]
    assert ask(AHMED, "مخالفات 12345 AB").splitlines()[1] == "1) 2026-10-01 السيب 20.500 ر.ع"
    assert ask(AHMED, "FINES 500 K") == ask(STRANGER, "FINES 12345 AB")  # not the owner: neutral
    assert ask("92223333", "FINES 500 K") == "Vehicle 500 K has no unpaid traffic fines."


def test_sql_sqlite_single_query_form(sqlite_source, ask):
    use_source(sqlite_source, "flat")
    assert ask(AHMED, "FINES 12345 AB").startswith("Vehicle 12345 AB: 2 unpaid fine(s), total 120.500 OMR:")
    assert ask(AHMED, "FINES 999 ZZ") == ask(STRANGER, "FINES 12345 AB")


def test_sql_slow_query_is_cut_off_and_the_citizen_told_busy(sqlite_source, ask, caplog):
    use_source(sqlite_source, "slow")
    assert ask(AHMED, "FINES 12345 AB") == BUSY
    assert Exchange.objects.get().result == "busy"  # counted per source on /metrics (ops tests)
    assert any("ALERT data source traffic-sqlite unavailable" in r.getMessage() for r in caplog.records)
    assert not any("12345" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("query", ["broken", "missing-query"])
def test_sql_errors_are_busy(sqlite_source, ask, query):
    use_source(sqlite_source, query)
    assert ask(AHMED, "FINES 12345 AB") == BUSY


def test_sql_missing_file_and_disabled_source_are_busy(sqlite_source, ask, tmp_path):
    sqlite_source.url = f"sqlite:///{tmp_path}/nope.db"
    sqlite_source.save()
    use_source(sqlite_source)
    assert ask(AHMED, "FINES 12345 AB") == BUSY
    sqlite_source.enabled = False
    sqlite_source.save()
    assert ask(AHMED, "مخالفات 12345 AB") == "الخدمة مشغولة حاليا، يرجى المحاولة لاحقا."


def _postgres_url() -> str | None:
    for name in ("ROPSMS_TEST_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith("postgres"):
            return url
    return None


@pytest.fixture
def pg_source():
    """A separate PostgreSQL database holding a 'traffic system' (created and dropped here)."""
    url = _postgres_url()
    if not url:
        pytest.skip("no PostgreSQL: set ROPSMS_TEST_DATABASE_URL (CI always does)")
    import psycopg

    name = f"ropsms_es_source_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    source_url = url.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(source_url, autocommit=True) as conn:
            for statement in SCHEMA:
                conn.execute(statement)
        yield DataSource.objects.create(
            name="traffic-pg", kind="sql", url=source_url, timeout_seconds=1,
            queries={"violations_by_plate": {"subject": SUBJECT_SQL, "records": RECORDS_SQL.replace(
                "fine_date AS date", "to_char(fine_date::date, 'DD/MM/YYYY') AS date")},
                "slow": "SELECT pg_sleep(5), :number AS owner_mobile"})
    finally:
        from ropsms.eservices.connectors.sql import close_connections

        close_connections()
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.pg
def test_sql_postgresql(pg_source, ask):
    use_source(pg_source)
    assert ask(AHMED, "FINES 12345 AB").splitlines() == [
        "Vehicle 12345 AB: 2 unpaid fine(s), total 120.500 OMR:",
        "1) 01/10/2026 Seeb 20.500 OMR",
        "2) 02/11/2026 Sohar 100.000 OMR",
    ]
    assert ask(STRANGER, "FINES 12345 AB").startswith("No information can be sent")
    # The connection is kept for the next question, and it is read-only.
    from ropsms.eservices.connectors import sql

    [conn] = sql._local.conns.values()
    assert conn.execute("SHOW default_transaction_read_only").fetchone() == {"default_transaction_read_only": "on"}
    assert ask(AHMED, "FINES 12345 AB").startswith("Vehicle 12345 AB: 2 unpaid")
    assert list(sql._local.conns.values()) == [conn]


@pytest.mark.pg
def test_sql_postgresql_statement_timeout_is_busy(pg_source, ask):
    use_source(pg_source, "slow")
    assert ask(AHMED, "FINES 12345 AB") == BUSY


# --- http ------------------------------------------------------------------------------------------


class TrafficApi(BaseHTTPRequestHandler):
    """A stand-in for the traffic system's JSON API."""

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        url = urlsplit(self.path.removeprefix("/api"))
        plate = parse_qs(url.query).get("plate", [""])[0]
        if url.path == "/slow":
            time.sleep(2)
        if url.path == "/fail":
            return self._send(500, b"oops")
        if url.path == "/garbage":
            return self._send(200, b"<html>not json</html>")
        query = parse_qs(url.query)
        if url.path == "/expiring":
            asked = f"{query['from'][0]}..{query['to'][0]}"
            body = {"records": [{"owner_mobile": "+96891234567", "expiry": "2027-01-20", "asked": asked}]}
            return self._send(200, json.dumps(body).encode())
        if url.path == "/changes":
            after = query["after"][0]
            body = {"records": [{"application": "EV2026123456", "status": "approved"}] if after == "c1" else [],
                    "cursor": "c2"}
            return self._send(200, json.dumps(body).encode())
        if plate != "12345AB":
            return self._send(404, b"{}")
        body = {"found": True, "owner_mobiles": ["+96891234567"], "fields": {"plate": "12345 AB"},
                "records": [{"date": "03/10/2026", "place_en": "Ibri", "place_ar": "عبري", "amount": "15.000"},
                            {"date": "04/10/2026", "place_en": "Sur", "place_ar": "صور", "amount": 50}]}
        return self._send(200, json.dumps(body).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def http_source():
    server = ThreadingHTTPServer(("127.0.0.1", 0), TrafficApi)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield DataSource.objects.create(
            name="traffic-http", kind="http", url=f"http://127.0.0.1:{server.server_address[1]}/api",
            timeout_seconds="0.5",
            queries={"violations_by_plate": "/violations?plate={number}{letters}",
                     "slow": "/slow?plate={number}{letters}", "fail": "/fail", "garbage": "/garbage"})
    finally:
        server.shutdown()
        server.server_close()


def test_http_answers_the_owner(http_source, ask, caplog):
    caplog.set_level("INFO")
    use_source(http_source)
    assert ask(AHMED, "FINES 12345 AB").splitlines() == [
        "Vehicle 12345 AB: 2 unpaid fine(s), total 65.000 OMR:",
        "1) 03/10/2026 Ibri 15.000 OMR",
        "2) 04/10/2026 Sur 50.000 OMR",
    ]
    neutral = ask(STRANGER, "FINES 12345 AB")
    assert neutral.startswith("No information can be sent") and ask(AHMED, "FINES 777 HH") == neutral
    assert not any("12345" in r.getMessage() for r in caplog.records)  # no identifiers in logs (httpx URLs)


@pytest.mark.parametrize("query", ["slow", "fail", "garbage"])
def test_http_timeout_and_errors_are_busy(http_source, ask, query, caplog):
    use_source(http_source, query)
    assert ask(AHMED, "FINES 12345 AB") == BUSY
    assert Exchange.objects.get().result == "busy"
    assert any("ALERT data source traffic-http unavailable" in r.getMessage() for r in caplog.records)


def test_http_connection_refused_is_busy(http_source):
    http_source.url = "http://127.0.0.1:9/api"  # discard port: nothing listens
    with pytest.raises(SourceUnavailable):
        connector_for(http_source).lookup("violations_by_plate", {"number": "1", "letters": "A"})


# --- the alert-rule side of the interface: expiring records and change feeds -------------------------


def test_demo_expiring_and_changes(registry):
    from datetime import timedelta

    from django.utils import timezone

    from ropsms.eservices.models import VisaApplication

    demo = connector_for(DataSource.objects.get(name="demo"))
    today = timezone.localdate()
    soon = demo.expiring("driving_licence", today, today + timedelta(days=30))
    assert [(r["owner_mobile"], r["expiry"]) for r in soon] == [("+96891234567", today + timedelta(days=25))]
    assert [r["owner_mobile"] for r in demo.expiring("vehicle_registration", today - timedelta(days=30), today)] == [
        "+96892345678"]
    rows, cursor = demo.changes("visa_application", "")
    assert [r["application"] for r in rows] == ["EV2026123456"] and cursor
    assert demo.changes("visa_application", cursor) == ([], cursor)
    app = VisaApplication.objects.get(number="EV2026123456")
    app.status, app.updated_on = "approved", today
    app.save()
    rows, cursor2 = demo.changes("visa_application", cursor)
    assert [(r["application"], r["status"]) for r in rows] == [("EV2026123456", "approved")] and cursor2 != cursor
    with pytest.raises(SourceUnavailable):
        demo.expiring("unicorns", today, today)


def test_sql_expiring_and_changes(sqlite_source, tmp_path):
    from datetime import date

    path = sqlite_source.url.split("://", 1)[1][1:]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE licences (owner_mobile TEXT, expiry TEXT)")
        conn.executemany("INSERT INTO licences VALUES (?, ?)", [("91234567", "2027-01-10"), ("92345678", "2027-03-01")])
        conn.execute("CREATE TABLE apps (seq INTEGER, number TEXT, status TEXT)")
        conn.executemany("INSERT INTO apps VALUES (?, ?, ?)", [(1, "EV1", "received"), (2, "EV2", "approved")])
    sqlite_source.queries = {
        "expiring:driving_licence": "SELECT owner_mobile, expiry FROM licences WHERE expiry BETWEEN :start AND :end",
        "changes:visa_application": "SELECT CAST(seq AS TEXT) AS cursor, number, status FROM apps "
                                    "WHERE seq > CAST(:cursor AS INTEGER) ORDER BY seq",
    }
    source = connector_for(sqlite_source)
    assert source.expiring("driving_licence", date(2027, 1, 1), date(2027, 1, 31)) == [
        {"owner_mobile": "91234567", "expiry": "2027-01-10"}]
    rows, cursor = source.changes("visa_application", "0")
    assert [r["number"] for r in rows] == ["EV1", "EV2"] and cursor == "2"
    assert source.changes("visa_application", cursor) == ([], "2")
    with pytest.raises(SourceUnavailable):
        source.expiring("passport", date(2027, 1, 1), date(2027, 1, 31))


def test_http_expiring_and_changes(http_source):
    from datetime import date

    http_source.queries = {"expiring:passport": "/expiring?from={start}&to={end}",
                           "changes:visa_application": "/changes?after={cursor}"}
    source = connector_for(http_source)
    assert source.expiring("passport", date(2027, 1, 1), date(2027, 1, 31)) == [
        {"owner_mobile": "+96891234567", "expiry": "2027-01-20", "asked": "2027-01-01..2027-01-31"}]
    assert source.changes("visa_application", "c1") == ([{"application": "EV2026123456", "status": "approved"}], "c2")
