"""scripts/softhsm-token.sh, the documented way to try keys in a token: it makes a SoftHSM2
token, prints settings that `lucid-sessions` accepts, keeps the token on a second run, and
without softhsm2 and root stops with one line saying how to get it."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

import pytest

from tests.components import unavailable
from tests.servers import lucid_sessions_command

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "softhsm-token.sh"


def _make(folder: Path) -> dict[str, str]:
    done = subprocess.run(
        ["bash", str(SCRIPT), str(folder), "trial"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode == 1 and "softhsm2 is missing" in done.stderr:
        unavailable("softhsm2", done.stderr.strip())
    assert done.returncode == 0, done.stderr
    settings = {}
    for line in done.stdout.splitlines():
        assert line.startswith("export "), line
        name, _, value = line.removeprefix("export ").partition("=")
        (settings[name],) = shlex.split(value)
    return settings


def test_the_token_it_makes_is_one_the_service_uses(tmp_path: Path) -> None:
    settings = _make(tmp_path / "token")
    assert settings["LUCID_KEY_STORE"] == "pkcs11"
    assert settings["LUCID_PKCS11_TOKEN_LABEL"] == "trial"
    pin_file = Path(settings["LUCID_PKCS11_PIN_FILE"])
    assert stat.S_IMODE(pin_file.stat().st_mode) == 0o600
    pin = pin_file.read_text().strip()
    assert len(pin) >= 16
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUCID_", "SOFTHSM2_"))}
    env |= settings | {"LUCID_STORAGE_PATH": str(tmp_path / "data")}
    shown = subprocess.run(
        [*lucid_sessions_command(), "check-config"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "pkcs11" in shown.stdout
    # An empty token in development: no key yet, made by the first `serve`; nothing made here.
    (line,) = [line for line in shown.stderr.splitlines() if line.startswith("keys: ")]
    assert "holds no master key" in line
    assert line.endswith("(development makes the missing keys at the first `serve`)")
    assert pin not in shown.stdout + shown.stderr
    again = _make(tmp_path / "token")
    assert again == settings
    assert pin_file.read_text().strip() == pin, "a second run keeps the token and its PIN"


def test_without_softhsm2_and_root_it_says_how_to_get_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            "/bin/bash",
            "-c",
            f'id() {{ echo 1000; }}; export -f id; /bin/bash "{SCRIPT}" "{tmp_path}"',
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent", "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "softhsm-token: softhsm2 is missing: run as root: apt-get install softhsm2"
    ]


@pytest.mark.parametrize("arguments", [[], ["a", "b", "c"]])
def test_wrong_arguments_show_the_usage(arguments: list[str]) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), *arguments], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "usage: bash scripts/softhsm-token.sh FOLDER [TOKEN_LABEL]" in done.stderr
