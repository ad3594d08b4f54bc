"""Rewrite the settings table in docs/operations.md and deploy/env/session-api.env from the
service's declarations (src/lucid_sessions/bootstrap/settings/declared.py).

    .venv/bin/python scripts/render_settings.py
"""

from __future__ import annotations

from pathlib import Path

from lucid_sessions.bootstrap.settings.rendering import (
    TABLE_BEGIN,
    TABLE_END,
    render_table,
    render_template,
)

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    operations = ROOT / "docs" / "operations.md"
    text = operations.read_text()
    begin, end = text.index(TABLE_BEGIN), text.index(TABLE_END) + len(TABLE_END) + 1
    operations.write_text(text[:begin] + render_table() + text[end:])
    (ROOT / "deploy" / "env" / "session-api.env").write_text(render_template())


if __name__ == "__main__":
    main()
