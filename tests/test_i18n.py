"""Russian and English stay in step: same keys; every key a template uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from portal import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"


def test_both_languages_have_the_same_keys():
    ru, en = i18n.catalogue("ru"), i18n.catalogue("en")
    assert set(ru) - set(en) == set(), "missing in English"
    assert set(en) - set(ru) == set(), "missing in Russian"


def test_every_literal_key_used_in_templates_exists():
    ru = i18n.catalogue("ru")
    used = set()
    for path in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", path.read_text()))
    assert used, "no keys found: the pattern is wrong"
    prefixes = {k for k in used if k.endswith((".", "_"))}  # t("role." ~ user.role): a key built at run time
    assert sorted(used - prefixes - set(ru)) == []
    for prefix in prefixes:
        assert any(k.startswith(prefix) for k in ru), prefix


def test_every_role_has_its_names():
    from portal.accounts.models import Role

    ru = i18n.catalogue("ru")
    for role in Role:
        assert f"role.{role.value}" in ru
        assert f"dashboard.role_{role.value}" in ru


def test_language_choice():
    assert i18n.pick_language(None, "en-US,en;q=0.9") == "en"
    assert i18n.pick_language(None, "de-DE") == "ru"
    assert i18n.pick_language("ru", "en") == "ru"
    assert i18n.translate("nav.logout", "en") == "Sign out"
    assert i18n.translate("nav.logout") == "Выйти"


def test_partials_are_imported_with_context():
    """Macros imported without context cannot see csrf_token and render an empty CSRF field."""
    offenders = [str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")
                 if re.search(r'{%\s*from\s+"_partials.html"\s+import(?:(?!%}).)*(?<!with context )%}', p.read_text())]
    assert offenders == []
