"""Shared test fixtures, and the run's last line when components were allowed to be missing."""

from __future__ import annotations

import pytest

from tests.components import ALLOW_MISSING, allowed_missing, ran_without


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_configure(config: pytest.Config) -> None:
    allowed_missing()  # an unknown component name stops the run before it starts


def pytest_unconfigure(config: pytest.Config) -> None:
    """After pytest's own summary: say that this was not a full run, and what it lacked."""
    allowed = allowed_missing()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if not allowed or reporter is None:
        return
    missing = ran_without()
    lacked = ", ".join(sorted(missing)) if missing else "nothing was missing"
    reporter.write_line(
        f"NOT A FULL RUN: {ALLOW_MISSING}={','.join(sorted(allowed))} allowed components to be "
        f"missing; skipped for lack of: {lacked}",
        yellow=True,
        bold=True,
    )
