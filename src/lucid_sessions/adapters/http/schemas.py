"""msgspec models of the HTTP contract (requests and responses)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from lucid_sessions.domain.values import Limits

__all__ = [
    "CreateSessionRequest",
    "DeletedResponse",
    "RDPConfigIn",
    "RDPConfigOut",
    "RecordingConfigModel",
    "SessionListResponse",
    "SessionMetadataModel",
    "SessionResponse",
    "SessionStatistics",
    "StorageConfigModel",
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


class StorageConfigModel(_In):
    retention_days: Annotated[int, Meta(ge=Limits.RETENTION_MIN, le=Limits.RETENTION_MAX)] = 30
    max_size_gb: Annotated[float, Meta(ge=Limits.MAX_SIZE_GB_MIN, le=Limits.MAX_SIZE_GB_MAX)] = 10.0
    encryption_enabled: bool = True
    compression_enabled: bool = True
    legal_hold: bool = False


class SessionMetadataModel(_In):
    project: Text | None = None
    environment: Text | None = None
    tags: Annotated[list[Tag], Meta(max_length=Limits.TAGS_MAX)] = msgspec.field(
        default_factory=list
    )
    description: Description | None = None
    owner: Text | None = None
    priority: Priority = "normal"


class CreateSessionRequest(_In):
    name: Name
    rdp_config: RDPConfigIn
    description: Description | None = None
    recording_config: RecordingConfigModel | None = None
    storage_config: StorageConfigModel | None = None
    metadata: SessionMetadataModel | None = None


class UpdateSessionRequest(_In):
    name: Name | None = None
    description: Description | None = None
    metadata: SessionMetadataModel | None = None
    storage_config: StorageConfigModel | None = None
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
