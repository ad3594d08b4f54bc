"""The settings table in docs/operations.md and deploy/env/session-api.env are what the
declarations render: editing a declaration without re-rendering them fails here."""

from __future__ import annotations

from pathlib import Path

import pytest

from lucid_sessions.bootstrap.settings import DECLARED, load_settings
from lucid_sessions.bootstrap.settings.rendering import (
    TABLE_BEGIN,
    TABLE_END,
    render_table,
    render_template,
)

ROOT = Path(__file__).resolve().parents[2]
FIX = "rewrite it with: .venv/bin/python scripts/render_settings.py"


def test_the_operations_table_is_the_rendered_one() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    begin, end = text.index(TABLE_BEGIN), text.index(TABLE_END) + len(TABLE_END) + 1
    assert text[begin:end] == render_table(), f"docs/operations.md's settings table drifted; {FIX}"


def test_the_env_template_is_the_rendered_one() -> None:
    template = (ROOT / "deploy" / "env" / "session-api.env").read_text()
    assert template == render_template(), f"deploy/env/session-api.env drifted; {FIX}"


def test_every_declared_setting_is_in_both() -> None:
    table, template = render_table(), render_template()
    for declared in DECLARED:
        assert f"`{declared.source.env}`" in table
        assert f"{declared.source.env}=" in template


def test_the_template_loads_as_a_production_configuration() -> None:
    """What the template sets, plus the secrets compose mounts, is a valid production start."""
    values = {}
    for line in render_template().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    settings = load_settings(
        {**values, "MONGODB_URL": "mongodb://db/lucid", "LUCID_API_TOKENS": "t=ops:admin"}
    )
    assert settings.production
    assert settings.host == "0.0.0.0"


@pytest.mark.parametrize("declared", DECLARED, ids=lambda d: d.name)
def test_each_setting_is_read_from_its_variable(declared: object) -> None:
    """Loading follows the declaration: the variable's text arrives in the field, typed."""
    from lucid_sessions.bootstrap.settings import Declared

    assert isinstance(declared, Declared)
    kind, default = declared.kind, declared.default
    typed = {int: lambda: default + 1, float: lambda: default / 2, bool: lambda: not default}
    if kind in typed:
        expected = typed[kind]()
        text = str(expected).lower()
        settings = load_settings({declared.source.env: text})
        assert getattr(settings, declared.name) == expected
