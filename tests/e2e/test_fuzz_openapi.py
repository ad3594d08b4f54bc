"""schemathesis over the service's own OpenAPI document, authenticated, on a real server:
the coverage, fuzzing and stateful phases, with every check but `positive_data_acceptance`
(no 5xx, no undocumented status, no response breaking its schema, content type or headers,
no invalid request accepted, no operation answering without authentication, true `Allow`).

`positive_data_acceptance` is left out because some valid-looking requests are refused for
reasons a schema cannot state: a consistency proof between sizes the session does not have,
a zstd level of 0 (lz4 allows it), a chunk that is not the next one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.components import unavailable
from tests.servers import ADMIN_TOKEN, LONGEST_SUBPROCESS, ServiceProcess

pytestmark = pytest.mark.e2e

EXCLUDED_CHECKS = "positive_data_acceptance"
SEED = os.environ.get("LUCID_FUZZ_SEED", "20261130")

# An upload to a session whose pipeline is paused answers 503 with Retry-After: the contract's
# answer, not a server error (the stateful phase pauses pipelines and then uploads).
CONFIG = """
[[operations]]
include-operation-id = "upload_chunk"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
"""
MAX_EXAMPLES = os.environ.get("LUCID_FUZZ_EXAMPLES", "20")


def schemathesis() -> str:
    found = Path(sys.executable).parent / "schemathesis"
    if not found.exists():
        unavailable("test-extra", f"{found} does not exist")
    return str(found)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    own_server: ServiceProcess, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        schemathesis(),
        "--config-file",
        str(config),
        "run",
        f"{own_server.url}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        "--checks",
        "all",
        "--exclude-checks",
        EXCLUDED_CHECKS,
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
        timeout=LONGEST_SUBPROCESS,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated is not None, report[-3000:]
    assert int(generated.group(1)) == int(generated.group(2)) >= 500
