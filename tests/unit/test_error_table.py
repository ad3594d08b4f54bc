"""Domain errors become HTTP in one table, and the OpenAPI document says what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucid_sessions.adapters.http.errors import DOMAIN_ERRORS, documented, status_for
from lucid_sessions.bootstrap.app import build_container, create_app
from lucid_sessions.bootstrap.settings import load_settings
from lucid_sessions.domain import errors

HTTP_ONLY = {408, 413, 415, 416}


def every_domain_error() -> list[type[errors.DomainError]]:
    return [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.DomainError)
    ]


@pytest.mark.parametrize("kind", every_domain_error(), ids=lambda k: k.__name__)
def test_documented_status_is_the_status_answered(kind: type[errors.DomainError]) -> None:
    (documented_as,) = documented(kind)
    instance = kind.__new__(kind)
    assert documented_as.status_code == status_for(instance)


def test_every_documented_error_status_comes_from_the_table(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "LUCID_STORAGE_PATH": str(tmp_path / "s"),
            "LUCID_CHUNK_STORE_PATH": str(tmp_path / "c"),
            "LOG_LEVEL": "WARNING",
        }
    )
    schema = create_app(build_container(settings)).openapi_schema.to_schema()
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
