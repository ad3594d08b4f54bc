"""S3 credentials from `LUCID_S3_CREDENTIALS_FILE`: YAML `{access_key_id, secret_access_key}`,
read only when private in production (as every secret file)."""

from __future__ import annotations

from pathlib import Path

import yaml

from lucid_sessions.adapters.configuration import ConfigurationError
from lucid_sessions.adapters.crypto.secret_files import LooseSecretFile, read_secret_file

__all__ = ["CREDENTIALS_FILE_ENV", "S3ConfigError", "load_s3_credentials"]

CREDENTIALS_FILE_ENV = "LUCID_S3_CREDENTIALS_FILE"


class S3ConfigError(ConfigurationError):
    """S3 credentials that cannot serve; the message names the setting, never the secret."""


def load_s3_credentials(path: Path, *, production: bool) -> tuple[str, str]:
    """(access key id, secret access key) from the credentials file."""
    where = f"{CREDENTIALS_FILE_ENV} ({path})"
    try:
        document = yaml.safe_load(read_secret_file(path, where, production=production))
    except LooseSecretFile as exc:
        raise S3ConfigError(str(exc)) from None
    except OSError as exc:
        raise S3ConfigError(f"{where}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError:
        raise S3ConfigError(f"{where}: not valid YAML") from None
    if not isinstance(document, dict):
        raise S3ConfigError(f"{where}: expected {{access_key_id, secret_access_key}}")
    key_id = str(document.get("access_key_id") or "").strip()
    secret = str(document.get("secret_access_key") or "").strip()
    if not key_id or not secret:
        raise S3ConfigError(f"{where}: needs both access_key_id and secret_access_key")
    return key_id, secret
