"""The player page on the real service, in headless Chromium with no internet: opened from a
signed link alone, it plays a finished recording, seeks to a minute near its end and shows
that second's colour; and it follows a session while it is recorded, a chunk uploaded while
the page is open playing within three target durations.

Runs on the embedded store and on MongoDB + Redis + S3 (the middle stack adds nothing here);
following a live session, half a minute of real time, on the embedded store only.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import chromium, evaluate, open_page, requests_of, video_colour, wait_until
from tests.e2e.http import BASE
from tests.e2e.test_chunks_http import recording
from tests.e2e.test_playback_http import make_link, send, uneven_chunks
from tests.media import colour_at, fragmented_mp4, nearest_colour
from tests.servers import ServiceProcess
from tests.stored_blobs import on_s3

pytestmark = pytest.mark.e2e

PLAYER = "window.lucidPlayer"
VIDEO = "document.querySelector('video')"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


def fragments_of(data: bytes) -> list[tuple[int, int]]:
    """Each moof+mdat's (offset, end) in a recording."""
    at, found = 0, []
    while at + 8 <= len(data):
        size, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        if kind == b"moof":
            found.append((at, at))
        elif kind == b"mdat":
            found[-1] = (found[-1][0], at + size)
        at += size
    return found


def test_a_finished_recording_plays_and_seeks_near_its_end(
    server: ServiceProcess, browser: Any
) -> None:
    data = fragmented_mp4(64)
    with server.client() as http:
        sid = recording(http, name="to watch")
        for seq, piece in enumerate(uneven_chunks(data)):
            send(http, sid, seq, piece)
        assert http.post(f"{BASE}/{sid}/stop").status_code == 200
        link = make_link(http, sid)
    assert link["player_url"].startswith(f"{server.url}/player/{sid}?access_token=")
    page = open_page(browser, link["player_url"])
    try:
        wait_until(
            page,
            f"{PLAYER} && {PLAYER}.state === 'playing' && {PLAYER}.currentTime() > 0.3",
            timeout=20,
            what="playing from the signed link",
        )
        assert evaluate(page, f"{PLAYER}.live") is False
        assert evaluate(page, f"{PLAYER}.duration()") == pytest.approx(64, abs=0.2)
        evaluate(page, f"{PLAYER}.pause(); {PLAYER}.seek(61.5)")
        wait_until(
            page,
            f"{VIDEO}.paused && !{VIDEO}.seeking && {VIDEO}.readyState >= 2"
            f" && Math.abs({PLAYER}.currentTime() - 61.5) < 0.05",
            what="seeked to 61.5 s",
        )
        assert nearest_colour(video_colour(page)) == colour_at(61)
        # the time line is wall-clock time: chunk 0's timestamp (09:30:00) + 61.5 s
        wait_until(page, "document.getElementById('clock').textContent.includes('09:31:01')")
        for requested in requests_of(page):
            assert requested.startswith((server.url, "blob:", "data:")), requested
    finally:
        page.close()


def test_a_session_is_followed_while_it_is_recorded(server: ServiceProcess, browser: Any) -> None:
    if on_s3(server):
        pytest.skip(
            "live follow on the embedded store only (the suite's time budget: half a minute of "
            "real time): where blobs live, test_playback_http.py's live playlist and growing "
            "recording tests cover on every stack"
        )
    data = fragmented_mp4(40)
    fragments = fragments_of(data)
    history = 4  # 8 s recorded before anyone watches
    with server.client() as http:
        sid = recording(http, name="watched live")
        sequence = 0
        for piece in uneven_chunks(data[: fragments[history - 1][1]]):
            send(http, sid, sequence, piece)
            sequence += 1
        link = make_link(http, sid)
        text = httpx.get(link["playlist_url"]).text
    declared = re.search(r"#EXT-X-TARGETDURATION:(\d+)", text)
    assert declared is not None, text
    target = int(declared.group(1))
    uploaded: dict[int, float] = {}
    failed: list[str] = []

    def recorder() -> None:
        """Uploads each later fragment in two chunks as a recorder would: when its two seconds
        have been recorded."""
        nonlocal sequence
        started = time.monotonic()
        with server.client() as http:
            for index in range(history, len(fragments)):
                due = started + 2 * (index - history + 1)
                time.sleep(max(0.0, due - time.monotonic()))
                offset, end = fragments[index]
                middle = (offset + end) // 2
                for piece in (data[offset:middle], data[middle:end]):
                    answer = http.put(
                        f"{BASE}/{sid}/chunks/{sequence}",
                        content=piece,
                        headers={"Content-Type": "application/octet-stream"},
                    )
                    if answer.status_code != 201:
                        failed.append(answer.text)
                        return
                    sequence += 1
                uploaded[index] = time.monotonic()

    page = open_page(browser, link["player_url"])
    thread = threading.Thread(target=recorder, daemon=True)
    try:
        wait_until(
            page,
            f"{PLAYER} && {PLAYER}.state === 'playing' && {PLAYER}.live",
            timeout=20,
            what="playing live",
        )
        assert evaluate(page, "document.getElementById('live-badge').hidden") is False
        thread.start()
        watched = [history + 3, history + 6]  # fragments uploaded after the page opened
        for index in watched:
            wait_until(
                page,
                f"{PLAYER}.currentTime() >= {2 * index}",
                timeout=2 * (index - history + 1) + 3 * target + 5,
                what=f"fragment {index} ({2 * index} s) playing",
            )
            played = time.monotonic()
            assert index in uploaded, f"fragment {index} played before it was uploaded?"
            assert played - uploaded[index] <= 3 * target, (index, played - uploaded[index])
        assert not failed, failed
        # what is on screen is what was recorded then: back half a second into a played second
        moment = int(evaluate(page, f"{PLAYER}.currentTime()")) - 0.5
        evaluate(page, f"{PLAYER}.pause(); {PLAYER}.seek({moment})")
        wait_until(
            page,
            f"{VIDEO}.paused && !{VIDEO}.seeking && {VIDEO}.readyState >= 2"
            f" && Math.abs({PLAYER}.currentTime() - {moment}) < 0.05",
            what=f"seeked to {moment} s",
        )
        assert nearest_colour(video_colour(page)) == colour_at(int(moment)), moment
    finally:
        page.close()
        thread.join(60)
