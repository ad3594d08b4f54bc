"""The settings table of `docs/operations.md` and the template `deploy/env/session-api.env`,
both rendered from the declarations (`python scripts/render_settings.py` rewrites them; a
test fails when either drifts)."""

from __future__ import annotations

import textwrap
from typing import Any

from lucid_sessions.bootstrap.settings.declared import DECLARED, MIB, Declared

__all__ = ["TABLE_BEGIN", "TABLE_END", "render_table", "render_template"]

TABLE_BEGIN = "<!-- settings table: rendered from the declarations, do not edit by hand -->"
TABLE_END = "<!-- end of the settings table -->"

_TEMPLATE_HEAD = """\
# lucid-sessions: every setting it reads, with the value a production deployment starts from.
# Read by deploy/compose.yaml (env_file); docs/operations.md describes each. Rendered from the
# service's declarations (python scripts/render_settings.py); do not edit by hand.
# An empty value means "not set" (the default). Secrets are never written here: compose
# mounts them from ./secrets/ and names each with a *_FILE setting (set in compose.yaml's
# environment, shown here commented out).
"""


def _text(value: Any) -> str:
    """A value as the environment writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(part) for part in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _shown_default(declared: Declared) -> str:
    value = declared.default
    shown = f"`{_text(value)}`" if _text(value) else "empty"
    if isinstance(value, int) and not isinstance(value, bool) and declared.name.endswith("bytes"):
        size = f"{value // MIB} MiB" if value % MIB == 0 else f"{value // 1024} KiB"
        shown = f"`{value}` ({size})"
    production = declared.source.production
    if production is not None:
        shown += f" (`{_text(production)}` in production)"
    return shown


def render_table() -> str:
    """The Markdown table of every setting, between its two markers."""
    lines = [
        TABLE_BEGIN,
        "| environment | YAML key | default | what it sets |",
        "|---|---|---|---|",
    ]
    for declared in DECLARED:
        source = declared.source
        yaml_key = f"`{source.yaml}`" if source.yaml else ""
        meaning = source.help.replace("|", "\\|")
        if source.from_file:
            meaning += f"; or from the file named by `{source.env}_FILE`"
        if source.secret:
            meaning += " (secret: masked when shown)"
        lines.append(f"| `{source.env}` | {yaml_key} | {_shown_default(declared)} | {meaning} |")
    lines.append(TABLE_END)
    return "\n".join(lines) + "\n"


def render_template() -> str:
    """`deploy/env/session-api.env`: each setting with its help as a comment."""
    out = [_TEMPLATE_HEAD]
    for declared in DECLARED:
        source = declared.source
        out.extend(textwrap.wrap(source.help, 96, initial_indent="# ", subsequent_indent="# "))
        if source.secret:
            out.append(f"# {source.env}=")
            if source.from_file:
                out.append(f"# {source.env}_FILE=/run/secrets/{declared.name}")
        elif source.example:
            out.append(f"# {source.env}={source.example}")
        else:
            production = source.production
            value = production if production is not None else declared.default
            out.append(f"{source.env}={source.template or _text(value)}")
    return "\n".join(out) + "\n"
