"""What Litestar's generated OpenAPI document cannot say by itself, added in one place.

- the `bearerAuth` security scheme, required everywhere but on the public operations;
- the chunk upload's request body (`application/octet-stream`) and its optional headers
  (the body is read by the handler while streaming, so Litestar does not see it);
- `additionalProperties: false` on request bodies (unknown fields are refused with 400);
- one `Error` schema for every error answer (Litestar inlines a schema generators choke on);
- `Location` on the 201 answers, and links from a created session and a stored chunk to the
  operations that take their ids (for generated clients and stateful testing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

__all__ = ["DocumentOnFirstUse", "complete_document"]

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
    document["security"] = [{"bearerAuth": []}]
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


class DocumentOnFirstUse:
    """Builds the OpenAPI document (`prepare`) when the first request under `prefix`
    arrives, not at start-up: generating it takes a third of a second on these machines,
    which every start would otherwise pay before the service can answer."""

    def __init__(self, app: ASGIApp, prefix: str, prepare: Callable[[], object]) -> None:
        self._app, self._prefix, self._prepare = app, prefix, prepare
        self._ready = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._ready and scope.get("path", "").startswith(self._prefix):
            self._prepare()
            self._ready = True
        await self._app(scope, receive, send)
