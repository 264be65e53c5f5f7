"""The README's configuration reference names every setting (datasette's habit)."""

from __future__ import annotations

from pathlib import Path

from portal.config import Settings

README = Path(__file__).parent.parent / "README.md"


def test_readme_lists_every_setting():
    text = README.read_text()
    missing = [f"PORTAL_{name.upper()}" for name in Settings.model_fields if f"PORTAL_{name.upper()}" not in text]
    assert missing == []


def test_readme_lists_the_variables_scripts_serve_reads():
    import re

    serve = (Path(__file__).parent.parent / "scripts" / "serve").read_text()
    text = README.read_text()
    read = set(re.findall(r"\$\{(PORTAL_[A-Z_]+):-", serve))
    assert {"PORTAL_HOST", "PORTAL_PORT"} <= read
    assert [name for name in sorted(read) if f"| `{name}` |" not in text] == []


def test_readme_starts_with_the_two_commands():
    head = README.read_text()[:1500]
    assert "scripts/serve" in head and "scripts/test" in head
