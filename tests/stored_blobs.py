"""The blobs a test server stored, wherever its settings put them (the chunk folder or an S3
bucket), for tests that tamper with them or check what is there."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tests.servers import ServiceProcess

__all__ = ["StoredBlob", "blob_names", "on_s3", "stored_blob", "temporaries"]


class StoredBlob(Protocol):
    def read(self) -> bytes: ...
    def write(self, data: bytes) -> None: ...
    def delete(self) -> None: ...


class FileBlob:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> bytes:
        return self.path.read_bytes()

    def write(self, data: bytes) -> None:
        self.path.write_bytes(data)

    def delete(self) -> None:
        self.path.unlink()


class ObjectBlob:
    def __init__(self, server: ServiceProcess, key: str) -> None:
        self.store, self.key = _store(server), key

    def read(self) -> bytes:
        import obstore

        return bytes(obstore.get(self.store, self.key).bytes())

    def write(self, data: bytes) -> None:
        import obstore

        obstore.put(self.store, self.key, data)

    def delete(self) -> None:
        import obstore

        obstore.delete(self.store, self.key)


def on_s3(server: ServiceProcess) -> bool:
    return server.env.get("LUCID_BLOB_STORE") == "s3"


def _store(server: ServiceProcess):  # type: ignore[no-untyped-def]
    from lucid_sessions.adapters.s3.blob_store import s3_store

    env = server.env
    return s3_store(
        env["LUCID_S3_BUCKET"],
        endpoint=env["LUCID_S3_ENDPOINT"],
        region=env["LUCID_S3_REGION"],
        prefix=env.get("LUCID_S3_PREFIX", ""),
        addressing=env["LUCID_S3_ADDRESSING"],
        access_key_id=env["LUCID_S3_ACCESS_KEY_ID"],
        secret_access_key=env["LUCID_S3_SECRET_ACCESS_KEY"],
    )


def _folder(server: ServiceProcess, sid: str) -> Path:
    found = list((server.data_dir / "chunks").glob(f"??/{sid}"))
    assert len(found) == 1, found
    return found[0]


def stored_blob(server: ServiceProcess, sid: str, seq: int, *, exists: bool = True) -> StoredBlob:
    """Chunk `seq` of session `sid` as stored; `exists=False` for one not there yet."""
    name = f"{seq:012d}.lsb"
    if on_s3(server):
        blob = ObjectBlob(server, f"{sid}/{name}")
        if exists:
            blob.read()  # raises when missing
        return blob
    path = _folder(server, sid) / name
    assert path.exists() == exists, path
    return FileBlob(path)


def blob_names(server: ServiceProcess, sid: str) -> list[str]:
    """The names of the session's stored blobs, sorted (`000000000000.lsb`, ...)."""
    if on_s3(server):
        import obstore

        listed = obstore.list(_store(server), prefix=f"{sid}/").collect()
        return sorted(meta["path"].rsplit("/", 1)[-1] for meta in listed)
    return sorted(path.name for path in _folder(server, sid).glob("*.lsb"))


def temporaries(server: ServiceProcess, sid: str) -> list[str]:
    """Half-written blobs left in the session's folder (an object store shows none: a put
    is visible only once complete)."""
    if on_s3(server):
        return []
    return sorted(path.name for path in _folder(server, sid).glob(".*.tmp"))
