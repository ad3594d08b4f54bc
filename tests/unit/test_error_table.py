"""Domain errors become HTTP in one table, and the OpenAPI document says what it says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lucid_sessions.adapters.http.errors import DOMAIN_ERRORS, documented, status_for
from lucid_sessions.bootstrap.app import create_litestar
from lucid_sessions.domain import errors
from tests.graph import fake_container

HTTP_ONLY = {408, 413, 415, 416}  # 416 also answers a Range header no content satisfies


def every_domain_error() -> list[type[errors.DomainError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.DomainError)
    ]


# Every domain error's status, written out from the HTTP contract (not read from the table in
# adapters/http/errors.py that both `documented()` and `status_for()` use).
EXPECTED: dict[str, int] = {
    "AnchorUnavailable": 500,  # a background job's error; never a client's answer
    "ChunkConflict": 409,
    "ChunkNotFound": 404,
    "ConcurrencyError": 409,
    "CorruptChunk": 500,
    "DomainError": 500,
    "Forbidden": 403,
    "IntegrityError": 500,
    "InvalidLink": 401,  # a playback link that grants nothing
    "InvalidTransition": 409,
    "InvalidValue": 400,
    "NotFound": 404,
    "PipelinePaused": 503,
    "PolicyViolation": 409,
    "RangeNotSatisfiable": 416,  # a clip's time range that selects nothing
    "SessionNotFound": 404,
    "SigningKeyRetired": 503,  # three rotations during one signature: try again
    "StorageFull": 507,
    "StorageUnavailable": 503,
    "Unauthenticated": 401,
}


def test_every_domain_error_has_a_written_out_status() -> None:
    assert sorted(kind.__name__ for kind in every_domain_error()) == sorted(EXPECTED)


@pytest.mark.parametrize("kind", every_domain_error(), ids=lambda k: k.__name__)
def test_the_answered_and_the_documented_status_are_the_contracts(
    kind: type[errors.DomainError],
) -> None:
    (documented_as,) = documented(kind)
    instance = kind.__new__(kind)
    assert status_for(instance) == EXPECTED[kind.__name__]
    assert documented_as.status_code == EXPECTED[kind.__name__]


def served_document(tmp_path: Path) -> dict[str, Any]:
    """The OpenAPI document of the app built by the service's own root."""
    return create_litestar(fake_container(tmp_path)).openapi_schema.to_schema()


def test_every_documented_error_status_comes_from_the_table(tmp_path: Path) -> None:
    schema = served_document(tmp_path)
    table = {status for _, status in DOMAIN_ERRORS}
    seen: set[int] = set()
    for item in schema["paths"].values():
        for operation in item.values():
            for status in operation.get("responses", {}):
                code = int(status)
                if code >= 400:
                    seen.add(code)
                    assert code in table | HTTP_ONLY, status
    assert {404, 409, 503} <= seen


SESSION = "/api/v1/sessions/{session_id}"
CHUNK = f"{SESSION}/chunks/{{chunk_id}}"
# Every success an operation can answer, written out (not read from the code that makes the
# document): a safe retry of an upload is 200, a ranged download 206, a matching ETag 304.
SUCCESSES: dict[tuple[str, str], set[int]] = {
    ("get", "/"): {200},
    ("get", "/health"): {200},
    ("get", "/metrics"): {200},
    ("get", "/api/v1/sessions/health"): {200},
    ("get", "/api/v1/sessions/metrics"): {200},
    ("get", "/api/v1/sessions/statistics"): {200},
    ("get", "/api/v1/sessions"): {200},
    ("post", "/api/v1/sessions"): {201},
    ("get", SESSION): {200},
    ("put", SESSION): {200},
    ("delete", SESSION): {200},
    ("post", f"{SESSION}/start"): {200},
    ("post", f"{SESSION}/pause"): {200},
    ("post", f"{SESSION}/resume"): {200},
    ("post", f"{SESSION}/stop"): {200},
    ("put", CHUNK): {200, 201},
    ("get", CHUNK): {200},
    ("get", f"{CHUNK}/download"): {200, 206, 304},
    ("get", f"{CHUNK}/proof"): {200},
    ("get", f"{SESSION}/chunks"): {200},
    ("get", f"{SESSION}/recording"): {200, 206, 304},
    ("get", f"{SESSION}/consistency"): {200},
    ("get", f"{SESSION}/manifest"): {200},
    ("get", f"{SESSION}/pipeline"): {200},
    ("post", f"{SESSION}/pipeline/pause"): {200},
    ("post", f"{SESSION}/pipeline/resume"): {200},
    ("get", f"{SESSION}/statistics"): {200},
    ("get", "/api/v1/sessions/log"): {200},
    ("get", "/api/v1/sessions/log/entries"): {200},
    ("get", "/api/v1/sessions/log/proof"): {200},
    ("get", "/api/v1/sessions/log/consistency"): {200},
    ("get", "/api/v1/sessions/keys"): {200},
    ("get", f"{SESSION}/playback"): {200},
    ("get", f"{SESSION}/playback/index.m3u8"): {200},
    ("get", f"{SESSION}/playback/recording.mp4"): {200, 206, 304},
    ("post", f"{SESSION}/playback/links"): {201},
    ("get", "/player/{session_id}"): {200},
}


def test_every_success_status_is_documented(tmp_path: Path) -> None:
    schema = served_document(tmp_path)
    documented_successes = {
        (method, path): {int(status) for status in operation["responses"] if int(status) < 400}
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    assert documented_successes == SUCCESSES
