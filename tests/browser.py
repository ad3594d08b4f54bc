"""Real Chromium for tests: Debian's `/usr/bin/chromium`, headless, driven by Playwright, with
the network cut except 127.0.0.1.

Playwright's Python package (the test extra) drives the browser over the DevTools protocol;
it downloads no browser here: `executable_path` is Debian's binary. `chromium()` starts one
with a fresh profile (`user_data_dir`, a folder the caller gives) and the flags of
`tests/e2e/test_integration.py`'s docs page check: every host name but 127.0.0.1 fails to
resolve and any proxied request goes to a closed port, so a page that loads anything from the
internet fails visibly instead of passing on a developer's machine and failing in CI.

`open_page` records what the page writes to the console, its uncaught errors and the URLs it
requests (`console_of`, `requests_of`); `wait_until` polls a JavaScript condition with a
deadline and, when it is not met, fails naming the condition, with the page's console.
`video_colour` draws a `<video>` onto a canvas and reads its centre pixel, which tells which
second of a `tests/media.py` recording is on screen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from tests.components import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

__all__ = [
    "CHROMIUM",
    "FLAGS",
    "NETWORK_CUT",
    "chromium",
    "console_of",
    "evaluate",
    "open_page",
    "requests_of",
    "video_colour",
    "wait_until",
]

CHROMIUM = "/usr/bin/chromium"

NETWORK_CUT = (
    # every name but 127.0.0.1 fails, and so does any proxy use
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    *NETWORK_CUT,
)

DEFAULT_TIMEOUT = 15.0
"""Seconds any one browser action may take before it fails (Playwright's own default is 30)."""


@dataclass
class _PageLog:
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


_LOGS: WeakKeyDictionary[Any, _PageLog] = WeakKeyDictionary()


@contextmanager
def chromium(
    profile: Path, *, timezone: str = "UTC", locale: str = "en-GB", **options: Any
) -> Iterator[BrowserContext]:
    """Debian's Chromium, headless, on a fresh profile in `profile` (a new, empty folder),
    with the network cut but for 127.0.0.1; pages see `timezone` and `locale`. `options` go to
    Playwright's `launch_persistent_context`."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable("chromium", f"{CHROMIUM} does not exist or cannot be run")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("test-extra", f"the playwright package cannot be imported: {exc}")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=list(FLAGS),
            headless=True,
            timezone_id=timezone,
            locale=locale,
            viewport={"width": 1024, "height": 720},
            **options,
        )
        context.set_default_timeout(DEFAULT_TIMEOUT * 1000)
        try:
            yield context
        finally:
            context.close()


def open_page(context: BrowserContext, url: str) -> Page:
    """A new page of `context` at `url`, loaded (its `load` event fired); what it logs and
    requests is recorded from the start."""
    page = context.new_page()
    log = _LOGS.setdefault(page, _PageLog())
    page.on("console", lambda message: log.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: log.console.append(f"uncaught: {error}"))
    page.on("request", lambda request: log.requests.append(request.url))
    page.goto(url, wait_until="load")
    return page


def console_of(page: Page) -> list[str]:
    """What `page` wrote to its console (`type: text`) and its uncaught errors, so far."""
    log = _LOGS.get(page)
    return [] if log is None else list(log.console)


def requests_of(page: Page) -> list[str]:
    """The URLs `page` requested, so far, in order."""
    log = _LOGS.get(page)
    return [] if log is None else list(log.requests)


def evaluate(page: Page, expression: str, arg: Any = None) -> Any:
    """The value of a JavaScript expression (or of a function called with `arg`) in `page`."""
    return page.evaluate(expression, arg)


def wait_until(page: Page, condition: str, *, timeout: float = 10.0, what: str = "") -> Any:
    """Wait until the JavaScript `condition` (an expression) is truthy in `page`, polling every
    50 ms, and return its value; after `timeout` seconds fail, naming `what` (else the
    condition), with the page's console.

    Polled from here rather than with Playwright's `wait_for_function`, which compiles the
    condition with `new Function` inside the page: a page whose Content-Security-Policy
    forbids `eval` (as it should) refuses that."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout
    problem = ""
    while True:
        try:
            value = page.evaluate(condition)
        except PlaywrightError as exc:  # e.g. while the page navigates; tried again
            value, problem = None, f" (last evaluation failed: {exc.message})"
        if value:
            return value
        if time.monotonic() >= deadline:
            console = "\n".join(console_of(page)[-30:]) or "(nothing)"
            raise AssertionError(
                f"{what or condition} did not happen within {timeout:g} s{problem}; "
                f"the console:\n{console}"
            )
        time.sleep(0.05)


VIDEO_CENTRE = """(selector) => {
    const video = document.querySelector(selector);
    if (!video || !video.videoWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const pixel = context.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
    return [pixel[0], pixel[1], pixel[2]];
}"""


def video_colour(page: Page, selector: str = "video") -> tuple[int, int, int]:
    """The RGB of the centre pixel of the frame the `<video>` at `selector` shows."""
    rgb = page.evaluate(VIDEO_CENTRE, selector)
    if rgb is None:
        raise AssertionError(f"{selector} shows no picture; the console:\n{console_of(page)}")
    red, green, blue = rgb
    return int(red), int(green), int(blue)
