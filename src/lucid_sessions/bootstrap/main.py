"""Process start-up: the `lucid-sessions` command.

Parses the command line (the CLI adapter), loads the settings, opens the one container and
runs the command: `serve` opens the stores, checks that they answer and that the keys load,
and only then binds the server, so a bad start-up is one clear line and exit status 2.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio

from lucid_sessions.adapters.cli import commands
from lucid_sessions.adapters.cli.parser import parse
from lucid_sessions.adapters.configuration import ConfigurationError
from lucid_sessions.adapters.crypto import verify_signature
from lucid_sessions.adapters.crypto.keyring import MissingKey
from lucid_sessions.adapters.system.clock import SystemClock
from lucid_sessions.bootstrap import factories
from lucid_sessions.bootstrap.container import Container, open_container
from lucid_sessions.bootstrap.factories import add_master_key, rotate_link_key
from lucid_sessions.bootstrap.settings import Settings, SettingsError, load_settings
from lucid_sessions.domain.errors import DomainError, IntegrityError
from lucid_sessions.domain.ports.link_signer import LinkSigner

__all__ = ["main"]


def tune_allocator() -> None:
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


def _fail(message: str) -> int:
    print(f"lucid-sessions: {message}", file=sys.stderr)
    return 2


async def _opened(
    settings: Settings,
    work: Callable[[Container], Awaitable[int]],
    *,
    create: bool = True,
    every_key: bool = True,
    **given: Any,
) -> int:
    """Run `work` on the graph, its stores open; a start-up failure is exit status 2. The
    master keys must load, and the signing and link keys too unless `every_key` is false (the
    master key's rotation needs no other key: an operator provisioning a new token makes the
    master key first)."""
    try:
        async with open_container(settings, create=create, **given) as container:
            container.keyring()  # the keys load (production never generates them)
            if every_key:
                container.signer()
                container.link_signer()
            container.authenticate()  # the tokens load
            await _check_object_store(container)
            return await work(container)
    except DomainError as exc:
        return _fail(exc.detail)
    except ConfigurationError as exc:
        return _fail(f"invalid configuration: {exc}")


async def _check_object_store(container: Container) -> None:
    """With S3, the bucket answers and takes these credentials before the port is bound."""
    settings = container.settings()
    if settings.blob_store != "s3":
        return
    if not await container.storage_probe().ping():
        where = settings.s3_endpoint or "AWS"
        raise SettingsError(
            f"LUCID_S3_BUCKET: bucket {settings.s3_bucket!r} at {where} does not answer, does "
            "not exist, or refuses these credentials (LUCID_S3_CREDENTIALS_FILE or "
            "LUCID_S3_ACCESS_KEY_ID); nothing was started"
        )


def _key_store(settings: Settings) -> str:
    """Where the keys are, as check-config names it (never the PIN: the file it is in)."""
    if settings.key_store == "pkcs11":
        return (
            f"pkcs11 token {settings.pkcs11_token_label!r} (module {settings.pkcs11_module}, "
            f"PIN in {settings.pkcs11_pin_file})"
        )
    master = "LUCID_MASTER_KEY" if settings.master_key else settings.master_key_file
    signing = settings.signing_key_file
    default = str(Path(settings.storage_path) / "keys")
    return f"files (master keys {master or default}, signing key {signing or default})"


def _probe_link_key(signer: LinkSigner) -> str:
    """Make a MAC with the link key and check it (in the token, when the key is there); the
    key's id, or `IntegrityError`."""
    probe = b"lucid-sessions check-config probe"
    key_id = signer.key_id
    if not signer.verify(probe, signer.sign(probe), key_id):
        raise IntegrityError(f"a MAC made by the link key {key_id!r} does not check")
    return key_id


def _check_config(settings: Settings) -> int:
    """`check-config`: the effective settings, then the keys used once (a wrap and unwrap
    through the master keys, a sign and verify with the signing key). Opens no store; makes
    no key, in development either (`serve` makes missing ones there)."""
    from lucid_sessions.app.usecases.health import probe_keys

    where = _key_store(settings)
    folders = factories.DataFolders(Path(settings.storage_path), Path(settings.chunk_store_path))
    try:
        keyring = factories.keyring(settings, folders, False)
        signer = factories.signer(settings, folders, False)
        probe = probe_keys(keyring, signer, verify_signature)
        link = _probe_link_key(factories.link_signer(settings, folders, False))
    except MissingKey as exc:
        if settings.production:
            return commands.check_config(settings.masked(), f"{where}: {exc}", keys_work=False)
        return commands.check_config(
            settings.masked(),
            f"{where}: {exc} (development makes the missing keys at the first `serve`)",
        )
    except DomainError as exc:
        return commands.check_config(settings.masked(), f"{where}: {exc.detail}", keys_work=False)
    except ConfigurationError as exc:
        return commands.check_config(settings.masked(), f"{where}: {exc}", keys_work=False)
    found = (
        f"{where} — master key {probe.master_key_id} wraps and unwraps, signing key "
        f"{probe.signing_key_id} signs and verifies, link key {link} makes and checks links"
    )
    return commands.check_config(settings.masked(), found)


def _server_class(on_stop: Callable[[], None]) -> type[Any]:
    import uvicorn
    from uvicorn.server import HANDLED_SIGNALS

    class Server(uvicorn.Server):
        """uvicorn's server, minus re-raising the stop signal after a graceful shutdown: the
        process ends with status 0 once everything is closed. `on_stop` runs first on the
        stop signal (the app starts draining)."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            on_stop()
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)

    return Server


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from lucid_sessions.adapters.http.protocol import HeaderLimits, bounded_protocol
    from lucid_sessions.bootstrap.app import create_app

    tune_allocator()
    bound = port or settings.port

    async def serve(container: Container) -> int:
        config = uvicorn.Config(
            create_app(container),
            host=host or settings.host,
            port=bound,
            access_log=False,
            log_config=None,
            proxy_headers=False,
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            lifespan="on",
            http=bounded_protocol(
                HeaderLimits(settings.max_header_bytes, settings.header_timeout_seconds)
            ),
        )
        server = _server_class(container.draining().begin)(config)
        await server.serve()
        return 0 if server.started else 2

    # The name this replica holds leases under outlives a restart: a replica that crashed
    # holding a session's upload lease takes it back at once when it comes back, instead of
    # making that session's recorder wait out the lease. Two live processes never share it:
    # they cannot both listen on one host and port.
    owner = f"{socket.gethostname()}:{bound}"
    return anyio.run(
        functools.partial(_opened, settings, serve, owner=owner),
        backend_options=_loop_options(),
    )


def _loop_options() -> dict[str, Any]:
    """uvloop when it is installed (a dependency; chosen by measurement, see
    docs/performance.md), else the standard asyncio loop."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return {}
    return {"use_uvloop": True}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.command == "audit":  # offline: needs no configuration
        return commands.audit(
            args.manifest,
            args.public_key,
            args.recording,
            verify_signature,
            public_key_file=args.public_key_file,
            log_head_path=args.log_head,
            log_proof_path=args.log_proof,
            key_set_path=args.key_set,
        )
    if args.command == "audit-log":  # offline too
        return commands.audit_log(
            args.head,
            args.public_key,
            args.public_key_file,
            verify_signature,
            proof_path=args.proof,
            older_head_path=args.older_head,
            consistency_path=args.consistency,
            key_set_path=args.key_set,
        )
    try:
        settings = load_settings()
    except SettingsError as exc:
        return _fail(f"invalid configuration: {exc}")
    if args.command == "check-config":
        return _check_config(settings)
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    operate = functools.partial(_opened, settings, create=False)  # on what exists, only
    if args.command == "verify":

        async def verify(opened: Container) -> int:
            return await commands.verify(opened.verify_session(), args.session_id)

        return anyio.run(operate, verify)
    if args.command == "retention" and args.retention_command == "sweep":

        async def sweep(opened: Container) -> int:
            return await commands.retention_sweep(
                opened.sweep_retention(), args.as_of, args.dry_run
            )

        return anyio.run(operate, sweep)
    if args.command == "keys" and args.keys_command == "rotate":
        try:
            new_key_id = add_master_key(settings)
        except ConfigurationError as exc:
            print(f"lucid-sessions keys rotate: {exc}", file=sys.stderr)
            return 2

        async def rotate(opened: Container) -> int:
            return await commands.rotate_keys(new_key_id, opened.rewrap_data_keys())

        return anyio.run(functools.partial(operate, every_key=False), rotate)
    if args.command == "keys" and args.keys_command == "rotate-link":
        try:
            link_key_id = rotate_link_key(settings)
        except ConfigurationError as exc:
            print(f"lucid-sessions keys rotate-link: {exc}", file=sys.stderr)
            return 2
        print(f"playback link key rotated: {link_key_id}; every earlier link has ended")
        return 0
    if args.command == "keys" and args.keys_command == "rotate-signing":
        return _rotate_signing_key(settings)
    return 2


def _rotate_signing_key(settings: Settings) -> int:
    """The next signing key (in the key folder or the token the settings name); running
    servers sign with it from their next signature on."""
    try:
        new, keys = factories.rotate_signing_key(settings, SystemClock().now())
    except ConfigurationError as exc:
        print(f"lucid-sessions keys rotate-signing: {exc}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"lucid-sessions keys rotate-signing: {exc.detail}", file=sys.stderr)
        return 2
    return commands.rotate_signing_key(new, keys)


if __name__ == "__main__":
    raise SystemExit(main())
