"""The interactive docs page, served whole by the service (no CDN): Swagger UI, pinned.

`/schema` (and `/schema/swagger`) is Swagger UI 5.35.0 from `docs_assets/`, served under
`/schema/assets/`; `/schema/openapi.json` and `/schema/openapi.yaml` are the document. No other
docs UI is served (they would load their scripts from the internet). Each page renders the
completed document (`openapi_document.py`): Litestar's render plugins, given it instead of
Litestar's own.

An asset's name is looked up in `ASSET_TYPES`, never joined to a folder: what a client puts in
the path (`%00`, `..`, a newline) can only miss, with a 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, get
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

from lucid_sessions.adapters.http.openapi_document import CompletedDocument
from lucid_sessions.adapters.http.schemas import REQUEST_MODELS

__all__ = [
    "ASSETS",
    "ASSET_TYPES",
    "SWAGGER_UI_VERSION",
    "CompletedJson",
    "CompletedSwagger",
    "CompletedYaml",
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


class CompletedSwagger(SwaggerRenderPlugin):
    """Swagger UI on the completed document."""

    def __init__(self, completed: CompletedDocument, **options: Any) -> None:
        super().__init__(**options)
        self._completed = completed

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._completed(openapi_schema, request.app))


class CompletedJson(JsonRenderPlugin):
    """The completed document as JSON (`/openapi.json`)."""

    def __init__(self, completed: CompletedDocument) -> None:
        super().__init__()
        self._completed = completed

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._completed(openapi_schema, request.app))


class CompletedYaml(YamlRenderPlugin):
    """The completed document as YAML (`/openapi.yaml`, `/openapi.yml`)."""

    def __init__(self, completed: CompletedDocument) -> None:
        super().__init__()
        self._completed = completed

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._completed(openapi_schema, request.app))


def docs_render_plugins(schema_path: str) -> list[OpenAPIRenderPlugin]:
    """The pages under `schema_path`, all on one completed document."""
    completed = CompletedDocument(REQUEST_MODELS)
    assets = f"{schema_path}/assets"
    swagger = CompletedSwagger(
        completed,
        path=["/", "/swagger"],
        version=SWAGGER_UI_VERSION,
        js_url=f"{assets}/swagger-ui-bundle.js",
        css_url=f"{assets}/swagger-ui.css",
        standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
    )
    return [swagger, CompletedJson(completed), CompletedYaml(completed)]


def docs_assets_router(schema_path: str) -> Router:
    @get("/{name:str}", include_in_schema=False, cache_control=None, sync_to_thread=False)
    def docs_asset(name: FromPath[str]) -> File:
        media_type = ASSET_TYPES.get(name)
        if media_type is None:
            raise NotFoundException()
        return File(ASSETS / name, media_type=media_type, content_disposition_type="inline")

    return Router(path=f"{schema_path}/assets", route_handlers=[docs_asset])
