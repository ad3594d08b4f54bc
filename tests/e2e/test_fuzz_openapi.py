"""schemathesis over the service's own OpenAPI document, authenticated, on a real server:
the coverage, fuzzing and stateful phases; no 5xx, no undocumented status, no response that
breaks its documented schema or content type."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ADMIN_TOKEN, ServiceProcess

pytestmark = pytest.mark.e2e

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "response_schema_conformance",
        "content_type_conformance",
    ]
)
SEED = os.environ.get("LUCID_FUZZ_SEED", "20261130")
MAX_EXAMPLES = os.environ.get("LUCID_FUZZ_EXAMPLES", "20")


def schemathesis() -> str:
    found = Path(sys.executable).parent / "schemathesis"
    if not found.exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    return str(found)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    server: ServiceProcess, tmp_path: Path
) -> None:
    command = [
        schemathesis(),
        "run",
        f"{server.url}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",  # CPython 3.11's ast module trips over hypothesis in parallel workers
        "--no-color",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated is not None, report[-3000:]
    assert int(generated.group(1)) == int(generated.group(2)) >= 500
