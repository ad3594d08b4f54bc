"""The builders the composition root calls: each turns settings into one adapter.

Each function builds one thing from its arguments and nothing else: no provider, no container.
A misconfiguration raises the adapter's own `ConfigurationError` (a key file that cannot be
read, a token file or S3 credentials that are wrong); the process start-up catches that one
base type and stops with its message.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lucid_sessions.adapters.crypto import load_signer
from lucid_sessions.adapters.crypto.keyring import (
    KeyConfigError,
    KeySources,
    master_key_file_path,
    rotate_master_key,
)
from lucid_sessions.adapters.crypto.link_signer import ReloadingLinkSigner
from lucid_sessions.adapters.crypto.reloading_keyring import ReloadingKeyRing
from lucid_sessions.adapters.fs.blob_store import FilesystemBlobStore
from lucid_sessions.adapters.fs.storage_probe import FilesystemStorageProbe
from lucid_sessions.app.caching import CachedSessionRepository
from lucid_sessions.app.usecases.authenticate import Authenticate
from lucid_sessions.bootstrap.settings import MIB, SOURCES, Settings, SettingsError
from lucid_sessions.bootstrap.stores import Stores
from lucid_sessions.domain.ports.anchor import Anchor
from lucid_sessions.domain.ports.authenticator import Authenticator
from lucid_sessions.domain.ports.blob_store import BlobStore
from lucid_sessions.domain.ports.cipher import CipherName
from lucid_sessions.domain.ports.health_probe import HealthProbe
from lucid_sessions.domain.ports.keyring import KeyRing
from lucid_sessions.domain.ports.link_signer import LinkSigner
from lucid_sessions.domain.ports.session_repository import SessionRepository
from lucid_sessions.domain.ports.signer import Signer, SigningKey
from lucid_sessions.domain.ports.telemetry import Telemetry
from lucid_sessions.domain.ports.usage_probe import UsageProbe

__all__ = [
    "OPEN_WARNING",
    "DataFolders",
    "add_master_key",
    "anchor",
    "authenticators",
    "blob_store",
    "cipher_name",
    "data_folders",
    "free_space_floor",
    "health_warnings",
    "key_sources",
    "keyring",
    "min_free_bytes",
    "process_owner",
    "rotate_signing_key",
    "session_repository",
    "signer",
    "storage_probe",
]

OPEN_WARNING = (
    "authentication is off: no tokens are configured, so every request runs as an "
    "administrator (development only; set LUCID_API_TOKENS, LUCID_API_TOKENS_FILE or "
    "JWT_SECRET_KEY)"
)


@dataclass(frozen=True, slots=True)
class DataFolders:
    """The two data folders: the metadata store and keys (`storage`), the chunk blobs
    (`chunks`)."""

    storage: Path
    chunks: Path


def data_folders(settings: Settings, create: bool) -> DataFolders:
    """The data folders; made when missing, unless this process only operates on an existing
    store (the operator's commands), which then stops with a clear message instead."""
    folders = DataFolders(Path(settings.storage_path), Path(settings.chunk_store_path))
    for folder, name in ((folders.storage, "storage_path"), (folders.chunks, "chunk_store_path")):
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            env_name, _ = SOURCES[name]
            raise SettingsError(
                f"{env_name}: {folder.resolve()} does not exist, so there is no store to work "
                f"on; point {env_name} at the service's data (relative paths start from the "
                "current folder)"
            )
    return folders


def key_sources(settings: Settings) -> KeySources:
    """Where the master and signing keys come from, as the settings say."""
    return KeySources(
        master_key=settings.master_key,
        master_key_file=settings.master_key_file,
        signing_key_file=settings.signing_key_file,
    )


def keyring(settings: Settings, folders: DataFolders, create: bool) -> KeyRing:
    """The master keys; an operator's command (`create` false) never makes new ones, nor does
    production (it stops with one line naming what is missing). A token's ring is behind the
    data key cache (LUCID_DATA_KEY_CACHE_SECONDS, LUCID_DATA_KEY_CACHE_ENTRIES): each unwrap
    there is a round trip to the token; the file ring unwraps in memory and needs none."""
    if settings.key_store == "pkcs11":
        from lucid_sessions.adapters.crypto.cached_keyring import CachedKeyRing
        from lucid_sessions.adapters.pkcs11.keyring import Pkcs11KeyRing

        token = Pkcs11KeyRing(*_token_access(settings), create=create and not settings.production)
        return CachedKeyRing(
            token,
            max_entries=settings.data_key_cache_entries,
            ttl_seconds=settings.data_key_cache_seconds,
        )
    return ReloadingKeyRing(
        key_sources(settings), folders.storage, settings.production, generate=create
    )


def signer(settings: Settings, folders: DataFolders, create: bool) -> Signer:
    """The signing keys of the key store in use (the key folder or the token); an operator's
    command (`create` false) never makes a key, nor does production (it stops with one line
    naming what is missing)."""
    if settings.key_store == "pkcs11":
        from lucid_sessions.adapters.pkcs11.signer import Pkcs11Signer

        return Pkcs11Signer(*_token_access(settings), create=create and not settings.production)
    return load_signer(key_sources(settings), folders.storage, settings.production, generate=create)


def rotate_signing_key(settings: Settings, now: datetime) -> tuple[SigningKey, list[SigningKey]]:
    """Make the next signing key in the key store in use, made at `now`, and retire the current
    one; the new key and the key set after it. Running servers take it up without a restart.
    On an empty token the first key pair is made (how production provisions one)."""
    signer: Signer
    if settings.key_store == "pkcs11":
        from lucid_sessions.adapters.pkcs11.signer import Pkcs11Signer

        token = Pkcs11Signer(*_token_access(settings), create=True)
        signer, new = token, (token.current() if token.created else token.rotate(now))
    else:
        signer = load_signer(
            key_sources(settings), Path(settings.storage_path), settings.production, generate=False
        )
        new = signer.rotate(now)
    return new, signer.key_set()


def _token_access(settings: Settings) -> tuple[str, str, str]:
    """What opens the configured PKCS#11 token: its module, its label and its PIN."""
    return settings.pkcs11_module, settings.pkcs11_token_label, _pkcs11_pin(settings)


def _pkcs11_pin(settings: Settings) -> str:
    """The token's user PIN from `LUCID_PKCS11_PIN_FILE` (a private file; surrounding
    whitespace dropped). Never printed: errors name the file, not its content."""
    from lucid_sessions.adapters.crypto.keyring import read_key_file

    where = f"LUCID_PKCS11_PIN_FILE ({settings.pkcs11_pin_file})"
    raw = read_key_file(
        Path(settings.pkcs11_pin_file), where, "PKCS#11 PIN", production=settings.production
    )
    try:
        pin = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise KeyConfigError(f"{where}: the PIN is not UTF-8 text") from None
    if not pin:
        raise KeyConfigError(f"{where}: the file is empty; it must hold the token's user PIN")
    return pin


def link_signer(settings: Settings, folders: DataFolders, create: bool) -> LinkSigner:
    """The key that signs playback links: in the PKCS#11 token (made there in development
    only), or in its file (reloaded when the file is replaced)."""
    if settings.key_store == "pkcs11":
        from lucid_sessions.adapters.pkcs11.link_signer import Pkcs11LinkSigner

        return Pkcs11LinkSigner(*_token_access(settings), create=create and not settings.production)
    return ReloadingLinkSigner(
        settings.link_key_file, folders.storage, settings.production, generate=create
    )


def rotate_link_key(settings: Settings) -> str:
    """Replace the playback link key (every outstanding link ends) and return its id: the
    next key in the token, or a new key file."""
    if settings.key_store == "pkcs11":
        from lucid_sessions.adapters.pkcs11.link_signer import rotate_link_key as rotate_in_token

        return rotate_in_token(*_token_access(settings))
    from lucid_sessions.adapters.crypto.link_signer import link_key_file_path
    from lucid_sessions.adapters.crypto.link_signer import rotate_link_key as rotate

    return rotate(link_key_file_path(settings.link_key_file, Path(settings.storage_path)))


def add_master_key(settings: Settings) -> str:
    """Add a new current master key to the key file or the token in use; return its id."""
    if settings.key_store == "pkcs11":
        from lucid_sessions.adapters.pkcs11.keyring import Pkcs11KeyRing

        # On an empty token this makes the first key (how production provisions one).
        ring = Pkcs11KeyRing(*_token_access(settings), create=True)
        return ring.current_key_id if ring.created else ring.rotate()
    return rotate_master_key(
        master_key_file_path(key_sources(settings), Path(settings.storage_path))
    )


def cipher_name(settings: Settings) -> CipherName:
    from lucid_sessions.adapters.crypto import default_cipher_name

    return default_cipher_name() if settings.cipher == "auto" else settings.cipher


def authenticators(settings: Settings) -> list[Authenticator]:
    """What the settings configure, in the order they are tried (cheapest first)."""
    from lucid_sessions.adapters.auth.tokens import (
        FileTokenAuthenticator,
        StaticTokenAuthenticator,
        parse_inline_tokens,
    )

    found: list[Authenticator] = []
    if settings.api_tokens:
        found.append(StaticTokenAuthenticator(parse_inline_tokens(settings.api_tokens)))
    if settings.api_tokens_file:
        path = Path(settings.api_tokens_file)
        found.append(FileTokenAuthenticator(path, production=settings.production))
    if settings.jwt_enabled:
        from lucid_sessions.adapters.auth.platform_jwt import JwtAuthenticator, load_public_key

        key = settings.jwt_secret_key or load_public_key(
            Path(settings.jwt_public_key_file), settings.jwt_algorithm
        )
        found.append(
            JwtAuthenticator(
                key,
                settings.jwt_algorithm,
                issuer=settings.jwt_issuer,
                admin_roles=settings.jwt_admin_roles,
            )
        )
    return found


def health_warnings(authenticate: Authenticate) -> tuple[str, ...]:
    return (OPEN_WARNING,) if authenticate.open else ()


def process_owner() -> str:
    """A name for this process on the leases it takes: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def min_free_bytes(settings: Settings) -> int:
    return settings.chunk_store_min_free_mb * MIB


def session_repository(stores: Stores, telemetry: Telemetry) -> SessionRepository:
    """The stores' repository, behind the read-through cache when one is open."""
    if stores.cache is None:
        return stores.sessions
    return CachedSessionRepository(stores.sessions, stores.cache, telemetry)


def blob_store(settings: Settings, folders: DataFolders) -> BlobStore:
    """The chunk store the settings select: the filesystem (rid of the temporary files a
    crash mid-write may have left) or an S3 bucket."""
    if settings.blob_store == "s3":
        return _s3_blobs(settings)
    store = FilesystemBlobStore(folders.chunks)
    store.sweep_temporaries()
    return store


def _s3_blobs(settings: Settings) -> BlobStore:
    from lucid_sessions.adapters.s3.blob_store import S3BlobStore, s3_store
    from lucid_sessions.adapters.s3.credentials import load_s3_credentials

    key_id, secret = settings.s3_access_key_id, settings.s3_secret_access_key
    if settings.s3_credentials_file:
        key_id, secret = load_s3_credentials(
            Path(settings.s3_credentials_file), production=settings.production
        )
    store = s3_store(
        settings.s3_bucket,
        endpoint=settings.s3_endpoint.rstrip("/"),
        region=settings.s3_region,
        prefix=settings.s3_prefix,
        addressing=settings.s3_addressing,
        access_key_id=key_id,
        secret_access_key=secret,
        timeout_seconds=settings.s3_timeout_seconds,
    )
    return S3BlobStore(store, where=f"bucket {settings.s3_bucket}")


def storage_probe(
    settings: Settings, folders: DataFolders, blobs: BlobStore
) -> FilesystemStorageProbe | HealthProbe:
    """Both data folders must be writable (and the bucket answer, with S3); free and used
    space are the chunk store's folder (the data folder's with S3)."""
    local = FilesystemStorageProbe(folders.chunks, folders.storage)
    if settings.blob_store != "s3":
        return local
    from lucid_sessions.adapters.s3.blob_store import S3BlobStore
    from lucid_sessions.adapters.s3.storage_probe import S3StorageProbe

    assert isinstance(blobs, S3BlobStore)
    return S3StorageProbe(local, blobs)


def free_space_floor(settings: Settings, probe: UsageProbe) -> UsageProbe | None:
    """What measures free space for the ingest floor and health's `free_space`: the chunk
    store's folder; nothing with S3 (an object store has no floor to keep)."""
    return None if settings.blob_store == "s3" else probe


def anchor(settings: Settings) -> Anchor:
    """The blockchain engine over HTTP when BLOCKCHAIN_ENGINE_URL is set, else a log line."""
    if not settings.blockchain_engine_url:
        from lucid_sessions.adapters.anchor.logging_anchor import LoggingAnchor

        return LoggingAnchor()
    from lucid_sessions.adapters.anchor.http_anchor import HttpAnchor

    return HttpAnchor(settings.blockchain_engine_url)
