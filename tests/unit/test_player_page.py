"""The playback page plays a recording in a real browser, before the service's playback routes
exist: Debian's Chromium (tests/browser.py, the network cut but for 127.0.0.1) opens
`/player/{id}` served by the real `player_router()` in a real Litestar app under uvicorn, beside
stand-ins of the playback routes (this file's own) that serve an HLS playlist made here over a
fragmented MP4 of `tests/media.py` (each second one colour; H.264 and Opus).

What the page must do: play, seek (the picture is the second sought), change speed, show the
wall-clock time, follow a live (`EVENT`) playlist that grows while it plays, and say clearly why
it cannot play: a link that expired (401 from the summary or the playlist), a session that is
not playable (the summary's reason), one that does not exist (404), a network failure. Also:
the page's and the assets' headers, the page's place in the OpenAPI document, and that the
vendored files are the ones `player_assets/README.md` names.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from litestar import Litestar, Request, Response, get
from litestar.exceptions import (
    ClientException,
    NotAuthorizedException,
    NotFoundException,
)
from litestar.params import FromPath, FromQuery
from litestar.router import Router

from lucid_sessions.adapters.http.errors import RangeNotSatisfiableException, exception_handlers
from lucid_sessions.adapters.http.openapi_document import complete_document, public_operations
from lucid_sessions.adapters.http.player import (
    ASSETS,
    CONTENT_SECURITY_POLICY,
    HLS_JS,
    HLS_JS_VERSION,
    player_router,
)
from lucid_sessions.adapters.http.ranges import Unsatisfiable, parse_range
from tests.browser import (
    chromium,
    console_of,
    evaluate,
    open_page,
    requests_of,
    video_colour,
    wait_until,
)
from tests.media import colour_at, fragmented_mp4, nearest_colour

pytestmark = pytest.mark.e2e

GOOD = "good"
SECONDS = 20
TARGET = 2  # seconds: the target duration (the recording has a keyframe and a fragment every 2 s)
STARTED_AT = "2025-03-01T10:00:00Z"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


# -- an HLS playlist over a fragmented MP4 ------------------------------------------------------


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes between `start` and `end`: (type, offset, size)."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        elif size == 0:
            size = end - at
        assert size >= header, f"a {kind!r} box of {size} bytes at {at}"
        yield kind, at, size
        at += size


def _child(data: bytes, offset: int, size: int, kind: bytes) -> tuple[int, int]:
    for found, at, length in _boxes(data, offset + 8, offset + size):
        if found == kind:
            return at, length
    raise AssertionError(f"no {kind!r} box")


@dataclass(frozen=True)
class Segment:
    offset: int
    length: int
    start: float
    duration: float


def segments_of(data: bytes, seconds: float, target: float = TARGET) -> tuple[int, list[Segment]]:
    """The init segment's length (`ftyp` + `moov`) and the media segments of a fragmented MP4
    `seconds` long: each `moof` + `mdat` pair is a fragment, starting at its first track's
    `tfdt` (in that track's `mdhd` timescale); consecutive fragments are grouped until a
    segment lasts `target` seconds (the recordings here have 2-s fragments: one fragment a
    segment)."""
    top = list(_boxes(data, 0, len(data)))
    moov = next((at, size) for kind, at, size in top if kind == b"moov")
    trak = _child(data, *moov, b"trak")
    mdhd = _child(data, *_child(data, *trak, b"mdia"), b"mdhd")
    version = data[mdhd[0] + 8]
    timescale_at = mdhd[0] + 8 + 4 + (16 if version == 1 else 8)
    (timescale,) = struct.unpack_from(">I", data, timescale_at)
    init_length = next(at for kind, at, _ in top if kind == b"moof")
    fragments: list[tuple[int, int, float]] = []  # offset, length, start
    for index, (kind, at, size) in enumerate(top):
        if kind != b"moof":
            continue
        mdat_kind, mdat_at, mdat_size = top[index + 1]
        assert mdat_kind == b"mdat"
        assert mdat_at == at + size
        tfdt = _child(data, *_child(data, at, size, b"traf"), b"tfdt")
        wide = data[tfdt[0] + 8] == 1
        (decode_time,) = struct.unpack_from(">Q" if wide else ">I", data, tfdt[0] + 12)
        fragments.append((at, size + mdat_size, decode_time / timescale))
    ends = [start for _, _, start in fragments[1:]] + [float(seconds)]
    segments: list[Segment] = []
    group: list[tuple[int, int, float, float]] = []
    for (at, length, start), end in zip(fragments, ends, strict=True):
        group.append((at, length, start, end))
        if end - group[0][2] >= target - 0.01 or end == ends[-1]:
            first, last = group[0], group[-1]
            offset = first[0]
            segments.append(Segment(offset, last[0] + last[1] - offset, first[2], end - first[2]))
            group = []
    return init_length, segments


def media_playlist(
    init_length: int,
    segments: list[Segment],
    *,
    started_at: str,
    token: str,
    ended: bool,
) -> str:
    """An HLS media playlist v7 over `recording.mp4`: EXT-X-MAP and one EXT-X-BYTERANGE per
    segment, each with its EXT-X-PROGRAM-DATE-TIME; `EVENT` without ENDLIST while not
    `ended`."""
    start = datetime.fromisoformat(started_at)
    uri = f"recording.mp4?access_token={token}"
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        # each EXTINF rounded to the nearest integer at most (RFC 8216 4.3.3.1): 2.0065 is 2
        f"#EXT-X-TARGETDURATION:{max(round(s.duration) for s in segments)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        f"#EXT-X-PLAYLIST-TYPE:{'VOD' if ended else 'EVENT'}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-MAP:URI="{uri}",BYTERANGE="{init_length}@0"',
    ]
    for segment in segments:
        wall = start + timedelta(seconds=segment.start)
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{wall.isoformat(timespec='milliseconds')}",
            f"#EXTINF:{segment.duration:.3f},",
            f"#EXT-X-BYTERANGE:{segment.length}@{segment.offset}",
            uri,
        ]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


# -- stand-ins of the playback routes -------------------------------------------------------------


@dataclass
class Recording:
    """What the stand-in playback routes serve for one session."""

    data: bytes
    init_length: int
    segments: list[Segment]
    started_at: str = STARTED_AT
    summary_started_at: str | None = STARTED_AT
    playable: bool = True
    reason: str | None = None
    live: bool = False
    listed: int = 0
    """How many segments the playlist lists (all of them once the session is not live)."""
    playlist_refuses: bool = False
    """The playlist answers 401 although the summary accepted the token."""
    fetched: list[str] = field(default_factory=list)

    def visible(self) -> list[Segment]:
        return self.segments if not self.live else self.segments[: self.listed]


def playback_routes(sessions: dict[str, Recording]) -> Router:
    """`/api/v1/sessions/{id}/playback`, `.../index.m3u8` and `.../recording.mp4`, as the
    contract says, over `sessions`; each checks `access_token == "good"` (401 otherwise)."""

    def find(session_id: str, access_token: str | None) -> Recording:
        if access_token != GOOD:
            raise NotAuthorizedException(detail="the playback link has expired or is not valid")
        recording = sessions.get(session_id)
        if recording is None:
            raise NotFoundException(detail=f"session {session_id} not found")
        return recording

    @get("/{session_id:str}/playback", sync_to_thread=False)
    def summary(
        session_id: FromPath[str], access_token: FromQuery[str | None] = None
    ) -> dict[str, Any]:
        recording = find(session_id, access_token)
        recording.fetched.append("summary")
        visible = recording.visible() if recording.playable else []
        return {
            "session_id": session_id,
            "playable": recording.playable,
            "reason": recording.reason,
            "container": "fmp4",
            "codecs": ["avc1.42c00d", "opus"] if recording.playable else [],
            "duration_seconds": sum(s.duration for s in visible),
            "segments": len(visible),
            "live": recording.live,
            "started_at": recording.summary_started_at,
        }

    @get("/{session_id:str}/playback/index.m3u8", sync_to_thread=False)
    def playlist(
        session_id: FromPath[str], access_token: FromQuery[str | None] = None
    ) -> Response[str]:
        recording = find(session_id, access_token)
        recording.fetched.append("playlist")
        if recording.playlist_refuses:
            raise NotAuthorizedException(detail="the playback link has expired")
        if not recording.playable:
            raise ClientException(status_code=409, detail=recording.reason or "not playable")
        text = media_playlist(
            recording.init_length,
            recording.visible(),
            started_at=recording.started_at,
            token=GOOD,
            ended=not recording.live,
        )
        return Response(
            text, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "no-cache, no-store"}
        )

    @get("/{session_id:str}/playback/recording.mp4", sync_to_thread=False)
    def recording_bytes(
        session_id: FromPath[str],
        request: Request[Any, Any, Any],
        access_token: FromQuery[str | None] = None,
    ) -> Response[bytes]:
        recording = find(session_id, access_token)
        recording.fetched.append("media")
        total = len(recording.data)
        try:
            wanted = parse_range(request.headers.get("range"), total)
        except Unsatisfiable:
            raise RangeNotSatisfiableException(
                headers={"Content-Range": f"bytes */{total}"}
            ) from None
        headers = {"Accept-Ranges": "bytes"}
        if wanted is None:
            return Response(recording.data, media_type="video/mp4", headers=headers)
        headers["Content-Range"] = wanted.content_range(total)
        part = recording.data[wanted.start : wanted.end + 1]
        return Response(part, media_type="video/mp4", status_code=206, headers=headers)

    return Router(path="/api/v1/sessions", route_handlers=[summary, playlist, recording_bytes])


def make_app(sessions: dict[str, Recording]) -> Litestar:
    """The player's router as the service has it, the stand-ins beside it, and the service's
    error answers (`{"status_code", "detail"}`)."""
    return Litestar(
        route_handlers=[player_router(), playback_routes(sessions)],
        exception_handlers=exception_handlers(),
        logging_config=None,
        debug=False,
    )


@dataclass
class Served:
    url: str
    sessions: dict[str, Recording]
    app: Litestar


@pytest.fixture(scope="module")
def recording() -> Recording:
    data = fragmented_mp4(SECONDS, audio=True)
    init_length, segments = segments_of(data, SECONDS)
    assert len(segments) == SECONDS // TARGET
    assert [s.start for s in segments] == pytest.approx([TARGET * i for i in range(10)], abs=0.05)
    return Recording(data, init_length, segments)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The app under uvicorn on a free 127.0.0.1 port, in a thread."""
    sessions: dict[str, Recording] = {}
    app = make_app(sessions)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", sessions, app)
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium") / "profile") as context:
        yield context


def add(served: Served, session_id: str, recording: Recording, **changes: Any) -> Recording:
    copy = Recording(recording.data, recording.init_length, recording.segments, **changes)
    served.sessions[session_id] = copy
    return copy


PLAYER = "window.lucidPlayer"
VIDEO = "document.querySelector('video')"


def state(page: Any) -> str:
    return str(evaluate(page, f"{PLAYER} ? {PLAYER}.state : 'no hook'"))


def rate_over(page: Any, milliseconds: int) -> float:
    """Media seconds per wall-clock second while the video plays, measured in the page."""
    return float(
        evaluate(
            page,
            """async (milliseconds) => {
                const video = document.querySelector('video');
                const media = video.currentTime, wall = performance.now();
                await new Promise((done) => setTimeout(done, milliseconds));
                return (video.currentTime - media) / ((performance.now() - wall) / 1000);
            }""",
            milliseconds,
        )
    )


def assert_clean(page: Any, url: str) -> None:
    """The page loaded nothing but from the service (and its own blob: media), sent the token
    on every playback request, broke no Content-Security-Policy and threw nothing."""
    for requested in requests_of(page):
        assert requested.startswith((url, "blob:", "data:")), requested
        if "/playback" in requested:
            assert f"access_token={GOOD}" in requested, requested
    problems = [
        line
        for line in console_of(page)
        if "Content Security Policy" in line or line.startswith("uncaught")
    ]
    assert not problems, problems


def message_of(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = evaluate(
        page,
        """() => ({
            visible: !document.getElementById('message').hidden,
            title: document.getElementById('message-title').textContent,
            detail: document.getElementById('message-detail').textContent,
            state: document.body.dataset.state,
        })""",
    )
    return result


# -- playing --------------------------------------------------------------------------------------


def test_the_page_plays_seeks_and_changes_speed(
    served: Served, recording: Recording, browser: Any
) -> None:
    add(served, "rec-1", recording)
    page = open_page(browser, f"{served.url}/player/rec-1?access_token={GOOD}")
    wait_until(
        page,
        f"{PLAYER} && {PLAYER}.state === 'playing' && {PLAYER}.currentTime() > 0.5",
        timeout=15,
        what="playing",
    )
    assert evaluate(page, "document.body.dataset.state") == "playing"
    # through hls.js and Media Source Extensions (this Chromium has HLS of its own too)
    assert evaluate(page, f"{VIDEO}.currentSrc").startswith("blob:")
    assert evaluate(page, f"{PLAYER}.live") is False
    assert evaluate(page, "document.getElementById('live-badge').hidden") is True
    moved_from = evaluate(page, f"{PLAYER}.currentTime()")
    wait_until(page, f"{PLAYER}.currentTime() > {moved_from} + 0.5", what="time advancing")
    # the Opus track plays too (hls.js's light build passes it through to MSE)
    assert evaluate(page, f"{VIDEO}.webkitAudioDecodedByteCount") > 0
    assert evaluate(page, f"{PLAYER}.duration()") == pytest.approx(SECONDS, abs=0.2)

    # seek: the picture is the second sought (half-way into it, clear of a frame boundary)
    for second in (15, 4):
        evaluate(page, f"{PLAYER}.pause(); {PLAYER}.seek({second}.5)")
        wait_until(
            page,
            f"{VIDEO}.paused && !{VIDEO}.seeking && {VIDEO}.readyState >= 2"
            f" && Math.abs({PLAYER}.currentTime() - {second}.5) < 0.05",
            what=f"seeked to {second}.5 s",
        )
        assert state(page) == "paused"
        assert nearest_colour(video_colour(page)) == colour_at(second), second
    # the time line is in wall-clock time: started_at + media time, with the date
    wait_until(page, "document.getElementById('clock').textContent.includes('10:00:04')")
    clock = evaluate(page, "document.getElementById('clock').textContent")
    assert "1 Mar 2025" in clock, clock
    assert evaluate(page, "document.getElementById('start-clock').textContent").endswith("10:00:00")

    # speed: media time runs about 4 times faster at 4x (key 3) than at 1x
    evaluate(page, f"{PLAYER}.seek(2); {PLAYER}.play()")
    wait_until(page, f"{PLAYER}.state === 'playing'", what="playing again")
    at_1x = rate_over(page, 800)
    page.keyboard.press("3")
    assert evaluate(page, f"{PLAYER}.speed") == 4
    assert evaluate(page, "document.getElementById('speed').value") == "4"
    at_4x = rate_over(page, 800)
    assert 0.6 < at_1x < 1.5, at_1x
    assert at_4x > max(2.5, 2.2 * at_1x), (at_1x, at_4x)

    # keyboard: space pauses, arrows step 10 s (shift: 60 s, within the recording), 1 is 1x
    page.keyboard.press(" ")
    wait_until(page, f"{PLAYER}.state === 'paused'", what="paused by space")
    evaluate(page, f"{PLAYER}.seek(3)")
    page.keyboard.press("ArrowRight")
    assert evaluate(page, f"{PLAYER}.currentTime()") == pytest.approx(13, abs=0.05)
    page.keyboard.press("Shift+ArrowLeft")
    assert evaluate(page, f"{PLAYER}.currentTime()") == 0
    page.keyboard.press("1")
    assert evaluate(page, f"{PLAYER}.speed") == 1
    assert evaluate(page, f"{PLAYER}.error") is None
    assert_clean(page, served.url)
    page.close()


# -- why it cannot play ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("?access_token=bad", "This playback link has expired or is not valid"),
        ("", "This page needs a playback link"),
    ],
)
def test_a_link_that_is_not_valid_says_so(
    served: Served, recording: Recording, browser: Any, query: str, title: str
) -> None:
    add(served, "rec-2", recording)
    page = open_page(browser, f"{served.url}/player/rec-2{query}")
    wait_until(page, f"{PLAYER} && {PLAYER}.state === 'error'", what="the error")
    assert evaluate(page, f"{PLAYER}.errorKind") == "expired"
    shown = message_of(page)
    assert shown == {"visible": True, "title": title, "detail": shown["detail"], "state": "error"}
    assert page.get_by_text(title).is_visible()
    page.close()


def test_a_playlist_refusing_the_link_says_so(
    served: Served, recording: Recording, browser: Any
) -> None:
    refusing = add(served, "rec-3", recording, playlist_refuses=True)
    page = open_page(browser, f"{served.url}/player/rec-3?access_token={GOOD}")
    wait_until(page, f"{PLAYER}.state === 'error'", what="the error")
    assert refusing.fetched[:2] == ["summary", "playlist"]
    assert evaluate(page, f"{PLAYER}.errorKind") == "expired"
    assert message_of(page)["title"] == "This playback link has expired or is not valid"
    page.close()


def test_a_session_that_is_not_playable_shows_the_reason(
    served: Served, recording: Recording, browser: Any
) -> None:
    reason = "the recording is not fragmented MP4 (its moov has no mvex)"
    add(served, "rec-4", recording, playable=False, reason=reason)
    page = open_page(browser, f"{served.url}/player/rec-4?access_token={GOOD}")
    wait_until(page, f"{PLAYER}.state === 'error'", what="the error")
    assert evaluate(page, f"{PLAYER}.errorKind") == "not-playable"
    assert reason in evaluate(page, f"{PLAYER}.error")
    shown = message_of(page)
    assert shown["visible"], shown
    assert shown["detail"] == reason
    assert page.get_by_text(reason).is_visible()
    page.close()


def test_an_unknown_session_is_not_found(served: Served, browser: Any) -> None:
    page = open_page(browser, f"{served.url}/player/no-such-session?access_token={GOOD}")
    wait_until(page, f"{PLAYER}.state === 'error'", what="the error")
    assert evaluate(page, f"{PLAYER}.errorKind") == "not-found"
    assert message_of(page)["title"] == "Session not found"
    page.close()


def test_a_network_failure_says_so(served: Served, recording: Recording, browser: Any) -> None:
    add(served, "rec-5", recording)
    page = browser.new_page()
    page.route("**/playback*", lambda route: route.abort("connectionrefused"))
    page.goto(f"{served.url}/player/rec-5?access_token={GOOD}")
    wait_until(page, f"{PLAYER}.state === 'error'", what="the error")
    assert evaluate(page, f"{PLAYER}.errorKind") == "network"
    shown = message_of(page)
    assert shown["title"] == "Cannot reach the service", shown
    assert evaluate(page, "!document.getElementById('retry').hidden")
    page.close()


# -- live ---------------------------------------------------------------------------------------


def test_a_live_session_is_followed_as_it_grows(
    served: Served, recording: Recording, browser: Any
) -> None:
    """An EVENT playlist of 4 segments; the test appends one every target duration, as a live
    recording grows, and the player must be playing inside each appended segment within 3
    target durations of its appending. Then the session stops (ENDLIST): no more LIVE."""
    live = add(served, "live-1", recording, live=True, listed=4, summary_started_at=None)
    page = open_page(browser, f"{served.url}/player/live-1?access_token={GOOD}")
    wait_until(
        page,
        f"{PLAYER} && {PLAYER}.state === 'playing' && {PLAYER}.live",
        timeout=15,
        what="playing live",
    )
    assert evaluate(page, "document.getElementById('live-badge').hidden") is False
    assert evaluate(page, "document.body.dataset.live") == "true"
    # no started_at in the summary: the wall clock comes from the PROGRAM-DATE-TIME
    assert "10:00:0" in evaluate(page, "document.getElementById('clock').textContent")

    appended: dict[int, float] = {}
    reached: dict[int, float] = {}
    last = 7
    deadline = time.monotonic() + 30
    next_append = time.monotonic()
    while len(reached) < last - 3 and time.monotonic() < deadline:
        now = time.monotonic()
        if live.listed <= last and now >= next_append:
            appended[live.listed] = now
            live.listed += 1
            next_append = now + TARGET
        at = evaluate(page, f"{PLAYER}.currentTime()")
        for index, when in appended.items():
            if index not in reached and at >= recording.segments[index].start:
                reached[index] = time.monotonic() - when
        time.sleep(0.1)
    assert sorted(reached) == list(range(4, last + 1)), (reached, console_of(page)[-20:])
    assert all(delay <= 3 * TARGET for delay in reached.values()), reached
    assert state(page) == "playing"

    # the player keeps up: behind the live edge after a jump back, at it again with L
    evaluate(page, f"{PLAYER}.seek(1)")
    wait_until(page, "document.getElementById('live-badge').classList.contains('behind')")
    page.keyboard.press("l")
    wait_until(
        page,
        f"{PLAYER}.duration() - {PLAYER}.currentTime() < {3 * TARGET}"
        " && !document.getElementById('live-badge').classList.contains('behind')",
        what="back at the live edge",
    )

    live.live = False  # the session stopped: the playlist ends
    wait_until(
        page,
        f"!{PLAYER}.live && document.getElementById('live-badge').hidden",
        timeout=4 * TARGET,
        what="LIVE gone once the playlist ended",
    )
    assert evaluate(page, f"{PLAYER}.duration()") == pytest.approx(SECONDS, abs=0.2)
    assert_clean(page, served.url)
    page.close()


def test_a_link_expiring_while_a_live_session_plays_says_so(
    served: Served, recording: Recording, browser: Any
) -> None:
    live = add(served, "live-3", recording, live=True, listed=4)
    page = open_page(browser, f"{served.url}/player/live-3?access_token={GOOD}")
    wait_until(page, f"{PLAYER} && {PLAYER}.state === 'playing'", timeout=15, what="playing")
    live.playlist_refuses = True  # the next reload of the playlist answers 401
    wait_until(page, f"{PLAYER}.state === 'error'", timeout=5 * TARGET, what="the error")
    assert evaluate(page, f"{PLAYER}.errorKind") == "expired"
    assert message_of(page)["title"] == "This playback link has expired or is not valid"
    page.close()


def test_a_live_session_not_playable_yet_is_waited_for(
    served: Served, recording: Recording, browser: Any
) -> None:
    """Live, but nothing to play yet (no media arrived): the page says why and asks again,
    and plays once the summary says it can."""
    reason = "no media has arrived yet"
    waiting = add(served, "live-2", recording, live=True, listed=3, playable=False, reason=reason)
    page = open_page(browser, f"{served.url}/player/live-2?access_token={GOOD}")
    wait_until(page, f"{PLAYER}.state === 'waiting'", what="waiting")
    shown = message_of(page)
    assert shown["visible"], shown
    assert shown["detail"] == reason
    assert evaluate(page, f"{PLAYER}.error") is None
    assert evaluate(page, f"{PLAYER}.live")
    waiting.playable, waiting.reason = True, None
    wait_until(page, f"{PLAYER}.state === 'playing'", timeout=10, what="playing once playable")
    assert not message_of(page)["visible"]
    assert waiting.fetched.count("summary") >= 2
    page.close()


# -- the routes themselves ----------------------------------------------------------------------


def test_the_page_is_served_with_its_policy(served: Served) -> None:
    with httpx.Client(base_url=served.url) as http:
        answer = http.get("/player/rec-1")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["referrer-policy"] == "no-referrer"
        policy = answer.headers["content-security-policy"]
        assert policy == CONTENT_SECURITY_POLICY
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["script-src"] == "'self'"
        assert directives["connect-src"] == "'self'"
        assert directives["media-src"] == "'self' blob:"
        assert directives["worker-src"] == "blob:"
        page = answer.text
        assert 'data-session-id="rec-1"' in page
        scripts = re.findall(r"<script\b[^>]*>", page)
        assert len(scripts) == 2, scripts
        assert all(" src=" in tag for tag in scripts), scripts
        assert "</script>" in page
        assert not re.search(r"<script[^>]*>[^<]+</script>", page)
        assert f"/player/assets/{HLS_JS}?v=" in page
        assert "/player/assets/player.js?v=" in page
        assert "$" not in page  # every placeholder filled

        for bad in ("a%20b", "%3Cscript%3E", "x" * 65, "abc%0A"):
            refused = http.get(f"/player/{bad}")
            assert refused.status_code == 400, (bad, refused.text)
            assert refused.json()["status_code"] == 400
            assert "<" not in refused.headers["content-type"]


def test_assets_are_long_cached_with_an_etag(served: Served) -> None:
    with httpx.Client(base_url=served.url) as http:
        for name, media_type in [
            (HLS_JS, "text/javascript"),
            ("player.js", "text/javascript"),
            ("player.css", "text/css"),
            ("LICENSE", "text/plain"),
        ]:
            answer = http.get(f"/player/assets/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["content-type"] == f"{media_type}; charset=utf-8"
            assert answer.content == (ASSETS / name).read_bytes()
            assert "immutable" in answer.headers["cache-control"]
            etag = answer.headers["etag"]
            assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
            again = http.get(f"/player/assets/{name}", headers={"If-None-Match": etag})
            assert again.status_code == 304
            assert again.content == b""
        for missing in ("nope.js", "player.html", "README.md", "..%2Fplayer.py", "%2E%2E"):
            refused = http.get(f"/player/assets/{missing}")
            assert refused.status_code == 404, missing
            assert refused.json()["status_code"] == 404


def test_the_page_is_public_in_the_openapi_document(served: Served) -> None:
    document = served.app.openapi_schema.to_schema()
    assert "/player/{session_id}" in document["paths"]
    assert not [path for path in document["paths"] if path.startswith("/player/assets")]
    operation = document["paths"]["/player/{session_id}"]["get"]
    assert "text/html" in operation["responses"]["200"]["content"]
    assert "400" in operation["responses"]
    public = public_operations(served.app)
    assert ("/player/{session_id}", "get") in public
    complete_document(document, public=public, request_models={})
    assert document["paths"]["/player/{session_id}"]["get"]["security"] == []


def test_the_vendored_files_are_those_the_readme_names() -> None:
    readme = (ASSETS / "README.md").read_text()
    assert f"hls.js **{HLS_JS_VERSION}**" in readme
    assert f"`hls.js@{HLS_JS_VERSION}`" in readme
    digests = dict(re.findall(r"^\| ([\w.]+) \| ([0-9a-f]{64}) \|$", readme, re.MULTILINE))
    assert set(digests) == {HLS_JS, "LICENSE"}
    for name, digest in digests.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert json.dumps(HLS_JS_VERSION) in (ASSETS / HLS_JS).read_text()


def test_the_segments_cover_the_recording(recording: Recording) -> None:
    """The playlist made here is sound: the init segment and the segments tile the file up to
    the `mfra` ffmpeg writes at the end."""
    at = recording.init_length
    for segment in recording.segments:
        assert segment.offset == at
        at += segment.length
    assert recording.data[at + 4 : at + 8] == b"mfra"
    assert sum(s.duration for s in recording.segments) == pytest.approx(SECONDS, abs=0.05)


def test_the_assets_folder_holds_what_is_served() -> None:
    shipped = {path.name for path in Path(ASSETS).iterdir()}
    assert shipped == {HLS_JS, "LICENSE", "README.md", "player.html", "player.js", "player.css"}
