"""End to end in Debian's Chromium: the real web app (uvicorn), gateway and SMSC simulator as
processes on free ports, sharing a temporary SQLite file with the demo data loaded.

Log in, compose to a group and watch the progress bar reach delivered; the approval flow; the
live counter agrees with the server's encoding rules; recruitment upload and a YES reply sent from a
virtual phone; Arabic screenshots saved under test-artifacts/.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from ropsms.messaging.encoding import split
from ropsms.ops.testing import CHROMIUM, CHROMIUM_ARGS, process_stack, require_chromium, stack_env, wait_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(settings.BASE_DIR).parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """migrate + demo-data, then smsc-sim, gateway and web as child processes."""
    require_chromium()
    tmp = tmp_path_factory.mktemp("portal-e2e")
    env = stack_env(tmp, ROPSMS_PORTAL_OTP_REQUIRED="1")
    web, sim_web = env["ROPSMS_WEB_PORT"], env["ROPSMS_SIM_WEB_PORT"]
    with process_stack(tmp, env, {"smsc_sim": [], "gateway": [], "web": ["--port", web]}):
        wait_http(f"http://127.0.0.1:{web}/login/")
        wait_http(f"http://127.0.0.1:{sim_web}/api/health")
        users = {}
        for line in (tmp / "demo-portal-users.txt").read_text().splitlines():
            name, password, *_ = line.split()
            users[name] = password
        admin = (tmp / "demo-login.txt").read_text().split()
        users[admin[0]] = admin[1]
        yield {"base": f"http://127.0.0.1:{web}", "sim": f"http://127.0.0.1:{sim_web}", "users": users, "tmp": tmp}


@pytest.fixture(scope="module")
def browser(stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    p = ctx.new_page()
    errors: list[str] = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    p.errors = errors
    yield p
    ctx.close()
    # A CSP violation or a script error shows up here.
    assert not errors, errors


def login(page, stack, username):
    page.goto(stack["base"] + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", stack["users"][username])
    page.click("button[type=submit].primary")
    page.wait_for_url(lambda url: "/login/" not in url)


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def wait_finished(page):
    page.wait_for_selector('#progress[data-state="finished"]', timeout=90_000)


def test_compose_to_a_group_and_watch_it_delivered(stack, page):
    login(page, stack, "dgo.sender")
    page.click("nav >> text=Compose")
    page.fill("#id_title", "Shift change north")
    page.get_by_label("North patrol shift A (DGO-PAT-N)").check()
    page.fill("#id_text", "{rank} {name}: تم تعديل جدول المناوبة")
    assert page.text_content('#counter [data-c="encoding"]').startswith("UCS-2")
    page.click("button[value=preview]")
    assert "12 recipients" in page.text_content("#preview-h + p")
    shot(page, "portal-compose-en.png")
    page.click("button[value=send]")
    page.wait_for_url("**/broadcasts/*/")
    wait_finished(page)
    assert page.text_content('td[data-count="delivered"]') == "12"
    assert page.get_attribute("#progress-bar", "value") == "12"
    page.reload()
    assert page.locator("#recipients tbody tr").count() == 12
    shot(page, "portal-broadcast-en.png")
    # The same page in Arabic, through the language switcher.
    page.select_option("#lang-select", "ar")
    page.wait_for_selector('html[lang="ar"][dir="rtl"]')
    shot(page, "portal-broadcast-ar.png")
    page.goto(stack["base"] + "/")
    shot(page, "portal-dashboard-ar.png")
    page.goto(stack["base"] + "/compose/")
    page.fill("#id_text", "{rank} {name}: اجتماع طارئ في غرفة العمليات الساعة العاشرة صباحا، "
                          "الحضور إلزامي لجميع الضباط")
    assert page.text_content('#counter [data-c="parts"]') == "2"
    shot(page, "portal-compose-ar.png")
    page.select_option("#lang-select", "en")
    page.wait_for_selector('html[lang="en"]')


def test_live_counter_agrees_with_the_server(stack, page):
    login(page, stack, "north.sender")
    page.goto(stack["base"] + "/compose/")
    table = json.loads(page.text_content("#gsm-table"))
    samples = ["Hello", "x" * 160, "x" * 161, "€" * 80, "€" * 81, "[" * 77 + "a", "سلام " * 14, "سلام " * 15,
               "a" * 152 + "€", "😀" * 35, "😀" * 36, "Ünïcödé ñ ß à", "Line\nbreak {name}", "ç^{}\\[~]|€" * 20]
    for text in samples:
        js = page.evaluate("([t, table]) => window.ropsmsCount(t, table)", [text, table])
        py = split(text)
        assert (js["encoding"], js["parts"], js["units"]) == (py.encoding, len(py.parts), py.units), text
    page.fill("#id_text", "x" * 161)
    assert page.text_content('#counter [data-c="parts"]') == "2"
    # The staff filter narrows the list as you type.
    total = page.locator("#id_staff option").count()
    page.fill("#staff-filter", page.text_content("#id_staff option").split()[0])  # a first name
    visible = page.locator("#id_staff option:not([hidden])").count()
    assert 0 < visible < total


def test_approval_flow(stack, page):
    login(page, stack, "traffic.sender")
    page.goto(stack["base"] + "/compose/")
    page.fill("#id_title", "Road safety training")
    page.get_by_label("Licensing counter staff (DGT-LIC)").check()  # 64 staff > threshold 50
    page.fill("#id_text", "{rank} {name}: training on Sunday 08:00, Hall 1.")
    page.click("button[value=send]")
    page.wait_for_url("**/broadcasts/*/")
    assert "waiting for approval" in page.text_content("#b-status")
    url = page.url
    page.click("header form button:has-text('Log out')")
    login(page, stack, "traffic.approver")
    page.click("nav >> text=Approvals")
    page.click("text=Road safety training")
    assert page.url == url
    page.fill("#id_note", "approved for Sunday")
    page.click("#approve-btn")
    wait_finished(page)
    assert page.text_content('td[data-count="delivered"]') == "64"
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet in portrait
    page.reload()
    shot(page, "portal-report-tablet.png")


def test_recruitment_upload_and_a_yes_reply(stack, page):
    login(page, stack, "hr.recruitment")
    page.click("nav >> text=Recruitment")
    page.click("text=Constable intake 2027")
    csv = "name,mobile,language\nسعيد الهنائي,93000011,ar\nJohn Smith,93000012,en\nNo Number,12,ar\n"
    page.set_input_files("#id_file", files=[{"name": "applicants.csv", "mimeType": "text/csv",
                                             "buffer": csv.encode()}])
    page.click("button[value=upload]")
    assert "2 of 3 rows added" in page.text_content("#upload-report")
    page.click("#invite-btn")
    page.wait_for_selector(".msg.success")
    assert page.text_content('[data-summary="pending"]') == "7"
    # The applicant answers نعم from a virtual phone: simulator -> SMPP MO -> gateway -> interceptor.
    body = json.dumps({"from": "93000011", "text": "نعم"}).encode()
    req = urllib.request.Request(stack["sim"] + "/api/mo", data=body,  # noqa: S310 (our own local simulator)
                                 headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req, timeout=5)  # noqa: S310
    for _ in range(60):  # bounded wait for the MO to travel
        page.reload()
        if page.text_content('[data-summary="confirmed"]') == "1":
            break
        time.sleep(0.5)
    assert page.text_content('[data-summary="confirmed"]') == "1"
    assert "confirmed" in page.text_content('tr[data-mobile="+96893000011"]')
    page.select_option("#lang-select", "ar")
    page.wait_for_selector('html[dir="rtl"]')
    shot(page, "portal-recruitment-ar.png")


def test_system_admin_enrols_two_factor(stack, page):
    from django_otp.oath import TOTP

    login(page, stack, "admin")
    assert "/account/two-factor/" in page.url
    assert page.locator(".qr svg").count() == 1
    secret = page.text_content("#otp-secret")
    import base64

    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("#id_token", f"{TOTP(key).token():06d}")
    page.click("button[type=submit].primary")
    page.wait_for_selector("h1:has-text('Dashboard')")
    shot(page, "portal-dashboard-en.png")
    # The Django admin works under the same Content-Security-Policy (no console errors).
    page.goto(stack["base"] + "/admin/auth/user/")
    page.click("text=dgo.sender")
    page.wait_for_selector("#user_form")
    page.goto(stack["base"] + "/audit/")
    assert "user.login" in page.text_content("#audit")


def teardown_module(module):
    shutil.rmtree(ARTIFACTS / "tmp", ignore_errors=True)
