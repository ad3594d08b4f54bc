"""What Litestar's generated OpenAPI document cannot say by itself, added in one place.

- the `bearerAuth` security scheme, required everywhere but on the public operations, and
  `playbackLink` (a signed link's `access_token`) as the alternative on the playback reads;
- the chunk upload's request body (`application/octet-stream`) and its optional headers
  (the body is read by the handler while streaming, so Litestar does not see it);
- `additionalProperties: false` on request bodies (unknown fields are refused with 400);
- one `Error` schema for every error answer (Litestar inlines a schema generators choke on);
- `Location` on the 201 answers, and links from a created session and a stored chunk to the
  operations that take their ids (for generated clients and stateful testing).

The document served is Litestar's, completed by `CompletedDocument` as the docs render
plugins (`docs.py`) render it: Litestar builds its document on the first request for it (a
third of a second, which start-up does not pay), and its own copy is never changed.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import Litestar

__all__ = ["CompletedDocument", "complete_document", "public_operations"]

SESSIONS = "/api/v1/sessions"
SESSION = f"{SESSIONS}/{{session_id}}"
CHUNK = f"{SESSION}/chunks/{{chunk_id}}"

BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": (
        "A configured API token (LUCID_API_TOKENS or LUCID_API_TOKENS_FILE) or a platform JWT"
    ),
}

PLAYBACK_LINK = {
    "type": "apiKey",
    "in": "query",
    "name": "access_token",
    "description": (
        "A signed playback link's token (POST .../playback/links): GET of one session's "
        "playback, playlist and recording.mp4 until it expires, and nothing else"
    ),
}
PLAYBACK = f"{SESSION}/playback"
PLAYBACK_READS = (PLAYBACK, f"{PLAYBACK}/index.m3u8", f"{PLAYBACK}/recording.mp4")

TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)

UPLOAD_HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-Content-BLAKE3",
        "in": "header",
        "required": False,
        "description": "hex BLAKE3 of the body; a mismatch answers 400 and stores nothing",
        "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
    },
    {
        "name": "X-Chunk-Timestamp",
        "in": "header",
        "required": False,
        "description": "when the chunk was recorded, RFC 3339 (default: when it arrives)",
        "schema": {"type": "string", "pattern": TIMESTAMP_PATTERN},
    },
    {
        "name": "X-Chunk-Duration-Seconds",
        "in": "header",
        "required": False,
        "description": "how much recording time the chunk holds",
        "schema": {"type": "number", "minimum": 0, "exclusiveMaximum": 1e9},
    },
    {
        "name": "X-Chunk-Frame-Count",
        "in": "header",
        "required": False,
        "description": "how many frames the chunk holds",
        "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999},
    },
]

UPLOAD_BODY = {
    "required": True,
    "description": "the chunk's raw bytes (at most LUCID_MAX_CHUNK_BYTES)",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}

ERROR = {
    "type": "object",
    "description": "Every error answer: the status again, what went wrong, and details",
    "required": ["status_code", "detail"],
    "properties": {
        "status_code": {"type": "integer"},
        "detail": {"type": "string"},
        "extra": {
            "description": "details: for 400, a list of {key, message} naming the bad fields"
        },
    },
}

LOCATION = {
    "Location": {
        "description": "the URL of what was created",
        "schema": {"type": "string"},
    }
}


def _operation_id(document: dict[str, Any], path: str, method: str) -> str | None:
    operation = document["paths"].get(path, {}).get(method)
    return None if operation is None else operation.get("operationId")


def _links(
    document: dict[str, Any], targets: list[tuple[str, str]], parameters: dict[str, str]
) -> dict[str, Any]:
    """OpenAPI links to the operations at `targets` (path, method), by their operationId."""
    links: dict[str, Any] = {}
    for path, method in targets:
        operation_id = _operation_id(document, path, method)
        if operation_id is not None:
            links[operation_id] = {"operationId": operation_id, "parameters": parameters}
    return links


def complete_document(
    document: dict[str, Any], *, public: set[tuple[str, str]], request_models: dict[str, str]
) -> None:
    """Complete Litestar's `document` in place. `public`: (path, method) pairs that need no
    token; `request_models`: component names of request bodies that refuse unknown fields,
    with their descriptions."""
    document.setdefault("components", {}).setdefault("securitySchemes", {})["bearerAuth"] = BEARER
    document["components"]["securitySchemes"]["playbackLink"] = PLAYBACK_LINK
    document["security"] = [{"bearerAuth": []}]
    for path in PLAYBACK_READS:
        read = document["paths"].get(path, {}).get("get")
        if read is not None:
            read["security"] = [{"bearerAuth": []}, {"playbackLink": []}]
    media = document["paths"].get(f"{PLAYBACK}/recording.mp4", {}).get("get")
    if media is not None and "206" in media["responses"]:
        partial = media["responses"]["206"]
        partial["content"] = {"video/mp4": partial.get("content", {}).popitem()[1]}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if (path, method) in public:
                operation["security"] = []
    schemas = document["components"].setdefault("schemas", {})
    for name, schema in schemas.items():
        if name in request_models:
            schema["additionalProperties"] = False
            if request_models[name]:
                schema["description"] = request_models[name]
    schemas["Error"] = ERROR
    for item in document["paths"].values():
        for operation in item.values():
            for status, answer in operation.get("responses", {}).items():
                json_body = answer.get("content", {}).get("application/json")
                if int(status) >= 400 and json_body and "$ref" not in json_body["schema"]:
                    json_body["schema"] = {"$ref": "#/components/schemas/Error"}

    upload = document["paths"].get(CHUNK, {}).get("put")
    if upload is not None:
        upload["requestBody"] = UPLOAD_BODY
        upload.setdefault("parameters", []).extend(UPLOAD_HEADERS)
        stored = upload["responses"].get("201")
        if stored is not None:
            stored["headers"] = LOCATION
            stored["links"] = _links(
                document,
                [(CHUNK, "get"), (f"{CHUNK}/download", "get"), (f"{CHUNK}/proof", "get")],
                {
                    "session_id": "$response.body#/session_id",
                    "chunk_id": "$response.body#/chunk_id",
                },
            )

    create = document["paths"].get(SESSIONS, {}).get("post")
    if create is not None and "201" in create["responses"]:
        created = create["responses"]["201"]
        created["headers"] = LOCATION
        targets = [(SESSION, method) for method in ("get", "put", "delete")]
        targets += [(f"{SESSION}/{action}", "post") for action in ("start", "stop")]
        targets += [(f"{SESSION}/{action}", "get") for action in ("manifest", "chunks")]
        targets += [(CHUNK, "put")]
        created["links"] = _links(document, targets, {"session_id": "$response.body#/session_id"})


def public_operations(app: Litestar) -> set[tuple[str, str]]:
    """The (path, method) pairs of `app`'s routes marked public (`PUBLIC`: no token)."""
    return {
        (route.path_format, method.lower())
        for route in app.routes
        for handler in getattr(route, "route_handlers", ())
        if handler.opt.get("public")
        for method in handler.http_methods
    }


class CompletedDocument:
    """Litestar's generated document of an app, completed: a completed copy, made once per
    generated document (Litestar builds one per app and keeps it), the same one after."""

    def __init__(self, request_models: dict[str, str]) -> None:
        self._request_models = request_models
        self._generated: dict[str, Any] | None = None
        self._completed: dict[str, Any] = {}

    def __call__(self, generated: dict[str, Any], app: Litestar) -> dict[str, Any]:
        if generated is not self._generated:
            completed = copy.deepcopy(generated)
            complete_document(
                completed, public=public_operations(app), request_models=self._request_models
            )
            self._generated, self._completed = generated, completed
        return self._completed
