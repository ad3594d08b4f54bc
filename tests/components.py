"""The real components the suite needs, and what happens when one is missing.

Every component is required: a test whose component cannot be had fails, naming it and how to
get it. A developer may opt out for a quick local run by naming components in
`LUCID_TEST_ALLOW_MISSING` (comma-separated, or `all`); their tests are then skipped, and the
run's last line says which components it ran without. CI never opts out (`.ci/run` clears the
variable).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["ALLOW_MISSING", "COMPONENTS", "allowed_missing", "ran_without", "unavailable"]

ALLOW_MISSING = "LUCID_TEST_ALLOW_MISSING"

COMPONENTS = {
    "redis": "Debian's redis-server (scripts/ensure-test-services.sh installs it, as root)",
    "mongo": "the MongoDB wire server in .venv-mongoeco (scripts/ensure-test-services.sh "
    "makes it; it needs Python 3.13: LUCID_PYTHON313, pyenv or python3.13 on PATH)",
    "s3": "Ceph's RADOS Gateway: radosgw, ceph-mon, ceph-osd, ceph-common "
    "(scripts/ensure-test-services.sh installs them, as root)",
    "chromium": "Debian's chromium (scripts/ensure-test-services.sh installs it, as root)",
    "promtool": "Debian's prometheus package (scripts/ensure-test-services.sh installs it)",
    "wrk": "Debian's wrk (scripts/ensure-test-services.sh installs it, as root)",
    "openssl": "Debian's openssl (scripts/ensure-test-services.sh installs it, as root)",
    "softhsm2": "Debian's softhsm2, a PKCS#11 token in software (scripts/ensure-test-services.sh "
    "installs it, as root)",
    "tmpfs": "mounting a tmpfs (run the tests as root, or in a container allowed to mount)",
    "test-extra": "the project's test extra (./run.sh test installs it: pip install -e '.[test]')",
}

_RAN_WITHOUT: dict[str, str] = {}


def allowed_missing() -> set[str]:
    """The components the developer allowed to be missing; unknown names are an error."""
    named = {part.strip() for part in os.environ.get(ALLOW_MISSING, "").split(",") if part.strip()}
    if "all" in named:
        return set(COMPONENTS)
    unknown = named - set(COMPONENTS)
    if unknown:
        raise pytest.UsageError(
            f"{ALLOW_MISSING}: unknown component(s) {sorted(unknown)}; known: {sorted(COMPONENTS)}"
        )
    return named


def unavailable(component: str, reason: str) -> NoReturn:
    """`component` cannot be had: fail the test naming it and how to get it, or skip it when
    the developer opted out (the run's last line then says so)."""
    needs = COMPONENTS[component]
    if component in allowed_missing():
        _RAN_WITHOUT[component] = reason
        pytest.skip(f"{component} missing, allowed by {ALLOW_MISSING}: {reason}")
    pytest.fail(
        f"required component {component!r} is unavailable: {reason}. Needs {needs}. "
        f"(For a quick local run without it: {ALLOW_MISSING}={component})",
        pytrace=False,
    )


def ran_without() -> dict[str, str]:
    """The components this run skipped because the developer allowed them to be missing."""
    return dict(_RAN_WITHOUT)
