"""Anchoring end to end: the service posts each new signed tree head of the session log to
BLOCKCHAIN_ENGINE_URL, here a small real HTTP server on 127.0.0.1 that is first down, then
refusing, then back; ingest and finalization never wait for it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lucid_sessions.domain.manifest import canonical_json
from lucid_sessions.domain.merkle import verify_consistency
from tests.e2e.http import eventually, metric
from tests.e2e.test_integrity_http import _trusted_public_key
from tests.e2e.test_session_log_http import LOG, _completed
from tests.servers import ServiceProcess, free_port

pytestmark = pytest.mark.e2e


class Engine:
    """A stand-in for the blockchain engine: records every head posted to it (`received`), or
    answers with `status` (e.g. 503) while it is refusing, recording what it refused
    (`refused`)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[dict[str, Any]] = []
        self.refused: list[dict[str, Any]] = []
        self.status = 200
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                kept = engine.received if engine.status == 200 else engine.refused
                kept.append(json.loads(body))
                self.send_response(engine.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _sizes(posts: list[dict[str, Any]]) -> list[int]:
    return [int(p["head"]["tree_size"]) for p in posts]


@pytest.fixture
def engine() -> Iterator[Engine]:
    found = Engine(free_port())
    yield found
    found.stop()


def test_heads_reach_the_engine_once_it_is_back(
    engine: Engine, tmp_path: Path, stack_env: dict[str, str]
) -> None:
    service = ServiceProcess(
        tmp_path,
        env={
            **stack_env,
            "BLOCKCHAIN_ENGINE_URL": f"http://127.0.0.1:{engine.port}/anchor",
            "LUCID_ANCHOR_INTERVAL_SECONDS": "1",
        },
    )
    service.start()
    try:
        with service.client() as http:
            # The engine is down: recording and finalization go on regardless.
            first = _completed(http, name="anchored later")
            size = http.get(LOG).json()["tree_size"]
            assert size >= 1
            engine.start()
            eventually(
                lambda: any(p["head"]["tree_size"] >= size for p in engine.received),
                "the engine, once up, receives the head",
            )

            # The engine refuses for a while: the new head is offered, refused, offered again
            # (the job retries after 1 s), and arrives once the engine takes it.
            engine.status = 503
            accepted = len(engine.received)
            _completed(http, name="anchored after a refusal")
            grown = http.get(LOG).json()["tree_size"]
            assert grown > size
            eventually(lambda: len(engine.refused) >= 2, "two refused posts (a retry)")
            assert max(_sizes(engine.refused)) == grown, _sizes(engine.refused)
            assert len(engine.received) == accepted, "nothing was taken while refusing"
            engine.status = 200
            eventually(
                lambda: any(p["head"]["tree_size"] >= grown for p in engine.received),
                "the refused head arrives once the engine takes it",
            )
            assert http.get(f"/api/v1/sessions/{first}").status_code == 200
        key = _trusted_public_key(service)
        for posted in engine.received:
            assert posted["type"] == "lucid-sessions/log-head"
            head = posted["head"]
            unsigned = {k: v for k, v in head.items() if k != "signature"}
            key.verify(bytes.fromhex(head["signature"]), canonical_json(unsigned))
        sizes = [p["head"]["tree_size"] for p in engine.received]
        assert sizes == sorted(set(sizes)), "each size is anchored once, in order"
        older, newer = engine.received[0]["head"], engine.received[-1]["head"]
        with service.client() as http:
            proof = http.get(
                f"{LOG}/consistency",
                params={"from": older["tree_size"], "to": newer["tree_size"]},
            ).json()["proof"]
        assert verify_consistency(
            older["tree_size"],
            newer["tree_size"],
            bytes.fromhex(older["root"]),
            bytes.fromhex(newer["root"]),
            [bytes.fromhex(h) for h in proof],
        )
        assert "job_failing" in service.log_path.read_text()
    finally:
        assert service.stop_gracefully()

    # The anchored size is kept in the store: a restart does not post the same head again.
    # The restarted service reports that size; its anchoring job runs at start (and then every
    # second): when the log grows, the one head it posts is the new one, never an old one.
    posted = len(engine.received)
    anchored = max(_sizes(engine.received))
    service.start()
    try:
        with service.client() as http:
            assert metric(http, "lucid_session_log_anchored_size", exact=True) == anchored
            _completed(http, name="anchored after the restart")
            newest = http.get(LOG).json()["tree_size"]
            assert newest > anchored
            eventually(
                lambda: any(p["head"]["tree_size"] >= newest for p in engine.received),
                "the restarted service anchors the grown log",
            )
            assert _sizes(engine.received[posted:]) == [newest], "no head posted twice"
            assert metric(http, "lucid_session_log_anchored_size", exact=True) == newest
    finally:
        assert service.stop_gracefully()
