"""The `lucid-sessions` command line: its arguments (what each command does is in `commands`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lucid_sessions import __version__

__all__ = ["parse"]

DESCRIPTION = "lucid-sessions: the session-recording service of the Lucid RDP system."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lucid-sessions", description=DESCRIPTION)
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
    trusted = audit.add_mutually_exclusive_group()
    trusted.add_argument("--public-key", help="the service's Ed25519 public key (hex) you trust")
    trusted.add_argument(
        "--public-key-file", help="a file with that key (hex, or a PEM public key)"
    )
    audit.add_argument("--recording", help="the recording file (GET .../recording)")
    keys = commands.add_parser("keys", help="master key management")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("rotate", help="new master key id; re-wraps every data key")
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed arguments; exits with status 2 and a usage message when they are wrong."""
    args = _parser().parse_args(argv)
    if args.command == "serve" and args.port is not None and not 1 <= args.port <= 65535:
        _parser().error("--port must be between 1 and 65535")
    return args
