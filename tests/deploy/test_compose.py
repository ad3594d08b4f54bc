"""deploy/compose.yaml and deploy/env/: every setting templated, no secret inline, the
original design's hardening, and secrets that the service really starts with."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lucid_sessions.adapters.auth.tokens import FileTokenAuthenticator
from lucid_sessions.adapters.crypto.keyring import load_master_keys
from lucid_sessions.adapters.crypto.link_signer import load_link_signer
from lucid_sessions.adapters.crypto.signer import load_signer
from lucid_sessions.bootstrap.factories import key_sources
from lucid_sessions.bootstrap.settings import FROM_FILE, SOURCES, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
TEMPLATE = (DEPLOY / "env" / "session-api.env").read_text()
API = COMPOSE["services"]["session-api"]
# Settings whose value is a secret: never inline, only through a file.
SECRET_SETTINGS = {
    "LUCID_API_TOKENS",
    "JWT_SECRET_KEY",
    "LUCID_MASTER_KEY",
    "MONGODB_URL",
    "REDIS_URL",
    "LUCID_S3_SECRET_ACCESS_KEY",
}


def settings_the_service_reads() -> set[str]:
    """Every environment variable named in the sources, and the *_FILE forms."""
    names: set[str] = set()
    pattern = re.compile(r'"((?:LUCID|SESSION|JWT|MONGODB|REDIS|BLOCKCHAIN|CORS|LOG)_[A-Z0-9_]+)"')
    for path in (ROOT / "src" / "lucid_sessions").rglob("*.py"):
        names.update(pattern.findall(path.read_text()))
    names.update(f"{SOURCES[name][0]}_FILE" for name in FROM_FILE)
    return names


def template_lines() -> dict[str, str]:
    """NAME -> value for set lines; commented-out `# NAME=` lines map to None."""
    found: dict[str, str] = {}
    for line in TEMPLATE.splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]+)=(.*)$", line.strip())
        if match:
            found[match.group(2)] = "#" if match.group(1) else match.group(3)
    return found


def test_the_scan_finds_the_settings() -> None:
    names = settings_the_service_reads()
    assert {env for env, _ in SOURCES.values()} <= names
    assert {"LUCID_MASTER_KEY_FILE", "LUCID_SIGNING_KEY_FILE", "MONGODB_URL_FILE"} <= names


def test_every_setting_is_templated_and_documented() -> None:
    templated = template_lines()
    documented = (ROOT / "docs" / "operations.md").read_text()
    for name in sorted(settings_the_service_reads()):
        assert name in templated, f"{name} is missing from deploy/env/session-api.env"
        assert f"`{name}`" in documented, f"{name} is missing from docs/operations.md"


def test_no_secret_is_inline() -> None:
    templated = template_lines()
    environment = API["environment"]
    for name in SECRET_SETTINGS:
        assert templated.get(name) == "#", f"{name} must stay commented out in the template"
        assert name not in environment, f"{name} must come from {name}_FILE"
    for name, value in {**environment, **templated}.items():
        if name.endswith("_FILE") and value not in ("", "#"):
            assert str(value).startswith("/run/secrets/"), (name, value)
    text = (DEPLOY / "compose.yaml").read_text() + TEMPLATE
    assert not re.search(r"://[^/\s:@]*:[^@\s]+@", text), "a URL with a password"
    for service in COMPOSE["services"].values():
        for name in service.get("environment", {}):
            assert not re.search(r"PASSWORD$|SECRET|TOKEN$", name), name


def test_the_service_is_hardened_as_the_original_design_runs_it() -> None:
    assert API["user"] == "65532:65532"
    assert API["read_only"] is True
    assert API["cap_drop"] == ["ALL"]
    assert "cap_add" not in API
    assert "no-new-privileges:true" in API["security_opt"]
    assert any(mount.startswith("/tmp:") and "noexec" in mount for mount in API["tmpfs"])
    assert [volume.rsplit(":", 2)[1] for volume in API["volumes"]] == ["/app/data"]
    assert API["environment"]["LUCID_ENV"] == "production"
    assert API["healthcheck"]["test"][0] == "CMD"


def test_databases_are_private_healthy_first_and_checked() -> None:
    assert API["depends_on"] == {
        "lucid-mongodb": {"condition": "service_healthy"},
        "lucid-redis": {"condition": "service_healthy"},
    }
    assert COMPOSE["networks"]["backend"]["internal"] is True
    for name in ("lucid-mongodb", "lucid-redis"):
        service = COMPOSE["services"][name]
        assert service["networks"] == ["backend"], name
        assert "ports" not in service, f"{name} publishes a port"
        assert "healthcheck" in service, name
    for service in COMPOSE["services"].values():
        for secret in service.get("secrets", []):
            assert COMPOSE["secrets"][secret]["file"] == f"./secrets/{secret}"


def _environment(secrets: Path) -> dict[str, str]:
    """The service's environment as compose gives it, with /run/secrets/ here."""
    env = {name: value for name, value in template_lines().items() if value != "#"}
    env.update({name: str(value) for name, value in API["environment"].items()})
    return {
        name: value.replace("/run/secrets", str(secrets)) for name, value in env.items() if value
    }


def test_the_service_starts_with_the_template_and_made_secrets(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    made = subprocess.run(
        ["bash", str(DEPLOY / "secrets.sh"), str(secrets)],
        capture_output=True,
        text=True,
        check=True,
    )
    token = re.search(r"token \(shown once.*\): ([0-9a-f]{64})", made.stderr)
    assert token, made.stderr
    assert token.group(1) not in "".join(p.read_text() for p in secrets.iterdir())
    for path in secrets.iterdir():
        assert path.stat().st_mode & 0o077 == 0, path
    again = subprocess.run(
        ["bash", str(DEPLOY / "secrets.sh"), str(secrets)], capture_output=True, text=True
    )
    assert again.returncode == 0
    assert "exists, kept" in again.stderr

    env = _environment(secrets)
    env["LUCID_STORAGE_PATH"] = str(tmp_path / "data" / "sessions")
    env["LUCID_CHUNK_STORE_PATH"] = str(tmp_path / "data" / "chunks")
    shown = subprocess.run(
        [sys.executable, "-m", "lucid_sessions.bootstrap.main", "check-config"],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "bearer tokens from LUCID_API_TOKENS_FILE" in shown.stdout
    assert "lucid-mongodb:27017" in shown.stdout
    password = (secrets / "mongodb_root_password").read_text().strip()
    assert password not in shown.stdout + shown.stderr

    # The keys and the token file are read as production reads them (private files only).
    sources = key_sources(load_settings(env))
    keys = load_master_keys(sources, tmp_path, production=True, generate=False)
    assert keys.current_key_id == "k1"
    assert load_signer(sources, tmp_path, production=True, generate=False).current().key_id
    link_key = env["LUCID_LINK_KEY_FILE"]
    assert load_link_signer(link_key, tmp_path, production=True, generate=False).key_id
    tokens = FileTokenAuthenticator(Path(env["LUCID_API_TOKENS_FILE"]), production=True)
    principal = tokens.authenticate(token.group(1))
    assert principal is not None
    assert principal.id == "api-gateway"
    assert principal.is_admin
    assert tokens.authenticate("0" * 64) is None


@pytest.mark.parametrize("name", ["smoke.sh", "arm64-smoke.sh", "local-base.sh", "wheels.sh"])
def test_the_deploy_scripts_are_documented(name: str) -> None:
    assert f"deploy/{name}" in (ROOT / "docs" / "operations.md").read_text()
