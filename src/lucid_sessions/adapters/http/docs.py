"""The interactive docs page, served whole by the service (no CDN): Swagger UI, pinned.

`/schema` (and `/schema/swagger`) is Swagger UI 5.35.0 from `docs_assets/`, served under
`/schema/assets/`; `/schema/openapi.json` and `/schema/openapi.yaml` are the document. No other
docs UI is served (they would load their scripts from the internet).

An asset's name is looked up in `ASSET_TYPES`, never joined to a folder: what a client puts in
the path (`%00`, `..`, a newline) can only miss, with a 404.
"""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.params import FromPath
from litestar.response import File
from litestar.router import Router

__all__ = [
    "ASSETS",
    "ASSET_TYPES",
    "SWAGGER_UI_VERSION",
    "docs_assets_router",
    "docs_render_plugins",
]

ASSETS = Path(__file__).parent / "docs_assets"
SWAGGER_UI_VERSION = "5.35.0"
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain",
}
"""Every file served under the assets path, with its media type."""


def docs_render_plugins(schema_path: str) -> list[OpenAPIRenderPlugin]:
    assets = f"{schema_path}/assets"
    swagger = SwaggerRenderPlugin(
        path=["/", "/swagger"],
        version=SWAGGER_UI_VERSION,
        js_url=f"{assets}/swagger-ui-bundle.js",
        css_url=f"{assets}/swagger-ui.css",
        standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
    )
    return [swagger, JsonRenderPlugin(), YamlRenderPlugin()]


def docs_assets_router(schema_path: str) -> Router:
    @get("/{name:str}", include_in_schema=False, cache_control=None, sync_to_thread=False)
    def docs_asset(name: FromPath[str]) -> File:
        media_type = ASSET_TYPES.get(name)
        if media_type is None:
            raise NotFoundException()
        return File(ASSETS / name, media_type=media_type, content_disposition_type="inline")

    return Router(path=f"{schema_path}/assets", route_handlers=[docs_asset])
