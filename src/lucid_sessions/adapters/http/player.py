"""The playback page of a session, served whole by the service (no CDN): hls.js, pinned.

`GET /player/{session_id}` is a page that plays the session's recording from its HLS playlist
(`/api/v1/sessions/{id}/playback/index.m3u8`) with hls.js 1.7.4 from `player_assets/`
(`player.html`, `player.js`, `player.css` are the page; `README.md` there says what was
vendored and its digests). Its assets are served under `/player/assets/`.

The page needs no token: it is the same for everyone and holds nothing of a session but the id
in its address. What it loads does: it passes the `access_token` of its own address (a signed
`player_url`) on to the playback summary and the playlist, whose URIs carry it already. So:

- the page is `no-store`, and `Referrer-Policy: no-referrer` keeps the token in its address
  from leaving through a `Referer`;
- its `Content-Security-Policy` lets it load scripts, styles, media and connections from the
  service only, media also from `blob:` (Media Source Extensions play a `blob:` URL) and
  workers from `blob:` only (hls.js starts its transmuxer worker from one); no inline script,
  no `eval`, no frames, no forms;
- the session id is checked (`validate_id`: 400 otherwise, as on every route) and written
  into the page HTML-escaped, as an attribute the script reads.

An asset's name is looked up in `ASSET_TYPES`, never joined to a folder: what a client puts in
the path can only miss, with a 404. Assets are read once, when the router is made. The page
names each one with `?v=` and a digest of its bytes, so they are cached for a year
(`immutable`): a new version is a new address. Each carries its digest as a strong `ETag`;
`If-None-Match` naming it answers 304.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from litestar import MediaType, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.router import Router

from lucid_sessions.adapters.http.auth import PUBLIC
from lucid_sessions.adapters.http.errors import documented
from lucid_sessions.adapters.http.openapi import SessionId
from lucid_sessions.adapters.http.ranges import etag_matches
from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.session import validate_id

__all__ = [
    "ASSETS",
    "ASSETS_PATH",
    "ASSET_TYPES",
    "CONTENT_SECURITY_POLICY",
    "HLS_JS",
    "HLS_JS_VERSION",
    "PLAYER_PATH",
    "player_router",
]

ASSETS = Path(__file__).parent / "player_assets"
PLAYER_PATH = "/player"
ASSETS_PATH = f"{PLAYER_PATH}/assets"
HLS_JS_VERSION = "1.7.4"
HLS_JS = "hls.light.min.js"
"""hls.js's light build: fMP4, byte ranges, H.264/AAC/Opus through MSE and live playlists are
all in it; what it leaves out (alternate audio, subtitles, DRM, CMCD, interstitials) the
service's playlists never use."""

ASSET_TYPES = {
    HLS_JS: "text/javascript",
    "player.js": "text/javascript",
    "player.css": "text/css",
    "LICENSE": "text/plain",
}
"""Every file served under the assets path, with its media type."""

PAGE = "player.html"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
"""The page's policy: see the module's docstring."""

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
ASSET_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    digest: str
    """The first 32 hex digits of the body's SHA-256."""

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'

    @property
    def version(self) -> str:
        """What the page appends to the asset's address (`?v=`)."""
        return self.digest[:16]


def _read_assets() -> dict[str, _Asset]:
    assets = {}
    for name, media_type in ASSET_TYPES.items():
        body = (ASSETS / name).read_bytes()
        assets[name] = _Asset(body, media_type, hashlib.sha256(body).hexdigest()[:32])
    return assets


def _page_template(assets: dict[str, _Asset]) -> Template:
    """The page with each asset's versioned address filled in; the session id is left."""
    source = Template((ASSETS / PAGE).read_text(encoding="utf-8"))

    def address(name: str) -> str:
        return f"{ASSETS_PATH}/{name}?v={assets[name].version}"

    return Template(
        source.safe_substitute(
            player_css=address("player.css"),
            player_js=address("player.js"),
            hls_js=address(HLS_JS),
        )
    )


def player_router() -> Router:
    """The page at `/player/{session_id}` and its assets at `/player/assets/{name}`, both
    public (`PUBLIC`: the authentication layer lets them through, and the OpenAPI document
    marks the page `security: []`). The assets are not in the document, like the docs
    page's."""
    assets = _read_assets()
    page = _page_template(assets)

    @get(
        "/{session_id:str}",
        media_type=MediaType.HTML,
        opt=PUBLIC,
        tags=["playback"],
        raises=documented(InvalidValue),
        summary="The playback page of a session (no token: open a signed player_url)",
        description=(
            "An HTML page that plays the session's recording. It needs no token itself; what "
            "it loads does, and it passes on the `access_token` of its own address."
        ),
        sync_to_thread=False,
    )
    def get_player_page(session_id: SessionId) -> Response[str]:
        validate_id(session_id)
        body = page.substitute(session_id=html.escape(session_id, quote=True))
        return Response(body, media_type=MediaType.HTML, headers=PAGE_HEADERS)

    @get(
        "/assets/{name:str}",
        include_in_schema=False,
        opt=PUBLIC,
        cache_control=None,
        sync_to_thread=False,
    )
    def get_player_asset(name: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
        asset = assets.get(name)
        if asset is None:
            raise NotFoundException()
        headers = {
            "ETag": asset.etag,
            "Cache-Control": ASSET_CACHE,
            "X-Content-Type-Options": "nosniff",
        }
        if etag_matches(request.headers.get("if-none-match"), asset.etag):
            return Response(b"", status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    return Router(path=PLAYER_PATH, route_handlers=[get_player_page, get_player_asset])
