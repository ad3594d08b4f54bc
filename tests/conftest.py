"""Shared test fixtures, and the run's last line when components were allowed to be missing.

The run's servers, one of each, started when a test first needs them: `mongo_target` (one
mongoeco wire server, or MONGODB_TEST_URL; a fresh database per user), `session_redis` (one
redis-server; users keep apart by database number, tests/servers_db.py REDIS_DATABASES) and
`s3_server` (one RADOS Gateway on one throwaway Ceph cluster; a bucket per user,
`make_bucket()`), and `softhsm` (SoftHSM2 with one token and spare empty ones,
`softhsm_token` hands a test one of its own). A test that kills,
pauses or restarts one of them brings it back in a `finally` and waits until it answers; a
test that needs a server it may lose for good starts its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.components import ALLOW_MISSING, allowed_missing, ran_without, unavailable
from tests.servers_db import (
    MongoecoServer,
    MongoTarget,
    RedisServer,
    ServerUnavailable,
    mongo_target_from_env,
    running_or_skip,
)
from tests.servers_s3 import S3Server
from tests.softhsm import SoftHsm, SoftHsmToken, start_softhsm


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def mongo_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoTarget]:
    """MONGODB_TEST_URL, or one mongoeco server (in memory) for the whole test session."""
    configured = mongo_target_from_env()
    if configured is not None:
        yield configured
        return
    with running_or_skip(MongoecoServer(tmp_path_factory.mktemp("mongoeco"))) as server:
        yield MongoTarget(server.url, emulated=True)


@pytest.fixture(scope="session")
def session_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the whole test session (`url_for(REDIS_DATABASES[user])`)."""
    with running_or_skip(RedisServer(tmp_path_factory.mktemp("redis"))) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One RADOS Gateway (its own throwaway Ceph cluster) for the whole test session."""
    server = S3Server(tmp_path_factory.mktemp("radosgw"))
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable("s3", str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """The run's SoftHSM2 (a module loads once per process): one token and spare empty ones."""
    yield from start_softhsm(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture
def softhsm_token(softhsm: SoftHsm) -> SoftHsmToken:
    """An empty SoftHSM2 token of this test's own, nobody logged in to it yet."""
    return softhsm.fresh_token()


def pytest_configure(config: pytest.Config) -> None:
    allowed_missing()  # an unknown component name stops the run before it starts


def pytest_unconfigure(config: pytest.Config) -> None:
    """After pytest's own summary: say that this was not a full run, and what it lacked."""
    allowed = allowed_missing()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not allowed or reporter is None:
        return
    missing = ran_without()
    lacked = ", ".join(sorted(missing)) if missing else "nothing was missing"
    reporter.write_line(
        f"NOT A FULL RUN: {ALLOW_MISSING}={','.join(sorted(allowed))} allowed components to be "
        f"missing; skipped for lack of: {lacked}",
        yellow=True,
        bold=True,
    )
