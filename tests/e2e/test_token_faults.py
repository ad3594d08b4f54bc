"""Keys in a SoftHSM2 token that goes away mid-run and comes back, and `check-config`'s key probe.

The fault is real: SoftHSM2 keeps each key in an object file of the token's folder and reads it
again whenever the generation counter at its head changes. Moving the token's object files
aside makes its keys vanish from the running server (C_FindObjects finds none); putting them
back with the counter moved on makes them reappear, without a restart. The server runs with the
data key cache off (LUCID_DATA_KEY_CACHE_ENTRIES=0), so every chunk needs the token.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import pkcs11_env
from tests.e2e.http import BASE, OCTETS, eventually
from tests.servers import ServiceProcess
from tests.servers_db import MongoTarget, fresh_database_name
from tests.softhsm import SoftHsm, SoftHsmToken

pytestmark = pytest.mark.e2e

CHUNK = 64 * 1024


def token_folder(softhsm: SoftHsm, token: SoftHsmToken) -> Path:
    """The folder SoftHSM2 keeps `token` in (its label is in the folder's token.object)."""
    label = token.token_label.encode().ljust(32)
    for folder in softhsm.token_dir.iterdir():
        if label in (folder / "token.object").read_bytes():
            return folder
    raise AssertionError(f"no folder holds the token {token.token_label!r}")


@contextmanager
def token_out(folder: Path) -> Iterator[None]:
    """Every key object of the token moved aside while the block runs, then put back with its
    generation counter (the first 8 bytes, big-endian) moved on, so SoftHSM2 reads it again."""
    aside = folder.with_name(folder.name + ".aside")
    aside.mkdir()
    objects = [path for path in folder.glob("*.object") if path.name != "token.object"]
    assert objects, "the server made its keys in the token"
    saved = {path.name: path.read_bytes() for path in objects}
    for path in objects:
        path.rename(aside / path.name)
    try:
        yield
    finally:
        for name, data in saved.items():
            generation = int.from_bytes(data[:8], "big") + 1
            (folder / name).write_bytes(generation.to_bytes(8, "big") + data[8:])
            (aside / name).unlink()
        aside.rmdir()


def new_recording(http: httpx.Client, name: str) -> str:
    made = http.post(BASE, json={"name": name, "rdp_config": {"host": "h"}})
    assert made.status_code == 201, made.text
    sid = str(made.json()["session_id"])
    assert http.post(f"{BASE}/{sid}/start").status_code == 200
    return sid


def chunk_files(service: ServiceProcess) -> set[Path]:
    return {path for path in (service.data_dir / "chunks").rglob("*") if path.is_file()}


def unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) > 0
    assert "Traceback" not in answer.text


def test_a_token_gone_mid_run_answers_503_loses_nothing_and_recovers(
    tmp_path: Path, softhsm: SoftHsm
) -> None:
    token = softhsm.fresh_token()
    env = {**pkcs11_env(token), "LUCID_DATA_KEY_CACHE_ENTRIES": "0"}
    service = ServiceProcess(tmp_path / "service", env=env)
    service.data_dir.mkdir()
    service.start()
    first, second = os.urandom(CHUNK), os.urandom(CHUNK)
    try:
        with service.client() as http:
            assert http.get("/health").json()["checks"]["keys"] == "ok"
            recorded = new_recording(http, "before")
            put = http.put(f"{BASE}/{recorded}/chunks/0", content=first, headers=OCTETS)
            assert put.status_code == 201, put.text
            stopped = new_recording(http, "stopped while the token is out")
            put = http.put(f"{BASE}/{stopped}/chunks/0", content=second, headers=OCTETS)
            assert put.status_code == 201, put.text
            blobs = chunk_files(service)
            fresh = new_recording(http, "first chunk while the token is out")

            with token_out(token_folder(softhsm, token)):
                health = http.get("/health")
                assert health.status_code == 503
                assert health.json()["checks"]["keys"] == "down"
                # Ingest: a session with its data key, and one whose key is still to be made.
                unavailable(http.put(f"{BASE}/{recorded}/chunks/1", content=second, headers=OCTETS))
                unavailable(http.put(f"{BASE}/{fresh}/chunks/0", content=first, headers=OCTETS))
                # Downloads: a chunk, the whole recording.
                unavailable(http.get(f"{BASE}/{recorded}/chunks/0/download"))
                unavailable(http.get(f"{BASE}/{recorded}/recording"))
                # Finalization waits: the session stays processing, never failed.
                assert http.post(f"{BASE}/{stopped}/stop").status_code == 200
                eventually(
                    lambda: "finalization_retry" in service.log_path.read_text(),
                    "finalization tried and will try again",
                )
                assert http.get(f"{BASE}/{stopped}").json()["status"] == "processing"
                # Nothing half-written: no chunk record, no blob.
                session = http.get(f"{BASE}/{recorded}").json()
                assert session["statistics"]["chunks_count"] == 1
                assert http.get(f"{BASE}/{fresh}").json()["statistics"]["chunks_count"] == 0
                assert chunk_files(service) == blobs

            eventually(lambda: http.get("/health").status_code == 200, "the keys come back")
            assert http.get("/health").json()["checks"]["keys"] == "ok"
            put = http.put(f"{BASE}/{recorded}/chunks/1", content=second, headers=OCTETS)
            assert put.status_code == 201, put.text
            put = http.put(f"{BASE}/{fresh}/chunks/0", content=first, headers=OCTETS)
            assert put.status_code == 201, put.text
            got = http.get(f"{BASE}/{recorded}/chunks/0/download")
            assert got.status_code == 200
            assert got.content == first
            eventually(
                lambda: http.get(f"{BASE}/{stopped}").json()["status"] == "completed",
                "the stopped session completes",
                timeout=60.0,
            )
            assert http.get(f"{BASE}/{stopped}/manifest").status_code == 200
    finally:
        service.stop()
    log = service.log_path.read_text()
    assert "Traceback" not in log
    assert token.pin not in log
    verified = service.run_cli("verify", stopped)
    assert verified.returncode == 0, verified.stdout + verified.stderr


# -- check-config ------------------------------------------------------------------------------


def check_config(tmp_path: Path, env: dict[str, str]) -> tuple[int, str, str]:
    service = ServiceProcess(tmp_path / "cli", env=env)
    done = service.run_cli("check-config", timeout=60)
    return done.returncode, done.stdout, done.stderr


def test_check_config_probes_the_keys_in_the_token(tmp_path: Path, softhsm: SoftHsm) -> None:
    token = softhsm.fresh_token()
    service = ServiceProcess(tmp_path / "service", env=pkcs11_env(token))
    service.data_dir.mkdir()
    service.start()  # development: the server makes the keys in the token
    service.stop()
    done = service.run_cli("check-config")
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("keys: ")]
    assert line.startswith(f"keys: pkcs11 token {token.token_label!r} (module {token.module}")
    assert f"PIN in {token.pin_file}" in line
    assert "master key k1 wraps and unwraps, signing key " in line
    assert " signs and verifies, link key " in line
    assert line.endswith(" makes and checks links")
    assert token.pin not in done.stdout + done.stderr


def test_check_config_probes_the_key_files_too(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "service")
    service.data_dir.mkdir()
    service.start()
    service.stop()
    done = service.run_cli("check-config")
    assert done.returncode == 0, done.stderr
    assert "keys: files (master keys " in done.stderr
    assert "master key k1 wraps and unwraps" in done.stderr


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("pin", "LUCID_PKCS11_PIN_FILE"),
        ("token", "LUCID_PKCS11_TOKEN_LABEL"),
        ("module", "LUCID_PKCS11_MODULE"),
    ],
)
def test_check_config_says_in_one_line_what_is_wrong_with_the_token(
    tmp_path: Path, softhsm: SoftHsm, change: str, named: str
) -> None:
    token = softhsm.fresh_token()
    env = pkcs11_env(token)
    wrong_pin = tmp_path / "wrong.pin"
    wrong_pin.touch(mode=0o600)
    wrong_pin.write_text("0" * 16 + "\n")
    if change == "pin":
        env["LUCID_PKCS11_PIN_FILE"] = str(wrong_pin)
    elif change == "token":
        env["LUCID_PKCS11_TOKEN_LABEL"] = "no-such-token"
    else:
        env["LUCID_PKCS11_MODULE"] = str(tmp_path / "no-such-module.so")
    code, stdout, stderr = check_config(tmp_path, env)
    assert code == 2
    [line] = stderr.strip().splitlines()
    assert line.startswith("lucid-sessions: keys: pkcs11 token ")
    assert named in line
    assert "Traceback" not in stderr
    assert token.pin not in stdout + stderr


def test_production_with_an_empty_token_names_what_is_missing(
    tmp_path: Path, softhsm: SoftHsm
) -> None:
    token = softhsm.fresh_token()
    env = {
        **pkcs11_env(token),
        "LUCID_ENV": "production",
        "MONGODB_URL": "mongodb://127.0.0.1:9/lucid",
    }
    code, stdout, stderr = check_config(tmp_path, env)
    assert code == 2, stdout + stderr
    [line] = stderr.strip().splitlines()
    assert "lucid-master-k1" in line
    assert "Traceback" not in stderr
    assert token.pin not in stdout + stderr


def test_production_provisions_an_empty_token_with_the_rotate_commands(
    tmp_path: Path, softhsm: SoftHsm, mongo_target: MongoTarget
) -> None:
    """What docs/operations.md tells an operator to run once on a new token: each command makes
    the first key, refusals stop, and production then starts on the token."""
    token = softhsm.fresh_token()
    database = fresh_database_name()
    service = ServiceProcess(
        tmp_path / "provisioned",
        env={
            **pkcs11_env(token),
            "LUCID_ENV": "production",
            "MONGODB_URL": mongo_target.url(database),
        },
    )
    (service.data_dir / "sessions").mkdir(parents=True)
    (service.data_dir / "chunks").mkdir()
    try:
        made = service.run_cli("keys", "rotate")
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith("master key k1 is current"), made.stdout
        signing = service.run_cli("keys", "rotate-signing")
        assert signing.returncode == 0, signing.stderr
        assert "no key was retired" in signing.stdout
        link = service.run_cli("keys", "rotate-link")
        assert link.returncode == 0, link.stderr
        shown = service.run_cli("check-config")
        assert shown.returncode == 0, shown.stderr
        assert "makes and checks links" in shown.stderr
        again = service.run_cli("keys", "rotate-signing")  # the second one retires the first
        assert again.returncode == 0, again.stderr
        assert " is retired (at " in again.stdout
        for done in (made, signing, link, shown, again):
            assert token.pin not in done.stdout + done.stderr
        service.start()
        assert service.stop_gracefully()
    finally:
        mongo_target.drop(database)
