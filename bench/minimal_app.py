"""The API benchmark's ceiling: a minimal Litestar app answering one route with a fixed dict.

``python bench/minimal_app.py PORT DOCUMENT.json`` serves ``GET /api/v1/sessions/{id}`` on
127.0.0.1, returning the JSON document in the file (a real session as the service returns
it), under the same uvicorn settings as ``lucid-sessions serve`` (loop and HTTP parser left
to uvicorn's "auto" choice, as the service leaves them). No authentication, no store, no
logging: what the framework and the server cost on their own.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import uvicorn
from litestar import Litestar, get


def app_for(document: dict[str, Any]) -> Litestar:
    @get("/api/v1/sessions/{session_id:str}")
    async def read(session_id: str) -> dict[str, Any]:
        return document

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    return Litestar([read, health], debug=False)


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    uvicorn.run(
        app_for(document),
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_config=None,
        log_level="warning",
        proxy_headers=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
