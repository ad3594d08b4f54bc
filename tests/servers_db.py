"""Real database servers for tests, each on a free 127.0.0.1 port, stopped afterwards.

- Redis: Debian's `redis-server` (installed by scripts/ensure-test-services.sh), without
  persistence. `kill`, `restart` (same port), `pause`/`resume` (SIGSTOP: a hung server) make
  outages for the cache tests.
- MongoDB: no `mongod` exists for these machines, so the MongoDB suites talk to mongoeco, a
  MongoDB wire-protocol server (PyPI `mongoeco[wire]`), run as a separate process by Python
  3.13 from its own virtualenv `.venv-mongoeco` (override: LUCID_MONGOECO_VENV). PyMongo's
  async client and Beanie speak the real wire protocol to it. With `MONGODB_TEST_URL` set, the
  suites use that real server instead; either way each test gets a fresh database.

When a server cannot be had, helpers raise `ServerUnavailable` with the reason; fixtures turn
it into a failure naming the component.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from tests.components import unavailable
from tests.servers import free_port

__all__ = [
    "MONGOECO_VENV",
    "REDIS_DATABASES",
    "DatabaseServers",
    "MongoTarget",
    "MongoecoServer",
    "RedisServer",
    "ServerUnavailable",
    "fresh_database_name",
    "mongo_target_from_env",
    "mongoeco_python",
    "redis_server_binary",
    "running_or_skip",
]

ROOT = Path(__file__).resolve().parents[1]
MONGOECO_VENV = Path(os.environ.get("LUCID_MONGOECO_VENV", str(ROOT / ".venv-mongoeco")))

# With --user and --password-file: one SCRAM user (role root), and every command needs
# authentication (the password is read from the file, never passed on the command line).
_MONGOECO_LAUNCHER = r"""
import argparse, asyncio, signal
from mongoeco.engines import MemoryEngine, SQLiteEngine
from mongoeco.wire import AsyncMongoEcoProxyServer, WireAuthUser

async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sqlite")
    parser.add_argument("--user")
    parser.add_argument("--password-file")
    args = parser.parse_args()
    engine = SQLiteEngine(args.sqlite, executor_workers=1) if args.sqlite else MemoryEngine()
    users = ()
    if args.user:
        password = open(args.password_file).read()
        users = (WireAuthUser(args.user, password, roles=({"role": "root", "db": "admin"},)),)
    server = AsyncMongoEcoProxyServer(
        engine=engine, host=args.host, port=args.port, auth_users=users
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    address = await server.start()
    print("mongoeco ready", address.uri, flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()

asyncio.run(main())
"""


class ServerUnavailable(RuntimeError):
    """A test server cannot be started here: `component` names it (see tests/components.py),
    the message says why and what to run."""

    def __init__(self, component: str, message: str) -> None:
        super().__init__(message)
        self.component = component


def fresh_database_name() -> str:
    return f"lucid_test_{uuid.uuid4().hex[:16]}"


# -- Redis ---------------------------------------------------------------------------------------


# The session redis-server's numbered databases (tests/conftest.py `session_redis`), one per
# user, so that none sees another's keys (0 stays unused).
REDIS_DATABASES = {"mongo+redis+pkcs11": 1, "mongo+redis+s3": 2, "replicas": 3, "secret-files": 4}


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if Path(p).exists()),
        None,
    )
    if found is None:
        raise ServerUnavailable(
            "redis", "redis-server is not installed (scripts/ensure-test-services.sh installs it)"
        )
    return found


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class _Process:
    """A server process with a log file, stopped by pid (never by name)."""

    component: ClassVar[str]
    data_dir: Path
    name: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def _spawn(self, command: list[str]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir
            )

    def _wait(self, answers: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise ServerUnavailable(
                    self.component, f"{self.name} exited early:\n{self._log_tail()}"
                )
            if answers():
                return
            time.sleep(0.05)
        self.stop()
        raise ServerUnavailable(
            self.component, f"{self.name} did not answer in {timeout}s:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM (SIGKILL after 10 s); a paused process is resumed first."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: an abrupt outage."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: the server keeps its connections but answers nothing (a hung server)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@dataclass
class RedisServer(_Process):
    name: str = "redis"
    component: ClassVar[str] = "redis"

    @property
    def url(self) -> str:
        return self.url_for(0)

    def url_for(self, database: int) -> str:
        """The URL of one of the server's numbered databases (0-15): users of the session's
        server keep apart by number (REDIS_DATABASES)."""
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 10.0) -> RedisServer:
        self._spawn(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.data_dir),
            ]
        )
        self._wait(lambda: _redis_answers(self.port), timeout)
        return self

    def restart(self, timeout: float = 10.0) -> RedisServer:
        """Stop and start again on the same port (an empty server: nothing is persisted)."""
        self.stop()
        return self.start(timeout)


# -- MongoDB (mongoeco) --------------------------------------------------------------------------


@cache
def mongoeco_python() -> str:
    """The interpreter of `.venv-mongoeco`, checked to import mongoeco's wire server and pymongo
    (without pymongo the server silently drops every connection)."""
    python = MONGOECO_VENV / "bin" / "python"
    if not python.exists():
        raise ServerUnavailable(
            "mongo",
            f"{MONGOECO_VENV} does not exist: run scripts/ensure-test-services.sh "
            "(it needs Python 3.13: pyenv, python3.13 on PATH, or LUCID_PYTHON313)",
        )
    check = subprocess.run(
        [str(python), "-c", "import mongoeco.wire.proxy, pymongo"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check.returncode != 0:
        raise ServerUnavailable(
            "mongo",
            f"mongoeco[wire] or pymongo is missing in {MONGOECO_VENV}: "
            f"{check.stderr.strip()[-500:]} (run scripts/ensure-test-services.sh)",
        )
    return str(python)


# The wire server's SCRAM-SHA-1 refuses good passwords, and pymongo falls back to it when it
# negotiates: an authenticating server's URL names SCRAM-SHA-256.
_AUTH_OPTIONS = "directConnection=true&authSource=admin&authMechanism=SCRAM-SHA-256"


def _mongo_answers(url: str) -> bool:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=300)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


@dataclass
class MongoecoServer(_Process):
    """mongoeco's wire server; in memory, or on a SQLite file (`sqlite_path`) that outlives
    restarts. With `auth_user`, it requires SCRAM as that user with `password` (handed to
    the server in a file of mode 0600 beside its log, not on the command line), and `url`
    carries both."""

    name: str = "mongoeco"
    component: ClassVar[str] = "mongo"
    sqlite_path: Path | None = None
    auth_user: str | None = None
    password: str = ""

    @property
    def url(self) -> str:
        if self.auth_user is None:
            return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        user, secret = quote(self.auth_user, safe=""), quote(self.password, safe="")
        return f"mongodb://{user}:{secret}@127.0.0.1:{self.port}/?{_AUTH_OPTIONS}"

    @property
    def password_file(self) -> Path:
        return self.data_dir / "password"

    def start(self, timeout: float = 30.0) -> MongoecoServer:
        command = [mongoeco_python(), "-c", _MONGOECO_LAUNCHER, "--port", str(self.port)]
        if self.sqlite_path is not None:
            command += ["--sqlite", str(self.sqlite_path)]
        if self.auth_user is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.password_file.write_text(self.password)
            self.password_file.chmod(0o600)
            command += ["--user", self.auth_user, "--password-file", str(self.password_file)]
        self._spawn(command)
        self._wait(lambda: _mongo_answers(self.url), timeout)
        return self

    def restart(self, timeout: float = 30.0) -> MongoecoServer:
        self.stop()
        return self.start(timeout)


Server = TypeVar("Server", RedisServer, MongoecoServer)


@contextmanager
def running_or_skip(server: Server) -> Iterator[Server]:
    """Start a test server and stop it afterwards; one that cannot start fails the test
    naming it (or skips it, when the developer allowed that component to be missing)."""
    try:
        server.start()
    except ServerUnavailable as exc:
        unavailable(server.component, str(exc))
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class MongoTarget:
    """Where the MongoDB suites connect: a mongoeco server, or MONGODB_TEST_URL."""

    base_url: str
    emulated: bool

    def url(self, database: str) -> str:
        """`base_url` with `database` as its path (the database open_mongo picks)."""
        parts = urlsplit(self.base_url)
        query = parts.query
        keys = {key.lower() for key, _ in parse_qsl(query)}
        if "@" in parts.netloc and "authsource" not in keys:  # keep authenticating where it did
            auth = f"authSource={parts.path.strip('/') or 'admin'}"
            query = f"{query}&{auth}" if query else auth
        return urlunsplit((parts.scheme, parts.netloc, f"/{database}", query, ""))

    def drop(self, database: str) -> None:
        """Remove a test database (a real server keeps them otherwise)."""
        from pymongo import MongoClient

        client: MongoClient[dict[str, object]] = MongoClient(
            self.base_url, serverSelectionTimeoutMS=2000
        )
        try:
            client.drop_database(database)
        except Exception:  # cleanup is best effort
            pass
        finally:
            client.close()


def mongo_target_from_env() -> MongoTarget | None:
    url = os.environ.get("MONGODB_TEST_URL", "").strip()
    return MongoTarget(url, emulated=False) if url else None


# -- both, for a `lucid-sessions serve` process ----------------------------------------------------


@dataclass
class DatabaseServers:
    """A MongoDB database and a Redis database for one service process (e2e tests), on the
    session's servers (tests/conftest.py)."""

    env: dict[str, str]  # MONGODB_URL and REDIS_URL, for tests.servers.ServiceProcess(env=...)
    redis: RedisServer  # the session's: shared, so never killed (start your own to do that)
    mongo: MongoTarget  # the session's mongoeco server, or MONGODB_TEST_URL
    s3: Any = None  # the session's tests.servers_s3.S3Server when chunk blobs go to S3
