"""What the HTTP tests share: the API's base path, the content-type headers, a polling helper
with a deadline, the session log's entries, and samples of the Prometheus exposition (read
with prometheus_client's parser)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = [
    "BASE",
    "JSON",
    "JSON_TYPE",
    "LOG",
    "OCTETS",
    "OCTET_STREAM",
    "eventually",
    "log_entries",
    "metric",
    "metric_value",
]

BASE = "/api/v1/sessions"
LOG = f"{BASE}/log"

OCTET_STREAM = "application/octet-stream"  # a chunk's media type
JSON_TYPE = "application/json"
OCTETS = {"Content-Type": OCTET_STREAM}  # the header of a chunk upload
JSON = {"Content-Type": JSON_TYPE}


def eventually(
    condition: Callable[[], bool], what: str, timeout: float = 20.0, every: float = 0.1
) -> None:
    """Poll `condition` every `every` seconds until it holds; fail naming `what` once `timeout`
    seconds passed. An assertion inside `condition` fails at once (a state it must not see)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(every)


def log_entries(http: httpx.Client) -> list[dict[str, Any]]:
    """Every entry of the session log, read page by page up to its current tree size."""
    size = http.get(LOG).json()["tree_size"]
    found: list[dict[str, Any]] = []
    while len(found) < size:
        response = http.get(f"{LOG}/entries", params={"start": len(found), "end": size})
        assert response.status_code == 200, response.text
        found += response.json()["entries"]
    return found


_MISSING: Any = object()


def metric_value(
    text: str, name: str, *, exact: bool = False, missing: float = _MISSING, **labels: str
) -> float:
    """The first sample `name` of the exposition `text` whose labels include `labels` (with
    `exact`: are `labels`, so no labels means an unlabelled sample). None there: `missing`
    when given, else an AssertionError."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != name:
                continue
            if sample.labels == labels if exact else labels.items() <= sample.labels.items():
                return float(sample.value)
    if missing is _MISSING:
        raise AssertionError(f"no sample {name}{labels} exposed")
    return float(missing)


class _Getter(Protocol):
    def get(self, url: str) -> Any: ...


def metric(
    client: _Getter, name: str, *, exact: bool = False, missing: float = _MISSING, **labels: str
) -> float:
    """`metric_value` of the client's GET /metrics (httpx or Litestar's TestClient)."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return metric_value(response.text, name, exact=exact, missing=missing, **labels)
