"""The integrator's walk-through, end to end, as the README tells it: in Debian's Chromium the admin
creates an API client (the only thing made by hand) and copies the key shown once; /api/docs renders
offline (every request outside this origin is blocked); a message is sent over HTTP; a signed delivery
callback arrives at a local receiver after the real gateway delivered it to the SMSC simulator.
Processes (web, gateway, scheduler, SMSC simulator) run on free ports sharing a temporary SQLite file."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from ropsms.api.callbacks import verify
from ropsms.ops.testing import CHROMIUM, CHROMIUM_ARGS, process_stack, require_chromium, stack_env, wait_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require_chromium()
    tmp = tmp_path_factory.mktemp("api-walkthrough")
    env = stack_env(tmp, ROPSMS_CALLBACK_ALLOW_NETWORKS="127.0.0.1/32")  # the receiver is on this host
    web = env["ROPSMS_WEB_PORT"]
    processes = {"smsc_sim": [], "gateway": [], "scheduler": [], "web": ["--port", web]}
    with process_stack(tmp, env, processes):
        wait_http(f"http://127.0.0.1:{web}/api/v1/health")
        admin = (tmp / "demo-login.txt").read_text().split()
        yield {"base": f"http://127.0.0.1:{web}", "admin": admin, "tmp": tmp}


class Receiver:
    def __init__(self):
        self.got: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.got.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms-callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_integrator_walkthrough(stack):
    from playwright.sync_api import sync_playwright

    base = stack["base"]
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        ctx = browser.new_context()
        blocked: list[str] = []

        def offline(route):
            if route.request.url.startswith(base):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        ctx.route("**/*", offline)
        page = ctx.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        # 1. The docs, with the internet switched off.
        page.goto(base + "/api/docs")
        page.wait_for_selector('.opblock-summary-path[data-path="/api/v1/messages"]', timeout=30_000)
        assert page.locator(".opblock").count() >= 8
        assert page.locator("button.authorize").count() == 1

        # 2. The admin: create the client, copy the key and the webhook secret shown once.
        page.goto(base + "/admin/login/?next=/admin/api/apiclient/add/")
        page.fill("#id_username", stack["admin"][0])
        page.fill("#id_password", stack["admin"][1])
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/api/apiclient/add/")
        page.locator("#id_name").press_sequentially("eVisa")  # the username (slug) fills itself in
        assert page.input_value("#id_slug") == "evisa"
        page.fill("#id_scopes", "send,batch,events,read")
        page.click("input[name=_save]")
        page.wait_for_load_state()
        if page.locator("#api-key-evisa").count() == 0:
            pytest.fail(f"no key page at {page.url}: {page.locator('#content').inner_text()[:1500]}")
        key = page.locator("#api-key-evisa").inner_text().strip()
        secret = page.locator("#webhook-secret-evisa").inner_text().strip()
        assert key.startswith("rop_") and secret.startswith("whsec_")

        # 3. Back in the docs: Authorize with the key and try GET /messages from the page itself.
        page.goto(base + "/api/docs")
        page.click("button.authorize")
        page.fill(".auth-container input", key)
        page.click(".auth-btn-wrapper button.authorize")
        page.click("button.btn-done")
        page.click('.opblock-summary-path[data-path="/api/v1/messages"] >> xpath=ancestor::div[contains(@class,'
                   '"opblock-get")][1]//button[contains(@class,"opblock-summary-control")]')
        page.click(".opblock.is-open button.try-out__btn")
        page.click(".opblock.is-open button.execute")
        status = page.locator(".opblock.is-open .live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=30_000)
        assert status.inner_text().strip().startswith("200")
        browser.close()
    assert not blocked, blocked
    assert not errors, errors

    # 4. Send a message the way the README's curl does, with a callback URL.
    receiver = Receiver()
    try:
        r = httpx.post(base + "/api/v1/messages", headers={"Authorization": f"Bearer {key}"},
                       json={"to": "+968 9123 4567", "text": "Your visa application V2026-0001 has been approved.",
                             "client_ref": "V2026-0001", "callback_url": receiver.url}, timeout=30)
        assert r.status_code == 201, r.text
        message_id = r.json()["id"]

        # 5. The gateway delivers it to the simulator; the signed callback arrives.
        for _ in range(600):
            if receiver.got:
                break
            time.sleep(0.1)
        assert receiver.got, "no callback arrived within 60 s"
        headers, body = receiver.got[0]
        assert verify(secret, headers["X-Ropsms-Timestamp"], body, headers["X-Ropsms-Signature"])
        payload = json.loads(body)
        assert payload["id"] == message_id and payload["state"] == "delivered"
        assert payload["client_ref"] == "V2026-0001"
    finally:
        receiver.server.shutdown()
