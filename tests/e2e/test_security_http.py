"""Authentication, tenancy and hostile input, over a real server."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml

from tests.e2e.http import BASE, OCTETS
from tests.servers import (
    ADMIN_TOKEN,
    ALICE_TOKEN,
    BOB_TOKEN,
    ServiceProcess,
    bearer,
)

pytestmark = pytest.mark.e2e

PUBLIC = {("GET", "/"), ("GET", "/health"), ("GET", "/player/{session_id}")}
JWT_SECRET = "platform-jwt-secret-for-the-tests-0123456789"


def new_session(http: httpx.Client, **body: Any) -> str:
    payload = {"name": "desk", "rdp_config": {"host": "10.0.0.9"}, **body}
    response = http.post(BASE, json=payload)
    assert response.status_code == 201, response.text
    return str(response.json()["session_id"])


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.request.url, response.text)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["status_code"] == 401
    assert "x-request-id" in response.headers


@pytest.fixture(scope="module")
def bobs(server: ServiceProcess) -> str:
    """A session of bob's with one chunk, that alice must never see."""
    with server.client(BOB_TOKEN) as bob:
        sid = new_session(bob)
        assert bob.post(f"{BASE}/{sid}/start").status_code == 200
        assert bob.put(f"{BASE}/{sid}/chunks/0", content=b"bob", headers=OCTETS).status_code == 201
    return sid


def state(owner: httpx.Client, sid: str) -> dict[str, Any]:
    """What the owner sees of a session: its record (its `version` and `updated_at` move on
    any write), its chunk list and its chunks' bytes. Less `duration_seconds`: while the
    session records, that is now - started_at, not stored state."""
    session = owner.get(f"{BASE}/{sid}")
    assert session.status_code == 200, session.text
    record = session.json()
    del record["statistics"]["duration_seconds"]
    chunks = owner.get(f"{BASE}/{sid}/chunks", params={"limit": 1000})
    assert chunks.status_code == 200, chunks.text
    listed = chunks.json()["chunks"]
    blobs = [owner.get(f"{BASE}/{sid}/chunks/{c['chunk_id']}/download").content for c in listed]
    return {"session": record, "chunks": listed, "blobs": blobs}


def operations(http: httpx.Client) -> list[tuple[str, str]]:
    schema = http.get("/schema/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete"}
    ]


def concrete(template: str, sid: str) -> str:
    path = template.replace("{session_id}", sid)
    return re.sub(r"\{(chunk_id|sequence_number)\}", "0", path)


def request(http: httpx.Client, method: str, template: str, sid: str) -> httpx.Response:
    path = concrete(template, sid)
    params = {"from": "0"} if path.endswith("/consistency") else None
    if method == "PUT" and "/chunks/" in path:
        return http.request(method, path, content=b"chunk", headers=OCTETS, params=params)
    if method in ("POST", "PUT") and template in (BASE, f"{BASE}/{{session_id}}"):
        body = {"name": "x", "rdp_config": {"host": "h"}} if method == "POST" else {"name": "x"}
        return http.request(method, path, json=body, params=params)
    if path.endswith("/playback/links"):
        return http.request(method, path, json={"expires_in_seconds": 60})
    return http.request(method, path, params=params)


def test_every_operation_of_the_openapi_document_is_guarded(
    server: ServiceProcess, bobs: str
) -> None:
    forged_token = "not-a-token-" + "x" * 20
    with (
        server.client(None) as anonymous,
        server.client(forged_token) as forged,
        server.client(ALICE_TOKEN) as alice,
        server.client(BOB_TOKEN) as bob,
    ):
        before = state(bob, bobs)
        assert before["blobs"] == [b"bob"]
        found = operations(anonymous)
        assert len(found) >= 25
        for method, template in found:
            if (method, template) in PUBLIC:
                assert request(anonymous, method, template, bobs).status_code == 200
                continue
            assert_401(request(anonymous, method, template, bobs))
            assert_401(request(forged, method, template, bobs))
            with_garbage = anonymous.request(
                method,
                concrete(template, bobs),
                headers={"Authorization": "Basic YWxhZGRpbjpvcGVu"},
            )
            assert_401(with_garbage)
            if "{session_id}" in template:
                answer = request(alice, method, template, bobs)
                assert answer.status_code == 404, (method, template, answer.text)
                assert bobs not in answer.text or "not found" in answer.text
            if method != "GET":  # an update, delete, action or upload refused: nothing changed
                assert state(bob, bobs) == before, (method, template)


def test_a_user_sees_and_changes_only_its_own_sessions(server: ServiceProcess, bobs: str) -> None:
    with (
        server.client(ALICE_TOKEN) as alice,
        server.client(ADMIN_TOKEN) as admin,
        server.client(BOB_TOKEN) as bob,
    ):
        mine = new_session(alice, metadata={"owner": "bob", "project": "p"})
        assert alice.get(f"{BASE}/{mine}").json()["metadata"]["owner"] == "alice"
        listed = alice.get(BASE, params={"limit": 1000}).json()
        assert {s["metadata"]["owner"] for s in listed["sessions"]} == {"alice"}
        assert mine in {s["session_id"] for s in listed["sessions"]}
        assert alice.get(BASE, params={"owner": "bob"}).json()["total"] == 0
        stats = alice.get(f"{BASE}/statistics").json()
        assert stats["sessions_total"] == listed["total"]
        assert admin.get(f"{BASE}/statistics").json()["sessions_total"] > stats["sessions_total"]
        assert admin.get(f"{BASE}/{bobs}").status_code == 200
        before = state(bob, bobs)
        assert alice.delete(f"{BASE}/{bobs}", params={"force": "true"}).status_code == 404
        assert admin.get(f"{BASE}/{bobs}").status_code == 200, "nothing happened to bob's"
        assert state(bob, bobs) == before, "nothing happened to bob's"


def test_only_an_admin_places_or_lifts_a_legal_hold(server: ServiceProcess) -> None:
    hold = {"storage_config": {"legal_hold": True}}
    with server.client(ALICE_TOKEN) as alice, server.client(ADMIN_TOKEN) as admin:
        refused = alice.post(BASE, json={"name": "x", "rdp_config": {"host": "h"}, **hold})
        assert refused.status_code == 403, refused.text
        sid = new_session(alice)
        assert alice.put(f"{BASE}/{sid}", json=hold).status_code == 403
        assert alice.put(f"{BASE}/{sid}", json={"name": "renamed"}).status_code == 200
        held = admin.put(f"{BASE}/{sid}", json=hold)
        assert held.json()["storage_config"]["legal_hold"] is True
        lift = {"storage_config": {"legal_hold": False}}
        assert alice.put(f"{BASE}/{sid}", json=lift).status_code == 403
        assert alice.delete(f"{BASE}/{sid}").status_code == 409


def test_metrics_need_an_admin(server: ServiceProcess) -> None:
    with server.client(None) as anonymous, server.client(ALICE_TOKEN) as alice:
        assert_401(anonymous.get("/metrics"))
        assert alice.get("/metrics").status_code == 403
    with server.client(ADMIN_TOKEN) as admin:
        assert admin.get("/metrics").status_code == 200


def test_hostile_json_is_refused_before_it_costs(server: ServiceProcess) -> None:
    with server.client() as http:
        deep = b"[" * 1000 + b"]" * 1000
        answer = http.post(BASE, content=deep, headers={"content-type": "application/json"})
        assert answer.status_code == 400
        assert "nest" in answer.json()["detail"]
        nested: Any = {"name": "x", "rdp_config": {"host": "h"}}
        for _ in range(40):
            nested = {"metadata": nested}
        assert http.post(BASE, json=nested).status_code == 400
        huge = b'{"name":"' + b"x" * (2 << 20) + b'"}'
        sized = http.post(BASE, content=huge, headers={"content-type": "application/json"})
        assert sized.status_code == 413
        plain = http.post(BASE, content=b"{}", headers={"content-type": "text/plain"})
        assert plain.status_code == 415
        assert http.get("/health").json()["status"] == "healthy"


@pytest.mark.parametrize(
    "host", ["", " ", "a b", "-lead.example", "trail-.example", "x" * 64, "a..b", "h/x", "::g"]
)
def test_rdp_host_must_be_an_address_or_a_host_name(server: ServiceProcess, host: str) -> None:
    with server.client() as http:
        answer = http.post(BASE, json={"name": "x", "rdp_config": {"host": host}})
        assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("host", ["10.0.0.1", "fe80::1", "rdp-01.corp.example", "localhost"])
def test_addresses_and_host_names_are_accepted(server: ServiceProcess, host: str) -> None:
    with server.client() as http:
        assert http.post(BASE, json={"name": "x", "rdp_config": {"host": host}}).status_code == 201


# -- servers of their own ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jwt_server(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[ServiceProcess]:
    env = {**stack_env, "JWT_SECRET_KEY": JWT_SECRET, "LUCID_JWT_ISSUER": "lucid-auth"}
    service = ServiceProcess(tmp_path_factory.mktemp("jwt"), env=env)
    service.start()
    yield service
    service.stop()


def platform_token(sub: str, role: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"sub": sub, "role": role, "iss": "lucid-auth", "iat": now, "exp": now + 300}
    return jwt.encode({**body, **claims}, JWT_SECRET, algorithm="HS256")


def test_platform_jwts_authenticate_beside_the_configured_tokens(
    jwt_server: ServiceProcess,
) -> None:
    with (
        jwt_server.client(platform_token("ops", "super_admin")) as admin,
        jwt_server.client(platform_token("carol", "user")) as carol,
    ):
        theirs = new_session(admin, metadata={"owner": "dave"})
        mine = new_session(carol)
        assert carol.get(f"{BASE}/{mine}").json()["metadata"]["owner"] == "carol"
        assert carol.get(f"{BASE}/{theirs}").status_code == 404
        assert admin.get(f"{BASE}/{mine}").status_code == 200
    with jwt_server.client(ADMIN_TOKEN) as configured:
        assert configured.get(f"{BASE}/{theirs}").status_code == 200
    refused = [
        platform_token("ops", "admin", exp=int(time.time()) - 120),
        platform_token("ops", "admin", iss="someone-else"),
        jwt.encode({"sub": "ops", "role": "admin", "iss": "lucid-auth"}, JWT_SECRET, "HS256"),
        jwt.encode({"sub": "ops", "role": "admin", "exp": 9e9}, key=None, algorithm="none"),
        jwt.encode({"sub": "ops", "exp": 9e9, "iss": "lucid-auth"}, "wrong-" * 8, "HS256"),
    ]
    for token in refused:
        with jwt_server.client(token) as http:
            assert_401(http.get(BASE))


def test_a_token_is_revoked_by_editing_the_token_file(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    keep, revoke = "file-token-keep-" + "k" * 16, "file-token-revoke-" + "r" * 16

    def write(tokens: dict[str, str]) -> None:
        entries = [
            {"token_sha256": hashlib.sha256(t.encode()).hexdigest(), "principal": p, "role": "user"}
            for t, p in tokens.items()
        ]
        path.write_text(yaml.safe_dump(entries))
        path.chmod(0o600)

    path = tmp_path / "tokens.yaml"
    write({keep: "kim", revoke: "rob"})
    env = {**stack_env, "LUCID_API_TOKENS": "", "LUCID_API_TOKENS_FILE": str(path)}
    service = ServiceProcess(tmp_path / "server", env=env)
    service.data_dir.mkdir()
    service.start()
    try:
        with service.client(revoke) as rob, service.client(keep) as kim:
            assert rob.get(BASE).status_code == 200
            write({keep: "kim"})
            assert_401(rob.get(BASE))
            assert kim.get(BASE).status_code == 200
    finally:
        service.stop()


def test_development_without_tokens_runs_open_and_says_so(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    service = ServiceProcess(tmp_path / "open", env={**stack_env, "LUCID_API_TOKENS": ""})
    service.data_dir.mkdir()
    service.start()
    try:
        with service.client(None) as http:
            assert http.get(BASE).status_code == 200
            warnings = http.get("/health").json()["warnings"]
            assert any("authentication is off" in warning for warning in warnings)
    finally:
        service.stop()
    assert "authentication_off" in service.log_path.read_text()


def test_production_refuses_to_start_without_tokens(tmp_path: Path) -> None:
    service = ServiceProcess(
        tmp_path / "prod",
        env={
            "LUCID_ENV": "production",
            "MONGODB_URL": "mongodb://127.0.0.1:9/lucid",
            "LUCID_API_TOKENS": "",
        },
    )
    for command in ("check-config", "serve"):
        done = service.run_cli(command, timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "LUCID_API_TOKENS" in done.stderr
        assert "Traceback" not in done.stderr


def test_check_config_says_how_requests_are_authenticated(server: ServiceProcess) -> None:
    done = server.run_cli("check-config")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["authentication"] == "bearer tokens from LUCID_API_TOKENS"
    assert shown["api_tokens"] == "****"
    assert ADMIN_TOKEN not in done.stdout


def test_cors_answers_configured_origins_only(tmp_path: Path, stack_env: dict[str, str]) -> None:
    env = {**stack_env, "CORS_ORIGINS": "https://gateway.example"}
    service = ServiceProcess(tmp_path / "cors", env=env)
    service.data_dir.mkdir()
    service.start()
    try:
        with service.client(None) as http:
            preflight = {
                "Origin": "https://gateway.example",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization, content-type",
            }
            allowed = http.options(BASE, headers=preflight)
            assert allowed.headers["access-control-allow-origin"] == "https://gateway.example"
            assert "access-control-allow-credentials" not in allowed.headers
            other = http.options(BASE, headers={**preflight, "Origin": "https://evil.example"})
            assert other.headers.get("access-control-allow-origin") != "https://evil.example"
            simple = http.get(
                "/health", headers={"Origin": "https://evil.example", **bearer(ADMIN_TOKEN)}
            )
            assert "access-control-allow-origin" not in simple.headers
    finally:
        service.stop()


@pytest.fixture(scope="module")
def impatient_server(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[ServiceProcess]:
    env = {**stack_env, "LUCID_UPLOAD_IDLE_TIMEOUT_SECONDS": "1"}
    service = ServiceProcess(tmp_path_factory.mktemp("impatient"), env=env)
    service.start()
    yield service
    service.stop()


def test_a_stalled_upload_times_out_and_leaves_nothing(impatient_server: ServiceProcess) -> None:
    with impatient_server.client() as http:
        sid = new_session(http)
        assert http.post(f"{BASE}/{sid}/start").status_code == 200
    head = (
        f"PUT {BASE}/{sid}/chunks/0 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: 100000\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", impatient_server.port), timeout=30) as raw:
        raw.sendall(head + b"x" * 1000)  # then nothing more
        answer = raw.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 408"), answer
    assert time.monotonic() - started < 20
    with impatient_server.client() as http:
        assert http.get(f"{BASE}/{sid}").json()["statistics"]["chunks_count"] == 0
        put = http.put(f"{BASE}/{sid}/chunks/0", content=b"complete", headers=OCTETS)
        assert put.status_code == 201
        assert http.get(f"{BASE}/{sid}/chunks/0/download").content == b"complete"
