"""End-to-end fixtures: a real `lucid-sessions serve` process driven over HTTP.

Every e2e test runs against the configurations of the service (the S3 one leaves out the
modules in BLOB_INDEPENDENT): `embedded` (SQLite and
the filesystem, no cache), `mongo+redis+pkcs11` (MongoDB through Beanie, on the mongoeco wire
server or MONGODB_TEST_URL, a real redis-server as the cache, chunks on the filesystem, and the
master, signing and link keys in a SoftHSM2 token: `LUCID_KEY_STORE=pkcs11`) and
`mongo+redis+s3` (MongoDB and Redis with chunk blobs in a bucket of a real RADOS Gateway; the
keys in files, as on the embedded stack). The stacks share the run's servers
(tests/conftest.py), each on a database and a bucket of its own; a server of a module's own
(`own_server`) on the token stack gets a token of its own, so a rotation there touches no one
else's keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.servers import ServiceProcess
from tests.servers_db import (
    REDIS_DATABASES,
    DatabaseServers,
    MongoTarget,
    RedisServer,
    fresh_database_name,
)
from tests.servers_s3 import S3Server
from tests.softhsm import CONF_ENV, SoftHsm, SoftHsmToken

STACKS = ["embedded", "mongo+redis+pkcs11", "mongo+redis+s3"]

# Modules whose subject never depends on where chunk blobs live (authentication and tenancy,
# hostile bytes at the HTTP edge, the metrics exposition, the docs page and generated client,
# anchoring of the session log, the OpenAPI fuzz): they run on the first two stacks only,
# which keeps the whole suite within its time budget. Everything that stores, reads, tampers
# with, finalizes, verifies or deletes blobs runs on S3 too.
BLOB_INDEPENDENT = {
    "test_security_http.py",
    "test_hostile_http.py",
    "test_metrics_http.py",
    "test_integration.py",
    "test_anchoring_http.py",
    "test_fuzz_openapi.py",
}


# Modules whose subject the embedded store and the full stack (MongoDB, Redis, S3) cover
# between them: the middle stack adds nothing to them (the player page drives a browser over
# the playback routes, which test_playback_http.py runs on every stack, the token one too).
ENDS_ONLY = {"test_player_http.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        on_s3 = "[mongo+redis+s3" in item.nodeid
        in_the_middle = "[mongo+redis+pkcs11" in item.nodeid
        drop = (on_s3 and item.path.name in BLOB_INDEPENDENT) or (
            in_the_middle and item.path.name in ENDS_ONLY
        )
        (dropped if drop else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def s3_env(server: S3Server, bucket: str) -> dict[str, str]:
    """The settings that put chunk blobs in `bucket` on `server`."""
    return {
        "LUCID_BLOB_STORE": "s3",
        "LUCID_S3_ENDPOINT": server.endpoint,
        "LUCID_S3_BUCKET": bucket,
        "LUCID_S3_REGION": server.region,
        "LUCID_S3_PREFIX": "recordings",
        "LUCID_S3_ADDRESSING": "path",
        "LUCID_S3_ACCESS_KEY_ID": server.access_key,
        "LUCID_S3_SECRET_ACCESS_KEY": server.secret_key,
    }


def pkcs11_env(token: SoftHsmToken) -> dict[str, str]:
    """The settings that keep the keys in `token` (SoftHSM2: its configuration goes along)."""
    return {
        "LUCID_KEY_STORE": "pkcs11",
        "LUCID_PKCS11_MODULE": token.module,
        "LUCID_PKCS11_TOKEN_LABEL": token.token_label,
        "LUCID_PKCS11_PIN_FILE": str(token.pin_file),
        CONF_ENV: os.environ[CONF_ENV],
    }


def uses_token(env: dict[str, str]) -> bool:
    return env.get("LUCID_KEY_STORE") == "pkcs11"


def own_keys(env: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    """`env` with a token of its own when the stack keeps its keys in a token."""
    if not uses_token(env):
        return dict(env)
    softhsm: SoftHsm = request.getfixturevalue("softhsm")
    return {**env, **pkcs11_env(softhsm.fresh_token())}


@pytest.fixture(scope="session", params=STACKS)
def stack(request: pytest.FixtureRequest) -> Iterator[DatabaseServers | None]:
    """The stack's settings, on the session's servers (tests/conftest.py): a MongoDB database
    and a Redis database of its own, and on S3 a bucket of its own."""
    if request.param == "embedded":
        yield None
        return
    target: MongoTarget = request.getfixturevalue("mongo_target")
    redis: RedisServer = request.getfixturevalue("session_redis")
    database = fresh_database_name()
    env = {
        "MONGODB_URL": target.url(database),
        "REDIS_URL": redis.url_for(REDIS_DATABASES[request.param]),
    }
    s3: S3Server | None = None
    if request.param == "mongo+redis+s3":
        s3 = request.getfixturevalue("s3_server")
        env.update(s3_env(s3, s3.make_bucket()))
    if request.param == "mongo+redis+pkcs11":
        softhsm: SoftHsm = request.getfixturevalue("softhsm")
        env.update(pkcs11_env(softhsm.fresh_token()))
    try:
        yield DatabaseServers(env, redis, target, s3)
    finally:
        target.drop(database)


@pytest.fixture(scope="session")
def stack_env(stack: DatabaseServers | None) -> dict[str, str]:
    """The environment that selects the configuration under test."""
    return {} if stack is None else dict(stack.env)


@contextmanager
def own_database(stack_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`stack_env` with a MongoDB database of its own (dropped afterwards), so that a server
    sees only the sessions it made: other modules' blobs live in their servers' folders."""
    if "MONGODB_URL" not in stack_env:
        yield dict(stack_env)
        return
    database = fresh_database_name()
    parts = urlsplit(stack_env["MONGODB_URL"])
    try:
        yield {**stack_env, "MONGODB_URL": urlunsplit(parts._replace(path=f"/{database}"))}
    finally:
        MongoTarget(stack_env["MONGODB_URL"], emulated=False).drop(database)


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[ServiceProcess]:
    """The stack's server, shared by every module that needs no settings of its own: each
    test works on sessions it creates (names, owners and projects of its own), so that what
    other modules left on it is never what a test counts. A module whose subject is the whole
    server (a count of everything, a fresh log, settings) starts its own."""
    service = ServiceProcess(tmp_path_factory.mktemp("server"), env=stack_env)
    service.start()
    yield service
    assert service.stop_gracefully(), "the server shuts down cleanly on SIGTERM"


@pytest.fixture(scope="module")
def own_server(
    tmp_path_factory: pytest.TempPathFactory,
    stack_env: dict[str, str],
    request: pytest.FixtureRequest,
) -> Iterator[ServiceProcess]:
    """A server of the module's own, on a database of its own (and a token of its own): for a
    module that reaches every session the server holds (a fuzzer walking the API as admin would
    find the sessions other modules corrupted on purpose, whose reads answer 500 by contract)
    or changes the server's keys."""
    with own_database(own_keys(stack_env, request)) as env:
        service = ServiceProcess(tmp_path_factory.mktemp("own-server"), env=env)
        service.start()
        yield service
        assert service.stop_gracefully(), "the server shuts down cleanly on SIGTERM"


@pytest.fixture
def client(server: ServiceProcess) -> Iterator[httpx.Client]:
    with server.client(timeout=30.0) as http:
        yield http


@pytest.fixture
def data_dir(server: ServiceProcess) -> Path:
    return server.data_dir
