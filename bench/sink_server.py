"""An HTTP floor for the ingest benchmark: the service's HTTP stack, minus the pipeline.

``python bench/sink_server.py PORT`` serves ``PUT /sink`` on 127.0.0.1 with the same uvicorn
settings and allocator tuning as ``lucid-sessions serve`` and a Litestar handler that reads
the body with the service's own reader (``RequestBody``, via ``read_capped``) and answers 201
without hashing, compressing, encrypting or storing anything. Uploading to it measures what
receiving 8 MiB over HTTP costs on its own, which no pipeline change can remove.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import uvicorn
from litestar import Litestar, Request, get, put

from lucid_sessions.adapters.http.upload import UploadLimits, read_capped
from lucid_sessions.bootstrap.main import tune_allocator

LIMITS = UploadLimits(64 << 20, 30.0)  # the service's reader, with its idle timeout


@put("/sink", status_code=201, request_max_body_size=None)
async def sink(request: Request[Any, Any, Any]) -> dict[str, int]:
    data = await read_capped(request, LIMITS)
    return {"size_bytes": len(data)}


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "healthy"}


def main() -> None:
    tune_allocator()  # as `lucid-sessions serve` does: the same heap for 8 MiB bodies
    app = Litestar([sink, health], debug=False)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=False,
        log_config=None,
        log_level="warning",
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
