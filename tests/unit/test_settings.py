"""Settings: defaults, then the YAML file, then the environment; every error names the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lucid_sessions.bootstrap.settings import SOURCES, SettingsError, load_settings

SECRET = "s" * 40
PRODUCTION = {"LUCID_ENV": "production", "MONGODB_URL": "mongodb://db/lucid"}


def test_defaults_are_a_closed_development_service() -> None:
    settings = load_settings({})
    assert (settings.env, settings.host, settings.port) == ("development", "127.0.0.1", 8113)
    assert settings.cors_origins == []
    assert not settings.authentication_configured
    assert settings.authentication().startswith("OPEN")


def test_environment_beats_the_file_which_beats_defaults(tmp_path: Path) -> None:
    config = tmp_path / "lucid.yaml"
    config.write_text(yaml.safe_dump({"network": {"port": 9000}, "log_level": "debug"}))
    from_file = load_settings({"LUCID_CONFIG_FILE": str(config)})
    assert (from_file.port, from_file.log_level) == (9000, "DEBUG")
    both = load_settings({"LUCID_CONFIG_FILE": str(config), "SESSION_API_PORT": "9100"})
    assert both.port == 9100


def test_types_come_from_text() -> None:
    settings = load_settings(
        {
            "LUCID_METRICS_PUBLIC": "yes",
            "CORS_ORIGINS": "https://a.example, https://b.example",
            "LUCID_JWT_ADMIN_ROLES": "Admin,Root",
            "LUCID_UPLOAD_IDLE_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert settings.metrics_public is True
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.jwt_admin_roles == ["Admin", "Root"]
    assert settings.upload_idle_timeout_seconds == 2.5


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SESSION_API_PORT": "eighty"}, "SESSION_API_PORT"),
        ({"SESSION_API_PORT": "70000"}, "SESSION_API_PORT"),
        ({"LUCID_METRICS_PUBLIC": "maybe"}, "LUCID_METRICS_PUBLIC"),
        ({"LUCID_CIPHER": "rot13"}, "LUCID_CIPHER"),
        ({"JWT_ALGORITHM": "none"}, "JWT_ALGORITHM"),
        ({"MONGODB_URL": "postgres://x"}, "MONGODB_URL"),
        ({"CORS_ORIGINS": "*,https://a.example"}, "CORS_ORIGINS"),
        ({"JWT_SECRET_KEY": "short"}, "JWT_SECRET_KEY"),
        ({"JWT_SECRET_KEY": SECRET, "JWT_ALGORITHM": "RS256"}, "JWT_ALGORITHM"),
        ({"LUCID_JWT_PUBLIC_KEY_FILE": "/k.pem"}, "JWT_ALGORITHM"),
        ({"JWT_SECRET_KEY": SECRET, "LUCID_JWT_PUBLIC_KEY_FILE": "/k.pem"}, "JWT_SECRET_KEY"),
    ],
)
def test_a_bad_value_names_its_setting(environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(environ)


def test_production_refuses_to_run_open() -> None:
    with pytest.raises(SettingsError, match="LUCID_API_TOKENS") as refused:
        load_settings(PRODUCTION)
    assert "administrator" in str(refused.value)
    settings = load_settings({**PRODUCTION, "LUCID_API_TOKENS": "t" * 20 + "=ops:admin"})
    assert settings.host == "0.0.0.0"
    assert settings.authentication() == "bearer tokens from LUCID_API_TOKENS"


def test_secrets_are_masked_when_shown() -> None:
    settings = load_settings(
        {
            "LUCID_API_TOKENS": "supersecret-token-1=ops:admin",
            "JWT_SECRET_KEY": SECRET,
            "MONGODB_URL": "mongodb://lucid:hunter2@db:27017/lucid",
        }
    )
    shown = settings.masked()
    text = repr(shown)
    assert "supersecret" not in text
    assert SECRET not in text
    assert "hunter2" not in text
    assert shown["api_tokens"] == shown["jwt_secret_key"] == "****"
    assert shown["authentication"] == ("bearer tokens from LUCID_API_TOKENS, platform JWTs (HS256)")


def test_every_setting_has_an_environment_variable_and_a_yaml_key() -> None:
    from lucid_sessions.bootstrap.settings import Settings

    assert set(SOURCES) == set(Settings.__struct_fields__)


def test_secret_settings_can_come_from_files(tmp_path: Path) -> None:
    url = tmp_path / "mongodb_url"
    url.write_text("mongodb://lucid:hunter2@db:27017/lucid\n")
    jwt = tmp_path / "jwt"
    jwt.write_text(SECRET)
    url.chmod(0o600)
    jwt.chmod(0o600)
    settings = load_settings(
        {"LUCID_ENV": "production", "MONGODB_URL_FILE": str(url), "JWT_SECRET_KEY_FILE": str(jwt)}
    )
    assert settings.mongodb_url == "mongodb://lucid:hunter2@db:27017/lucid"
    assert settings.jwt_secret_key == SECRET
    assert "hunter2" not in repr(settings.masked())


def test_a_secret_file_others_may_read_is_refused_in_production(tmp_path: Path) -> None:
    """The `*_FILE` secrets are read like the key files: private, or no production start."""
    url = tmp_path / "mongodb_url"
    url.write_text("mongodb://lucid:hunter2@db:27017/lucid\n")
    url.chmod(0o640)
    with pytest.raises(SettingsError, match="MONGODB_URL_FILE: the file has mode 0640"):
        load_settings({**PRODUCTION, "MONGODB_URL": "", "MONGODB_URL_FILE": str(url)})
    assert load_settings({"MONGODB_URL_FILE": str(url)}).mongodb_url.endswith("/lucid")


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (None, {}, "MONGODB_URL_FILE: cannot read"),
        ("  \n", {}, "MONGODB_URL_FILE:"),
        ("mongodb://db/x", {"MONGODB_URL": "mongodb://db/y"}, "set one of them, not both"),
    ],
)
def test_a_secret_file_that_cannot_serve_names_its_variable(
    tmp_path: Path, content: str | None, extra: dict[str, str], message: str
) -> None:
    path = tmp_path / "mongodb_url"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings({"MONGODB_URL_FILE": str(path), **extra})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LUCID_BLOB_STORE": "s3"}, "LUCID_S3_BUCKET"),
        (
            {"LUCID_BLOB_STORE": "s3", "LUCID_S3_BUCKET": "b", "LUCID_S3_ENDPOINT": "rgw:7480"},
            "URL",
        ),
        (
            {"LUCID_BLOB_STORE": "s3", "LUCID_S3_BUCKET": "b", "LUCID_S3_ACCESS_KEY_ID": "k"},
            "set both or neither",
        ),
        (
            {
                "LUCID_BLOB_STORE": "s3",
                "LUCID_S3_BUCKET": "b",
                "LUCID_S3_ACCESS_KEY_ID": "k",
                "LUCID_S3_SECRET_ACCESS_KEY": "s",
                "LUCID_S3_CREDENTIALS_FILE": "/run/secrets/s3",
            },
            "not both",
        ),
        ({"LUCID_BLOB_STORE": "nfs"}, "LUCID_BLOB_STORE"),
        ({"LUCID_S3_ADDRESSING": "host"}, "LUCID_S3_ADDRESSING"),
    ],
)
def test_s3_settings_that_cannot_serve_name_the_setting(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_s3_settings_load_and_the_secret_is_masked() -> None:
    settings = load_settings(
        {
            "LUCID_BLOB_STORE": "s3",
            "LUCID_S3_ENDPOINT": "http://rgw.example:7480",
            "LUCID_S3_BUCKET": "recordings",
            "LUCID_S3_ADDRESSING": "path",
            "LUCID_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "LUCID_S3_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-secret",
        }
    )
    assert (settings.blob_store, settings.s3_bucket, settings.s3_addressing) == (
        "s3",
        "recordings",
        "path",
    )
    assert "wJalrXUtnFEMI" not in repr(settings.masked())


TOKEN = {
    "LUCID_KEY_STORE": "pkcs11",
    "LUCID_PKCS11_MODULE": "/usr/lib/softhsm/libsofthsm2.so",
    "LUCID_PKCS11_TOKEN_LABEL": "lucid",
    "LUCID_PKCS11_PIN_FILE": "/run/secrets/pkcs11_pin",
}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({**TOKEN, "LUCID_PKCS11_MODULE": ""}, "LUCID_PKCS11_MODULE .*: required when"),
        ({**TOKEN, "LUCID_PKCS11_TOKEN_LABEL": ""}, "LUCID_PKCS11_TOKEN_LABEL .*: required"),
        ({**TOKEN, "LUCID_PKCS11_PIN_FILE": ""}, "LUCID_PKCS11_PIN_FILE .*: required when"),
        ({**TOKEN, "LUCID_MASTER_KEY_FILE": "/k.yaml"}, "LUCID_MASTER_KEY_FILE .*: not used"),
        ({**TOKEN, "LUCID_SIGNING_KEY_FILE": "/s.pem"}, "LUCID_SIGNING_KEY_FILE .*: not used"),
        ({**TOKEN, "LUCID_LINK_KEY_FILE": "/l.b64"}, "LUCID_LINK_KEY_FILE .*: not used"),
        ({**TOKEN, "LUCID_KEY_STORE": "tpm"}, "LUCID_KEY_STORE"),
    ],
)
def test_token_settings_that_cannot_serve_name_the_setting(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)


def test_token_settings_load_and_the_file_store_stays_the_default() -> None:
    assert load_settings({}).key_store == "file"
    settings = load_settings(TOKEN)
    assert (settings.key_store, settings.pkcs11_token_label) == ("pkcs11", "lucid")
    assert settings.pkcs11_pin_file == "/run/secrets/pkcs11_pin"
