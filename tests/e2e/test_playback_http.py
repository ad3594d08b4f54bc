"""Playback over HTTP, as a person would watch: a fragmented-MP4 recording (H.264, a keyframe
every 2 s, each second one known colour) uploaded in uneven chunks that split its boxes;
its summary, its live and finished playlists, ffmpeg (PyAV) playing and seeking through the
playlist with a bearer token and through a signed link with none, clips, links that must
fail, and an index that survives a restart and a SIGKILL between chunks.

Runs on the embedded store and on MongoDB + Redis + S3 (the middle stack adds nothing here).
"""

from __future__ import annotations

import io
import itertools
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import av
import httpx
import pytest

from tests.e2e.conftest import own_database, uses_token
from tests.e2e.http import BASE, eventually
from tests.e2e.test_chunks_http import noise, recording, session, upload
from tests.media import colour_at, fragmented_mp4, nearest_colour, progressive_mp4
from tests.servers import ADMIN_TOKEN, ALICE_TOKEN, BOB_TOKEN, ServiceProcess

pytestmark = pytest.mark.e2e

SECONDS = 24
START = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


def video() -> bytes:
    return fragmented_mp4(SECONDS)


def uneven_chunks(data: bytes) -> list[bytes]:
    """`data` in chunks of uneven sizes, some of a few bytes (they split box headers), most
    a few kilobytes (they split moof, mdat and moov anywhere)."""
    sizes = [5, 3000, 7, 1, 12_000, 40, 2, 25_000, 9000, 3]
    pieces, at, turn = [], 0, 0
    while at < len(data):
        size = sizes[turn % len(sizes)]
        pieces.append(data[at : at + size])
        at, turn = at + size, turn + 1
    return pieces


def send(http: httpx.Client, sid: str, seq: int, piece: bytes) -> dict[str, Any]:
    stamp = (START + timedelta(milliseconds=seq)).isoformat().replace("+00:00", "Z")
    return upload(http, sid, seq, piece, {"X-Chunk-Timestamp": stamp})


def summary(http: httpx.Client, sid: str, **params: str) -> dict[str, Any]:
    answer = http.get(f"{BASE}/{sid}/playback", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def playlist(http: httpx.Client, sid: str, **params: str) -> str:
    answer = http.get(f"{BASE}/{sid}/playback/index.m3u8", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(PLAYLIST_TYPE)
    return answer.text


def segment_lines(text: str) -> list[str]:
    """The lines that describe media segments (what RFC 8216 6.2.1 forbids changing)."""
    return [
        line
        for line in text.splitlines()
        if line.startswith(("#EXTINF", "#EXT-X-BYTERANGE", "#EXT-X-PROGRAM-DATE-TIME"))
    ]


def byte_ranges(text: str) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """(the init segment's (offset, length), every segment's (offset, length))."""
    init = re.search(r'#EXT-X-MAP:URI="[^"]+",BYTERANGE="(\d+)@(\d+)"', text)
    assert init is not None, text
    segments = [
        (int(offset), int(length))
        for length, offset in re.findall(r"#EXT-X-BYTERANGE:(\d+)@(\d+)", text)
    ]
    return (int(init.group(2)), int(init.group(1))), segments


def last_fragment_end(data: bytes) -> int:
    """Where the last moof+mdat of `data` ends (an mfra may follow it)."""
    at, end = 0, 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8]
        if kind == b"mdat":
            end = at + size
        at += size
    return end


@pytest.fixture(scope="module")
def watched(server: ServiceProcess) -> Iterator[dict[str, Any]]:
    """A recording uploaded chunk by chunk while its playlist was read after every chunk;
    then stopped. What was seen on the way, for the tests below."""
    data = video()
    seen: list[str] = []
    summaries: list[dict[str, Any]] = []
    with server.client() as http:
        sid = recording(http, name="watched", recording_config={"compression": "zstd"})
        answers = []
        for seq, piece in enumerate(uneven_chunks(data)):
            answers.append(send(http, sid, seq, piece))
            if seq % 3 == 0:
                found = summary(http, sid)
                summaries.append(found)
                if found["playable"]:
                    seen.append(playlist(http, sid))
        live = playlist(http, sid)
        growing = http.get(
            f"{BASE}/{sid}/playback/recording.mp4", headers={"Range": "bytes=0-9"}
        ).headers["cache-control"]
        assert http.post(f"{BASE}/{sid}/stop").status_code == 200
        finished = playlist(http, sid)
        yield {
            "sid": sid,
            "data": data,
            "seen": [*seen, live],
            "summaries": summaries,
            "finished": finished,
            "answers": answers,
            "growing_cache_control": growing,
        }


def test_the_summary_says_playable_live_then_finished(
    server: ServiceProcess, watched: dict[str, Any]
) -> None:
    first = watched["summaries"][0]
    assert first["playable"] is False  # five bytes: not even the ftyp yet
    assert first["reason"]
    playable = [s for s in watched["summaries"] if s["playable"]]
    assert playable, watched["summaries"]
    assert all(s["live"] for s in watched["summaries"])
    with server.client() as http:
        final = summary(http, watched["sid"])
    assert final["playable"] is True
    assert final["reason"] is None
    assert final["live"] is False
    assert final["container"] == "fmp4"
    (codec,) = final["codecs"]
    assert re.fullmatch(r"avc1\.[0-9a-f]{6}", codec), codec
    assert final["duration_seconds"] == pytest.approx(SECONDS, abs=0.05)
    assert final["segments"] == SECONDS // 2
    assert final["started_at"].startswith("2026-12-01T09:30:00")


def test_the_live_playlist_only_grows(watched: dict[str, Any]) -> None:
    seen = watched["seen"]
    assert len(seen) >= 3
    for text in seen:
        assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text
        assert "#EXT-X-ENDLIST" not in text
        assert "#EXT-X-VERSION:7" in text
    for earlier, later in itertools.pairwise(seen):
        old, new = segment_lines(earlier), segment_lines(later)
        assert new[: len(old)] == old, "a listed segment changed"
    assert len(segment_lines(seen[-1])) > len(segment_lines(seen[0]))


def test_the_finished_playlist_covers_the_recording_to_the_byte(watched: dict[str, Any]) -> None:
    text, data = watched["finished"], watched["data"]
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    live = segment_lines(watched["seen"][-1])
    assert segment_lines(text)[: len(live)] == live, "the end only appends"
    (init_offset, init_length), segments = byte_ranges(text)
    assert init_offset == 0
    at = init_length
    for offset, length in segments:
        assert offset == at, "segments follow one another"
        at += length
    assert at == last_fragment_end(data)
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T09:30:00.000Z" in text
    durations = [float(d) for d in re.findall(r"#EXTINF:([0-9.]+),", text)]
    assert len(durations) == SECONDS // 2
    assert all(1.9 < d <= 6 for d in durations)
    assert sum(durations) == pytest.approx(SECONDS, abs=0.05)


def test_video_chunks_skip_the_compressor(watched: dict[str, Any]) -> None:
    """zstd cannot shrink H.264: once the init segment is read, chunks are not compressed."""
    answers = watched["answers"]
    assert answers[-1]["processing_info"]["compression"] == "none"
    late = [a["processing_info"]["compression"] for a in answers[len(answers) // 2 :]]
    assert set(late) == {"none"}


def test_the_recording_mp4_is_the_uploaded_bytes(
    server: ServiceProcess, watched: dict[str, Any]
) -> None:
    with server.client() as http:
        whole = http.get(f"{BASE}/{watched['sid']}/playback/recording.mp4")
        assert whole.status_code == 200
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.content == watched["data"]
        part = http.get(
            f"{BASE}/{watched['sid']}/playback/recording.mp4", headers={"Range": "bytes=100-199"}
        )
        assert part.status_code == 206
        assert part.content == watched["data"][100:200]
        # A browser kept a growing recording's ranges and, revalidating them with If-Range,
        # was answered the whole recording: hls.js then placed fragments at the wrong times.
        assert watched["growing_cache_control"] == "no-store"
        assert whole.headers["cache-control"] == "private, no-transform"


def seek_colours(url: str, seconds: list[float], headers: str | None = None) -> list[Any]:
    """Open `url` with ffmpeg (PyAV), seek to each of `seconds` and return the colour of the
    first frame at or after it."""
    options = {"headers": headers} if headers else {}
    found = []
    with av.open(url, options=options, timeout=30) as container:
        stream = container.streams.video[0]
        for second in seconds:
            container.seek(int(second / stream.time_base), stream=stream)
            for frame in container.decode(stream):
                if frame.time is not None and frame.time + 1e-6 >= second:
                    image = frame.to_rgb()
                    plane = image.planes[0]
                    at = (image.height // 2) * plane.line_size + (image.width // 2) * 3
                    pixel = bytes(plane)[at : at + 3]
                    found.append(nearest_colour((pixel[0], pixel[1], pixel[2])))
                    break
    return found


SEEKS = [1.5, 9.2, 17.0, 22.6]


def test_ffmpeg_plays_and_seeks_with_a_bearer_token(
    server: ServiceProcess, watched: dict[str, Any]
) -> None:
    url = f"{server.url}{BASE}/{watched['sid']}/playback/index.m3u8"
    header = f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
    assert seek_colours(url, SEEKS, header) == [colour_at(int(s)) for s in SEEKS]


def make_link(http: httpx.Client, sid: str, **body: Any) -> dict[str, Any]:
    answer = http.post(f"{BASE}/{sid}/playback/links", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_ffmpeg_plays_a_signed_link_with_no_header(
    server: ServiceProcess, watched: dict[str, Any]
) -> None:
    with server.client() as http:
        link = make_link(http, watched["sid"])
    assert link["playlist_url"].startswith(f"{server.url}{BASE}/{watched['sid']}/playback/")
    assert "access_token=" in link["player_url"]
    expires = datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    text = httpx.get(link["playlist_url"]).text
    token = link["playlist_url"].split("access_token=", 1)[1]
    uris = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert uris
    assert all(uri == f"recording.mp4?access_token={token}" for uri in uris)
    assert f'URI="recording.mp4?access_token={token}"' in text
    assert seek_colours(link["playlist_url"], SEEKS) == [colour_at(int(s)) for s in SEEKS]


def test_links_that_must_fail_answer_401(server: ServiceProcess, watched: dict[str, Any]) -> None:
    sid = watched["sid"]
    with server.client() as admin, server.client(ALICE_TOKEN) as alice:
        link = make_link(admin, sid)
        token = link["playlist_url"].split("access_token=", 1)[1]
        other = recording(alice, name="someone else's")
        short = make_link(admin, sid, expires_in_seconds=1)
    anonymous = httpx.Client(base_url=server.url, timeout=30)
    with anonymous:
        playback = f"{BASE}/{sid}/playback"

        def status(path: str, value: str) -> int:
            return anonymous.get(path, params={"access_token": value}).status_code

        assert status(playback, token) == 200
        assert status(f"{playback}/index.m3u8", token) == 200
        altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        assert status(f"{playback}/index.m3u8", altered) == 401
        assert status(f"{BASE}/{other}/playback", token) == 401, "a link is for its session only"
        for credential in (ADMIN_TOKEN, ALICE_TOKEN):  # API tokens never work in a query
            assert status(playback, credential) == 401
        for path in (f"{BASE}/{sid}", f"{BASE}/{sid}/chunks", f"{BASE}/{sid}/recording"):
            assert status(path, token) == 401, f"a link grants playback only, not {path}"
        answer = anonymous.get(playback, params={"access_token": altered})
        assert answer.json()["status_code"] == 401
        short_token = short["playlist_url"].split("access_token=", 1)[1]
        time.sleep(1.1)
        assert status(playback, short_token) == 401, "an expired link"
    with server.client(BOB_TOKEN) as bob:
        answer = bob.post(f"{BASE}/{sid}/playback/links", json={})
        assert answer.status_code == 404, "only a principal who may read the session"
    with server.client() as admin:
        for seconds in (0, 86_401, "900", 1.5):
            refused = admin.post(
                f"{BASE}/{sid}/playback/links", json={"expires_in_seconds": seconds}
            )
            assert refused.status_code == 400, refused.text
    assert '"event": "playback_link_made"' in server.log_path.read_text()


def test_rotating_the_link_key_ends_every_link(
    server: ServiceProcess, watched: dict[str, Any]
) -> None:
    sid = watched["sid"]
    with server.client() as admin:
        old = make_link(admin, sid)["playlist_url"]
        assert httpx.get(old).status_code == 200
        done = server.run_cli("keys", "rotate-link")
        assert done.returncode == 0, done.stderr
        if uses_token(dict(server.env)):  # the token's current key is read again each second
            eventually(
                lambda: httpx.get(old).status_code == 401,
                "the running server refuses the old link within the link key's 1 s refresh",
                timeout=3.0,
            )
        else:  # the key file is re-read as soon as it changed
            assert httpx.get(old).status_code == 401
        new = make_link(admin, sid)["playlist_url"]
        assert httpx.get(new).status_code == 200


def test_a_clip_is_a_standalone_mp4(server: ServiceProcess, watched: dict[str, Any]) -> None:
    sid = watched["sid"]
    with server.client() as http:
        clip = http.get(
            f"{BASE}/{sid}/playback/recording.mp4", params={"start": "7.5", "end": "12"}
        )
        assert clip.status_code == 200, clip.text
        assert clip.headers["content-type"] == "video/mp4"
        frames = decoded(clip.content)
        # from the keyframe at 6 s (at or before 7.5 s) through the fragment starting at 10 s
        assert frames[0][1] == colour_at(6)
        assert frames[-1][1] == colour_at(11)
        assert frames[-1][0] - frames[0][0] == pytest.approx(6 - 1 / 30, abs=0.01)
        outside = http.get(f"{BASE}/{sid}/playback/recording.mp4", params={"start": "99"})
        assert outside.status_code == 416, outside.text
        assert outside.json()["status_code"] == 416
        for bad in ({"start": "-1"}, {"end": "x"}, {"start": "nan"}):
            assert http.get(f"{BASE}/{sid}/playback/recording.mp4", params=bad).status_code == 400


def decoded(data: bytes) -> list[tuple[float, tuple[int, int, int]]]:
    found = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            image = frame.to_rgb()
            plane = image.planes[0]
            at = (image.height // 2) * plane.line_size + (image.width // 2) * 3
            pixel = bytes(plane)[at : at + 3]
            assert frame.time is not None
            found.append((frame.time, nearest_colour((pixel[0], pixel[1], pixel[2]))))
    return found


def test_other_content_is_stored_as_ever_and_not_playable(server: ServiceProcess) -> None:
    with server.client() as http:
        for name, data in (("noise", noise(7, 5000)), ("progressive", progressive_mp4(4))):
            sid = recording(http, name=name)
            for seq, piece in enumerate(uneven_chunks(data)[:6]):
                send(http, sid, seq, piece)
            found = summary(http, sid)
            assert found["playable"] is False, found
            assert found["reason"], found
            answer = http.get(f"{BASE}/{sid}/playback/index.m3u8")
            assert answer.status_code == 409, answer.text
            assert found["reason"] in answer.json()["detail"]
            got = http.get(f"{BASE}/{sid}/recording").content
            assert got == b"".join(uneven_chunks(data)[:6])


def test_a_restart_and_a_sigkill_between_chunks_leave_an_index_that_plays(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> None:
    data = video()
    pieces = uneven_chunks(data)
    third = len(pieces) // 3
    with own_database(stack_env) as env:
        service = ServiceProcess(tmp_path_factory.mktemp("restarted"), env=env)
        service.start()
        try:
            with service.client() as http:
                sid = recording(http, name="restarted")
                for seq in range(third):
                    send(http, sid, seq, pieces[seq])
            assert service.stop_gracefully()
            service.start()
            with service.client() as http:
                for seq in range(third, 2 * third):
                    send(http, sid, seq, pieces[seq])
            service.stop(signal.SIGKILL)
            service.start()
            with service.client() as http:
                for seq in range(2 * third, len(pieces)):
                    send(http, sid, seq, pieces[seq])
                assert http.post(f"{BASE}/{sid}/stop").status_code == 200
                text = playlist(http, sid)
                assert summary(http, sid)["segments"] == SECONDS // 2
                (_, init_length), segments = byte_ranges(text)
                assert init_length + sum(length for _, length in segments) == last_fragment_end(
                    data
                )
                url = f"{service.url}{BASE}/{sid}/playback/index.m3u8"
                header = f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
                assert seek_colours(url, SEEKS, header) == [colour_at(int(s)) for s in SEEKS]
                assert session(http, sid)["statistics"]["chunks_count"] == len(pieces)
        finally:
            service.stop()


def test_a_recording_with_sound_lists_both_codecs_and_plays(server: ServiceProcess) -> None:
    """The variant with an Opus track: the same fragments, timed by the video track; ffmpeg
    decodes both tracks through the playlist."""
    data = fragmented_mp4(8, audio=True)
    with server.client() as http:
        sid = recording(http, name="with sound")
        for seq, piece in enumerate(uneven_chunks(data)):
            send(http, sid, seq, piece)
        assert http.post(f"{BASE}/{sid}/stop").status_code == 200
        found = summary(http, sid)
        assert found["playable"] is True
        assert found["segments"] == 4
        codecs = found["codecs"]
        assert len(codecs) == 2
        assert codecs[0].startswith("avc1.")
        assert codecs[1] == "opus"
    url = f"{server.url}{BASE}/{sid}/playback/index.m3u8"
    header = f"Authorization: Bearer {ADMIN_TOKEN}\r\n"
    with av.open(url, options={"headers": header}, timeout=30) as container:
        assert len(container.streams.audio) == 1
        audio = container.streams.audio[0]
        heard = sum(frame.samples for frame in container.decode(audio))
    assert heard == pytest.approx(8 * 48_000, rel=0.02), "eight seconds of sound"
    assert seek_colours(url, [5.5], header) == [colour_at(5)]
