"""The page in a real headless chromium against `make_app(FakeHost())`: pick a program,
acknowledge, start, watch the live state, pause and resume, the emergency stop latches and
the page says what to do, reset, start again; two pages see the same state; refusals are
shown beside the button, never dropped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chair.service.api import ErrorCode
from tests.service.browser import DESKTOP, PHONE, Served, chromium_fixture  # noqa: F401
from tests.service.fake_host import FakeHost

expect.set_options(timeout=15_000)


class Refusing(FakeHost):
    """A FakeHost whose conditions include one that means: do not use, with as many
    programs as the real one (only lumbar starts)."""

    def programs(self) -> dict[str, Any]:
        listing = super().programs()
        lumbar = listing["programs"][0]
        others = [dict(lumbar, name=name, title=name.capitalize(),
                       purpose="Another program. " * 12, cautions=["Stop if it hurts more."] * 3)
                  for name in ("feet", "gluteal", "legs", "piriformis")]
        listing["programs"] = [*others[:2], lumbar, *others[2:]]
        listing["conditions"].append({"name": "thrombosis", "text": "a deep vein thrombosis",
                                      "refuse": True, "changes": ""})
        return listing


class Site:
    """A FakeHost behind `make_app`, served; `restart()` drops every connection and serves
    again on the same port."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.host = Refusing(seconds=600.0, period_s=0.05, step_s=1.0)
        self.server = Served(self._app())
        self.url = self.server.url

    def _app(self) -> Any:
        from chair.service.web import make_app
        return make_app(self.host, token=self.token)

    def stop(self) -> None:
        self.server.close()

    def serve_again(self) -> None:
        self.server = Served(self._app(), port=self.server.port)

    def close(self) -> None:
        self.server.close()
        self.host.close()


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    try:
        yield site
    finally:
        site.close()


@pytest.fixture
def served(site) -> tuple[FakeHost, str]:
    return site.host, site.url


@pytest.fixture
def pages(chromium) -> Iterator[Any]:
    """open(url, viewport) -> a connected page; at the end: no script error, no dialog."""
    opened: list[tuple[Page, list[str]]] = []

    def open_page(url: str, viewport: dict[str, int] = PHONE) -> Page:
        page = chromium.new_page(viewport=viewport)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"),
                                          dialog.dismiss()))
        opened.append((page, errors))
        page.goto(url)
        expect(page.locator("#link")).to_have_text("Connected")
        expect(page.locator("input[name=program]:checked")).to_have_count(1)
        return page

    yield open_page
    for page, errors in opened:
        page.close()
        assert errors == [], errors


def start(page: Page) -> None:
    page.check("input[name=program][value=lumbar]")
    page.check("#ack")
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "running")


def press_anyway(page: Page, selector: str) -> None:
    """Press a button the page disabled, as a page whose snapshot is stale would (in one
    task, so that no update disables it again in between)."""
    page.evaluate("(s) => { const b = document.querySelector(s); b.disabled = false; "
                  "b.click(); }", selector)


def progress(page: Page) -> int:
    return int(page.get_attribute("#progress", "aria-valuenow") or 0)


def test_a_session_from_pick_to_stop(served, pages) -> None:
    host, url = served
    page = pages(url)
    expect(page.locator("#programs")).to_contain_text("Lower back: warm and loosen")
    expect(page.locator("#programs")).to_contain_text("Relaxes the lower back.")
    expect(page.locator("#programs")).to_contain_text("Stop if it hurts.")
    expect(page.locator("#flags-urgent")).to_contain_text("sciatica in both legs")
    expect(page.locator("#always")).to_contain_text("Stop at once")
    expect(page.locator("#start")).to_be_disabled()          # not acknowledged yet
    expect(page.locator("#start-hint")).to_contain_text("tick the box")
    page.fill("#minutes", "20")
    page.check("input[name=condition][value=herniated-disc]")
    start(page)
    request = host.calls[-1][1]
    assert (request.program, request.intensity, request.minutes) == ("lumbar", 3, 20)
    assert request.acknowledged is True and request.cautions == ("herniated-disc",)
    expect(page.locator("#step")).to_contain_text("step ")
    expect(page.locator("#left")).to_contain_text("left")
    first = progress(page)
    page.wait_for_function(f"Number(document.querySelector('#progress')"
                           f".getAttribute('aria-valuenow')) > {first}")
    expect(page.locator("#start")).to_be_disabled()
    expect(page.locator("#resume")).to_be_disabled()
    page.click("#pause")
    expect(page.locator("#state")).to_have_attribute("data-state", "paused")
    expect(page.locator("#pause")).to_be_disabled()
    page.click("#resume")
    expect(page.locator("#state")).to_have_attribute("data-state", "running")
    page.click("#stop")
    expect(page.locator("#state")).to_have_attribute("data-state", "idle")
    expect(page.locator("#sessions li[data-id=fake-1]")).to_contain_text("stopped")
    link = page.locator("#sessions li[data-id=fake-1] a").first
    assert link.get_attribute("href") == "sessions/fake-1.jsonl"
    page.click("#sessions li[data-id=fake-1] summary")
    expect(page.locator("#sessions li[data-id=fake-1]")).to_contain_text("No plot")


def test_on_a_desktop_the_live_panel_never_covers_the_session_list(served, pages) -> None:
    _, url = served
    page = pages(url, DESKTOP)
    start(page)
    page.click("#stop")
    expect(page.locator("#state")).to_have_attribute("data-state", "idle")
    page.locator("#history").scroll_into_view_if_needed()
    now, history = (page.locator(name).bounding_box() for name in ("#now", "#history"))
    assert now is not None and history is not None
    assert now["y"] + now["height"] <= history["y"] or now["y"] >= history["y"] + \
        history["height"], f"the live panel {now} covers the session list {history}"
    page.click("#sessions li[data-id=fake-1] summary", timeout=5_000)
    expect(page.locator("#sessions li[data-id=fake-1]")).to_contain_text("No plot")


def test_the_live_state_draws_the_roller_and_the_bags(served, pages) -> None:
    _, url = served
    page = pages(url)
    start(page)
    roller = page.locator("#roller")
    expect(roller).not_to_have_attribute("hidden", "")
    first = roller.get_attribute("transform")
    page.wait_for_function("(t) => document.querySelector('#roller')"
                           ".getAttribute('transform') !== t", arg=first)
    page.wait_for_function("Number(document.querySelector('#bag-lumbar').dataset.kpa) > 0")
    expect(page.locator("#airbags li[data-zone=lumbar]")).to_contain_text("of 20 kPa")
    expect(page.locator("#heat li[data-zone=lumbar]")).to_contain_text("°C")
    expect(page.locator("#roller-text")).to_contain_text("at l4")
    # zones the chair has are drawn, the others not
    expect(page.locator("#bag-shoulders")).to_have_class("bag absent")
    expect(page.locator("#bag-calves")).to_have_class("bag")


def test_the_emergency_stop_latches_then_reset_and_start_again(served, pages) -> None:
    host, url = served
    page = pages(url)
    expect(page.locator("#reset")).to_be_hidden()
    start(page)
    page.click("#estop")                                # no question asked
    expect(page.locator("#state")).to_have_attribute("data-state", "estop")
    expect(page.locator("#state")).to_contain_text("EMERGENCY STOP")
    expect(page.locator("#fault-list")).to_contain_text(
        "What to do: make sure the person is safe, then reset")
    assert [call for call in host.calls if call[0] == "estop"]
    expect(page.locator("#start")).to_be_disabled()
    expect(page.locator("#start-hint")).to_contain_text("reset")
    expect(page.locator("#reset")).to_be_enabled()
    page.click("#reset")
    expect(page.locator("#state")).to_have_attribute("data-state", "idle")
    expect(page.locator("#faults")).to_be_hidden()
    expect(page.locator("#ack")).not_to_be_checked()    # every start is acknowledged anew
    expect(page.locator("#start")).to_be_disabled()
    page.check("#ack")
    page.click("#start")
    expect(page.locator("#state")).to_have_attribute("data-state", "running")


def test_two_pages_see_the_same_state(served, pages) -> None:
    _, url = served
    one, two = pages(url), pages(url, DESKTOP)
    start(one)
    expect(two.locator("#state")).to_have_attribute("data-state", "running")
    expect(two.locator("#start")).to_be_disabled()
    expect(two.locator("#start-hint")).to_contain_text("Start again once this session has ended")
    two.click("#pause")
    expect(one.locator("#state")).to_have_attribute("data-state", "paused")
    one.click("#estop")
    expect(two.locator("#state")).to_have_attribute("data-state", "estop")
    expect(two.locator("#fault-list")).to_contain_text("What to do")


def test_a_page_opened_later_shows_the_program_of_the_session(served, pages) -> None:
    _, url = served
    first = pages(url)
    expect(first.locator("input[name=program]:checked")).to_have_value("feet")
    start(first)
    later = pages(url, DESKTOP)
    expect(later.locator("input[name=program]:checked")).to_have_value("lumbar")
    expect(later.locator("#start")).to_be_disabled()
    expect(later.locator("#ack")).not_to_be_checked()     # each person reads for themselves


def test_a_start_while_running_shows_the_refusal(served, pages) -> None:
    """Two people press start at once: the second page's button was still enabled (its
    snapshot stale); the host's BUSY refusal is shown beside the button."""
    _, url = served
    one, two = pages(url), pages(url)
    two.check("input[name=program][value=lumbar]")
    two.check("#ack")
    start(one)
    press_anyway(two, "#start")
    message = two.locator("#start-msg")
    expect(message).to_contain_text("a session is running: stop it first")
    expect(message).to_contain_text(f"code {int(ErrorCode.BUSY)}")
    expect(message).to_have_attribute("data-kind", "error")


def test_a_refusal_of_the_host_is_shown_not_dropped(served, pages) -> None:
    _, url = served
    page = pages(url)
    start(page)
    page.click("#estop")
    expect(page.locator("#state")).to_have_attribute("data-state", "estop")
    press_anyway(page, "#pause")
    expect(page.locator("#now-msg")).to_contain_text("cannot pause while estop")


def test_a_do_not_use_condition_is_explained_and_blocks_the_start(served, pages) -> None:
    host, url = served
    page = pages(url)
    page.check("#ack")
    expect(page.locator("#start")).to_be_enabled()
    page.check("input[name=condition][value=thrombosis]")
    expect(page.locator("#refusal")).to_contain_text("Do not use the chair with a deep vein")
    expect(page.locator("#start")).to_be_disabled()
    assert not [call for call in host.calls if call[0] == "start"]
    page.uncheck("input[name=condition][value=thrombosis]")
    expect(page.locator("#refusal")).to_be_hidden()
    expect(page.locator("#start")).to_be_enabled()


def test_only_the_chosen_programs_cautions_are_listed(served, pages) -> None:
    """Every program with all its cautions made the phone page about 9,000 px tall: the
    chosen program's cautions are shown (before its start), the others' only once chosen."""
    _, url = served
    page = pages(url, PHONE)
    lumbar = page.locator(".program", has=page.locator("input[value=lumbar]"))
    feet = page.locator(".program", has=page.locator("input[value=feet]"))
    page.check("input[name=program][value=lumbar]")
    expect(lumbar.locator(".cautions")).to_be_visible()
    expect(feet.locator(".cautions")).to_be_hidden()
    expect(feet.locator(".program-title")).to_be_visible()
    page.check("input[name=program][value=feet]")
    expect(feet.locator(".cautions")).to_be_visible()
    expect(lumbar.locator(".cautions")).to_be_hidden()


@pytest.mark.parametrize("viewport", [PHONE, {"width": 360, "height": 740}, DESKTOP])
def test_the_emergency_stop_is_on_screen_at_every_scroll_position(served, pages,
                                                                  viewport) -> None:
    _, url = served
    page = pages(url, viewport)
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height > viewport["height"]                     # there is something to scroll
    for y in (0, height // 2, height):
        page.evaluate(f"window.scrollTo(0, {y})")
        box = page.locator("#estop").bounding_box()
        assert box is not None and box["height"] >= 56 and box["width"] >= 200
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_the_page_says_the_link_dropped_and_reconnects(site, pages) -> None:
    page = pages(site.url)
    site.stop()
    expect(page.locator("#link")).to_contain_text("reconnecting")
    expect(page.locator("#link")).to_have_attribute("data-kind", "error")
    expect(page.locator("#state")).to_contain_text("Not connected: the chair's state is unknown")
    expect(page.locator("#pause")).to_be_disabled()
    page.click("#estop")
    expect(page.locator("#estop-msg")).to_contain_text("Use the chair's own stop button")
    site.serve_again()
    expect(page.locator("#link")).to_have_text("Connected")
    start(page)                                          # and it works again


def test_the_page_carries_the_token_of_its_own_address(pages) -> None:
    site = Site(token="correct-horse")
    try:
        page = pages(site.url + "?token=correct-horse")
        sockets: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        page.reload()
        expect(page.locator("#link")).to_have_text("Connected")
        assert sockets == [site.url.replace("http", "ws") + "websocket?token=correct-horse"]
        start(page)
        page.click("#stop")
        expect(page.locator("#sessions li[data-id=fake-1] a").first).to_have_attribute(
            "href", "sessions/fake-1.jsonl?token=correct-horse")
    finally:
        site.close()
