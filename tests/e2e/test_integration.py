"""The API as integrators see it: a client generated from the served OpenAPI document drives
the whole journey; HTTP semantics; the offline docs page; compatibility and merge semantics."""

from __future__ import annotations

import importlib
import io
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import FLAGS
from tests.components import unavailable
from tests.e2e.http import BASE, OCTETS, eventually
from tests.servers import ADMIN_TOKEN, ServiceProcess, lucid_sessions_command

pytestmark = pytest.mark.e2e


def tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    if not found.exists():
        unavailable("test-extra", f"{found} does not exist")
    return str(found)


@pytest.fixture(scope="module")
def document(server: ServiceProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    with server.client(None) as anonymous:
        answer = anonymous.get("/schema/openapi.json")
    assert answer.status_code == 200
    path.write_bytes(answer.content)
    return path


def test_the_document_is_valid_openapi(document: Path) -> None:
    done = subprocess.run(
        [tool("openapi-spec-validator"), str(document)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_document_declares_what_a_client_needs(document: Path) -> None:
    spec = json.loads(document.read_text())
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/health"]["get"]["security"] == []
    upload = spec["paths"][f"{BASE}/{{session_id}}/chunks/{{chunk_id}}"]["put"]
    assert "application/octet-stream" in upload["requestBody"]["content"]
    headers = {p["name"] for p in upload["parameters"] if p["in"] == "header"}
    assert headers == {
        "X-Content-BLAKE3",
        "X-Chunk-Timestamp",
        "X-Chunk-Duration-Seconds",
        "X-Chunk-Frame-Count",
    }
    shapes = [
        tuple(part if not part.startswith("{") else "{}" for part in path.split("/"))
        for path in spec["paths"]
    ]
    assert len(shapes) == len(set(shapes)), "two path templates differ only in a name"
    create = spec["components"]["schemas"]["CreateSessionRequest"]
    assert create["additionalProperties"] is False
    metadata = spec["components"]["schemas"]["SessionMetadataPatch"]
    assert "null removes" in metadata["description"]
    for item in spec["paths"].values():
        for operation in item.values():
            assert operation["operationId"]
            assert any(int(status) < 300 for status in operation["responses"])
            if operation.get("security") != []:
                assert "401" in operation["responses"], operation["operationId"]


@pytest.fixture(scope="module")
def generated(document: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Python client generated from the served document by openapi-python-client."""
    folder = tmp_path_factory.mktemp("client")
    done = subprocess.run(
        [
            tool("openapi-python-client"),
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--output-path",
            str(folder / "lucid_client"),
        ],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    assert (folder / "lucid_client" / "client.py").exists(), done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("lucid_client")
    finally:
        sys.path.remove(str(folder))
        for name in [
            n for n in sys.modules if n == "lucid_client" or n.startswith("lucid_client.")
        ]:
            del sys.modules[name]


def test_a_generated_client_drives_the_whole_journey(
    generated: Any, server: ServiceProcess
) -> None:
    models = importlib.import_module("lucid_client.models")
    types = importlib.import_module("lucid_client.types")
    client = generated.AuthenticatedClient(base_url=server.url, token=ADMIN_TOKEN)
    body = models.CreateSessionRequest.from_dict(
        {"name": "generated", "rdp_config": {"host": "10.9.8.7"}, "metadata": {"project": "g"}}
    )
    created = importlib.import_module("lucid_client.api.sessions.create_session").sync_detailed(
        client=client, body=body
    )
    assert created.status_code == 201
    sid = created.parsed.session_id
    assert created.headers["location"] == f"{BASE}/{sid}"
    started = importlib.import_module("lucid_client.api.sessions.start_recording").sync(
        sid, client=client
    )
    assert started.status.value == "recording"
    data = [bytes([n]) * (40_000 + n) for n in range(3)]
    upload = importlib.import_module("lucid_client.api.chunks.upload_chunk")
    for n, piece in enumerate(data):
        stored = upload.sync_detailed(
            sid,
            str(n),
            client=client,
            body=types.File(payload=io.BytesIO(piece), mime_type="application/octet-stream"),
            x_chunk_frame_count=10,
        )
        assert stored.status_code == 201, stored.content
        assert stored.parsed.sequence_number == n
    download = importlib.import_module("lucid_client.api.chunks.download_chunk")
    assert download.sync_detailed(sid, "1", client=client).content == data[1]
    recording = importlib.import_module("lucid_client.api.chunks.download_recording")
    assert recording.sync_detailed(sid, client=client).content == b"".join(data)
    stop = importlib.import_module("lucid_client.api.sessions.stop_recording")
    assert stop.sync(sid, client=client).status.value in ("stopped", "processing", "completed")
    get = importlib.import_module("lucid_client.api.sessions.get_session")
    eventually(
        lambda: get.sync(sid, client=client).status.value == "completed",
        "finalization did not complete",
        timeout=30,
    )
    manifest = importlib.import_module("lucid_client.api.integrity.manifest").sync(
        sid, client=client
    )
    assert manifest.additional_properties["chunks_count"] == 3
    assert manifest.additional_properties["signature"]
    proof = importlib.import_module("lucid_client.api.integrity.inclusion_proof").sync(
        sid, "2", client=client
    )
    assert proof.tree_size == 3
    listed = importlib.import_module("lucid_client.api.chunks.list_chunks").sync(sid, client=client)
    assert listed.total == 3
    delete = importlib.import_module("lucid_client.api.sessions.delete_session")
    assert delete.sync(sid, client=client).deleted is True
    assert get.sync_detailed(sid, client=client).status_code == 404


# -- HTTP semantics ------------------------------------------------------------------------------


def recording_session(http: httpx.Client, *pieces: bytes) -> str:
    sid = str(http.post(BASE, json={"name": "x", "rdp_config": {"host": "h"}}).json()["session_id"])
    assert http.post(f"{BASE}/{sid}/start").status_code == 200
    for n, piece in enumerate(pieces):
        assert (
            http.put(f"{BASE}/{sid}/chunks/{n}", content=piece, headers=OCTETS).status_code == 201
        )
    return sid


def test_head_answers_wherever_get_does(server: ServiceProcess) -> None:
    with server.client() as http:
        sid = recording_session(http, b"a" * 1000, b"b" * 500)
        live = ("/health", BASE, f"{BASE}/{sid}")  # figures that move with the clock
        stable = (f"{BASE}/{sid}/chunks/0/download", f"{BASE}/{sid}/recording")
        for path in (*live, *stable, f"{BASE}/{sid}/manifest"):
            got, head = http.get(path), http.head(path)
            assert head.status_code == got.status_code, path
            assert head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path
            if path in stable:
                for name in ("etag", "content-length", "accept-ranges", "content-disposition"):
                    assert head.headers.get(name) == got.headers[name], (path, name)
        ranged = http.head(f"{BASE}/{sid}/recording", headers={"Range": "bytes=0-9"})
        assert ranged.status_code == 206
        assert ranged.headers["content-length"] == "10"
        assert http.head(f"{BASE}/sess-missing").status_code == 404
    with server.client(None) as anonymous:
        assert anonymous.head(BASE).status_code == 401


def test_options_and_405_tell_the_true_allow(server: ServiceProcess, document: Path) -> None:
    spec = json.loads(document.read_text())
    with server.client() as http:
        for template, item in spec["paths"].items():
            path = template.replace("{session_id}", "sess-x").replace("{chunk_id}", "0")
            documented = {method.upper() for method in item}
            expected = documented | {"OPTIONS"} | ({"HEAD"} if "GET" in documented else set())
            answer = http.options(path)
            assert answer.status_code == 204, path
            assert set(answer.headers["allow"].split(", ")) == expected, path
            assert "x-request-id" in answer.headers
        refused = http.patch(f"{BASE}/sess-x")
        assert refused.status_code == 405
        assert set(refused.headers["allow"].split(", ")) == {
            "GET",
            "HEAD",
            "PUT",
            "DELETE",
            "OPTIONS",
        }
        assert refused.headers["x-request-id"]


def test_every_answer_has_a_request_id_and_unmatched_routes_are_counted(
    server: ServiceProcess,
) -> None:
    with server.client() as http:
        missing = http.get("/no/such/route", headers={"X-Request-ID": "trace-404-abc"})
        assert missing.status_code == 404
        assert missing.headers["x-request-id"] == "trace-404-abc"
        assert missing.json()["status_code"] == 404
        assert http.post("/health").headers["x-request-id"]
        for _ in range(3):
            http.get(f"/random/{time.monotonic()}")
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].count("charset") == 1
        text = metrics.text
    unmatched = [
        line for line in text.splitlines() if 'route="unmatched"' in line and "_total" in line
    ]
    assert unmatched, "unmatched requests are counted under one label"
    assert "/random/" not in text
    log = server.log_path.read_text()
    assert '"request_id": "trace-404-abc"' in log
    assert '"route": "unmatched"' in log


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
def test_a_json_body_of_another_type_is_415(
    server: ServiceProcess, content_type: str | None
) -> None:
    body = json.dumps({"name": "x", "rdp_config": {"host": "h"}}).encode()
    headers = {} if content_type is None else {"content-type": content_type}
    with server.client() as http:
        answer = http.post(BASE, content=body, headers=headers)
        assert answer.status_code == 415, answer.text
        sid = recording_session(http)
        put = http.put(f"{BASE}/{sid}", content=b'{"name": "y"}', headers=headers)
        assert put.status_code == 415


def test_created_answers_carry_a_location_that_works(server: ServiceProcess) -> None:
    with server.client() as http:
        created = http.post(BASE, json={"name": "x", "rdp_config": {"host": "h"}})
        assert (
            http.get(created.headers["location"]).json()["session_id"]
            == (created.json()["session_id"])
        )
        sid = created.json()["session_id"]
        http.post(f"{BASE}/{sid}/start")
        stored = http.put(f"{BASE}/{sid}/chunks/000", content=b"zero", headers=OCTETS)
        assert stored.headers["location"] == f"{BASE}/{sid}/chunks/0"
        assert http.get(stored.headers["location"]).json()["sequence_number"] == 0


def test_if_range_with_a_stale_validator_sends_everything(server: ServiceProcess) -> None:
    with server.client() as http:
        data = bytes(range(256)) * 40
        sid = recording_session(http, data)
        url = f"{BASE}/{sid}/chunks/0/download"
        etag = http.get(url).headers["etag"]
        same = http.get(url, headers={"Range": "bytes=10-19", "If-Range": etag})
        assert same.status_code == 206
        assert same.content == data[10:20]
        for stale in ('"0000"', "Wed, 21 Oct 2015 07:28:00 GMT", f"W/{etag}"):
            whole = http.get(url, headers={"Range": "bytes=10-19", "If-Range": stale})
            assert whole.status_code == 200, stale
            assert whole.content == data


# -- compatibility and merge semantics -----------------------------------------------------------


def test_the_original_clients_payload_is_accepted(server: ServiceProcess) -> None:
    original = {
        "name": "Support call",
        "description": "remote assistance",
        "rdp_config": {
            "host": "192.168.1.50",
            "port": 3389,
            "username": "support",
            "password": "not-kept",
            "domain": "CORP",
            "use_tls": True,
            "ignore_cert": False,
        },
        "recording_config": {
            "frame_rate": 30,
            "resolution": "1920x1080",
            "quality": "high",
            "compression": "zstd",
            "audio_enabled": True,
            "cursor_enabled": True,
        },
        "storage_config": {
            "retention_days": 30,
            "max_size_gb": 10,
            "encryption_enabled": True,
            "compression_enabled": True,
            "backup_enabled": True,
            "archive_enabled": False,
        },
        "metadata": {"project": "lucid", "environment": "prod", "tags": ["support"]},
    }
    with server.client() as http:
        created = http.post(BASE, json=original)
        assert created.status_code == 201, created.text
        storage = http.get(created.headers["location"]).json()["storage_config"]
        assert storage["backup_enabled"] is True
        assert storage["archive_enabled"] is False
        assert "not-kept" not in created.text


def test_put_merges_metadata_and_null_removes_a_key(server: ServiceProcess) -> None:
    with server.client() as http:
        body = {"name": "m", "rdp_config": {"host": "h"}}
        body["metadata"] = {"project": "p", "environment": "e", "tags": ["a"]}
        sid = http.post(BASE, json=body).json()["session_id"]
        tagged = http.put(f"{BASE}/{sid}", json={"metadata": {"tags": ["b", "c"]}}).json()
        assert tagged["metadata"]["project"] == "p"
        assert tagged["metadata"]["tags"] == ["b", "c"]
        removed = http.put(f"{BASE}/{sid}", json={"metadata": {"environment": None}}).json()
        assert removed["metadata"]["environment"] is None
        assert removed["metadata"]["project"] == "p"
        kept = http.put(f"{BASE}/{sid}", json={"storage_config": {"retention_days": 9}}).json()
        assert kept["storage_config"]["retention_days"] == 9
        assert kept["storage_config"]["compression_enabled"] is True
        bad = http.put(f"{BASE}/{sid}", json={"metadata": {"colour": "red"}})
        assert bad.status_code == 400


def test_figures_that_describe_the_same_thing_agree(server: ServiceProcess) -> None:
    with server.client() as http:
        sid = recording_session(http, b"frame " * 20_000, b"other " * 30_000)
        pipeline = http.get(f"{BASE}/{sid}/pipeline").json()["overall_metrics"]
        statistics = http.get(f"{BASE}/{sid}").json()["statistics"]
        stats = http.get(f"{BASE}/{sid}/statistics").json()["storage_stats"]
    assert pipeline["bytes_in"] == statistics["size_bytes"] == stats["size_bytes"]
    assert pipeline["bytes_out"] == statistics["stored_bytes"] == stats["stored_bytes"]
    ratio = pipeline["bytes_in"] / pipeline["bytes_out"]
    assert pipeline["compression_ratio"] == pytest.approx(ratio)
    assert statistics["compression_ratio"] == pytest.approx(ratio)
    assert stats["compression_ratio"] == pytest.approx(ratio)


def test_operator_commands_never_create_an_empty_store(
    server: ServiceProcess, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**server.environment(), "LUCID_STORAGE_PATH": "data/sessions"}
    env["LUCID_CHUNK_STORE_PATH"] = "data/chunks"
    done = subprocess.run(
        [*lucid_sessions_command(), "verify", "sess-anything"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "LUCID_STORAGE_PATH" in done.stderr
    assert "does not exist" in done.stderr
    assert list(elsewhere.iterdir()) == [], "nothing was created"


# -- the docs page, offline ----------------------------------------------------------------------


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    unavailable("chromium", "neither chromium nor chromium-browser is on PATH")


def test_the_docs_page_renders_with_the_network_cut(server: ServiceProcess, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            chromium(),
            *FLAGS,  # headless, and the network cut but for 127.0.0.1 (tests/browser.py)
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"{server.url}/schema",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = done.stdout
    assert 'class="swagger-ui' in dom, done.stderr[-2000:]
    rendered = set(re.findall(r'data-path="([^"]+)"', dom))
    assert f"{BASE}/{{session_id}}/chunks/{{chunk_id}}" in rendered
    assert len(rendered) >= 20
    assert "Upload one chunk" in dom
    assert "cdn.jsdelivr" not in dom
