"""Value objects of a session: configuration and metadata, validated on construction."""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from enum import StrEnum
from typing import TypeVar

from lucid_sessions.domain.errors import InvalidValue

__all__ = [
    "Compression",
    "Limits",
    "Priority",
    "Quality",
    "RDPConfig",
    "RecordingConfig",
    "SessionMetadata",
    "StorageConfig",
    "merged",
]


class Quality(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ULTRA = "ultra"


class Compression(StrEnum):
    NONE = "none"
    ZSTD = "zstd"
    LZ4 = "lz4"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class Limits:
    """Every bound of the contract, in one place (the HTTP schemas reuse them)."""

    NAME_MAX = 200
    DESCRIPTION_MAX = 2000
    HOST_MAX = 255
    TEXT_MAX = 255
    PORT_MIN, PORT_MAX = 1, 65535
    FRAME_RATE_MIN, FRAME_RATE_MAX = 1, 120
    WIDTH_MIN, WIDTH_MAX = 320, 7680
    HEIGHT_MIN, HEIGHT_MAX = 240, 4320
    ZSTD_LEVEL_MIN, ZSTD_LEVEL_MAX = 1, 22
    LZ4_LEVEL_MIN, LZ4_LEVEL_MAX = 0, 16
    BITRATE_MIN, BITRATE_MAX = 1, 1_000_000_000
    RETENTION_MIN, RETENTION_MAX = 1, 3650
    MAX_SIZE_GB_MIN, MAX_SIZE_GB_MAX = 0.001, 100_000.0
    TAGS_MAX = 10
    TAG_MAX = 50


E = TypeVar("E", bound=StrEnum)

_RESOLUTION = re.compile(r"([0-9]{1,5})x([0-9]{1,5})")
_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _check_host(path: str, host: str) -> None:
    """An IP address (v4 or v6) or an RFC 1123 host name: dot-separated labels of letters,
    digits and inner hyphens, each at most 63 characters, at most 253 in all, the last not
    all digits (so `999.999.999.999` is neither)."""
    if not _host_is_valid(host):
        raise InvalidValue(path, "must be an IP address or an RFC 1123 host name")


@functools.lru_cache(maxsize=4096)
def _host_is_valid(host: str) -> bool:
    """The check itself; cached, as every stored session is checked again when it is read
    and a site records a few hundred hosts."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    labels = host.split(".")
    return (
        len(host) <= 253
        and all(_HOST_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _check_range(path: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InvalidValue(path, f"must be between {low} and {high}, got {value}")


def _check_text(path: str, value: str | None, maximum: int, *, required: bool = False) -> None:
    if value is None:
        if required:
            raise InvalidValue(path, "is required")
        return
    if required and not value.strip():
        raise InvalidValue(path, "must not be empty")
    if len(value) > maximum:
        raise InvalidValue(path, f"must be at most {maximum} characters")


@dataclass(frozen=True, slots=True)
class RDPConfig:
    """Where the recorded desktop lives. The password never enters the domain: the service
    does not store it (the contract allows "stored encrypted or not at all")."""

    host: str
    port: int = 3389
    username: str | None = None
    domain: str | None = None
    use_tls: bool = True
    ignore_cert: bool = False

    def __post_init__(self) -> None:
        _check_text("rdp_config.host", self.host, Limits.HOST_MAX, required=True)
        _check_host("rdp_config.host", self.host)
        _check_range("rdp_config.port", self.port, Limits.PORT_MIN, Limits.PORT_MAX)
        _check_text("rdp_config.username", self.username, Limits.TEXT_MAX)
        _check_text("rdp_config.domain", self.domain, Limits.TEXT_MAX)


@dataclass(frozen=True, slots=True)
class RecordingConfig:
    frame_rate: int = 30
    resolution: str = "1920x1080"
    quality: Quality = Quality.HIGH
    compression: Compression = Compression.ZSTD
    compression_level: int | None = None
    bitrate: int | None = None
    audio_enabled: bool = True
    cursor_enabled: bool = True

    def __post_init__(self) -> None:
        p = "recording_config"
        _check_range(
            f"{p}.frame_rate", self.frame_rate, Limits.FRAME_RATE_MIN, Limits.FRAME_RATE_MAX
        )
        match = _RESOLUTION.fullmatch(self.resolution)
        if match is None:
            raise InvalidValue(f"{p}.resolution", "must look like WIDTHxHEIGHT, e.g. 1920x1080")
        width, height = int(match.group(1)), int(match.group(2))
        if not (
            Limits.WIDTH_MIN <= width <= Limits.WIDTH_MAX
            and Limits.HEIGHT_MIN <= height <= Limits.HEIGHT_MAX
        ):
            raise InvalidValue(f"{p}.resolution", "must be between 320x240 and 7680x4320")
        object.__setattr__(self, "quality", _enum(Quality, self.quality, f"{p}.quality"))
        compression = _enum(Compression, self.compression, f"{p}.compression")
        object.__setattr__(self, "compression", compression)
        if self.compression_level is not None:
            if compression is Compression.ZSTD:
                low, high = Limits.ZSTD_LEVEL_MIN, Limits.ZSTD_LEVEL_MAX
            elif compression is Compression.LZ4:
                low, high = Limits.LZ4_LEVEL_MIN, Limits.LZ4_LEVEL_MAX
            else:
                raise InvalidValue(
                    f"{p}.compression_level", "must be null when compression is none"
                )
            _check_range(f"{p}.compression_level", self.compression_level, low, high)
        if self.bitrate is not None:
            _check_range(f"{p}.bitrate", self.bitrate, Limits.BITRATE_MIN, Limits.BITRATE_MAX)


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """How a recording is kept. `backup_enabled` and `archive_enabled` are the original
    clients' flags, stored and returned (no backup or archive is made by this service)."""

    retention_days: int = 30
    max_size_gb: float = 10.0
    encryption_enabled: bool = True
    compression_enabled: bool = True
    legal_hold: bool = False
    backup_enabled: bool = False
    archive_enabled: bool = False

    @property
    def max_bytes(self) -> int:
        """The quota in bytes of original chunk data (a GB is 10**9 bytes)."""
        return int(self.max_size_gb * 1_000_000_000)

    def __post_init__(self) -> None:
        p = "storage_config"
        _check_range(
            f"{p}.retention_days", self.retention_days, Limits.RETENTION_MIN, Limits.RETENTION_MAX
        )
        _check_range(
            f"{p}.max_size_gb", self.max_size_gb, Limits.MAX_SIZE_GB_MIN, Limits.MAX_SIZE_GB_MAX
        )


@dataclass(frozen=True, slots=True)
class SessionMetadata:
    project: str | None = None
    environment: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    description: str | None = None
    owner: str | None = None
    priority: Priority = Priority.NORMAL

    def __post_init__(self) -> None:
        p = "metadata"
        _check_text(f"{p}.project", self.project, Limits.TEXT_MAX)
        _check_text(f"{p}.environment", self.environment, Limits.TEXT_MAX)
        _check_text(f"{p}.description", self.description, Limits.DESCRIPTION_MAX)
        _check_text(f"{p}.owner", self.owner, Limits.TEXT_MAX)
        tags = tuple(self.tags)
        if len(tags) > Limits.TAGS_MAX:
            raise InvalidValue(f"{p}.tags", f"at most {Limits.TAGS_MAX} tags are allowed")
        for index, tag in enumerate(tags):
            if not tag.strip():
                raise InvalidValue(f"{p}.tags[{index}]", "must not be empty")
            _check_text(f"{p}.tags[{index}]", tag, Limits.TAG_MAX)
        object.__setattr__(self, "tags", tags)
        object.__setattr__(self, "priority", _enum(Priority, self.priority, f"{p}.priority"))


V = TypeVar("V", StorageConfig, SessionMetadata)


def merged(value: V, changes: Mapping[str, object], path: str) -> V:
    """`value` with `changes` applied: a key sent replaces that field, `None` puts the field
    back to its default (removes it), a key not sent stays. Every check runs again."""
    defaults = {f.name: f for f in fields(value)}
    updates: dict[str, object] = {}
    for name, change in changes.items():
        known = defaults.get(name)
        if known is None:
            raise InvalidValue(f"{path}.{name}", "is not a field")
        if change is None:
            if known.default is not MISSING:
                change = known.default
            elif known.default_factory is not MISSING:
                change = known.default_factory()
        updates[name] = change
    return replace(value, **updates)  # type: ignore[arg-type]


def _enum(kind: type[E], value: object, path: str) -> E:
    if type(value) is kind:
        return value  # already a member (every decoded one)
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidValue(path, f"must be one of {allowed}, got {value!r}") from None
