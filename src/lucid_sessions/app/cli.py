"""The `lucid-sessions` command."""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence

import anyio

from lucid_sessions import __version__
from lucid_sessions.app.audit import audit_manifest
from lucid_sessions.app.container import Container, running
from lucid_sessions.app.factory import build_container
from lucid_sessions.app.settings import Settings, SettingsError, load_settings
from lucid_sessions.app.usecases.finalize import SYSTEM
from lucid_sessions.domain.errors import DomainError

__all__ = ["main"]


def _tune_allocator() -> None:
    """Serve large request bodies from a reused heap instead of fresh mmap()ed pages: every
    8 MiB chunk otherwise costs thousands of page faults (measured in bench/). glibc only;
    the environment variables MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ win."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 * 1024 * 1024)  # M_TRIM_THRESHOLD
        # Few arenas: each may keep up to the trim threshold, so many worker threads must
        # not multiply it (a Raspberry Pi has 2-4 GB).
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        return


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from lucid_sessions.app.factory import create_app

    if anyio.run(_with_container, settings, _preflight) != 0:
        return 2
    _tune_allocator()
    app = create_app(build_container(settings))
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    return 0


def _check_config(settings: Settings) -> int:
    print(json.dumps(settings.masked(), indent=2, sort_keys=True))
    return 0


async def _with_container(settings: Settings, work: Callable[[Container], Awaitable[int]]) -> int:
    try:
        async with running(build_container(settings)) as container:
            return await work(container)
    except DomainError as exc:
        print(f"lucid-sessions: {exc.detail}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"lucid-sessions: invalid configuration: {exc}", file=sys.stderr)
        return 2


async def _preflight(container: Container) -> int:
    """Everything start-up needs, checked before the server binds: the stores answer, the
    keys load. A failure is one clear line and exit status 2, not a traceback."""
    container.keyring()
    container.signer()
    return 0


def _verify(settings: Settings, session_id: str) -> int:
    async def work(container: Container) -> int:
        try:
            report = await container.verify_session()(SYSTEM, session_id)
        except DomainError as exc:
            print(f"lucid-sessions verify: {exc.detail}", file=sys.stderr)
            return 2
        print("\n".join(report.lines()))
        return 0 if report.ok else 1

    return anyio.run(_with_container, settings, work)


def _rotate_keys(settings: Settings) -> int:
    try:
        new_id = build_container(settings).rotate_master_key()
    except SettingsError as exc:
        print(f"lucid-sessions keys rotate: {exc}", file=sys.stderr)
        return 2

    async def work(container: Container) -> int:
        report = await container.rewrap_data_keys()()
        print(
            f"master key {new_id} is current; re-wrapped {report.rewrapped} data keys "
            f"({report.already_current} already current, {report.raced} changed meanwhile)"
        )
        return 0

    return anyio.run(_with_container, settings, work)


def _audit(manifest_path: str, public_key_hex: str | None, recording_path: str | None) -> int:
    from lucid_sessions.app.container import signature_checker

    try:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        public_key = bytes.fromhex(public_key_hex or manifest.get("public_key") or "")
    except (OSError, ValueError) as exc:
        print(f"lucid-sessions audit: cannot read the manifest: {exc}", file=sys.stderr)
        return 2

    def pieces(path: str) -> Iterator[bytes]:
        with open(path, "rb") as handle:
            while piece := handle.read(1 << 20):
                yield piece

    report = audit_manifest(
        manifest,
        public_key,
        signature_checker(),
        None if recording_path is None else pieces(recording_path),
    )
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    print(f"chunks checked against the recording: {report.chunks_checked}")
    print("result: OK" if report.ok else "result: FAILED")
    return 0 if report.ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lucid-sessions", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", help="bind address (default: settings)")
    serve.add_argument("--port", type=int, help="bind port (default: SESSION_API_PORT or 8113)")
    commands.add_parser("check-config", help="print the effective configuration, secrets masked")
    verify = commands.add_parser(
        "verify", help="re-read every blob, check hashes, the Merkle root and the manifest"
    )
    verify.add_argument("session_id")
    audit = commands.add_parser(
        "audit", help="offline: verify a manifest (and a downloaded recording) with the public key"
    )
    audit.add_argument("manifest", help="the manifest JSON file (GET .../manifest)")
    audit.add_argument("--public-key", help="the service's Ed25519 public key (hex) you trust")
    audit.add_argument("--recording", help="the recording file (GET .../recording)")
    keys = commands.add_parser("keys", help="master key management")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("rotate", help="new master key id; re-wraps every data key")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "audit":  # offline: needs no configuration
        return _audit(args.manifest, args.public_key, args.recording)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"lucid-sessions: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        if args.port is not None and not 1 <= args.port <= 65535:
            print("lucid-sessions: --port must be between 1 and 65535", file=sys.stderr)
            return 2
        return _serve(settings, args.host, args.port)
    if args.command == "check-config":
        return _check_config(settings)
    if args.command == "verify":
        return _verify(settings, args.session_id)
    if args.command == "keys" and args.keys_command == "rotate":
        return _rotate_keys(settings)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
