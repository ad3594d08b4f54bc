"""API benchmarks with wrk: reading one session, and listing with filters over many sessions.

Run as ``python bench/bench_api.py [NAME=VALUE ...]``; ``bench/run.py`` imports ``run()``.
The server runs pinned to one core and ``wrk`` (Debian package ``wrk``) to the other
(``taskset``), authenticated with the test servers' admin token; INFO logs, as in production.

- ``api.get_session``: ``GET /api/v1/sessions/{id}`` on the embedded store (or the store the
  environment selects), 32 connections. The baseline, measured in the same run under the
  same pinning: ``api.minimal_app``, a minimal Litestar app (``bench/minimal_app.py``)
  returning the same session document from memory under the same uvicorn settings. Targets:
  >= 0.60 of its requests per second, and a p99 at most 3x its p99.
- ``api.get_session_bounded_protocol``: the same GET, its ratio to
  ``api.get_session_unbounded_protocol``, the service served by uvicorn's own httptools
  protocol (``bench/unbounded_serve.py``) in the same run, each the best of two alternated
  measurements: what the limits before the app (header size and time) cost. Target: within
  noise (>= 0.95).
- ``api.list_*``: ``GET /api/v1/sessions?...&limit=50`` over ``SESSIONS`` sessions with two
  filters (``project`` + ``environment``, ``status`` + ``environment``) and none, one client
  (p50, p99) and four clients (p99 < 20 ms on the embedded store).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common, figures
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.servers
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # lucid_sessions

import anyio
import httpx
from tests.servers import ADMIN_TOKEN, ServiceProcess, bearer, free_port

from common import UNBOUNDED, helper_server
from figures import Figure, at_least, at_most, below, summarize
from lucid_sessions.bootstrap.settings import load_settings
from lucid_sessions.bootstrap.stores import open_stores
from lucid_sessions.domain.session import Session, SessionStatus
from lucid_sessions.domain.values import RDPConfig, SessionMetadata, StorageConfig

__all__ = ["SERVER_CORE", "pinned", "run", "wrk"]

SESSIONS, TINY_SESSIONS = 100_000, 300
SECONDS, TINY_SECONDS = 5, 1
CONNECTIONS = 32
TARGET_GET_RATIO = 0.60
TARGET_P99_RATIO = 3.0
TARGET_LIST_P99_MS = 20.0
TARGET_LIMITS_RATIO = 0.95
MINIMAL_APP = Path(__file__).resolve().parent / "minimal_app.py"
PROJECTS = [f"project-{n:02d}" for n in range(20)]
ENVIRONMENTS = ["production", "staging", "development", "test"]
STATUSES = [  # none stopped: the service would start finalizing them during the benchmark
    (SessionStatus.COMPLETED, 0.60),
    (SessionStatus.FAILED, 0.05),
    (SessionStatus.RECORDING, 0.08),
    (SessionStatus.PAUSED, 0.02),
    (SessionStatus.CREATED, 0.25),
]
LIST_QUERIES = {
    "project_environment": "project=project-07&environment=production&limit=50",
    "status_environment": "status=completed&environment=production&limit=50",
    "no_filter": "limit=50",
}


def _cores() -> tuple[str, str]:
    return ("0", "1") if (os.cpu_count() or 1) >= 2 else ("0", "0")


SERVER_CORE, LOAD_CORE = _cores()


def pinned(core: str) -> list[str]:
    """A command prefix that pins to `core` (nothing when taskset is missing)."""
    return ["taskset", "-c", core] if shutil.which("taskset") else []


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(url: str, connections: int, seconds: int, headers: Mapping[str, str]) -> WrkResult:
    """`wrk` pinned to the load core, one thread; its throughput and latency percentiles."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is missing: apt-get install wrk (scripts/ensure-test-services.sh)")
    command = [*pinned(LOAD_CORE), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    out = done.stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: .*", out)
    if socket_errors is not None and "timeout 0" not in socket_errors.group(0):
        raise RuntimeError(f"wrk: {socket_errors.group(0)}")
    return WrkResult(rate, p50, p99, int(errors.group(1)) if errors else 0)


def _checked(result: WrkResult, what: str) -> WrkResult:
    if result.errors:
        raise RuntimeError(f"{what}: {result.errors} answers were not 2xx")
    return result


# -- data -------------------------------------------------------------------------------------


def _sessions(count: int) -> Iterator[Session]:
    rng = random.Random(20261130)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    statuses, weights = zip(*STATUSES, strict=True)
    for n in range(count):
        created = start + timedelta(seconds=n * 30)
        session = Session.create(
            session_id=f"sess-bench{n:021d}",
            name=f"desk {n}",
            rdp_config=RDPConfig(host=f"10.0.{n % 250}.{n % 200 + 1}"),
            now=created,
            metadata=SessionMetadata(
                project=rng.choice(PROJECTS),
                environment=rng.choice(ENVIRONMENTS),
                owner=f"user-{rng.randrange(50):02d}",
                tags=tuple(rng.sample(["ops", "audit", "vendor", "night", "vip"], 2)),
            ),
            storage_config=StorageConfig(retention_days=365),
        )
        status = rng.choices(statuses, weights)[0]
        if status is not SessionStatus.CREATED:
            session.start(created + timedelta(seconds=1))
        if status is SessionStatus.PAUSED:
            session.pause(created + timedelta(seconds=5))
        if status in (SessionStatus.COMPLETED, SessionStatus.FAILED):
            session.stop(created + timedelta(seconds=20))
        if status is SessionStatus.COMPLETED:
            session.begin_processing(created + timedelta(seconds=21))
            session.sign_manifest(
                created + timedelta(seconds=22), b"\x01" * 64, b"\x02" * 32, "0" * 16
            )
            session.complete(created + timedelta(seconds=22))
        elif status is SessionStatus.FAILED:
            session.begin_processing(created + timedelta(seconds=21))
            session.fail(created + timedelta(seconds=22), "benchmark")
        yield session


def _populate(environ: Mapping[str, str], count: int) -> None:
    """`count` sessions written through the configured store's own repository adapter."""

    async def fill() -> None:
        settings = load_settings(environ)
        async with open_stores(settings) as stores:
            for session in _sessions(count):
                await stores.sessions.add(session)

    anyio.run(fill)


# -- runs -------------------------------------------------------------------------------------


@contextmanager
def _minimal_app(document: dict[str, object]) -> Iterator[str]:
    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(document, handle)
    command = [*pinned(SERVER_CORE), sys.executable, str(MINIMAL_APP), str(port), handle.name]
    try:
        with helper_server(command, port, "bench/minimal_app.py") as (url, _pid):
            yield url
    finally:
        os.unlink(handle.name)


@dataclass
class _Prepared:
    folder: Path
    session_id: str
    document: dict[str, object]
    count: int


_PREPARED: dict[tuple[bool, tuple[tuple[str, str], ...]], _Prepared] = {}


def _prepare(env: Mapping[str, str], tiny: bool, folder: Path) -> _Prepared:
    """The store with its sessions, made once per benchmark invocation and reused by every
    run (the runs only read)."""
    count = TINY_SESSIONS if tiny else SESSIONS
    server = ServiceProcess(folder, env={"LOG_LEVEL": "WARNING", **env})
    _populate(server.environment(), count)
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers=bearer(ADMIN_TOKEN)) as http:
            listed = http.get("/api/v1/sessions", params={"limit": 1}).json()
            session_id = listed["sessions"][0]["session_id"]
            document = http.get(f"/api/v1/sessions/{session_id}").json()
    finally:
        server.stop()
    return _Prepared(folder, session_id, document, count)


def run(server_env: Mapping[str, str] | None = None, tiny: bool = False) -> list[Figure]:
    env = dict(server_env or {})
    key = (tiny, tuple(sorted(env.items())))
    if key not in _PREPARED:
        folder = _FOLDERS.enter(tiny)
        _PREPARED[key] = _prepare(env, tiny, folder)
    prepared = _PREPARED[key]
    seconds = TINY_SECONDS if tiny else SECONDS
    headers = bearer(ADMIN_TOKEN)

    def warm_up(url: str, connections: int, warm_headers: Mapping[str, str]) -> None:
        if not tiny:  # a tiny run checks the command: its figures mean nothing anyway
            wrk(url, connections, 1, warm_headers)

    with _minimal_app(prepared.document) as minimal:
        path = f"/api/v1/sessions/{prepared.session_id}"
        warm_up(minimal + path, CONNECTIONS, {})
        floor = _checked(wrk(minimal + path, CONNECTIONS, seconds, {}), "minimal app")

    server = ServiceProcess(
        prepared.folder, env={"LOG_LEVEL": "INFO", **env}, launcher=pinned(SERVER_CORE)
    )
    server.start()
    try:
        url = server.url + f"/api/v1/sessions/{prepared.session_id}"
        warm_up(url, CONNECTIONS, headers)
        got = _checked(wrk(url, CONNECTIONS, seconds, headers), "GET session")
        listed: dict[str, tuple[WrkResult, WrkResult | None]] = {}
        for name, query in LIST_QUERIES.items():
            list_url = f"{server.url}/api/v1/sessions?{query}"
            warm_up(list_url, 1, headers)
            one = _checked(wrk(list_url, 1, seconds, headers), f"list {name}")
            four = None
            if name != "no_filter":
                four = _checked(wrk(list_url, 4, seconds, headers), f"list {name} x4")
            listed[name] = (one, four)
    finally:
        server.stop()
    bounded, unbounded = _limits_cost(prepared, env, seconds, rounds=1 if tiny else 2)

    figures = [
        Figure("api.minimal_app", floor.requests_per_second, "req/s", note="the baseline"),
        Figure(
            "api.get_session",
            got.requests_per_second,
            "req/s",
            "api.minimal_app",
            at_least(TARGET_GET_RATIO),
            f"{CONNECTIONS} connections, server and wrk on separate cores",
        ),
        Figure("api.minimal_app_p99", floor.p99_ms, "ms"),
        Figure(
            "api.get_session_p99",
            got.p99_ms,
            "ms",
            "api.minimal_app_p99",
            at_most(TARGET_P99_RATIO),
        ),
    ]
    figures += [
        Figure(
            "api.get_session_unbounded_protocol",
            unbounded.requests_per_second,
            "req/s",
            note="the same GET, uvicorn's own httptools protocol (no limits before the app)",
        ),
        Figure(
            "api.get_session_bounded_protocol",
            bounded.requests_per_second,
            "req/s",
            "api.get_session_unbounded_protocol",
            at_least(TARGET_LIMITS_RATIO),
            "what the header size and time limits cost",
        ),
    ]
    for name, (one, four) in listed.items():
        figures += [
            Figure(f"api.list_{name}_p50", one.p50_ms, "ms", note=f"{prepared.count:,} sessions"),
            Figure(f"api.list_{name}_p99", one.p99_ms, "ms", note="one client"),
        ]
        if four is not None:
            figures += [
                Figure(
                    f"api.list_{name}_4_clients_p99",
                    four.p99_ms,
                    "ms",
                    target=below(TARGET_LIST_P99_MS),
                ),
                Figure(f"api.list_{name}_4_clients", four.requests_per_second, "req/s"),
            ]
    return figures


def _get_rate(
    prepared: _Prepared, env: Mapping[str, str], seconds: int, launcher: list[str]
) -> WrkResult:
    """`GET /api/v1/sessions/{id}` of the prepared store, by a server started with
    `launcher` (pinned, INFO logs)."""
    server = ServiceProcess(prepared.folder, env={"LOG_LEVEL": "INFO", **env}, launcher=launcher)
    server.start()
    try:
        url = server.url + f"/api/v1/sessions/{prepared.session_id}"
        headers = bearer(ADMIN_TOKEN)
        wrk(url, CONNECTIONS, 1, headers)  # warm-up
        return _checked(wrk(url, CONNECTIONS, seconds, headers), "GET session")
    finally:
        server.stop()


def _limits_cost(
    prepared: _Prepared, env: Mapping[str, str], seconds: int, rounds: int
) -> tuple[WrkResult, WrkResult]:
    """The same GET with and without the limits before the app, alternated `rounds` times
    (best of each), so that drift on the machine touches both alike."""
    bounded: list[WrkResult] = []
    unbounded: list[WrkResult] = []
    for _ in range(rounds):
        bounded.append(_get_rate(prepared, env, seconds, pinned(SERVER_CORE)))
        unbounded.append(_get_rate(prepared, env, seconds, [*pinned(SERVER_CORE), *UNBOUNDED]))

    def best(results: list[WrkResult]) -> WrkResult:
        return max(results, key=lambda result: result.requests_per_second)

    return best(bounded), best(unbounded)


class _Folders:
    """Data folders kept for the whole invocation (the runs reuse the filled store)."""

    def __init__(self) -> None:
        self._open: list[tempfile.TemporaryDirectory[str]] = []

    def enter(self, tiny: bool) -> Path:
        shm = Path("/dev/shm")
        folder = tempfile.TemporaryDirectory(
            prefix=f"lucid-bench-api-{'tiny-' if tiny else ''}",
            dir=shm if shm.is_dir() else None,
        )
        self._open.append(folder)
        return Path(folder.name)

    def close(self) -> None:
        for folder in self._open:
            folder.cleanup()
        self._open.clear()


_FOLDERS = _Folders()


def close() -> None:
    """Remove the data folders of this invocation."""
    _FOLDERS.close()
    _PREPARED.clear()


if __name__ == "__main__":
    try:
        print("\n".join(summarize([run(dict(arg.split("=", 1) for arg in sys.argv[1:]))])))
    finally:
        close()
