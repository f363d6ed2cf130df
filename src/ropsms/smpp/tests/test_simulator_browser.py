"""The virtual phones page in Debian's Chromium: conversations, RTL Arabic, sending an MO."""

from __future__ import annotations

import pytest

from ropsms.ops.testing import CHROMIUM, CHROMIUM_ARGS, require_chromium
from ropsms.smpp.simulator import running_simulator
from ropsms.smpp.simulator.testing import TestEsme

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARABIC = "عزيزي المواطن، لديك مخالفة مرورية بقيمة ٢٠ ريال. للاستعلام أرسل مخالفات إلى ٩٠٠٨٥ من هاتفك المسجل لدينا."


@pytest.fixture
def page():
    require_chromium()  # a skip locally, a failure in CI
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1200, "height": 850})
        p = ctx.new_page()
        errors: list[str] = []
        p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        p.on("pageerror", lambda exc: errors.append(str(exc)))
        yield p
        browser.close()
        # a script error or a CSP violation (e.g. an inline script or an external asset) shows up here;
        # HTTP errors the test provokes on purpose (400) are not script errors
        assert not [e for e in errors if not e.startswith("Failed to load resource")], errors


def test_virtual_phones_page(page):
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)  # generous on a loaded 2-core CI machine; not a speed assert
    with running_simulator(receipt_delay=0) as sim:
        async def gateway() -> TestEsme:
            esme = await TestEsme.connect("127.0.0.1", sim.port)
            assert (await esme.bind()).status == 0
            await esme.submit("91234567", ARABIC)
            await esme.submit("97000000", "Your appointment is on Sunday 10:30.")
            return esme

        esme = sim.run(gateway())
        page.goto(f"http://127.0.0.1:{sim.web_port}/")
        expect(page.get_by_role("heading", name="Virtual phones")).to_be_visible()
        expect(page.locator("#link-state")).to_have_text("1 gateway bind(s) connected")
        numbers = page.locator("#number-list button")
        expect(numbers).to_have_count(2)
        page.get_by_role("button", name="96891234567").click()
        bubble = page.locator(".msg.mt .text")
        expect(bubble).to_have_text(ARABIC)  # reassembled from its parts
        assert bubble.evaluate("el => getComputedStyle(el).direction") == "rtl"
        expect(page.locator(".msg.mt .meta")).to_contain_text("2 parts")
        expect(page.locator(".msg.mt .state")).to_have_text("delivered")

        # send an MO as the phone from the form; it reaches the bound gateway and shows as acknowledged
        expect(page.get_by_label("From (phone number)")).to_have_value("96891234567")
        page.get_by_label("Message (Arabic or English)").fill("مخالفات 12345")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#mo-result")).to_contain_text("Sent as 96891234567")
        mo = sim.run(esme.next_pdu("deliver_sm", timeout=15))
        while mo.params["esm_class"] & 0x04:  # skip the receipts of the two submits
            mo = sim.run(esme.next_pdu("deliver_sm", timeout=15))
        assert mo.params["short_message"].decode("utf-16-be") == "مخالفات 12345"
        expect(page.locator(".msg.mo .state")).to_have_text("acked")

        # a failure is shown too, and a bad request gets a clear message
        page.get_by_role("button", name="97000000").click()
        expect(page.locator(".msg.mt .state")).to_have_text("undeliverable")
        page.get_by_label("From (phone number)").fill("no digits")
        page.get_by_label("Message (Arabic or English)").fill("x")
        page.get_by_role("button", name="Send").click()
        expect(page.locator("#mo-result")).to_contain_text("Not sent")
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.reload()
        expect(numbers).to_have_count(2)
        assert all(u.startswith(f"http://127.0.0.1:{sim.web_port}/") for u in requests), requests  # no CDN
        page.close()
        sim.run(esme.close())
