"""msgspec models of the HTTP contract (requests and responses)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from lucid_sessions.domain.values import Limits

__all__ = [
    "REQUEST_MODELS",
    "CreateSessionRequest",
    "DeletedResponse",
    "RDPConfigIn",
    "RDPConfigOut",
    "RecordingConfigModel",
    "SessionListResponse",
    "SessionMetadataModel",
    "SessionMetadataPatch",
    "SessionResponse",
    "SessionStatistics",
    "StorageConfigModel",
    "StorageConfigPatch",
    "UpdateSessionRequest",
]

Text = Annotated[str, Meta(max_length=Limits.TEXT_MAX)]
Name = Annotated[str, Meta(min_length=1, max_length=Limits.NAME_MAX)]
Description = Annotated[str, Meta(max_length=Limits.DESCRIPTION_MAX)]
Tag = Annotated[str, Meta(min_length=1, max_length=Limits.TAG_MAX)]
Password = Annotated[str, Meta(max_length=1024, description="write-only; never stored or returned")]
Quality = Literal["low", "medium", "high", "ultra"]
CompressionName = Literal["none", "zstd", "lz4"]
Priority = Literal["low", "normal", "high", "critical"]
Status = Literal["created", "recording", "paused", "stopped", "processing", "completed", "failed"]


class _In(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Request bodies reject unknown fields, so a misspelt field is an error, not ignored."""


class RDPConfigIn(_In):
    host: Annotated[str, Meta(min_length=1, max_length=Limits.HOST_MAX)]
    port: Annotated[int, Meta(ge=Limits.PORT_MIN, le=Limits.PORT_MAX)] = 3389
    username: Text | None = None
    password: Password | None = None
    domain: Text | None = None
    use_tls: bool = True
    ignore_cert: bool = False


class RDPConfigOut(msgspec.Struct, kw_only=True):
    host: str
    port: int
    username: str | None
    domain: str | None
    use_tls: bool
    ignore_cert: bool


class RecordingConfigModel(_In):
    frame_rate: Annotated[int, Meta(ge=Limits.FRAME_RATE_MIN, le=Limits.FRAME_RATE_MAX)] = 30
    resolution: Annotated[str, Meta(pattern=r"^[0-9]{1,5}x[0-9]{1,5}$")] = "1920x1080"
    quality: Quality = "high"
    compression: CompressionName = "zstd"
    compression_level: Annotated[int, Meta(ge=0, le=Limits.ZSTD_LEVEL_MAX)] | None = None
    bitrate: Annotated[int, Meta(ge=Limits.BITRATE_MIN, le=Limits.BITRATE_MAX)] | None = None
    audio_enabled: bool = True
    cursor_enabled: bool = True


Retention = Annotated[int, Meta(ge=Limits.RETENTION_MIN, le=Limits.RETENTION_MAX)]
SizeGb = Annotated[float, Meta(ge=Limits.MAX_SIZE_GB_MIN, le=Limits.MAX_SIZE_GB_MAX)]
Tags = Annotated[list[Tag], Meta(max_length=Limits.TAGS_MAX)]


class StorageConfigModel(_In):
    retention_days: Retention = 30
    max_size_gb: SizeGb = 10.0
    encryption_enabled: bool = True
    compression_enabled: bool = True
    legal_hold: bool = False
    backup_enabled: bool = False
    archive_enabled: bool = False


class StorageConfigPatch(_In):
    """Fields to change in the stored storage_config: a field sent replaces the stored
    value, null puts its default back, a field not sent stays as it is."""

    retention_days: Retention | UnsetType | None = UNSET
    max_size_gb: SizeGb | UnsetType | None = UNSET
    encryption_enabled: bool | UnsetType | None = UNSET
    compression_enabled: bool | UnsetType | None = UNSET
    legal_hold: bool | UnsetType | None = UNSET
    backup_enabled: bool | UnsetType | None = UNSET
    archive_enabled: bool | UnsetType | None = UNSET


class SessionMetadataModel(_In):
    project: Text | None = None
    environment: Text | None = None
    tags: Tags = msgspec.field(default_factory=list)
    description: Description | None = None
    owner: Text | None = None
    priority: Priority = "normal"


class SessionMetadataPatch(_In):
    """Keys to change in the stored metadata: a key sent replaces the stored value, null
    removes it (tags become [], priority "normal"), a key not sent stays as it is."""

    project: Text | UnsetType | None = UNSET
    environment: Text | UnsetType | None = UNSET
    tags: Tags | UnsetType | None = UNSET
    description: Description | UnsetType | None = UNSET
    owner: Text | UnsetType | None = UNSET
    priority: Priority | UnsetType | None = UNSET


class CreateSessionRequest(_In):
    name: Name
    rdp_config: RDPConfigIn
    description: Description | None = None
    recording_config: RecordingConfigModel | None = None
    storage_config: StorageConfigModel | None = None
    metadata: SessionMetadataModel | None = None


class UpdateSessionRequest(_In):
    """Every field is optional. `metadata` and `storage_config` are merged into what is
    stored (a key sent replaces, null removes, a key not sent stays); `recording_config`
    replaces the whole configuration and is accepted only while the session is `created`."""

    name: Name | None = None
    description: Description | None = None
    metadata: SessionMetadataPatch | None = None
    storage_config: StorageConfigPatch | None = None
    recording_config: RecordingConfigModel | None = None


class SessionStatistics(msgspec.Struct, kw_only=True):
    duration_seconds: float
    paused_seconds: float
    chunks_count: int
    size_bytes: int
    stored_bytes: int
    frame_count: int
    compression_ratio: float | None


class SessionResponse(msgspec.Struct, kw_only=True):
    session_id: str
    name: str
    description: str | None
    status: Status
    rdp_config: RDPConfigOut
    recording_config: RecordingConfigModel
    storage_config: StorageConfigModel
    metadata: SessionMetadataModel
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    completed_at: datetime | None
    statistics: SessionStatistics
    merkle_root: str | None
    error: str | None
    pipeline_paused: bool
    version: int


class SessionListResponse(msgspec.Struct, kw_only=True):
    sessions: list[SessionResponse]
    total: int
    limit: int
    offset: int
    has_next: bool
    has_previous: bool


class DeletedResponse(msgspec.Struct, kw_only=True):
    session_id: str
    deleted: bool


REQUEST_MODELS: dict[str, str] = {
    model.__name__: " ".join((model.__doc__ or "").split()) for model in _In.__subclasses__()
}
"""Request bodies and their parts (which refuse unknown fields), with what their docstrings
say about them."""
