"""Every runtime dependency resolves to a binary wheel for CPython 3.11 on aarch64 (a
Raspberry Pi), from the package index: nothing would be compiled on a Pi, and the image for
arm64 builds offline from the folder (deploy/wheels.sh arm64; run by deploy/arm64-smoke.sh)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import requires
from pathlib import Path

import pytest

from tests.servers import LONGEST_SUBPROCESS

ROOT = Path(__file__).resolve().parents[2]
WHEEL = re.compile(
    r"^(?P<name>[^-]+)-[^-]+(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>.+)\.whl$"
)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@pytest.fixture(scope="module")
def arm64_wheels(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheels") / "arm64"
    pip = Path(sys.executable).parent / "pip"
    done = subprocess.run(
        ["bash", str(ROOT / "deploy" / "wheels.sh"), "arm64"],
        env={**os.environ, "WHEELS_OUT": str(out), "PIP": str(pip)},
        capture_output=True,
        text=True,
        timeout=LONGEST_SUBPROCESS,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"no aarch64 wheel set for CPython 3.11:\n{done.stderr[-3000:]}"
    return sorted(path.name for path in out.iterdir())


def test_every_file_is_a_wheel_for_cpython_311_on_aarch64(arm64_wheels: list[str]) -> None:
    for name in arm64_wheels:
        match = WHEEL.match(name)
        assert match, f"{name} is not a wheel (a source distribution would compile on the Pi)"
        platform, python = match.group("plat"), match.group("py")
        assert platform == "any" or "aarch64" in platform, name
        assert python in ("py3", "py2.py3", "cp311") or python.startswith("cp3"), name
        if match.group("abi") not in ("none", "abi3"):
            assert match.group("abi") == "cp311", name


def test_every_runtime_dependency_is_there(arm64_wheels: list[str]) -> None:
    names = {_normal(str(WHEEL.match(name).group("name"))) for name in arm64_wheels}  # type: ignore[union-attr]
    direct = {
        _normal(re.split(r"[ ;<>=!~\[]", requirement, maxsplit=1)[0])
        for requirement in requires("lucid-sessions") or []
        if "extra ==" not in requirement
    }
    assert direct <= names, f"missing: {sorted(direct - names)}"
    # redis needs it below Python 3.11.3; Debian's and distroless's Python is 3.11.2
    assert "async_timeout" in names
    compiled = {"cryptography", "uvloop", "zstandard", "lz4", "blake3", "msgspec", "pyyaml"}
    compiled |= {"obstore"}  # its aarch64 wheels are manylinux_2_24
    assert compiled <= names
