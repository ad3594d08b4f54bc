"""`LUCID_METRICS_PUBLIC` over HTTP (docs/operations.md, Metrics): with tokens configured,
`/metrics` answers anyone when it is `true`, and only administrators when it is not set (the
default, `false`: 401 without a token, 403 for a user). Making the metrics public opens
nothing else.

The setting only decides who may read `/metrics`, whatever stores sessions and blobs, so
these servers run on the embedded stack only (not parametrized over the e2e stacks).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.http import BASE
from tests.servers import ADMIN_TOKEN, ALICE_TOKEN, ServiceProcess

pytestmark = pytest.mark.e2e


def _service(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> ServiceProcess:
    service = ServiceProcess(tmp_path_factory.mktemp("metrics"), env=env)
    assert service.environment()["LUCID_API_TOKENS"], "tokens are configured"
    service.start()
    return service


@pytest.fixture(scope="module")
def public_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = _service(tmp_path_factory, {"LUCID_METRICS_PUBLIC": "true"})
    yield service
    assert service.stop_gracefully()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = _service(tmp_path_factory, {})
    assert "LUCID_METRICS_PUBLIC" not in service.environment()
    yield service
    assert service.stop_gracefully()


def _assert_exposition(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert "lucid_http_requests" in names


def _assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status_code"] == 401


def test_public_metrics_need_no_token(public_server: ServiceProcess) -> None:
    with public_server.client(token=None) as anonymous:
        _assert_exposition(anonymous.get("/metrics"))
        # Only /metrics is opened: the API still wants a token.
        _assert_401(anonymous.get(BASE))
        _assert_401(anonymous.get(f"{BASE}/statistics"))
    with public_server.client(ALICE_TOKEN) as user:
        _assert_exposition(user.get("/metrics"))
    with public_server.client(ADMIN_TOKEN) as admin:
        _assert_exposition(admin.get("/metrics"))


def test_metrics_are_for_administrators_by_default(default_server: ServiceProcess) -> None:
    with default_server.client(token=None) as anonymous:
        _assert_401(anonymous.get("/metrics"))
    with default_server.client(ALICE_TOKEN) as user:
        refused = user.get("/metrics")
        assert refused.status_code == 403, refused.text
        assert "lucid_" not in refused.text
    with default_server.client(ADMIN_TOKEN) as admin:
        _assert_exposition(admin.get("/metrics"))
