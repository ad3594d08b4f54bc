"""Secrets hygiene, on every stack (S3 included: this module is not in BLOB_INDEPENDENT):
no secret of the configuration, no data path and no traceback in the server's log or in
any answer, error answers included.

The secrets are real ones the server is configured with: the API tokens, a JWT secret, an
inline master key (on the token stack, the token's PIN instead), the S3 secret key (on the S3
stack) and the MongoDB password. The stack's MongoDB URL carries no password (its wire server
runs without users), so on the MongoDB stacks this test runs a wire server of its own that
requires SCRAM with one user (MongoecoServer's `auth_user`), and gives the server a URL with
that user's password. (With MONGODB_TEST_URL, its password is used when it has one.)
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import uses_token
from tests.e2e.http import BASE, OCTETS
from tests.e2e.test_security_http import JWT_SECRET, new_session
from tests.servers import ADMIN_TOKEN, ALICE_TOKEN, ServiceProcess
from tests.servers_db import (
    MongoecoServer,
    MongoTarget,
    fresh_database_name,
    mongo_target_from_env,
    running_or_skip,
)

pytestmark = pytest.mark.e2e

MONGO_USER = "lucid"


@contextmanager
def mongo_with_password(stack_env: dict[str, str], folder: Path) -> Iterator[tuple[str, str]]:
    """A MongoDB URL with a password, and that password ("" when the stack has no MongoDB,
    or MONGODB_TEST_URL names a server without one)."""
    if "MONGODB_URL" not in stack_env:
        yield "", ""
        return
    if mongo_target_from_env() is not None:
        yield stack_env["MONGODB_URL"], urlsplit(stack_env["MONGODB_URL"]).password or ""
        return
    password = "mongo-Passw0rd-" + secrets.token_urlsafe(18)
    authenticating = MongoecoServer(folder, auth_user=MONGO_USER, password=password)
    with running_or_skip(authenticating) as server:
        target = MongoTarget(server.url, emulated=True)
        yield target.url(fresh_database_name()), password


def test_no_secret_path_or_trace_in_the_log_or_any_error_body(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    password = pw = "rdp-Passw0rd-" + "q" * 12
    probe_token = "probe-token-" + "z" * 24
    master_key = base64.b64encode(os.urandom(32)).decode()
    with mongo_with_password(stack_env, tmp_path / "mongo") as (mongodb_url, mongo_password):
        env = {**stack_env, "JWT_SECRET_KEY": JWT_SECRET}
        configured = [password, probe_token, ADMIN_TOKEN, ALICE_TOKEN, JWT_SECRET]
        if uses_token(env):  # the keys live in the token: its PIN is the secret here
            configured.append(Path(env["LUCID_PKCS11_PIN_FILE"]).read_text().strip())
        else:
            env["LUCID_MASTER_KEY"] = master_key
            configured.append(master_key)
        if mongodb_url:
            env["MONGODB_URL"] = mongodb_url
        if "LUCID_S3_SECRET_ACCESS_KEY" in env:
            configured.append(env["LUCID_S3_SECRET_ACCESS_KEY"])
        if mongo_password:
            configured.append(mongo_password)
        service = ServiceProcess(tmp_path / "hygiene", env=env)
        service.data_dir.mkdir()
        service.start()
        bodies: list[str] = []
        try:
            with service.client() as http, service.client(probe_token) as stranger:
                sid = new_session(http, rdp_config={"host": "h", "password": password})
                errors = [
                    stranger.get(BASE),
                    http.get(f"{BASE}/sess-nope"),
                    http.get(f"{BASE}/bad id!"),
                    http.post(
                        BASE, json={"name": "", "rdp_config": {"host": "h", "password": password}}
                    ),
                    http.post(BASE, json={"name": "x", "rdp_config": {"password": pw}}),
                    http.post(BASE, content=b"{", headers={"content-type": "application/json"}),
                    http.put(f"{BASE}/{sid}/chunks/0", content=b"early", headers=OCTETS),
                    http.put(
                        f"{BASE}/{sid}/chunks/0", content=b"x", headers={"content-type": "a/b"}
                    ),
                    http.get(f"{BASE}/{sid}/chunks/99/download"),
                    http.get(f"{BASE}/{sid}/consistency", params={"from": "9"}),
                    http.post(f"{BASE}/{sid}/stop"),
                    http.get(f"{BASE}?limit=0"),
                ]
                for answer in errors:
                    assert 400 <= answer.status_code < 500, (answer.request.url, answer.text)
                    bodies.append(answer.text)
                bodies.append(http.get(f"{BASE}/{sid}").text)
                bodies.append(http.get("/health").text)
            shown = service.run_cli("check-config")  # shows paths, never a secret
            assert shown.returncode == 0, shown.stderr
        finally:
            service.stop()
    log = service.log_path.read_text()
    for text in [*bodies, log, shown.stdout + shown.stderr]:
        for secret in configured:
            assert secret not in text
    for text in [*bodies, log]:
        assert str(service.data_dir) not in text
        assert str(tmp_path) not in text
        assert "Traceback" not in text
