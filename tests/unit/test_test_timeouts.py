"""The suite's timeouts agree: the helpers' longest subprocess wait is below the per-test
timeout pytest-timeout enforces (pyproject.toml), so a slow command fails with its own
message rather than being killed without one."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.servers import LONGEST_SUBPROCESS, PER_TEST_TIMEOUT

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_per_test_timeout_is_pyprojects() -> None:
    settings = tomllib.loads(PYPROJECT.read_text())["tool"]["pytest"]["ini_options"]
    assert float(settings["timeout"]) == PER_TEST_TIMEOUT


def test_the_longest_subprocess_ends_before_the_test_is_killed() -> None:
    assert 0 < LONGEST_SUBPROCESS < PER_TEST_TIMEOUT
