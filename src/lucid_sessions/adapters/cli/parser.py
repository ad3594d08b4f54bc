"""The `lucid-sessions` command line: its arguments (what each command does is in `commands`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lucid_sessions import __version__
from lucid_sessions.domain.errors import InvalidValue
from lucid_sessions.domain.instants import parse_timestamp

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
    trusted.add_argument(
        "--key-set", help="the service's key set you trust (GET /api/v1/sessions/keys)"
    )
    audit.add_argument("--recording", help="the recording file (GET .../recording)")
    audit.add_argument(
        "--log-head", help="a signed tree head of the session log (GET /api/v1/sessions/log)"
    )
    audit.add_argument(
        "--log-proof",
        help="the inclusion proof of the session's completed entry under that head "
        "(GET /api/v1/sessions/log/proof?index=I&tree_size=N)",
    )
    audit_log = commands.add_parser(
        "audit-log",
        help="offline: verify a signed tree head of the session log, an entry's inclusion "
        "proof and a consistency proof from an older head",
    )
    audit_log.add_argument("head", help="the signed tree head (GET /api/v1/sessions/log)")
    audit_log.add_argument("--proof", help="an inclusion proof under that head (.../log/proof)")
    audit_log.add_argument("--older-head", help="a signed tree head you kept from before")
    audit_log.add_argument(
        "--consistency", help="the consistency proof from the older head (.../log/consistency)"
    )
    log_trusted = audit_log.add_mutually_exclusive_group(required=True)
    log_trusted.add_argument("--public-key", help="the service's Ed25519 public key (hex)")
    log_trusted.add_argument("--public-key-file", help="a file with that key (hex or PEM)")
    log_trusted.add_argument(
        "--key-set", help="the service's key set you trust (GET /api/v1/sessions/keys)"
    )
    retention = commands.add_parser("retention", help="retention of recordings")
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    sweep = retention_commands.add_parser(
        "sweep", help="delete every session whose retention has passed (never under legal hold)"
    )
    sweep.add_argument("--as-of", help="sweep as if it were this RFC 3339 time")
    sweep.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    keys = commands.add_parser("keys", help="key management")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("rotate", help="new master key id; re-wraps every data key")
    key_commands.add_parser(
        "rotate-link", help="new playback link key; every outstanding playback link ends"
    )
    key_commands.add_parser(
        "rotate-signing",
        help="new signing key; the current one is retired (it still verifies what it signed)",
    )
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed arguments; exits with status 2 and a usage message when they are wrong."""
    args = _parser().parse_args(argv)
    if args.command == "serve" and args.port is not None and not 1 <= args.port <= 65535:
        _parser().error("--port must be between 1 and 65535")
    if args.command == "audit" and (args.log_head is None) != (args.log_proof is None):
        _parser().error("--log-head and --log-proof go together")
    if args.command == "audit-log" and (args.older_head is None) != (args.consistency is None):
        _parser().error("--older-head and --consistency go together")
    if args.command == "retention" and args.as_of is not None:
        try:
            args.as_of = parse_timestamp(args.as_of, "--as-of")
        except InvalidValue as exc:
            _parser().error(exc.detail)
    return args
