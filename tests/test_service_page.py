"""The web page, end to end in a real headless Chromium (Debian's, driven by Playwright) against a live service."""

import os
import shutil
from pathlib import Path

import pytest
from service_support import LiveServer, make_key

expect = pytest.importorskip("playwright.sync_api").expect

from skyseal.config import ServiceSettings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
OUT = Path(__file__).resolve().parents[1] / "out"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (.ci/run does)")
        pytest.skip("Debian's chromium is not installed here (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def live(generated):
    settings, _ = generated
    with LiveServer(settings.model_copy(update={"service": ServiceSettings(workers=1)})) as server:
        server.key = make_key(server.settings, "generate", "detect")
        yield server


def _open(browser, live, key):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "401" not in msg.text else None)
    page.goto(live.url + "/")
    page.fill("#api-key", key)
    page.dispatch_event("#api-key", "change")
    return page, errors


def test_prompt_to_video_to_verdict_in_the_browser(browser, live):
    page, errors = _open(browser, live, live.key)
    # No empty player before there is a video: the stylesheet's `display` once overrode `hidden`.
    assert page.eval_on_selector("#job-video", "v => getComputedStyle(v).display") == "none"
    page.fill("#prompt", "a small blue ring rising at dusk")
    page.fill("#seed", "21")
    page.click("#generate-btn")
    # The page's CSP forbids eval, so waits use locators rather than JavaScript predicates.
    expect(page.locator("#job-state")).to_have_text("delivered", timeout=180_000)
    assert "watermarked, signed" in page.text_content("#job-message")
    # The state turns "delivered" before the page has fetched the video, so wait for the player.
    expect(page.locator("#job-video")).to_be_visible(timeout=60_000)
    assert page.get_attribute("#job-video", "src").startswith("blob:")
    payload = page.text_content("#job-facts").split("payload", 1)[1][:16]

    page.click("#job-check")
    page.wait_for_selector("#verdict:not([hidden])", timeout=120_000)
    assert page.text_content("#verdict-headline") == "Made here, unchanged"
    assert page.get_attribute("#verdict-banner", "class") == "banner ok"
    assert page.text_content("#card-c2pa .pill") == "signed, trusted issuer"
    assert page.text_content("#card-watermark .pill") == "found" and payload in page.text_content("#card-watermark dl")
    assert page.text_content("#card-ledger .pill") == "exact file on record"
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "service-generate-verdict.png"), full_page=True)
    assert errors == []
    page.close()


def test_dropped_tampered_video_is_laid_out_as_altered(browser, live, generated):
    _, result = generated
    data = bytearray(result.path.read_bytes())
    data[data.index(b"mdat") + 200] ^= 0xFF  # one byte of the picture data changed after signing
    page, errors = _open(browser, live, live.key)
    transfer = page.evaluate_handle(
        "(bytes) => { const dt = new DataTransfer();"
        " dt.items.add(new File([new Uint8Array(bytes)], 'forwarded.mp4', {type: 'video/mp4'})); return dt; }", list(data))
    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
    page.wait_for_selector("#verdict:not([hidden])", timeout=120_000)
    assert page.text_content("#verdict-headline") == "Made here, then altered"
    assert page.get_attribute("#verdict-banner", "class") == "banner bad"
    assert page.text_content("#card-c2pa .pill") == "present but invalid"
    assert "mismatch" in page.text_content("#card-c2pa dl")
    assert "forwarded.mp4" in page.text_content("#verdict-file")
    page.click("#verdict summary")
    reasoning = page.text_content("#verdict-evidence")
    assert "bmffHash.mismatch" in reasoning and "the verdict rests on this" in reasoning
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "service-verdict.png"), full_page=True)
    assert errors == []
    page.close()


def test_a_bad_key_is_said_plainly_on_the_page(browser, live, generated):
    _, result = generated
    page, _ = _open(browser, live, "sks_000000000000_" + "x" * 43)
    page.set_input_files("#file", str(result.path))
    page.wait_for_selector("#error:not([hidden])", timeout=60_000)
    text = page.text_content("#error")
    assert "API key is not valid" in text and result.path.name in text
    assert page.is_hidden("#verdict")
    page.close()


def test_api_docs_render_with_no_network_beyond_the_service(browser, live):
    """/docs is Swagger UI served by the service itself: with every other host unreachable it still
    lists the operations (FastAPI's default page loads its script from a CDN and stays blank)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    elsewhere = []

    def only_the_service(route):
        if route.request.url.startswith(live.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_service)
    page.goto(live.url + "/docs")
    expect(page.locator(".opblock-summary-path", has_text="/v1/moderate/prompt")).to_be_visible(timeout=30_000)
    assert page.locator(".opblock").count() >= 9
    assert elsewhere == []
    page.close()
