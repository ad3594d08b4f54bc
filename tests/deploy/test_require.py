"""The deploy commands install what they need as root, or stop with one line naming what is
missing and how to get it (deploy/require.sh)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bash(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_present_tools_need_nothing() -> None:
    done = _bash(". deploy/require.sh; require_tools bash:bash tar:tar; echo ready")
    assert done.returncode == 0
    assert done.stdout.strip() == "ready"
    assert done.stderr == ""


def test_a_missing_tool_without_root_is_one_line_saying_how_to_get_it() -> None:
    done = _bash(
        "id() { echo 1000; }; . deploy/require.sh; "
        "require_tools bash:bash no-such-tool-here:no-such-package; echo ready"
    )
    assert done.returncode == 1
    assert "ready" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no-such-package missing" in lines[0]
    assert "sudo apt-get install no-such-package" in lines[0]
