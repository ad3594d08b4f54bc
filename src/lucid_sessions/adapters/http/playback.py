"""Playback routes: the summary, the HLS playlist, the recording as MP4 (whole, by range or as
a clip) and signed playback links.

The three reads take a bearer token or a signed link's `access_token` query parameter
(`PLAYBACK` routes: `AuthenticationMiddleware` opens the link and leaves its grant where a
principal would be); making a link takes a bearer token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from lucid_sessions.adapters.http.auth import PLAYBACK, current_access, current_principal
from lucid_sessions.adapters.http.body import json_body, strict_body
from lucid_sessions.adapters.http.chunks import PARTIAL_OR_NOT_MODIFIED
from lucid_sessions.adapters.http.downloads import send_download
from lucid_sessions.adapters.http.errors import documented
from lucid_sessions.adapters.http.inputs import decimal_fraction
from lucid_sessions.adapters.http.openapi import (
    DOWNLOAD_ERRORS,
    JSON_BODY_ERRORS,
    READ_ERRORS,
    SessionId,
)
from lucid_sessions.app.usecases.playback import PlaybackLinks, ReadPlayback
from lucid_sessions.domain.errors import PolicyViolation
from lucid_sessions.domain.media import PLAYLIST_MEDIA_TYPE
from lucid_sessions.domain.playback_link import DEFAULT_LINK_SECONDS, MAX_LINK_SECONDS

__all__ = [
    "MP4",
    "PlaybackController",
    "PlaybackLinkRequest",
    "PlaybackLinkResponse",
    "PlaybackResponse",
]

MP4 = "video/mp4"
ACCESS_TOKEN = "access_token"  # noqa: S105 (a parameter name)
BASE = "/api/v1/sessions"

_SECONDS_DOC: dict[str, Any] = {"pattern": r"^[0-9]{1,12}(\.[0-9]{1,9})?$"}


class PlaybackResponse(msgspec.Struct, kw_only=True):
    session_id: str
    playable: bool
    reason: str | None
    container: str
    codecs: list[str]
    duration_seconds: float
    segments: int
    live: bool
    started_at: datetime | None


class PlaybackLinkRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How long the link lasts: 1 to 86,400 seconds (default 900)."""

    expires_in_seconds: Annotated[int, msgspec.Meta(ge=1, le=MAX_LINK_SECONDS)] = (
        DEFAULT_LINK_SECONDS
    )


class PlaybackLinkResponse(msgspec.Struct, kw_only=True):
    playlist_url: str
    player_url: str
    expires_at: str


def _seconds(raw: str | None, field: str) -> float | None:
    return None if raw is None else decimal_fraction(raw, field)


def _token_query(request: Request[Any, Any, Any]) -> str:
    """The link's parameter again, for every URI the playlist lists (empty with a bearer
    token: the player sends its header to every URI anyway)."""
    token = request.query_params.get(ACCESS_TOKEN)
    return "" if token is None else f"{ACCESS_TOKEN}={quote(token, safe='')}"


class PlaybackController(Controller):
    path = BASE + "/{session_id:str}/playback"
    tags = ["playback"]

    @get(
        "",
        raises=READ_ERRORS,
        summary="Playback summary: playable or why not, codecs, duration, live",
        opt=PLAYBACK,
    )
    async def playback_summary(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        read_playback: NamedDependency[ReadPlayback],
    ) -> PlaybackResponse:
        view = await read_playback.summary(current_access(request), session_id)
        return PlaybackResponse(
            session_id=view.session_id,
            playable=view.playable,
            reason=view.reason,
            container=view.container,
            codecs=list(view.codecs),
            duration_seconds=view.duration_seconds,
            segments=view.segments,
            live=view.live,
            started_at=view.started_at,
        )

    @get(
        "/index.m3u8",
        raises=[*READ_ERRORS, *documented(PolicyViolation)],
        summary="HLS media playlist (RFC 8216 v7): byte ranges of recording.mp4",
        media_type=PLAYLIST_MEDIA_TYPE,
        opt=PLAYBACK,
    )
    async def playback_playlist(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        read_playback: NamedDependency[ReadPlayback],
    ) -> Response[str]:
        text = await read_playback.playlist(
            current_access(request), session_id, _token_query(request)
        )
        return Response(
            text,
            media_type=PLAYLIST_MEDIA_TYPE,
            headers={"Cache-Control": "no-cache, private"},
        )

    @get(
        "/recording.mp4",
        raises=[*DOWNLOAD_ERRORS, *documented(PolicyViolation)],
        summary="The recording as MP4, with Range; with start or end: a standalone clip",
        media_type=MP4,
        responses=PARTIAL_OR_NOT_MODIFIED,
        opt=PLAYBACK,
    )
    async def playback_media(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        read_playback: NamedDependency[ReadPlayback],
        start: Annotated[
            str | None,
            QueryParameter(description="clip start, seconds of media time", **_SECONDS_DOC),
        ] = None,
        end: Annotated[
            str | None,
            QueryParameter(description="clip end, seconds of media time", **_SECONDS_DOC),
        ] = None,
    ) -> Response[Any]:
        access = current_access(request)
        first, last = _seconds(start, "start"), _seconds(end, "end")
        if first is None and last is None:
            content = await read_playback.recording(access, session_id)
        else:
            content = await read_playback.clip(access, session_id, first, last)
        return await send_download(
            request, content, media_type=MP4, disposition="inline", extension="mp4"
        )

    @post(
        "/links",
        status_code=201,
        raises=[*READ_ERRORS, *JSON_BODY_ERRORS],
        summary="A signed playback link: the playlist and the player without a bearer token",
        opt=json_body(PlaybackLinkRequest),
    )
    async def make_playback_link(
        self,
        session_id: SessionId,
        request: Request[Any, Any, Any],
        data: JSONBody[PlaybackLinkRequest],
        playback_links: NamedDependency[PlaybackLinks],
    ) -> Response[PlaybackLinkResponse]:
        data = strict_body(request, data)
        link = await playback_links.make(
            current_principal(request), session_id, data.expires_in_seconds
        )
        query = f"{ACCESS_TOKEN}={quote(link.token, safe='')}"
        base = str(request.base_url).rstrip("/")
        player = f"{base}/player/{session_id}?{query}"
        answer = PlaybackLinkResponse(
            playlist_url=f"{base}{BASE}/{session_id}/playback/index.m3u8?{query}",
            player_url=player,
            expires_at=link.expires_at.isoformat().replace("+00:00", "Z"),
        )
        return Response(answer, status_code=201, headers={"Location": player})
