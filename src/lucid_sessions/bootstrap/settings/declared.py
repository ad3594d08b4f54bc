"""Every setting, declared once: its field, type, default, environment variable, YAML path,
whether it is secret, and one line of help.

Everything else is derived from these declarations: loading (`loading.py`), what
`check-config` shows (secrets masked), the settings table in `docs/operations.md` and the
template `deploy/env/session-api.env` (`rendering.py`; a test fails when either drifts).
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "BY_NAME",
    "DECLARED",
    "MIB",
    "SYMMETRIC_JWT",
    "Declared",
    "Setting",
    "Settings",
]

MIB = 1024 * 1024
SYMMETRIC_JWT = ("HS256", "HS384", "HS512")

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Seconds = Annotated[float, msgspec.Meta(gt=0, le=3600)]
Environment = Literal["development", "production"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
CipherChoice = Literal["auto", "aes-256-gcm", "chacha20-poly1305"]
JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "EdDSA"]
BlobStoreKind = Literal["fs", "s3"]
KeyStoreKind = Literal["file", "pkcs11"]
S3Addressing = Literal["path", "virtual"]


@dataclass(frozen=True, slots=True)
class Setting:
    """Where a setting comes from and what it means (the metadata of a `Settings` field)."""

    env: str
    """Its environment variable."""
    yaml: str | None
    """Its dotted path in the YAML file (None: the environment only)."""
    help: str
    """One line for the settings table and the template."""
    secret: bool = False
    """Masked when shown; only ever commented out in the template."""
    from_file: bool = False
    """May also be read from the file named by `<env>_FILE` (container secrets)."""
    production: Any = None
    """The default under LUCID_ENV=production, when it differs from the development one."""
    example: str = ""
    """A value the template suggests, commented out (compose sets it: a mounted secret)."""
    template: str = ""
    """The value the template sets, when not the production default."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The service's settings; each field's `Setting` says where it comes from."""

    # -- service -------------------------------------------------------------------------------
    env: Annotated[
        Environment,
        Setting(
            "LUCID_ENV",
            "env",
            "development | production (requires MONGODB_URL and a way to authenticate)",
            template="production",
        ),
    ] = "development"
    config_file: Annotated[
        str,
        Setting(
            "LUCID_CONFIG_FILE",
            None,
            "a YAML file with any of these settings (the environment wins over it)",
        ),
    ] = ""
    host: Annotated[
        str,
        Setting(
            "LUCID_BIND_HOST",
            "network.host",
            "the interface to listen on",
            production="0.0.0.0",  # noqa: S104 - in the container it listens on every interface
        ),
    ] = "127.0.0.1"
    port: Annotated[Port, Setting("SESSION_API_PORT", "network.port", "the TCP port")] = 8113
    shutdown_grace_seconds: Annotated[
        Annotated[int, msgspec.Meta(ge=0, le=600)],
        Setting(
            "LUCID_SHUTDOWN_GRACE_SECONDS",
            "network.shutdown_grace_seconds",
            "how long requests in flight may finish after SIGTERM",
        ),
    ] = 10
    log_level: Annotated[LogLevel, Setting("LOG_LEVEL", "log_level", "the log threshold")] = "INFO"
    lease_seconds: Annotated[
        Annotated[float, msgspec.Meta(ge=1, le=600)],
        Setting(
            "LUCID_LEASE_SECONDS",
            "replicas.lease_seconds",
            "how long a replica's lease on a session's uploads or finalization lasts; a dead "
            "replica's work is taken over after it",
        ),
    ] = 30.0
    # -- stores --------------------------------------------------------------------------------
    mongodb_url: Annotated[
        str,
        Setting(
            "MONGODB_URL",
            "database.mongodb_url",
            "MongoDB for metadata, the chunk index, keys and the session log (empty: the "
            "embedded SQLite store)",
            secret=True,
            from_file=True,
        ),
    ] = ""
    redis_url: Annotated[
        str,
        Setting(
            "REDIS_URL",
            "database.redis_url",
            "Redis for the session cache (empty: no cache)",
            secret=True,
            from_file=True,
        ),
    ] = ""
    storage_path: Annotated[
        str,
        Setting(
            "LUCID_STORAGE_PATH",
            "storage.session_storage_path",
            "the data folder (the embedded store, development keys)",
            production="/app/data/sessions",
        ),
    ] = "data/sessions"
    chunk_store_path: Annotated[
        str,
        Setting(
            "LUCID_CHUNK_STORE_PATH",
            "storage.chunk_storage_path",
            "the chunk blobs' folder (the filesystem store)",
            production="/app/data/chunks",
        ),
    ] = "data/chunks"
    chunk_store_min_free_mb: Annotated[
        Annotated[int, msgspec.Meta(ge=0)],
        Setting(
            "LUCID_CHUNK_STORE_MIN_FREE_MB",
            "chunks.min_free_mb",
            "below this much free space new chunks answer 507 (the filesystem store only)",
        ),
    ] = 64
    blob_store: Annotated[
        BlobStoreKind,
        Setting(
            "LUCID_BLOB_STORE",
            "storage.blob_store",
            "where chunk blobs go: fs (under LUCID_CHUNK_STORE_PATH) | s3 (a bucket; replicas)",
        ),
    ] = "fs"
    s3_endpoint: Annotated[
        str,
        Setting(
            "LUCID_S3_ENDPOINT",
            "s3.endpoint",
            "empty: AWS; else the S3 service's URL, e.g. http://rgw.example:7480",
        ),
    ] = ""
    s3_bucket: Annotated[
        str, Setting("LUCID_S3_BUCKET", "s3.bucket", "the bucket (required with s3)")
    ] = ""
    s3_region: Annotated[str, Setting("LUCID_S3_REGION", "s3.region", "the bucket's region")] = (
        "us-east-1"
    )
    s3_prefix: Annotated[
        str,
        Setting(
            "LUCID_S3_PREFIX",
            "s3.prefix",
            "keys are <prefix><session_id>/<sequence:012d>.lsb (sites may share a bucket)",
        ),
    ] = ""
    s3_addressing: Annotated[
        S3Addressing,
        Setting(
            "LUCID_S3_ADDRESSING",
            "s3.addressing",
            "virtual (bucket.host) | path (host/bucket, most on-premises services)",
        ),
    ] = "virtual"
    s3_credentials_file: Annotated[
        str,
        Setting(
            "LUCID_S3_CREDENTIALS_FILE",
            "s3.credentials_file",
            "a private YAML file {access_key_id, secret_access_key}; or the two settings "
            "below, or neither (AWS's usual sources)",
            example="/run/secrets/s3_credentials.yaml",
        ),
    ] = ""
    s3_access_key_id: Annotated[
        str,
        Setting(
            "LUCID_S3_ACCESS_KEY_ID",
            "s3.access_key_id",
            "the S3 access key id (set both or neither)",
        ),
    ] = ""
    s3_secret_access_key: Annotated[
        str,
        Setting(
            "LUCID_S3_SECRET_ACCESS_KEY",
            "s3.secret_access_key",
            "the S3 secret key",
            secret=True,
        ),
    ] = ""
    s3_timeout_seconds: Annotated[
        Seconds,
        Setting(
            "LUCID_S3_TIMEOUT_SECONDS",
            "s3.timeout_seconds",
            "an S3 request not done in this long fails (503): the longest a hung S3 service "
            "holds an upload or a download; allow for a whole chunk's transfer",
        ),
    ] = 30.0
    # -- recording -----------------------------------------------------------------------------
    max_chunk_bytes: Annotated[
        Annotated[int, msgspec.Meta(ge=1, le=1024 * MIB)],
        Setting("LUCID_MAX_CHUNK_BYTES", "chunks.max_chunk_bytes", "the largest chunk"),
    ] = 16 * MIB
    upload_idle_timeout_seconds: Annotated[
        Seconds,
        Setting(
            "LUCID_UPLOAD_IDLE_TIMEOUT_SECONDS",
            "chunks.upload_idle_timeout_seconds",
            "a chunk upload that sends nothing for this long answers 408; the whole body may "
            "take 20 times it",
        ),
    ] = 30.0
    max_json_bytes: Annotated[
        Annotated[int, msgspec.Meta(ge=1024, le=16 * MIB)],
        Setting("LUCID_MAX_JSON_BYTES", "http.max_json_bytes", "the largest JSON body"),
    ] = 256 * 1024
    max_header_bytes: Annotated[
        Annotated[int, msgspec.Meta(ge=1024, le=MIB)],
        Setting(
            "LUCID_MAX_HEADER_BYTES",
            "http.max_header_bytes",
            "the request line and headers together (1 KiB to 1 MiB); more answers 431 before "
            "anything larger is buffered",
        ),
    ] = 32 * 1024
    header_timeout_seconds: Annotated[
        Seconds,
        Setting(
            "LUCID_HEADER_TIMEOUT_SECONDS",
            "http.header_timeout_seconds",
            "the request line and headers must arrive within this long of the connection (or "
            "the previous answer), else 408 and the connection closes",
        ),
    ] = 30.0
    body_timeout_seconds: Annotated[
        Seconds,
        Setting(
            "LUCID_BODY_TIMEOUT_SECONDS",
            "http.body_timeout_seconds",
            "a JSON body must arrive within this long of its headers, else 408",
        ),
    ] = 30.0
    cipher: Annotated[
        CipherChoice,
        Setting(
            "LUCID_CIPHER",
            "crypto.cipher",
            "auto (the faster of the two on this CPU, measured at start-up in about a "
            "millisecond) | aes-256-gcm | chacha20-poly1305",
        ),
    ] = "auto"
    retention_interval_seconds: Annotated[
        Annotated[float, msgspec.Meta(gt=0)],
        Setting(
            "LUCID_RETENTION_INTERVAL_SECONDS",
            "retention.interval_seconds",
            "how often the retention sweep runs in the service",
        ),
    ] = 3600.0
    # -- keys ----------------------------------------------------------------------------------
    master_key: Annotated[
        str,
        Setting(
            "LUCID_MASTER_KEY",
            "keys.master_key",
            "a master key inline: base64 of 32 bytes (key id k1; cannot be rotated)",
            secret=True,
        ),
    ] = ""
    master_key_file: Annotated[
        str,
        Setting(
            "LUCID_MASTER_KEY_FILE",
            "keys.master_key_file",
            "the private YAML master key file (empty: in development "
            "<LUCID_STORAGE_PATH>/keys/master-keys.yaml, generated once)",
            example="/run/secrets/master_keys.yaml",
        ),
    ] = ""
    signing_key_file: Annotated[
        str,
        Setting(
            "LUCID_SIGNING_KEY_FILE",
            "keys.signing_key_file",
            "the private Ed25519 PEM that signs manifests and tree heads (empty: in "
            "development <LUCID_STORAGE_PATH>/keys/signing-key.pem, generated once)",
            example="/run/secrets/signing_key.pem",
        ),
    ] = ""
    link_key_file: Annotated[
        str,
        Setting(
            "LUCID_LINK_KEY_FILE",
            "keys.link_key_file",
            "the private key that signs playback links: base64 of 32 to 64 random bytes "
            "(empty: in development <LUCID_STORAGE_PATH>/keys/link-key.b64, generated once)",
            example="/run/secrets/link_key.b64",
        ),
    ] = ""
    key_store: Annotated[
        KeyStoreKind,
        Setting(
            "LUCID_KEY_STORE",
            "keys.key_store",
            "where the master, signing and link keys live: file (the key files above) | pkcs11 "
            "(a PKCS#11 token offering AES-GCM, Ed25519 and HMAC-SHA256: an HSM, a USB HSM, "
            "SoftHSM2 for trying; the keys never leave it)",
        ),
    ] = "file"
    pkcs11_module: Annotated[
        str,
        Setting(
            "LUCID_PKCS11_MODULE",
            "keys.pkcs11_module",
            "with LUCID_KEY_STORE=pkcs11: the path of the token's PKCS#11 module",
            example="/usr/lib/softhsm/libsofthsm2.so",
        ),
    ] = ""
    pkcs11_token_label: Annotated[
        str,
        Setting(
            "LUCID_PKCS11_TOKEN_LABEL",
            "keys.pkcs11_token_label",
            "with LUCID_KEY_STORE=pkcs11: the label of the token that holds the keys",
            example="lucid",
        ),
    ] = ""
    pkcs11_pin_file: Annotated[
        str,
        Setting(
            "LUCID_PKCS11_PIN_FILE",
            "keys.pkcs11_pin_file",
            "with LUCID_KEY_STORE=pkcs11: the private file (mode 0600) holding the token's "
            "user PIN",
            example="/run/secrets/pkcs11_pin",
        ),
    ] = ""
    data_key_cache_seconds: Annotated[
        Annotated[float, msgspec.Meta(ge=0, le=3600)],
        Setting(
            "LUCID_DATA_KEY_CACHE_SECONDS",
            "keys.data_key_cache_seconds",
            "with LUCID_KEY_STORE=pkcs11: how long a data key unwrapped by the token stays in "
            "memory for the next chunks of its session (0: ask the token for every chunk)",
        ),
    ] = 300.0
    data_key_cache_entries: Annotated[
        Annotated[int, msgspec.Meta(ge=0, le=100_000)],
        Setting(
            "LUCID_DATA_KEY_CACHE_ENTRIES",
            "keys.data_key_cache_entries",
            "with LUCID_KEY_STORE=pkcs11: at most this many unwrapped data keys in memory, the "
            "least recently used dropped first (0: no cache)",
        ),
    ] = 256
    # -- authentication ------------------------------------------------------------------------
    api_tokens: Annotated[
        str,
        Setting(
            "LUCID_API_TOKENS",
            "auth.api_tokens",
            "bearer tokens inline: token=principal:role,...",
            secret=True,
        ),
    ] = ""
    api_tokens_file: Annotated[
        str,
        Setting(
            "LUCID_API_TOKENS_FILE",
            "auth.api_tokens_file",
            "a private YAML list of {token_sha256, principal, role}",
            example="/run/secrets/api_tokens.yaml",
        ),
    ] = ""
    jwt_secret_key: Annotated[
        str,
        Setting(
            "JWT_SECRET_KEY",
            "auth.jwt.secret_key",
            "the platform's JWT HMAC secret (at least 32 characters)",
            secret=True,
            from_file=True,
        ),
    ] = ""
    jwt_public_key_file: Annotated[
        str,
        Setting(
            "LUCID_JWT_PUBLIC_KEY_FILE",
            "auth.jwt.public_key_file",
            "a PEM public key for RS256 or EdDSA JWTs (not with JWT_SECRET_KEY)",
        ),
    ] = ""
    jwt_algorithm: Annotated[
        JwtAlgorithm,
        Setting("JWT_ALGORITHM", "auth.jwt.algorithm", "HS256 | HS384 | HS512 | RS256 | EdDSA"),
    ] = "HS256"
    jwt_issuer: Annotated[
        str,
        Setting(
            "LUCID_JWT_ISSUER", "auth.jwt.issuer", "the issuer JWTs must name (empty: not checked)"
        ),
    ] = ""
    jwt_admin_roles: Annotated[
        list[str],
        Setting(
            "LUCID_JWT_ADMIN_ROLES",
            "auth.jwt.admin_roles",
            "JWT roles that are administrators (comma-separated)",
        ),
    ] = msgspec.field(default_factory=lambda: ["admin", "super_admin"])
    metrics_public: Annotated[
        bool,
        Setting(
            "LUCID_METRICS_PUBLIC",
            "metrics.public",
            "true: /metrics needs no token (false: administrators only)",
        ),
    ] = False
    cors_origins: Annotated[
        list[str],
        Setting(
            "CORS_ORIGINS",
            "cors.origins",
            "origins allowed to call from a browser, comma-separated (none by default)",
        ),
    ] = msgspec.field(default_factory=list)
    # -- the platform's blockchain engine -------------------------------------------------------
    blockchain_engine_url: Annotated[
        str,
        Setting(
            "BLOCKCHAIN_ENGINE_URL",
            "integrations.blockchain_engine_url",
            "where signed tree heads are anchored (empty: only logged); may carry credentials",
            secret=True,
            from_file=True,
        ),
    ] = ""
    anchor_interval_seconds: Annotated[
        Annotated[float, msgspec.Meta(gt=0)],
        Setting(
            "LUCID_ANCHOR_INTERVAL_SECONDS",
            "anchoring.interval_seconds",
            "how often new tree heads are anchored",
        ),
    ] = 60.0

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def jwt_enabled(self) -> bool:
        return bool(self.jwt_secret_key or self.jwt_public_key_file)

    @property
    def authentication_configured(self) -> bool:
        return bool(self.api_tokens or self.api_tokens_file or self.jwt_enabled)

    def authentication(self) -> str:
        """One line saying how requests are authenticated (start-up log, check-config)."""
        if not self.authentication_configured:
            return (
                "OPEN: no tokens configured; every request runs as an administrator "
                "(development only; production refuses to start like this)"
            )
        ways = []
        if self.api_tokens:
            ways.append("tokens from LUCID_API_TOKENS")
        if self.api_tokens_file:
            ways.append("tokens from LUCID_API_TOKENS_FILE")
        if self.jwt_enabled:
            ways.append(f"platform JWTs ({self.jwt_algorithm})")
        return "bearer " + ", ".join(ways)

    def masked(self) -> dict[str, Any]:
        """The effective settings as `check-config` shows them: every secret masked (a URL
        keeps all but its password), and how requests are authenticated."""
        shown: dict[str, Any] = msgspec.to_builtins(self)
        for declared in DECLARED:
            value = shown[declared.name]
            if isinstance(value, str) and "://" in value:
                shown[declared.name] = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1****@", value)
            elif declared.source.secret and value:
                shown[declared.name] = "****"
        shown["authentication"] = self.authentication()
        return shown


@dataclass(frozen=True, slots=True)
class Declared:
    """One setting as declared: its field's name, type, default and `Setting`."""

    name: str
    kind: Any
    """The field's type without its annotations: int, float, bool, list[str], str, Literal."""
    default: Any
    source: Setting

    @property
    def yaml_path(self) -> tuple[str, ...]:
        return tuple(self.source.yaml.split(".")) if self.source.yaml else ()

    def describe(self) -> str:
        """How messages name it: the variable, and its YAML key."""
        if self.source.yaml is None:
            return self.source.env
        return f"{self.source.env} (YAML {self.source.yaml})"


def _bare(annotation: Any) -> tuple[Any, Setting]:
    """The type under every `Annotated` layer, and the field's `Setting`."""
    found: Setting | None = None
    while typing.get_origin(annotation) is Annotated:
        for extra in annotation.__metadata__:
            if isinstance(extra, Setting):
                found = extra
        annotation = typing.get_args(annotation)[0]
    if found is None:
        raise TypeError(f"a Settings field is not declared with a Setting: {annotation!r}")
    return annotation, found


def _declare() -> tuple[Declared, ...]:
    hints = typing.get_type_hints(Settings, include_extras=True)
    declared = []
    for field in msgspec.structs.fields(Settings):
        kind, source = _bare(hints[field.name])
        default = field.default_factory() if field.default is msgspec.NODEFAULT else field.default
        declared.append(Declared(field.name, kind, default, source))
    return tuple(declared)


DECLARED: tuple[Declared, ...] = _declare()
"""Every setting, in declaration order."""

BY_NAME: dict[str, Declared] = {declared.name: declared for declared in DECLARED}
"""Every setting by its field's name."""
