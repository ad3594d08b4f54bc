"""Validation of the value objects: ranges, enums, tag limits."""

from __future__ import annotations

from typing import Any

import pytest

from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.values import (
    Compression,
    Priority,
    RDPConfig,
    RecordingConfig,
    SessionMetadata,
    StorageConfig,
)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: RDPConfig(host=""), "rdp_config.host"),
        (lambda: RDPConfig(host="h", port=0), "rdp_config.port"),
        (lambda: RDPConfig(host="h", port=65536), "rdp_config.port"),
        (lambda: RecordingConfig(frame_rate=0), "recording_config.frame_rate"),
        (lambda: RecordingConfig(frame_rate=121), "recording_config.frame_rate"),
        (lambda: RecordingConfig(resolution="1920*1080"), "recording_config.resolution"),
        (lambda: RecordingConfig(resolution="319x240"), "recording_config.resolution"),
        (lambda: RecordingConfig(resolution="7681x4320"), "recording_config.resolution"),
        (lambda: RecordingConfig(resolution="320x4321"), "recording_config.resolution"),
        (lambda: RecordingConfig(quality="superb"), "recording_config.quality"),  # type: ignore[arg-type]
        (lambda: RecordingConfig(compression="gzip"), "recording_config.compression"),  # type: ignore[arg-type]
        (lambda: RecordingConfig(compression_level=23), "recording_config.compression_level"),
        (
            lambda: RecordingConfig(compression=Compression.LZ4, compression_level=17),
            "recording_config.compression_level",
        ),
        (
            lambda: RecordingConfig(compression=Compression.NONE, compression_level=1),
            "recording_config.compression_level",
        ),
        (lambda: StorageConfig(retention_days=0), "storage_config.retention_days"),
        (lambda: StorageConfig(retention_days=3651), "storage_config.retention_days"),
        (lambda: SessionMetadata(tags=tuple(f"t{i}" for i in range(11))), "metadata.tags"),
        (lambda: SessionMetadata(tags=("x" * 51,)), "metadata.tags[0]"),
        (lambda: SessionMetadata(tags=("ok", " ")), "metadata.tags[1]"),
        (lambda: SessionMetadata(priority="urgent"), "metadata.priority"),  # type: ignore[arg-type]
    ],
)
def test_invalid_values_name_their_field(build: Any, field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        build()
    assert caught.value.field == field


def test_bounds_are_inclusive() -> None:
    RecordingConfig(frame_rate=1, resolution="320x240")
    RecordingConfig(frame_rate=120, resolution="7680x4320", compression_level=22)
    RDPConfig(host="h", port=65535)
    StorageConfig(retention_days=3650)
    SessionMetadata(tags=tuple("x" * 50 for _ in range(10)))


def test_enums_are_coerced_from_strings() -> None:
    meta = SessionMetadata(priority="high")  # type: ignore[arg-type]
    assert meta.priority is Priority.HIGH
    assert RecordingConfig(compression="lz4").compression is Compression.LZ4  # type: ignore[arg-type]
