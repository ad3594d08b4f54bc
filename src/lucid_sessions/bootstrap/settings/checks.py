"""The checks that span several settings (production needs MongoDB and authentication, S3
and JWT combinations, URL shapes); each error names the settings at fault."""

from __future__ import annotations

import re

from lucid_sessions.adapters.configuration import ConfigurationError
from lucid_sessions.bootstrap.settings.declared import BY_NAME, SYMMETRIC_JWT, Settings

__all__ = ["SettingsError", "check_consistency"]


class SettingsError(ConfigurationError):
    """An invalid setting: the message names it and the fix."""


def _describe(name: str) -> str:
    return BY_NAME[name].describe()


def check_consistency(settings: Settings) -> None:
    if settings.production and not settings.mongodb_url:
        raise SettingsError(
            "MONGODB_URL (YAML database.mongodb_url): required when LUCID_ENV=production; "
            "the embedded store is for development only"
        )
    if settings.production and not settings.authentication_configured:
        raise SettingsError(
            "LUCID_API_TOKENS / LUCID_API_TOKENS_FILE / JWT_SECRET_KEY / "
            "LUCID_JWT_PUBLIC_KEY_FILE: production needs at least one way to authenticate "
            "requests; without one every request would run as an administrator"
        )
    for name in ("mongodb_url", "redis_url"):
        value = getattr(settings, name)
        scheme = "mongodb" if name == "mongodb_url" else "redis"
        if value and not re.match(rf"^{scheme}(\+srv|s)?://", value):
            raise SettingsError(f"{_describe(name)}: must start with {scheme}://")
    _check_s3(settings)
    _check_pkcs11(settings)
    engine = settings.blockchain_engine_url
    if engine and not re.match(r"^https?://[^/\s]+", engine):
        raise SettingsError(f"{_describe('blockchain_engine_url')}: must be an http(s) URL")
    if not settings.storage_path:
        raise SettingsError(f"{_describe('storage_path')}: must not be empty")
    _check_jwt(settings)
    if "*" in settings.cors_origins and len(settings.cors_origins) > 1:
        raise SettingsError(f"{_describe('cors_origins')}: '*' stands alone or not at all")


def _check_s3(settings: Settings) -> None:
    if settings.blob_store != "s3":
        return
    if not settings.s3_bucket:
        raise SettingsError(f"{_describe('s3_bucket')}: required when LUCID_BLOB_STORE=s3")
    endpoint = settings.s3_endpoint
    if endpoint and not re.fullmatch(r"https?://[^/\s]+/?", endpoint):
        raise SettingsError(
            f"{_describe('s3_endpoint')}: must be an http(s) URL with no path "
            "(empty: AWS), for example http://rgw.example:7480"
        )
    if bool(settings.s3_access_key_id) != bool(settings.s3_secret_access_key):
        raise SettingsError(
            f"{_describe('s3_access_key_id')} and {_describe('s3_secret_access_key')}: "
            "set both or neither"
        )
    if settings.s3_credentials_file and settings.s3_access_key_id:
        raise SettingsError(
            f"{_describe('s3_credentials_file')} and {_describe('s3_access_key_id')}: "
            "set one of them, not both"
        )


def _check_pkcs11(settings: Settings) -> None:
    """A token needs its module, its label and its PIN file; the file store uses none."""
    names = ("pkcs11_module", "pkcs11_token_label", "pkcs11_pin_file")
    if settings.key_store != "pkcs11":
        return
    for name in names:
        if not getattr(settings, name):
            raise SettingsError(f"{_describe(name)}: required when LUCID_KEY_STORE=pkcs11")
    for name in ("master_key", "master_key_file", "signing_key_file", "link_key_file"):
        if getattr(settings, name):
            raise SettingsError(
                f"{_describe(name)}: not used when LUCID_KEY_STORE=pkcs11 (the keys live in "
                "the token); unset it, so no one believes it protects anything"
            )


def _check_jwt(settings: Settings) -> None:
    """The algorithm comes from settings, and the key must be of its kind (no confusion of a
    public key with an HMAC secret)."""
    symmetric = settings.jwt_algorithm in SYMMETRIC_JWT
    if settings.jwt_secret_key and settings.jwt_public_key_file:
        raise SettingsError(
            f"{_describe('jwt_secret_key')} and {_describe('jwt_public_key_file')}: "
            "set one of them, not both"
        )
    if settings.jwt_secret_key and not symmetric:
        raise SettingsError(
            f"{_describe('jwt_algorithm')}: {settings.jwt_algorithm} needs "
            f"{_describe('jwt_public_key_file')}; JWT_SECRET_KEY is for HS256/HS384/HS512"
        )
    if settings.jwt_public_key_file and symmetric:
        raise SettingsError(
            f"{_describe('jwt_algorithm')}: a public key file needs RS256 or EdDSA, "
            f"not {settings.jwt_algorithm}"
        )
    if settings.jwt_secret_key and len(settings.jwt_secret_key) < 32:
        raise SettingsError(f"{_describe('jwt_secret_key')}: must be at least 32 characters")


def _mask_url(value: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1****@", value)
