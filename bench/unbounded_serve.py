"""`lucid-sessions` served by uvicorn's own httptools protocol instead of the bounded one
(`lucid_sessions.adapters.http.protocol`): the baseline that prices the limits before the
app (header size and time, unread bodies) in ``bench_api`` and ``bench_ingest``.

Run as a launcher in front of the usual command, which it replaces:
``python bench/unbounded_serve.py /path/to/lucid-sessions serve --port P``.
Benchmarks only: the service itself has no way to turn its limits off.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

import lucid_sessions.adapters.http.protocol as protocol
from lucid_sessions.bootstrap.main import main


def _unbounded(_limits: protocol.HeaderLimits) -> type[HttpToolsProtocol]:
    return HttpToolsProtocol


if __name__ == "__main__":
    protocol.bounded_protocol = _unbounded  # type: ignore[assignment]
    raise SystemExit(main(sys.argv[2:]))
