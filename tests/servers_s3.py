"""A real S3 server for tests: Ceph's RADOS Gateway on a throwaway one-node cluster.

Debian's `radosgw`, `ceph-mon`, `ceph-osd` and `ceph-common` (16.2; installed by
scripts/ensure-test-services.sh) run as three foreground processes on free 127.0.0.1 ports:
one monitor, one OSD keeping objects in memory (`memstore`), pool size 1, no cephx (`auth *
required = none`; `ms mon client mode = crc`, else radosgw loops on an auth error), quick
consensus (`paxos propose interval = 0.05`), a killed gateway's stale RADOS watches dropped
after 10 s rather than 30 (`osd client watch timeout`: until then, the new gateway's first
bucket creation waits on a notify to the dead one), and deleted objects collected within seconds
(`rgw gc obj min wait = 0`, `rgw gc processor period = 5`). radosgw checks SigV4 signatures
like any S3 service. A user with a random key pair comes from `radosgw-admin user create`;
buckets are made with a presigned PUT (obstore cannot create buckets).

Stopped gateway and OSD first, the monitor last (an OSD without its monitor waits 5 s).
When a binary is missing, `ServerUnavailable` says what to install; fixtures fail naming it
(`tests.components.unavailable`).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import obstore
from obstore.store import S3Store

from lucid_sessions.adapters.s3.blob_store import s3_store
from tests.servers import free_port
from tests.servers_db import ServerUnavailable, _Process

__all__ = ["S3Server", "s3_binaries"]

_BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")


def s3_binaries() -> dict[str, str]:
    found = {name: shutil.which(name) for name in _BINARIES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise ServerUnavailable(
            "s3",
            f"{', '.join(missing)} not installed (apt-get install radosgw ceph-mon ceph-osd "
            "ceph-common; scripts/ensure-test-services.sh does it)",
        )
    return {name: str(path) for name, path in found.items()}


_CONF = """[global]
fsid = {fsid}
mon host = [v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
ms mon client mode = crc
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = {memstore_bytes}
paxos propose interval = 0.05
osd client watch timeout = 10
run dir = {dir}/run
log file = {dir}/log/$name.log
admin socket = {dir}/run/$name.asok
pid file = {dir}/run/$name.pid
mon data = {dir}/mon
osd data = {dir}/osd
keyring = /dev/null

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{rgw} tcp_nodelay=1
rgw data = {dir}/rgw
rgw gc obj min wait = 0
rgw gc processor period = 5
"""


@dataclass
class S3Server:
    """radosgw on its own cluster under `data_dir`; `endpoint`, `access_key`, `secret_key`."""

    data_dir: Path
    memstore_bytes: int = 4 << 30
    region: str = "us-east-1"
    access_key: str = field(default_factory=lambda: "LUCID" + secrets.token_hex(8).upper())
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    rgw_port: int = field(default_factory=free_port)
    _processes: list[_Process] = field(default_factory=list)
    _commands: dict[str, list[str]] = field(default_factory=dict)

    name = "radosgw"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.rgw_port}"

    @property
    def conf(self) -> Path:
        return self.data_dir / "ceph.conf"

    def _run(self, *command: str, timeout: float = 60.0) -> str:
        done = subprocess.run(
            [*command], capture_output=True, text=True, timeout=timeout, cwd=self.data_dir
        )
        if done.returncode != 0:
            raise ServerUnavailable("s3", f"{' '.join(command)}: {done.stderr[-2000:]}")
        return done.stdout

    def _daemon(
        self, name: str, command: list[str], answers: Callable[[], bool], timeout: float
    ) -> None:
        process = _Process(self.data_dir, name)
        process._spawn(command)
        self._processes.append(process)
        self._commands[name] = command
        process._wait(answers, timeout)

    def restart_gateway(self, timeout: float = 30.0) -> None:
        """A new radosgw process on the same port (after `gateway.kill()`, say)."""
        self.gateway.stop()
        self._processes = [p for p in self._processes if p.name != "radosgw"]
        self._daemon("radosgw", self._commands["radosgw"], self._gateway_answers, timeout)

    @classmethod
    def attach(cls, endpoint: str, access_key: str, secret_key: str) -> S3Server:
        """A gateway already running at `endpoint` (http://127.0.0.1:PORT), say the test
        session's: buckets can be made on it and `stop()` leaves it running."""
        port = urlsplit(endpoint).port
        if port is None:
            raise ValueError(f"{endpoint!r} names no port")
        return cls(Path("."), access_key=access_key, secret_key=secret_key, rgw_port=port)

    def start(self, timeout: float = 60.0) -> S3Server:
        tools = s3_binaries()
        for folder in ("mon", "osd", "run", "log", "rgw"):
            (self.data_dir / folder).mkdir(parents=True, exist_ok=True)
        fsid = str(uuid.uuid4())
        mon_v2, mon_v1 = free_port(), free_port()
        self.conf.write_text(
            _CONF.format(
                fsid=fsid,
                mon_v2=mon_v2,
                mon_v1=mon_v1,
                rgw=self.rgw_port,
                dir=self.data_dir,
                memstore_bytes=self.memstore_bytes,
            )
        )
        conf = ["-c", str(self.conf)]
        monmap = str(self.data_dir / "monmap")
        address = f"[v2:127.0.0.1:{mon_v2},v1:127.0.0.1:{mon_v1}]"
        try:
            self._run(
                tools["monmaptool"], "--create", "--addv", "a", address, "--fsid", fsid, monmap
            )
            self._run(tools["ceph-mon"], *conf, "--mkfs", "-i", "a", "--monmap", monmap)
            self._daemon(
                "ceph-mon",
                [tools["ceph-mon"], "-f", *conf, "-i", "a"],
                lambda: self._ceph_answers(tools["ceph"]),
                timeout,
            )
            osd_uuid = str(uuid.uuid4())
            self._run(tools["ceph"], *conf, "osd", "new", osd_uuid)
            self._run(tools["ceph-osd"], *conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid)
            self._daemon(
                "ceph-osd",
                [tools["ceph-osd"], "-f", *conf, "-i", "0"],
                lambda: self._osd_up(tools["ceph"]),
                timeout,
            )
            self._daemon(
                "radosgw",
                [tools["radosgw"], "-f", *conf, "-n", "client.rgw.a"],
                self._gateway_answers,
                timeout,
            )
            self._run(
                tools["radosgw-admin"],
                *conf,
                "user",
                "create",
                "--uid=lucid",
                "--display-name=lucid tests",
                f"--access-key={self.access_key}",
                f"--secret={self.secret_key}",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _ceph(self, ceph: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A `ceph` command against this cluster, never waiting long on it."""
        return subprocess.run(
            [ceph, "-c", str(self.conf), "--connect-timeout", "2", *args],
            capture_output=True,
            text=True,
            timeout=10,
        )

    def _ceph_answers(self, ceph: str) -> bool:
        return self._ceph(ceph, "mon", "stat").returncode == 0

    def _osd_up(self, ceph: str) -> bool:
        done = self._ceph(ceph, "osd", "dump", "-f", "json")
        if done.returncode != 0:
            return False
        osds = json.loads(done.stdout).get("osds", [])
        return any(osd.get("up") == 1 for osd in osds)

    def wait_until_answering(self, timeout: float = 30.0) -> None:
        """Back from `gateway.pause()`/`resume()`: wait until the gateway answers again."""
        self.gateway._wait(self._gateway_answers, timeout)

    def _gateway_answers(self) -> bool:
        try:
            return httpx.get(self.endpoint, timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def store(self, bucket: str, prefix: str = "") -> S3Store:
        """The adapter's obstore store for `bucket` on this server (path-style, plain HTTP)."""
        return s3_store(
            bucket,
            endpoint=self.endpoint,
            region=self.region,
            prefix=prefix,
            addressing="path",
            access_key_id=self.access_key,
            secret_access_key=self.secret_key,
        )

    def make_bucket(self, bucket: str | None = None) -> str:
        """A new bucket (a presigned PUT of the bucket itself); its name."""
        name = bucket or f"lucid-{uuid.uuid4().hex[:12]}"
        store = self.store(name)
        url = obstore.sign(store, "PUT", "", timedelta(minutes=5))
        answer = httpx.put(url, timeout=30.0)
        if answer.status_code != 200:
            raise ServerUnavailable("s3", f"cannot create bucket {name}: {answer.text[:500]}")
        return name

    def stop(self) -> None:
        """The gateway and the OSD before the monitor."""
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()

    @property
    def gateway(self) -> _Process:
        return next(p for p in self._processes if p.name == "radosgw")
