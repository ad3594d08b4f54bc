"""The interactive docs page, served whole by the service (no CDN): Swagger UI, pinned.

`/schema` (and `/schema/swagger`) is Swagger UI 5.35.0 from `docs_assets/`, served under
`/schema/assets/`; `/schema/openapi.json` and `/schema/openapi.yaml` are the document. No other
docs UI is served (they would load their scripts from the internet).
"""

from __future__ import annotations

from pathlib import Path

from litestar.openapi.plugins import (
    JsonRenderPlugin,
    OpenAPIRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.router import Router
from litestar.static_files import create_static_files_router

__all__ = ["ASSETS", "SWAGGER_UI_VERSION", "docs_assets_router", "docs_render_plugins"]

ASSETS = Path(__file__).parent / "docs_assets"
SWAGGER_UI_VERSION = "5.35.0"


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
    return create_static_files_router(
        path=f"{schema_path}/assets",
        directories=[ASSETS],
        include_in_schema=False,
        cache_control=None,
        name="docs_assets",
    )
