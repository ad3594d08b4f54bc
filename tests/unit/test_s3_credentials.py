"""LUCID_S3_CREDENTIALS_FILE: YAML {access_key_id, secret_access_key}, private in production;
every problem names the setting and never shows the secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucid_sessions.adapters.s3.credentials import S3ConfigError, load_s3_credentials

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def test_both_keys_are_read(tmp_path: Path) -> None:
    path = write(tmp_path / "s3.yaml", f"access_key_id: AKID\nsecret_access_key: {SECRET}\n")
    assert load_s3_credentials(path, production=True) == ("AKID", SECRET)


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        ("access_key_id: AKID\n", 0o600, "needs both"),
        ("- a list\n", 0o600, "expected"),
        ("access_key_id: [\n", 0o600, "not valid YAML"),
        (f"access_key_id: AKID\nsecret_access_key: {SECRET}\n", 0o644, "chmod 600"),
    ],
)
def test_a_file_that_cannot_serve_names_the_setting(
    tmp_path: Path, text: str, mode: int, message: str
) -> None:
    path = write(tmp_path / "s3.yaml", text, mode)
    with pytest.raises(S3ConfigError, match=message) as refused:
        load_s3_credentials(path, production=True)
    assert "LUCID_S3_CREDENTIALS_FILE" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_a_missing_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(S3ConfigError, match=r"LUCID_S3_CREDENTIALS_FILE.*cannot read"):
        load_s3_credentials(tmp_path / "absent.yaml", production=False)
