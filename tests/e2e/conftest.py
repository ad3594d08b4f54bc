"""End-to-end fixtures: a real `lucid-sessions serve` process driven over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import ServiceProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    service = ServiceProcess(tmp_path_factory.mktemp("server"))
    service.start()
    yield service
    assert service.stop_gracefully(), "the server shuts down cleanly on SIGTERM"


@pytest.fixture
def client(server: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        yield http


@pytest.fixture
def data_dir(server: ServiceProcess) -> Path:
    return server.data_dir
