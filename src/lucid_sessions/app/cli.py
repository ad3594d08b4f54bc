"""The `lucid-sessions` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from lucid_sessions import __version__
from lucid_sessions.app.settings import Settings, SettingsError, load_settings

__all__ = ["main"]


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from lucid_sessions.app.factory import build_container, create_app

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lucid-sessions", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", help="bind address (default: settings)")
    serve.add_argument("--port", type=int, help="bind port (default: SESSION_API_PORT or 8113)")
    commands.add_parser("check-config", help="print the effective configuration, secrets masked")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
