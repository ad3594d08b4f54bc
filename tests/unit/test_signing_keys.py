"""Signing keys: manifests and tree heads name their key, and the published key set verifies
them across rotations (a retired key verifies only what it signed before its retirement)."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lucid_sessions.adapters.cli import commands
from lucid_sessions.adapters.cli.parser import parse
from lucid_sessions.adapters.crypto import verify_signature
from lucid_sessions.adapters.crypto.keyring import StaticKeyRing
from lucid_sessions.adapters.memory import FrozenClock, InMemoryBlobStore, InMemorySigner
from lucid_sessions.app.audit import audit_manifest
from lucid_sessions.app.log_audit import audit_tree_head
from lucid_sessions.app.usecases.ingest_chunk import ChunkUpload
from lucid_sessions.bootstrap.container import Container
from lucid_sessions.domain.key_set import key_id_of, key_set_document, parse_key_set
from lucid_sessions.domain.manifest import build_manifest, canonical_bytes, rfc3339
from lucid_sessions.domain.principal import SYSTEM
from lucid_sessions.domain.session import SessionStatus
from tests.factories import T0, make_session
from tests.graph import fake_container

pytestmark = pytest.mark.anyio


@dataclass
class World:
    container: Container
    signer: InMemorySigner
    first_key: Ed25519PrivateKey
    clock: FrozenClock


@pytest.fixture
def world(tmp_path: Path) -> World:
    first = Ed25519PrivateKey.generate()
    clock = FrozenClock(T0)
    signer = InMemorySigner(created_at=T0, private_key=first)
    container = fake_container(
        tmp_path,
        {"LUCID_CHUNK_STORE_MIN_FREE_MB": "0"},
        blob_store=InMemoryBlobStore(),
        keyring=StaticKeyRing({"k1": os.urandom(32)}, "k1"),
        signer=signer,
        clock=clock,
    )
    return World(container, signer, first, clock)


async def completed(world: World, sid: str, chunks: int = 3) -> dict[str, Any]:
    """A session recorded, stopped and finalized now; its manifest."""
    repo = world.container.session_repository()
    session = make_session(sid, created_at=world.clock.now())
    session.start(world.clock.now())
    await repo.add(session)
    ingest = world.container.ingest_chunk()
    for n in range(chunks):
        await ingest(SYSTEM, ChunkUpload(sid, n, f"{sid} chunk {n} ".encode() * 500))
    session = await repo.get(sid)
    session.stop(world.clock.now())
    await repo.save(session)
    assert await world.container.finalize_session()(sid) is SessionStatus.COMPLETED
    return await world.container.prove_integrity().manifest(SYSTEM, sid)


def key_set(world: World) -> list[Any]:
    """The published key set, as a client parses the body of GET /api/v1/sessions/keys."""
    return parse_key_set(json.loads(json.dumps(key_set_document(world.signer.key_set()))))


async def test_a_manifest_names_its_key_and_verifies_under_the_key_set(world: World) -> None:
    manifest = await completed(world, "sess-a")
    current = world.signer.current()
    assert manifest["key_id"] == current.key_id == key_id_of(current.public_key)
    assert manifest["public_key"] == current.public_key.hex()
    assert '"key_id"' in canonical_bytes(manifest).decode(), "the key id is signed"
    report = audit_manifest(manifest, None, verify_signature, key_set=key_set(world))
    assert report.authentic, report.problems
    assert (await world.container.verify_session()(SYSTEM, "sess-a")).manifest == "valid"
    session = await world.container.session_repository().get("sess-a")
    assert session.manifest_key_id == current.key_id


async def test_a_manifest_whose_key_id_is_changed_is_refused(world: World) -> None:
    manifest = await completed(world, "sess-a")
    renamed = dict(manifest, key_id="0" * 16)
    report = audit_manifest(renamed, None, verify_signature, key_set=key_set(world))
    assert not report.ok
    assert report.problems == ["the manifest's key_id is not the BLAKE3 prefix of its public_key"]
    by_key = audit_manifest(renamed, world.signer.current().public_key, verify_signature)
    assert by_key.problems == report.problems


async def test_a_manifest_signed_before_key_ids_still_verifies(world: World) -> None:
    """A session finalized by an earlier version: its signed body has no key_id, and the
    manifest served for it stays exactly that body."""
    await completed(world, "sess-new")  # the store works; now an older session beside it
    repo = world.container.session_repository()
    session = make_session("sess-old", created_at=world.clock.now())
    session.start(world.clock.now())
    await repo.add(session)
    session.stop(world.clock.now())
    session.begin_processing(world.clock.now())
    public_key = world.signer.current().public_key
    body = build_manifest(
        session, [], status=SessionStatus.COMPLETED, finalized_at=T0, public_key=public_key
    )
    session.sign_manifest(T0, world.first_key.sign(canonical_bytes(body)), public_key, "unused")
    session.manifest_key_id = None  # as the earlier version stored it
    session.complete(T0)
    await repo.save(session)

    manifest = await world.container.prove_integrity().manifest(SYSTEM, "sess-old")
    assert "key_id" not in manifest
    assert canonical_bytes(manifest) == canonical_bytes(body)
    assert audit_manifest(manifest, public_key, verify_signature).authentic
    report = audit_manifest(manifest, None, verify_signature, key_set=key_set(world))
    assert report.authentic, report.problems  # found in the set by its public key
    assert (await world.container.verify_session()(SYSTEM, "sess-old")).manifest == "valid"


async def test_rotation_between_two_finalizations(world: World, tmp_path: Path) -> None:
    first = await completed(world, "sess-a")
    world.clock.advance(60)
    old = world.signer.current()
    new = world.signer.rotate(world.clock.now())
    world.clock.advance(60)
    second = await completed(world, "sess-b")
    assert (first["key_id"], second["key_id"]) == (old.key_id, new.key_id)
    published = key_set_document(world.signer.key_set())
    assert [(k["key_id"], k["status"]) for k in published["keys"]] == [
        (old.key_id, "retired"),
        (new.key_id, "current"),
    ]
    assert published["keys"][0]["retired_at"] == rfc3339(T0.replace(minute=1))
    keys_path = tmp_path / "keys.json"
    keys_path.write_text(json.dumps(published))
    for manifest in (first, second):
        code, text = audit_cli(tmp_path, manifest, "--key-set", str(keys_path))
        assert code == 0, text
        assert "result: OK" in text
    code, text = audit_cli(tmp_path, second, "--public-key", old.public_key.hex())
    assert code == 1
    assert "another public key than the trusted one" in text


async def test_a_retired_key_signing_after_its_retirement_is_refused(world: World) -> None:
    """Whoever holds a retired key (a leaked backup) cannot sign a new manifest with it:
    its finalized_at would be after the retirement the key set publishes."""
    manifest = await completed(world, "sess-a")
    world.clock.advance(60)
    world.signer.rotate(world.clock.now())
    forged = dict(manifest, finalized_at=rfc3339(world.clock.advance(3600)))
    del forged["signature"]
    forged["signature"] = world.first_key.sign(canonical_bytes(forged)).hex()
    report = audit_manifest(forged, None, verify_signature, key_set=key_set(world))
    assert not report.ok
    (problem,) = report.problems
    assert "after its key" in problem
    assert "retired" in problem
    assert audit_manifest(manifest, None, verify_signature, key_set=key_set(world)).authentic


async def test_a_key_outside_the_set_is_refused(world: World) -> None:
    manifest = await completed(world, "sess-a")
    other = InMemorySigner(created_at=T0)
    report = audit_manifest(
        manifest, None, verify_signature, key_set=parse_key_set(key_set_document(other.key_set()))
    )
    assert report.problems == [
        f"the manifest's signing key (key_id {manifest['key_id']}) is not in the trusted key set"
    ]


async def test_tree_heads_name_their_key_and_verify_across_a_rotation(world: World) -> None:
    await completed(world, "sess-a")
    reader = world.container.read_session_log()
    head = (await reader.head()).document()
    assert head["key_id"] == world.signer.current().key_id
    assert audit_tree_head(head, None, verify_signature, key_set(world)) == []
    assert audit_tree_head(head, bytes.fromhex(head["public_key"]), verify_signature) == []
    world.clock.advance(60)
    world.signer.rotate(world.clock.now())
    world.clock.advance(1)
    newer = (await reader.head()).document()
    assert newer["key_id"] == world.signer.current().key_id != head["key_id"]
    keys = key_set(world)
    assert audit_tree_head(head, None, verify_signature, keys) == [], "signed before"
    assert audit_tree_head(newer, None, verify_signature, keys) == []
    renamed = dict(head, key_id=newer["key_id"])
    assert audit_tree_head(renamed, None, verify_signature, keys) == [
        "the tree head's key_id is not the BLAKE3 prefix of its public_key"
    ]
    redated = dict(head, timestamp=newer["timestamp"])
    assert audit_tree_head(redated, None, verify_signature, keys) != []


def audit_cli(tmp_path: Path, manifest: dict[str, Any], *args: str) -> tuple[int, str]:
    path = tmp_path / f"manifest-{manifest['session_id']}.json"
    path.write_text(json.dumps(manifest))
    given = dict(zip(args[::2], args[1::2], strict=True))
    out, err = io.StringIO(), io.StringIO()
    code = commands.audit(
        str(path),
        given.get("--public-key"),
        None,
        verify_signature,
        out,
        err,
        key_set_path=given.get("--key-set"),
    )
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "cannot read the key set"),
        ("[]", "the key set is not a JSON object"),
        ('{"keys": 3}', 'keys: a key set is an object {"keys": [...]}'),
        ('{"keys": [{"algorithm": "rsa"}]}', 'keys[0]: algorithm must be "ed25519"'),
        ("RENAMED", "keys[0]: key_id is not the BLAKE3 prefix of public_key"),
        ("TWO_CURRENT", "keys: more than one key is current"),
    ],
)
async def test_a_bad_key_set_is_named_and_nothing_is_audited(
    world: World, tmp_path: Path, document: str, message: str
) -> None:
    manifest = await completed(world, "sess-a")
    entry = key_set_document(world.signer.key_set())["keys"][0]
    if document == "RENAMED":
        document = json.dumps({"keys": [dict(entry, key_id="0" * 16)]})
    elif document == "TWO_CURRENT":
        other = key_set_document(InMemorySigner().key_set())["keys"][0]
        document = json.dumps({"keys": [entry, other]})
    keys_path = tmp_path / "keys.json"
    keys_path.write_text(document)
    code, text = audit_cli(tmp_path, manifest, "--key-set", str(keys_path))
    assert code == 2
    assert message in text
    assert "result: OK" not in text


def test_the_key_set_is_another_way_to_name_the_trusted_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert parse(["audit", "m.json", "--key-set", "keys.json"]).key_set == "keys.json"
    assert parse(["audit-log", "h.json", "--key-set", "keys.json"]).key_set == "keys.json"
    for command in (["audit", "m.json"], ["audit-log", "h.json"]):
        with pytest.raises(SystemExit):
            parse([*command, "--key-set", "k.json", "--public-key", "00"])
        assert "not allowed with" in capsys.readouterr().err
    assert parse(["keys", "rotate-signing"]).keys_command == "rotate-signing"


def test_rotate_signing_names_the_new_and_the_retired_key() -> None:
    signer = InMemorySigner(created_at=T0)
    old = signer.current()
    new = signer.rotate(T0.replace(hour=1))
    out = io.StringIO()
    assert commands.rotate_signing_key(new, signer.key_set(), out) == 0
    assert out.getvalue() == (
        f"signing key {new.key_id} is current; {old.key_id} is retired (at "
        "2026-01-01T01:00:00Z) and still verifies what it signed before\n"
    )


async def test_the_key_set_use_case_publishes_every_key(world: World) -> None:
    world.signer.rotate(T0.replace(minute=5))
    keys = await world.container.read_key_set()(SYSTEM)
    assert [key.status for key in keys] == ["retired", "current"]
    assert keys == world.signer.key_set()
