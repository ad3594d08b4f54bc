"""The soak's stack: one MongoDB wire server, one redis-server, one RADOS Gateway and several
`lucid-sessions serve` replicas sharing them, all under one temporary folder."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from obstore.store import S3Store
from tests.servers import ServiceProcess
from tests.servers_db import MongoecoServer, MongoTarget, RedisServer
from tests.servers_s3 import S3Server

from lucid_sessions.adapters.crypto.signer import Ed25519Signer

__all__ = ["S3_PREFIX", "Stack"]

S3_PREFIX = "recordings"
LEASE_SECONDS = 3


def _secret(path: Path, content: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    path.chmod(0o600)
    return str(path)


@dataclass
class Stack:
    """The shared servers and the replicas; `start()` brings them up, `stop()` down."""

    folder: Path
    replica_count: int
    mongo: MongoecoServer | None = None
    redis: RedisServer | None = None
    s3: S3Server | None = None
    bucket: str = ""
    replicas: list[ServiceProcess] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        self.mongo = MongoecoServer(self.folder / "mongoeco").start()
        self.redis = RedisServer(self.folder / "redis").start()
        self.s3 = S3Server(self.folder / "radosgw").start()
        self.bucket = self.s3.make_bucket()
        keys = self.folder / "keys"
        master = yaml.safe_dump(
            {"current": "k1", "keys": {"k1": base64.b64encode(os.urandom(32)).decode()}}
        )
        self.env = {
            "MONGODB_URL": MongoTarget(self.mongo.url, emulated=True).url("lucid_soak"),
            "REDIS_URL": self.redis.url_for(1),
            "LUCID_BLOB_STORE": "s3",
            "LUCID_S3_ENDPOINT": self.s3.endpoint,
            "LUCID_S3_BUCKET": self.bucket,
            "LUCID_S3_REGION": self.s3.region,
            "LUCID_S3_PREFIX": S3_PREFIX,
            "LUCID_S3_ADDRESSING": "path",
            "LUCID_S3_ACCESS_KEY_ID": self.s3.access_key,
            "LUCID_S3_SECRET_ACCESS_KEY": self.s3.secret_key,
            "LUCID_S3_TIMEOUT_SECONDS": "5",
            "LUCID_MASTER_KEY_FILE": _secret(keys / "master-keys.yaml", master.encode()),
            "LUCID_SIGNING_KEY_FILE": _secret(
                keys / "signing" / "signing-key.pem", Ed25519Signer.generate().to_pem()
            ),
            "LUCID_LINK_KEY_FILE": _secret(keys / "link-key.b64", base64.b64encode(os.urandom(32))),
            "LUCID_LEASE_SECONDS": str(LEASE_SECONDS),
            "LUCID_RETENTION_INTERVAL_SECONDS": "5",
        }
        for number in range(self.replica_count):
            replica = ServiceProcess(self.folder / f"replica-{number}", env=self.env)
            replica.data_dir.mkdir(parents=True)
            replica.start(timeout=60.0)
            self.replicas.append(replica)

    def store(self) -> S3Store:
        assert self.s3 is not None
        return self.s3.store(self.bucket, S3_PREFIX)

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()
        for server in (self.s3, self.redis, self.mongo):
            if server is not None:
                server.stop()
