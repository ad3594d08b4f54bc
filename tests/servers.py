"""Real processes for tests: free ports, waiting until they answer, clean stops."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "ADMIN_TOKEN",
    "ALICE_TOKEN",
    "BOB_TOKEN",
    "LONGEST_SUBPROCESS",
    "PER_TEST_TIMEOUT",
    "TEST_TOKENS",
    "ServiceProcess",
    "bearer",
    "free_port",
    "lucid_sessions_command",
]

# pyproject.toml's [tool.pytest.ini_options] `timeout`: pytest-timeout kills a test after it
# (tests/unit/test_test_timeouts.py checks that the two agree).
PER_TEST_TIMEOUT = 300.0
# The longest any one subprocess or wait of a test may take: below PER_TEST_TIMEOUT with room
# for the test's other work, so that a slow command fails the test with its own message (and
# its output so far) instead of pytest-timeout killing the test first without either.
LONGEST_SUBPROCESS = 240.0

# The tokens every test server accepts (LUCID_API_TOKENS): one admin, two users.
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ALICE_TOKEN = "test-alice-token-0123456789abcdef"
BOB_TOKEN = "test-bob-token-0123456789abcdef0"
TEST_TOKENS = f"{ADMIN_TOKEN}=admin:admin,{ALICE_TOKEN}=alice:user,{BOB_TOKEN}=bob:user"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def lucid_sessions_command() -> list[str]:
    """The installed console script, next to the running interpreter."""
    script = Path(sys.executable).parent / "lucid-sessions"
    if script.exists():
        return [str(script)]
    found = shutil.which("lucid-sessions")
    if found:
        return [found]
    return [sys.executable, "-m", "lucid_sessions.bootstrap.main"]


@dataclass
class ServiceProcess:
    """`lucid-sessions serve` on a free 127.0.0.1 port, with its own data folder."""

    data_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    launcher: list[str] = field(default_factory=list)
    """Put before the command, e.g. ["taskset", "-c", "0"] (benchmarks pin the server)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def environment(self) -> dict[str, str]:
        """The service's environment: ours, less any service setting, plus its own."""
        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LUCID_", "MONGODB_", "REDIS_", "SESSION_API_"))
        }
        environ.update(
            {
                "LUCID_ENV": "development",
                "LUCID_STORAGE_PATH": str(self.data_dir / "sessions"),
                "LUCID_CHUNK_STORE_PATH": str(self.data_dir / "chunks"),
                "LOG_LEVEL": "INFO",
                "LUCID_API_TOKENS": TEST_TOKENS,
            }
        )
        environ.update(self.env)
        return environ

    def client(self, token: str | None = ADMIN_TOKEN, **options: Any) -> httpx.Client:
        """An HTTP client of this server, sending `token` (None: no credentials)."""
        headers = {} if token is None else bearer(token)
        options.setdefault("timeout", 30.0)
        return httpx.Client(base_url=self.url, headers=headers, **options)

    def run_cli(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """`lucid-sessions ARGS` beside the server, with the server's configuration."""
        return subprocess.run(
            [*lucid_sessions_command(), *args],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, timeout: float = 30.0) -> None:
        environ = self.environment()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *self.launcher,
                *lucid_sessions_command(),
                *("serve", "--host", "127.0.0.1", "--port", str(self.port)),
            ],
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code in (200, 503):
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer in {timeout}s:\n{self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def stop_gracefully(self) -> bool:
        """SIGTERM; True when the server ran its shutdown to the end (uvicorn re-raises the
        signal after a graceful shutdown, so the exit status is -SIGTERM or 0)."""
        code = self.stop(signal.SIGTERM)
        return code in (0, -signal.SIGTERM) and '"stopped"' in self.log_path.read_text()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)
